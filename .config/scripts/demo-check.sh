#!/usr/bin/env bash
# `make test`'s check of `make demo`, as a user meets it: a demo of its own beside yours
# (container kit-demo-check, loopback ports 18443/18080, state in .cache/demo-check), then
#   - .demo's credentials.json is mode 0600 with a username and a password;
#   - the commands `make demo` prints, run as printed, get a token and the demo user's profile
#     over HTTPS with the CA pinned; plain HTTP redirects to HTTPS;
#   - `make demo` again converges with changed=0;
#   - `make demo-down PURGE=1` removes the container and the state.
set -euo pipefail
cd "$(dirname "$0")/../.."

export KIT_DEMO_NAME="${KIT_DEMO_CHECK_NAME:-kit-demo-check}"
export KIT_DEMO_HTTPS_PORT="${KIT_DEMO_CHECK_HTTPS_PORT:-18443}"
export KIT_DEMO_HTTP_PORT="${KIT_DEMO_CHECK_HTTP_PORT:-18080}"
export KIT_DEMO_STATE_DIR=.cache/demo-check
STATE="$KIT_DEMO_STATE_DIR"

fail() { echo "FAILED: $*" >&2; exit 1; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
remove_demo() { make --no-print-directory demo-down PURGE=1 >/dev/null 2>&1 || true; }
remove_demo
out="$(mktemp -d)"
trap 'remove_demo; rm -rf "$out"' EXIT

say "make demo (first run)"
make --no-print-directory demo | tee "$out/first.log"

say "credentials.json: mode 0600, username and password"
[ "$(stat -c %a "$STATE/credentials.json")" = 600 ] || fail "$STATE/credentials.json is not mode 0600"
python3 - "$STATE/credentials.json" <<'PY' || fail "credentials.json lacks a username or a password"
import json, sys
creds = json.load(open(sys.argv[1]))
assert set(creds) == {"username", "password"} and all(creds.values()), creds
PY

say "The printed commands, as printed"
# The block between "Try it" and the first blank line after the commands.
sed -n '/^Try it/,/^  Admin:/p' "$out/first.log" | sed '1d;$d' >"$out/try.sh"
cat "$out/try.sh"
bash -euo pipefail "$out/try.sh" >"$out/me.json" || fail "the printed commands failed"
python3 - "$out/me.json" "$STATE/credentials.json" <<'PY' || fail "/api/me/ did not answer with the demo user"
import json, sys
me, creds = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert me["username"] == creds["username"], me
print("api/me:", me)
PY
location="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:${KIT_DEMO_HTTP_PORT}/api/me/")"
[[ "$location" == "301 https://localhost"* ]] || fail "plain HTTP did not redirect to HTTPS: $location"
echo "http -> $location"

say "make demo again: no change"
make --no-print-directory demo | tee "$out/second.log"
recap="$(grep -E '^[^ ]+ +: ok=[0-9]+ +changed=[0-9]+' "$out/second.log")" || fail "no PLAY RECAP"
! grep -Eq 'changed=[1-9]' <<<"$recap" || fail "the second make demo changed something: $recap"

say "make demo-down PURGE=1"
make --no-print-directory demo-down PURGE=1
[ -z "$(docker ps -aq --filter "name=^${KIT_DEMO_NAME}\$")" ] || fail "the container is still there"
[ ! -e "$STATE" ] || fail "$STATE is still there"
echo "demo check passed"
