"""``ccswitch serve``: run the switch until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time
from collections.abc import Callable

import structlog

from .config.schema import SwitchConfig
from .errors import ConfigError
from .logs import configure_logging
from .switch import Switch

log = structlog.get_logger()


async def _serve(config: SwitchConfig, load: Callable[[], SwitchConfig] | None) -> int:
    switch = Switch(config, load)
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

    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            await switch.reload()  # logs config_reloaded
        except ConfigError as e:
            log.error("config_reload_refused", error=str(e))

    def on_hangup() -> None:
        task = loop.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    tune_gc(loop)
    # lifecycle events are warnings so that they show at every level short of error
    log.warning("ready", listen=listening, data_dir=str(switch.data_dir),
             users=len(config.users))
    await stop.wait()
    log.warning("stopping")
    await asyncio.wait_for(switch.stop(), 4.0)
    log.warning("stopped")
    return 0


GC_PERIOD = 0.2  # s between the collector passes the loop runs itself (see tune_gc)
GC_FULL_GROWTH = 2.0  # a full pass once the frozen objects doubled since the last one
GC_FULL_MIN = 1_500_000  # ... and number at least this many (a full pass: ~1.5 ms per 1,000)
GC_FULL_CHECK = 60.0  # s between looks at the frozen set's size (counting it walks it all)


def tune_gc(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Keep the cyclic collector from ever scanning the switch's long-lived objects.

    The switch holds hundreds of thousands of live, acyclic objects (transactions kept for
    Timers J/K/H, dialogs, registrations), and CPython's trigger counts allocations *minus*
    deallocations: once the heap stops growing, new objects are born as fast as old ones die,
    the count hovers below the threshold while the young generation keeps growing, and the
    pass that finally runs scans everything born since (measured at 100 calls/s: "young"
    passes of 60-330 ms of CPU every few seconds to minutes; a full pass over a million
    objects is 0.2-1 s).  Measured over thousands of calls, the load leaves no cyclic garbage
    at all (a full collection after it finds 0 unreachable objects): reference counting frees
    it.  So start-up objects are frozen, automatic collection is off, and with a ``loop`` the
    loop runs a young pass every ``GC_PERIOD`` seconds, which catches short-lived cycles, and
    then freezes the survivors: every pass scans only the last ``GC_PERIOD`` s of new objects.

    Frozen objects freed by reference counting leave the frozen set, so in a steady state it
    stays the size of the live heap.  A cycle that became garbage after it was frozen would
    stay; so that such a leak cannot grow without bound, a full pass (unfreeze, collect,
    freeze; logged as ``gc_full``) runs once the frozen set has doubled since the last one and
    holds over ``GC_FULL_MIN`` objects.  The pass stops the loop (measured: 0.2 s at 200,000
    objects, 0.65 s at 440,000), so the floor sits well above a busy switch's live heap (about
    440,000 objects at 200 calls/s, where every full pass found nothing to free): it bounds a
    leak, it does not run in normal operation.  The size is looked at once every
    ``GC_FULL_CHECK`` s: counting it walks every frozen object.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    if loop is not None:
        pacer = _GcPacer(loop, gc.get_freeze_count())
        loop.call_later(GC_PERIOD, pacer.young_pass)


class _GcPacer:
    """The young passes the loop runs, and the rare full pass (see ``tune_gc``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, frozen: int) -> None:
        self.loop = loop
        self.baseline = frozen
        self.passes = 0

    def young_pass(self) -> None:
        gc.collect(0)
        gc.freeze()  # O(1): the survivors join the permanent generation
        self.passes += 1
        if self.passes * GC_PERIOD >= GC_FULL_CHECK:
            self.passes = 0
            frozen = gc.get_freeze_count()  # O(frozen objects)
            if frozen >= max(GC_FULL_MIN, self.baseline * GC_FULL_GROWTH):
                self.full_pass(frozen)
        self.loop.call_later(GC_PERIOD, self.young_pass)

    def full_pass(self, frozen: int) -> None:
        start = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.baseline = gc.get_freeze_count()
        log.info("gc_full", frozen_before=frozen, frozen_after=self.baseline,
                 unreachable=found, ms=round((time.perf_counter() - start) * 1e3, 1))


def run(config: SwitchConfig, load: Callable[[], SwitchConfig] | None = None) -> int:
    """Serve until a signal; returns the process exit status.  ``load`` re-reads the
    configuration on SIGHUP (and ``POST /api/v1/reload``)."""
    configure_logging(config.log_format, config.log_level, cache=True)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_serve(config, load))
    return uvloop.run(_serve(config, load))
