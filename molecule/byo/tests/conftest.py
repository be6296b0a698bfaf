"""Fixtures for the bring-your-own-project tests: an HTTPS client with the kit's CA pinned
(the same as the full-stack scenario's), the generated project and its users' passwords."""

import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""))


@pytest.fixture(scope="module")
def client(host):
    out = subprocess.run(
        ["docker", "port", host.backend.host, "443/tcp"], capture_output=True, text=True, check=True
    ).stdout
    port = int(out.splitlines()[0].rsplit(":", 1)[1])
    ca_file = EPHEMERAL / "ca.crt"
    assert ca_file.is_file(), f"the tls role did not fetch its CA certificate to {ca_file}"
    context = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(base_url=f"https://localhost:{port}", verify=context, timeout=15.0) as c:
        yield c


@pytest.fixture(scope="module")
def project():
    return EPHEMERAL / "project"


@pytest.fixture(scope="module")
def reader():
    password = (EPHEMERAL / "secrets" / "reader_password").read_text().strip()
    return {"username": "reader", "password": password}
