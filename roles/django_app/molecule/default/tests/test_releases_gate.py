"""The health gate and the switch when things go wrong: redirects, env changes, interrupted runs,
workers that never boot, Gunicorn that never gets ready, a wrong database password.

Runs after test_releases.py (pytest collects a directory's files in name order) and starts from
whatever release is live then (L). The fixtures build on each other in this order:
release R with SSL redirects on /readyz (passes the gate) -> an env change that makes the app
refuse its public name (refused, env file put back) -> the service stopped and a health path
that redirects (started behind the gate, refused) -> `current` pointed at L behind the
service's back (the next run heals it) -> release W whose workers fail at import, with no
`previous` (refused within the timeout) -> `current` pointed at W behind the service's back
(the next run gates it, refuses it) -> release G whose Gunicorn settings fail (refused) -> a
wrong database password (refused before any restart, env file put back). Each test checks one
outcome of one step. Eight runs of the role.
"""

import re

import pytest
from conftest import (
    journal,
    live_release,
    main_pid,
    pre_migrate_dumps,
    recap_changed,
    role_logic,
    served_release,
    task_seconds,
)

testinfra_hosts = ["ansible://all"]

# The role's own logic (the probe, the switch, the way back): Debian 13 only (conftest).
pytestmark = role_logic

GATE_TIMEOUT = 10


def output(result):
    return result.stdout + result.stderr


