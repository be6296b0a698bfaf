#!/usr/bin/env python3
"""make lint's check of the inventories (README "The contract"):
- every inventory's group_vars/all/contract.yml is inventory/demo's (the kit's one wiring);
- no variable is set in two files of one group_vars folder (which one wins would depend on
  the files' names);
- no symlink: an inventory copied with `cp -r` must stand alone."""

import sys
from pathlib import Path

import yaml

KIT = Path(__file__).resolve().parents[2]
CONTRACT = KIT / "inventory" / "demo" / "group_vars" / "all" / "contract.yml"
errors = []
for inventory in sorted(p for p in (KIT / "inventory").iterdir() if p.is_dir()):
    name = inventory.relative_to(KIT)
    errors += [f"{p.relative_to(KIT)} is a symlink" for p in inventory.rglob("*") if p.is_symlink()]
    contract = inventory / "group_vars" / "all" / "contract.yml"
    if not contract.is_file():
        errors.append(
            f"{name} has no group_vars/all/contract.yml (copy {CONTRACT.relative_to(KIT)})"
        )
    elif contract.read_bytes() != CONTRACT.read_bytes():
        errors.append(f"{contract.relative_to(KIT)} differs from {CONTRACT.relative_to(KIT)}")
    for folder in sorted((inventory / "group_vars").glob("*/")):
        seen = {}
        for path in sorted(folder.glob("*.yml")):
            text = path.read_text()
            if text.startswith("$ANSIBLE_VAULT"):
                continue
            for variable in yaml.safe_load(text) or {}:
                if variable in seen:
                    errors.append(
                        f"{variable} is set in both {seen[variable].relative_to(KIT)} and "
                        f"{path.relative_to(KIT)}: keep it in one of them"
                    )
                seen[variable] = path
if errors:
    sys.exit("ERROR: the inventories break the contract's rules:\n  " + "\n  ".join(errors))
