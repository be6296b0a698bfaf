#!/usr/bin/env bash
# `make bench`: deploy speed, serving (nginx+TLS vs Gunicorn direct vs runserver) and
# zero-downtime, measured in one run on fresh containers from the kit's image, deployed with the
# kit's playbooks. Writes bench/results/<UTC date>.{json,md,png} and latest.{md,png}.
#
#   bench/run.sh                 the whole suite (about 9-10 minutes on 2 cores)
#   BENCH_SKIP_FLOOR=1 ...       without the floor (apt-get + pip only) measurement
#   BENCH_DURATION=5 ...         seconds per wrk case (default 10)
#   BENCH_KEEP=1 ...             keep the container bench-kit afterwards (docker rm -f bench-kit)
#   BENCH_KEEP=1 BENCH_RESUME=1  after a failed run kept with BENCH_KEEP=1: redo only the
#                                steps missing from bench/.work/partial.json
#   bench/run.sh report [FILE]   only redo the Markdown/PNG from a results JSON
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-bench
NAME="${BENCH_NAME:-bench-kit}"
export BENCH_NAME="$NAME"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

[ -x .venv/bin/ansible-playbook ] || { echo "ERROR: .venv is missing: run 'make bootstrap' first" >&2; exit 1; }

if [ ! -f "$VENV/.installed" ] || [ bench/requirements.txt -nt "$VENV/.installed" ]; then
    say "Creating $VENV from bench/requirements.txt"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        --require-hashes --no-deps -r bench/requirements.txt 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    touch "$VENV/.installed"
fi

if [ "${1:-}" = report ]; then
    exec "$VENV/bin/python" bench/report.py "${@:2}"
fi

.config/scripts/ensure-docker.sh >/dev/null
.config/scripts/ensure-images.sh "${BENCH_DISTRO:-13}"

cleanup() {
    if [ "${BENCH_KEEP:-0}" = 0 ]; then
        docker rm --force "$NAME" >/dev/null 2>&1 || true
    fi
    docker rm --force "$NAME-floor" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

start=$(date +%s)
"$VENV/bin/python" bench/bench.py
"$VENV/bin/python" bench/report.py
say "make bench done in $(( $(date +%s) - start )) s: bench/results/latest.md"
