"""Shared fixtures for the django_app (and gunicorn) Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    MOLECULE_INVENTORY_FILE=<molecule inventory> \
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
from kit_testinfra import journal, recap_changed, role_defaults, run_role_fixture  # noqa: F401

ROLE_DIR = Path(__file__).resolve().parents[3]
ROLES_DIR = ROLE_DIR.parent
KIT_DIR = ROLES_DIR.parent


# Tests of the role's own logic (the gate, the switch-back, migrations and rollbacks, jobs
# dropped from the list, what -vvv shows) drive the role through many runs; they behave the
# same on every distribution, so they run on Debian 13 only unless KIT_TEST_EVERY_DISTRO=1.
# The state tests (units, sandbox, app, releases, inputs, jobs that run) run on both.
role_logic = pytest.mark.skipif(
    os.environ.get("MOLECULE_DISTRO", "13") != "13"
    and os.environ.get("KIT_TEST_EVERY_DISTRO") != "1",
    reason="the role's own logic runs on Debian 13 (KIT_TEST_EVERY_DISTRO=1: here too)",
)


@pytest.fixture(scope="module")
def role_vars(host):
    """Both roles' defaults overlaid with the host's inventory variables."""
    return {
        **role_defaults(ROLES_DIR / "gunicorn"),
        **role_defaults(ROLE_DIR),
        **host.ansible.get_variables(),
    }


@pytest.fixture(scope="module")
def app(role_vars):
    """Names and paths derived from django_app_name, as the roles derive them."""
    name = role_vars["django_app_name"]
    return {
        "name": name,
        "root": f"/srv/{name}",
        "current": f"/srv/{name}/current",
        "previous": f"/srv/{name}/previous",
        "releases": f"/srv/{name}/releases",
        "env_file": f"/etc/{name}/env",
        "manage": f"/usr/local/bin/{name}-manage",
        "socket": f"/run/{name}/gunicorn.sock",
        "service": f"{name}.service",
        "socket_unit": f"{name}.socket",
    }


def django_admin(host, app, *args):
    """Run a management command of the live release as the app user, with the app's
    environment: through the wrapper the role installs for the deploy and the operator."""
    return host.run(shlex.join(["runuser", "-u", app["name"], "--", app["manage"], *args]))


class Api:
    """HTTP through the app's unix socket with curl, as nginx would send it (HTTPS proxied)."""

    def __init__(self, host, socket):
        self.host = host
        self.socket = socket

    def request(self, path, method="GET", data=None, token=None, as_user=None):
        cmd = [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--unix-socket",
            self.socket,
            "--request",
            method,
            "--header",
            "X-Forwarded-Proto: https",
            "--write-out",
            "\n%{http_code}",
        ]
        if data is not None:
            cmd += ["--header", "Content-Type: application/json", "--data", json.dumps(data)]
        if token:
            cmd += ["--header", f"Authorization: Bearer {token}"]
        cmd.append(f"http://localhost{path}")
        command = shlex.join(cmd)
        if as_user:
            command = f"runuser -u {as_user} -- {command}"
        result = self.host.run(command)
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body, result

    def json(self, path, **kwargs):
        status, body, _ = self.request(path, **kwargs)
        return status, (json.loads(body) if body.startswith(("{", "[")) else body)

    def token(self, username, password):
        status, body = self.json(
            "/api/token/", method="POST", data={"username": username, "password": password}
        )
        assert status == 200, body
        return body["access"]


@pytest.fixture(scope="module")
def api(host, app):
    return Api(host, app["socket"])


@pytest.fixture(scope="module")
def demo_user(role_vars):
    return next(u for u in role_vars["django_app_users"] if not u.get("superuser"))


def live_release(host, app):
    return os.path.basename(host.file(app["current"]).linked_to)


def main_pid(host, app):
    return int(host.check_output(f"systemctl show -p MainPID --value {app['service']}"))


def served_release(host, app):
    """The release the running Gunicorn master was started from (its working directory,
    resolved from current/ when it started; the release's code is there). Read as the app user:
    root in the container lacks CAP_SYS_PTRACE, which reading another user's cwd needs."""
    pid = main_pid(host, app)
    cwd = host.check_output(f"runuser -u {app['name']} -- readlink /proc/{pid}/cwd")
    return os.path.basename(cwd)


@pytest.fixture(scope="session")
def sample_app_copy(tmp_path_factory):
    """Copies of the kit's sample_app on the controller, each with a small edit."""
    source = KIT_DIR / "sample_app"

    def make(name, edit):
        target = tmp_path_factory.mktemp(name) / "sample_app"
        shutil.copytree(
            source,
            target,
            ignore=shutil.ignore_patterns(
                ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "build", "dist"
            ),
        )
        edit(target)
        return target

    return make


run_role = run_role_fixture(ROLE_DIR, json_output=True)


def task_seconds(json_output, name):
    """Durations (seconds) of the tasks called `name` in the output of the ansible.posix.json
    stdout callback."""
    from datetime import datetime

    def seconds(duration):
        start, end = (
            datetime.fromisoformat(duration[key].replace("Z", "+00:00")) for key in ("start", "end")
        )
        return (end - start).total_seconds()

    report = json.loads(json_output[json_output.index("{") :])
    return [
        seconds(task["task"]["duration"])
        for play in report["plays"]
        for task in play["tasks"]
        if task["task"]["name"].rpartition(" : ")[2] == name
    ]


def pre_migrate_dumps(host, role_vars):
    """Names of the pre-migration dumps on the host (the database runs there in this scenario)."""
    database = role_vars["molecule_db_name"]
    directory = f"{role_vars['django_app_pre_migrate_dump_dir']}/{database}/pre-migrate"
    result = host.run(f"ls -1 {directory}")
    return set(result.stdout.split()) if result.rc == 0 else set()
