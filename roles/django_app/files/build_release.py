#!/usr/bin/env python3
"""Build a Django project's release on the Ansible controller (django_app role).

The release id is a SHA-256 over the relative names and contents of the given source paths
(files, or directories walked in sorted order without caches), so the same source always gives
the same id, whatever timestamps a wheel build would embed. A release is built once into
<cache>/<id>/ (the wheel, the hash-locked requirements and a manifest of their SHA-256, written
last); later runs use it only when it matches its manifest. Builds of the same release may run at
once: each builds in a work directory of its own, the first to publish (an atomic rename) wins and
the others use its copy; a build killed half-way leaves no release, and its work directory is
removed by the next run.

The wheel is built offline (--no-index) without build isolation: the build backend (setuptools
for the kit's sample_app) comes from the Python that runs this script, which the kit installs
hash-locked from requirements/dev.txt, never from a download at build time on the machine that
holds the SSH keys and the vault. A backend that is missing there is named in the error.

Prints one JSON object: release_id, dir, wheel, requirements, requirements_sha256, built.
"""

import argparse
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
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
    "htmlcov",
}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".sqlite3")


def skipped(path: Path) -> bool:
    return path.name in SKIP_DIRS or path.name.endswith(SKIP_SUFFIXES) or path.name == ".coverage"


def source_files(source: Path, paths: list[str]) -> list[Path]:
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


def release_id(source: Path, paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in source_files(source, paths):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if skipped(Path(directory) / name)}


MANIFEST = ".release-complete.json"
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
        return recorded == manifest_of(release) and len(list(release.glob("*.whl"))) == 1
    except (OSError, ValueError):
        return False


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


def build(source: Path, requirements: str, target: Path) -> bool:
    """Build the release into a work directory of its own and publish it as target.

    Several builds of the same release may run at once (two deploys from one controller):
    each builds its own copy, the first rename wins, the others check the winner's copy is
    complete, discard theirs and use it. A build killed half-way leaves only its work
    directory, which the next build removes. Returns whether this build's copy was published.
    """
    with cache_lock(target.parent):
        work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{target.name}-", dir=target.parent))
        lock = os.open(work / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
        shutil.copytree(source, work / "src", ignore=ignore)
        out = work / "release"
        out.mkdir()
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
                "django_app_controller_python at a Python that has it."
            )
        shutil.copy2(source / requirements, out / Path(requirements).name)
        # The manifest comes last and everything is on disk before the rename publishes it.
        (out / MANIFEST).write_text(json.dumps(manifest_of(out), sort_keys=True))
        fsync_tree(out)
        return publish(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--requirements", required=True)
    parser.add_argument("--hash-path", action="append", required=True, dest="paths")
    args = parser.parse_args()

    source = args.source.resolve()
    if not (source / "pyproject.toml").is_file():
        sys.exit(f"{source} is not a Python project (no pyproject.toml)")
    if args.requirements not in args.paths:
        args.paths.append(args.requirements)
    rid = release_id(source, args.paths)
    target = args.cache / rid
    args.cache.mkdir(parents=True, exist_ok=True)
    remove_leftovers(args.cache)
    built = False
    if not complete(target):
        built = build(source, args.requirements, target)
    wheels = sorted(target.glob("*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one wheel in {target}, found {len(wheels)}")
    requirements = target / Path(args.requirements).name
    print(
        json.dumps(
            {
                "release_id": rid,
                "dir": str(target),
                "wheel": str(wheels[0]),
                "requirements": str(requirements),
                "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
                "built": built,
            }
        )
    )


if __name__ == "__main__":
    main()