def replace_in(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def release_l(host, app):
    release = live_release(host, app)
    assert served_release(host, app) == release, journal(host, app["service"])
    return release


@pytest.fixture(scope="module")
def redirect_deploy(host, app, role_vars, run_role, sample_app_copy, release_l):
    """Release R: /readyz is no longer exempt from SECURE_SSL_REDIRECT (Django's default)."""

    def edit(src):
        replace_in(
            src / "config" / "settings" / "production.py",
            'SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]',
            "SECURE_REDIRECT_EXEMPT = []",
        )

    source = sample_app_copy("redirect", edit)
    dumps_before = pre_migrate_dumps(host, role_vars)
    result = run_role(host.backend.host, {"django_app_source_dir": str(source)})
    return {
        "result": result,
        "source": source,
        "release": live_release(host, app),
        "dumps_before": dumps_before,
        "dumps_after": pre_migrate_dumps(host, role_vars),
    }


@pytest.fixture(scope="module")
def disallowed_host_env(host, app, role_vars, run_role, redirect_deploy):
    """Only the env file changes, and badly: the app no longer accepts its public name (a probe
    with Host: localhost would not notice). The settings audit would refuse it first (its
    ALLOWED_HOSTS); off here, to prove the gate behind it."""
    env_before = host.file(app["env_file"]).sha256sum
    env_extra = {**role_vars["django_app_env_extra"], "DJANGO_ALLOWED_HOSTS": "localhost"}
    result = run_role(
        host.backend.host,
        {
            "django_app_source_dir": str(redirect_deploy["source"]),
            "django_app_env_extra": env_extra,
            "django_app_health_timeout": GATE_TIMEOUT,
            "django_app_settings_audit": False,
        },
    )
    return {"result": result, "env_before": env_before}


@pytest.fixture(scope="module")
def stopped_service(host, app, run_role, redirect_deploy, disallowed_host_env):
    """The service is down (as a failed start leaves it) and the health path redirects
    (/admin -> /admin/): the run must start it behind the gate, and the gate must not follow."""
    host.run_test(f"systemctl stop {app['service']}")
    return run_role(
        host.backend.host,
        {
            "django_app_source_dir": str(redirect_deploy["source"]),
            "django_app_health_path": "/admin",
            "django_app_health_timeout": GATE_TIMEOUT,
        },
    )


@pytest.fixture(scope="module")
def interrupted_switch(host, app, run_role, stopped_service, release_l):
    """A run that died after pointing `current` at L, before the restart: R still runs."""
    host.run_test(f"ln -sfn {app['releases']}/{release_l} {app['current']}")
    assert served_release(host, app) != release_l
    return run_role(host.backend.host, {})


@pytest.fixture(scope="module")
def workers_fail(host, app, run_role, sample_app_copy, interrupted_switch):
    """Release W: its WSGI module raises at import, so no worker ever boots; no `previous`."""

    def edit(src):
        replace_in(
            src / "config" / "wsgi.py",
            "application = get_wsgi_application()",
            'raise RuntimeError("molecule: this release fails at import")',
        )

    source = sample_app_copy("workers-fail", edit)
    host.run_test(f"rm -f {app['previous']}")
    releases_before = set(host.file(app["releases"]).listdir())
    result = run_role(
        host.backend.host,
        {"django_app_source_dir": str(source), "django_app_health_timeout": GATE_TIMEOUT},
        env_extra={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    (release,) = set(host.file(app["releases"]).listdir()) - releases_before
    return {"result": result, "source": source, "release": release}


@pytest.fixture(scope="module")
def failed_start_rerun(host, app, run_role, workers_fail):
    """`current` left at W (as a run that died after a failed start leaves it), L still served:
    the next run of W must go through the gate, not trust `current`."""
    host.run_test(f"ln -sfn {app['releases']}/{workers_fail['release']} {app['current']}")
    return run_role(
        host.backend.host,
        {
            "django_app_source_dir": str(workers_fail["source"]),
            "django_app_health_timeout": GATE_TIMEOUT,
        },
    )


@pytest.fixture(scope="module")
def gunicorn_fails(host, app, run_role, sample_app_copy, failed_start_rerun):
    """Release G: its Gunicorn settings module raises, so Gunicorn exits before READY=1."""

    def edit(src):
        conf = src / "config" / "gunicorn_conf.py"
        broken = '\nraise RuntimeError("molecule: broken Gunicorn settings")\n'
        conf.write_text(conf.read_text() + broken)

    source = sample_app_copy("gunicorn-fails", edit)
    result = run_role(
        host.backend.host,
        {"django_app_source_dir": str(source), "django_app_health_timeout": GATE_TIMEOUT},
    )
    return {"result": result}


@pytest.fixture(scope="module")
def wrong_db_password(host, app, run_role, gunicorn_fails):
    env_before = host.file(app["env_file"]).sha256sum
    pid_before = main_pid(host, app)
    result = run_role(
        host.backend.host,
        {
            "django_app_db_password": "not-the-molecule-password",
            "django_app_health_timeout": GATE_TIMEOUT,
        },
    )
    return {"result": result, "env_before": env_before, "pid_before": pid_before}


def assert_api_answers(api, demo_user):
    status, answer = api.json("/readyz")
    assert status == 200, answer
    token = api.token(demo_user["username"], demo_user["password"])
    status, me = api.json("/api/me/", token=token)
    assert status == 200, me


# Release R: SSL redirect on /readyz ---------------------------------------------------------
def test_gate_probes_as_nginx_so_a_redirecting_release_passes(redirect_deploy):
    result = redirect_deploy["result"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_redirecting_release_is_served(host, app, redirect_deploy, release_l):
    assert redirect_deploy["release"] != release_l
    assert served_release(host, app) == redirect_deploy["release"], journal(host, app["service"])


def test_deploy_without_migrations_takes_no_dump(redirect_deploy):
    assert redirect_deploy["dumps_after"] == redirect_deploy["dumps_before"]


# An env change that makes the app refuse its public name ------------------------------------
def test_gate_probes_with_the_public_host_name(disallowed_host_env):
    result = disallowed_host_env["result"]
    assert result.returncode != 0, result.stdout[-4000:]
    assert "last status: 400" in output(result), output(result)[-4000:]


def test_refused_env_change_puts_the_env_file_back(host, app, disallowed_host_env):
    assert host.file(app["env_file"]).sha256sum == disallowed_host_env["env_before"]
    env = host.file(app["env_file"])
    assert (env.user, env.group, env.mode) == ("root", app["name"], 0o640)


def test_refused_env_change_leaves_no_copy_of_the_env_file(host, app, disallowed_host_env):
    copies = [name for name in host.file(f"/etc/{app['name']}").listdir() if name != "env"]
    assert copies == []


def test_refused_env_change_failure_shows_the_journal(disallowed_host_env):
    text = output(disallowed_host_env["result"])
    assert "was put back" in text
    journal_part = text.partition("Last journal lines of")[2]
    assert "Invalid HTTP_HOST header" in journal_part, text[-4000:]


def test_app_answers_on_the_old_env_after_the_refused_change(api, demo_user, disallowed_host_env):
    assert_api_answers(api, demo_user)


# A stopped service and a health path that redirects ----------------------------------------
def test_stopped_service_is_started_behind_the_gate(stopped_service):
    assert stopped_service.returncode != 0, stopped_service.stdout[-4000:]
    assert "did not answer /admin with 200" in output(stopped_service)


def test_gate_reports_the_redirect_status_and_location(stopped_service):
    # The app answers "Location: /admin/"; the uri module reports it joined to the probe's URL.
    assert re.search(
        r"last status: 301, Location: (http://localhost)?/admin/;", output(stopped_service)
    )


def test_app_runs_after_the_stopped_service_was_gated(host, app, api, stopped_service):
    assert served_release(host, app) == live_release(host, app), journal(host, app["service"])
    status, answer = api.json("/readyz")
    assert status == 200, answer


# `current` moved behind the service's back -------------------------------------------------
def test_interrupted_switch_is_healed_by_the_next_run(interrupted_switch):
    assert interrupted_switch.returncode == 0, interrupted_switch.stdout[-4000:]
    assert recap_changed(interrupted_switch.stdout) > 0


def test_interrupted_switch_ends_with_current_served(host, app, interrupted_switch, release_l):
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])


# Release W: workers never boot ----------------------------------------------------------------
def test_release_whose_workers_never_boot_is_refused(host, app, workers_fail, release_l):
    assert workers_fail["result"].returncode != 0
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])


