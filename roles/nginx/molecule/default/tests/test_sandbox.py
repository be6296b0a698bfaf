"""nginx under its systemd sandbox: a low exposure score, and still every job it has (serve
HTTPS, reload, restart, reopen its logs after a rotation)."""

import re
import time

testinfra_hosts = ["ansible://all"]


def master_pid(host):
    return int(host.check_output("systemctl show -p MainPID --value nginx.service"))


def workers(host):
    return set(host.check_output("pgrep -f '^nginx: worker process' || true").split())


def https_status(curl, server_name):
    result = curl("--output", "/dev/null", "--write-out", "%{http_code}", f"https://{server_name}/")
    return result.stdout


def wait_until(condition, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
    wait_until(lambda: workers(host) and not workers(host) & before, what="new workers")
    assert master_pid(host) == pid
    assert https_status(curl, server_name) != "000"


def test_logs_are_reopened_after_a_rotation(host, curl, server_name):
    # What logrotate's postrotate does: move the file away, then USR1 to the master.
    host.run_test("mv /var/log/nginx/access.log /var/log/nginx/access.log.sandbox-test")
    try:
        host.run_test("systemctl kill -s USR1 --kill-whom=main nginx.service")
        wait_until(lambda: host.file("/var/log/nginx/access.log").exists, what="a new access.log")
        curl("--output", "/dev/null", f"https://{server_name}/sandbox-rotation-probe")
        wait_until(
            lambda: (
                "sandbox-rotation-probe" in host.file("/var/log/nginx/access.log").content_string
            ),
            what="the request in the new access.log",
        )
    finally:
        host.run("cat /var/log/nginx/access.log.sandbox-test >> /var/log/nginx/access.log.1")
        host.run("rm -f /var/log/nginx/access.log.sandbox-test")


def test_restart_under_the_sandbox_serves_again(host, curl, server_name):
    pid = master_pid(host)
    host.run_test("systemctl restart nginx.service")
    assert master_pid(host) != pid
    wait_until(lambda: https_status(curl, server_name) != "000", what="HTTPS after a restart")
