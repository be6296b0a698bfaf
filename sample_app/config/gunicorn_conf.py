"""Gunicorn settings for sample_app; every value can be overridden by a GUNICORN_* variable.

Shipped in the wheel, so a server needs no extra file:   gunicorn -c python:config.gunicorn_conf
In a checkout, ../gunicorn.conf.py loads this module (Gunicorn reads that file by itself).
The WSGI application is set here too, so the command needs no app argument.
"""

import os


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if value == "" else value in {"1", "true", "yes", "on"}


def _cpu_count() -> int:
    # The CPUs this process may run on (respects affinity/cpusets), not every CPU of the host.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


wsgi_app = os.environ.get("GUNICORN_WSGI_APP", "config.wsgi:application")
proc_name = "sample_app"

# Socket. Under systemd socket activation Gunicorn takes the socket from LISTEN_FDS and does not
# bind anything itself, so nothing is set here unless GUNICORN_BIND asks for it (comma-separated,
# e.g. "unix:/run/app.sock" or "127.0.0.1:8000"); Gunicorn's own default is 127.0.0.1:8000.
if os.environ.get("GUNICORN_BIND"):
    bind = [address.strip() for address in os.environ["GUNICORN_BIND"].split(",")]

# Workers: sync workers, the usual (2 x CPUs) + 1.
workers = _env_int("GUNICORN_WORKERS", 2 * _cpu_count() + 1)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Worker recycling is off (Gunicorn's default): each recycle boots a worker that pays Django's
# imports and first-request setup, and at 1000 requests it put the benchmark's p99 at ~900 ms
# instead of ~20 ms. An app that leaks sets e.g. GUNICORN_MAX_REQUESTS=20000; jitter then keeps
# workers from restarting all at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# Heartbeat files in RAM: never blocks on a disk, and stays writable under ProtectSystem=strict.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, by design
)

# Proxy. Requests on a unix socket are always trusted; over TCP only these addresses may set
# X-Forwarded-* headers (Django itself trusts X-Forwarded-Proto via SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Gunicorn 25.1+ opens a control socket for `gunicornc`, by default under $HOME/.gunicorn, which
# is read-only under ProtectSystem=strict. Off unless GUNICORN_CONTROL_SOCKET names a path in a
# writable directory (e.g. the service's RuntimeDirectory).
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Logging: JSON lines on stdout for journald, the same format as the application's own logs.
# The application logs every request (with request id, user, duration); Gunicorn's access log
# would repeat that, so it is off unless GUNICORN_ACCESS_LOG=true. Its format avoids the query
# string (%(U)s), so tokens in URLs do not reach the logs.
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s',
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": loglevel.upper(), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["stdout"],
            "propagate": False,
        },
        "gunicorn.access": {
            "level": "INFO" if _env_bool("GUNICORN_ACCESS_LOG", False) else "WARNING",
            "handlers": ["stdout"],
            "propagate": False,
        },
    },
}
