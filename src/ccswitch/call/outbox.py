"""A webhook's outbox (pure): which event goes out next, when a failed one is tried again,
and how far the hook has got.  The shell (``http/webhooks``) reads pages of stored events
into it, POSTs what ``due`` hands out and reports each answer; it persists ``delivered``.

Delivery is in order and at least once: the next event is not sent before the one before it
was answered with 2xx, a failed one is retried after ``Backoff.delay(attempt)`` (exponential,
capped), forever; a restart resumes after the last ``delivered`` stored (so the one in flight
at a crash may arrive twice: receivers dedupe by ``seq``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Ccswitch-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """``signature`` is ``sign(secret, body)`` (compared in constant time)."""
    return hmac.compare_digest(sign(secret, body), signature)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``first`` s after the first failure, times ``factor`` after each next
    one, never above ``cap``."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1 = the first failure)."""
        assert attempt >= 1
        return min(self.cap, self.first * self.factor ** min(attempt - 1, 64))


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    body: bytes


class Outbox:
    """One hook's position in the stream and its retry state."""

    def __init__(self, *, delivered: int, backoff: Backoff) -> None:
        self.delivered = delivered  # every matching event up to here has been answered 2xx
        self.scanned = delivered  # events up to here are loaded (or did not match)
        self.backoff = backoff
        self._queue: deque[Pending] = deque()
        self.in_flight: int | None = None
        self.attempts = 0  # failures of the head event so far
        self.retry_at: float | None = None
        self.sent = 0
        self.failures = 0

    @property
    def needs_page(self) -> bool:
        """Nothing loaded is left: the shell should read events after ``scanned``."""
        return not self._queue

    def load(self, events: Sequence[Pending], scanned_to: int) -> None:
        """Events read after ``scanned`` (in order, those that match the hook), and how far the
        read looked; with none loaded before, everything up to ``scanned_to`` is delivered."""
        for ev in events:
            if ev.seq > self.scanned:
                self._queue.append(ev)
                self.scanned = ev.seq
        self.scanned = max(self.scanned, scanned_to)
        if not self._queue:
            self.delivered = max(self.delivered, self.scanned)

    def due(self, now: float) -> Pending | None:
        """The event to POST now, or ``None`` (none loaded, one in flight, or waiting to retry).
        The caller answers with ``succeeded`` or ``failed``."""
        if not self._queue or self.in_flight is not None:
            return None
        if self.retry_at is not None and now < self.retry_at:
            return None
        head = self._queue[0]
        self.in_flight = head.seq
        return head

    def succeeded(self, seq: int) -> None:
        assert self.in_flight == seq and self._queue and self._queue[0].seq == seq
        self._queue.popleft()
        self.in_flight = None
        self.attempts = 0
        self.retry_at = None
        self.sent += 1
        self.delivered = seq if self._queue else max(seq, self.scanned)

    def failed(self, seq: int, now: float) -> float:
        """The POST of ``seq`` failed: returns when it is tried again."""
        assert self.in_flight == seq
        self.in_flight = None
        self.attempts += 1
        self.failures += 1
        self.retry_at = now + self.backoff.delay(self.attempts)
        return self.retry_at

    def next_deadline(self) -> float | None:
        """When ``due`` may next hand out something without new input (a retry)."""
        if self._queue and self.in_flight is None:
            return self.retry_at
        return None

    def backlog(self, committed: int) -> int:
        """Events not yet delivered, at most (``committed``: the stream's last seq; events that
        do not match the hook count until they are scanned past)."""
        return max(0, committed - self.delivered)
