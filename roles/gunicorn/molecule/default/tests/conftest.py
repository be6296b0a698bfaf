"""Shared fixtures for the gunicorn role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    MOLECULE_INVENTORY_FILE=<molecule inventory> \
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import json
import shlex
import sys
from pathlib import Path

import pytest

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
from kit_testinfra import journal, recap_changed, role_defaults, run_role_fixture  # noqa: F401

ROLE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def role_vars(host):
    """The role's defaults overlaid with the host's inventory variables.

    The scenario spells out every path the tests use, so none of them is a Jinja template."""
    defaults = role_defaults(ROLE_DIR)
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


run_role = run_role_fixture(ROLE_DIR)
