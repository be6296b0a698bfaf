"""Scheduled management commands (django_app_timers): sandboxed services started by timers,
which do their job (expired rows go, live ones stay), and jobs no longer listed go away."""

import json
import uuid

import pytest
from conftest import django_admin, journal, recap_changed, role_logic
from kit_testinfra import exposure

testinfra_hosts = ["ansible://all"]


@pytest.fixture(scope="module")
def jobs(role_vars, app):
    """{job name: unit name without the suffix} of the scenario's django_app_timers."""
    listed = {
        job["name"]: f"{app['name']}-job-{job['name']}" for job in role_vars["django_app_timers"]
    }
    assert {"flush-expired-tokens", "clear-sessions"} <= listed.keys()
    return listed


def unit_files(host, app):
    out = host.check_output(f"ls -1 /etc/systemd/system/ | grep '^{app['name']}-job-' || true")
    return set(out.split())


def test_timers_are_enabled_and_scheduled(host, jobs):
    for unit in jobs.values():
        timer = host.service(f"{unit}.timer")
        assert timer.is_enabled, unit
        assert timer.is_running, unit
        # A real next run, computed by systemd from the schedule.
        elapse = host.check_output(f"systemctl show -p NextElapseUSecRealtime --value {unit}.timer")
        assert elapse not in ("", "n/a", "0"), (unit, elapse)


def test_job_services_run_as_the_app_user_and_expose_little(host, app, jobs):
    for unit in jobs.values():
        user = host.check_output(f"systemctl show -p User --value {unit}.service")
        assert user == app["name"], unit
        assert exposure(host, f"{unit}.service") <= 2.0, unit


def shell(host, app, code):
    """The last line code printed (Django 5.2's shell first says what it imported)."""
    result = django_admin(host, app, "shell", "--command", code)
    assert result.rc == 0, result.stderr
    return (result.stdout.strip().splitlines() or [""])[-1]


# Per job: Python that inserts an expired row and a live one (keys from {key}), and Python
# that prints which of the two are left.
ROWS = {
    "flush-expired-tokens": (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from rest_framework_simplejwt.token_blacklist.models import OutstandingToken as T\n"
        "now = timezone.now()\n"
        "T.objects.create(jti='{key}-old', token='x', created_at=now - timedelta(days=2),"
        " expires_at=now - timedelta(days=1))\n"
        "T.objects.create(jti='{key}-new', token='x', created_at=now,"
        " expires_at=now + timedelta(days=1))\n",
        "import json\n"
        "from rest_framework_simplejwt.token_blacklist.models import OutstandingToken as T\n"
        "print(json.dumps(sorted(T.objects.filter(jti__startswith='{key}')"
        ".values_list('jti', flat=True))))\n",
        "from rest_framework_simplejwt.token_blacklist.models import OutstandingToken as T\n"
        "T.objects.filter(jti__startswith='{key}').delete()\n",
    ),
    "clear-sessions": (
        "from datetime import timedelta\n"
        "from django.contrib.sessions.models import Session as S\n"
        "from django.utils import timezone\n"
        "now = timezone.now()\n"
        "S.objects.create(session_key='{key}-old', session_data='x',"
        " expire_date=now - timedelta(days=1))\n"
        "S.objects.create(session_key='{key}-new', session_data='x',"
        " expire_date=now + timedelta(days=1))\n",
        "import json\n"
        "from django.contrib.sessions.models import Session as S\n"
        "print(json.dumps(sorted(S.objects.filter(session_key__startswith='{key}')"
        ".values_list('session_key', flat=True))))\n",
        "from django.contrib.sessions.models import Session as S\n"
        "S.objects.filter(session_key__startswith='{key}').delete()\n",
    ),
}


@pytest.mark.parametrize("job", sorted(ROWS))
def test_running_the_job_removes_expired_rows_and_keeps_live_ones(host, app, jobs, job):
    insert, left, cleanup = ROWS[job]
    key = f"kittest{uuid.uuid4().hex[:12]}"
    shell(host, app, insert.format(key=key))
    try:
        assert json.loads(shell(host, app, left.format(key=key))) == [f"{key}-new", f"{key}-old"]
        # What the timer starts; a oneshot service: systemctl returns when it is done.
        result = host.run(f"systemctl start {jobs[job]}.service")
        assert result.rc == 0, journal(host, f"{jobs[job]}.service")
        assert json.loads(shell(host, app, left.format(key=key))) == [f"{key}-new"]
    finally:
        shell(host, app, cleanup.format(key=key))


@role_logic
def test_a_job_no_longer_listed_is_stopped_and_removed(host, app, role_vars, jobs, run_role):
    listed = role_vars["django_app_timers"]
    kept = [job for job in listed if job["name"] != "clear-sessions"]
    removed = jobs["clear-sessions"]
    try:
        result = run_role(
            host.backend.host, {"django_app_timers": kept}, options=["--tags", "django_app_timers"]
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert unit_files(host, app) == {
            f"{jobs[job['name']]}.{suffix}" for job in kept for suffix in ("service", "timer")
        }
        assert not host.service(f"{removed}.timer").is_running
        load = host.check_output(f"systemctl show -p LoadState --value {removed}.timer")
        assert load == "not-found"
    finally:
        result = run_role(host.backend.host, {}, options=["--tags", "django_app_timers"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.service(f"{removed}.timer").is_running
    # Back as the scenario converged it: a second run changes nothing.
    again = run_role(host.backend.host, {}, options=["--tags", "django_app_timers"])
    assert recap_changed(again.stdout) == 0, again.stdout[-3000:]
