"""Fixtures for the full-stack tests: an HTTPS client with the kit's CA pinned.

The scenario's container publishes 443 on a loopback port that Docker picks; the client
talks to https://localhost:<port>, which the certificate covers, and trusts only the CA
that the tls role made (fetched to the run's ephemeral directory).
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
import kit_testinfra

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""))


@pytest.fixture(scope="module")
def container(host):
    return host.backend.host


@pytest.fixture(scope="module")
def ca_file():
    path = EPHEMERAL / "ca.crt"
    assert path.is_file(), f"the tls role did not fetch its CA certificate to {path}"
    return path


@pytest.fixture(scope="module")
def secrets_dir():
    return EPHEMERAL / "secrets"


@pytest.fixture(scope="module")
def demo_credentials(secrets_dir):
    return {"username": "demo", "password": (secrets_dir / "demo_password").read_text().strip()}


make_client = kit_testinfra.https_client


@pytest.fixture(scope="module")
def client(container, ca_file):
    with make_client(container, ca_file) as c:
        yield c


@pytest.fixture
def tokens(client, demo_credentials):
    response = client.post("/api/token/", json=demo_credentials)
    assert response.status_code == httpx.codes.OK, response.text
    return response.json()


@pytest.fixture
def auth(tokens):
    return {"Authorization": f"Bearer {tokens['access']}"}


@pytest.fixture
def unique_title():
    return f"note-{uuid.uuid4().hex[:12]}"


def readyz_from_the_web_host(host) -> tuple[str, str]:
    """Status and body of /readyz asked on the web host itself: nginx answers it only to
    nginx_probe_allow (loopback by default), so the tests' client gets 403 there."""
    out = host.run(
        "curl --silent --cacert /etc/ssl/kit/ca/ca.crt --write-out '\\n%{http_code}' "
        "https://localhost/readyz"
    ).stdout
    body, _, status = out.rpartition("\n")
    return status.strip(), body


def wait_until(predicate, timeout: float, interval: float = 1.0):
    """The toolkit's wait_until, with a host still booting (connection refused, a command
    failing, no output yet) counted as "not yet"."""
    return kit_testinfra.wait_until(
        predicate,
        timeout,
        interval,
        errors=(httpx.HTTPError, OSError, subprocess.CalledProcessError, IndexError),
    )
