# Shared by scripts/demo and scripts/test: puts Swift on PATH and installs the Debian
# packages Hypervision needs, only when they are missing.
set -euo pipefail

if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "swift not found: install the Swift 6.2+ toolchain (https://swift.org/install) and put it on PATH" >&2
    exit 1
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_packages PKG… : apt-get install whatever is not installed yet.
install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# PostgreSQL 15 + PostGIS 3 for the embedded database; util-linux for setpriv (dropping root).
RUNTIME_PACKAGES=(postgresql-15 postgresql-15-postgis-3 util-linux ca-certificates)
# The demo's test video (ffmpeg, with DejaVu for the names and clocks burned in).
DEMO_PACKAGES=(ffmpeg fonts-dejavu-core)
