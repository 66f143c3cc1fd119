#!/usr/bin/env python3
"""Run ``ccswitch`` with load-test instrumentation and optional what-if settings.

Used by ``sip_load.py --probe``; not part of the daemon.  Everything it changes is stated in
the output, so a figure measured with it is never mistaken for the daemon's own.

* always: every garbage-collector pass of ``--gc-log-ms`` or longer is written to stderr as a
  JSON line ``{"event": "gc_pause", "ms": …, "generation": …, "collected": …}`` (the loop is
  stopped for that long, and the kernel drops datagrams once the socket buffer is full);
  ``--gc-log-objects`` adds the number of live objects;
* ``--rcvbuf BYTES``: SO_RCVBUF for the daemon's UDP sockets (capped by net.core.rmem_max);
* ``--gc-freeze``: ``gc.freeze()`` once the daemon is listening, so start-up objects are never
  scanned again;
* ``--gc-threshold A,B,C``: ``gc.set_threshold(A, B, C)``;
* ``--cprofile FILE``: cProfile of the main thread (the loop), written to FILE at exit;
  ``--cprofile-workers PREFIX``: of each media worker's main thread, to PREFIX.<pid>;
* ``--watchdog-ms MS``: a thread watches a 10 ms heartbeat of the event loop and, when the
  loop is MS late, writes the main thread's stack (sampled every 20 ms until the loop runs
  again, identical stacks once) as ``{"event": "loop_blocked", ...}`` lines: what blocks it
  (``cpu_ms``: CPU the loop's thread used meanwhile; the rest it was waiting or not scheduled).

    PYTHONPATH=src python3 benchmarks/daemon_probe.py [probe options] -- serve --listen …
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import sys
import time
from typing import Any


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gc-log-ms", type=float, default=10.0)
    ap.add_argument("--gc-log-objects", action="store_true",
                    help="also count live objects at each logged pause (costs a few ms)")
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--gc-freeze", action="store_true")
    ap.add_argument("--gc-threshold", default="")
    ap.add_argument("--watchdog-ms", type=float, default=0.0)
    ap.add_argument("--gc-count-garbage", type=float, default=0.0, metavar="S",
                    help="what-if: no automatic collection once listening; every S seconds a "
                         "full collection logs how much cyclic garbage the load left")
    ap.add_argument("--cprofile", metavar="FILE",
                    help="profile the main thread with cProfile; stats written to FILE at exit")
    ap.add_argument("--cprofile-workers", metavar="PREFIX",
                    help="profile each media worker with cProfile; stats to PREFIX.<pid>")
    opts = ap.parse_args(argv[:split])
    daemon_args = argv[split + 1:]

    start: list[float] = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            start[0], start[1] = time.perf_counter(), time.thread_time()
            return
        ms = (time.perf_counter() - start[0]) * 1000
        if ms >= opts.gc_log_ms:
            # cpu_ms: the collector's own work; ms - cpu_ms: the process was not running
            cpu_ms = round((time.thread_time() - start[1]) * 1000, 1)
            sys.stderr.write(json.dumps({"event": "gc_pause", "ms": round(ms, 1),
                                         "cpu_ms": cpu_ms,
                                         "generation": info["generation"],
                                         "collected": info["collected"],
                                         "objects": (len(gc.get_objects())
                                                     if opts.gc_log_objects else None),
                                         "t": time.monotonic()}) + "\n")

    gc.callbacks.append(on_gc)
    if opts.gc_threshold:
        a, b, c = (int(x) for x in opts.gc_threshold.split(","))
        gc.set_threshold(a, b, c)

    from ccswitch.io import transport as tr

    original = tr._Udp.connection_made

    def connection_made(self: Any, transport: Any) -> None:
        original(self, transport)
        if opts.rcvbuf:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, opts.rcvbuf)
            got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            sys.stderr.write(json.dumps({"event": "probe_rcvbuf", "asked": opts.rcvbuf,
                                         "got": got}) + "\n")
        if opts.gc_freeze:
            gc.freeze()
            sys.stderr.write(json.dumps({"event": "probe_gc_freeze",
                                         "frozen": gc.get_freeze_count()}) + "\n")

    tr._Udp.connection_made = connection_made  # type: ignore[method-assign]
    sys.stderr.write(json.dumps({"event": "probe", "rcvbuf": opts.rcvbuf,
                                 "gc_freeze": opts.gc_freeze,
                                 "gc_threshold": list(gc.get_threshold())}) + "\n")
    if opts.watchdog_ms:
        _install_watchdog(opts.watchdog_ms / 1000)
    if opts.gc_count_garbage:
        _install_garbage_count(opts.gc_count_garbage)
    if opts.cprofile_workers:
        import os

        from ccswitch.mediaworker import process as mw

        os.environ["CCSWITCH_PROBE_WORKER_PROFILE"] = opts.cprofile_workers
        mw.worker_main = profiled_worker_main  # type: ignore[assignment]
    from ccswitch.cli import main as ccswitch_main

    if not opts.cprofile:
        return ccswitch_main(daemon_args)
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        return ccswitch_main(daemon_args)
    finally:
        prof.disable()
        prof.dump_stats(opts.cprofile)


def profiled_worker_main(settings: Any, conn: Any) -> None:
    """A media worker's ``worker_main`` under cProfile (spawned by reference: it runs in the
    child, which imports this script as ``__mp_main__``)."""
    import cProfile
    import os

    from ccswitch.mediaworker.process import worker_main

    prof = cProfile.Profile()
    prof.enable()
    try:
        worker_main(settings, conn)
    finally:
        prof.disable()
        prof.dump_stats(f"{os.environ['CCSWITCH_PROBE_WORKER_PROFILE']}.{os.getpid()}")


def _install_garbage_count(period: float) -> None:
    import asyncio

    from ccswitch import daemon

    def tune(loop: object = None) -> None:  # replaces tune_gc: freeze start-up, collect nothing
        gc.collect()
        gc.freeze()
        gc.disable()
        sys.stderr.write(json.dumps({"event": "probe_gc_disabled"}) + "\n")
        asyncio.get_running_loop().call_later(period, count)

    def count() -> None:
        t0 = time.thread_time()
        tracked = len(gc.get_objects())
        found = gc.collect()
        sys.stderr.write(json.dumps({"event": "gc_garbage", "unreachable": found,
                                     "tracked": tracked, "frozen": gc.get_freeze_count(),
                                     "cpu_ms": round((time.thread_time() - t0) * 1e3, 1),
                                     "t": time.monotonic()}) + "\n")
        asyncio.get_running_loop().call_later(period, count)

    daemon.tune_gc = tune  # type: ignore[assignment]


def _install_watchdog(limit: float) -> None:
    import asyncio
    import threading
    import traceback

    from ccswitch import switch as sw

    beat = [time.monotonic(), 0.0]  # wall and CPU time of the loop's last heartbeat
    main_id = threading.get_ident()
    main_clock = time.pthread_getcpuclockid(main_id)
    original = sw.Switch.start

    async def start(self: Any) -> Any:
        out = await original(self)
        loop = asyncio.get_running_loop()

        def tick() -> None:
            beat[0], beat[1] = time.monotonic(), time.thread_time()
            loop.call_later(0.01, tick)

        tick()
        threading.Thread(target=watch, daemon=True).start()
        return out

    def watch() -> None:
        seen: set[str] = set()
        while True:
            time.sleep(0.02)
            late = time.monotonic() - beat[0]
            cpu = time.clock_gettime(main_clock) - beat[1]
            if late < limit:
                seen.clear()
                continue
            frame = sys._current_frames().get(main_id)
            if frame is None:
                continue
            stack = "".join(traceback.format_stack(frame)[-14:])
            if stack in seen:
                continue
            seen.add(stack)
            sys.stderr.write(json.dumps({"event": "loop_blocked", "late_ms": round(late * 1e3),
                                         "cpu_ms": round(cpu * 1e3),
                                         "t": time.monotonic(), "stack": stack}) + "\n")

    sw.Switch.start = start  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main())
