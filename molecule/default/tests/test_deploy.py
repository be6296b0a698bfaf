"""deploy.yml on the converged stack, limited to the app servers (as an operator runs it)."""

import os
import re
from pathlib import Path

import pytest
from kit_testinfra import run_playbook

ROOT = Path(__file__).resolve().parents[3]  # molecule/split/tests links here too

# Run once, from the web server's test module (what users reach).
testinfra_hosts = ["ansible://webservers"]


def test_deploy_limited_to_the_app_servers_changes_nothing(host):
    # The inventory these tests' hosts come from (pytest --ansible-inventory, which Molecule's
    # verifier passes), else Molecule's own; without one the test fails, it never skips.
    inventory = host.backend.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory:
        pytest.fail(
            "no inventory to run deploy.yml with: run pytest with --ansible-inventory=<the "
            "scenario's inventory> (Molecule's verify does), or set MOLECULE_INVENTORY_FILE"
        )
    app_servers = host.ansible.get_variables()["groups"]["appservers"]
    # --limit: the database's facts (where the app finds it) come from playbooks/facts.yml's
    # delegated gathering; the same release, so nothing changes.
    result = run_playbook(
        ROOT / "playbooks" / "deploy.yml",
        inventory,
        limit=",".join(app_servers),
        roles_path=ROOT / "roles",
        options=["--extra-vars", f"@{ROOT / 'molecule' / 'default' / 'test-vars.yml'}"],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    recap = {
        name: int(changed)
        for name, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M)
    }
    assert recap == dict.fromkeys(app_servers, 0), result.stdout[-3000:]


def test_the_local_check_passes_sample_app(host):
    # playbooks/check-project.yml with the scenario's inventory (one host, or split's three,
    # whose database address only facts would give): on the controller only; it names what it
    # detected and says the project passes.
    inventory = host.backend.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")
    result = run_playbook(
        ROOT / "playbooks" / "check-project.yml",
        inventory,
        roles_path=ROOT / "roles",
        options=["--extra-vars", f"@{ROOT / 'molecule' / 'default' / 'test-vars.yml'}"],
        timeout=600,
    )
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, text[-3000:]
    assert "passes every check of the deploy that runs before a server" in text
    assert "wsgi_application: config.wsgi.application" in text
    assert "settings_module: config.settings.production" in text
