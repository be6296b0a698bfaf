"""Host reboots (container restarts): everything comes back and no data is lost."""

import subprocess
from http import HTTPStatus

from conftest import make_client, wait_until

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


def test_services_data_and_https_survive_a_reboot(
    host, client, container, ca_file, auth, demo_credentials, unique_title
):
    created = client.post("/api/notes/", json={"title": unique_title, "body": "kept"}, headers=auth)
    assert created.status_code == HTTPStatus.CREATED

    # Database first, web last: each tier comes back after what it depends on, as after a
    # data-centre power cut. (One host in every group: one reboot.)
    groups = host.ansible.get_variables()["groups"]
    order = [*groups["dbservers"], *groups["appservers"], *groups["webservers"]]
    for name in dict.fromkeys(order):
        reboot(name)

    # The published port may change with the restart: a new client asks Docker again.
    with make_client(container, ca_file) as after:
        ready = wait_until(lambda: after.get("/readyz").status_code == HTTPStatus.OK, timeout=60)
        assert ready, host.run("journalctl -u nginx.service -n 50 --no-pager").stdout
        token = after.post("/api/token/", json=demo_credentials).json()["access"]
        notes = after.get("/api/notes/", headers={"Authorization": f"Bearer {token}"}).json()
    assert unique_title in {note["title"] for note in notes["results"]}
    for name in dict.fromkeys(order):
        assert failed_units(name) == "", name
