#!/usr/bin/env bash
# Makes this machine one daemon of a Hypervision cluster: several daemons sharing one database,
# one live picture, each wall laid out by one of them (README: "Running more than one daemon").
#
#   sudo Deploy/cluster/setup-node.sh NODE ADVERTISE DATABASE_URL [--no-start] [--root DIR]
#
#   NODE          this daemon's name, unique in the cluster: cic-a
#   ADVERTISE     the name renderers and clients reach this machine by: cic-a.cic.local
#   DATABASE_URL  every database server; the daemon finds the primary itself:
#                 'postgresql://hypervision:SECRET@db-a:5432,db-b:5432,db-c:5432/hypervision?target_session_attrs=read-write'
#   --no-start    write the files, do not (re)start the service
#   --root DIR    write under DIR instead of / and touch nothing else (for checks)
#
# Installs hypervisiond with Deploy/install.sh if it is not installed yet. Writes
# /etc/hypervision/cluster.env (root:hypervision 0640: it holds the database password) and the
# drop-in /etc/systemd/system/hypervisiond.service.d/cluster.conf that loads it, so that
# config.yaml stays the machine's own. Run it on each daemon machine with its own NODE; the
# database side is Deploy/patroni/.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
start=1 root=/
arguments=()
while (($#)); do
    case "$1" in
        --no-start) start=0 ;;
        --root) (($# >= 2)) || { echo "setup-node.sh: --root needs a directory" >&2; exit 2; }; root="$2"; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) echo "setup-node.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
        *) arguments+=("$1") ;;
    esac
    shift
done
((${#arguments[@]} == 3)) || { echo "usage: setup-node.sh NODE ADVERTISE DATABASE_URL [--no-start] [--root DIR]" >&2; exit 2; }
node="${arguments[0]}" advertise="${arguments[1]}" url="${arguments[2]}"

# The daemon checks these too (exit 78), but a mistake is cheaper to see here.
[[ $node =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] \
    || { echo "setup-node.sh: \"$node\" is not a node name: 1 to 63 letters, digits, '.', '_' or '-'" >&2; exit 2; }
[[ -n $advertise && ! $advertise =~ [[:space:]/,] ]] || { echo "setup-node.sh: \"$advertise\" is not a host name" >&2; exit 2; }
[[ $url =~ ^postgres(ql)?:// && ! $url =~ [[:space:]\"\\] ]] \
    || { echo "setup-node.sh: the database URL must be a postgresql:// URL without spaces, quotes or backslashes" >&2; exit 2; }

live=0
[[ $root == / ]] && live=1
if ((live)) && [[ ! -x /usr/local/bin/hypervisiond ]]; then
    "$SCRIPT_DIR/../install.sh" --no-start
fi
etc="${root%/}/etc"
install -d "$etc/hypervision" "$etc/systemd/system/hypervisiond.service.d"
environment="$etc/hypervision/cluster.env"
umask 027
printf '# Written by Deploy/cluster/setup-node.sh: this daemon in the cluster.\nHYPERVISION_CLUSTER_NODE=%s\nHYPERVISION_CLUSTER_ADVERTISE=%s\nHYPERVISION_DATABASE_URL="%s"\n' \
    "$node" "$advertise" "$url" >"$environment.new"
if ((live)); then chown root:hypervision "$environment.new"; fi
chmod 0640 "$environment.new"
mv "$environment.new" "$environment"
umask 022
printf '[Service]\n# Written by Deploy/cluster/setup-node.sh: the cluster settings override config.yaml.\nEnvironmentFile=/etc/hypervision/cluster.env\n' \
    >"$etc/systemd/system/hypervisiond.service.d/cluster.conf"
echo "wrote $environment and $etc/systemd/system/hypervisiond.service.d/cluster.conf (node $node, advertised as $advertise)"

if ((live)); then
    systemctl daemon-reload
    if ((start)); then
        systemctl enable hypervisiond.service
        systemctl restart hypervisiond.service
        echo "hypervisiond restarted; once every node runs: curl -H 'Authorization: Bearer QUERY_TOKEN' http://$advertise:8080/api/v1/cluster"
    fi
fi