def test_gate_wait_is_bounded_by_the_health_timeout(workers_fail):
    durations = task_seconds(workers_fail["result"].stdout, "Wait until the release is ready")
    assert durations, workers_fail["result"].stdout[-4000:]
    # A generous margin for the controller's own work; the old gate took ~40 s here.
    assert max(durations) <= GATE_TIMEOUT + 15, durations


def test_failed_redeploy_without_previous_leaves_no_previous(host, app, workers_fail):
    previous = host.file(app["previous"])
    assert not previous.is_symlink, previous.linked_to
    assert not previous.exists


def test_refused_release_failure_shows_the_import_error(workers_fail):
    assert "molecule: this release fails at import" in output(workers_fail["result"])


# `current` left at W by a failed start -----------------------------------------------------
def test_rerun_after_a_failed_start_goes_through_the_gate(failed_start_rerun):
    assert failed_start_rerun.returncode != 0, failed_start_rerun.stdout[-4000:]
    assert "did not answer /readyz with 200" in output(failed_start_rerun)


def test_rerun_after_a_failed_start_puts_the_served_release_back(
    host, app, failed_start_rerun, release_l
):
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])


# Release G: Gunicorn exits before it is ready ------------------------------------------------
def test_release_whose_gunicorn_fails_to_start_is_switched_back(
    host, app, gunicorn_fails, release_l
):
    result = gunicorn_fails["result"]
    assert result.returncode != 0
    assert "failed to start on" in output(result), output(result)[-4000:]
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])


def test_failed_start_message_shows_the_gunicorn_error(gunicorn_fails):
    assert "molecule: broken Gunicorn settings" in output(gunicorn_fails["result"])


def test_app_answers_after_gunicorn_failed_to_start(api, demo_user, gunicorn_fails):
    assert_api_answers(api, demo_user)


# A wrong database password: refused before the app is restarted ----------------------------
def test_wrong_database_password_fails_the_play(wrong_db_password):
    result = wrong_db_password["result"]
    assert result.returncode != 0
    assert "was put back" in output(result), output(result)[-4000:]
    assert "not-the-molecule-password" not in output(result)


def test_wrong_database_password_puts_the_env_file_back(host, app, wrong_db_password):
    assert host.file(app["env_file"]).sha256sum == wrong_db_password["env_before"]


def test_wrong_database_password_never_restarts_the_app(host, app, wrong_db_password):
    assert main_pid(host, app) == wrong_db_password["pid_before"]


def test_app_answers_after_the_wrong_database_password(api, demo_user, wrong_db_password):
    assert_api_answers(api, demo_user)
