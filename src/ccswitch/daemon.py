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
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tune_gc()
    log.info("ready", listen=listening, data_dir=str(config.data_dir),
             users=len(config.users))
    await stop.wait()
    log.info("stopping")
    await asyncio.wait_for(switch.stop(), 4.0)
    log.info("stopped")
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
