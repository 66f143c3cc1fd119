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

    def on_hangup() -> None:
        # reloading the configuration is not built yet: say so instead of dying (exit 129)
        log.warning("sighup_ignored", reason="configuration reload is not supported yet")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    tune_gc()
    # lifecycle events are warnings so that they show at every level short of error
    log.warning("ready", listen=listening, data_dir=str(switch.data_dir),
             users=len(config.users))
    await stop.wait()
    log.warning("stopping")
    await asyncio.wait_for(switch.stop(), 4.0)
    log.warning("stopped")
    return 0


def tune_gc() -> None:
    """Keep the collector from stopping the loop for long.

    The switch holds many live, mostly acyclic objects (transactions kept for Timers J/K/H,
    registrations): full collections walk them all and free nothing, and a long pause lets
    the socket buffers overflow.  Start-up objects are frozen out of collection, and young
    collections run less often, so full ones come rarely.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def run(config: SwitchConfig) -> int:
    """Serve until a signal; returns the process exit status."""
    configure_logging(config.log_format, config.log_level)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_serve(config))
    return uvloop.run(_serve(config))
