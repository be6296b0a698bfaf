"""The collection galaxy.yml builds, installed offline into an empty collections path, serves
the web tier by FQCN: nginx answers HTTPS with the certificate the tls role made, CA pinned.
Also the tls role's selfsigned files (the nginx role's scenario signs its own certificate)."""

import json
import os
import shlex
from pathlib import Path

import pytest
from kit_testinfra import journal

SITE = "kit.test"


def test_the_installed_collection_is_the_one_galaxy_yml_describes(galaxy, collections_path):
    installed = collections_path / "ansible_collections" / galaxy["namespace"] / galaxy["name"]
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert manifest["version"] == galaxy["version"]
    assert manifest["dependencies"] == galaxy["dependencies"]
    kit_roles = sorted(p.name for p in (Path(__file__).parents[3] / "roles").iterdir())
    assert sorted(p.name for p in (installed / "roles").iterdir()) == kit_roles
    # Only the roles and the collection's own metadata: no tests, tool chain or sample app.
    assert not list(installed.glob("roles/*/molecule"))
    assert not (installed / "sample_app").exists()


# A client on the host (no curl in the bare image: Python's ssl), the CA pinned, SNI kit.test.
CLIENT = """
import http.client, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[1])
connection = http.client.HTTPSConnection("127.0.0.1", 443, context=context)
connection.sock = context.wrap_socket(
    __import__("socket").create_connection(("127.0.0.1", 443)), server_hostname=sys.argv[2]
)
connection.request("GET", "/", headers={"Host": sys.argv[2]})
response = connection.getresponse()
print(response.status, response.getheader("Strict-Transport-Security"))
"""


def test_nginx_serves_https_with_the_tls_roles_certificate(host):
    result = host.run(shlex.join(["python3", "-c", CLIENT, "/etc/ssl/kit/ca/ca.crt", SITE]))
    assert result.rc == 0, result.stderr
    # No app behind it in this scenario: nginx's own 502, over a verified connection.
    status, hsts = result.stdout.split(" ", 1)
    assert status == "502", journal(host, "nginx.service")
    assert hsts.startswith("max-age="), result.stdout


def test_an_unpinned_client_is_refused(host):
    """The pin is real: against the system CAs the handshake fails."""
    system = host.run(
        shlex.join(["python3", "-c", CLIENT, "/etc/ssl/certs/ca-certificates.crt", SITE])
    )
    assert system.rc != 0
    assert "CERTIFICATE_VERIFY_FAILED" in system.stderr


def test_the_fetched_ca_is_the_one_the_host_uses(host):
    fetched = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "kit-ca.crt"
    assert fetched.read_text() == host.file("/etc/ssl/kit/ca/ca.crt").content_string


@pytest.mark.parametrize(("name", "mode"), [("privkey.pem", 0o600), ("fullchain.pem", 0o640)])
def test_tls_files_are_private(host, name, mode):
    tls_file = host.file(f"/etc/ssl/kit/{SITE}/{name}")
    assert tls_file.user == "root"
    assert tls_file.mode == mode


def test_ca_private_key_is_private(host):
    assert host.file("/etc/ssl/kit/ca/ca.key").mode == 0o600
