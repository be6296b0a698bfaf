"""Make the Django project the byo scenario deploys, the way a user makes one.

`django-admin startproject mysite` and `manage.py startapp api`, then only the edits Django's
deployment checklist and WhiteNoise's documentation tell a user to make, a DRF view behind
IsAuthenticated and simplejwt's token views, and a plain requirements.txt (pins, no hashes).
No pyproject.toml, no health endpoint, no management command of the kit's.

    python make_project.py DIR [--view-message TEXT] [--uv UV]

With --uv, the project is a uv application instead: pyproject.toml without a build system and
the uv.lock that UV makes of it (`uv lock`), no requirements.txt.

Run with a Python that has Django (prepare.yml makes one from django-admin.txt).
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = """\
Django==5.2.19
djangorestframework==3.18.3
djangorestframework-simplejwt==5.5.1
whitenoise==6.12.0
psycopg[binary]==3.3.9
dj-database-url==3.1.2
gunicorn==27.0.1
"""

# A uv application (`uv init --app` makes no build system): released as its source tree,
# its uv.lock exported with hashes.
PYPROJECT = """\
[project]
name = "mysite"
version = "1.0"
requires-python = ">=3.11"
dependencies = [
DEPENDENCIES
]
"""

VIEWS = """\
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def hello(request):
    return Response({"message": "MESSAGE", "user": request.user.get_username()})
"""

URLS = """\
from django.contrib import admin
from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from api.views import hello

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/hello/", hello),
]
"""

SETTINGS_TAIL = """
# Deployment (Django's deployment checklist; behind a TLS-terminating proxy).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 3600
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

# WhiteNoise (its documentation: STATIC_ROOT, the compressed manifest storage).
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
}
"""


def edit(path: Path, *subs: tuple[str, str]) -> None:
    text = path.read_text()
    for pattern, replacement in subs:
        text, count = re.subn(pattern, replacement, text, count=1, flags=re.S | re.M)
        if count != 1:
            sys.exit(f"{path}: {pattern!r} not found")
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--view-message", default="hello from a project the kit never changed")
    parser.add_argument(
        "--uv",
        type=Path,
        help="a uv project instead: pyproject.toml (no build system) and uv.lock, made by this uv",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True)
    django_admin = Path(sys.executable).parent / "django-admin"
    startproject = [str(django_admin), "startproject", "mysite", str(args.dir)]
    subprocess.run(startproject, check=True)  # noqa: S603 - our own argv
    startapp = [sys.executable, "manage.py", "startapp", "api"]
    subprocess.run(startapp, cwd=args.dir, check=True)  # noqa: S603 - our own argv
    settings = args.dir / "mysite" / "settings.py"
    edit(
        settings,
        (
            r"^from pathlib import Path$",
            "import os\nfrom pathlib import Path\n\nimport dj_database_url",
        ),
        (r"^SECRET_KEY = .*?$", 'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]'),
        (r"^DEBUG = True$", 'DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"'),
        (
            r"^ALLOWED_HOSTS = \[\]$",
            'ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")',
        ),
        (
            r"^    'django.contrib.staticfiles',$",
            "    'django.contrib.staticfiles',\n"
            "    'rest_framework',\n"
            "    'rest_framework_simplejwt',\n"
            "    'api',",
        ),
        (
            r"^    'django.middleware.security.SecurityMiddleware',$",
            "    'django.middleware.security.SecurityMiddleware',\n"
            "    'whitenoise.middleware.WhiteNoiseMiddleware',",
        ),
        (
            r"^DATABASES = \{.*?^\}$",
            'DATABASES = {"default": dj_database_url.config(conn_max_age=600)}',
        ),
    )
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    (args.dir / "api" / "views.py").write_text(VIEWS.replace("MESSAGE", args.view_message))
    (args.dir / "mysite" / "urls.py").write_text(URLS)
    if args.uv:
        dependencies = "".join(f'    "{line}",\n' for line in REQUIREMENTS.splitlines())
        (args.dir / "pyproject.toml").write_text(
            PYPROJECT.replace("DEPENDENCIES", dependencies.rstrip("\n"))
        )
        env = {**os.environ, "UV_NATIVE_TLS": "1", "UV_PYTHON_DOWNLOADS": "never"}
        lock = [str(args.uv), "lock", "--quiet", "--no-config", "--python", sys.executable]
        subprocess.run(lock, cwd=args.dir, env=env, check=True)  # noqa: S603 - our own argv
    else:
        (args.dir / "requirements.txt").write_text(REQUIREMENTS)


if __name__ == "__main__":
    main()
