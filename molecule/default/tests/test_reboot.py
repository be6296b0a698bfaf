"""Host reboots and power cuts: everything comes back and no data is lost.

A reboot is `docker restart` (systemd shuts down cleanly); a power cut is `docker kill` of every
host at once (SIGKILL to systemd: no service stops, PostgreSQL has to recover from its WAL),
then `docker start`.
"""

import subprocess
import time
from http import HTTPStatus

import pytest
import testinfra
from conftest import make_client, readyz_from_the_web_host, wait_until
from test_host import journal, unit_variables, units_wanted

# Driven from the web server (what users reach); every host of the scenario reboots.
testinfra_hosts = ["ansible://webservers"]


def failed_units(container: str) -> str:
    command = "systemctl list-units --failed --plain --no-legend --no-pager"
    return subprocess.run(
        ["docker", "exec", container, *command.split()],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def wait_for_boot(container: str) -> None:
    state = wait_until(
        lambda: (
            subprocess.run(
                ["docker", "exec", container, "systemctl", "is-system-running"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            in {"running", "degraded"}
        ),
        timeout=90,
    )
    assert state, f"{container} did not finish booting: {failed_units(container)}"


def reboot(containers: list[str]) -> None:
    """A clean reboot of each host, database first, web last."""
    for container in containers:
        subprocess.run(
            ["docker", "restart", container], check=True, capture_output=True, timeout=120
        )
        wait_for_boot(container)


def power_cut(containers: list[str]) -> None:
    """Every host loses power at once, then all come back together."""
    subprocess.run(["docker", "kill", *containers], check=True, capture_output=True, timeout=60)
    subprocess.run(["docker", "start", *containers], check=True, capture_output=True, timeout=120)
    for container in containers:
        wait_for_boot(container)


def all_notes(client, headers) -> dict:
    """Every note the user has, by id, page after page (the API paginates)."""
    notes = {}
    page = 1
    while True:
        response = client.get("/api/notes/", params={"page": page}, headers=headers)
        assert response.status_code == HTTPStatus.OK, response.text
        body = response.json()
        notes |= {note["id"]: note for note in body["results"]}
        if body["next"] is None:
            assert len(notes) == body["count"]
            return notes
        page += 1


def inactive_units(host) -> dict:
    """The host-state units (test_host.py) this host should run but does not: unit -> journal."""
    variables = unit_variables(host)
    names = [unit.format(**variables) for unit in units_wanted(variables)]
    return {name: journal(host, name) for name in names if not host.service(name).is_running}


def postgresql_recovery_lines(db_host, since: float) -> str:
    """What PostgreSQL said about crash recovery since `since` (a Unix time). Containers share
    the kernel's boot id, so `journalctl --boot` would also show earlier outages."""
    return db_host.run(
        f"journalctl --since @{int(since)} --no-pager --output cat --unit 'postgresql*' "
        "| grep -iE 'not properly shut down|automatic recovery|redo done'"
    ).stdout


@pytest.mark.parametrize("outage", [reboot, power_cut], ids=["reboot", "power_cut"])
def test_services_data_and_https_survive_an_outage(
    host, container, ca_file, demo_credentials, unique_title, outage
):
    # A client of its own: each outage may move the published port (the module's client
    # fixture was made before the first one).
    with make_client(container, ca_file) as client:
        token = client.post("/api/token/", json=demo_credentials).json()["access"]
        auth = {"Authorization": f"Bearer {token}"}
        # Notes written up to the moment of the outage, each acknowledged (201) by the API.
        for n in range(5):
            created = client.post(
                "/api/notes/", json={"title": f"{unique_title}-{n}", "body": "kept"}, headers=auth
            )
            assert created.status_code == HTTPStatus.CREATED, created.text
        # Every note of the user, not only these (the API tests made some too).
        before = all_notes(client, auth)
        assert created.json()["id"] in before

    # Database first, web last: each tier comes back after what it depends on. (One host in
    # every group: one host.)
    groups = host.ansible.get_variables()["groups"]
    order = list(
        dict.fromkeys([*groups["dbservers"], *groups["appservers"], *groups["webservers"]])
    )
    started = time.time()
    outage(order)

    # The published port may change with the restart: a new client asks Docker again.
    with make_client(container, ca_file) as after:
        ready = wait_until(lambda: readyz_from_the_web_host(host)[0] == "200", timeout=90)
        assert ready, host.run("journalctl -u nginx.service -n 50 --no-pager").stdout
        token = after.post("/api/token/", json=demo_credentials).json()["access"]
        assert all_notes(after, {"Authorization": f"Bearer {token}"}) == before

    for name in order:
        rebooted = testinfra.get_host(
            f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory
        )
        assert inactive_units(rebooted) == {}, name
        assert failed_units(name) == "", name
    if outage is power_cut:
        db_host = testinfra.get_host(
            f"ansible://{groups['dbservers'][0]}", ansible_inventory=host.backend.ansible_inventory
        )
        # Proof that it was a real crash for PostgreSQL, not a clean shutdown.
        recovery = postgresql_recovery_lines(db_host, started)
        assert recovery, "PostgreSQL did not report a crash recovery"
