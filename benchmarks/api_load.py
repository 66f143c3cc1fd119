#!/usr/bin/env python3
"""API requests/s while calls are up (issue 10, "Tests", last bullet, first half).

ccswitch starts fresh on ``queue_load.py``'s configuration (``--calls`` callers 1001-..., one
agent of support that never registers, so every caller waits in the queue with music on hold:
a live call with its media leg on a worker, the queue's line ``--calls`` long).  Then, on one
run, alternately (A/B, ``--rounds`` times):

* A: ``--window`` seconds of ``GET /api/v1/queues`` with ``--concurrency`` clients (admin
  token, one keep-alive connection each) with no call up;
* B: the same while ``--calls`` SIPp callers (``scenarios/queue_caller_ivr.xml`` through the
  demo IVR, key 2 -> support) wait in the queue.

For each window: requests/s, latency p50/p99 (ms), the daemon's CPU (main process, and with its
media workers; % of one core), this client's CPU, the answer's size, the machine's 1-minute load
average, and that every answer was 200 with ``waiting`` equal to the callers up.  The callers are
set up for each B window and hung up after it (``DELETE /api/v1/calls/{id}``, not measured); A
windows run while none is up.  The load generator runs on the same machine (its CPU counts
against the daemon's); say so with the figures.

    PYTHONPATH=src python3 benchmarks/api_load.py [--calls 500] [--rounds 2] [--window 10]
        [--concurrency 4] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from benchutil import machine
from queue_load import exited, free_tcp_port, free_udp_port, sipp_quit, write_config, write_csv
from sip_load import (
    HOST,
    ROOT,
    Server,
    _drain,
    proc_cpu,
    sipp_cmd,
    start_sipp,
    tree_cpu,
    wait_ready,
)

TOKEN = "demo-admin-token"


def start_daemon(cfg: Path, port: int, http: int, work: Path, rtp_ports: str) -> Server:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "ccswitch", "serve", "--config", str(cfg),
           "--listen", f"udp:{HOST}:{port}", "--data-dir", str(data),
           "--http", f"{HOST}:{http}", "--rtp-ports", rtp_ports,
           "--log-format", "json", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    server = Server("ccswitch", proc, port, work / "ccswitch.log")
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server, 30.0)
    return server


async def hammer(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """``concurrency`` clients GET ``url`` back to back for ``seconds``."""
    lat: list[float] = []
    bad: list[str] = []
    size: list[int] = []
    waiting: set[int] = set()
    end = time.monotonic() + seconds

    async def one() -> None:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                     timeout=10.0) as c:
            while time.monotonic() < end:
                t0 = time.perf_counter()
                r = await c.get(url)
                lat.append(time.perf_counter() - t0)
                size.append(len(r.content))
                if r.status_code != 200:
                    bad.append(str(r.status_code))
                    continue
                waiting.add(next(q["waiting"] for q in r.json() if q["name"] == "support"))

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    lat.sort()
    return {"requests": len(lat), "rps": round(len(lat) / wall, 1),
            "p50_ms": round(1000 * statistics.median(lat), 2) if lat else None,
            "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 2) if lat else None,
            "errors": bad[:5], "waiting_seen": sorted(waiting),
            "body_bytes": max(size) if size else None}


def waiting(api: str) -> int:
    r = httpx.get(f"{api}/api/v1/queues/support", headers={"Authorization": f"Bearer {TOKEN}"},
                  timeout=10.0)
    return int(r.json()["waiting"])


def window(server: Server, api: str, a: argparse.Namespace, calls: int) -> dict[str, Any]:
    pid = server.proc.pid
    cpu0, tree0, own0, t0 = proc_cpu(pid), tree_cpu(pid), time.process_time(), time.monotonic()
    got = asyncio.run(hammer(f"{api}/api/v1/queues", a.window, a.concurrency))
    wall = time.monotonic() - t0
    got["daemon_cpu_pct"] = round(100 * (proc_cpu(pid) - cpu0) / wall, 1)
    got["daemon_tree_cpu_pct"] = round(100 * (tree_cpu(pid) - tree0) / wall, 1)
    got["client_cpu_pct"] = round(100 * (time.process_time() - own0) / wall, 1)
    with open("/proc/loadavg") as f:
        got["loadavg_1m"] = float(f.read().split()[0])
    got["calls_up"] = calls
    got["ok"] = not got["errors"] and got["waiting_seen"] == [calls]
    return got


def _start_callers(server: Server, a: argparse.Namespace, work: Path, csv: Path,
                   n: int) -> tuple[subprocess.Popen[bytes], int]:
    ctl = free_udp_port()
    out = work / f"callers-{n}-{time.monotonic_ns()}"
    cmd = sipp_cmd("queue_caller_ivr.xml", server.port, free_udp_port(), out,
                   "-inf", str(csv), "-s", "700", "-auth_uri", f"700@{HOST}:{server.port}",
                   "-r", str(a.rate), "-m", str(n), "-l", str(n), "-d", "1000",
                   "-key", "digit", "2",
                   "-recv_timeout", "900000", "-cp", str(ctl))
    return start_sipp(cmd), ctl


def callers_up(server: Server, api: str, a: argparse.Namespace, work: Path, csv: Path,
               n: int) -> tuple[list[tuple[subprocess.Popen[bytes], int]], int]:
    """Start ``n`` callers; return the SIPps (with their control ports) and how many wait.
    On a loaded machine the switch sheds some new calls (503 while its loop lags): the
    missing ones are started again, up to three times."""
    sipps = []
    up = 0
    for _ in range(3):
        missing = n - up
        sipps.append(_start_callers(server, a, work, csv, missing))
        deadline = time.monotonic() + missing / a.rate + 30
        while time.monotonic() < deadline and waiting(api) < n:
            time.sleep(0.5)
        time.sleep(2.0)  # the last announcements end: music on hold only
        up = waiting(api)
        if up >= n:
            break
    if up < 0.9 * n:
        raise RuntimeError(f"only {up}/{n} callers waiting")
    return sipps, up


def callers_down(api: str, sipps: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    """Hang every caller up through the API (BYE: SIPp's scenario ends each call)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(headers=auth, timeout=10.0) as c:
        for call in c.get(f"{api}/api/v1/calls").json():
            c.delete(f"{api}/api/v1/calls/{call['id']}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and waiting(api) > 0:
        time.sleep(0.5)
    for proc, ctl in sipps:
        if not exited(proc, 30):
            sipp_quit(ctl)
            if not exited(proc, 10):
                proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rate", type=int, default=25, help="callers set up per second")
    ap.add_argument("--rtp-ports", default="40000-43999")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian: sip-tester)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ccswitch-api-"))
    ns = argparse.Namespace(first_caller=1001, callers=a.calls, first_agent=3001, agents=1,
                            ring_timeout=10, wrapup=1, record=False)
    cfg = work / "api_load.toml"
    write_config(cfg, ns)
    with cfg.open("a") as f:
        f.write(f'\n[[api.tokens]]\ntoken = "{TOKEN}"\nrole = "admin"\n')
    csv = write_csv(work / "callers.csv", [str(1001 + i) for i in range(a.calls)])
    http = free_tcp_port()
    api = f"http://{HOST}:{http}"
    server = start_daemon(cfg, free_udp_port(), http, work, a.rtp_ports)
    windows: list[dict[str, Any]] = []
    try:
        for r in range(a.rounds):
            windows.append({"round": r + 1, "mode": "A", **window(server, api, a, 0)})
            sipps, up = callers_up(server, api, a, work, csv, a.calls)
            windows.append({"round": r + 1, "mode": "B", **window(server, api, a, up)})
            callers_down(api, sipps)
    finally:
        server.stop()
    for w in windows:
        print(f"round {w['round']} {w['mode']} ({w['calls_up']:>3} calls up): "
              f"{w['rps']:>7} req/s, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, "
              f"daemon CPU {w['daemon_cpu_pct']}% (with its media workers "
              f"{w['daemon_tree_cpu_pct']}%), client CPU {w['client_cpu_pct']}%, "
              f"{w['body_bytes']} B per answer, load {w['loadavg_1m']}, ok {w['ok']}")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "args": vars(a),
                                            "windows": windows}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(w["ok"] for w in windows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
