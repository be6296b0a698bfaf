"""The kit's benchmark suite: deploy speed, serving, zero-downtime (issue 8). Run: bench/run.sh.

Everything is measured in one run, on fresh containers from the kit's own image, deployed with
the kit's own playbooks (playbooks/site.yml, playbooks/deploy.yml) through an inventory generated
in bench/.work/ from inventory/demo's group_vars. Raw logs stay in bench/.work/; the summary goes
to bench/results/<date>.json, and report.py turns it into Markdown and a PNG chart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import zdt

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
LOGS = WORK / "logs"
RESULTS = BENCH / "results"
IMAGE = f"{os.environ.get('KIT_IMAGE', 'kit-debian')}:{os.environ.get('BENCH_DISTRO', '13')}"
KIT = os.environ.get("BENCH_NAME", "bench-kit")
FLOOR = f"{KIT}-floor"
LINEAR = f"{KIT}-linear"
PIP_COLD = f"{KIT}-pip"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
SKIP_FLOOR = os.environ.get("BENCH_SKIP_FLOOR", "") not in ("", "0")
SKIP_LINEAR = os.environ.get("BENCH_SKIP_LINEAR", "") not in ("", "0")
SKIP_VENV_TOOLS = os.environ.get("BENCH_SKIP_VENV_TOOLS", "") not in ("", "0")
VENV_TASK = "django_app : Create the virtualenv of the locked requirements"
APP_ENV_EXTRA = {
    # Load tests log in more than the default 10/min allows; tokens outlive the run.
    "DJANGO_LOGIN_THROTTLE_RATE": "100000/min",
    "DJANGO_JWT_ACCESS_TOKEN_LIFETIME_SECONDS": "3600",
}
CA_IN_CONTAINER = "/etc/ssl/kit/ca/ca.crt"
DIRECT_PORT = 8001
RUNSERVER_PORT = 8002
PROFILE_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s\s*$")
RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>ok=.*)$")


def say(message: str) -> None:
    print(f"\n\033[1m==> {message}\033[0m", flush=True)


def run(argv: list[str], *, log: str | None = None, check: bool = True, **kwargs):
    """Run a command; its output goes to bench/.work/logs/<log> when named, else is returned."""
    if log:
        with open(LOGS / log, "w") as out:
            proc = subprocess.run(  # noqa: S603 - argv built here, no shell
                argv, stdout=out, stderr=subprocess.STDOUT, text=True, **kwargs
            )
        if check and proc.returncode != 0:
            tail = (LOGS / log).read_text().splitlines()[-30:]
            sys.exit(
                f"ERROR: {' '.join(argv[:4])}... failed; see {LOGS / log}:\n" + "\n".join(tail)
            )
        return proc
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # noqa: S603 - no shell
    if check and proc.returncode != 0:
        sys.exit(f"ERROR: {' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def dexec(name: str, script: str, *, check: bool = True, log: str | None = None):
    return run(["docker", "exec", name, "bash", "-c", script], check=check, log=log)


# --- containers ---------------------------------------------------------------------------


def start_container(name: str, publish: bool) -> float:
    """A systemd container like .config/scripts/demo.sh starts; returns the boot time."""
    remove_container(name)
    # The test hosts' definition (.config/molecule/config.yml); it prints the boot seconds.
    options = ["--label", "kit-bench=1", *(["--publish", "127.0.0.1::443"] if publish else [])]
    helper = ROOT / ".config" / "scripts" / "systemd-host.py"
    return float(run(["python3", str(helper), name, IMAGE, *options]).stdout)


def remove_container(name: str) -> None:
    subprocess.run(  # noqa: S603 - fixed argv
        ["docker", "rm", "--force", name],  # noqa: S607 - docker from PATH, like the Makefile
        capture_output=True,
        check=False,
    )


def published_port(name: str) -> int:
    out = run(["docker", "port", name, "443/tcp"]).stdout.split()[0]
    return int(out.rsplit(":", 1)[1])


# --- the kit's playbooks --------------------------------------------------------------------


def write_inventory(host: str = KIT) -> Path:
    """inventory/demo's group_vars, with one of this run's containers in every group."""
    inventory = WORK / f"inventory-{host}"
    shutil.rmtree(inventory, ignore_errors=True)
    inventory.mkdir(parents=True)
    shutil.copytree(ROOT / "inventory" / "demo" / "group_vars", inventory / "group_vars")
    groups = {g: {"hosts": {host: None}} for g in ("dbservers", "appservers", "webservers")}
    (inventory / "hosts.yml").write_text(json.dumps({"all": {"children": groups}}, indent=2))
    extra = {
        "kit_secrets_dir": str(WORK / "secrets"),
        "django_app_env_extra": APP_ENV_EXTRA,
        # A build cache of this run only: cold includes building the release, as on a new
        # controller.
        "django_app_build_cache_dir": str(WORK / "build-cache"),
    }
    (WORK / "extra-vars.json").write_text(json.dumps(extra, indent=2))
    return inventory


def playbook(name: str, log: str, *extra: str, host: str = KIT, strategy: str = "") -> dict:
    """ansible-playbook with the kit's ansible.cfg (strategy: another one than ansible.cfg's);
    returns wall time, recap and profile."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",  # every task, so by_role adds up to the run
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
    argv = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(WORK / f"inventory-{host}")]
    argv += ["-e", f"@{WORK / 'extra-vars.json'}", *extra, str(ROOT / "playbooks" / name)]
    start = time.monotonic()
    run(argv, log=log, env=env, cwd=ROOT)
    seconds = time.monotonic() - start
    text = (LOGS / log).read_text().splitlines()
    recap = {}
    for line in text:
        match = RECAP_LINE.match(line)
        if match and match["host"] == host:
            recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
    tasks = [
        {"task": m["task"].strip(), "seconds": float(m["seconds"])}
        for m in map(PROFILE_LINE.match, text)
        if m
    ]
    by_role: dict[str, float] = {}
    for task in tasks:
        role = task["task"].split(" : ", 1)[0] if " : " in task["task"] else "(play)"
        by_role[role] = round(by_role.get(role, 0.0) + task["seconds"], 2)
    tasks.sort(key=lambda t: t["seconds"], reverse=True)
    return {
        "seconds": round(seconds, 1),
        "venv_seconds": round(sum(t["seconds"] for t in tasks if t["task"] == VENV_TASK), 2),
        "strategy": strategy or configured_strategy(),
        "recap": recap,
        "top_tasks": tasks[:12],
        "by_role": dict(sorted(by_role.items(), key=lambda kv: kv[1], reverse=True)),
        "log": str((LOGS / log).relative_to(ROOT)),
    }


