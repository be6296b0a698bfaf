"""Fixtures for the bring-your-own-project tests: an HTTPS client with the kit's CA pinned
(the same as the full-stack scenario's) for each app's site, the generated project and the
apps' users' passwords."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
import kit_testinfra

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""))


def site_client(host, server_name="localhost"):
    """An HTTPS client for one of the host's sites (the first app's is localhost)."""
    ca_file = EPHEMERAL / "ca.crt"
    assert ca_file.is_file(), f"the tls role did not fetch its CA certificate to {ca_file}"
    return kit_testinfra.https_client(host.backend.host, ca_file, server_name)


@pytest.fixture(scope="module")
def client(host):
    with site_client(host) as c:
        yield c


@pytest.fixture(scope="module")
def blog_client(host):
    """The second app's site, blog.localhost."""
    with site_client(host, "blog.localhost") as c:
        yield c


@pytest.fixture(scope="module")
def project():
    return EPHEMERAL / "project"


@pytest.fixture(scope="module")
def reader():
    return app_reader("tutorial")


@pytest.fixture(scope="module")
def blog_reader():
    return app_reader("blog")


def app_reader(app):
    password = (EPHEMERAL / "secrets" / app / "reader_password").read_text().strip()
    return {"username": "reader", "password": password}
