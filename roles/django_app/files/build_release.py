#!/usr/bin/env python3
"""Build a Django project's release on the Ansible controller (django_app role).

Two formats. A packaged project (pyproject.toml with a [build-system] table) is released as
its wheel. Any other project (`django-admin startproject`: manage.py at the root, no
pyproject.toml, or a uv application without a build system) is released as its source tree,
the way an operator would ship it: the files git tracks when the source is in a git work tree,
otherwise a copy without caches, virtualenvs, local databases, .env files, collected static
files and media (SKIP_DIRS, SKIP_NAMES).

The requirements are always hash-locked for the servers (they install with --require-hashes):
a file that has a hash on every requirement is used as it is; uv.lock (with pyproject.toml) is
exported with its hashes; a plain requirements file (pins without hashes, or ranges) is
resolved and hash-locked here, on the controller, with `uv pip compile --universal` (one lock
for every Python the servers run), into <cache>/locks/: a later build of the same file takes
that lock again, so a release is reproducible for as long as the cache lives.

The release id is a SHA-256 over the relative names and contents of the source files (all of
the release, or the given source paths) and of the lock, so the same source always gives the
same id, whatever timestamps a wheel build would embed. A release is built once into
<cache>/<id>/ (the wheel or source.tar, the lock and a manifest of their SHA-256, written
last); later runs use it only when it matches its manifest. Builds of the same release may run at
once: each builds in a work directory of its own, the first to publish (an atomic rename) wins and
the others use its copy; a build killed half-way leaves no release, and its work directory is
removed by the next run.

The wheel is built offline (--no-index) without build isolation: the build backend (setuptools
for the kit's sample_app) comes from the Python that runs this script, which the kit installs
hash-locked from requirements/dev.txt, never from a download at build time on the machine that
holds the SSH keys and the vault. A backend that is missing there is named in the error.

Prints one JSON object: release_id, format (wheel or tree), dir, artifact, requirements,
requirements_sha256, requirements_source (hashed, uv.lock or locked), lock_generated, built.
"""

import argparse
import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

SKIP_DIRS = {
    "__pycache__",
    ".git",
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "build",
    "dist",
    "staticfiles",
    "static_root",
    "media",
    "htmlcov",
    "venv",
    "env",
    "node_modules",
    ".tox",
    ".nox",
    ".idea",
    ".vscode",
}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".sqlite3", ".sqlite", ".db")
# Never shipped: local secrets and coverage data.
SKIP_NAMES = re.compile(r"^(\.env(\..*)?|\.coverage(\..*)?|\.DS_Store)$")


def skipped(path: Path) -> bool:
    return (
        path.name in SKIP_DIRS
        or path.name.endswith(SKIP_SUFFIXES)
        or bool(SKIP_NAMES.match(path.name))
    )


def git_files(source: Path) -> list[Path] | None:
    """The files git tracks under source (as they are on disk), or None outside a work tree."""
    try:
        listed = subprocess.run(  # noqa: S603 - fixed argv
            ["git", "-C", str(source), "ls-files", "-z", "--cached"],  # noqa: S607
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    names = [name for name in listed.decode().split("\0") if name]
    # None tracked: the source is not a project of that repository (e.g. in a directory it
    # ignores), so it is released as a filtered copy.
    return [source / name for name in names if (source / name).is_file()] or None


def tree_files(source: Path) -> list[Path]:
    """Every file of a source-tree release."""
    files = git_files(source)
    if files is None:
        files = [path for path in source.rglob("*") if path.is_file()]
    return sorted(
        path
        for path in files
        if not any(skipped(p) for p in path.relative_to(source).parents if p.name)
        and not skipped(path)
    )


def source_files(source: Path, paths: list[str]) -> list[Path]:
    if not paths:
        return tree_files(source)
    files = []
    for rel in paths:
        top = source / rel
        if not top.exists():
            sys.exit(f"source path {top} does not exist")
        if top.is_file():
            files.append(top)
            continue
        for path in sorted(top.rglob("*")):
            if path.is_file() and not any(skipped(p) for p in path.relative_to(source).parents):
                if not skipped(path):
                    files.append(path)
    return sorted(set(files))


def release_id(source: Path, files: list[Path], fmt: str, lock: bytes) -> str:
    digest = hashlib.sha256(fmt.encode() + b"\0" + hashlib.sha256(lock).digest())
    for path in files:
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if skipped(Path(directory) / name)}


