"""What nginx lets through to the app: password guesses at Django's admin login are
rate-limited, the admin answers only nginx_admin_allow, and the readiness probe only
nginx_probe_allow (the scenario's stub app answers everything nginx lets through with 200).
The host's loopback address is allowed; its own network address is not."""

import json

import pytest
from kit_testinfra import assert_refused, run_refused

testinfra_hosts = ["ansible://all"]


def codes(curl, url, *args, repeat=1, address="127.0.0.1"):
    result = curl(
        *args, "--output", "/dev/null", "--write-out", "%{http_code}\n", url,
        repeat=repeat, address=address,
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    return result.stdout.split()


def test_admin_login_guesses_over_the_burst_get_429(curl, role_vars, server_name):
    url = f"https://{server_name}{role_vars['nginx_admin_location']}login/"
    attempts = role_vars["nginx_admin_login_burst"] + 4
    guess = ["--request", "POST", "--data", "username=admin&password=wrong"]
    answers = codes(curl, url, *guess, repeat=attempts)
    assert len(answers) == attempts
    assert answers[0] == "200"
    assert answers[-1] == "429"
    # Showing the login page is not a guess: GETs are not counted.
    assert codes(curl, url, repeat=3) == ["200"] * 3
    # A zone of its own: the token endpoint still answers that address.
    token = f"https://{server_name}{role_vars['nginx_token_location']}"
    assert codes(curl, token, "--request", "POST") == ["200"]


def test_admin_answers_403_to_an_address_not_allowed(curl, role_vars, server_name, network_address):
    location = role_vars["nginx_admin_location"]
    for path in (location, f"{location}login/", f"{location}auth/user/"):
        assert codes(curl, f"https://{server_name}{path}", address=network_address) == ["403"], path
    # Only the admin: the rest of the site answers that address.
    assert codes(curl, f"https://{server_name}/api/me/", address=network_address) == ["200"]


def test_admin_answers_an_allowed_address(curl, role_vars, server_name):
    echoed = json.loads(curl(f"https://{server_name}{role_vars['nginx_admin_location']}").stdout)
    assert echoed["path"] == role_vars["nginx_admin_location"]


@pytest.mark.parametrize("location", ["/readyz"])
def test_readiness_probe_answers_only_the_allowed_addresses(
    curl, role_vars, server_name, network_address, location
):
    assert location in role_vars["nginx_probe_locations"]
    assert codes(curl, f"https://{server_name}{location}", address=network_address) == ["403"]
    echoed = json.loads(curl(f"https://{server_name}{location}").stdout)
    assert echoed["path"] == location


def test_liveness_probe_stays_public(curl, server_name, network_address):
    assert codes(curl, f"https://{server_name}/healthz", address=network_address) == ["200"]


# Bad inputs of the role (these and test_nginx.py's): each fails before any change, with the
# variable named; all in one run of Ansible (kit_testinfra.run_refused), a play each.
BAD_INPUTS = {
    "admin-allow": ({"nginx_admin_allow": ["everyone"]}, "Invalid input: nginx_admin_allow must"),
    "probe-allow": (
        {"nginx_probe_allow": ["127.0.0.1; allow all"]},
        "Invalid input: nginx_probe_allow must",
    ),
    "admin-location": (
        {"nginx_admin_location": "/admin/ { return 200; } location /x/"},
        "Invalid input: nginx_admin_location must",
    ),
    "admin-login-rate": (
        {"nginx_admin_login_rate": "fast"},
        "Invalid input: nginx_admin_login_rate must",
    ),
    "probe-locations": (
        {"nginx_probe_locations": ["/readyz\nallow all;"]},
        "Invalid input: nginx_probe_locations must",
    ),
    "extra-directives": (
        {"nginx_extra_directives": ["add_header X-A 1;\nlocation /x { return 200; }"]},
        "Invalid input: nginx_extra_directives must",
    ),
    "token-rate": ({"nginx_token_rate": "fast"}, "nginx_token_rate"),
    "connect-timeout": (
        {"nginx_proxy_connect_timeout": "2 seconds"},
        "nginx_proxy_connect_timeout and nginx_upstream_fail_timeout times such as 2s",
    ),
    "token-burst-type": ({"nginx_token_burst": "many"}, "Validation of arguments failed"),
}


@pytest.fixture(scope="module")
def bad_inputs(host, run_role, role_vars):
    site = f"/etc/nginx/sites-available/{role_vars['nginx_site_name']}.conf"
    before = host.file(site).sha256sum
    cases = {case: extra_vars for case, (extra_vars, _) in BAD_INPUTS.items()}
    return run_refused(run_role, host.backend.host, cases), site, before


def test_bad_inputs_leave_the_site_alone(host, bad_inputs):
    _, site, before = bad_inputs
    assert host.file(site).sha256sum == before


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_with_the_variable_named(bad_inputs, case):
    extra_vars, message = BAD_INPUTS[case]
    assert_refused(bad_inputs[0], case, message, next(iter(extra_vars)))
