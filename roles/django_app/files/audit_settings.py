"""Check that a project's settings use what the django_app role provides (the settings audit).

Run by the role as `python -m django shell --command "$(this file)"` with the app's settings
and env file, after a release is installed and before it can go live. Reads one JSON object
from stdin:
  {"secret_key_sha256": hex, "allowed_hosts": [names], "csrf_trusted_origins": [origins],
   "database": {"name", "user", "host", "port"}, "env": {purpose: variable name},
   "shared_dir": the app's directory that outlives releases}
(a hash of the secret key, never the key). Prints one JSON list, one object per finding:
{"setting", "input" (the key of django_app_env_names), "variable", "problem", "message" (with
the fix)}; an empty list
when the settings use everything.
"""

import hashlib
import json
import os
import sys

from django.conf import settings
from django.http.request import validate_host

expected = json.loads(sys.stdin.read())
env = expected["env"]
findings = []


def finding(setting, purpose, problem):
    """One finding, its message with the fix (the deploy and the local check print it)."""
    variable = env.get(purpose, "")
    fix = (
        f": the settings should read it from the environment variable {variable},"
        f" or set django_app_env_names.{purpose} to the variable they read"
        if variable
        else ""
    )
    findings.append(
        {
            "setting": setting,
            "input": purpose,
            "variable": variable,
            "problem": problem,
            "message": f"{setting} {problem}{fix}.",
        }
    )


secret_key = settings.SECRET_KEY
secret_key = secret_key if isinstance(secret_key, bytes) else str(secret_key).encode()
if hashlib.sha256(secret_key).hexdigest() != expected["secret_key_sha256"]:
    finding("SECRET_KEY", "secret_key", "is not the secret key the kit writes")

if settings.DEBUG:
    finding("DEBUG", "", "is true: the production settings must set DEBUG = False")

for name in expected["allowed_hosts"]:
    if not validate_host(name, settings.ALLOWED_HOSTS):
        finding("ALLOWED_HOSTS", "allowed_hosts", f"does not accept {name}")

database = settings.DATABASES.get("default", {})
if "postgresql" not in database.get("ENGINE", ""):
    finding(
        "DATABASES['default']",
        "database_url",
        f"uses {database.get('ENGINE') or 'no engine'}, not the kit's PostgreSQL database",
    )
else:
    wanted = expected["database"]
    have = {
        "name": str(database.get("NAME") or ""),
        "user": str(database.get("USER") or ""),
        "host": str(database.get("HOST") or ""),
        "port": str(database.get("PORT") or "5432"),
    }
    for key, value in wanted.items():
        if have[key].lower() != str(value).lower():
            finding(
                f"DATABASES['default']['{key.upper()}']",
                "database_url",
                f"is {have[key] or 'empty'!r}, the kit's database has {value!r}",
            )

if "django.contrib.admin" in settings.INSTALLED_APPS:
    trusted = set(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    for origin in expected["csrf_trusted_origins"]:
        if origin not in trusted:
            finding(
                "CSRF_TRUSTED_ORIGINS",
                "csrf_trusted_origins",
                f"does not hold {origin} (admin logins from there get 403)",
            )

# Uploads outlive a release: MEDIA_ROOT (when the project sets one) must not be in the
# release, which the next deploy replaces and prune deletes (and the app cannot write to).
media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
if media_root:
    real = os.path.realpath(media_root)
    here = os.path.realpath(os.getcwd())  # the release: the role runs this from there
    if real == here or real.startswith(here + os.sep):
        finding(
            "MEDIA_ROOT",
            "media_root",
            f"is {media_root}, inside the release: uploads would be lost at the next deploy"
            f" (the kit writes {expected['shared_dir']}/media)",
        )

print(json.dumps(findings))
