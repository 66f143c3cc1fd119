#!/usr/bin/env python3
"""The event stream's fan-out cost in process: the daemon's HTTP server (uvicorn in this
loop, the real ``/api/v1/events`` route and ``EventLog`` on a SQLite file) publishes
``--events`` events, 3 per simulated call as a call makes, to ``--clients`` WebSocket clients
(``websockets``, on a thread of their own: their CPU is not counted).  Prints the server
thread's CPU per event sent to one client (append, commit hand-off and loop turns included),
and with ``--profile`` the top functions of a cProfile of that thread.

A/B against an older tree: run it twice in turn, ``PYTHONPATH=OLD/src`` and ``PYTHONPATH=src``.

    PYTHONPATH=src python3 benchmarks/events_fanout.py [--clients 10] [--events 3000]
        [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websockets

from ccswitch.acd import events as acd
from ccswitch.call.eventlog import EventRecord, record_of
from ccswitch.http import events as ws_events
from ccswitch.http.app import create_app
from ccswitch.http.auth import principals
from ccswitch.http.control import Control
from ccswitch.http.server import HttpServer
from ccswitch.store.events import EventLog
from ccswitch.store.writer import Writer

TOKEN = "bench-admin-token"


def entered(i: int) -> EventRecord:
    rec = record_of(acd.CallerEntered(time=float(i), call_id=f"bench-call-{i:08d}",
                                      queue="support", priority=0, position=1, skills=()),
                    now=0.0, wall_offset=0.0)
    assert rec is not None
    return rec


def run_clients(url: str, n: int, want: int, ready: threading.Event,
                done: threading.Event) -> None:
    async def main() -> None:
        conns = [await websockets.connect(url, additional_headers={
            "Authorization": f"Bearer {TOKEN}"}) for _ in range(n)]
        ready.set()

        async def read(ws: Any) -> None:
            got = 0
            async for _ in ws:
                got += 1
                if got >= want:
                    return

        await asyncio.gather(*(read(ws) for ws in conns))
        for ws in conns:
            await ws.close()
        done.set()
    asyncio.run(main())


async def measure(clients: int, events: int, profile: bool) -> tuple[float, str]:
    work = Path(tempfile.mkdtemp(prefix="ccswitch-fanout-"))
    loop = asyncio.get_running_loop()
    writer = Writer(work / "ccswitch.db", loop=loop, linger=0.005)
    log = EventLog(writer, work / "ccswitch.db")
    ctl = Control(signaling=lambda: object(),  # type: ignore[arg-type,return-value]
                  clock=loop.time, flush=lambda: None,
                  tokens=principals([(TOKEN, "admin", None)], {}), agent_queues={})
    ctl.extras[ws_events.EXTRA_KEY] = log
    server = HttpServer(create_app(ctl), "127.0.0.1", 0)
    await server.start()
    ready, done = threading.Event(), threading.Event()
    threading.Thread(target=run_clients, daemon=True,
                     args=(f"ws://127.0.0.1:{server.port}/api/v1/events", clients, events,
                           ready, done)).start()
    while not ready.is_set():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    prof = cProfile.Profile()
    start = time.thread_time()
    if profile:
        prof.enable()
    for i in range(0, events, 3):  # a call's 3 events, then the loop turns
        log.append([entered(j) for j in range(i, min(i + 3, events))])
        await asyncio.sleep(0.002)
    while not done.is_set():
        await asyncio.sleep(0.01)
    prof.disable()
    cpu = time.thread_time() - start
    await server.stop()
    await writer.aclose()
    log.close()
    table = ""
    if profile:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        table = out.getvalue()
    return cpu, table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    cpu, table = asyncio.run(measure(a.clients, a.events, a.profile))
    per_send = f", {cpu / (a.events * a.clients) * 1e6:.1f} us per send" if a.clients else ""
    sys.stdout.write(f"{a.events} events x {a.clients} clients: server thread CPU "
                     f"{cpu * 1000:.0f} ms{per_send}, "
                     f"{cpu / a.events * 3 * 1000:.2f} ms per call of 3 events\n{table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
