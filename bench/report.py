"""Turn bench/results/<date>.json into <date>.md, <date>.png, latest.md/png and bench/README.md.

.venv-bench/bin/python bench/report.py [bench/results/<date>.json]   (default: the newest)
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"
SETUPS = ("nginx", "direct", "runserver")
ENDPOINTS = ("healthz", "api_me", "static")
LABELS = {
    "nginx": "nginx + TLS → Gunicorn (socket)",
    "direct": "Gunicorn direct (TCP, no proxy)",
    "runserver": "manage.py runserver",
}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "**not met**"


def fmt(value, suffix: str = "") -> str:
    if isinstance(value, float):
        value = round(value, 2 if abs(value) < 10 else 1)
    return "n/a" if value is None else f"{value}{suffix}"


def deploy_table(data: dict) -> list[str]:
    d = data["deploy"]
    cold, warm, redeploy = d["cold"]["seconds"], d["warm"]["seconds"], d["redeploy"]["seconds"]
    floor = d.get("floor", {}).get("seconds")
    rows = [
        "| Measure | Seconds | Ratio | Target | |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| cold: bare container → site.yml converged, HTTPS serving"
        f" ({'yes' if d['cold']['serving_https'] else 'NO'}) | {cold} | | | |",
    ]
    if floor is None:
        rows.append("| floor: apt-get + pip install only | skipped | | | |")
    else:
        r = ratio(cold, floor)
        rows.append(
            f"| floor: apt-get install ({len(d['floor']['packages'])} packages) + pip install"
            f" | {floor} | cold/floor {r} | ≤ 1.3 | {verdict(r, 1.3, False)} |"
        )
    r = ratio(warm, cold)
    rows.append(
        f"| warm: site.yml again (changed={d['warm']['recap'].get('changed')})"
        f" | {warm} | warm/cold {r} | ≤ 0.1 | {verdict(r, 0.1, False)} |"
    )
    r = ratio(redeploy, cold)
    rows.append(
        f"| redeploy: deploy.yml, changed release (switched: {d['redeploy']['switched']})"
        f" | {redeploy} | redeploy/cold {r} | ≤ 0.25 | {verdict(r, 0.25, False)} |"
    )
    lin = d.get("linear", {})
    if lin.get("skipped"):
        rows.append("| the same with Ansible's linear strategy | skipped | | | |")
    elif lin:
        for step, mine in (("cold", cold), ("warm", warm)):
            theirs = lin[step]["seconds"]
            rows.append(
                f"| {step} with Ansible's own `linear` strategy (changed="
                f"{lin[step]['recap'].get('changed')}) | {theirs} |"
                f" {d[step].get('strategy', '?')}/linear {ratio(mine, theirs)} | | |"
            )
    return rows


def venv_table(data: dict) -> list[str]:
    tools = data["deploy"].get("venv_tools")
    if not tools or tools.get("skipped"):
        return ["Virtualenvs with uv and pip: skipped."]
    rows = [
        "| The servers' virtualenv built by | Run | Seconds | The venv task s | |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for step, label in (("cold", "cold site.yml"), ("lock_redeploy", "deploy.yml, a new lock")):
        for tool in ("uv", "pip"):
            run = tools[tool].get(step, {})
            rows.append(
                f"| {tool} | {label} | {fmt(run.get('seconds'))}"
                f" | {fmt(run.get('venv_seconds'))} | |"
            )
        uv, pip = (tools[t].get(step, {}).get("venv_seconds") for t in ("uv", "pip"))
        rows.append(f"| | {label}: the venv, pip/uv | | {fmt(ratio(pip, uv))} | |")
    return rows


def serving_tables(data: dict) -> list[str]:
    s = data["serving"]
    cases = {(c["setup"], c["endpoint"]): c for c in s["cases"]}
    rows = [
        f"wrk {s['threads']} threads, {s['connections']} connections, {s['duration_s']} s per case,"
        f" inside the container (loopback). Static file: `admin/css/{s['static_file']}`.",
        "",
        "| Setup | Endpoint | req/s | p50 ms | p99 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for setup in SETUPS:
        for endpoint in ENDPOINTS:
            c = cases.get((setup, endpoint))
            if c:
                rows.append(
                    f"| {LABELS[setup]} | {endpoint} | {c['rps']:.0f} | {fmt(c['p50_ms'])}"
                    f" | {fmt(c['p99_ms'])} | {c['errors']} |"
                )
    rows += [
        "",
        "| Endpoint | nginx/direct req/s (≥ 0.85) | nginx/runserver req/s (≥ 2)"
        " | p99 nginx/runserver (≤ 0.33) |",
        "| --- | --- | --- | --- |",
    ]
    for endpoint in ENDPOINTS:
        n, d, r = (cases.get((s_, endpoint), {}) for s_ in SETUPS)
        nd = ratio(n.get("rps"), d.get("rps"))
        nr = ratio(n.get("rps"), r.get("rps"))
        pr = ratio(n.get("p99_ms"), r.get("p99_ms"))
        rows.append(
            f"| {endpoint} | {fmt(nd)} {verdict(nd, 0.85, True)} | {fmt(nr)} {verdict(nr, 2, True)}"
            f" | {fmt(pr)} {verdict(pr, 1 / 3, False)} |"
        )
    return rows


def zdt_table(data: dict) -> list[str]:
    rows = [
        "| During | Requests (during the command) | Failed (target 0) | Worst ms | p99 ms"
        " | Command s | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, key in (("deploy.yml, new release", "deploy"), ("systemctl restart", "restart")):
        z = data["zero_downtime"][key]
        extra = f"switched: {z['switched']}" if "switched" in z else ""
        rows.append(
            f"| {label} | {z['requests']} ({z['requests_during_command']}) | {z['failed']}"
            f" {verdict(z['failed'], 0, False)} | {z['max_latency_ms']} | {z['p99_ms']}"
            f" | {z['command_seconds']} | {extra} |"
        )
    return rows


def cold_profile(data: dict) -> list[str]:
    cold = data["deploy"]["cold"]
    rows = ["| Role | Seconds |", "| --- | ---: |"]
    rows += [f"| {role} | {sec} |" for role, sec in list(cold["by_role"].items())[:8]]
    rows += ["", "| Slowest cold tasks | Seconds |", "| --- | ---: |"]
    rows += [f"| {t['task']} | {t['seconds']} |" for t in cold["top_tasks"][:10]]
    return rows


def markdown(data: dict, png: str) -> str:
    m = data["machine"]
    lines = [
        f"# Benchmark {data['date']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, kernel"
        f" {m['kernel']}, Docker {m['docker']}, image `{m['image']}`."
        f" Whole run: {data['runtime_s']} s.",
        "",
        "## Deploy speed",
        "",
        f"Strategy (ansible.cfg): `{data['deploy']['cold'].get('strategy', 'linear')}`.",
        "",
        *deploy_table(data),
        "",
        "Where cold spends its time (ansible `profile_tasks`):",
        "",
        *cold_profile(data),
        "",
        "### Virtualenvs: uv and pip",
        "",
        "The same lock (sample_app's) on the same 2 cores; uv's download cache is the container's"
        " own (empty at cold), pip's the machine's shared one.",
        "",
        *venv_table(data),
        "",
        "## Serving",
        "",
        *serving_tables(data),
        "",
        f"![req/s and p99 per setup]({png})",
        "",
        "## Zero-downtime",
        "",
        "4 clients, one HTTPS request after the other each, `GET /api/me/` with a JWT, the kit's CA"
        " pinned; from 1 s before the command to 2 s after it.",
        "",
        *zdt_table(data),
        "",
    ]
    if data.get("notes"):
        lines += ["## Notes", "", *(f"- {note}" for note in data["notes"]), ""]
    return "\n".join(lines)


def chart(data: dict, out: Path) -> None:
    cases = {(c["setup"], c["endpoint"]): c for c in data["serving"]["cases"]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.26
    for i, setup in enumerate(SETUPS):
        xs = [j + (i - 1) * width for j in range(len(ENDPOINTS))]
        rps = [cases.get((setup, e), {}).get("rps") or 0 for e in ENDPOINTS]
        p99 = [cases.get((setup, e), {}).get("p99_ms") or 0 for e in ENDPOINTS]
        axes[0].bar(xs, rps, width, label=LABELS[setup])
        axes[1].bar(xs, p99, width, label=LABELS[setup])
    for ax, title in zip(
        axes, ("requests/s (higher is better)", "p99 latency, ms (lower is better)"), strict=True
    ):
        ax.set_xticks(range(len(ENDPOINTS)), ENDPOINTS)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9)
    s, m = data["serving"], data["machine"]
    fig.suptitle(
        f"{data['date'][:10]}: wrk -c{s['connections']} -t{s['threads']} -d{s['duration_s']}s,"
        f" {m['nproc']} CPUs"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    if len(sys.argv) > 1:
        source = Path(sys.argv[1])
    else:  # the newest run, by the time it started
        source = max(RESULTS.glob("*-*-*.json"), key=lambda p: json.loads(p.read_text())["date"])
    data = json.loads(source.read_text())
    png = source.with_suffix(".png")
    chart(data, png)
    md = source.with_suffix(".md")
    md.write_text(markdown(data, png.name))
    shutil.copyfile(png, RESULTS / "latest.png")
    (RESULTS / "latest.md").write_text(markdown(data, "latest.png"))
    if README.exists():
        text = README.read_text()
        body = markdown(data, "results/latest.png").split("\n", 2)[2]  # without the title
        block = (
            f"{START}\nLatest run: {data['date']} ([JSON](results/{source.name})).\n\n{body}{END}"
        )
        README.write_text(
            re.sub(re.escape(START) + ".*?" + re.escape(END), block, text, flags=re.S)
        )
    print(f"Wrote {md.name}, {png.name}, latest.md, latest.png")


if __name__ == "__main__":
    main()
