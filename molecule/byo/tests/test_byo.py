"""A project as `django-admin startproject` makes it, deployed with inventory settings only."""

import hashlib
import re

import httpx


def test_the_kit_changed_nothing_in_the_project(project):
    recorded = (project.parent / "project.sha256").read_text().splitlines()
    now = sorted(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(project).as_posix()}"
        for p in project.rglob("*")
        if p.is_file()
    )
    assert now == sorted(recorded)


def test_the_release_is_the_source_tree_with_manage_py(host):
    current = host.file("/srv/tutorial/current")
    assert current.is_symlink
    assert host.file("/srv/tutorial/current/manage.py").is_file
    assert host.file("/srv/tutorial/current/mysite/settings.py").is_file
    assert not host.file("/srv/tutorial/current/pyproject.toml").exists


def test_the_lock_the_kit_made_is_hash_checked_on_the_server(host):
    lock = host.file("/srv/tutorial/current/dist/requirements.lock").content_string
    assert "locked with hashes by the kit" in lock
    assert re.search(r"^django==5\.2\.19 ", lock, re.M | re.I), lock
    assert "--hash=sha256:" in lock


def test_the_settings_module_came_from_manage_py(host):
    env = host.run("cat /etc/tutorial/env").stdout
    assert 'DJANGO_SETTINGS_MODULE="mysite.settings"' in env


def test_token_obtain_and_refresh(client, reader):
    tokens = client.post("/api/token/", json=reader)
    assert tokens.status_code == httpx.codes.OK, tokens.text
    refreshed = client.post("/api/token/refresh/", json={"refresh": tokens.json()["refresh"]})
    assert refreshed.status_code == httpx.codes.OK, refreshed.text
    assert refreshed.json()["access"]


def test_the_protected_view_needs_a_token(client, reader):
    assert client.get("/api/hello/").status_code == httpx.codes.UNAUTHORIZED
    access = client.post("/api/token/", json=reader).json()["access"]
    hello = client.get("/api/hello/", headers={"Authorization": f"Bearer {access}"})
    assert hello.status_code == httpx.codes.OK, hello.text
    assert hello.json() == {
        "message": "hello from a project the kit never changed",
        "user": "reader",
    }


def test_the_admin_css_is_served(client):
    login = client.get("/admin/login/")
    assert login.status_code == httpx.codes.OK, login.text[:500]
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', login.text)
    assert css, "the admin page does not link its hashed CSS (WhiteNoise's manifest)"
    response = client.get(css.group(1))
    assert response.status_code == httpx.codes.OK
    assert response.headers["content-type"].startswith("text/css")


def test_a_wrong_password_is_refused(client, reader):
    response = client.post("/api/token/", json={**reader, "password": "not-the-password"})
    assert response.status_code == httpx.codes.UNAUTHORIZED