def configured_strategy() -> str:
    """The strategy ansible.cfg gives (Ansible's default, linear, when it names none)."""
    dump = run(
        [str(ROOT / ".venv" / "bin" / "ansible-config"), "dump", "--only-changed"],
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        cwd=ROOT,
    ).stdout
    match = re.search(r"^DEFAULT_STRATEGY\(.*?\) = (\S+)", dump, re.M)
    return match[1] if match else "linear"


def app_release(version: int, *, new_lock: bool = False) -> Path:
    """A copy of sample_app with a harmless change: a new release id for deploy.yml; with
    new_lock, its lock gets a comment too (the same packages, a lock of another hash: a new
    virtualenv)."""
    target = WORK / f"app-v{version}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        ROOT / "sample_app",
        target,
        ignore=shutil.ignore_patterns(
            ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".coverage*", "*.sqlite3"
        ),
    )
    with open(target / "config" / "urls.py", "a") as urls:
        urls.write(f"# bench release v{version} ({dt.datetime.now(dt.UTC).isoformat()})\n")
    if new_lock:
        with open(target / "requirements" / "base.lock", "a") as lock:
            lock.write(f"# bench lock v{version}\n")
    return target


def current_release() -> str:
    return dexec(KIT, "readlink -f /srv/kitapp/current").stdout.strip()


def https_ok(port: int) -> bool:
    import httpx

    ctx = zdt.pinned_context(WORK / "ca.crt")
    try:
        response = httpx.get(f"https://localhost:{port}/healthz", verify=ctx, timeout=10)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


# --- deploy speed -----------------------------------------------------------------------------


def deploy_speed(results: dict) -> int:
    say(f"Cold: fresh {KIT} from {IMAGE}, playbooks/site.yml")
    boot = start_container(KIT, publish=True)
    cold = playbook("site.yml", "cold-site.log")
    port = published_port(KIT)
    cold["boot_seconds"] = round(boot, 1)
    cold["serving_https"] = https_ok(port)
    print(f"cold: {cold['seconds']} s, HTTPS /healthz 200: {cold['serving_https']}")

    say("Warm: playbooks/site.yml again, no change")
    warm = playbook("site.yml", "warm-site.log")
    print(f"warm: {warm['seconds']} s, changed={warm['recap'].get('changed')}")

    say("Redeploy: playbooks/deploy.yml with a changed release")
    before = current_release()
    source = app_release(2)
    redeploy = playbook("deploy.yml", "redeploy.log", "-e", f"django_app_source_dir={source}")
    redeploy["release_before"], redeploy["release_after"] = before, current_release()
    redeploy["switched"] = redeploy["release_before"] != redeploy["release_after"]
    print(f"redeploy: {redeploy['seconds']} s, switched: {redeploy['switched']}")

    results["deploy"] = {"cold": cold, "warm": warm, "redeploy": redeploy}
    return port


