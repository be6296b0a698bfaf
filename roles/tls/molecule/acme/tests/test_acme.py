"""ACME issuance and renewal against Pebble on the test host: the tls role issued the
certificate through nginx's webroot (Debian's nginx with this scenario's site, not the kit's
nginx role), nginx serves it, and a renewal run by certbot's own timer service is served
without anyone reloading nginx by hand."""

import json
import re
import time

import pytest
from kit_testinfra import assert_refused, journal, run_refused

HOOK = "/etc/letsencrypt/renewal-hooks/deploy/50-kit-reload"

testinfra_hosts = ["ansible://all"]

LISTENER_CA = "/etc/pebble/tls/ca.pem"
FORCE_DROPIN_DIR = "/run/systemd/system/certbot.service.d"
FORCE_DROPIN = f"{FORCE_DROPIN_DIR}/zz-test-force-renewal.conf"


@pytest.fixture(scope="module")
def name(role_vars):
    return role_vars["tls_domains"][0]


@pytest.fixture(scope="module")
def pebble_root(host, role_vars):
    """Pebble's issuing root of this run, fetched from its management endpoint."""
    path = host.check_output("mktemp --suffix=.pem")
    url = f"{role_vars['pebble_management_url']}/roots/0"
    host.check_output(f"curl --silent --fail --cacert {LISTENER_CA} --output {path} {url}")
    return path


def served_certificate(host, server_name, ca_file):
    """The verification result and serial of the certificate nginx serves for server_name."""
    result = host.run(
        f"openssl s_client -connect 127.0.0.1:443 -servername {server_name} -CAfile {ca_file}"
        " -verify_return_error </dev/null 2>/dev/null"
    )
    serial = host.run(
        f"openssl s_client -connect 127.0.0.1:443 -servername {server_name} </dev/null"
        " 2>/dev/null | openssl x509 -noout -serial"
    ).stdout.strip()
    return result, serial


def test_certbot_timer_is_enabled_and_waiting(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled
    assert timer.is_running, journal(host, "certbot.timer")
    assert host.check_output("systemctl show --property=Unit --value certbot.timer") == (
        "certbot.service"
    )


def test_certbot_service_trusts_the_acme_ca_bundle(host, role_vars):
    environment = host.check_output("systemctl show --property=Environment certbot.service")
    assert f"REQUESTS_CA_BUNDLE={role_vars['tls_acme_ca_bundle']}" in environment


# The renewal (and its deploy hook) runs under the role's sandbox; the forced renewal below
# proves it still does its whole job there. (nginx's own sandbox is the nginx role's, tested
# in its scenario and in the full stack.)
@pytest.mark.parametrize("unit", ["certbot.service"])
def test_renewal_units_are_sandboxed(host, unit):
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", out)
    assert match, out
    assert float(match.group(1)) <= 3.0, out


@pytest.mark.parametrize("pem", ["fullchain.pem", "privkey.pem"])
def test_certificate_files_point_at_certbots_live_lineage(host, role_vars, name, pem):
    link = f"{role_vars['tls_base_dir']}/{name}/{pem}"
    assert host.file(link).is_symlink
    assert host.check_output(f"readlink {link}") == f"/etc/letsencrypt/live/{name}/{pem}"


def test_renewal_uses_the_webroot_and_the_configured_server(host, role_vars, name):
    conf = host.file(f"/etc/letsencrypt/renewal/{name}.conf").content_string.splitlines()
    assert f"server = {role_vars['tls_acme_directory_url']}" in conf
    assert "authenticator = webroot" in conf
    for domain in role_vars["tls_domains"]:
        assert f"{domain} = {role_vars['tls_acme_webroot']}" in conf


def test_deploy_hook_checks_and_reloads_nginx(host):
    hook = host.file(HOOK)
    assert hook.mode == 0o755
    assert "nginx -t -q" in hook.content_string
    assert "systemctl reload nginx.service" in hook.content_string


def test_served_chain_verifies_against_pebbles_issuing_root(host, pebble_root, name):
    result, _ = served_certificate(host, name, pebble_root)
    assert result.rc == 0, result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout
    assert "Pebble Intermediate CA" in result.stdout


def test_served_certificate_names_every_domain(host, role_vars, name):
    sans = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} </dev/null 2>/dev/null"
        " | openssl x509 -noout -ext subjectAltName"
    )
    for domain in role_vars["tls_domains"]:
        assert f"DNS:{domain}" in sans


@pytest.mark.parametrize("index", [0, 1])
def test_https_client_pinning_pebbles_root_connects(host, role_vars, pebble_root, index):
    # /etc/hosts resolves the test names to 127.0.0.1; no app runs, so nginx answers 502.
    domain = role_vars["tls_domains"][index]
    result = host.run(
        f"curl --silent --show-error --cacert {pebble_root} --output /dev/null"
        f" --write-out '%{{http_code}}' https://{domain}/"
    )
    assert result.rc == 0, result.stderr
    assert result.stdout == "502"


