"""build_release.py on the controller: concurrent builds, killed builds, leftovers, the
source-tree format and the requirements it hash-locks.

The project built here has an in-tree PEP 517 backend (no network, no setuptools) that can
be held at a gate: every build waits in build_wheel until the test opens the gate, so that
several builds reach the publish step together, or a build can be killed half-way.

    pytest roles/django_app/tests      (make test-tools)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "files" / "build_release.py"

BACKEND = '''\
"""A minimal PEP 517 backend: a wheel of the package `tiny`, held at a gate for the tests."""
import base64, hashlib, os, time, zipfile

NAME, VERSION = "tiny", "1.0"


def _gate():
    started = os.environ.get("TINY_STARTED_DIR")
    if started:
        open(os.path.join(started, str(os.getpid())), "w").close()
    gate = os.environ.get("TINY_GATE")
    end = time.monotonic() + 120
    while gate and not os.path.exists(gate) and time.monotonic() < end:
        time.sleep(0.02)


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _gate()
    dist_info = f"{NAME}-{VERSION}.dist-info"
    here = os.path.dirname(__file__)
    files = {
        "tiny/__init__.py": open(os.path.join(here, "tiny", "__init__.py"), "rb").read(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
        .encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n",
    }
    record = []
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        whl.writestr(f"{dist_info}/RECORD", "\\n".join(record) + "\\n")
    return name
'''


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    (src / "tiny").mkdir(parents=True)
    (src / "tiny" / "__init__.py").write_text('VERSION = "1.0"\n')
    (src / "tiny_backend.py").write_text(BACKEND)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "tiny_backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "tiny"\nversion = "1.0"\n'
    )
    (src / "requirements.lock").write_text("# nothing to install\n")
    return src


@pytest.fixture
def gate(tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    return {"gate": tmp_path / "gate", "started": started}


def command(project, cache):
    return [
        sys.executable,
        str(SCRIPT),
        "--source",
        str(project),
        "--cache",
        str(cache),
        "--requirements",
        "requirements.lock",
        "--hash-path",
        "pyproject.toml",
        "--hash-path",
        "tiny",
    ]


def start(project, cache, gate):
    env = {**os.environ, "TINY_GATE": str(gate["gate"]), "TINY_STARTED_DIR": str(gate["started"])}
    return subprocess.Popen(
        command(project, cache),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_until(condition, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def build_once(project, cache):
    result = subprocess.run(command(project, cache), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def leftovers(cache):
    """Work directories of builds (the cache's .lock file stays, it is tiny)."""
    return sorted(p.name for p in cache.glob(".build-*"))


def test_concurrent_builds_on_an_empty_cache_all_succeed_with_one_release(project, gate, tmp_path):
    cache = tmp_path / "cache"
    builds = [start(project, cache, gate) for _ in range(4)]
    # Every build is inside its wheel build before any may finish: they publish together.
    wait_until(lambda: len(list(gate["started"].iterdir())) == len(builds), what="4 builds")
    gate["gate"].touch()
    outputs = [build.communicate(timeout=120) for build in builds]
    for build, (_out, err) in zip(builds, outputs, strict=True):
        assert build.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    assert len({r["release_id"] for r in results}) == 1
    assert len({r["artifact"] for r in results}) == 1
    release = Path(results[0]["dir"])
    assert [p.name for p in release.glob("*.whl")] == ["tiny-1.0-py3-none-any.whl"]
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [release.name]
    assert leftovers(cache) == []


def test_a_build_killed_half_way_leaves_no_release_and_the_next_one_rebuilds(
    project, gate, tmp_path
):
    cache = tmp_path / "cache"
    build = start(project, cache, gate)
    wait_until(lambda: any(gate["started"].iterdir()), what="the build to start")
    os.killpg(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    assert [p for p in cache.iterdir() if not p.name.startswith(".")] == []

    gate["gate"].touch()
    result = build_once(project, cache)
    assert result["built"] is True
    assert Path(result["artifact"]).is_file()
    assert leftovers(cache) == [], "the killed build's temporary directory was not cleaned up"


def test_an_incomplete_release_directory_is_rebuilt_not_used(project, gate, tmp_path):
    cache = tmp_path / "cache"
    gate["gate"].touch()
    first = build_once(project, cache)
    # What an older or interrupted copy could leave: the directory without its wheel.
    Path(first["artifact"]).unlink()
    second = build_once(project, cache)
    assert second["built"] is True
    assert second["release_id"] == first["release_id"]
    assert Path(second["artifact"]).is_file()


def test_a_complete_release_is_reused(project, gate, tmp_path):
    cache = tmp_path / "cache"
    gate["gate"].touch()
    first = build_once(project, cache)
    again = build_once(project, cache)
    assert first["built"] is True
    assert again["built"] is False
    assert again["artifact"] == first["artifact"]


# The machine that builds holds the SSH keys and the vault: the build backend comes from its
# hash-locked venv, never from a download at build time.
OFFLINE = {
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
    "PIP_EXTRA_INDEX_URL": "",
    "PIP_FIND_LINKS": "",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}
KIT_APP = Path(__file__).resolve().parents[3] / "sample_app"


def test_the_kit_app_builds_with_the_package_index_unreachable(tmp_path):
    cache = tmp_path / "cache"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--source",
            str(KIT_APP),
            "--cache",
            str(cache),
            "--requirements",
            "requirements/base.lock",
            *(
                f"--hash-path={p}"
                for p in ("pyproject.toml", "requirements/base.lock", "config", "api")
            ),
        ],
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheel = Path(json.loads(result.stdout)["artifact"])
    assert wheel.name.startswith("sample_app-1.0.0-")
    assert wheel.is_file()


def test_a_build_backend_missing_from_the_controller_is_named(project, tmp_path):
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["kit-no-such-backend>=1"]\n'
        'build-backend = "kit_no_such_backend"\n\n[project]\nname = "tiny"\nversion = "1.0"\n'
    )
    cache = tmp_path / "cache"
    result = subprocess.run(
        command(project, cache),
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode != 0
    assert "build requirements ['kit-no-such-backend>=1'] must be installed" in result.stderr
    assert "django_app_controller_python" in result.stderr
    assert [p for p in cache.iterdir() if not p.name.startswith(".")] == []
    assert leftovers(cache) == []


# ---- the source-tree format and the requirements -------------------------------------------

PLAIN = "sqlparse==0.6.1\n"  # one package without dependencies: a small, fast lock


def startproject_like(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    """What `django-admin startproject` and a developer's checkout leave in a directory."""
    files = {
        "manage.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        "mysite/__init__.py": "",
        "mysite/settings.py": "SECRET_KEY = 'x'\n",
        "templates/base.html": "<html></html>\n",
        "requirements.txt": PLAIN,
        # Never shipped:
        ".env": "DJANGO_SECRET_KEY=local-secret\n",
        "db.sqlite3": "local database",
        ".venv/bin/python": "",
        "venv/lib/site.py": "",
        "mysite/__pycache__/settings.cpython-313.pyc": "",
        "staticfiles/admin/base.css": "collected",
        "media/upload.png": "uploaded",
        ".git-not-a-repo/keep": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def build_tree(source, cache, *extra, env=None):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(source), "--cache", str(cache), *extra],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result


def tar_names(result) -> list[str]:
    import tarfile

    with tarfile.open(json.loads(result.stdout)["artifact"]) as tar:
        return sorted(tar.getnames())


def test_a_project_without_pyproject_is_released_as_its_filtered_tree(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    result = build_tree(source, tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["format"] == "tree"
    assert out["requirements_file"] == "requirements.txt"
    assert tar_names(result) == [
        ".git-not-a-repo/keep",
        "manage.py",
        "mysite/__init__.py",
        "mysite/settings.py",
        "requirements.txt",
        "templates/base.html",
    ]


def test_a_git_work_tree_is_released_as_what_git_tracks(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    git = ["git", "-C", str(source), "-c", "user.email=t@example.test", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "manage.py", "mysite/settings.py", "requirements.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    result = build_tree(source, tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert tar_names(result) == ["manage.py", "mysite/settings.py", "requirements.txt"]


def test_a_plain_requirements_file_is_hash_locked_once_and_the_lock_is_kept(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    cache = tmp_path / "cache"
    first = build_tree(source, cache)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["requirements_source"] == "locked"
    assert out["lock_generated"] is True
    lock = Path(out["requirements"]).read_text()
    assert "sqlparse==0.6.1" in lock
    assert "--hash=sha256:" in lock
    assert (source / "requirements.txt").read_text() == PLAIN, "the project's file was changed"
    # The next build takes the kept lock: same release, no index needed.
    shutil.rmtree(out["dir"])
    again = build_tree(source, cache, env=OFFLINE | {"UV_OFFLINE": "1"})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["release_id"] == out["release_id"]
    assert json.loads(again.stdout)["lock_generated"] is False
    assert Path(json.loads(again.stdout)["requirements"]).read_text() == lock


def test_a_file_with_every_hash_is_used_as_it_is(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    hashed = (
        "sqlparse==0.6.1 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    )  # never resolved: the server's pip checks it
    (source / "requirements.txt").write_text(hashed)
    result = build_tree(source, tmp_path / "cache", env=OFFLINE | {"UV_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["requirements_source"] == "hashed"
    assert Path(out["requirements"]).read_text() == hashed


def test_a_project_without_a_dependency_file_is_refused_with_the_variable(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    (source / "requirements.txt").unlink()
    result = build_tree(source, tmp_path / "cache")
    assert result.returncode != 0
    assert "django_app_requirements_file" in result.stderr
    assert "requirements.txt" in result.stderr


def test_a_uv_project_is_released_with_its_lock_exported_with_hashes(tmp_path):
    source = startproject_like(tmp_path / "mysite")
    (source / "requirements.txt").unlink()
    shutil.rmtree(source / ".venv")  # uv would take it for the project's environment
    (source / "pyproject.toml").write_text(
        '[project]\nname = "mysite"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["sqlparse==0.6.1"]\n'
    )
    uv = Path(sys.executable).parent / "uv"
    subprocess.run([str(uv), "lock", "--quiet", "--directory", str(source)], check=True)
    result = build_tree(source, tmp_path / "cache", env=OFFLINE | {"UV_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["format"], out["requirements_source"]) == ("tree", "uv.lock")
    lock = Path(out["requirements"]).read_text()
    assert "sqlparse==0.6.1" in lock
    assert "--hash=sha256:" in lock
    assert "uv.lock" in tar_names(result)


def test_a_project_in_a_directory_its_repository_ignores_is_copied_not_emptied(tmp_path):
    outer = tmp_path / "repo"
    outer.mkdir()
    subprocess.run(["git", "-C", str(outer), "init", "-q"], check=True)
    (outer / ".gitignore").write_text(".cache/\n")
    source = startproject_like(outer / ".cache" / "mysite")
    result = build_tree(source, tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "manage.py" in tar_names(result)