MANIFEST = ".release-complete.json"
TREE = "source.tar"
WORK_PREFIX = ".build-"
CACHE_LOCK = ".lock"


def manifest_of(release: Path) -> dict:
    """The names and SHA-256 of a release's files, as written last when it was built."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(release.iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def complete(release: Path) -> bool:
    """A release counts only when its manifest exists and every file matches it."""
    try:
        recorded = json.loads((release / MANIFEST).read_text())
        return recorded == manifest_of(release) and len(artifacts(release)) == 1
    except (OSError, ValueError):
        return False


def artifacts(release: Path) -> list[Path]:
    return sorted([*release.glob("*.whl"), *release.glob(TREE)])


def fsync_tree(directory: Path) -> None:
    for path in [*sorted(directory.iterdir()), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def cache_lock(cache: Path):
    """Held briefly: while a build creates and locks its work directory, and while leftovers
    are looked for, so that a starting build is never taken for a dead one."""
    fd = os.open(cache / CACHE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_leftovers(cache: Path) -> None:
    """Remove the work directories of builds that no longer run (killed, crashed).

    A running build holds an exclusive lock on <work>/.lock for its whole life; a lock
    that can be taken belongs to a build that is gone.
    """
    with cache_lock(cache):
        for work in cache.glob(WORK_PREFIX + "*"):
            try:
                fd = os.open(work / ".lock", os.O_RDWR)
            except FileNotFoundError:
                shutil.rmtree(work, ignore_errors=True)  # no lock: never got going
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a build in progress
            finally:
                os.close(fd)
            shutil.rmtree(work, ignore_errors=True)


def publish(out: Path, target: Path) -> bool:
    """Move a finished release into place atomically; False when another build won."""
    try:
        out.rename(target)
        return True
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if complete(target):
        return False
    # What is there is incomplete (an older layout, a damaged copy): move it aside, retry.
    aside = target.parent / f"{WORK_PREFIX}{target.name}-stale-{os.getpid()}"
    try:
        target.rename(aside)
    except FileNotFoundError:
        pass  # another build moved it first
    shutil.rmtree(aside, ignore_errors=True)
    try:
        out.rename(target)
        return True
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not complete(target):
            raise
        return False


def build_requires(source: Path) -> list[str]:
    """The project's [build-system] requires (PEP 518's default when it names none)."""
    try:
        with (source / "pyproject.toml").open("rb") as handle:
            system = tomllib.load(handle).get("build-system", {})
    except (OSError, tomllib.TOMLDecodeError):
        system = {}
    return system.get("requires", ["setuptools>=40.8.0"])


def build_wheel(source: Path, work: Path, out: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    shutil.copytree(source, work / "src", ignore=ignore)
    wheel = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--check-build-dependencies",
            "--disable-pip-version-check",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(work / "src"),
        ],
        check=False,
        stdout=sys.stderr,
    )
    if wheel.returncode != 0:
        sys.exit(
            f"building the wheel of {source} failed (pip's messages above). The build runs "
            f"offline with the Python that runs Ansible ({sys.executable}), without build "
            f"isolation: the project's build requirements {build_requires(source)} must be "
            "installed there. The kit's venv has setuptools (requirements/dev.txt); for "
            "another backend, install it hash-locked into that Python, or point "
            "django_app_controller_python at a Python that has it. A project that is not "
            "meant to be a package can be released as its source tree: "
            "django_app_release_format: tree."
        )


def build_tree(source: Path, files: list[Path], out: Path) -> None:
    """source.tar: the files with normalised owners and modes (root, 0644 or 0755)."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755 if info.mode & 0o100 else 0o644
        return info

    with tarfile.open(out / TREE, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(source).as_posix(), filter=normalise)


