"""The app's database traffic between hosts is TLS, with the server's certificate pinned
(molecule/split; the one-host scenario talks over loopback and skips these)."""

import json
import shlex

import pytest

testinfra_hosts = ["ansible://all"]

APP = "kitapp"
MANAGE = f"/usr/local/bin/{APP}-manage"
PYTHON = f"/srv/{APP}/current/venv/bin/python"


@pytest.fixture(scope="module")
def remote_app(host):
    variables = host.ansible.get_variables()
    groups = variables["group_names"]
    if "appservers" not in groups or "dbservers" in groups:
        pytest.skip("an app server whose database is on another host")
    return variables


def as_app(host, *argv):
    return host.run(shlex.join(["runuser", "-u", APP, "--", *argv]))


def db_address(host):
    """The database host and port the app's DATABASE_URL names."""
    script = (
        "import os, json, urllib.parse as u\n"
        "for line in open('/etc/kitapp/env'):\n"
        "    if line.startswith('DATABASE_URL='):\n"
        "        url = u.urlsplit(line.split('=', 1)[1].strip().strip('\"'))\n"
        "        print(json.dumps([url.hostname, url.port, u.parse_qs(url.query)]))\n"
    )
    return json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))


def try_connect(host, conninfo):
    """Connect with the release's psycopg as the app user; prints ok or the error."""
    script = (
        "import sys, psycopg\n"
        "try:\n"
        "    psycopg.connect(sys.argv[1], connect_timeout=5).close()\n"
        "    print('ok')\n"
        "except psycopg.OperationalError as error:\n"
        "    print(error)\n"
    )
    return as_app(host, PYTHON, "-c", script, conninfo).stdout


def test_the_app_connects_with_tls_and_verifies_the_server(host, remote_app):
    _, _, query = db_address(host)
    assert query["sslmode"] == ["verify-full"]
    assert query["sslrootcert"] == [f"/etc/{APP}/db-root.crt"]
    # The connection the app itself opens, as the server sees it.
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')\n"
        "    print(*cursor.fetchone())\n"
    )
    result = as_app(host, MANAGE, "shell", "--command", code)
    assert result.rc == 0, result.stderr
    # The last line: Django 5.2's shell first says what it imported.
    ssl, version = result.stdout.strip().splitlines()[-1].split()
    assert ssl == "True"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_a_plain_text_connection_from_the_app_host_is_refused(host, remote_app):
    address, port, _ = db_address(host)
    out = try_connect(
        host, f"host={address} port={port} dbname={APP} user={APP} password=x sslmode=disable"
    )
    # pg_hba.conf has hostssl lines only for the app host: no password is even asked for.
    assert "no encryption" in out, out


def test_a_server_certificate_not_pinned_is_refused(host, remote_app):
    # verify-full against the system's CAs instead of the pinned certificate: the server's
    # self-signed certificate is not trusted there, so the check is real.
    address, port, _ = db_address(host)
    out = try_connect(
        host,
        f"host={address} port={port} dbname={APP} user={APP} password=x sslmode=verify-full "
        "sslrootcert=/etc/ssl/certs/ca-certificates.crt",
    )
    assert "certificate verify failed" in out, out
