"""Fixtures of the collection scenario's Testinfra tests."""

import os
import sys
from pathlib import Path

import pytest
import yaml

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)

KIT_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def galaxy():
    return yaml.safe_load((KIT_DIR / "galaxy.yml").read_text())


@pytest.fixture(scope="session")
def collections_path():
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "collections"
