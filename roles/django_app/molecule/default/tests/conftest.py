"""Shared fixtures for the django_app (and gunicorn) Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    MOLECULE_INVENTORY_FILE=<molecule inventory> \
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROLE_DIR = Path(__file__).resolve().parents[3]
ROLES_DIR = ROLE_DIR.parent
KIT_DIR = ROLES_DIR.parent


# Tests of the role's own logic (the gate, the switch-back, migrations and rollbacks, jobs
# dropped from the list, what -vvv shows) drive the role through many runs; they behave the
# same on every distribution, so they run on Debian 13 only unless KIT_TEST_EVERY_DISTRO=1.
# The state tests (units, sandbox, app, releases, inputs, jobs that run) run on both.
every_distro = os.environ.get("KIT_TEST_EVERY_DISTRO") == "1"
role_logic = pytest.mark.skipif(
    os.environ.get("MOLECULE_DISTRO", "13") != "13" and not every_distro,
    reason="the role's own logic runs on Debian 13 (KIT_TEST_EVERY_DISTRO=1: here too)",
)


def _defaults(role):
    return yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def role_vars(host):
    """Both roles' defaults overlaid with the host's inventory variables."""
    return {**_defaults("gunicorn"), **_defaults("django_app"), **host.ansible.get_variables()}


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


def journal(host, unit, lines=50):
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


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


@pytest.fixture(scope="session")
def run_role(tmp_path_factory):
    """Run the django_app role from the controller with extra variables; returns the process."""
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory:
        pytest.skip("needs a Molecule inventory (MOLECULE_INVENTORY_FILE)")

    # These runs drive the role through failure paths; the scenario's converge, idempotence
    # and check already run it under Ansible's own linear strategy (what a project that
    # copies the role runs). Here it runs as the kit's playbooks run it, under Mitogen
    # (ansible.cfg), in less than half the time: KIT_TEST_STRATEGY=linear runs them
    # under Ansible's linear too. Mitogen takes over the `docker` connection name only.
    default_strategy = os.environ.get("KIT_TEST_STRATEGY", "mitogen_linear")
    hosts = {}
    for group in yaml.safe_load(Path(inventory).read_text()).values():
        for name, host_vars in ((group or {}).get("hosts") or {}).items():
            if (host_vars or {}).get("ansible_connection") == "community.docker.docker":
                hosts[name] = {"ansible_connection": "docker"}
    # A second inventory source: its host variables win over the first's, and the
    # first keeps its group_vars/ beside it.
    mitogen_inventory = tmp_path_factory.mktemp("inventory") / "connection.yml"
    mitogen_inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))

    def run(
        host_name,
        extra_vars,
        tasks_from="main",
        inventory_file=inventory,
        env_extra=None,
        strategy=None,
        options=(),
        cases=None,
    ):
        """With `cases` ({id: extra variables}), one run applies the role once per case, each
        in its own play with the case's variables, and rescues its failure: the result gets
        `.cases`, {id: the failed task's result, or None when the role went through}."""
        strategy = strategy or default_strategy
        connection_override = (
            [] if strategy == "linear" else ["--inventory", str(mitogen_inventory)]
        )
        play = tmp_path_factory.mktemp("play") / "apply-role.yml"
        apply = {
            "name": "Apply django_app",
            # Under --tags the role's own tags pick its tasks.
            "tags": ["always"],
            "ansible.builtin.include_role": {"name": ROLE_DIR.name, "tasks_from": tasks_from},
        }
        if cases is None:
            plays = [
                {
                    "name": "Apply the role with test inputs",
                    "hosts": "all",
                    "become": True,
                    "tasks": [apply],
                }
            ]
        else:
            plays = [
                _case_play(case_id, case_vars, apply, play.parent)
                for case_id, case_vars in cases.items()
            ]
        play.write_text(yaml.safe_dump(plays))
        env = {
            **os.environ,
            "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # One line per result, so that messages can be searched for.
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_STRATEGY": strategy,
            "ANSIBLE_STRATEGY_PLUGINS": str(KIT_DIR / ".config" / "ansible" / "strategy"),
            **(env_extra or {}),
        }
        result = subprocess.run(
            [
                "ansible-playbook",
                "--inventory",
                str(inventory_file),
                *connection_override,
                "--limit",
                host_name,
                "--extra-vars",
                json.dumps(extra_vars),
                *options,
                str(play),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=900,
        )
        if cases is not None:
            result.cases = {
                case_id: (
                    json.loads(path.read_text())
                    if (path := play.parent / f"case-{case_id}.json").exists()
                    else None
                )
                for case_id in cases
            }
        return result

    return run


def _case_play(case_id, case_vars, apply, results_dir):
    """A play that applies the role with one case's variables (play variables win over the
    inventory's) and keeps the failure it ends with in results_dir/case-<id>.json."""
    return {
        "name": f"Case {case_id}",
        "hosts": "all",
        "become": True,
        "vars": case_vars,
        "tasks": [
            {
                "name": f"Case {case_id}",
                "tags": ["always"],
                "block": [apply],
                "rescue": [
                    {
                        "name": "Keep the failure of the case",
                        "delegate_to": "localhost",
                        "become": False,
                        "changed_when": False,
                        "ansible.builtin.copy": {
                            "content": "{{ ansible_failed_result | to_json }}",
                            "dest": f"{results_dir}/case-{case_id}.json",
                            "mode": "0600",
                        },
                    }
                ],
            }
        ],
    }


def recap_changed(output):
    """The number of changed tasks in the PLAY RECAP of an ansible-playbook run."""
    counts = re.findall(r"changed=(\d+)", output.rpartition("PLAY RECAP")[2])
    assert counts, "no PLAY RECAP in the output:\n" + output[-2000:]
    return sum(int(count) for count in counts)


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
