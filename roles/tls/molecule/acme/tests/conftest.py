"""Shared fixtures for the tls role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROLE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def role_vars(host):
    """The role's defaults overlaid with the host's inventory variables."""
    defaults = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
    return {**defaults, **host.ansible.get_variables()}


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

    def run(host_name, extra_vars):
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
                inventory,
                "--limit",
                host_name,
                "--extra-vars",
                extra_vars,
                str(playbook),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )

    return run
