"""Time for the pure core: a Clock protocol and a heap of deadlines.

The core never reads a clock; the shell passes ``now`` in.  ``TimerHeap`` keeps
keyed deadlines so a state machine can answer ``next_deadline()`` cheaply.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)


class Clock(Protocol):
    """Anything that tells the time in seconds (monotonic)."""

    def now(self) -> float: ...


class TimerHeap(Generic[K]):
    """Keyed deadlines; re-arming a key replaces its deadline (lazy deletion)."""

    __slots__ = ("_armed", "_heap", "_pruned", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._armed: dict[K, tuple[float, int]] = {}
        self._seq = 0
        self._pruned = True  # the top of the heap is armed (or the heap is empty)

    def arm(self, key: K, when: float) -> None:
        self._seq += 1
        if key in self._armed:
            self._pruned = False  # its old entry may be the top
        self._armed[key] = (when, self._seq)
        heapq.heappush(self._heap, (when, self._seq, key))

    def cancel(self, key: K) -> None:
        if self._armed.pop(key, None) is not None:
            self._pruned = False

    def __contains__(self, key: Hashable) -> bool:
        return key in self._armed

    def __len__(self) -> int:
        return len(self._armed)

    def _prune(self) -> None:
        if self._pruned:
            return
        heap = self._heap
        while heap:
            when, seq, key = heap[0]
            if self._armed.get(key) == (when, seq):
                break
            heapq.heappop(heap)
        self._pruned = True

    def next_deadline(self) -> float | None:
        if not self._pruned:
            self._prune()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key whose deadline is at or before ``now``, earliest first."""
        if self._pruned and (not self._heap or self._heap[0][0] > now):
            return []  # the usual answer, without a call
        due: list[K] = []
        while True:
            self._prune()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, key = heapq.heappop(self._heap)
            self._pruned = False  # the next entry may be stale
            del self._armed[key]
            due.append(key)