def build(source: Path, fmt: str, files: list[Path], lock: bytes, target: Path) -> bool:
    """Build the release into a work directory of its own and publish it as target.

    Several builds of the same release may run at once (two deploys from one controller):
    each builds its own copy, the first rename wins, the others check the winner's copy is
    complete, discard theirs and use it. A build killed half-way leaves only its work
    directory, which the next build removes. Returns whether this build's copy was published.
    """
    with cache_lock(target.parent):
        work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{target.name}-", dir=target.parent))
        lock_fd = os.open(work / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
    try:
        out = work / "release"
        out.mkdir()
        if fmt == "wheel":
            build_wheel(source, work, out)
        else:
            build_tree(source, files, out)
        (out / LOCK_NAME).write_bytes(lock)
        # The manifest comes last and everything is on disk before the rename publishes it.
        (out / MANIFEST).write_text(json.dumps(manifest_of(out), sort_keys=True))
        fsync_tree(out)
        return publish(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock_fd)


# ---- requirements -----------------------------------------------------------------------

LOCK_NAME = "requirements.lock"
# Looked for in this order when django_app_requirements_file is empty.
REQUIREMENTS_CANDIDATES = (
    "uv.lock",
    "requirements.lock",
    "requirements/production.txt",
    "requirements/prod.txt",
    "requirements.txt",
    "requirements/base.txt",
)


def find_requirements(source: Path) -> str:
    for name in REQUIREMENTS_CANDIDATES:
        if (source / name).is_file() and (
            name != "uv.lock" or (source / "pyproject.toml").is_file()
        ):
            return name
    sys.exit(
        f"no dependency file in {source}: looked for {', '.join(REQUIREMENTS_CANDIDATES)} "
        "(uv.lock with pyproject.toml). Set django_app_requirements_file to the project's "
        "requirements file (relative to django_app_source_dir)."
    )


def requirement_lines(text: str) -> list[str]:
    """Logical lines (continuations joined) that name a requirement."""
    joined = re.sub(r"\\\n", " ", text)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line and not line.startswith("-"):
            lines.append(line)
        elif line.startswith(("-r", "-c", "--requirement", "--constraint", "-e", "--editable")):
            lines.append(line)  # an include or an editable: never "hashed" by itself
    return lines


def fully_hashed(text: str) -> bool:
    # A file that lists nothing installs nothing: nothing to lock either.
    return all("--hash=" in line and not line.startswith("-") for line in requirement_lines(text))


@functools.cache
def uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if not found:
        sys.exit(
            f"uv is needed to lock the project's requirements on the controller and is not "
            f"installed beside {sys.executable} or on PATH: install the kit's venv (make venv, "
            "requirements/dev.txt has uv), or give django_app_requirements_file a file with a "
            "hash on every requirement."
        )
    return found


def run_uv(args: list[str], what: str) -> bytes:
    # The system's CA store (a TLS-inspecting proxy's CA is there), unless told otherwise.
    env = {**os.environ, "UV_NATIVE_TLS": os.environ.get("UV_NATIVE_TLS", "1")}
    result = subprocess.run([uv(), *args], capture_output=True, check=False, env=env)  # noqa: S603
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode(errors="replace"))
        sys.exit(
            f"{what} failed (uv's messages above). The controller needs PyPI (or the index "
            "in UV_INDEX_URL) to resolve a plain requirements file; with no index, lock it "
            "yourself with hashes (uv pip compile --generate-hashes, pip-compile "
            "--generate-hashes) and point django_app_requirements_file at the lock."
        )
    return result.stdout


