#!/usr/bin/env bash
# Run every check of the kit and print one summary line at the end:
#   lint, the package cache (apt-cache-check.sh), the roles' controller-side tools and the
#   sample app's tests, then each Molecule scenario on each distro, the
#   check of `make demo` (demo-check.sh) and of site.yml over SSH (ssh-check.sh), JOBS of
#   them at a time, longest first (default 3: with two at a time a 2-core machine still sat
#   idle a quarter of the time, waiting on containers booting, services starting, downloads).
# A failing step does not stop the others; the exit status is non-zero when any failed.
# Each scenario's full output is kept in .cache/test-logs/, every line stamped with the
# seconds since the scenario started (where the time goes: `grep -E '➜|Executing' LOG`);
# a passing one prints its last lines, a failing one prints everything.
#
#   run-tests.sh DIR:SCENARIO ...      (DISTROS="13 12", JOBS=3 by default)
# Which distros a scenario runs on, and the checks that are not scenarios, are data:
# .config/test-matrix.yml (read by test-queue.py).
set -uo pipefail
cd "$(dirname "$0")/../.."

DISTROS="${DISTROS:-13 12}"
JOBS="${JOBS:-3}"
LOGS=.cache/test-logs
passed=()
failed=()
started=$SECONDS

# Nothing from an earlier run or from the user's ~/.cache: controller-side caches (the
# django_app build cache, pip's, Molecule's and Ansible's helpers') start empty in the
# clone's own .cache/xdg. The caches of the test hosts' packages (apt-cacher-ng,
# /var/cache/kit/pip) persist: they only save downloads, every package is still checked
# against the archive's signature or the lock's hash.
export XDG_CACHE_HOME="$PWD/.cache/xdg"
# Role copies (.config/test-matrix.yml `copies`): outside the clone, made fresh for each run.
COPIES="${KIT_TEST_COPIES:-${TMPDIR:-/tmp}/kit-role-copies}"
rm -rf "$XDG_CACHE_HOME"
mkdir -p "$LOGS" "$XDG_CACHE_HOME"
rm -f "$LOGS"/*.log "$LOGS"/*.rc

bold() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
record() { # name rc seconds
    if [ "$2" -eq 0 ]; then
        passed+=("$1")
        printf '\033[32m--> passed: %s (%ss)\033[0m\n' "$1" "$3"
    else
        failed+=("$1")
        printf '\033[31m--> FAILED: %s (%ss)\033[0m\n' "$1" "$3"
    fi
}

step() { # name command...
    local name="$1" t0=$SECONDS rc=0
    shift
    bold "$name"
    "$@" || rc=$?
    record "$name" "$rc" $((SECONDS - t0))
}

molecule_test() { # dir scenario distro
    local dir="$1" scenario="$2" distro="$3" instance
    # The Docker engine may have died during a long run: bring it back first.
    .config/scripts/ensure-docker.sh >/dev/null || return 1
    .config/scripts/ensure-apt-cache.sh >/dev/null || true  # containers go direct without it
    if [ "$dir" = @check ]; then # scenario: the command, distro: ENV=distro
        env "$distro" "$scenario"
        return
    fi
    # Molecule's output unbuffered, so that the log's time stamps are when things happened.
    export PYTHONUNBUFFERED=1
    instance="$(basename "$(cd "${dir#copy:}" && pwd)")-${scenario}"
    instance="${instance//_/-}"
    if [[ "$dir" == copy:* ]]; then # the role alone, in an empty repository outside the clone
        echo "A copy of ${dir#copy:} alone: $COPIES/${instance}-${distro}"
        dir="$(.config/scripts/copy-role.sh "${dir#copy:}" "$COPIES/${instance}-${distro}")" || return 1
    fi
    # One ephemeral directory per run, so that one scenario can run on two distros at once.
    export MOLECULE_EPHEMERAL_DIRECTORY="$PWD/.cache/molecule/${instance}-${distro}"
    # Role scenarios: Ansible's linear on Debian 13 (what a project that copies a role runs),
    # the kit's Mitogen on Debian 12 (about half the time; KIT_ROLE_STRATEGY=linear: linear).
    local strategy=linear
    [ "$distro" = 12 ] && strategy=mitogen_linear
    cd "$dir" && KIT_INSTANCE="$instance" MOLECULE_DISTRO="$distro" \
        KIT_ROLE_STRATEGY="${KIT_ROLE_STRATEGY:-$strategy}" molecule test -s "$scenario"
}

# Pending runs, as "name|dir|scenario|distro": the scenarios given on each distro of DISTROS
# that .config/test-matrix.yml does not leave out, then its checks (`make demo`, site.yml over
# SSH: dir @check, the command, DISTRO as ENV=distro).
runs="$(DISTROS="$DISTROS" python3 .config/scripts/test-queue.py "$@")" || exit 2
queue=()
[ -n "$runs" ] && mapfile -t queue <<<"$runs"
# Longest first, so that no long run starts last while the other slots sit idle: by the
# seconds each run took last time on this machine (.cache/test-seconds.tsv, written at the
# end of every run), else as measured for the README (.config/scripts/test-seconds.tsv).
# A run known to neither (a new scenario) goes first.
SECONDS_FILE=.cache/test-seconds.tsv
[ -s "$SECONDS_FILE" ] || SECONDS_FILE=.config/scripts/test-seconds.tsv
if [ "${#queue[@]}" -gt 0 ]; then
    mapfile -t queue < <(
        for entry in "${queue[@]}"; do
            secs="$(awk -F'\t' -v n="${entry%%|*}" '$2 == n { print $1; exit }' "$SECONDS_FILE" 2>/dev/null)"
            printf '%s\t%s\n' "${secs:-999999}" "$entry"
        done | sort -t$'\t' -k1,1nr -s | cut -f2-
    )
fi
declare -A took=() # name -> seconds, for $SECONDS_FILE

step "lint" make --no-print-directory lint
for distro in $DISTROS; do
    step "package cache (Debian ${distro})" .config/scripts/apt-cache-check.sh "$distro"
done
if compgen -G "roles/*/tests/test_*.py" >/dev/null; then
    step "controller tool tests" make --no-print-directory test-tools
