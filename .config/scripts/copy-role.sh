#!/usr/bin/env bash
# Copy one role as the README's "Copying one role" says a user does: roles/<role>/ alone into
# an empty git repository DEST (outside the clone), with only the documented extras
# (.config/test-matrix.yml `copies.extras`: the shared Molecule config and the test toolkit).
# Nothing else of the kit is there: a scenario that converges another role or reads a path
# outside its role fails in the copy.
#   copy-role.sh roles/<role> DEST        prints DEST/roles/<role> (where to run molecule)
set -euo pipefail
cd "$(dirname "$0")/../.."
role_dir="${1:?usage: copy-role.sh roles/<role> DEST}"
dest="${2:?usage: copy-role.sh roles/<role> DEST}"
case "$(realpath -m "$dest")/" in
    "$(pwd)"/*) echo "ERROR: $dest is inside the clone; a copy must be outside it" >&2; exit 2 ;;
esac
rm -rf "$dest"
mkdir -p "$dest/roles"
cp -r "$role_dir" "$dest/roles/"
mapfile -t extras < <(python3 -c 'import yaml; print("\n".join(yaml.safe_load(open(".config/test-matrix.yml"))["copies"]["extras"]))')
for extra in "${extras[@]}"; do
    mkdir -p "$dest/$(dirname "$extra")"
    cp -r "$extra" "$dest/$extra"
done
# Molecule finds .config/molecule/config.yml at the repository's root.
git -C "$dest" init --quiet
echo "$dest/roles/$(basename "$role_dir")"
