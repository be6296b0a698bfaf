#!/usr/bin/env bash
# The variable tables of the role READMEs, generated from each role's
# meta/argument_specs.yml by aar-doc (pinned in requirements/dev.txt) with the kit's
# template (.config/aar-doc/variables.md.j2), between the README's
#   <!-- BEGIN_ANSIBLE_DOCS --> and <!-- END_ANSIBLE_DOCS --> lines.
# The prose around them is hand-written.
#   role-docs.sh           rewrite the tables (make docs)
#   role-docs.sh --check   fail, naming the READMEs, when a table is not what the specs give (make lint)
set -euo pipefail
cd "$(dirname "$0")/../.."
# The venv's aar-doc (make puts $(VENV)/bin first on PATH), else .venv's.
AAR_DOC="${AAR_DOC:-$(command -v aar-doc || echo .venv/bin/aar-doc)}"
TEMPLATE=.config/aar-doc/variables.md.j2
check=0
[ "${1:-}" = --check ] && check=1

render() { # role_dir output_file
    cp "$1/README.md" "$2"
    # aar-doc prints the whole output: only its errors matter here.
    "$AAR_DOC" --output-file "$(realpath "$2")" --output-mode inject \
        --output-template "$(realpath "$TEMPLATE")" "$1" markdown >/dev/null
}

stale=()
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for role in roles/*/; do
    role="${role%/}"
    [ -f "$role/meta/argument_specs.yml" ] || continue
    if ! grep -q '^<!-- BEGIN_ANSIBLE_DOCS -->$' "$role/README.md"; then
        echo "ERROR: $role/README.md has no <!-- BEGIN_ANSIBLE_DOCS --> / <!-- END_ANSIBLE_DOCS --> lines where its variable table goes" >&2
        exit 1
    fi
    out="$scratch/$(basename "$role").md"
    render "$role" "$out"
    if ! cmp -s "$out" "$role/README.md"; then
        if [ "$check" = 1 ]; then
            stale+=("$role/README.md")
            diff -u "$role/README.md" "$out" | head -20 >&2 || true
        else
            cp "$out" "$role/README.md"
            echo "updated $role/README.md"
        fi
    fi
done
if [ "${#stale[@]}" -gt 0 ]; then
    echo "ERROR: the variable tables of ${stale[*]} differ from meta/argument_specs.yml: run make docs" >&2
    exit 1
fi
