"""Shared fixtures for the gunicorn role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    MOLECULE_INVENTORY_FILE=<molecule inventory> \
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROLE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def role_vars(host):
    """The role's defaults overlaid with the host's inventory variables.

    The scenario spells out every path the tests use, so none of them is a Jinja template."""
    defaults = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
    return {**defaults, **host.ansible.get_variables()}


@pytest.fixture(scope="module")
def units(role_vars):
    """The unit names and files, as the role derives them from gunicorn_app_name."""
    name = role_vars["gunicorn_app_name"]
    return {
        "service": f"{name}.service",
        "socket": f"{name}.socket",
        "files": [f"/etc/systemd/system/{name}.service", f"/etc/systemd/system/{name}.socket"],
        "runtime_dir": f"/run/{name}-gunicorn",
    }


def journal(host, unit, lines=50):
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


def main_pid(host, service):
    return int(host.check_output(f"systemctl show -p MainPID --value {service}"))


def worker_pids(host, service):
    """The pids of the Gunicorn master's children (its workers)."""
    out = host.run(f"pgrep --parent {main_pid(host, service)}").stdout
    return {int(pid) for pid in out.split()}


class Http:
    """HTTP requests with curl on the host, through the unix socket or to a TCP address."""

    def __init__(self, host, socket):
        self.host = host
        self.socket = socket

    def get(self, path, tcp=None, as_user=None, max_time=10):
        """GET path; returns (status, JSON body or text, command result). Status 0: no answer."""
        cmd = [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            str(max_time),
            "--write-out",
            "\n%{http_code}",
        ]
        if tcp:
            cmd.append(f"http://{tcp}{path}")
        else:
            cmd += ["--unix-socket", self.socket, f"http://localhost{path}"]
        command = shlex.join(cmd)
        if as_user:
            command = f"runuser -u {as_user} -- {command}"
        result = self.host.run(command)
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), (json.loads(body) if body.startswith("{") else body), result


@pytest.fixture(scope="module")
def http(host, role_vars):
    return Http(host, role_vars["gunicorn_socket_path"])


@pytest.fixture(scope="session")
def run_role(tmp_path_factory):
    """Run the role from the controller with extra variables; returns the finished process."""
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory:
        pytest.skip("needs a Molecule inventory (MOLECULE_INVENTORY_FILE)")
    playbook = tmp_path_factory.mktemp("play") / "apply-role.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Apply the role with test inputs",
                    "hosts": "all",
                    "become": True,
                    "roles": [ROLE_DIR.name],
                }
            ]
        )
    )

    def run(host_name, extra_vars, inventory_file=inventory):
        env = {
            **os.environ,
            "ANSIBLE_ROLES_PATH": str(ROLE_DIR.parent),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        return subprocess.run(
            [
                "ansible-playbook",
                "--inventory",
                str(inventory_file),
                "--limit",
                host_name,
                "--extra-vars",
                json.dumps(extra_vars),
                str(playbook),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )

    return run