def test_forced_renewal_through_the_timers_service_is_served_without_manual_reload(
    host, pebble_root, name
):
    _, serial_before = served_certificate(host, name, pebble_root)
    nginx_pid = host.check_output("systemctl show --property=MainPID --value nginx.service")
    archived_before = host.check_output(f"ls /etc/letsencrypt/archive/{name}/ | wc -l")
    # The unit the timer starts, with its own ExecStart plus --force-renewal (a runtime
    # drop-in, gone at the next boot): the same certbot, hooks and environment.
    exec_start = host.check_output("systemctl show --property=ExecStart certbot.service")
    assert "certbot -q renew --no-random-sleep-on-renew" in exec_start
    host.check_output(
        f"mkdir -p {FORCE_DROPIN_DIR} && printf '%s\\n' '[Service]' 'ExecStart='"
        " 'ExecStart=/usr/bin/certbot -q renew --no-random-sleep-on-renew --force-renewal'"
        f" > {FORCE_DROPIN} && systemctl daemon-reload"
    )
    try:
        run = host.run("systemctl start certbot.service")
    finally:
        host.run(f"rm -f {FORCE_DROPIN} && systemctl daemon-reload")
    assert run.rc == 0, journal(host, "certbot.service")
    assert host.check_output(f"ls /etc/letsencrypt/archive/{name}/ | wc -l") != archived_before

    live_serial = host.check_output(
        f"openssl x509 -noout -serial -in /etc/letsencrypt/live/{name}/cert.pem"
    )
    served_serial = serial_before
    for _ in range(20):  # the reload signal is asynchronous: new workers take a moment
        result, served_serial = served_certificate(host, name, pebble_root)
        if served_serial == live_serial:
            break
        time.sleep(0.5)
    assert served_serial != serial_before, journal(host, "certbot.service")
    assert served_serial == live_serial
    assert result.rc == 0, result.stdout
    # Reloaded by the deploy hook, not restarted.
    assert host.check_output("systemctl show --property=MainPID --value nginx.service") == (
        nginx_pid
    )


MAKE_PEMS = r"""
import datetime, json
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

def key():
    return ec.generate_private_key(ec.SECP256R1())

def pem_key(k):
    return k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()

def cert(k, start_days, end_days):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kit.test")])
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=start_days))
         .not_valid_after(now + datetime.timedelta(days=end_days))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName("kit.test")]), False)
         .sign(k, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.PEM).decode()

good, other = key(), key()
print(json.dumps({
    "cert": cert(good, -1, 90), "key": pem_key(good), "other_key": pem_key(other),
    "expired_cert": cert(good, -30, -1),
}))
"""


@pytest.fixture(scope="module")
def pems(host):
    """A certificate, its key, another key and an expired certificate, made on the host."""
    return json.loads(host.check_output(f"python3 - <<'EOF'\n{MAKE_PEMS}\nEOF"))


def tls_files(host, role_vars, name):
    base = f"{role_vars['tls_base_dir']}/{name}"
    return {
        pem: host.check_output(f"readlink {base}/{pem}") for pem in ("fullchain.pem", "privkey.pem")
    }


# Bad inputs: each fails before any change, with the variable named; all in one run of
# Ansible (kit_testinfra.run_refused), a play each. The provided certificates are made on
# the host (pems).
BAD_INPUTS = {
    "unknown-provider": ({"tls_provider": "letsencrypt"}, "Validation of arguments failed"),
    "command-chained": (
        {"tls_acme_reload_check_command": "nginx -t -q; touch /root/owned"},
        "tls_acme_reload_check_command must be one plain command",
    ),
    "command-line-break": (
        {"tls_acme_reload_check_command": "nginx -t -q\ntouch /root/owned"},
        "tls_acme_reload_check_command must not contain a line break",
    ),
    "service-chained": (
        {"tls_acme_reload_service": "nginx.service && touch /root/owned"},
        "tls_acme_reload_service must be a systemd unit name",
    ),
    "key-of-another-certificate": (
        {"cert": "cert", "key": "other_key"},
        "tls_provided_key does not match the certificate",
    ),
    "expired-certificate": ({"cert": "expired_cert", "key": "key"}, "is not valid now"),
}


def case_vars(extra_vars, pems):
    if "cert" not in extra_vars:
        return extra_vars
    return {
        "tls_provider": "provided",
        "tls_provided_certificate": pems[extra_vars["cert"]],
        "tls_provided_key": pems[extra_vars["key"]],
    }


@pytest.fixture(scope="module")
def bad_inputs(host, run_role, role_vars, name, pems):
    before = tls_files(host, role_vars, name), host.file(HOOK).sha256sum
    cases = {case: case_vars(extra_vars, pems) for case, (extra_vars, _) in BAD_INPUTS.items()}
    return run_refused(run_role, host.backend.host, cases), before


def test_bad_inputs_change_no_certificate_and_no_hook(host, role_vars, name, bad_inputs):
    assert (tls_files(host, role_vars, name), host.file(HOOK).sha256sum) == bad_inputs[1]
    assert not host.file("/root/owned").exists


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_with_a_clear_message(bad_inputs, case):
    extra_vars, message = BAD_INPUTS[case]
    named = "" if "cert" in extra_vars else next(iter(extra_vars))
    assert_refused(bad_inputs[0], case, message, named)
