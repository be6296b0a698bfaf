"""Host state of the full stack, per host group (one host in every group, or one per group)."""

import json
import re

import pytest

testinfra_hosts = ["ansible://all"]

UNITS = {
    "dbservers": ["postgresql.service", "postgresql-backup.timer"],
    "appservers": ["kitapp.socket", "kitapp.service"],
    "webservers": ["nginx.service"],
}
LOOPBACK = {"127.0.0.1", "[::1]"}


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


def in_group(inventory, group):
    return group in inventory["group_names"]


def private_address(host):
    """The host's address on the scenario's network (its one global IPv4 address)."""
    # "2: eth0    inet 172.18.0.2/16 brd 172.18.255.255 scope global eth0 ..."
    line = host.check_output("ip -4 -o addr show scope global").splitlines()[0]
    return line.split()[3].split("/")[0]


def listeners(host, port):
    lines = host.check_output(f"ss -ltnH 'sport = :{port}'").splitlines()
    return {line.split()[3].rsplit(":", 1)[0] for line in lines}


@pytest.mark.parametrize("unit", [unit for units in UNITS.values() for unit in units])
def test_unit_is_enabled_and_active_on_its_hosts(host, inventory, unit):
    wanted = any(unit in UNITS[group] for group in inventory["group_names"] if group in UNITS)
    service = host.service(unit)
    if not wanted:
        # A tier on hosts of its own: the others do not run it at all.
        assert not service.is_running
        return
    journal = host.run(f"journalctl -u {unit} -n 50 --no-pager").stdout
    assert service.is_enabled, journal
    assert service.is_running, journal


def test_no_unit_failed(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []


def test_postgresql_listens_where_its_clients_are(host, inventory):
    if not in_group(inventory, "dbservers"):
        pytest.skip("not a database server")
    addresses = listeners(host, 5432)
    if in_group(inventory, "appservers"):
        # The app on the same host: loopback only.
        assert addresses
        assert addresses <= LOOPBACK
    else:
        assert addresses <= LOOPBACK | {private_address(host)}
        assert private_address(host) in addresses


def test_postgresql_rejects_hosts_other_than_the_app_servers(host, inventory):
    if not in_group(inventory, "dbservers") or in_group(inventory, "appservers"):
        pytest.skip("a database server for app servers on other hosts")
    # From the db host's own private address, which is no app server's: pg_hba.conf turns the
    # connection away (its explicit reject line) before any password is asked for.
    result = host.run(
        f"PGCONNECT_TIMEOUT=5 PGPASSWORD=irrelevant psql -h {private_address(host)} "
        "-U kitapp -d kitapp -c 'select 1'"
    )
    assert result.rc != 0
    assert "pg_hba.conf rejects connection for host" in result.stderr, result.stderr


def test_gunicorn_listens_on_the_socket_and_tcp_only_for_remote_web_servers(host, inventory):
    if not in_group(inventory, "appservers"):
        pytest.skip("not an app server")
    assert host.socket("unix:///run/kitapp/gunicorn.sock").is_listening
    addresses = listeners(host, 8000)
    if in_group(inventory, "webservers"):
        assert addresses == set()
    else:
        assert addresses == {private_address(host)}


def test_gunicorn_sandbox_exposure_is_at_most_2(host, inventory):
    if not in_group(inventory, "appservers"):
        pytest.skip("not an app server")
    out = host.check_output("systemd-analyze security kitapp.service --no-pager")
    score = float(re.search(r"Overall exposure level for kitapp\.service: ([0-9.]+)", out)[1])
    assert score <= 2.0, out


def test_project_level_environment_reaches_the_env_file(host, inventory):
    if not in_group(inventory, "appservers"):
        pytest.skip("not an app server")
    env = host.file("/etc/kitapp/env")
    assert env.mode == 0o640
    lines = env.content_string.splitlines()
    # From the scenario's env-extra.yml.j2, rendered with this host's variables.
    assert f'KIT_ENV_TEMPLATE_CHECK="kitapp@{inventory["inventory_hostname"]}"' in lines
    assert 'DJANGO_LOGIN_THROTTLE_RATE="100/min"' in lines
