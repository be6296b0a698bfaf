#!/usr/bin/env bash
# Check the test bed's package cache the way the test containers use it:
#   1. a container given kit-apt-cache (as every scenario's is) fetches through apt-cacher-ng:
#      the cache's log gains the container's requests, and the package's checksum matches
#      the archive's signed index (apt checks it, and `apt-get download` fails otherwise);
#   2. a container whose kit-apt-cache does not answer (an address where nothing listens)
#      falls back to the archive and still installs packages.
#   apt-cache-check.sh [13|12]
set -euo pipefail
cd "$(dirname "$0")/../.."
DISTRO="${1:-13}"
IMAGE="${KIT_IMAGE:-kit-debian}:${DISTRO}"
LOG=/var/log/apt-cacher-ng/apt-cacher.log
fail() { echo "FAILED: $*" >&2; exit 1; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

.config/scripts/ensure-apt-cache.sh
curl --silent --fail --max-time 2 --output /dev/null http://127.0.0.1:3142/acng-report.html \
    || fail "the package cache does not answer on 127.0.0.1:3142 (see /var/log/apt-cacher-ng/)"

probe() { # add-host-value -> prints what apt's proxy detection chose, then installs a package
    docker run --rm --add-host "kit-apt-cache:$1" "$IMAGE" bash -c '
        set -e
        /usr/local/lib/kit/apt-proxy-detect http://deb.debian.org/debian
        apt-get update -qq
        cd /tmp && apt-get download -qq hostname && ls hostname_*.deb >/dev/null'
}

say "Debian ${DISTRO}: through the cache"
before="$(wc -l <"$LOG" 2>/dev/null || echo 0)"
chosen="$(probe host-gateway)" || fail "a container with the cache could not fetch a package"
[ "$chosen" = "http://kit-apt-cache:3142" ] || fail "apt did not choose the cache (it chose: ${chosen})"
after="$(wc -l <"$LOG")"
[ "$after" -gt "$before" ] || fail "the cache's log ($LOG) shows no request from the container"
echo "apt chose ${chosen}; the cache served $((after - before)) requests"

say "Debian ${DISTRO}: the cache unreachable, straight to the archive"
# 127.0.0.1 inside the container: nothing listens on 3142 there.
chosen="$(probe 127.0.0.1)" || fail "a container without a reachable cache could not fetch a package"
[ "$chosen" = DIRECT ] || fail "apt chose ${chosen}, not the archive, with the cache unreachable"
echo "apt chose ${chosen} and installed from the archive"
