"""The env file's variables as the role computes them (vars/main.yml over defaults/main.yml),
rendered by Ansible itself on the controller: the kit's names by default, a project's own
names through django_app_env_names, "" leaving a variable out, the list separator.

    pytest roles/django_app/tests      (make test-tools)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[1]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

BASE = {
    "django_app_name": "shop",
    "django_app_source_dir": "/nonexistent",
    "django_app_settings_module": "shop.settings",
    "django_app_secret_key": "s" * 50,
    "django_app_db_password": "pw",
    "django_app_allowed_hosts": ["shop.example.test", "localhost"],
    "django_app_csrf_trusted_origins": ["https://shop.example.test"],
}


def rendered_env(tmp_path, **extra):
    out = tmp_path / "env.json"
    play = [
        {
            "name": "Render the env of the django_app role",
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "tasks": [
                {
                    "name": "Write it",
                    "ansible.builtin.copy": {
                        "content": "{{ __django_app_env | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    },
                }
            ],
        }
    ]
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump(play))
    result = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            json.dumps({**BASE, "ansible_python_interpreter": sys.executable, **extra}),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STRATEGY": "linear"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def default_env(tmp_path_factory):
    return rendered_env(tmp_path_factory.mktemp("default"))


def test_the_kit_names_by_default(default_env):
    assert default_env["DJANGO_SETTINGS_MODULE"] == "shop.settings"
    assert default_env["DJANGO_SECRET_KEY"] == "s" * 50
    assert default_env["DJANGO_ALLOWED_HOSTS"] == "shop.example.test,localhost"
    assert default_env["DATABASE_URL"] == "postgres://shop:pw@localhost:5432/shop"
    assert default_env["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://shop.example.test"
    assert default_env["DJANGO_STATIC_ROOT"] == "/srv/shop/current/static"
    assert default_env["DJANGO_MEDIA_ROOT"] == "/srv/shop/shared/media"
    assert "DJANGO_JWT_SIGNING_KEY" not in default_env  # not set: not written


def test_a_project_names_its_own_variables(tmp_path):
    env = rendered_env(
        tmp_path,
        django_app_env_names={
            "secret_key": "SECRET_KEY",
            "database_url": "DB_URL",
            "static_root": "",
        },
        django_app_env_list_separator=" ",
    )
    assert env["SECRET_KEY"] == "s" * 50
    assert env["DB_URL"] == "postgres://shop:pw@localhost:5432/shop"
    assert env["DJANGO_ALLOWED_HOSTS"] == "shop.example.test localhost"
    for gone in ("DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_STATIC_ROOT"):
        assert gone not in env
    assert not any(value == "/srv/shop/current/static" for value in env.values())


def test_env_extra_still_wins(tmp_path):
    env = rendered_env(tmp_path, django_app_env_extra={"DJANGO_ALLOWED_HOSTS": "other.test"})
    assert env["DJANGO_ALLOWED_HOSTS"] == "other.test"
