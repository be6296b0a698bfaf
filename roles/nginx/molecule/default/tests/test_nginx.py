"""Real behaviour of nginx converged with the nginx role, in front of a stub app on the
Gunicorn socket path, with a certificate prepare.yml signed. Every HTTPS request pins its CA.
(The tls role's selfsigned files are tested where it runs with nginx: molecule/collection.)"""

import hashlib
import json

import pytest
from kit_testinfra import journal

testinfra_hosts = ["ansible://all"]

STATIC = "/static/css/"
HASHED = "app.0123456789ab.css"
UNHASHED = "app.css"
# curl: the server closed (52) or reset (56) the connection without answering
NO_ANSWER = (52, 56)
TLS_FAILURE = 35  # curl: the TLS handshake failed


def headers_of(output):
    """Lower-cased header names -> list of values, from curl --dump-header output."""
    found = {}
    for line in output.splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            found.setdefault(name.strip().lower(), []).append(value.strip())
    return found


def test_nginx_is_enabled_and_running(host):
    nginx = host.service("nginx.service")
    assert nginx.is_enabled
    assert nginx.is_running, journal(host, "nginx.service")


def test_whole_configuration_passes_nginx_check(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "[warn]" not in result.stderr


def test_one_worker_per_cpu(host):
    cpus = host.ansible("setup", "filter=ansible_processor_vcpus")["ansible_facts"][
        "ansible_processor_vcpus"
    ]
    workers = host.check_output("pgrep -c -f '^nginx: worker process'")
    assert int(workers) == int(cpus)


def test_http_redirects_to_https_keeping_path_and_query(curl, server_name):
    result = curl(
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{redirect_url}",
        f"http://{server_name}/notes/?page=2",
    )
    assert result.stdout == f"301 https://{server_name}/notes/?page=2"


def test_acme_challenge_is_served_over_http_from_the_webroot(host, curl, role_vars, server_name):
    challenge_dir = f"{role_vars['nginx_acme_webroot']}/.well-known/acme-challenge"
    host.run(f"mkdir -p {challenge_dir} && echo token-content > {challenge_dir}/test-token")
    try:
        result = curl(
            "--write-out",
            " %{http_code}",
            f"http://{server_name}/.well-known/acme-challenge/test-token",
        )
    finally:
        host.run(f"rm -f {challenge_dir}/test-token")
    assert result.stdout == "token-content\n 200"


def test_https_answers_over_http2_with_the_pinned_ca(curl, server_name):
    result = curl(
        "--http2",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_version}",
        f"https://{server_name}/",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout == "2"


@pytest.mark.parametrize("name", ["kit.test", "www.kit.test"])
def test_every_server_name_is_served_with_a_valid_certificate(curl, role_vars, name):
    assert name in role_vars["nginx_server_names"]
    result = curl(
        "--output", "/dev/null", "--write-out", "%{http_code}", f"https://{name}/", name=name
    )
    assert result.rc == 0, result.stderr
    assert result.stdout == "200"


@pytest.mark.parametrize(
    ("protocol", "accepted"),
    [("tls1", False), ("tls1_1", False), ("tls1_2", True), ("tls1_3", True)],
)
def test_only_tls12_and_tls13_are_accepted(tls_handshake, protocol, accepted):
    # SECLEVEL=0 lets the client offer old protocols, so a refusal is the server's.
    result = tls_handshake(f"-{protocol}", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert (result.rc == 0) is accepted, result.stdout + result.stderr
    if accepted:
        assert "Verify return code: 0 (ok)" in result.stdout


@pytest.mark.parametrize(
    ("cipher", "accepted"),
    [
        ("ECDHE-ECDSA-AES128-GCM-SHA256", True),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", True),
        ("ECDHE-ECDSA-AES128-SHA", False),  # CBC: not in Mozilla's intermediate list
        ("ECDHE-ECDSA-AES256-SHA384", False),
    ],
)
def test_tls12_ciphers_follow_the_mozilla_intermediate_list(tls_handshake, cipher, accepted):
    result = tls_handshake("-tls1_2", "-cipher", f"{cipher}:@SECLEVEL=0")
    assert (result.rc == 0) is accepted, result.stdout + result.stderr


def test_tls_session_tickets_are_off(tls_handshake):
    result = tls_handshake("-tls1_2")
    assert result.rc == 0, result.stderr
    assert "TLS session ticket lifetime hint" not in result.stdout


def test_no_ocsp_stapling_for_a_certificate_without_responder(host):
    # The local CA's certificate names no OCSP responder, so nginx must not staple
    # (it would warn "no OCSP responder URL in the certificate").
    assert "ssl_stapling on" not in host.check_output("nginx -T 2>/dev/null")


def security_headers(role_vars):
    return {
        "strict-transport-security": f"max-age={role_vars['nginx_hsts_max_age']}",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": role_vars["nginx_referrer_policy"],
        "content-security-policy": "frame-ancestors 'none'",
    }


@pytest.mark.parametrize("path", ["/", f"{STATIC}{HASHED}"])
@pytest.mark.parametrize(
    "header",
    [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ],
)
def test_security_header_is_sent_exactly_once(curl, role_vars, server_name, path, header):
    # The stub app sends its own X-Frame-Options: nginx's must be the only one.
    result = curl("--dump-header", "-", "--output", "/dev/null", f"https://{server_name}{path}")
    assert headers_of(result.stdout).get(header) == [security_headers(role_vars)[header]]


def test_server_does_not_reveal_its_version(curl, server_name):
    result = curl("--dump-header", "-", "--output", "/dev/null", f"https://{server_name}/")
    assert headers_of(result.stdout)["server"] == ["nginx"]


def test_extra_directives_reach_the_https_server(curl, role_vars, server_name):
    assert role_vars["nginx_extra_directives"]
    result = curl("--dump-header", "-", "--output", "/dev/null", f"https://{server_name}/")
    assert headers_of(result.stdout)["x-kit-extra"] == ["from-nginx_extra_directives"]


def test_extra_template_is_rendered_into_the_https_server(curl, role_vars, server_name):
    assert role_vars["nginx_extra_template"]
    result = curl("--dump-header", "-", "--output", "/dev/null", f"https://{server_name}/")
    assert headers_of(result.stdout)["x-kit-template"] == [role_vars["nginx_site_name"]]


def test_app_gets_host_scheme_and_client_address(curl, server_name):
    result = curl("--header", "X-Forwarded-For: 203.0.113.9", f"https://{server_name}/notes/")
    echoed = json.loads(result.stdout)
    assert echoed["listen"] == "/run/kitapp/gunicorn.sock"
    assert echoed["path"] == "/notes/"
    assert echoed["headers"]["Host"] == server_name
    assert echoed["headers"]["X-Forwarded-Proto"] == "https"
    # nginx appends the address it saw: Django (NUM_PROXIES=1) reads the last entry.
    assert echoed["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"


def test_upstream_connections_are_kept_alive(curl, server_name):
    # Requests on one client connection reach the same worker, which reuses its idle
    # upstream connection: the app counts more than one request on it.
    result = curl("--http1.1", f"https://{server_name}/ping", repeat=3)
    answers = [json.loads(part) for part in result.stdout.replace("}{", "}\n{").splitlines()]
    assert len(answers) == 3, result.stderr
    assert max(a["requests_on_connection"] for a in answers) >= 2


def test_hashed_static_file_is_cached_as_immutable(curl, server_name):
    result = curl(
        "--dump-header", "-", "--output", "/dev/null", f"https://{server_name}{STATIC}{HASHED}"
    )
    assert result.stdout.startswith("HTTP/2 200")
    assert headers_of(result.stdout)["cache-control"] == ["public, max-age=31536000, immutable"]


def test_unhashed_static_file_is_not_cached_as_immutable(curl, server_name):
    result = curl(
        "--dump-header", "-", "--output", "/dev/null", f"https://{server_name}{STATIC}{UNHASHED}"
    )
    assert result.stdout.startswith("HTTP/2 200")
    assert "immutable" not in headers_of(result.stdout)["cache-control"][0]


def test_precompressed_static_file_is_served_as_is(host, curl, role_vars, server_name):
    gz = f"{role_vars['nginx_static_root']}/css/{HASHED}.gz"
    out = host.check_output("mktemp")
    result = curl(
        "--header",
        "Accept-Encoding: gzip",
        "--dump-header",
        "-",
        "--output",
        out,
        f"https://{server_name}{STATIC}{HASHED}",
    )
    assert headers_of(result.stdout)["content-encoding"] == ["gzip"]
    # Byte for byte the .gz file on disk, not a compression made on the fly.
    served = host.check_output(f"sha256sum < {out}").split()[0]
    assert served == hashlib.sha256(host.file(gz).content).hexdigest()


def test_token_endpoint_burst_gets_429(curl, role_vars, server_name):
    url = f"https://{server_name}{role_vars['nginx_token_location']}"
    attempts = role_vars["nginx_token_burst"] + 4
    result = curl(
        "--request",
        "POST",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}\n",
        url,
        repeat=attempts,
    )
    codes = result.stdout.split()
    assert len(codes) == attempts, result.stderr
    assert codes[0] == "200"
    assert codes[-1] == "429"


def test_body_over_the_limit_gets_413(host, curl, role_vars, server_name):
    limit_mb = int(role_vars["nginx_client_max_body_size"].rstrip("m"))
    host.run(f"head -c {(limit_mb + 1) * 1024 * 1024} /dev/zero > /tmp/kit-big-body")
    result = curl(
        "--request",
        "POST",
        "--data-binary",
        "@/tmp/kit-big-body",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        f"https://{server_name}/upload/",
    )
    assert result.stdout == "413"


def test_unknown_host_over_http_gets_no_answer(curl):
    result = curl("--header", "Host: unknown.example", "http://kit.test/")
    assert result.rc in NO_ANSWER, result.stdout + result.stderr


def test_unknown_name_over_https_is_refused_in_the_handshake(curl):
    result = curl("https://unknown.example/", name="unknown.example")
    assert result.rc == TLS_FAILURE, result.stdout + result.stderr
    assert "unrecognized name" in result.stderr


def test_unknown_host_header_over_https_never_reaches_the_app(curl, server_name):
    result = curl(
        "--http1.1",
        "--header",
        "Host: unknown.example",
        "--write-out",
        "\n%{http_code}",
        f"https://{server_name}/",
    )
    # Closed without an answer (444), or 421 Misdirected Request (Host and SNI differ).
    assert result.rc in NO_ANSWER or result.stdout.endswith("\n421"), result.stderr
    assert '"listen"' not in result.stdout


def test_access_log_records_request_and_upstream_times(host, curl, server_name):
    curl("--output", "/dev/null", f"https://{server_name}/logged")
    line = host.check_output("grep 'GET /logged ' /var/log/nginx/access.log | tail -n 1")
    assert " rt=" in line
    assert " urt=" in line
    assert " urt=-" not in line


def test_debian_default_site_is_disabled(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_host_has_no_failed_units(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []
