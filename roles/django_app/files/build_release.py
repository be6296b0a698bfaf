#!/usr/bin/env python3
"""Build a Django project's release on the Ansible controller (django_app role).

The release id is a SHA-256 over the relative names and contents of the given source paths
(files, or directories walked in sorted order without caches), so the same source always gives
the same id, whatever timestamps a wheel build would embed. A release is built once into
<cache>/<id>/ (the wheel and the hash-locked requirements); later runs find it there.

Prints one JSON object: release_id, dir, wheel, requirements, requirements_sha256, built.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
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


def build(source: Path, requirements: str, target: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        work = Path(tmp)
        shutil.copytree(source, work / "src", ignore=ignore)
        out = work / "release"
        out.mkdir()
        subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--disable-pip-version-check",
                "--quiet",
                "--wheel-dir",
                str(out),
                str(work / "src"),
            ],
            check=True,
            stdout=sys.stderr,
        )
        shutil.copy2(source / requirements, out / Path(requirements).name)
        out.rename(target)


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
    built = False
    if not target.is_dir():
        args.cache.mkdir(parents=True, exist_ok=True)
        build(source, args.requirements, target)
        built = True
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
