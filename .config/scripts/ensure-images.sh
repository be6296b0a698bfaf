#!/usr/bin/env bash
# Make sure the local base images exist, one per Debian major version given
# (13 = trixie, 12 = bookworm). Each image is tagged from a hash of its recipe
# (build script, suite, this machine's extra CA certificates) and rebuilt only
# when that hash changes; the plain tag (kit-debian:13) always points at the
# current build. Nothing is pulled from a registry.
#
#   ensure-images.sh [13] [12]
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
REPO="${KIT_IMAGE:-kit-debian}"
EXTRA_CA_DIR="${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"

suite_of() {
    case "$1" in
        13) echo trixie ;;
        12) echo bookworm ;;
        *) echo "ERROR: unknown Debian major version '$1' (known: 13, 12)" >&2; exit 2 ;;
    esac
}

recipe_hash() {
    {
        echo "suite=$1"
        cat "$HERE/images/build.sh" "$HERE/images/apt-proxy-detect"
        cat "$EXTRA_CA_DIR"/*.crt 2>/dev/null || true
    } | sha256sum | cut -c1-12
}

need_debootstrap() {
    command -v debootstrap >/dev/null && return 0
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "==> Installing debootstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    else
        echo "ERROR: debootstrap is missing: install it (Debian: apt-get install debootstrap) or provide ${REPO}:<major> images yourself" >&2
        exit 1
    fi
}

[ "$#" -gt 0 ] || set -- 13 12
for major in "$@"; do
    suite="$(suite_of "$major")"
    tag="${REPO}:${major}-$(recipe_hash "$suite")"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        echo "==> Image ${tag} is current (Debian ${suite})"
    else
        need_debootstrap
        echo "==> Building image ${tag} (Debian ${suite}, about 90 s)"
        "$HERE/images/build.sh" "$suite" "$tag"
    fi
    docker tag "$tag" "${REPO}:${major}"
done
