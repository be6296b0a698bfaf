"""Two projects on one host (the contract's kit_apps: tutorial and blog), each with its own
user, socket, env file, database and site, deployed together by site.yml and redeployed and
rolled back one at a time (side_effect.yml: -e kit_only_apps=tutorial)."""

import json
import os
import re
import shlex
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from conftest import EPHEMERAL
from kit_testinfra import published_port, recap_changed, run_playbook

ROOT = Path(__file__).resolve().parents[3]
APPS = ("tutorial", "blog")


def hello(client, reader):
    access = client.post("/api/token/", json=reader).json()["access"]
    return client.get("/api/hello/", headers={"Authorization": f"Bearer {access}"})


def test_each_app_answers_on_its_own_site(client, reader, blog_client, blog_reader):
    assert hello(blog_client, blog_reader).json() == {
        "message": "hello from the blog",
        "user": "reader",
    }
    assert hello(client, reader).json()["message"] == "hello from a project the kit never changed"
    # Each app's users are its own: the blog's reader is not the tutorial's.
    refused = client.post("/api/token/", json=blog_reader)
    assert refused.status_code == httpx.codes.UNAUTHORIZED, refused.text


def test_the_second_site_serves_its_own_admin_css(blog_client):
    login = blog_client.get("/admin/login/")
    assert login.status_code == httpx.codes.OK, login.text[:500]
    assert blog_client.get("/static/admin/css/base.css").status_code == httpx.codes.OK


def test_a_name_no_site_has_gets_no_certificate(host):
    # One catch-all server for the host (the first app's site: nginx_default_server), which
    # nginx would refuse twice: the handshake for an unknown name is rejected.
    context = ssl.create_default_context(cafile=str(EPHEMERAL / "ca.crt"))
    port = published_port(host.backend.host, 443)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            context.wrap_socket(raw, server_hostname="other.localhost")
    sites = host.run("grep -l 'listen 443 .*default_server' /etc/nginx/sites-enabled/*.conf")
    assert sites.stdout.split() == ["/etc/nginx/sites-enabled/tutorial.conf"], sites.stdout


@pytest.mark.parametrize("app", APPS)
def test_each_app_runs_as_its_own_user_on_its_own_socket(host, app):
    service = host.service(f"{app}.service")
    assert service.is_running
    user = host.run(f"systemctl show --property User --value {app}.service").stdout.strip()
    assert user == app
    assert host.socket(f"unix:///run/{app}/gunicorn.sock").is_listening
    env = host.file(f"/etc/{app}/env")
    assert (env.user, env.group, env.mode) == ("root", app, 0o640)


def test_an_app_cannot_read_the_other_apps_env_file(host):
    assert host.run("runuser -u blog -- cat /etc/tutorial/env").rc != 0
    assert host.run("runuser -u tutorial -- cat /etc/blog/env").rc != 0


# Run as the blog's user with its venv: its own DATABASE_URL (read from its env file, never on
# a command line), then the same role and password on the tutorial's database.
CONNECT = """
import shlex, sys, psycopg
from urllib.parse import urlsplit
env = dict(shlex.split(line)[0].split("=", 1) for line in open("/etc/blog/env") if "=" in line)
url = urlsplit(env["DATABASE_URL"])
for dbname in ("blog", "tutorial"):
    try:
        psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username,
                        password=url.password, dbname=dbname, connect_timeout=10).close()
        print(dbname, "connected")
    except psycopg.OperationalError as error:
        print(dbname, "refused:", " / ".join(str(error).splitlines()))
"""


def test_an_app_reaches_its_own_database_only(host):
    result = host.run(
        f"runuser -u blog -- /srv/blog/current/venv/bin/python -c {shlex.quote(CONNECT)}"
    )
    assert result.rc == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "blog connected", result.stdout
    assert lines[1].startswith("tutorial refused:"), result.stdout
    refusal = r'pg_hba\.conf (rejects connection|entry) for host "[^"]+", user "blog", '
    refusal += r'database "tutorial"'
    assert re.search(refusal, lines[1]), result.stdout


def test_deploying_and_rolling_back_one_app_left_the_other_running(host):
    # side_effect.yml recorded the blog's service and live release before it deployed and
    # rolled back the tutorial only (which test_byo checks went live and back).
    before = json.loads((EPHEMERAL / "blog-before.json").read_text())
    pid = host.run("systemctl show --property MainPID --value blog.service").stdout.strip()
    assert before["pid"] not in ("", "0"), before
    assert pid == before["pid"], "the blog's Gunicorn was restarted by the tutorial's deploy"
    assert host.file("/srv/blog/current").linked_to == before["release"]
    assert not host.file("/srv/blog/previous").exists, "the blog got a second release"


def refused_run(host, extra_vars):
    inventory = host.backend.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")
    result = run_playbook(
        ROOT / "playbooks" / "site.yml",
        inventory,
        roles_path=ROOT / "roles",
        extra_vars=extra_vars,
        timeout=600,
    )
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, text[-3000:]
    assert recap_changed(result.stdout) == 0, text[-3000:]
    return text


def stand_in_apps(**blog):
    """Both apps with stand-in passwords (the preflight refuses before any use)."""
    return [
        {"name": "tutorial", "server_names": ["localhost"], "db_password": "stand-in-1"},
        {"name": "blog", "server_names": ["blog.localhost"], "db_password": "stand-in-2", **blog},
    ]


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        (
            {"kit_apps": stand_in_apps(server_names=["localhost"])},
            "kit_apps: server_names localhost belongs to more than one app",
        ),
        (
            {"kit_apps": stand_in_apps(db_password="stand-in-1")},
            "kit_apps: two apps have the same db_password",
        ),
        (
            {"kit_apps": stand_in_apps(server_names=[])},
            "kit_apps: blog has no server_names",
        ),
        (
            {"kit_only_apps": "tutorial, wiki"},
            "kit_only_apps names wiki, which the inventory does not have: its apps are "
            "tutorial, blog",
        ),
    ],
    ids=["shared-server-name", "shared-db-password", "no-server-names", "unknown-app"],
)
def test_the_preflight_refuses_apps_that_are_not_their_own(host, extra_vars, message):
    assert message in refused_run(host, extra_vars)


def test_rollback_asks_which_app(host):
    inventory = host.backend.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")
    result = run_playbook(ROOT / "playbooks" / "rollback.yml", inventory, timeout=300)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, text[-3000:]
    assert recap_changed(result.stdout) == 0, text[-3000:]
    assert "several apps (tutorial, blog): name the ones to roll back with -e kit_only_apps" in text
