"""Secrets stay off command lines: the management commands read the env file on the host."""

import shlex
from urllib.parse import quote

import pytest
from conftest import recap_changed, role_logic

testinfra_hosts = ["ansible://all"]


def secret_values(role_vars):
    """Every secret of the scenario, as given and as it appears in DATABASE_URL."""
    password = role_vars["django_app_db_password"]
    return {
        "django_app_secret_key": role_vars["django_app_secret_key"],
        "django_app_jwt_signing_key": role_vars["django_app_jwt_signing_key"],
        "django_app_db_password": password,
        "django_app_db_password (in DATABASE_URL)": quote(password, safe=""),
        **{
            f"django_app_users[{user['username']}].password": user["password"]
            for user in role_vars["django_app_users"]
        },
    }


@role_logic
def test_linear_strategy_output_shows_no_secret(host, app, role_vars, run_role):
    # Ansible's own strategy puts `environment:` in front of the remote command, and -vvv
    # prints that command (so does ps on the host): what a project that copies the role runs.
    result = run_role(host.backend.host, {}, strategy="linear", options=["-vvv"])
    output = result.stdout + result.stderr

    assert result.returncode == 0, output[-3000:]
    assert recap_changed(result.stdout) == 0
    # The management commands ran, and -vvv showed their remote command lines.
    assert app["manage"] in output, output[-3000:]
    assert "EXEC" in output
    shown = [name for name, value in secret_values(role_vars).items() if value in output]
    assert shown == [], f"secret values in the -vvv output of a linear run: {shown}"


def test_manage_wrapper_is_root_owned_and_not_writable_by_the_app(host, app):
    wrapper = host.file(app["manage"])
    assert (wrapper.user, wrapper.group, wrapper.mode) == ("root", "root", 0o755)


def test_manage_wrapper_refuses_other_users_with_a_clear_message(host, app):
    result = host.run(shlex.join(["runuser", "-u", "nobody", "--", app["manage"], "check"]))
    assert result.rc == 2
    assert f"run it as the app's user: sudo -u {app['name']}" in result.stderr


@pytest.mark.parametrize("release", ["/nonexistent", ""])
def test_manage_wrapper_names_a_bad_release(host, app, release):
    args = ["--release", release] if release else ["--release"]
    result = host.run(shlex.join(["runuser", "-u", app["name"], "--", app["manage"], *args]))
    assert result.rc == 2
    assert ("is not an installed release" if release else "--release needs") in result.stderr
