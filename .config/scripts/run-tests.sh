#!/usr/bin/env bash
# Run every check of the kit and print one summary line at the end:
#   lint, the sample app's tests, then each Molecule scenario on each distro.
# A failing step does not stop the others; the exit status is non-zero when any failed.
#
#   run-tests.sh DIR:SCENARIO ...      (DISTROS="13 12" by default)
# A scenario runs on fewer distros when its molecule.yml has a line such as
#   # kit-distros: 13
set -uo pipefail
cd "$(dirname "$0")/../.."

DISTROS="${DISTROS:-13 12}"
passed=()
failed=()
started=$SECONDS

step() {
    local name="$1"; shift
    local t0=$SECONDS
    printf '\n\033[1m==> %s\033[0m\n' "$name"
    if "$@"; then
        passed+=("$name")
        printf '\033[32m--> passed: %s (%ss)\033[0m\n' "$name" $((SECONDS - t0))
    else
        failed+=("$name")
        printf '\033[31m--> FAILED: %s (%ss)\033[0m\n' "$name" $((SECONDS - t0))
    fi
}

molecule_test() {
    local dir="$1" scenario="$2" distro="$3"
    # The Docker engine may have died during a long run: bring it back first.
    .config/scripts/ensure-docker.sh >/dev/null || return 1
    local instance
    instance="$(basename "$(cd "$dir" && pwd)")-${scenario}"
    (cd "$dir" && KIT_INSTANCE="${instance//_/-}" MOLECULE_DISTRO="$distro" molecule test -s "$scenario")
}

step "lint" make --no-print-directory lint
if [ -f sample_app/pyproject.toml ]; then
    step "sample_app tests" make --no-print-directory test-app
fi

for item in "$@"; do
    dir="${item%%:*}"
    scenario="${item##*:}"
    wanted="$(sed -n 's/^# kit-distros:[[:space:]]*//p' "$dir/molecule/$scenario/molecule.yml")"
    for distro in $DISTROS; do
        if [ -n "$wanted" ] && [[ " $wanted " != *" $distro "* ]]; then
            continue
        fi
        step "molecule ${dir#./}:${scenario} (Debian ${distro})" molecule_test "$dir" "$scenario" "$distro"
    done
done

echo
echo "Ran for $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s."
for name in "${passed[@]}"; do echo "  passed  $name"; done
for name in "${failed[@]}"; do echo "  FAILED  $name"; done
echo "make test: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
