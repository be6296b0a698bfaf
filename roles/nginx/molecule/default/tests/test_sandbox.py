"""nginx under its systemd sandbox: a low exposure score, and still every job it has (serve
HTTPS, reload, restart, reopen its logs after a rotation)."""

import re

from kit_testinfra import wait_until

testinfra_hosts = ["ansible://all"]


def master_pid(host):
    return int(host.check_output("systemctl show -p MainPID --value nginx.service"))


def workers(host):
    return set(host.check_output("pgrep -f '^nginx: worker process' || true").split())


def https_status(curl, server_name):
    result = curl("--output", "/dev/null", "--write-out", "%{http_code}", f"https://{server_name}/")
    return result.stdout


def test_nginx_exposure_is_at_most_3(host):
    out = host.check_output("systemd-analyze security --no-pager nginx.service")
    match = re.search(r"Overall exposure level for nginx\.service: (\d+\.\d+)", out)
    assert match, out
    assert float(match.group(1)) <= 3.0, out


def test_sandbox_is_in_force(host):
    assert host.file("/etc/systemd/system/nginx.service.d/nginx-sandbox.conf").exists
    show = host.check_output("systemctl show -p ProtectSystem -p NoNewPrivileges nginx.service")
    assert "ProtectSystem=strict" in show
    assert "NoNewPrivileges=yes" in show


def test_reload_under_the_sandbox_keeps_the_master_and_renews_the_workers(host, curl, server_name):
    pid, before = master_pid(host), workers(host)
    host.run_test("systemctl reload nginx.service")
    assert wait_until(lambda: workers(host) and not workers(host) & before, 20), (
        "no new workers within 20 s"
    )
    assert master_pid(host) == pid
    assert https_status(curl, server_name) != "000"


def test_logs_are_reopened_after_a_rotation(host, curl, server_name):
    # What logrotate's postrotate does: move the file away, then USR1 to the master.
    host.run_test("mv /var/log/nginx/access.log /var/log/nginx/access.log.sandbox-test")
    try:
        host.run_test("systemctl kill -s USR1 --kill-whom=main nginx.service")
        assert wait_until(lambda: host.file("/var/log/nginx/access.log").exists, 20), (
            "no new access.log within 20 s"
        )
        curl("--output", "/dev/null", f"https://{server_name}/sandbox-rotation-probe")
        assert wait_until(
            lambda: (
                "sandbox-rotation-probe" in host.file("/var/log/nginx/access.log").content_string
            ),
            20,
        ), "the request did not reach the new access.log within 20 s"
    finally:
        host.run("cat /var/log/nginx/access.log.sandbox-test >> /var/log/nginx/access.log.1")
        host.run("rm -f /var/log/nginx/access.log.sandbox-test")


def test_restart_under_the_sandbox_serves_again(host, curl, server_name):
    pid = master_pid(host)
    host.run_test("systemctl restart nginx.service")
    assert master_pid(host) != pid
    assert wait_until(lambda: https_status(curl, server_name) != "000", 20), (
        "no HTTPS answer within 20 s of the restart"
    )
