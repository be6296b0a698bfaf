"""A project as `django-admin startproject` makes it, deployed with inventory settings only."""

import hashlib
import os
import re
from pathlib import Path

import httpx
import pytest
from kit_testinfra import run_playbook

ROOT = Path(__file__).resolve().parents[3]


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


def test_the_changed_view_went_live_and_was_rolled_back(host):
    # side_effect.yml: the second release answered, then rollback.yml put the first one back.
    current = host.file("/srv/tutorial/current").linked_to
    previous = host.file("/srv/tutorial/previous").linked_to
    assert current != previous
    assert "never changed" in host.file(f"{current}/api/views.py").content_string
    assert "the second release" in host.file(f"{previous}/api/views.py").content_string


def test_the_uv_project_was_released_with_its_exported_lock(host):
    # side_effect.yml's second release: pyproject.toml (no build system) and uv.lock.
    previous = host.file("/srv/tutorial/previous").linked_to
    assert host.file(f"{previous}/uv.lock").is_file
    assert not host.file(f"{previous}/requirements.txt").exists
    lock = host.file(f"{previous}/dist/requirements.lock").content_string
    assert re.search(r"^django==5\.2\.19 ", lock, re.M | re.I), lock
    assert "--hash=sha256:" in lock


def test_venvs_are_built_by_uv_and_by_pip_where_uv_does_not_install(host):
    # converge: uv (no pip in the venv); side_effect.yml's second release, on a host where
    # uv did not install (pip.conf: no-binary = uv): pip, and uv is not left half-installed.
    current = host.file("/srv/tutorial/current").linked_to
    previous = host.file("/srv/tutorial/previous").linked_to
    assert not host.file(f"{current}/venv/bin/pip").exists
    assert host.file(f"{current}/venv/bin/gunicorn").exists
    assert host.file(f"{previous}/venv/bin/pip").exists
    assert not host.file("/usr/local/lib/django_app/uv-0.13.8/.django-app-complete").exists


def test_the_refused_release_never_went_live(host):
    # side_effect.yml: the settings audit refused the project whose settings ignore the key.
    releases = host.run(
        "grep -l 'a-key-written-in-the-settings' /srv/tutorial/releases/*/mysite/settings.py"
    )
    assert releases.rc == 0, "the refused release was not installed beside the others"
    refused = {path.rsplit("/mysite/", 1)[0] for path in releases.stdout.split()}
    live = {host.file(f"/srv/tutorial/{link}").linked_to for link in ("current", "previous")}
    assert not refused & live


@pytest.fixture(scope="module")
def check_project(host):
    """playbooks/check-project.yml with this scenario's inventory: on the controller only."""
    inventory = host.backend.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")

    def check(source):
        """The finished run, and its whole output with the callback's line wrapping undone."""
        result = run_playbook(
            ROOT / "playbooks" / "check-project.yml",
            inventory,
            roles_path=ROOT / "roles",
            extra_vars={"kit_only_apps": "tutorial", "django_app_source_dir": str(source)},
            timeout=600,
        )
        return result, " ".join((result.stdout + result.stderr).split())

    return check


def test_the_local_check_passes_the_project(check_project, project):
    result, text = check_project(project)
    assert result.returncode == 0, text[-3000:]
    assert "passes every check of the deploy" in text
    assert "wsgi_application: mysite.wsgi.application" in text
    assert "static_root: <release>/staticfiles" in text


def test_the_local_check_names_the_secret_key_setting(check_project, project):
    # side_effect.yml's project whose settings carry their own key and MEDIA_ROOT in the tree.
    result, text = check_project(project.parent / "project-fixed-key")
    assert result.returncode != 0, text[-3000:]
    assert "would be refused" in text, text[-3000:]
    assert "SECRET_KEY is not the secret key the kit writes" in text
    assert "environment variable DJANGO_SECRET_KEY" in text
    assert "inside the release: uploads would be lost" in text
