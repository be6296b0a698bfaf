#!/usr/bin/env bash
# Make sure the kit's package cache answers: apt-cacher-ng (Debian's package) on this machine,
# listening on loopback and on the Docker bridge's gateway address, where the kit's test
# containers, the demo and the bench find it as `kit-apt-cache` (docker --add-host
# kit-apt-cache:host-gateway; the base images' apt asks .config/images/apt-proxy-detect, which
# falls back to the archive itself when the cache does not answer). Nothing happens when it
# answers already. Without it everything still works, only slower: this script then warns.
#
#   ensure-apt-cache.sh            KIT_APT_CACHE=0 turns the cache off (containers go direct)
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
PORT=3142
[ "${KIT_APT_CACHE:-1}" = 1 ] || { echo "Package cache off (KIT_APT_CACHE=0)"; exit 0; }

# pip's cache for the test hosts (mounted at /root/.cache/pip in each container).
install -d -m 0755 "${KIT_PIP_CACHE:-/var/cache/kit/pip}"

answers() { curl --silent --fail --max-time 2 --output /dev/null "http://127.0.0.1:${PORT}/acng-report.html"; }
if answers; then
    echo "Package cache (apt-cacher-ng) answers on port ${PORT}"
    exit 0
fi
if ! command -v apt-cacher-ng >/dev/null 2>&1 && [ ! -x /usr/sbin/apt-cacher-ng ]; then
    echo "WARNING: apt-cacher-ng is not installed (make apt installs it): containers download every package from the archive" >&2
    exit 0
fi
# host-gateway is the address of the default bridge (docker0) unless dockerd is told otherwise.
gateway="$(ip -4 -o addr show dev docker0 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')"
if [ -z "$gateway" ]; then
    echo "WARNING: no address of the Docker bridge found (is the engine up? make docker): package cache not started" >&2
    exit 0
fi
user=apt-cacher-ng
id "$user" >/dev/null 2>&1 || user=root
install -d -o "$user" -m 0755 /run/apt-cacher-ng /var/cache/apt-cacher-ng /var/log/apt-cacher-ng
echo "Starting the package cache (apt-cacher-ng) on 127.0.0.1 and ${gateway}, port ${PORT} (log: /var/log/apt-cacher-ng/)"
runuser -u "$user" -- /usr/sbin/apt-cacher-ng -c "$HERE/apt-cache" ForeGround=0 \
    "BindAddress=127.0.0.1 ${gateway}" PidFile=/run/apt-cacher-ng/pid
for _ in $(seq 1 50); do
    answers && exit 0
    sleep 0.1
done
echo "WARNING: apt-cacher-ng did not answer on port ${PORT} (see /var/log/apt-cacher-ng/apt-cacher.err): containers download every package from the archive" >&2
