"""Today's per-queue totals for a wallboard that asks every few seconds: ``reports.today``
(the durable local day in the report's zone, restarts included) computed at most once per
``ttl`` seconds, whoever asks, and shared by every board."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import today
from .queues import QueueTotals
from .service import Reports

TTL = 5.0  # s: a board re-fetches every 10 s; two boards (or a burst of events) share one read


class TodayCache:
    """``get()`` returns {queue: today's totals}; blocking (run it in a worker thread)."""

    def __init__(self, reports: Reports, *, ttl: float = TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.reports = reports
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._got: dict[str, QueueTotals] = {}
        self.computed = 0  # how many times the day was read (for tests and logs)

    def get(self) -> dict[str, QueueTotals]:
        with self._lock:
            now = self.clock()
            if now - self._at >= self.ttl or now < self._at:
                settings = self.reports.settings()
                self._got = self.reports.read(lambda r: today(r, settings, now))
                self._at = now
                self.computed += 1
            return self._got
