#!/usr/bin/env python3
"""What the event stream costs the call rate: ``sip_load.py``'s B2BUA call ladder on ccswitch
(SIPp UAC 1001 -> ccswitch -> SIPp UAS 1002), once with no WebSocket client and once with
``--clients`` clients on ``/api/v1/events`` (every event, admin token), each step held
``--duration`` seconds.  The event stream is written to the store in both runs (it always
is); the second adds the fan-out to the clients.

A step passes as in ``sip_load.py`` (every call completed, no retransmission, the rate
reached).  After each run the clients' counts are checked against the ``events`` table: each
client must have received every stored event from its connection on (none dropped as slow).

    PYTHONPATH=src python3 benchmarks/events_load.py [--clients 10] [--call-rates 100,200,300]
        [--duration 5] [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import websockets
from benchutil import machine
from sip_load import HOST, Bench, Step, parse_rates, start_ccswitch

TOKEN = "demo-admin-token"


class Clients:
    """``n`` WebSocket clients on one thread, counting the events each receives."""

    def __init__(self, url: str, n: int) -> None:
        self.url = url
        self.counts = [0] * n
        self.first = [0] * n  # the first seq each saw
        self.closed: list[int | None] = [None] * n
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("WebSocket clients did not connect")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        conns = [await websockets.connect(self.url, additional_headers={
            "Authorization": f"Bearer {TOKEN}"}) for _ in self.counts]
        self._ready.set()

        async def read(i: int, ws: Any) -> None:
            try:
                async for msg in ws:
                    if not self.counts[i]:
                        self.first[i] = json.loads(msg)["seq"]
                    self.counts[i] += 1
            except websockets.ConnectionClosed as e:
                self.closed[i] = e.rcvd.code if e.rcvd is not None else -1

        tasks = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(conns)]
        await self._stop.wait()
        for ws in conns:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def stored_after(data: Path, seq: int) -> int:
    db = sqlite3.connect(str(data / "ccswitch.db"))
    try:
        return int(db.execute("SELECT count(*) FROM events WHERE seq >= ?", (seq,)).fetchone()[0])
    finally:
        db.close()


def run_mode(bench: Bench, clients: int, port_base: int) -> dict[str, Any]:
    a = bench.args
    a.port_base = port_base  # a SIPp of a failed step may still hold the last run's ports
    tag = f"calls-ws{clients}"
    port = a.port_base
    server = start_ccswitch(port, bench.work, tag, None, a.rtp_ports)
    result: dict[str, Any] = {"clients": clients}
    first = len(bench.steps)
    group: Clients | None = None
    try:
        bench.register_uas(server)
        if clients:
            group = Clients(f"ws://{HOST}:{port + 1}/api/v1/events", clients)
        bench.log(f"[ccswitch / calls, {clients} WebSocket clients]")
        bench.ladder(server, "calls", parse_rates(a.call_rates))
        time.sleep(1.0)  # the last commits reach the clients
    finally:
        if group is not None:
            group.stop()
        server.stop()
    steps: list[Step] = bench.steps[first:]
    passed = [s.rate for s in steps if s.passed]
    result["best_rate"] = max(passed) if passed else None
    result["steps"] = [asdict(s) for s in steps]
    if group is not None:
        data = bench.work / f"ccswitch-data-{tag}"
        want = [stored_after(data, f) if f else 0 for f in group.first]
        result["events_received"] = group.counts
        result["events_stored_since_first"] = want
        result["closed_codes"] = group.closed
        result["complete"] = group.counts == want
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--call-rates", default="100,200,300,400")
    ap.add_argument("--retries", type=int, default=1)
    ap.add_argument("--refine", type=int, default=1)
    ap.add_argument("--min-achieved", type=float, default=0.9)
    ap.add_argument("--call-hold-ms", type=int, default=50)
    ap.add_argument("--port-base", type=int, default=26060)
    ap.add_argument("--budget", type=float, default=900.0)
    ap.add_argument("--rtp-ports", default="")
    ap.add_argument("--workdir")
    ap.add_argument("--rounds", type=int, default=1,
                    help="A/B rounds: without then with the clients, this many times in turn "
                         "(on a shared machine the load drifts; alternating spreads it)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    args.probe = False
    args.rcvbuf = 0
    args.gc_freeze = False
    args.gc_threshold = ""
    args.watchdog_ms = 0.0
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian: sip-tester)", file=sys.stderr)
        return 2
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ccswitch-ev-"))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, work)
    base = args.port_base
    modes = []
    for r in range(args.rounds):
        for i, clients in enumerate((0, args.clients)):
            modes.append({"round": r + 1, **run_mode(bench, clients, base + 200 * r + 100 * i)})
    for m in modes:
        line = (f"round {m['round']}, {m['clients']:>3} clients: best {m['best_rate']} "
                "calls/s; ms CPU per call "
                + ", ".join(f"{s['rate']}/s {s['cpu_ms_per_op']:.2f}"
                            f"{'' if s['passed'] else ' FAIL'}" for s in m["steps"]))
        if "complete" in m:
            line += (f"; every client got every event: {m['complete']} "
                     f"({min(m['events_received'])}-{max(m['events_received'])} received)")
        print(line)
    if bench.notes:
        print("notes: " + "; ".join(bench.notes))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "args": vars(args),
                                               "modes": modes, "notes": bench.notes},
                                              indent=2) + "\n")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
