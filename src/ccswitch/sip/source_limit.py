"""A per-source budget of requests in a fixed window, sans-IO (flood guard).

``SourceLimit(limit, window)`` lets ``limit`` requests of one source (any hashable key: the
switch uses transport, host and port) through in each ``window`` seconds, counted from the
first one of the window.  ``check(source, now)`` says whether this one passes and, when it
does not, whether it is the first refused one of that source's episode (the caller logs
only that one) and how long until the window ends (a ``Retry-After``).  Records expire with
their window, lazily in ``check``; at most ``max_sources`` are kept (the oldest goes first),
so a peer changing its source port cannot make the switch keep more.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["LimitVerdict", "SourceLimit"]


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """``allowed``; else ``first_refusal`` (log it) and ``retry_after`` whole seconds."""

    allowed: bool
    first_refusal: bool = False
    retry_after: int = 0


_PASS = LimitVerdict(True)


@dataclass(slots=True)
class _Window:
    ends: float
    count: int = 0
    refused: int = 0


class SourceLimit:
    """At most ``limit`` requests per source in each ``window`` seconds."""

    def __init__(self, *, limit: int, window: float, max_sources: int = 10_000) -> None:
        if limit < 1 or window <= 0 or max_sources < 1:
            raise ValueError("limit, window and max_sources must be positive")
        self._limit = limit
        self._window = window
        self._max = max_sources
        # ordered by the end of each window: every insert carries now + the same span
        self._windows: OrderedDict[Hashable, _Window] = OrderedDict()

    def check(self, source: Hashable, now: float) -> LimitVerdict:
        """Count one request of ``source`` at ``now``; the verdict on it."""
        self._prune(now)
        w = self._windows.get(source)
        if w is None:
            w = self._windows[source] = _Window(ends=now + self._window)
            if len(self._windows) > self._max:
                self._windows.popitem(last=False)
        w.count += 1
        if w.count <= self._limit:
            return _PASS
        w.refused += 1
        return LimitVerdict(False, first_refusal=w.refused == 1,
                            retry_after=max(1, math.ceil(w.ends - now)))

    def refused(self, source: Hashable) -> int:
        """How many requests of ``source`` the current window refused (0 when none)."""
        w = self._windows.get(source)
        return w.refused if w is not None else 0

    def _prune(self, now: float) -> None:
        windows = self._windows
        while windows and next(iter(windows.values())).ends <= now:
            windows.popitem(last=False)
