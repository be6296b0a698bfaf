"""Bad inputs fail before the role changes anything, with the variable named.

The cases run in one ansible-playbook run, a play each (run_role(cases=...) of kit_testinfra):
one start of Ansible instead of one per case."""

import os
import shutil

import pytest
from kit_testinfra import case_failure, recap_changed

testinfra_hosts = ["ansible://all"]


@pytest.fixture(scope="module")
def env_before(host, app):
    return host.file(app["env_file"]).sha256sum


WRONG_TYPES = [
    ({"django_app_keep_releases": "many"}, "django_app_keep_releases"),
    ({"django_app_users": [{"email": "x@example.test"}]}, "username"),
    ({"django_app_timers": [{"name": "x", "command": "clearsessions"}]}, "schedule"),
    ({"django_app_db_sslmode": "verify"}, "django_app_db_sslmode"),
]

INVALID = [
    (
        {"django_app_secret_key": "too-short"},
        "django_app_secret_key must have 50 or more characters",
    ),
    (
        {"django_app_allowed_hosts": ["api.example.test"]},
        "django_app_allowed_hosts must include localhost",
    ),
    (
        {"django_app_users": [{"username": "x", "password": "short"}]},
        "password of 8 or more characters",
    ),
    # A line break would add a variable of its own to the env file.
    (
        {"django_app_env_extra": {"KIT_X": "1\nDJANGO_DEBUG=1"}},
        "django_app_env_extra must not contain a line break",
    ),
    # A job's command and schedule go into unit files: a line break adds a directive
    # (ExecStartPre=+ runs as root, outside the sandbox), a ; or $ would be systemd's.
    (
        {
            "django_app_timers": [
                {"name": "x", "command": "check\nExecStartPre=+/bin/true", "schedule": "daily"}
            ]
        },
        "django_app_timers must not contain a line break",
    ),
    (
        {"django_app_timers": [{"name": "x", "command": "check; id $USER", "schedule": "daily"}]},
        "Invalid input: django_app_timers",
    ),
    (
        {"django_app_timers": [{"name": "Bad_Name", "command": "check", "schedule": "daily"}]},
        "Invalid input: django_app_timers",
    ),
    # Pinning needs the certificate to pin.
    (
        {"django_app_db_sslmode": "verify-full"},
        "django_app_db_sslmode verify-full needs it",
    ),
    (
        {"django_app_db_sslmode": "verify-full", "django_app_db_ssl_root_cert": "not a PEM"},
        "django_app_db_ssl_root_cert must be PEM certificates",
    ),
    (
        {"django_app_timers": [{"name": "x", "command": "check", "schedule": "every tuesday"}]},
        "the schedule of django_app_timers x is not a systemd calendar expression",
    ),
    # The contract's paths (inventory group_vars/all/contract.yml) must be absolute.
    ({"django_app_root": "srv/kitapp"}, "django_app_root"),
    ({"django_app_env_file": "/etc/kitapp/env/"}, "django_app_env_file"),
    ({"django_app_source_dir": "/nonexistent/project"}, "django_app_source_dir must be your"),
]


@pytest.fixture(scope="module")
def bad_inputs(host, app, run_role, env_before):
    cases = {f"type{i}": extra_vars for i, (extra_vars, _) in enumerate(WRONG_TYPES)}
    cases |= {f"invalid{i}": extra_vars for i, (extra_vars, _) in enumerate(INVALID)}
    result = run_role(host.backend.host, {}, cases=cases)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return result, output


def test_bad_inputs_change_nothing(host, app, bad_inputs, env_before):
    assert recap_changed(bad_inputs[1]) == 0
    assert host.file(app["env_file"]).sha256sum == env_before


def test_bad_inputs_never_echo_a_secret(bad_inputs):
    assert "too-short" not in bad_inputs[1]


@pytest.mark.parametrize(
    ("index", "named"), [(i, named) for i, (_, named) in enumerate(WRONG_TYPES)]
)
def test_wrong_input_type_fails_validation(bad_inputs, index, named):
    message = case_failure(bad_inputs[0], f"type{index}")
    assert "Validation of arguments failed" in message
    assert named in message


@pytest.mark.parametrize(("index", "named"), [(i, named) for i, (_, named) in enumerate(INVALID)])
def test_invalid_input_fails_with_the_variable_named(bad_inputs, index, named):
    assert named in case_failure(bad_inputs[0], f"invalid{index}")


def test_missing_secrets_fail_validation(host, app, run_role, env_before, tmp_path):
    # The Molecule inventory without its group_vars: no secret is set at all.
    inventory = tmp_path / "inventory.yml"
    shutil.copy(os.environ["MOLECULE_INVENTORY_FILE"], inventory)
    result = run_role(host.backend.host, {}, inventory_file=inventory)
    assert result.returncode != 0
    assert "missing required arguments: django_app_secret_key" in result.stdout + result.stderr
    assert host.file(app["env_file"]).sha256sum == env_before
