"""The RTP port pool: even ports of a range for RTP (the odd one above is RTCP), handed out
least-recently-released first so a freed port rests as long as possible before its next call
(stray packets of the old call then find nobody, instead of being latched by the new one).
"""

from __future__ import annotations

from collections import deque


class PortsExhausted(Exception):
    """Every port of the range is in use; the call gets 503."""


class PortPool:
    """Even RTP ports in ``[low, high]``; ``allocate`` / ``release``; pure."""

    __slots__ = ("_free", "_used", "high", "low")

    def __init__(self, low: int, high: int) -> None:
        if not 0 < low <= high <= 65535:
            raise ValueError(f"bad RTP port range {low}-{high}")
        self.low = low
        self.high = high
        first = low + (low & 1)
        self._free: deque[int] = deque(range(first, high, 2))  # port + 1 must fit too
        if not self._free:
            raise ValueError(f"RTP port range {low}-{high} holds no RTP/RTCP pair")
        self._used: set[int] = set()

    def __len__(self) -> int:
        """Ports free."""
        return len(self._free)

    @property
    def capacity(self) -> int:
        return len(self._free) + len(self._used)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def allocate(self) -> int:
        if not self._free:
            raise PortsExhausted(f"no free RTP port in {self.low}-{self.high}")
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Give ``port`` back; releasing a port that is not in use is a no-op."""
        if port in self._used:
            self._used.discard(port)
            self._free.append(port)

    def discard(self, port: int) -> None:
        """Take ``port`` out of service (it could not be bound: someone else holds it)."""
        self._used.discard(port)
