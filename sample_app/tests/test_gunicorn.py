"""Gunicorn config: defaults, environment overrides, and serving on a systemd-passed socket."""

import http.client
import json
import os
import runpy
import socket
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest

APP_DIR = Path(__file__).resolve().parent.parent
CONFIG = APP_DIR / "config" / "gunicorn_conf.py"
GUNICORN = Path(sys.executable).with_name("gunicorn")

# Stands in for systemd socket activation: the listening socket becomes fd 3 and LISTEN_FDS /
# LISTEN_PID name it, then the process becomes Gunicorn.
SOCKET_ACTIVATE = """
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execv(sys.argv[2], sys.argv[2:])
"""


def _load(monkeypatch, **env: str) -> dict:
    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_defaults_suit_systemd_and_nginx(monkeypatch):
    config = _load(monkeypatch)

    assert "bind" not in config  # the socket comes from systemd (or Gunicorn's default)
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert config["worker_tmp_dir"] == "/dev/shm"  # noqa: S108
    assert config["control_socket_disable"] is True
    assert config["max_requests_jitter"] > 0
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert config["logconfig_dict"]["loggers"]["gunicorn.access"]["level"] == "WARNING"


def test_checkout_gunicorn_conf_py_loads_the_packaged_config(monkeypatch):
    config = _load(monkeypatch, GUNICORN_WORKERS="2")
    monkeypatch.delitem(sys.modules, "config.gunicorn_conf", raising=False)
    shim = runpy.run_path(str(APP_DIR / "gunicorn.conf.py"))

    assert shim["wsgi_app"] == config["wsgi_app"]
    assert shim["workers"] == 2
    assert shim["logconfig_dict"] == config["logconfig_dict"]


def test_environment_overrides_defaults(monkeypatch):
    config = _load(
        monkeypatch,
        GUNICORN_BIND="unix:/run/app/app.sock, 127.0.0.1:9000",
        GUNICORN_WORKERS="3",
        GUNICORN_TIMEOUT="60",
        GUNICORN_CONTROL_SOCKET="/run/app/gunicorn.ctl",
        GUNICORN_ACCESS_LOG="true",
    )

    assert config["bind"] == ["unix:/run/app/app.sock", "127.0.0.1:9000"]
    assert config["workers"] == 3
    assert config["timeout"] == 60
    assert config["control_socket_disable"] is False
    assert config["control_socket"] == "/run/app/gunicorn.ctl"
    assert config["logconfig_dict"]["loggers"]["gunicorn.access"]["level"] == "INFO"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(self.path))


def _get(path: Path, url: str) -> http.client.HTTPResponse:
    deadline = time.monotonic() + 30
    while True:
        connection = _UnixHTTPConnection(path)
        try:
            connection.request("GET", url)
            return connection.getresponse()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not in this environment")
def test_gunicorn_serves_healthz_on_systemd_socket_with_json_logs(tmp_path):
    socket_path = tmp_path / "app.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(8)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "GUNICORN_", "DATABASE_URL"))
    }
    env.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(APP_DIR),
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="gunicorn-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        GUNICORN_WORKERS="1",
    )
    process = subprocess.Popen(  # noqa: S603 - fixed argv, this interpreter
        [
            sys.executable,
            "-c",
            SOCKET_ACTIVATE,
            str(listener.fileno()),
            str(GUNICORN),
            "-c",
            str(CONFIG),
        ],
        cwd=tmp_path,
        env=env,
        pass_fds=(listener.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listener.close()
    try:
        response = _get(socket_path, "/healthz")
        body = json.loads(response.read())
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)

    assert response.status == HTTPStatus.OK, stderr
    assert body == {"status": "ok"}
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert any(line["logger"] == "gunicorn.error" for line in lines), stdout
    assert any(line.get("path") == "/healthz" and line["status"] == HTTPStatus.OK for line in lines)
    assert not (tmp_path / ".gunicorn").exists(), "control socket created under $HOME"


# The real WSGI handler closes stale connections around each request (the test client does not),
# which counts as database access for pytest-django.
@pytest.mark.django_db
def test_wsgi_application_answers_healthz():
    from config.wsgi import application

    environ = {"PATH_INFO": "/healthz", "HTTP_HOST": "localhost"}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    body = b"".join(application(environ, lambda status, headers: statuses.append(status)))

    assert statuses == [f"{HTTPStatus.OK.value} {HTTPStatus.OK.phrase}"]
    assert json.loads(body) == {"status": "ok"}
