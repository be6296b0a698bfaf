"""Background workers (django_app_workers): sandboxed services of the live release that do
the work the API enqueues (sample_app's POST /api/stats/, run by django-tasks-db's db_worker),
and workers no longer listed go away."""

import pytest
from conftest import journal, recap_changed, role_logic
from kit_testinfra import exposure, wait_until

testinfra_hosts = ["ansible://all"]


@pytest.fixture(scope="module")
def worker(role_vars, app):
    """The unit of the scenario's worker (db_worker)."""
    listed = {w["name"]: w for w in role_vars["django_app_workers"]}
    assert listed["tasks"]["command"] == "db_worker"
    return f"{app['name']}-worker-tasks.service"


def worker_files(host, app):
    out = host.check_output(f"ls -1 /etc/systemd/system/ | grep '^{app['name']}-worker-' || true")
    return set(out.split())


def test_the_worker_runs_enabled_as_the_app_user(host, app, worker):
    unit = host.service(worker)
    assert unit.is_enabled
    assert unit.is_running, journal(host, worker)
    assert host.check_output(f"systemctl show -p User --value {worker}") == app["name"]
    assert host.check_output(f"systemctl show -p TimeoutStopUSec --value {worker}") == "20s"


def test_the_worker_is_sandboxed(host, worker):
    assert exposure(host, worker) <= 2.0


def test_the_worker_runs_from_the_live_release(host, app, worker):
    pid = host.check_output(f"systemctl show -p MainPID --value {worker}")
    # As the app user: root in the container has no CAP_SYS_PTRACE for another user's process.
    cwd = host.check_output(f"runuser -u {app['name']} -- readlink /proc/{pid}/cwd")
    assert cwd == host.file(app["current"]).linked_to, journal(host, worker)


def test_the_worker_does_the_work_the_api_enqueues(host, api, demo_user, worker):
    token = api.token(demo_user["username"], demo_user["password"])
    status, note = api.json(
        "/api/notes/", method="POST", data={"title": "four words", "body": "in two"}, token=token
    )
    assert status == 201, note
    try:
        status, task = api.json("/api/stats/", method="POST", token=token)
        assert status == 202, task
        assert task["status"] == "READY"

        def done():
            status, body = api.json(f"/api/stats/{task['id']}/", token=token)
            return body if status == 200 and body["status"] == "SUCCESSFUL" else None

        result = wait_until(done, timeout=30)
        assert result, journal(host, worker)
        assert result["result"]["notes"] >= 1
        assert result["result"]["words"] >= 4
    finally:
        api.request(f"/api/notes/{note['id']}/", method="DELETE", token=token)


@role_logic
def test_a_worker_no_longer_listed_is_stopped_and_removed(host, app, worker, run_role):
    try:
        result = run_role(
            host.backend.host, {"django_app_workers": []}, options=["--tags", "django_app_workers"]
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert worker_files(host, app) == set()
        load = host.check_output(f"systemctl show -p LoadState --value {worker}")
        assert load == "not-found"
    finally:
        result = run_role(host.backend.host, {}, options=["--tags", "django_app_workers"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.service(worker).is_running, journal(host, worker)
    # Back as the scenario converged it: a second run changes nothing.
    again = run_role(host.backend.host, {}, options=["--tags", "django_app_workers"])
    assert recap_changed(again.stdout) == 0, again.stdout[-3000:]
