"""The deployed Django app: layout, environment file, database, users, HTTP through the socket."""

import pytest
from conftest import django_admin

testinfra_hosts = ["ansible://all"]


def test_app_user_is_a_system_user_without_login(host, app):
    user = host.user(app["name"])
    assert user.exists
    assert user.uid < 1000
    assert user.shell in ("/usr/sbin/nologin", "/bin/false")
    assert user.group == app["name"]


def test_current_points_at_an_installed_release(host, app):
    current = host.file(app["current"])
    assert current.is_symlink
    assert current.linked_to.startswith(app["releases"] + "/")
    assert host.file(f"{current.linked_to}/venv/bin/gunicorn").exists


def test_app_user_cannot_change_its_code(host, app):
    result = host.run(f"runuser -u {app['name']} -- touch {app['current']}/venv/x")
    assert result.rc != 0
    assert "Permission denied" in result.stderr


def test_shared_directory_is_writable_by_the_app(host, app):
    shared = host.file(f"{app['root']}/shared")
    assert shared.user == app["name"]
    assert shared.mode == 0o750


def test_env_file_is_0640_root_and_app_group(host, app):
    env = host.file(app["env_file"])
    assert env.user == "root"
    assert env.group == app["name"]
    assert env.mode == 0o640


def test_env_file_is_not_readable_by_others(host, app):
    result = host.run(f"runuser -u nobody -- cat {app['env_file']}")
    assert result.rc != 0
    assert "Permission denied" in result.stderr


@pytest.mark.parametrize(
    "variable",
    [
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "DJANGO_STATIC_ROOT",
        "DJANGO_JWT_SIGNING_KEY",
        "DJANGO_CSRF_TRUSTED_ORIGINS",
        "DJANGO_LOGIN_THROTTLE_RATE",
    ],
)
def test_env_file_sets(host, app, variable):
    content = host.file(app["env_file"]).content_string
    assert any(line.startswith(f"{variable}=") for line in content.splitlines())


def test_running_app_gets_the_secret_key_from_the_env_file(host, app, role_vars):
    result = django_admin(
        host,
        app,
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == role_vars["django_app_secret_key"]


def test_deploy_settings_check_passes(host, app):
    result = django_admin(host, app, "check", "--deploy", "--fail-level", "WARNING")
    assert result.rc == 0, result.stdout + result.stderr


def test_no_migration_is_pending(host, app):
    result = django_admin(host, app, "migrate", "--check")
    assert result.rc == 0, result.stdout + result.stderr


def test_app_migrations_are_applied(host, app):
    result = django_admin(host, app, "showmigrations", "api")
    assert result.rc == 0, result.stderr
    assert "[X] 0001_initial" in result.stdout


def test_static_files_are_collected_into_the_release(host, app):
    release = host.file(app["current"]).linked_to
    assert host.file(f"{release}/static/staticfiles.json").exists
    assert host.file(f"{release}/static/admin/css/base.css").exists


def test_web_server_user_can_read_static_files(host, app, role_vars):
    user = role_vars["gunicorn_socket_user"]
    result = host.run(f"runuser -u {user} -- cat {app['current']}/static/admin/css/base.css")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(("path", "body"), [("/healthz", {"status": "ok"}), ("/readyz", None)])
def test_probe_answers_200(api, path, body):
    status, answer = api.json(path)
    assert status == 200, answer
    if body is not None:
        assert answer == body
    else:
        assert answer["status"] == "ok"
        assert answer["pending_migrations"] == 0


def test_probe_over_plain_http_is_not_redirected(host, app):
    # The deploy's health gate probes without X-Forwarded-Proto.
    code = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --unix-socket {app['socket']} "
        "http://localhost/readyz"
    )
    assert code == "200"


def test_demo_user_obtains_a_jwt_and_reads_me(api, demo_user):
    token = api.token(demo_user["username"], demo_user["password"])
    status, me = api.json("/api/me/", token=token)
    assert status == 200, me
    assert me["username"] == demo_user["username"]
    assert me["email"] == demo_user["email"]


def test_wrong_password_gets_no_token(api, demo_user):
    status, _ = api.json(
        "/api/token/",
        method="POST",
        data={"username": demo_user["username"], "password": "not-the-password"},
    )
    assert status == 401


def test_api_refuses_requests_without_a_token(api):
    status, _ = api.json("/api/me/")
    assert status == 401


@pytest.mark.parametrize(("superuser", "expected"), [(True, "True True"), (False, "False False")])
def test_users_are_created_with_their_roles(host, app, role_vars, superuser, expected):
    user = next(u for u in role_vars["django_app_users"] if bool(u.get("superuser")) == superuser)
    code = (
        "from django.contrib.auth import get_user_model; "
        f"u = get_user_model().objects.get(username={user['username']!r}); "
        "print(u.is_superuser, u.is_staff)"
    )
    result = django_admin(host, app, "shell", "--verbosity", "0", "-c", code)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == expected
