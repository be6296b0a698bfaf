#!/usr/bin/env bash
# Build the kit's roles as the Ansible collection galaxy.yml describes, and optionally
# install the tarball into an empty collections path (what a user without Galaxy does):
#   collection.sh                 build into dist/
#   collection.sh install DIR     build, then install into DIR (emptied first), offline: the
#                                 dependencies galaxy.yml names must already be installed
#                                 (they ship with the `ansible` package) in a matching version.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=dist
if [ "${1:-}" = install ]; then # a scratch build: nothing of the work tree changes
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
else
    rm -rf "$out"
fi
ansible-galaxy collection build --output-path "$out" >/dev/null
tarball="$(ls "$out"/*.tar.gz)"
echo "built $tarball"
if [ "${1:-}" = install ]; then
    target="${2:?usage: collection.sh install DIR}"
    rm -rf "$target"
    mkdir -p "$target"
    ansible-galaxy collection install --offline --collections-path "$target" "$tarball" \
        2>&1 | grep -v 'is not part of the configured Ansible collections paths' || true
    # A failed install leaves no collection behind: say so instead of letting the converge
    # fail later with "the role ... was not found".
    ns="$(sed -n 's/^namespace: *//p' galaxy.yml)" name="$(sed -n 's/^name: *//p' galaxy.yml)"
    [ -f "$target/ansible_collections/$ns/$name/MANIFEST.json" ] || {
        echo "ERROR: $tarball did not install into $target (see above)" >&2
        exit 1
    }
fi
