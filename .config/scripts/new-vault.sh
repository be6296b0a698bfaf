#!/usr/bin/env bash
# Make an inventory's own vault, with random secrets (`make vault INVENTORY=inventory/<env>`):
#
#   new-vault.sh INVENTORY_DIR [VAULT_PASSWORD_FILE]
#
# Writes INVENTORY_DIR/group_vars/all/vault.yml, encrypted with ansible-vault, holding every
# secret the kit's inventories read: vault_kit_db_password, vault_django_app_secret_key,
# vault_django_app_jwt_signing_key, vault_django_app_admin_password. The vault password is
# read from VAULT_PASSWORD_FILE (default: ~/.config/django-deploy-kit/<inventory>.vault-password),
# which is made (random, mode 0600) when it does not exist: keep it out of git. The secrets
# go from Python to ansible-vault through a pipe: never on a command line, never on disk in
# clear. A vault other than the example's (inventory/example, copied) is never replaced,
# unless FORCE=1. The example's vault password file, public, is removed from the copy.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "ERROR: $*" >&2; exit 1; }

inventory="${1:-}"
[ -n "$inventory" ] || fail "say which inventory: make vault INVENTORY=inventory/production"
[ -d "$inventory/group_vars" ] || fail "$inventory has no group_vars/: copy inventory/example first (cp -r inventory/example $inventory)"
[ "$(realpath "$inventory")" != "$(realpath inventory/example)" ] \
    || fail "inventory/example is the public example: copy it first (cp -r inventory/example inventory/production)"
password_file="${2:-${VAULT_PASSWORD_FILE:-$HOME/.config/django-deploy-kit/$(basename "$(realpath "$inventory")").vault-password}}"
vault="$inventory/group_vars/all/vault.yml"
example_vault=inventory/example/group_vars/all/vault.yml

if [ -e "$vault" ] && ! cmp -s "$vault" "$example_vault" && [ "${FORCE:-0}" != 1 ]; then
    fail "$vault exists and is not the example's: it may hold your secrets. Keep it, or FORCE=1 to replace it (its secrets are lost)."
fi
command -v ansible-vault >/dev/null || fail "ansible-vault is missing: run make bootstrap (it installs .venv), or activate .venv"

umask 077
if [ ! -s "$password_file" ]; then
    mkdir -p "$(dirname "$password_file")"
    python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$password_file"
    echo "Made the vault password file $password_file (mode 0600): keep it out of git, back it up."
fi
mkdir -p "$(dirname "$vault")"
python3 - <<'PY' | ansible-vault encrypt --vault-password-file "$password_file" --output "$vault.new" - 2>/dev/null
import json, secrets
print("---")
print("# Made by `make vault` (.config/scripts/new-vault.sh): random secrets of this inventory.")
for name, size in [
    ("vault_kit_db_password", 32),
    ("vault_django_app_secret_key", 64),
    ("vault_django_app_jwt_signing_key", 64),
    ("vault_django_app_admin_password", 24),
]:
    print(f"{name}: {json.dumps(secrets.token_urlsafe(size))}")
PY
mv "$vault.new" "$vault"
rm -f "$inventory/vault-password.example.txt"
echo "Wrote $vault (encrypted). Use it with:"
echo "  ansible-playbook -i $inventory playbooks/site.yml --vault-password-file $password_file"
echo "  ansible-vault view --vault-password-file $password_file $vault   # to read the admin password"
