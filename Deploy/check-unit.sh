#!/usr/bin/env bash
# CI check of Deploy/hypervisiond.service, runnable from any directory:
#
#   1. `systemd-analyze security --offline=true` must report an overall
#      exposure of at most MAX_EXPOSURE (2.0); the figure is printed.
#   2. `systemd-analyze verify` must pass without a single diagnostic about
#      the unit (verify exits 0 on unknown keys and bad values, so its output
#      is checked too).
#   3. The unit bounds its resources: MemoryMax= and TasksMax= are set (with
#      OOMPolicy=continue and no MemoryMax, an overload would be met by the
#      host's OOM killer instead of being contained in the unit).
#
# verify needs ExecStart='s binary to exist. If it does not and we are root, a
# dummy (/bin/true) is put there for the check and removed afterwards; likewise
# a temporary `hypervision` system user is created only if none exists
# (systemd 252's verify does not look User= up; this keeps the check
# independent of that). Without root, the
# unit is verified as a copy whose ExecStart points at a temporary dummy.
#
# Needs systemd-analyze (systemd >= 252); systemd need not be PID 1.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
readonly UNIT="$SCRIPT_DIR/hypervisiond.service"
readonly UNIT_NAME="${UNIT##*/}"
readonly SERVICE_USER=hypervision
# Highest acceptable overall exposure (systemd's 0.0 .. 10.0 scale).
readonly MAX_EXPOSURE=2.0
# `--threshold=` compares with the exposure in tenths (0 .. 100; default 100):
# 2.0 -> 20. A unit at exactly 2.0 passes, 2.1 fails.
readonly THRESHOLD=20

export SYSTEMD_COLORS=0 SYSTEMD_PAGER="" LC_ALL=C

fail() { printf 'check-unit: FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf 'check-unit: %s\n' "$*"; }

command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (apt-get install systemd)"
[[ -f $UNIT ]] || fail "unit file not found: $UNIT"
note "$(systemd-analyze --version | head -n1)"
note "unit: $UNIT"

# --- cleanup of anything this script creates -----------------------------------
created_binary="" created_user=0 tmpdir=""
cleanup() {
    local rc=$?
    if [[ -n $created_binary ]]; then
        rm -f -- "$created_binary" && note "removed dummy $created_binary"
    fi
    if ((created_user)); then
        userdel "$SERVICE_USER" >/dev/null 2>&1 || true
        if getent group "$SERVICE_USER" >/dev/null; then groupdel "$SERVICE_USER" >/dev/null 2>&1 || true; fi
        note "removed temporary user $SERVICE_USER"
    fi
    [[ -z $tmpdir ]] || rm -rf -- "$tmpdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. security exposure ------------------------------------------------------
set +e
security_out="$(systemd-analyze security --no-pager --offline=true --threshold="$THRESHOLD" "$UNIT" 2>&1)"
security_rc=$?
set -e
exposure="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9]*\(\.[0-9]*\)\{0,1\}\).*/\1/p' <<<"$security_out" | tail -n1)"
if [[ -z $exposure ]]; then
    printf '%s\n' "$security_out" >&2
    fail "could not find the overall exposure in the output of systemd-analyze security (exit $security_rc)"
fi
# Settings that are not at their best, for the log.
grep -E '^(- |✗)' <<<"$security_out" | sed 's/^/    /' || true
# Diagnostics (parse warnings) that the offline analysis printed about the unit.
security_diag="$(grep -F "$UNIT_NAME:" <<<"$security_out" | grep -v 'Overall exposure' || true)"
note "overall exposure: $exposure (maximum allowed $MAX_EXPOSURE)"
if [[ -n $security_diag ]]; then
    printf '%s\n' "$security_diag" >&2
    fail "systemd-analyze security reported problems parsing $UNIT_NAME"
fi
if awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e > m) }'; then
    fail "exposure $exposure is above $MAX_EXPOSURE"
fi
((security_rc == 0)) || fail "systemd-analyze security --threshold=$THRESHOLD exited $security_rc"