fi
if [ -f sample_app/pyproject.toml ]; then
    step "sample_app tests" make --no-print-directory test-app
fi

declare -A running=() # pid -> "name|log|start"
finish_one() {
    local pid name log t0 rc
    wait -n -p pid "${!running[@]}"
    rc=$?
    IFS='|' read -r name log t0 <<<"${running[$pid]}"
    unset "running[$pid]"
    bold "$name"
    if [ "$rc" -eq 0 ]; then
        tail -n 25 "$log"
    else
        cat "$log"
    fi
    record "$name" "$rc" $((SECONDS - t0))
    took[$name]=$((SECONDS - t0))
}

[ "${#queue[@]}" -gt 0 ] && bold "Molecule: ${#queue[@]} scenario runs, ${JOBS} at a time (logs in ${LOGS}/)"
for entry in "${queue[@]}"; do
    IFS='|' read -r name dir scenario distro <<<"$entry"
    while [ "${#running[@]}" -ge "$JOBS" ]; do finish_one; done
    log="$LOGS/$(echo "$name" | tr -c 'A-Za-z0-9.\n' '-').log"
    echo "    started: $name"
    (molecule_test "$dir" "$scenario" "$distro" 2>&1 \
        | awk -v t0="$(date +%s)" '{ printf "%5d  %s\n", systime() - t0, $0; fflush() }' >"$log"
        exit "${PIPESTATUS[0]}") &
    running[$!]="$name|$log|$SECONDS"
done
while [ "${#running[@]}" -gt 0 ]; do finish_one; done

if [ "${#took[@]}" -gt 0 ]; then # this run's seconds, and the older ones of runs it left out
    {
        for name in "${!took[@]}"; do printf '%s\t%s\n' "${took[$name]}" "$name"; done
        [ -f .cache/test-seconds.tsv ] && awk -F'\t' 'NR == FNR { ran[$2] = 1; next } !($2 in ran)' \
            <(for name in "${!took[@]}"; do printf '0\t%s\n' "$name"; done) .cache/test-seconds.tsv
    } | sort -t$'\t' -k1,1nr >.cache/test-seconds.tsv.new
    mv .cache/test-seconds.tsv.new .cache/test-seconds.tsv
fi

echo
echo "Ran for $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s."
for name in "${passed[@]}"; do echo "  passed  $name"; done
for name in "${failed[@]}"; do echo "  FAILED  $name"; done
echo "summary: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