def linear(results: dict) -> None:
    """cold and warm again with Ansible's own linear strategy, in another fresh container:
    what the kit's default strategy (ansible.cfg) saves over it."""
    if SKIP_LINEAR:
        results["deploy"]["linear"] = {"skipped": True}
        return
    say(f"Cold and warm with Ansible's linear strategy: fresh {LINEAR}")
    write_inventory(LINEAR)
    shutil.rmtree(WORK / "build-cache", ignore_errors=True)  # cold builds the release, as above
    start_container(LINEAR, publish=True)
    cold = playbook("site.yml", "linear-cold-site.log", host=LINEAR, strategy="linear")
    cold["serving_https"] = https_ok(published_port(LINEAR))
    warm = playbook("site.yml", "linear-warm-site.log", host=LINEAR, strategy="linear")
    remove_container(LINEAR)
    results["deploy"]["linear"] = {"cold": cold, "warm": warm}
    print(f"linear: cold {cold['seconds']} s, warm {warm['seconds']} s")


def venv_tools(results: dict) -> None:
    """The servers' virtualenvs built by uv (the default) and by pip: a lock-changing redeploy
    with each on the kit's container (deploy.yml), and a cold site.yml with pip in another fresh
    container (cold above is uv's). uv's cache is the container's own (cold: empty); pip's is
    the machine's shared one (/var/cache/kit/pip)."""
    if SKIP_VENV_TOOLS:
        results["deploy"]["venv_tools"] = {"skipped": True}
        return
    tools: dict = {}
    for version, tool in ((3, "uv"), (4, "pip")):
        say(f"Lock-changing redeploy with {tool}: playbooks/deploy.yml, a new lock")
        source = app_release(version, new_lock=True)
        redeploy = playbook(
            "deploy.yml",
            f"lock-redeploy-{tool}.log",
            "-e",
            f"django_app_source_dir={source}",
            "-e",
            f"django_app_venv_tool={tool}",
        )
        tools[tool] = {"lock_redeploy": redeploy}
        print(f"{tool}: {redeploy['seconds']} s, the venv {redeploy['venv_seconds']} s")
    say(f"Cold with pip: fresh {PIP_COLD}, playbooks/site.yml")
    write_inventory(PIP_COLD)
    shutil.rmtree(WORK / "build-cache", ignore_errors=True)  # cold builds the release, as above
    start_container(PIP_COLD, publish=True)
    cold = playbook(
        "site.yml", "pip-cold-site.log", "-e", "django_app_venv_tool=pip", host=PIP_COLD
    )
    cold["serving_https"] = https_ok(published_port(PIP_COLD))
    remove_container(PIP_COLD)
    tools["pip"]["cold"] = cold
    tools["uv"]["cold"] = {
        k: results["deploy"]["cold"][k] for k in ("seconds", "venv_seconds", "serving_https")
    }
    print(f"pip cold: {cold['seconds']} s, the venv {cold['venv_seconds']} s")
    results["deploy"]["venv_tools"] = tools


def floor(results: dict) -> None:
    """apt-get install of the packages the roles installed + pip install of the locked
    requirements, nothing else, in another fresh container."""
    if SKIP_FLOOR:
        results["deploy"]["floor"] = {"skipped": True}
        return
    say(f"Floor: fresh {FLOOR}, apt-get install of the roles' packages + pip install")
    kit_manual = set(dexec(KIT, "apt-mark showmanual").stdout.split())
    start_container(FLOOR, publish=False)
    base_manual = set(dexec(FLOOR, "apt-mark showmanual").stdout.split())
    packages = sorted(kit_manual - base_manual - {"wrk"})
    # Not to /tmp: docker cp writes under the container's tmpfs mounts, where nobody sees it.
    lock = ROOT / "sample_app" / "requirements" / "base.lock"
    run(["docker", "cp", str(lock), f"{FLOOR}:/root/base.lock"])
    script = (
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q;"
        f" apt-get install -y -q --no-install-recommends {' '.join(packages)};"
        " python3 -m venv /root/floor-venv;"
        " /root/floor-venv/bin/pip install -q --require-hashes --no-deps -r /root/base.lock"
    )
    start = time.monotonic()
    dexec(FLOOR, script, log="floor.log")
    seconds = time.monotonic() - start
    remove_container(FLOOR)
    results["deploy"]["floor"] = {"seconds": round(seconds, 1), "packages": packages}
    print(f"floor: {seconds:.1f} s for {len(packages)} packages + the locked requirements")


