#!/usr/bin/env python3
"""Start a systemd container as every test host of the kit is defined: the platform of the
shared Molecule config (.config/molecule/config.yml), the one place the flags are written
(systemd as PID 1 without --privileged, the package caches). Used by demo.sh, ssh-check.sh
and bench/bench.py; Molecule reads the same file itself.

    systemd-host.py NAME IMAGE [docker run options ...]

runs `docker run --detach --name NAME --hostname NAME <the definition> <options> IMAGE
<command>`, then waits until systemd in it is running (or degraded), and prints the seconds
the boot took. Exits non-zero, saying what to look at, when either fails.

    systemd-host.py --check

(make lint) fails when a scenario's platform (a scenario's `platforms` replaces the shared
list, so the full-stack scenarios repeat the keys) differs from the shared definition
(capabilities may add to the definition's)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[1] / "molecule" / "config.yml"
BOOT_SECONDS = 60


def expand(value):
    """Molecule's ${VAR} / ${VAR:-default} substitution, from this process's environment."""

    def one(match):
        return os.environ.get(match["name"]) or (match["default"] or "")

    return re.sub(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}", one, str(value))


def definition_flags():
    """docker run options for the shared platform's keys (not name/image: the caller's)."""
    platform = yaml.safe_load(CONFIG.read_text())["platforms"][0]
    flags = [f"--cap-add={c}" for c in platform.get("capabilities", [])]
    flags += [f"--security-opt={o}" for o in platform.get("security_opts", [])]
    if "cgroupns_mode" in platform:
        flags.append(f"--cgroupns={platform['cgroupns_mode']}")
    flags += [f"--volume={expand(v)}" for v in platform.get("volumes", [])]
    flags += [f"--add-host={h}:{a}" for h, a in platform.get("etc_hosts", {}).items()]
    flags += [f"--tmpfs={t}" for t in platform.get("tmpfs", [])]
    if "stop_signal" in platform:
        flags.append(f"--stop-signal={platform['stop_signal']}")
    return flags, platform["command"].split()


def check():
    shared = yaml.safe_load(CONFIG.read_text())["platforms"][0]
    keys = set(shared) - {"name"}
    kit = CONFIG.parents[2]
    wrong = []
    for path in sorted(kit.glob("molecule/*/molecule.yml")) + sorted(
        kit.glob("roles/*/molecule/*/molecule.yml")
    ):
        for platform in (yaml.safe_load(path.read_text()) or {}).get("platforms", []):
            for key in sorted(keys):
                # Capabilities may add to the definition's (NET_ADMIN where a scenario runs a
                # firewall), never drop one.
                if key == "capabilities" and set(shared[key]) <= set(platform.get(key) or []):
                    continue
                if platform.get(key) != shared[key]:
                    wrong.append(
                        f"{path.relative_to(kit)}: {platform['name']}: {key}: {platform.get(key)!r}"
                    )
    if wrong:
        sys.exit(
            "ERROR: these test hosts differ from the definition in .config/molecule/config.yml "
            "(platforms[0]); make them equal, or change the definition there:\n  "
            + "\n  ".join(wrong)
        )


def main():
    if sys.argv[1:] == ["--check"]:
        check()
        return
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name, image, options = sys.argv[1], sys.argv[2], sys.argv[3:]
    flags, command = definition_flags()
    argv = ["docker", "run", "--detach", f"--name={name}", f"--hostname={name}", *flags]
    started = time.monotonic()
    # argv built here, no shell; docker from PATH, like the Makefile
    subprocess.run([*argv, *options, image, *command], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    state = ""
    while time.monotonic() - started < BOOT_SECONDS:
        state = subprocess.run(  # noqa: S603
            ["docker", "exec", name, "systemctl", "is-system-running"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if state in ("running", "degraded"):
            print(f"{time.monotonic() - started:.2f}")
            return
        time.sleep(0.5)
    sys.exit(
        f"ERROR: systemd in {name} did not finish booting within {BOOT_SECONDS} s "
        f"(state: {state or 'none'}); see: docker logs {name}"
    )


if __name__ == "__main__":
    main()
