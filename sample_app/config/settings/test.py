"""pytest settings: SQLite in memory unless DATABASE_URL is set; fast, fixed values elsewhere."""

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHE_OPTIONS, DATABASES, REST_FRAMEWORK

SECRET_KEY = "test-only-secret-key-" + "0123456789abcdef" * 4

# Fast hashing; the tests do not exercise the hash algorithm.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One connection per test; a kept-open connection would block dropping the PostgreSQL test DB.
DATABASES["default"]["CONN_MAX_AGE"] = 0

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": CACHE_OPTIONS,
    }
}

# No collectstatic before tests; test_static.py switches to the manifest storage itself.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "PAGE_SIZE": 20,
    "NUM_PROXIES": None,
    "DEFAULT_THROTTLE_RATES": {"login": "5/min"},
}
