"""The RTP port pool: even ports of a range for RTP (the odd one above is RTCP), handed out
least-recently-released first so a freed port rests as long as possible before its next call
(stray packets of the old call then find nobody, instead of being latched by the new one).

A pair some other process holds must never reach a call: the answer would name a port the
media worker cannot bind, and the call would be answered and hung up at once.  The shell
injects ``probe(port) -> bool`` (can RTP ``port`` and RTCP ``port + 1`` be bound now?); a pair
that fails it is *held* out of the free list, first for ``hold`` seconds, twice as long after
each further failure up to ``max_hold``, then probed again.  A pair whose bind failed in the
worker anyway (taken between the probe and the bind) is held the same way (``busy``).  When
no free pair passes, ``PortsExhausted`` says when to retry, and the call gets 503 before any
answer.  Pure: the time comes in as ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import structlog

log = structlog.get_logger()

Probe = Callable[[int], bool]
"""Whether RTP ``port`` and RTCP ``port + 1`` can be bound now (the shell's check)."""

RETRY_AFTER = 5  # seconds a 503 asks for when every pair is in use by calls
MAX_RETRY_AFTER = 60


class PortsExhausted(Exception):
    """No pair of the range can be used now; the call gets 503 with ``retry_after`` (s)."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PortPool:
    """Even RTP ports in ``[low, high]``; ``allocate`` / ``release`` / ``busy``; pure."""

    __slots__ = ("_failures", "_free", "_held", "_probe", "_used", "high", "hold", "low",
                 "max_hold")

    def __init__(self, low: int, high: int, *, probe: Probe | None = None, hold: float = 1.0,
                 max_hold: float = 60.0) -> None:
        if not 0 < low <= high <= 65535:
            raise ValueError(f"bad RTP port range {low}-{high}")
        if not 0 < hold <= max_hold:
            raise ValueError("hold must be positive and at most max_hold")
        self.low = low
        self.high = high
        self.hold = hold
        self.max_hold = max_hold
        first = low + (low & 1)
        self._free: deque[int] = deque(range(first, high, 2))  # port + 1 must fit too
        if not self._free:
            raise ValueError(f"RTP port range {low}-{high} holds no RTP/RTCP pair")
        self._used: set[int] = set()
        self._held: dict[int, float] = {}  # port -> when it may be probed again
        self._failures: dict[int, int] = {}  # port -> failed probes in a row
        self._probe = probe

    def __len__(self) -> int:
        """Ports free (held ones not counted)."""
        return len(self._free)

    @property
    def capacity(self) -> int:
        return len(self._free) + len(self._used) + len(self._held)

    @property
    def in_use(self) -> int:
        return len(self._used)

    @property
    def held(self) -> dict[int, float]:
        """Pairs held out because something else had bound them: port -> re-probe time."""
        return dict(self._held)

    def allocate(self, now: float) -> int:
        """The least recently released free pair that passes the probe; pairs that fail it
        are held.  Raises ``PortsExhausted`` when none is left."""
        self._unhold(now)
        while self._free:
            port = self._free.popleft()
            if self._probe is not None and not self._probe(port):
                self._hold(port, now)
                continue
            self._failures.pop(port, None)
            self._used.add(port)
            return port
        raise PortsExhausted(f"no free RTP port in {self.low}-{self.high}",
                             self._retry_after(now))

    def release(self, port: int) -> None:
        """Give ``port`` back; releasing a port that is not in use is a no-op."""
        if port in self._used:
            self._used.discard(port)
            self._free.append(port)

    def busy(self, port: int, now: float) -> None:
        """``port`` was in use but its bind failed (someone else holds it): hold it instead
        of returning it to the free list when the call lets it go."""
        if port in self._used:
            self._used.discard(port)
            self._hold(port, now)

    # -- helpers ------------------------------------------------------------------------
    def _hold(self, port: int, now: float) -> None:
        n = self._failures.get(port, 0)
        self._failures[port] = n + 1
        wait = min(self.hold * 2.0 ** n, self.max_hold)
        self._held[port] = now + wait
        # once per run of failures at info (an operator should learn of it), then debug
        (log.info if n == 0 else log.debug)("rtp_port_busy", port=port, hold_s=wait)

    def _unhold(self, now: float) -> None:
        if not self._held:
            return
        due = sorted((t, p) for p, t in self._held.items() if t <= now)
        for _t, port in due:
            del self._held[port]
            self._free.append(port)

    def _retry_after(self, now: float) -> int:
        """Seconds until a pair may be free: the usual wait while calls hold them all, else
        until the first held pair is probed again."""
        if self._used or not self._held:
            return RETRY_AFTER
        soonest = min(self._held.values()) - now
        return max(1, min(MAX_RETRY_AFTER, math.ceil(soonest)))
