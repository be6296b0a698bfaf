#!/usr/bin/env bash
# Print every Molecule scenario of the kit as DIR:SCENARIO, roles first, then
# the top-level scenarios, in a stable order.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in roles/*/molecule/*/molecule.yml molecule/*/molecule.yml; do
    [ -f "$f" ] || continue
    scenario_dir="$(dirname "$f")"
    echo "$(dirname "$(dirname "$scenario_dir")"):$(basename "$scenario_dir")"
done
