"""Re-running the nginx role with other inputs: a broken snippet is rolled back while the
old configuration keeps serving, and app servers given as host:port are proxied to (static
files too, when there are none on this host).
Every run here puts the scenario's configuration back before the next test."""

import json

import pytest

testinfra_hosts = ["ansible://all"]

# A hashed static file that prepare.yml puts under nginx_static_root.
HASHED = "app.0123456789ab.css"

SITE_FILES = [
    "/etc/nginx/conf.d/kit-tls.conf",
    "/etc/nginx/snippets/kitapp-headers.conf",
    "/etc/nginx/snippets/kitapp-extra.conf",
    "/etc/nginx/sites-available/kitapp.conf",
]
BROKEN = "this_is_not_a_directive on;"


def checksums(host):
    return {path: host.file(path).sha256sum for path in SITE_FILES}


def nginx_pid(host):
    return host.check_output("systemctl show --property=MainPID --value nginx.service")


@pytest.fixture
def restore_scenario(host, run_role):
    """After the test, converge the role again with the scenario's own inputs."""
    yield
    result = run_role(host.backend.host)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.usefixtures("restore_scenario")
def test_broken_snippet_fails_the_play_and_the_old_config_keeps_serving(
    host, run_role, curl, server_name
):
    before = checksums(host)
    pid = nginx_pid(host)

    result = run_role(host.backend.host, {"nginx_extra_directives": [BROKEN]})

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nginx rejected the new site configuration" in output
    assert 'unknown directive "this_is_not_a_directive"' in output
    # The previous files are back, nothing of the broken run is left behind.
    assert checksums(host) == before
    assert BROKEN not in host.file("/etc/nginx/snippets/kitapp-extra.conf").content_string
    assert host.run("ls /etc/nginx/snippets /etc/nginx/conf.d | grep -c '~$'").stdout.strip() == "0"
    # nginx was neither stopped nor restarted, and still answers over HTTPS.
    assert host.run("nginx -t").rc == 0
    assert nginx_pid(host) == pid
    answer = curl("--output", "/dev/null", "--write-out", "%{http_code}", f"https://{server_name}/")
    assert answer.rc == 0, answer.stderr
    assert answer.stdout == "200"


@pytest.mark.usefixtures("restore_scenario")
def test_app_servers_as_host_port_are_proxied_to(host, run_role, role_vars, curl, server_name):
    # The app on another host: TCP upstream, and no local static files (the app serves them).
    tcp = role_vars["kit_stub_tcp"]
    pid = nginx_pid(host)

    result = run_role(
        host.backend.host,
        {"nginx_upstream_servers": [tcp], "nginx_static_root": ""},
    )

    assert result.returncode == 0, result.stdout[-3000:]
    echoed = json.loads(curl(f"https://{server_name}/via-tcp").stdout)
    assert echoed["listen"] == tcp
    assert echoed["headers"]["X-Forwarded-Proto"] == "https"
    static = json.loads(curl(f"https://{server_name}/static/css/{HASHED}").stdout)
    assert static["listen"] == tcp
    assert static["path"] == f"/static/css/{HASHED}"
    # Applied by a reload: the master process is the same.
    assert nginx_pid(host) == pid


@pytest.mark.usefixtures("restore_scenario")
def test_an_app_server_that_does_not_answer_costs_a_request_no_more_than_the_connect_timeout(
    host, run_role, role_vars, curl, server_name
):
    # Two app servers, one of them gone silent (its SYNs dropped, as when a host is off):
    # nginx gives up on it after proxy_connect_timeout and sends the request to the other one,
    # a POST too (it never reached the silent one). nginx's own default would wait 60 s.
    tcp = role_vars["kit_stub_tcp"]
    silent = role_vars["kit_stub_unresponsive"]
    result = run_role(
        host.backend.host,
        {"nginx_upstream_servers": [silent, tcp], "nginx_static_root": ""},
    )
    assert result.returncode == 0, result.stdout[-3000:]

    # A few times the kit's connect timeout (2 s), well under nginx's default (60 s).
    limit = 10
    for method in ("GET", "POST", "GET", "POST"):
        body = ["--data-binary", "note"] if method == "POST" else []
        answer = curl(
            "--max-time", str(limit), "--request", method, *body, f"https://{server_name}/failover"
        )
        assert answer.rc == 0, f"{method} waited more than {limit} s: {answer.stderr}"
        echoed = json.loads(answer.stdout)
        assert (echoed["method"], echoed["listen"]) == (method, tcp)
