"""Today's per-queue totals for a wallboard that asks every few seconds: ``reports.today``
(the durable local day in the report's zone, restarts included) computed again when a row was
written to the stores since (their marks, ``reports/cache.py``: a call shows in the next read
once its events are durable) and at least once per ``ttl`` seconds (figures still open grow
with the time), whoever asks, and shared by every board."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import today
from .cache import marks
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
        self._stamp: object = None
        self._got: dict[str, QueueTotals] = {}
        self.computed = 0  # how many times the day was read (for tests and logs)

    def get(self) -> dict[str, QueueTotals]:
        with self._lock:
            now = self.clock()
            stamp = self.reports.read(lambda r: marks(r.db).newest)
            if now - self._at >= self.ttl or now < self._at or stamp != self._stamp:
                settings = self.reports.settings()
                self._got = self.reports.read(lambda r: today(r, settings, now))
                self._at, self._stamp = now, stamp
                self.computed += 1
            return self._got
