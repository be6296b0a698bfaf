"""Host state of the full stack on one server."""

import json
import re

import pytest

testinfra_hosts = ["ansible://all"]


@pytest.mark.parametrize(
    "unit",
    [
        "postgresql.service",
        "postgresql-backup.timer",
        "kitapp.socket",
        "kitapp.service",
        "nginx.service",
    ],
)
def test_unit_is_enabled_and_active(host, unit):
    service = host.service(unit)
    journal = host.run(f"journalctl -u {unit} -n 50 --no-pager").stdout
    assert service.is_enabled, journal
    assert service.is_running, journal


def test_no_unit_failed(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []


def test_postgresql_listens_on_loopback_only(host):
    listeners = host.check_output("ss -ltnH 'sport = :5432'").splitlines()
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listeners}
    assert addresses
    assert addresses <= {"127.0.0.1", "[::1]"}


def test_gunicorn_sandbox_exposure_is_at_most_2(host):
    out = host.check_output("systemd-analyze security kitapp.service --no-pager")
    score = float(re.search(r"Overall exposure level for kitapp\.service: ([0-9.]+)", out)[1])
    assert score <= 2.0, out
