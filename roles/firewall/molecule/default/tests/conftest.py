"""Fixtures for the firewall role's Testinfra tests, from the kit's shared toolkit.

Runs under Molecule's testinfra verifier, or alone:
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import sys
from pathlib import Path

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
from kit_testinfra import role_vars_fixture, run_role_fixture

ROLE_DIR = Path(__file__).resolve().parents[3]
role_vars = role_vars_fixture(ROLE_DIR)
run_role = run_role_fixture(ROLE_DIR)