# --- serving ----------------------------------------------------------------------------------

LAT_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text: str) -> dict:
    def latency(label: str) -> float | None:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return round(float(match[1]) * LAT_UNITS[match[2]], 3) if match else None

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s*(\d+) requests in", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps[1]) if rps else 0.0,
        "requests": int(total[1]) if total else 0,
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "non_2xx": int(non2xx[1]) if non2xx else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
    }


def wait_http(url: str, headers: list[str]) -> None:
    hdr = " ".join(f"-H '{h}'" for h in headers)
    for _ in range(60):
        code = dexec(KIT, f"curl -s -o /dev/null -w '%{{http_code}}' {hdr} {url}", check=False)
        if code.stdout.strip() == "200":
            return
        time.sleep(0.5)
    sys.exit(f"ERROR: {url} did not answer 200 in {KIT}")


def serving(results: dict, port: int) -> None:
    say("Serving: wrk inside the container, nginx+TLS vs Gunicorn direct vs runserver")
    dexec(
        KIT,
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk",
        log="apt-wrk.log",
    )
    token = zdt.get_token(port, WORK / "ca.crt", zdt.demo_credentials(WORK / "secrets"))
    css = dexec(KIT, "ls /srv/kitapp/current/static/admin/css/").stdout.split()
    hashed = [f for f in css if re.fullmatch(r"base\.[0-9a-f]{12}\.css", f)]
    static = hashed[0] if hashed else "base.css"
    endpoints = {
        "healthz": ("/healthz", []),
        "api_me": ("/api/me/", [f"Authorization: Bearer {token}"]),
        "static": (f"/static/admin/css/{static}", []),
    }
    # Plain HTTP to the app: tell Django the request came over HTTPS (as nginx does), else
    # SECURE_SSL_REDIRECT answers 301; Gunicorn trusts the header from 127.0.0.1 only.
    plain = ["Host: localhost", "X-Forwarded-Proto: https"]
    setups = {
        "nginx": ("https://localhost", [], f"--cacert {CA_IN_CONTAINER}"),
        "direct": (f"http://127.0.0.1:{DIRECT_PORT}", plain, ""),
        "runserver": (f"http://127.0.0.1:{RUNSERVER_PORT}", plain, ""),
    }
    unit = (
        "systemd-run --quiet --collect --unit={name} --uid=kitapp --gid=kitapp"
        " -p EnvironmentFile=/etc/kitapp/env -p WorkingDirectory=/srv/kitapp/current"
        " --setenv=PYTHONUNBUFFERED=1 {env} /srv/kitapp/current/venv/bin/{command}"
    )
    dexec(
        KIT,
        unit.format(
            name="bench-direct",
            env=f"--setenv=GUNICORN_BIND=127.0.0.1:{DIRECT_PORT}",
            command="gunicorn -c python:config.gunicorn_conf",
        ),
    )
    dexec(
        KIT,
        unit.format(
            name="bench-runserver",
            env="",
            # The release's code is in the release directory (the working directory).
            command=f"python -m django runserver 127.0.0.1:{RUNSERVER_PORT} --insecure --noreload",
        ),
    )
    cases = []
    try:
        for setup, (base, headers, curl_opts) in setups.items():
            wait_http(f"{curl_opts} {base}/healthz", headers)
            for endpoint, (path, extra_headers) in endpoints.items():
                hdrs = headers + extra_headers
                hdr = " ".join(f"-H '{h}'" for h in hdrs)
                status = dexec(
                    KIT, f"curl -s -o /dev/null -w '%{{http_code}}' {curl_opts} {hdr} {base}{path}"
                ).stdout.strip()
                if status != "200":
                    sys.exit(f"ERROR: {setup} {path} answered {status}, not 200")
                wrk = f"wrk -t{THREADS} -c{CONNECTIONS} --latency --timeout 10s {hdr} {base}{path}"
                if endpoint == "healthz":  # warm the workers up first, not measured
                    dexec(KIT, wrk.replace("wrk ", "wrk -d2s ", 1), log=f"wrk-{setup}-warmup.log")
                log = f"wrk-{setup}-{endpoint}.log"
                dexec(KIT, wrk.replace("wrk ", f"wrk -d{DURATION}s ", 1), log=log)
                case = {"setup": setup, "endpoint": endpoint, "path": path}
                case |= parse_wrk((LOGS / log).read_text())
                case["errors"] = case["non_2xx"] + case["socket_errors"]
                cases.append(case)
                print(
                    f"{setup:9} {endpoint:8} {case['rps']:9.1f} req/s"
                    f"  p50 {case['p50_ms']} ms  p99 {case['p99_ms']} ms  errors {case['errors']}"
                )
    finally:
        dexec(KIT, "systemctl stop bench-direct bench-runserver", check=False)
    nginx_conf = dexec(KIT, "grep -h -E 'worker_processes|keepalive' -r /etc/nginx || true").stdout
    results["serving"] = {
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "threads": THREADS,
        "static_file": static,
        "nginx_settings": sorted({line.strip() for line in nginx_conf.splitlines()}),
        "cases": cases,
    }


