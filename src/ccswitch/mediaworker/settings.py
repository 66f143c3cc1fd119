"""What one media worker process is told at spawn: picklable, read-only settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

WakeMode = Literal["tick", "ready"]


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Settings of media worker ``index`` (passed to the spawned process, so picklable).

    - ``tick``: the fixed tick of the worker loop (s); audio frames are ``frame_ms`` long.
    - ``wake``: ``"tick"`` sleeps until each tick deadline and drains every socket then (the
      issue's fixed tick); ``"ready"`` also wakes when a socket is readable and feeds the engine
      and sends its outbox at once (lower added jitter, one wake-up per burst; for measurement).
    - ``rtp_timeout`` / ``jitter_depth``: engine defaults (``SetTimeout`` overrides per leg).
    - ``recordings_dir``: where a relative ``StartRecord.path`` is written.
    - ``rcvbuf``: SO_RCVBUF for every RTP/RTCP socket, 0 keeps the kernel default (measured:
      the default ~208 KiB holds 256 datagrams of 172 bytes, 5 s of one 20 ms stream).
    - ``max_drain``: read passes over the ready sockets per tick, one datagram per socket and
      pass (a flood cannot stall the tick;
      the rest stays queued in the kernel for the next tick).
    - ``stats_interval``: seconds between ``WorkerStats`` events.
    - ``header_interval``: at most this often (s) a recording's WAV header is rewritten.
    - ``audio_cache_bytes``: budget of decoded prompts kept in memory (LRU).
    - ``engine_factory``: builds the engine from these settings (None: the real
      ``media.engine.MediaEngine``); a module-level callable, so it pickles (tests and
      benchmarks pass stand-ins).
    - ``log_setup``: module-level callable run first in the child to configure logging (the
      daemon passes its structlog configuration; None leaves structlog's defaults).
    - ``unreported``: event types the worker drops instead of sending (the signaling side
      reads nothing from them: ``LegReady``, and ``LegStats`` unless it logs them; each
      call's two batches of them cost a pickle and a pipe write here, a wake-up, a read and
      an unpickle there).
    - ``held``: event types that wait for a batch the worker sends anyway, at the latest the
      next ``WorkerStats`` (a leg's final ``LegStats``: no batch of their own per call).
    - ``live_interval``: seconds between live ``LegStats`` samples of every leg with traffic
      (``final`` False, sent with the ``WorkerStats``; 0: none).
    """

    index: int = 0
    tick: float = 0.01
    frame_ms: int = 20
    rtp_timeout: float = 30.0
    jitter_depth: float = 0.06
    local_ip: str = "0.0.0.0"
    recordings_dir: str = "."
    wake: WakeMode = "tick"
    rcvbuf: int = 0
    max_drain: int = 512
    stats_interval: float = 1.0
    header_interval: float = 1.0
    audio_cache_bytes: int = 64 * 1024 * 1024
    engine_factory: Callable[[WorkerSettings], Any] | None = None
    log_setup: Callable[[], None] | None = None
    unreported: frozenset[type] = frozenset()
    held: frozenset[type] = frozenset()
    live_interval: float = 0.0

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.frame_ms <= 0:
            raise ValueError("tick and frame_ms must be positive")
        if self.wake not in ("tick", "ready"):
            raise ValueError(f"wake must be 'tick' or 'ready', got {self.wake!r}")
        if self.max_drain < 1:
            raise ValueError("max_drain must be at least 1")

    def record_path(self, path: str) -> str:
        """Where the recording ``path`` of a ``StartRecord`` is written (relative paths under
        ``recordings_dir``)."""
        return path if os.path.isabs(path) else os.path.join(self.recordings_dir, path)
