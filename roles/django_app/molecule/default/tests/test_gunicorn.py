"""The Gunicorn units (gunicorn role) serving the deployed app."""

import time

import pytest
from conftest import journal, main_pid
from kit_testinfra import exposure

testinfra_hosts = ["ansible://all"]


def test_socket_unit_is_listening(host, app):
    unit = host.service(app["socket_unit"])
    assert unit.is_enabled
    assert unit.is_running, journal(host, app["socket_unit"])
    assert host.file(app["socket"]).is_socket


def test_socket_belongs_to_the_web_server_user_with_mode_0660(host, app, role_vars):
    sock = host.file(app["socket"])
    assert sock.user == role_vars["gunicorn_socket_user"]
    assert sock.group == role_vars["gunicorn_socket_group"]
    assert sock.mode == int(role_vars["gunicorn_socket_mode"], 8)


def test_web_server_user_can_connect_to_the_socket(api, role_vars):
    status, _, result = api.request("/healthz", as_user=role_vars["gunicorn_socket_user"])
    assert status == 200, result.stderr


@pytest.mark.parametrize("user", ["nobody", "the app user"])
def test_other_users_cannot_connect_to_the_socket(api, app, user):
    status, _, result = api.request(
        "/healthz", as_user=app["name"] if user == "the app user" else user
    )
    assert status == 0
    assert result.rc == 7, result.stderr  # curl: could not connect


def test_service_is_enabled_and_active(host, app):
    unit = host.service(app["service"])
    assert unit.is_enabled
    assert unit.is_running, journal(host, app["service"])


def test_service_runs_as_the_app_user(host, app):
    pid = main_pid(host, app)
    assert host.check_output(f"ps -o user= -p {pid}") == app["name"]


def test_service_runs_the_configured_number_of_workers(host, app, role_vars):
    pid = main_pid(host, app)
    workers = host.check_output(f"pgrep --parent {pid} --count")
    assert int(workers) == role_vars["gunicorn_workers"]


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("KillMode", "mixed"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0027"),
    ],
)
def test_service_unit_setting(host, app, prop, value):
    shown = host.check_output(f"systemctl show -p {prop} --value {app['service']}")
    assert shown == value


def test_service_reloads_with_hup(host, app):
    shown = host.check_output(f"systemctl show -p ExecReload --value {app['service']}")
    assert "/bin/kill -s HUP $MAINPID" in shown.replace("${MAINPID}", "$MAINPID")


def test_service_is_triggered_by_its_socket(host, app):
    shown = host.check_output(f"systemctl show -p TriggeredBy --value {app['service']}")
    assert app["socket_unit"] in shown.split()


def test_service_exposure_is_ok(host, app):
    assert exposure(host, app["service"]) <= 2.0


def test_killed_master_is_back_and_ready_within_10_seconds(host, app, api):
    before = main_pid(host, app)
    host.run_test(f"kill -9 {before}")
    started = time.monotonic()
    status = 0
    while time.monotonic() - started < 10:
        status, _, _ = api.request("/readyz")
        if status == 200:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert status == 200, journal(host, app["service"])
    assert elapsed <= 10
    assert main_pid(host, app) not in (0, before)
