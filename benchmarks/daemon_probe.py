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
* ``--gc-threshold A,B,C``: ``gc.set_threshold(A, B, C)``.

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
    opts = ap.parse_args(argv[:split])
    daemon_args = argv[split + 1:]

    start: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            start[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - start[0]) * 1000
        if ms >= opts.gc_log_ms:
            sys.stderr.write(json.dumps({"event": "gc_pause", "ms": round(ms, 1),
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
    from ccswitch.cli import main as ccswitch_main

    return ccswitch_main(daemon_args)


if __name__ == "__main__":
    sys.exit(main())
