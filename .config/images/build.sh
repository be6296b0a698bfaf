#!/usr/bin/env bash
# Build a local systemd base image for one Debian suite, with no registry:
# debootstrap a minimal root file system, trust the host's extra CA certificates
# (the TLS-inspecting proxy), and `docker import` it.
#
#   build.sh SUITE TAG
#
# The image is what a freshly installed minimal Debian server has: systemd as
# init, python3 (for Ansible), sudo, ca-certificates, iproute2 and procps; and one
# apt setting of a test bed: packages come through the controller's package cache
# (kit-apt-cache) when it answers, directly from the archive when not.
set -euo pipefail

SUITE="$1"
TAG="$2"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
EXTRA_CA_DIR="${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
PACKAGES=systemd,systemd-sysv,python3,sudo,ca-certificates,iproute2,procps

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/kit-rootfs-${SUITE}.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT

# Through the package cache when it answers (make bootstrap starts it; debootstrap's wget
# honours http_proxy).
if curl --silent --fail --max-time 2 --output /dev/null http://127.0.0.1:3142/acng-report.html; then
    export http_proxy=http://127.0.0.1:3142
fi
echo "==> debootstrap ${SUITE} from ${MIRROR}${http_proxy:+ through ${http_proxy}} (log: ${ROOT}.log)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"${ROOT}.log" 2>&1; then
    tail -n 30 "${ROOT}.log" >&2
    echo "ERROR: debootstrap of ${SUITE} failed; full log in ${ROOT}.log" >&2
    exit 1
fi

echo "==> Configuring the root file system"
cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb ${MIRROR} ${SUITE} main
deb ${MIRROR} ${SUITE}-updates main
deb ${SECURITY_MIRROR} ${SUITE}-security main
SOURCES

# Extra CA certificates of this machine (e.g. a TLS-inspecting proxy), so that
# pip and apt inside the container trust what the host trusts.
if compgen -G "${EXTRA_CA_DIR}/*.crt" >/dev/null; then
    cp "${EXTRA_CA_DIR}"/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi
if ! out="$(chroot "$ROOT" update-ca-certificates 2>&1)"; then
    printf '%s\n' "$out" >&2
    echo "ERROR: update-ca-certificates failed in the ${SUITE} root file system" >&2
    exit 1
fi

# apt asks the controller's package cache when there is one (make bootstrap starts it, the
# kit's containers reach it as kit-apt-cache), and the archive itself when not.
install -D -m 0755 "$(dirname "$0")/apt-proxy-detect" "$ROOT/usr/local/lib/kit/apt-proxy-detect"
cat >"$ROOT/etc/apt/apt.conf.d/30kit-apt-cache" <<'APT'
// The kit's test images: packages through the controller's apt-cacher-ng when it answers.
Acquire::http::Proxy-Auto-Detect "/usr/local/lib/kit/apt-proxy-detect";
APT

# A container gets its identity at first boot, like a cloned VM.
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# Units that make no sense in a container and only slow down or spam the boot.
for unit in getty@tty1.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-remount-fs.service systemd-firstboot.service sys-kernel-debug.mount \
    sys-kernel-tracing.mount dev-hugepages.mount; do
    ln -sf /dev/null "$ROOT/etc/systemd/system/${unit}"
done
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb

echo "==> docker import ${TAG}"
tar -C "$ROOT" --numeric-owner -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --message "kit base image: Debian ${SUITE} with systemd" \
    - "$TAG" >/dev/null
echo "==> Built ${TAG}"
