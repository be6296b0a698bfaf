#!/usr/bin/env python3
"""Check a Django project on the controller before any server is touched (django_app role,
tasks_from: check_project; playbooks/check-project.yml).

Takes the release build_release.py made (the same one a deploy would install), installs its
lock hash-checked into a virtualenv of the controller's build cache (uv, else pip; one per lock),
unpacks the release beside it, and asks Django there, with the environment the kit would write
(its variable names, the inventory's hosts and database, stand-in secrets), what the deploy
would ask on the servers: `check --deploy` at the inventory's level, the settings audit
(audit_settings.py), the WSGI application, `collectstatic --dry-run`, and whether the models have
changes no migration holds. Nothing here connects to a database.

Reads one JSON object from stdin (see tasks/check_project.yml) and prints one JSON object:
{"detected": {what the kit found}, "refusals": [what the deploy would refuse, with the fix],
 "warnings": [what it would let through, with the fix]}.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

spec = json.loads(sys.stdin.read())
release = spec["release"]
work = Path(spec["work_dir"])
refusals: list[str] = []
warnings: list[str] = []
detected: dict = {
    "release": release["release_id"],
    "format": "the wheel" if release["format"] == "wheel" else "the source tree",
    "requirements": f"{release['requirements_file']} ({release['requirements_source']})",
    "settings_module": spec["settings_module"],
}


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # noqa: S603


def tail(text: str, lines: int = 8) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def uv() -> str | None:
    beside = Path(spec["python"]).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def venv() -> Path | None:
    """The lock installed hash-checked, once per lock (a marker, written last)."""
    target = work / "venvs" / release["requirements_sha256"]
    marker = target / ".django-app-complete"
    if marker.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "UV_NATIVE_TLS": "1", "UV_PYTHON_DOWNLOADS": "never", "PIP_NO_INPUT": "1"}
    tool = uv()
    if tool:
        steps = [
            [
                tool,
                "venv",
                "--quiet",
                "--no-config",
                "--no-project",
                "--python",
                spec["python"],
                str(target),
            ],
            [
                tool,
                "pip",
                "install",
                "--quiet",
                "--no-config",
                "--python",
                str(target / "bin" / "python"),
                "--require-hashes",
                "--no-deps",
                "-r",
                release["requirements"],
            ],
            [
                tool,
                "pip",
                "check",
                "--quiet",
                "--no-config",
                "--python",
                str(target / "bin" / "python"),
            ],
        ]
    else:
        steps = [
            [spec["python"], "-m", "venv", str(target)],
            [
                str(target / "bin" / "pip"),
                "install",
                "--quiet",
                "--require-hashes",
                "--no-deps",
                "-r",
                release["requirements"],
            ],
            [str(target / "bin" / "pip"), "check"],
        ]
    for step in steps:
        result = run(step, env=env)
        if result.returncode != 0:
            what = "is not a complete lock" if "check" in step else "does not install"
            refusals.append(
                f"The requirements ({release['requirements_file']}) {what} with --require-hashes:"
                f" {tail(result.stdout + result.stderr)}. Lock every dependency with hashes,"
                " or give the plain requirements file (the kit locks it)."
            )
            return None
    marker.touch()
    return target


def unpack() -> Path:
    """The release as the servers have it: the source tree unpacked, or the wheel installed."""
    target = work / "releases" / release["release_id"]
    if (target / ".django-app-complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if release["format"] == "wheel":
        pip = python.parent / "pip"
        installer = [str(pip)] if pip.exists() else [uv() or "uv", "pip", "--no-config"]
        result = run(
            [
                *installer,
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(target),
                *([] if pip.exists() else ["--python", str(python)]),
                release["artifact"],
            ]
        )
        if result.returncode != 0:
            sys.exit(f"the wheel {release['artifact']} does not install: {tail(result.stderr)}")
    else:
        with tarfile.open(release["artifact"]) as tar:
            tar.extractall(target, filter="data")
    (target / ".django-app-complete").touch()
    return target


def django(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """python -m django in the release, with the env the kit writes; a database that does not
    answer is given up on at once (nothing here needs one)."""
    env = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PGCONNECT_TIMEOUT": "2",
        **spec["env"],
    }
    return run([str(python), "-m", "django", *args], cwd=code, env=env, input=stdin)


def shell(script: str, stdin: str = "") -> subprocess.CompletedProcess:
    return django("shell", "--verbosity", "0", "--command", script, stdin=stdin)


location = venv()
if location is None:
    print(json.dumps({"detected": detected, "refusals": refusals, "warnings": warnings}))
    sys.exit(0)
python = location / "bin" / "python"
code = unpack()

if not (location / "bin" / "gunicorn").exists():
    refusals.append(
        f"gunicorn is not in the requirements ({release['requirements_file']}): the servers run the"
        " app with the release's own Gunicorn. Add gunicorn to the requirements."
    )

probe = shell(
    "import json\n"
    "from django.conf import settings\n"
    "from django.core.servers.basehttp import get_internal_wsgi_application\n"
    "get_internal_wsgi_application()\n"
    "print(json.dumps({'wsgi': settings.WSGI_APPLICATION,"
    " 'static_root': str(settings.STATIC_ROOT or ''),"
    " 'media_root': str(settings.MEDIA_ROOT or '')}))"
)
if probe.returncode != 0:
    refusals.append(
        f"The settings ({spec['settings_module']}) do not load with the environment the kit writes,"
        f" or the WSGI application does not import: {tail(probe.stderr)}."
    )
else:
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    detected["wsgi_application"] = found["wsgi"]
    for key in ("static_root", "media_root"):
        where = found[key].replace(str(code), "<release>", 1) if found[key] else "(not set)"
        detected[key] = where
    if not found["static_root"]:
        refusals.append(
            "STATIC_ROOT is not set: collectstatic has nowhere to collect the static files nginx"
            " serves. Set STATIC_ROOT in the settings (e.g. BASE_DIR / 'staticfiles')."
        )

check = django("check", "--deploy", "--fail-level", spec["check_deploy_fail_level"])
findings = [
    line for line in check.stderr.splitlines() if line.strip().startswith("?:") or ": (" in line
]
if check.returncode != 0:
    refusals.append(
        f"manage.py check --deploy fails at level {spec['check_deploy_fail_level']}:"
        f" {tail(check.stderr, 20)} Fix the settings it names, or set"
        " django_app_check_deploy_fail_level."
    )
elif findings:
    warnings.append(
        f"manage.py check --deploy (below level {spec['check_deploy_fail_level']}): "
        + " / ".join(line.strip() for line in findings)
    )

if spec["settings_audit"]:
    audit = shell(Path(spec["audit_script"]).read_text(), json.dumps(spec["audit"]))
    if audit.returncode != 0:
        refusals.append(f"The settings audit could not run: {tail(audit.stderr)}.")
    else:
        refusals += [item["message"] for item in json.loads(audit.stdout.strip().splitlines()[-1])]

if probe.returncode == 0:
    static = django("collectstatic", "--dry-run", "--noinput", "--verbosity", "0")
    if static.returncode != 0:
        refusals.append(f"collectstatic fails: {tail(static.stderr)}.")

migrations = django("makemigrations", "--check", "--dry-run", "--noinput")
if migrations.returncode != 0:
    warnings.append(
        "The models have changes that no migration holds (makemigrations --check):"
        f" {tail(migrations.stdout, 6)}. Run makemigrations and commit the migrations."
    )

print(json.dumps({"detected": detected, "refusals": refusals, "warnings": warnings}))
