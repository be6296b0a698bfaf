#!/usr/bin/env bash
# `make test`'s check of the real-server path: playbooks/site.yml over SSH, as
# "Deploying to a real server" in the README runs it, with the kit's ansible.cfg (Mitogen).
# The server is a systemd container of this run (kit-ssh-check) with sshd, a sudo-capable
# login `admin` and a key made here; the host key is pinned (read from the container), and
# ansible_host is a template, as inventories often write it. The inventory is a copy of
# inventory/example (the README's step), with the server in hosts.yml and, as extra vars,
# the name `localhost` and the selfsigned TLS provider (no ACME server here). Then:
#   - with the example's vault (public secrets) site.yml and deploy.yml stop in their
#     preflight, naming the variables, and change nothing on the server;
#   - `make vault` makes the inventory's own vault;
#   - site.yml converges with it; again, changed=0; --check, changed=0; Mitogen ran;
#   - HTTPS on the container's address answers /healthz with the kit's CA pinned.
# Only this run's container is contacted.
set -euo pipefail
cd "$(dirname "$0")/../.."

NAME="${KIT_SSH_CHECK_NAME:-kit-ssh-check}"
IMAGE="${KIT_IMAGE:-kit-debian}:${KIT_SSH_CHECK_DISTRO:-13}"
work="$(realpath -m .cache/ssh-check)"

fail() { echo "FAILED: $*" >&2; exit 1; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
cleanup() { docker rm --force "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
rm -rf "$work"
mkdir -p "$work"
chmod 0700 "$work"

say "A server: ${NAME} from ${IMAGE}, sshd and a sudo-capable login"
# The test hosts' definition (.config/molecule/config.yml); returns once systemd has booted.
python3 .config/scripts/systemd-host.py "$NAME" "$IMAGE" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C kit-ssh-check -f "$work/id_ed25519"
docker exec -i "$NAME" bash -euc '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends openssh-server >/dev/null
    useradd --create-home --shell /bin/bash admin
    echo "admin ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/admin && chmod 0440 /etc/sudoers.d/admin
    install -d -m 0700 -o admin -g admin /home/admin/.ssh
    install -m 0600 -o admin -g admin /dev/stdin /home/admin/.ssh/authorized_keys
    systemctl enable --now ssh >/dev/null 2>&1' <"$work/id_ed25519.pub"
address="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")"
[ -n "$address" ] || fail "no address for ${NAME}"
# The host key, read through Docker (a channel that is not the one being checked).
docker exec "$NAME" cat /etc/ssh/ssh_host_ed25519_key.pub | awk -v a="$address" '{print a, $1, $2}' \
    >"$work/known_hosts"

say "A copy of inventory/example: the server in every group, over SSH"
cp -r inventory/example "$work/inventory"
cat >"$work/inventory/hosts.yml" <<EOT
all:
  children:
    dbservers:
      hosts: {api: null}
    appservers:
      hosts: {api: null}
    webservers:
      hosts: {api: null}
  hosts:
    api:
      ansible_connection: ssh
      ansible_host: "{{ '${address}' | trim }}"
      ansible_user: admin
      ansible_become: true
      ansible_ssh_private_key_file: ${work}/id_ed25519
      ansible_ssh_common_args: -o UserKnownHostsFile=${work}/known_hosts -o StrictHostKeyChecking=yes
EOT
cat >"$work/check-vars.yml" <<EOT
kit_server_names: [localhost]
tls_provider: selfsigned
tls_ca_fetch_dest: ${work}/ca.crt
EOT

run() { # log, playbook, extra args...
    local log="$1" playbook="$2"
    shift 2
    ansible-playbook -i "$work/inventory" -e "@$work/check-vars.yml" "playbooks/$playbook" "$@" 2>&1 \
        | tee "$work/$log"
}
converge() { # log, extra args...
    local log="$1"
    shift
    run "$log" site.yml --vault-password-file "$work/vault-password" "$@"
    ! grep -q 'Mitogen is not usable' "$work/$log" || fail "the run fell back to Ansible's linear strategy"
}
no_change() { # log
    local recap
    recap="$(grep -E '^[^ ]+ +: ok=[0-9]+ +changed=[0-9]+' "$work/$1")" || fail "no PLAY RECAP in $1"
    ! grep -Eq 'changed=[1-9]|failed=[1-9]|unreachable=[1-9]' <<<"$recap" || fail "$1: $recap"
    echo "$1: $recap"
}

server_state() { # what a run that changed something would have changed
    docker exec "$NAME" sh -c 'ls /etc/kitapp /srv/kitapp /etc/nginx /etc/postgresql 2>&1; dpkg -l | wc -l'
}
refused() { # log, variable...
    local log="$1"
    shift
    ! grep -Eq '^[^ ]+ +: ok=[0-9]+ +changed=[1-9]' "$work/$log" || fail "$log: the refused run changed something"
    grep -q 'still holds a placeholder' "$work/$log" || fail "$log: no placeholder refusal"
    for variable in "$@"; do
        grep -q "Invalid input: .*$variable" "$work/$log" || fail "$log: the refusal does not name $variable"
    done
    echo "$log: refused, naming $*"
}
say "The example's vault (its secrets are public): refused before any change"
before="$(server_state)"
if run example-site.log site.yml --vault-password-file inventory/example/vault-password.example.txt; then
    fail "site.yml ran with the example's secrets"
fi
refused example-site.log django_app_secret_key django_app_jwt_signing_key django_app_users
if run example-deploy.log deploy.yml --vault-password-file inventory/example/vault-password.example.txt; then
    fail "deploy.yml ran with the example's secrets"
fi
refused example-deploy.log django_app_secret_key django_app_db_password
[ "$(server_state)" = "$before" ] || fail "the refused runs changed the server"

say "make vault: the inventory's own vault of random secrets"
make --no-print-directory vault INVENTORY="$work/inventory" VAULT_PASSWORD_FILE="$work/vault-password"
[ "$(stat -c %a "$work/vault-password")" = 600 ] || fail "the vault password file is not 0600"
! grep -q replace-me "$work/inventory/group_vars/all/vault.yml" || fail "the new vault is not encrypted"

say "site.yml over SSH"
converge cold.log
say "site.yml again: no change"
converge warm.log
no_change warm.log
say "site.yml --check: no change"
converge check.log --check
no_change check.log

say "HTTPS on ${address} with the kit's CA pinned"
health="$(curl -sS --cacert "$work/ca.crt" --resolve "localhost:443:${address}" https://localhost/healthz)"
[[ "$health" == *'"ok"'* ]] || fail "/healthz answered: $health"
echo "healthz: $health"
echo "ssh check passed"
