#!/usr/bin/env bash
# The demo server: a local systemd container from the Debian 13 base image,
# converged with playbooks/site.yml.
#
#   demo.sh up            create/start kit-demo and converge it (again: no change)
#   demo.sh down [--purge] remove the container (--purge: and .demo/)
#
# KIT_DEMO_NAME, KIT_DEMO_HTTPS_PORT, KIT_DEMO_HTTP_PORT and KIT_DEMO_STATE_DIR give a
# second demo beside the first (inventory/demo reads the same variables); `make test`
# checks the demo that way (.config/scripts/demo-check.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

NAME="${KIT_DEMO_NAME:-kit-demo}"
IMAGE="${KIT_IMAGE:-kit-debian}:${KIT_DEMO_DISTRO:-13}"
HTTPS_PORT="${KIT_DEMO_HTTPS_PORT:-8443}"
HTTP_PORT="${KIT_DEMO_HTTP_PORT:-8080}"
STATE_DIR="${KIT_DEMO_STATE_DIR:-.demo}"
# What inventory/demo reads: the container's name, the HTTPS port (CSRF origin), where the
# secrets and the CA go (an absolute path: the playbooks resolve paths from their own folder).
export KIT_DEMO_NAME="$NAME" KIT_DEMO_HTTPS_PORT="$HTTPS_PORT"
KIT_DEMO_STATE_DIR="$(realpath -m "$STATE_DIR")"
export KIT_DEMO_STATE_DIR

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

up() {
    mkdir -p "$STATE_DIR"
    chmod 0700 "$STATE_DIR"
    if [ -z "$(docker ps -aq --filter "name=^${NAME}\$")" ]; then
        say "Creating container ${NAME} from ${IMAGE} (https://localhost:${HTTPS_PORT}, http://localhost:${HTTP_PORT})"
        # The test hosts' definition (.config/molecule/config.yml), the demo's ports published;
        # it returns once systemd has booted.
        python3 .config/scripts/systemd-host.py "$NAME" "$IMAGE" \
            --publish "127.0.0.1:${HTTPS_PORT}:443" --publish "127.0.0.1:${HTTP_PORT}:80" >/dev/null
    else
        say "Starting container ${NAME}"
        docker start "$NAME" >/dev/null
    fi

    say "Waiting for systemd in ${NAME}"
    state=""
    for _ in $(seq 1 60); do # a container that existed: started again above
        state="$(docker exec "$NAME" systemctl is-system-running 2>/dev/null || true)"
        case "$state" in
            running | degraded) break ;;
        esac
        sleep 1
    done
    case "$state" in
        running | degraded) echo "systemd is ${state}" ;;
        *) echo "ERROR: systemd in ${NAME} did not finish booting (state: ${state:-none}); see: docker logs ${NAME}" >&2; exit 1 ;;
    esac

    say "Converging ${NAME} with playbooks/site.yml (a second run reports changed=0)"
    if ! ansible-playbook -i inventory/demo playbooks/site.yml; then
        echo "ERROR: the playbook failed; the failed task and its message are shown above." >&2
        echo "       Fix it and run 'make demo' again (it continues where it stopped)." >&2
        exit 1
    fi

    say "Writing ${STATE_DIR}/credentials.json"
    umask 077
    python3 - "$STATE_DIR" <<'PY'
import json, pathlib, sys
state = pathlib.Path(sys.argv[1])
password = (state / "secrets" / "demo_password").read_text().strip()
target = state / "credentials.json"
target.write_text(json.dumps({"username": "demo", "password": password}) + "\n")
target.chmod(0o600)
PY
    [ -f "$STATE_DIR/ca.crt" ] || { echo "ERROR: the tls role did not fetch the CA to $STATE_DIR/ca.crt" >&2; exit 1; }

    say "The demo server is up: https://localhost:${HTTPS_PORT}/"
    cat <<EOT
Try it (the CA in ${STATE_DIR}/ca.crt is pinned; nothing is trusted blindly):

  ACCESS=\$(curl -s --cacert ${STATE_DIR}/ca.crt -H 'Content-Type: application/json' \\
      -d @${STATE_DIR}/credentials.json https://localhost:${HTTPS_PORT}/api/token/ \\
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["access"])')
  curl -s --cacert ${STATE_DIR}/ca.crt -H "Authorization: Bearer \$ACCESS" https://localhost:${HTTPS_PORT}/api/me/

  Admin:        https://localhost:${HTTPS_PORT}/admin/  (user admin, password in ${STATE_DIR}/secrets/admin_password)
  Shell on it:  docker exec -it ${NAME} bash
  Remove it:    make demo-down   (PURGE=1 also deletes ${STATE_DIR}/)
EOT
}

down() {
    if [ -n "$(docker ps -aq --filter "name=^${NAME}\$")" ]; then
        say "Removing container ${NAME}"
        docker rm --force "$NAME" >/dev/null
    else
        echo "No container ${NAME}"
    fi
    if [ "${1:-}" = --purge ]; then
        say "Removing ${STATE_DIR}/"
        rm -rf "$STATE_DIR"
    fi
}

case "${1:-}" in
    up) up ;;
    down) shift; down "$@" ;;
    *) echo "usage: $0 up | down [--purge]" >&2; exit 2 ;;
esac
