"""Production: behind nginx (TLS, unix socket), PostgreSQL, everything secret from the environment.

`manage.py check --deploy` passes with no warning (tests/test_settings.py proves it).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_required, env_str
from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, REST_FRAMEWORK

DEBUG = False

SECRET_KEY = env_required(
    "DJANGO_SECRET_KEY", "Set it to a random string of 50 or more characters."
)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "The DJANGO_ALLOWED_HOSTS environment variable is required and is not set "
        "(comma-separated host names; add localhost for probes through the unix socket)."
    )

env_required("DATABASE_URL", "Example: postgres://app:password@localhost:5432/app")

# Shared by all Gunicorn workers (and all app servers on the same database), so the login
# throttle counts every attempt; `manage.py createcachetable` creates the table at deploy time.
CACHES["default"]["BACKEND"] = env_str(
    "DJANGO_CACHE_BACKEND", "django.core.cache.backends.db.DatabaseCache"
)
CACHES["default"]["LOCATION"] = env_str("DJANGO_CACHE_LOCATION", "django_cache")

# nginx appends the client address to X-Forwarded-For; key the login throttle on that address.
REST_FRAMEWORK["NUM_PROXIES"] = env_int("DJANGO_NUM_PROXIES", 1)

# --- HTTPS behind the TLS-terminating proxy -------------------------------------------------
# nginx sets "X-Forwarded-Proto: $scheme" on every proxied request (overwriting what the client
# sent), so the header tells Django whether the client used HTTPS. Set to an empty value when
# nothing in front of Django sets it: the header is then not trusted at all.
_proxy_ssl_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# The deploy probes these over plain HTTP on the unix socket (no X-Forwarded-Proto).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
