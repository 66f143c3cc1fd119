"""``ccswitch serve``: run the switch until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys

import structlog

from .config.schema import SwitchConfig
from .logs import configure_logging
from .switch import Switch

log = structlog.get_logger()


async def _serve(config: SwitchConfig) -> int:
    switch = Switch(config)
    try:
        listening = await switch.start()
    except OSError as e:
        sys.stderr.write(f"ccswitch: {e}\n")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        switch.stopping = True  # drop new input at once: a backlog must not delay the exit
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    tune_gc()
    # lifecycle events are warnings so that they show at every level short of error
    log.warning("ready", listen=listening, data_dir=str(config.data_dir),
             users=len(config.users))
    await stop.wait()
    log.warning("stopping")
    await asyncio.wait_for(switch.stop(), 4.0)
    log.warning("stopped")
    return 0


GC_YOUNG = 10_000  # net new objects between young collections: a pass scans at most these
GC_MIDDLE = 10  # young passes per middle pass: at most GC_YOUNG * GC_MIDDLE objects scanned
GC_FULL = 1_000_000  # middle passes per full pass: never while serving (see tune_gc)


def tune_gc() -> None:
    """Keep every collector pass short.

    The switch holds hundreds of thousands of live, acyclic objects (transactions kept for
    Timers J/K/H, dialogs, registrations).  A pass costs about 0.2-0.6 us per object it
    scans: with the young threshold at 100,000, each young pass scanned 100,000 new objects
    that all survived (35-75 ms of CPU each while the heap grew, measured at 100 calls/s), and
    a full pass over a million objects takes about 0.2 s of CPU.  So: start-up objects are frozen out of collection; young passes run every
    ``GC_YOUNG`` net new objects and middle ones every ``GC_MIDDLE`` of those, so no automatic
    pass scans more than ~100,000 objects (a few ms to tens of ms); full passes, which found
    next to no cyclic garbage under load (it is freed by reference counting), never run on
    their own.  Under steady load the heap stops growing and collections stop too.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_FULL)


def run(config: SwitchConfig) -> int:
    """Serve until a signal; returns the process exit status."""
    configure_logging(config.log_format, config.log_level)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_serve(config))
    return uvloop.run(_serve(config))