# --- 2. verify -------------------------------------------------------------------
exec_start="$(sed -n 's/^ExecStart=[-@:+!]*\([^[:space:]]*\).*/\1/p' "$UNIT" | head -n1)"
[[ -n $exec_start ]] || fail "no ExecStart= in $UNIT"
verify_unit="$UNIT"
if [[ ! -e $exec_start ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        install -D -m 0755 /bin/true "$exec_start"
        created_binary="$exec_start"
        note "installed dummy $exec_start for verify"
    else
        tmpdir="$(mktemp -d)"
        install -m 0755 /bin/true "$tmpdir/dummy-exec"
        sed "s|^\(ExecStart=[-@:+!]*\)$exec_start|\1$tmpdir/dummy-exec|" "$UNIT" >"$tmpdir/$UNIT_NAME"
        verify_unit="$tmpdir/$UNIT_NAME"
        note "not root: verifying a copy whose ExecStart is $tmpdir/dummy-exec"
    fi
fi
if ! getent passwd "$SERVICE_USER" >/dev/null && [[ $(id -u) -eq 0 ]]; then
    if getent group "$SERVICE_USER" >/dev/null; then
        useradd --system --no-create-home --gid "$SERVICE_USER" --shell /usr/sbin/nologin "$SERVICE_USER"
    else
        useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
    created_user=1
    note "created temporary system user $SERVICE_USER for verify"
fi

set +e
verify_out="$(systemd-analyze verify --no-pager "$verify_unit" 2>&1)"
verify_rc=$?
set -e
# Lines about other units come from the host's unit files, not from ours.
unit_diag="$(grep -F "$UNIT_NAME" <<<"$verify_out" || true)"
other_diag="$(grep -vF "$UNIT_NAME" <<<"$verify_out" || true)"
if [[ -n $other_diag ]]; then
    note "verify notes about other units on this host (ignored):"
    while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$other_diag"
fi
if ((verify_rc != 0)) || [[ -n $unit_diag ]]; then
    [[ -z $unit_diag ]] || printf '%s\n' "$unit_diag" >&2
    fail "systemd-analyze verify $UNIT_NAME (exit $verify_rc)"
fi
note "systemd-analyze verify: OK"

# --- 3. resource bounds ----------------------------------------------------------
for key in MemoryMax TasksMax; do
    value="$(sed -n "s/^${key}=\(.*\)$/\1/p" "$UNIT" | tail -n1)"
    [[ -n $value && $value != infinity ]] || fail "$UNIT_NAME sets no ${key}= (the unit must bound its resources)"
    note "${key}=${value}"
done
note "PASS: $UNIT_NAME exposure $exposure <= $MAX_EXPOSURE, verify clean, resources bounded"

# --- 4. the renderer unit (a wall-controller PC) ------------------------------------
# Verified as an instance, from a copy whose ExecStart is /bin/true (cage and chromium need
# not be installed here). Its exposure is not bounded: it runs a browser on a display.
readonly RENDERER="$SCRIPT_DIR/hypervision-renderer@.service"
if [[ -f $RENDERER ]]; then
    [[ -n $tmpdir ]] || tmpdir="$(mktemp -d)"
    sed 's|^ExecStart=/usr/bin/cage .*|ExecStart=/bin/true|; /^    /d' "$RENDERER" >"$tmpdir/hypervision-renderer@r0c1.service"
    set +e
    renderer_out="$(systemd-analyze verify --no-pager "$tmpdir/hypervision-renderer@r0c1.service" 2>&1)"
    renderer_rc=$?
    set -e
    renderer_diag="$(grep -F "hypervision-renderer@" <<<"$renderer_out" || true)"
    if ((renderer_rc != 0)) || [[ -n $renderer_diag ]]; then
        printf '%s\n' "$renderer_out" >&2
        fail "systemd-analyze verify hypervision-renderer@r0c1.service (exit $renderer_rc)"
    fi
    grep -q '^ExecStart=/usr/bin/cage -s -- /usr/bin/chromium --kiosk' "$RENDERER" \
        || fail "hypervision-renderer@.service must start Chromium in kiosk mode under cage"
    note "PASS: hypervision-renderer@.service verifies"
fi

# --- 5. a daemon of a cluster (Deploy/cluster/setup-node.sh) --------------------------
# The script writes under a scratch root; its drop-in must load the environment file it wrote,
# the file must say what it was given (mode 0640: it holds a password), and bad names are refused.
readonly SETUP_NODE="$SCRIPT_DIR/cluster/setup-node.sh"
if [[ -x $SETUP_NODE ]]; then
    [[ -n $tmpdir ]] || tmpdir="$(mktemp -d)"
    url='postgresql://hypervision:s3cret@db-a:5432,db-b:5432/hypervision?target_session_attrs=read-write'
    "$SETUP_NODE" cic-a cic-a.cic.local "$url" --root "$tmpdir/root" >/dev/null || fail "setup-node.sh refused good settings"
    env_file="$tmpdir/root/etc/hypervision/cluster.env"
    dropin="$tmpdir/root/etc/systemd/system/hypervisiond.service.d/cluster.conf"
    grep -qx 'HYPERVISION_CLUSTER_NODE=cic-a' "$env_file" && grep -qx "HYPERVISION_DATABASE_URL=\"$url\"" "$env_file" \
        || fail "setup-node.sh wrote $(cat "$env_file")"
    [[ $(stat -c %a "$env_file") == 640 ]] || fail "cluster.env must be mode 0640 (it holds the database password)"
    grep -qx 'EnvironmentFile=/etc/hypervision/cluster.env' "$dropin" || fail "the drop-in does not load cluster.env"
    # The environment file as systemd reads it: one unit that prints it.
    printf '[Service]\nType=oneshot\nEnvironmentFile=%s\nExecStart=/bin/true\n' "$env_file" >"$tmpdir/env-check.service"
    systemd-analyze verify --no-pager "$tmpdir/env-check.service" >/dev/null 2>&1 || fail "systemd cannot read cluster.env"
    for bad in "_a cic-a.local $url" "cic-a 'a b' $url" "cic-a cic-a.local mysql://x"; do
        if eval "\"$SETUP_NODE\" $bad --root \"$tmpdir/bad\"" >/dev/null 2>&1; then fail "setup-node.sh accepted $bad"; fi
    done
    note "PASS: Deploy/cluster/setup-node.sh writes a drop-in and an environment file systemd reads; bad settings refused"
fi