# --- zero-downtime ----------------------------------------------------------------------------


def zero_downtime(results: dict, port: int) -> None:
    say("Zero-downtime: HTTPS loop on /api/me/ during deploy.yml of a new release")
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    source = app_release(3)
    before = current_release()
    deploy_cmd = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        str(WORK / f"inventory-{KIT}"),
        "-e",
        f"@{WORK / 'extra-vars.json'}",
        "-e",
        f"django_app_source_dir={source}",
        str(ROOT / "playbooks" / "deploy.yml"),
    ]
    loop = zdt.Loop(port, WORK / "ca.crt", zdt.demo_credentials(WORK / "secrets"))
    deploy = loop.during(deploy_cmd, LOGS / "zdt-deploy.log", env=env, cwd=ROOT)
    deploy["release_before"], deploy["release_after"] = before, current_release()
    deploy["switched"] = before != deploy["release_after"]
    print(zdt.summary("deploy", deploy))

    say("Zero-downtime: HTTPS loop on /api/me/ during systemctl restart kitapp.service")
    restart_cmd = ["docker", "exec", KIT, "systemctl", "restart", "kitapp.service"]
    restart = loop.during(restart_cmd, LOGS / "zdt-restart.log")
    print(zdt.summary("restart", restart))
    results["zero_downtime"] = {"deploy": deploy, "restart": restart}


# --- main -------------------------------------------------------------------------------------


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    docker = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model[1].strip() if model else "unknown",
        "memory_gib": round(int(mem[1]) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "docker": docker.stdout.strip(),
        "image": IMAGE,
    }


def main() -> None:
    """BENCH_RESUME=1 continues a run that failed with BENCH_KEEP=1: the steps already in
    bench/.work/partial.json are kept, the others run against the kept container."""
    started = time.monotonic()
    stamp = dt.datetime.now(dt.UTC)
    partial = WORK / "partial.json"
    resume = os.environ.get("BENCH_RESUME", "") not in ("", "0") and partial.exists()
    if not resume:
        for path in (WORK / "build-cache", LOGS):
            shutil.rmtree(path, ignore_errors=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    (WORK / "secrets").mkdir(mode=0o700, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    write_inventory()
    results: dict = {"date": stamp.isoformat(timespec="seconds"), "machine": machine()}
    if resume:
        results = json.loads(partial.read_text())
        say(f"Resuming {results['date']}: done already: {', '.join(results)}")
    prior = results.pop("runtime_before_s", 0.0)
    if resume:
        results["resumed"] = True
    try:
        if "deploy" in results:
            port = published_port(KIT)
        else:
            port = deploy_speed(results)
        if "serving" not in results:
            serving(results, port)
        if "zero_downtime" not in results:
            zero_downtime(results, port)
        if "floor" not in results["deploy"]:
            floor(results)
        if "linear" not in results["deploy"]:
            linear(results)
        if "venv_tools" not in results["deploy"]:
            venv_tools(results)
    finally:
        results["runtime_before_s"] = round(time.monotonic() - started + prior, 1)
        partial.write_text(json.dumps(results, indent=2) + "\n")
        remove_container(FLOOR)
        remove_container(LINEAR)
        remove_container(PIP_COLD)
        if os.environ.get("BENCH_KEEP", "") in ("", "0"):
            remove_container(KIT)
    results["runtime_s"] = results.pop("runtime_before_s")
    started_at = dt.datetime.fromisoformat(results["date"])
    out = RESULTS / f"{started_at:%Y-%m-%d}.json"
    if out.exists():  # another run the same day: keep the earlier one
        out = RESULTS / f"{started_at:%Y-%m-%dT%H%M}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    partial.unlink()
    say(f"Wrote {out.relative_to(ROOT)} ({results['runtime_s']} s in all)")


if __name__ == "__main__":
    main()
