"""Host state of the full stack, per host group (one host in every group, or one per group)."""

import json
import re
import shlex
from pathlib import Path

import pytest
import testinfra
import yaml
from kit_testinfra import journal

ROOT = Path(__file__).resolve().parents[3]  # molecule/split/tests links here too

testinfra_hosts = ["ansible://all"]

# The units that must be enabled and active: the common role's on every host (while
# common_unattended_upgrades_enabled, its default), the others on their group's hosts. Names in
# braces are the host's variables (unit_variables). test_reboot.py checks them after a reboot.
COMMON_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "unattended-upgrades.service"]
UNITS = {
    "dbservers": [
        # The cluster itself: postgresql.service only wraps the clusters and stays active
        # when one of them is down.
        "postgresql@{postgresql_version}-{postgresql_cluster_name}.service",
        "postgresql.service",
        "postgresql-backup.timer",
    ],
    "appservers": ["kitapp.socket", "kitapp.service"],
    "webservers": ["nginx.service"],
}
ALL_UNITS = [*COMMON_UNITS, *(unit for units in UNITS.values() for unit in units)]
LOOPBACK = {"127.0.0.1", "[::1]"}


@pytest.fixture(scope="module")
def inventory(host):
    return host.ansible.get_variables()


def unit_variables(host):
    """The host's inventory variables over the defaults of the roles that install the units.

    PostgreSQL's major version, unless the inventory sets one, is the cluster's on the host
    (pg_lsclusters; the postgresql role's own scenario checks it is the distribution's).
    """
    variables = {}
    for role in ("common", "postgresql"):
        variables |= yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    variables |= host.ansible.get_variables()
    if "postgresql_version" not in variables:
        clusters = host.run("pg_lsclusters --no-header")
        versions = {line.split()[0] for line in clusters.stdout.splitlines() if line.strip()}
        variables["postgresql_version"] = versions.pop() if len(versions) == 1 else "none"
    return variables


def units_wanted(variables):
    """The entries of COMMON_UNITS and UNITS (unresolved) that a host with these variables runs."""
    common = COMMON_UNITS if variables["common_unattended_upgrades_enabled"] else []
    groups = variables["group_names"]
    return [*common, *(unit for group in groups for unit in UNITS.get(group, []))]


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


@pytest.fixture(scope="module")
def variables(host):
    return unit_variables(host)


@pytest.mark.parametrize("unit", ALL_UNITS)
def test_unit_is_enabled_and_active_on_its_hosts(host, variables, unit):
    name = unit.format(**variables)
    service = host.service(name)
    if unit not in units_wanted(variables):
        # A tier on hosts of its own: the others do not run it at all.
        assert not service.is_running
        return
    assert service.is_enabled, journal(host, name)
    assert service.is_running, journal(host, name)


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


def connects(peer, address: str, port: int) -> bool:
    """Whether a TCP connection from the host `peer` to address:port is accepted within 3 s."""
    script = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=3).close()\n"
        "except OSError as error:\n"
        "    sys.exit(f'no connection: {error}')\n"
    )
    return peer.run(f"python3 -c {shlex.quote(script)}").rc == 0


def test_gunicorn_tcp_listener_takes_only_the_web_servers(host, inventory):
    """Only the web servers may reach Gunicorn over TCP (gunicorn_tcp_allow, enforced by
    systemd at the socket): any other host could forge X-Forwarded-For and dodge the login
    throttle. The db host is such another host."""
    if not in_group(inventory, "appservers") or in_group(inventory, "webservers"):
        pytest.skip("an app server for web servers on other hosts")
    address = private_address(host)
    groups = inventory["groups"]
    inventory_file = host.backend.ansible_inventory
    peers = {}
    for name in dict.fromkeys([*groups["webservers"], *groups["dbservers"]]):
        peer = testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory_file)
        peers[name] = connects(peer, address, 8000)
    web = set(groups["webservers"])
    assert peers == {name: name in web for name in peers}, peers
    assert set(peers) - web, "the scenario has no host that is not a web server"


# The most systemd-analyze security may score each unit, on its group's hosts: nginx and
# PostgreSQL run as root to start (bind :443, drop to their users), the kit's own units not.
EXPOSURE = {
    "dbservers": {
        "postgresql@{postgresql_version}-{postgresql_cluster_name}.service": 5.0,
        "postgresql-backup.service": 2.0,
    },
    "appservers": {
        "kitapp.service": 2.0,
        "kitapp-job-flush-expired-tokens.service": 2.0,
        "kitapp-job-clear-sessions.service": 2.0,
    },
    "webservers": {"nginx.service": 3.0},
}


@pytest.mark.parametrize(
    ("group", "unit"), [(group, unit) for group, units in EXPOSURE.items() for unit in units]
)
def test_sandboxed_units_expose_little(host, variables, group, unit):
    if group not in variables["group_names"]:
        pytest.skip(f"not in {group}")
    name = unit.format(**variables)
    out = host.check_output(f"systemd-analyze security --no-pager {name}")
    score = float(re.search(rf"Overall exposure level for {re.escape(name)}: ([0-9.]+)", out)[1])
    assert score <= EXPOSURE[group][unit], out


def test_project_level_environment_reaches_the_env_file(host, inventory):
    if not in_group(inventory, "appservers"):
        pytest.skip("not an app server")
    env = host.file("/etc/kitapp/env")
    assert env.mode == 0o640
    lines = env.content_string.splitlines()
    # From the scenario's env-extra.yml.j2, rendered with this host's variables.
    assert f'KIT_ENV_TEMPLATE_CHECK="kitapp@{inventory["inventory_hostname"]}"' in lines
    assert 'DJANGO_LOGIN_THROTTLE_RATE="100/min"' in lines
