"""The daemon's side of the reports: one read-only connection (opened on first use, again
after PostgreSQL lost it), used from worker threads one at a time, the settings of the
running configuration and the cache of report reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from ..store.db import Db, Location
from .cache import ReportCache
from .reader import ReportReader
from .settings import ReportSettings

T = TypeVar("T")


class Reports:
    """``read(fn)`` runs ``fn(reader)``; call it through ``asyncio.to_thread``.  ``cache``:
    the results the API's report and forecast reads share (``reports/cache.py``)."""

    def __init__(self, where: Location, settings: Callable[[], ReportSettings], *,
                 cache: ReportCache | None = None) -> None:
        self.location = where
        self.settings = settings
        self.cache = cache if cache is not None else ReportCache()
        self._db: Db | None = None
        self._lock = threading.Lock()

    def read(self, fn: Callable[[ReportReader], T]) -> T:
        with self._lock:
            if self._db is None:
                self._db = self.location.connect(read_only=True)
            elif self._db.broken:
                self._db.reconnect()
            return fn(ReportReader(self._db))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
