"""Fixtures for the bring-your-own-project tests: an HTTPS client with the kit's CA pinned
(the same as the full-stack scenario's), the generated project and its users' passwords."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
import kit_testinfra

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""))


@pytest.fixture(scope="module")
def client(host):
    ca_file = EPHEMERAL / "ca.crt"
    assert ca_file.is_file(), f"the tls role did not fetch its CA certificate to {ca_file}"
    with kit_testinfra.https_client(host.backend.host, ca_file) as c:
        yield c


@pytest.fixture(scope="module")
def project():
    return EPHEMERAL / "project"


@pytest.fixture(scope="module")
def reader():
    password = (EPHEMERAL / "secrets" / "reader_password").read_text().strip()
    return {"username": "reader", "password": password}
