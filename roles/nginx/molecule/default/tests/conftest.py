"""Shared fixtures for the nginx role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import shlex
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
    return {**role_defaults(ROLE_DIR), **host.ansible.get_variables()}


@pytest.fixture(scope="module")
def server_name(role_vars):
    return role_vars["nginx_server_names"][0]


@pytest.fixture(scope="module")
def ca_path(role_vars):
    """The test CA that signed the site's certificate (prepare.yml); clients pin it."""
    return role_vars["kit_test_ca"]


@pytest.fixture(scope="module")
def curl(host, server_name, ca_path):
    """Run curl on the host against the site's name (resolved to 127.0.0.1), CA pinned.

    address: where the name resolves to, and so the client address nginx sees (the host's
    own network address, see `network_address`, is not loopback)."""

    def common(name, address):
        options = ["--silent", "--show-error", "--cacert", ca_path]
        for port in (80, 443):
            options += ["--resolve", f"{name}:{port}:{address}"]
        return options

    def run(*args, name=None, repeat=1, address="127.0.0.1"):
        """curl with args; repeat > 1 sends the same request again on the same connection."""
        command = ["curl"]
        options = common(name or server_name, address)
        for index in range(repeat):
            command += [*(["--next"] if index else []), *options, *args]
        return host.run(shlex.join(command))

    return run


@pytest.fixture(scope="module")
def network_address(host):
    """The host's own IPv4 address on its network: a client address that is not loopback."""
    addresses = [a for a in host.interface("eth0").addresses if "." in a]
    assert addresses, "the host has no IPv4 address on eth0"
    return addresses[0]


@pytest.fixture(scope="module")
def tls_handshake(host, server_name, ca_path):
    """openssl s_client against 127.0.0.1:443 with the site's SNI; returns the command result."""

    def run(*args):
        command = [
            "openssl",
            "s_client",
            "-connect",
            "127.0.0.1:443",
            "-servername",
            server_name,
            "-CAfile",
            ca_path,
            "-verify_return_error",
            *args,
        ]
        return host.run(f"openssl version >/dev/null && {shlex.join(command)} </dev/null")

    return run


run_role = run_role_fixture(ROLE_DIR)
