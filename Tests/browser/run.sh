#!/usr/bin/env bash
# The wall pages in headless Chromium: the preview once against the fake server (which can
# simulate a dead link), once against a real `hypervisiond --demo` with its embedded PostgreSQL;
# then the operator's wall (Tests/browser/operator_test.py, its own daemon).
# Expects a built .build/debug/hypervisiond, chromium, ffmpeg and the websocket-client pip package.
set -euo pipefail
cd "$(dirname "$0")/../.."
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
out=$(mktemp -d)
# The offline basemap under the maps (made once, cached under .build/basemap/).
basemap=.build/basemap/offline.json
[ -s "$basemap" ] || python3 scripts/basemap-data "$basemap"
python3 Tests/browser/wall_preview_test.py --fake --screenshot "$out/fake.png"

state=$(mktemp -d)
chmod 755 "$state"  # the embedded PostgreSQL runs as "postgres" when the tests run as root
http=$(free_port)
HYPERVISION_INGEST_TCP_PORT=$(free_port) HYPERVISION_INGEST_UDP_PORT=$(free_port) HYPERVISION_INGEST_OSMAND_PORT=$(free_port) \
HYPERVISION_INGEST_COT_PORT=$(free_port) HYPERVISION_SUBSCRIPTIONS_PORT=$(free_port) \
HYPERVISION_BASEMAP_OFFLINE_FILE="$PWD/$basemap" HYPERVISION_DEMO_VIDEO_PORT=0 \
    .build/debug/hypervisiond --demo --state-dir "$state" --http-port "$http" > "$out/daemon.log" 2>&1 &
daemon=$!
cleanup() { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break
    sleep 0.5
done
# Ready comes before the demo feed's first pings (it starts once the daemon is): the checks
# below want units on the map, so they wait for the live picture to hold some.
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$http/metrics" | grep -Eq '^hypervision_live_units [1-9]' && break
    sleep 0.5
done
if ! python3 Tests/browser/wall_preview_test.py --base "http://127.0.0.1:$http" --screenshot "$out/demo.png"; then
    echo "--- daemon log ---"; tail -50 "$out/daemon.log"; exit 1
fi
cleanup
trap - EXIT
# The operator's wall: this test starts the daemon (and restarts it) with the demo's test video.
python3 Tests/browser/operator_test.py --daemon .build/debug/hypervisiond --basemap "$basemap" --screenshots "$out"
echo "screenshots in $out"
