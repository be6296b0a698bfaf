"""Zero-downtime probe: a bounded HTTPS request loop while a command runs (deploy, restart).

The kit's CA is pinned (never verify=False). Every non-200 answer or exception is a failure.
"""

from __future__ import annotations

import json
import ssl
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx

WORKERS = 4  # concurrent clients, each one request after the other
LEAD_S = 1.0  # the loop runs this long before the command starts...
TAIL_S = 2.0  # ...and this long after it ends
MAX_S = 600.0  # hard bound on one probe


def pinned_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def demo_credentials(secrets: Path) -> dict:
    return {"username": "demo", "password": (secrets / "demo_password").read_text().strip()}


def get_token(port: int, cafile: Path, credentials: dict) -> str:
    response = httpx.post(
        f"https://localhost:{port}/api/token/",
        json=credentials,
        verify=pinned_context(cafile),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access"]


class Loop:
    def __init__(self, port: int, cafile: Path, credentials: dict) -> None:
        self.url = f"https://localhost:{port}/api/me/"
        self.ctx = pinned_context(cafile)
        self.headers = {"Authorization": f"Bearer {get_token(port, cafile, credentials)}"}

    def _worker(self, stop: threading.Event, out: list, lock: threading.Lock) -> None:
        with httpx.Client(verify=self.ctx, timeout=30, headers=self.headers) as client:
            while not stop.is_set():
                start = time.monotonic()
                try:
                    status = client.get(self.url).status_code
                    error = None if status == 200 else f"HTTP {status}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                elapsed = time.monotonic() - start
                with lock:
                    out.append((start, elapsed, error))

    def during(self, argv: list[str], log: Path, **kwargs) -> dict:
        stop, lock, samples = threading.Event(), threading.Lock(), []
        threads = [
            threading.Thread(target=self._worker, args=(stop, samples, lock), daemon=True)
            for _ in range(WORKERS)
        ]
        begin = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(LEAD_S)
        cmd_start = time.monotonic()
        with open(log, "w") as out:
            try:
                proc = subprocess.run(  # noqa: S603 - argv from bench.py, no shell
                    argv, stdout=out, stderr=subprocess.STDOUT, timeout=MAX_S, check=False, **kwargs
                )
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = -1
        cmd_seconds = time.monotonic() - cmd_start
        time.sleep(TAIL_S)
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
        latencies = [s[1] * 1000 for s in samples]
        failures = [s for s in samples if s[2]]
        during = [s for s in samples if cmd_start <= s[0] <= cmd_start + cmd_seconds]
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return {
            "command": " ".join(argv[-3:]),
            "command_rc": returncode,
            "command_seconds": round(cmd_seconds, 1),
            "loop_seconds": round(time.monotonic() - begin, 1),
            "workers": WORKERS,
            "requests": len(samples),
            "requests_during_command": len(during),
            "failed": len(failures),
            "failure_examples": sorted({f[2] for f in failures})[:5],
            "max_latency_ms": round(max(latencies), 1) if latencies else None,
            "p50_ms": round(quantiles[49], 1),
            "p99_ms": round(quantiles[98], 1),
            "log": str(log),
        }


def summary(label: str, result: dict) -> str:
    return (
        f"{label}: {result['requests']} requests ({result['requests_during_command']} during the"
        f" command, {result['command_seconds']} s, rc {result['command_rc']}), failed"
        f" {result['failed']}, worst {result['max_latency_ms']} ms"
        + (f"; e.g. {json.dumps(result['failure_examples'])}" if result["failed"] else "")
    )
