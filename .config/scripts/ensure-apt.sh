#!/usr/bin/env bash
# Install the Debian packages the kit's tool chain needs on the controller,
# when they are missing: the Docker engine, debootstrap (base images), Python's
# venv module, git, curl, the SSH client and apt-cacher-ng. Nothing happens when all are there.
set -euo pipefail

missing=()
# A Docker engine: a local dockerd, or any engine the docker client already reaches.
if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    missing+=(docker.io)
fi
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
"${PYTHON:-python3}" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The package cache every test container, the demo and the bench use (ensure-apt-cache.sh).
[ -x /usr/sbin/apt-cacher-ng ] || [ "${KIT_APT_CACHE:-1}" != 1 ] || missing+=(apt-cacher-ng)
# ssh and ssh-keygen: make test deploys over SSH too (ssh-check.sh), as to a real server.
{ command -v ssh && command -v ssh-keygen; } >/dev/null 2>&1 || missing+=(openssh-client)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "All needed Debian packages are installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "ERROR: missing ${missing[*]}: install them (as root on Debian: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "Installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
