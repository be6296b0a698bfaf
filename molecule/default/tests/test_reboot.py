"""Host reboots (container restarts): everything comes back and no data is lost."""

import subprocess
from http import HTTPStatus

import testinfra
from conftest import make_client, wait_until
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


def reboot(container: str) -> None:
    subprocess.run(["docker", "restart", container], check=True, capture_output=True, timeout=120)
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


def test_services_data_and_https_survive_a_reboot(
    host, client, container, ca_file, auth, demo_credentials, unique_title
):
    created = client.post("/api/notes/", json={"title": unique_title, "body": "kept"}, headers=auth)
    assert created.status_code == HTTPStatus.CREATED
    # Every note of the user, not only this one (the API tests made some too).
    before = all_notes(client, auth)
    assert created.json()["id"] in before

    # Database first, web last: each tier comes back after what it depends on, as after a
    # data-centre power cut. (One host in every group: one reboot.)
    groups = host.ansible.get_variables()["groups"]
    order = list(
        dict.fromkeys([*groups["dbservers"], *groups["appservers"], *groups["webservers"]])
    )
    for name in order:
        reboot(name)

    # The published port may change with the restart: a new client asks Docker again.
    with make_client(container, ca_file) as after:
        ready = wait_until(lambda: after.get("/readyz").status_code == HTTPStatus.OK, timeout=60)
        assert ready, host.run("journalctl -u nginx.service -n 50 --no-pager").stdout
        token = after.post("/api/token/", json=demo_credentials).json()["access"]
        assert all_notes(after, {"Authorization": f"Bearer {token}"}) == before

    for name in order:
        rebooted = testinfra.get_host(
            f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory
        )
        assert inactive_units(rebooted) == {}, name
        assert failed_units(name) == "", name