def locked_requirements(
    source: Path, requirements: str, cache: Path, python_version: str
) -> tuple[bytes, str, bool]:
    """The hash-locked requirements, how they were made, and whether this run locked them."""
    path = source / requirements
    if not path.is_file():
        sys.exit(f"django_app_requirements_file: {path} does not exist")
    if path.name == "uv.lock":
        lock = run_uv(
            [
                "export",
                "--directory",
                str(source),
                "--frozen",
                "--format",
                "requirements-txt",
                "--no-dev",
                "--no-emit-project",
                "--no-header",
                "--quiet",
            ],
            f"exporting {path} with hashes (uv export --frozen)",
        )
        return b"# exported from uv.lock by the kit (uv export --frozen)\n" + lock, "uv.lock", False
    text = path.read_bytes()
    if fully_hashed(text.decode(errors="replace")):
        return text, "hashed", False
    key = hashlib.sha256(
        b"uv-universal\0" + python_version.encode() + b"\0" + requirements.encode() + b"\0" + text
    ).hexdigest()
    locks = cache / "locks"
    kept = locks / f"{key}.txt"
    if kept.is_file():
        return kept.read_bytes(), "locked", False
    locks.mkdir(parents=True, exist_ok=True)
    lock = run_uv(
        [
            "pip",
            "compile",
            "--universal",
            "--generate-hashes",
            "--python-version",
            python_version,
            "--no-header",
            "--quiet",
            "--directory",
            str(source),
            requirements,
        ],
        f"locking {path} with hashes (uv pip compile --universal --generate-hashes)",
    )
    lock = (
        f"# {requirements} locked with hashes by the kit on the controller (uv pip compile "
        f"--universal --python-version {python_version}); kept as {kept}\n"
    ).encode() + lock
    with tempfile.NamedTemporaryFile(dir=locks, prefix=".lock-", delete=False) as handle:
        handle.write(lock)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, kept)  # the same content whichever build wins
    return lock, "locked", True


def release_format(source: Path, wanted: str) -> str:
    pyproject = source / "pyproject.toml"
    try:
        packaged = pyproject.is_file() and "build-system" in tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as error:
        sys.exit(f"{pyproject} is not valid TOML: {error}")
    if wanted == "wheel" and not packaged:
        sys.exit(
            f"django_app_release_format is wheel, but {source} has no pyproject.toml with a "
            "[build-system] table to build one: add it, or leave django_app_release_format "
            "at auto (or tree) to release the source tree."
        )
    if wanted == "auto":
        return "wheel" if packaged else "tree"
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--requirements", default="")
    parser.add_argument("--format", choices=["auto", "wheel", "tree"], default="auto")
    parser.add_argument("--python-version", default="3.11", help="the oldest Python of the servers")
    parser.add_argument("--hash-path", action="append", default=[], dest="paths")
    args = parser.parse_args()

    source = args.source.resolve()
    if not source.is_dir():
        sys.exit(f"django_app_source_dir: {source} is not a directory")
    if not (source / "manage.py").is_file() and not (source / "pyproject.toml").is_file():
        sys.exit(
            f"django_app_source_dir: {source} has neither manage.py nor pyproject.toml; point "
            "it at the directory of the Django project (where manage.py is)."
        )
    fmt = release_format(source, args.format)
    requirements = args.requirements or find_requirements(source)
    args.cache.mkdir(parents=True, exist_ok=True)
    lock, how, lock_generated = locked_requirements(
        source, requirements, args.cache, args.python_version
    )
    paths = args.paths
    if paths and requirements not in paths:
        paths.append(requirements)
    files = source_files(source, paths)
    if not files:
        sys.exit(f"django_app_source_dir: {source} has no file to release")
    rid = release_id(source, files, fmt, lock)
    target = args.cache / rid
    remove_leftovers(args.cache)
    built = False
    if not complete(target):
        built = build(source, fmt, files, lock, target)
    found = artifacts(target)
    if len(found) != 1:
        sys.exit(f"expected one artifact (a wheel or {TREE}) in {target}, found {len(found)}")
    locked = target / LOCK_NAME
    print(
        json.dumps(
            {
                "release_id": rid,
                "format": fmt,
                "dir": str(target),
                "artifact": str(found[0]),
                "requirements": str(locked),
                "requirements_sha256": hashlib.sha256(locked.read_bytes()).hexdigest(),
                "requirements_file": requirements,
                "requirements_source": how,
                "lock_generated": lock_generated,
                "built": built,
            }
        )
    )


if __name__ == "__main__":
    main()
