"""Settings shared by every environment. Values that differ per deployment come from DJANGO_*
environment variables (see README.md, "Settings"); SECRET_KEY is set by each environment module.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

# The sample_app directory in a checkout; site-packages when installed from the wheel, which is
# why production reads DJANGO_STATIC_ROOT instead of deriving paths from here.
BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = False

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so `runserver` serves static files through WhiteNoise as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_tasks",
    "django_tasks_db",
    "api",
]

MIDDLEWARE = [
    # First, so that it times and logs every request, including redirects and rejected hosts.
    "config.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL (e.g. postgres://app:secret@localhost:5432/app); SQLite in the checkout otherwise.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=env_bool("DJANGO_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"].get("ENGINE") == "django.db.backends.postgresql":
    # Without a connect timeout an unreachable server makes /readyz hang until Gunicorn kills the
    # worker; with it, /readyz answers 503 in a few seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DJANGO_DB_CONNECT_TIMEOUT", 5)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# The login throttle keeps its counters here, so production needs a cache that all Gunicorn
# workers share (production.py defaults to the database cache); one process can use local memory.
# Django's default of 300 entries would cull a client's counter as soon as 300 other clients
# tried to log in (a third of the keys goes at every cull): a flood of addresses would reset
# an attacker's throttle. One entry per client address and scope.
CACHE_OPTIONS = {"MAX_ENTRIES": env_int("DJANGO_CACHE_MAX_ENTRIES", 100_000)}
CACHES = {
    "default": {
        "BACKEND": env_str("DJANGO_CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        "LOCATION": env_str("DJANGO_CACHE_LOCATION", "sample-app"),
        "OPTIONS": CACHE_OPTIONS,
    }
}

# --- Authentication -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise) ----------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed file names (cacheable forever) plus pre-compressed copies; needs collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- REST framework and JWT -----------------------------------------------------------------
# Background tasks (api/tasks.py) in the database; `manage.py db_worker` runs them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("DJANGO_API_PAGE_SIZE", 20),
    "DEFAULT_THROTTLE_RATES": {
        # Attempts at POST /api/token/ per client address; the excess gets 429.
        "login": env_str("DJANGO_LOGIN_THROTTLE_RATE", "10/min"),
    },
    # How many proxies append to X-Forwarded-For; the throttle then keys on the address the
    # nearest proxy saw. Unset means "no proxy": REMOTE_ADDR. Production defaults to 1 (nginx).
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", None),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

JWT_ALGORITHM = env_str("DJANGO_JWT_ALGORITHM", "HS256")
if JWT_ALGORITHM not in {"HS256", "HS384", "HS512"}:
    raise ImproperlyConfigured(
        f"DJANGO_JWT_ALGORITHM must be HS256, HS384 or HS512, got {JWT_ALGORITHM!r}."
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("DJANGO_JWT_ACCESS_TOKEN_LIFETIME_SECONDS", 5 * 60)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env_int("DJANGO_JWT_REFRESH_TOKEN_LIFETIME_SECONDS", 24 * 60 * 60)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a hash of the user's password hash: a password change ends them. simplejwt
    # checks it for access tokens only; the refresh serializer checks refresh tokens too.
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_REFRESH_SERIALIZER": "api.serializers.RevocableTokenRefreshSerializer",
    "UPDATE_LAST_LOGIN": False,
    # Tokens are verified with this one algorithm only, so "alg": "none" or a switch to another
    # algorithm is rejected. The signing key defaults to SECRET_KEY (see production.py).
    "ALGORITHM": JWT_ALGORITHM,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 0,
}
_jwt_signing_key = env_str("DJANGO_JWT_SIGNING_KEY")
if _jwt_signing_key:
    SIMPLE_JWT["SIGNING_KEY"] = _jwt_signing_key

# --- Logging: one JSON object per line on stdout (journald collects it) ---------------------
LOG_LEVEL = env_str("DJANGO_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Replace Django's own handlers (console when DEBUG, mail_admins) with the root one.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
    },
}
