#!/usr/bin/env python3
"""Print the runs `make test` makes, one per line as NAME|DIR|SCENARIO|DISTRO, from the
scenarios given as DIR:SCENARIO and .config/test-matrix.yml (which distros each runs on; DIR
is `copy:DIR` where the role's scenario runs from a copy of the role alone; and the checks
that are not Molecule scenarios: DIR is then @check, SCENARIO the command and DISTRO
`ENV=distro`). Environment: DISTROS ("13 12"), KIT_TEST_DEMO (0: no checks)."""

import os
import sys
from pathlib import Path

import yaml

KIT = Path(__file__).resolve().parents[2]
matrix = yaml.safe_load((KIT / ".config" / "test-matrix.yml").read_text())
distros = os.environ.get("DISTROS", "13 12").split()
known = matrix.get("scenarios") or {}
copy_distros = [str(d) for d in (matrix.get("copies") or {}).get("distros", [])]

for item in sys.argv[1:]:
    directory, _, scenario = item.partition(":")
    key = f"{directory.removeprefix('./') or '.'}:{scenario}"
    if not (KIT / directory / "molecule" / scenario / "molecule.yml").is_file():
        sys.exit(f"ERROR: {item}: no {directory}/molecule/{scenario}/molecule.yml")
    wanted = [str(d) for d in known.get(key, {}).get("distros", distros)]
    for distro in distros:
        if distro in wanted:
            copied = (
                key.startswith("roles/")
                and distro in copy_distros
                and "in_tree" not in known.get(key, {})
            )
            where = f"copy:{directory}" if copied else directory
            print(f"molecule {key} (Debian {distro})|{where}|{scenario}|{distro}")
        else:
            print(f"note: {key} not on Debian {distro}: {known[key]['why']}", file=sys.stderr)
for name in set(known) - {a.removeprefix("./") for a in sys.argv[1:]}:
    # A scenario the matrix names but list-scenarios.sh does not find: a renamed one.
    if not (KIT / name.split(":")[0] / "molecule" / name.split(":")[1]).is_dir():
        sys.exit(f"ERROR: .config/test-matrix.yml names {name}, which does not exist")

if os.environ.get("KIT_TEST_DEMO", "1") == "1":
    for check in matrix.get("checks") or []:
        for distro in distros:
            if distro in [str(d) for d in check["distros"]]:
                name = f"{check['name']} (Debian {distro})"
                print(f"{name}|@check|{check['command']}|{check['distro_env']}={distro}")
