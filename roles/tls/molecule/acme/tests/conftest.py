"""Shared fixtures for the tls role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

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
    """The role's defaults overlaid with the host's inventory variables."""
    defaults = role_defaults(ROLE_DIR)
    return {**defaults, **host.ansible.get_variables()}


run_role = run_role_fixture(ROLE_DIR)
