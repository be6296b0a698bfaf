"""Production settings: refuse to start without secrets, and pass `check --deploy` cleanly."""

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured

APP_DIR = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "app.example.org,localhost",
    "DATABASE_URL": "postgres://app:password@localhost:5432/app",
}


def _clean_environ() -> dict[str, str]:
    """The parent's environment without any setting that could leak into the child."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_URL", "COV_CORE", "COVERAGE_"))
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, this interpreter
        [sys.executable, *args],
        cwd=APP_DIR,
        env={**_clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load_production(monkeypatch, **env: str) -> ModuleType:
    """Import config.settings.production afresh with exactly `env` set."""
    for name in list(os.environ):
        if name.startswith("DJANGO_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for module in ("config.settings.production", "config.settings.base"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return importlib.import_module("config.settings.production")


def test_production_settings_pass_check_deploy_without_warnings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr


def test_missing_secret_key_stops_production_with_clear_error():
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != "DJANGO_SECRET_KEY"}

    result = _run(["-c", "import django; django.setup()"], env)

    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: The DJANGO_SECRET_KEY environment variable "
        "is required and is not set." in result.stderr
    )


def test_missing_secret_key_raises_improperly_configured(monkeypatch):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != "DJANGO_SECRET_KEY"}

    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        _load_production(monkeypatch, **env)


@pytest.mark.parametrize("name", ["DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_other_required_production_settings_are_named_when_missing(monkeypatch, name):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != name}

    with pytest.raises(ImproperlyConfigured, match=name):
        _load_production(monkeypatch, **env)


def test_production_defaults_are_secure(monkeypatch):
    production = _load_production(monkeypatch, **PRODUCTION_ENV)

    assert production.DEBUG is False
    assert production.ALLOWED_HOSTS == ["app.example.org", "localhost"]
    assert production.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert production.SECURE_SSL_REDIRECT is True
    assert production.SECURE_HSTS_SECONDS == 31536000
    assert production.SESSION_COOKIE_SECURE is True
    assert production.CSRF_COOKIE_SECURE is True
    assert production.CACHES["default"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
    assert production.SIMPLE_JWT["CHECK_REVOKE_TOKEN"] is True
    assert production.REST_FRAMEWORK["NUM_PROXIES"] == 1
    assert production.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert production.DATABASES["default"]["CONN_MAX_AGE"] == 60
    assert production.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert production.DATABASES["default"]["OPTIONS"] == {"connect_timeout": 5}
    assert "SIGNING_KEY" not in production.SIMPLE_JWT  # falls back to SECRET_KEY


def test_production_settings_follow_the_environment(monkeypatch):
    production = _load_production(
        monkeypatch,
        **PRODUCTION_ENV,
        DJANGO_JWT_SIGNING_KEY="a-separate-jwt-signing-key-" + "x" * 40,
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_PROXY_SSL_HEADER="",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://app.example.org, https://www.example.org",
        DJANGO_CONN_MAX_AGE="0",
        DJANGO_CONN_HEALTH_CHECKS="false",
        DJANGO_STATIC_ROOT="/srv/app/releases/1/static",
        DJANGO_JWT_ACCESS_TOKEN_LIFETIME_SECONDS="60",
    )

    assert production.SIMPLE_JWT["SIGNING_KEY"].startswith("a-separate-jwt-signing-key-")
    assert production.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() == 60
    assert production.SECURE_HSTS_SECONDS == 3600
    assert production.SECURE_PROXY_SSL_HEADER is None
    assert production.CSRF_TRUSTED_ORIGINS == ["https://app.example.org", "https://www.example.org"]
    assert production.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert production.DATABASES["default"]["CONN_HEALTH_CHECKS"] is False
    assert str(production.STATIC_ROOT) == "/srv/app/releases/1/static"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_JWT_ALGORITHM", "none", "DJANGO_JWT_ALGORITHM must be HS256, HS384 or HS512"),
        ("DJANGO_JWT_ALGORITHM", "RS256", "DJANGO_JWT_ALGORITHM must be HS256, HS384 or HS512"),
        ("DJANGO_SECURE_SSL_REDIRECT", "maybe", "DJANGO_SECURE_SSL_REDIRECT must be one of"),
        ("DJANGO_SECURE_HSTS_SECONDS", "a year", "DJANGO_SECURE_HSTS_SECONDS must be an integer"),
    ],
)
def test_invalid_values_are_rejected_with_the_variable_name(monkeypatch, name, value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        _load_production(monkeypatch, **PRODUCTION_ENV, **{name: value})


def test_development_settings_run_without_any_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("DJANGO_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for module in ("config.settings.development", "config.settings.base"):
        monkeypatch.delitem(sys.modules, module, raising=False)

    development = importlib.import_module("config.settings.development")

    assert development.DEBUG is True
    assert development.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
