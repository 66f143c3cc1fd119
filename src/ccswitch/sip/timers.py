"""SIP transaction timer values (RFC 3261 §17, table 4; RFC 6026 Timers L and M).

``T1`` is the RTT estimate, ``T2`` the cap on non-INVITE request and INVITE response
retransmission intervals, ``T4`` the longest time a message stays in the network.  Timers that
only absorb retransmissions (D, I, J, K) are zero on reliable transports; the retransmission
timers A, E and G are not run there at all (the transaction layer decides that).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SipTimers:
    """Base values in seconds; every timer of §17 is derived from them.

    ``d`` is Timer D on unreliable transports: "at least 32 s" in RFC 3261; it is a field so
    tests that shrink T1 may shrink it as well.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0

    def __post_init__(self) -> None:
        if not (self.t1 > 0 and self.t2 >= self.t1 and self.t4 > 0 and self.d >= 0):
            raise ValueError(f"bad SIP timer values: {self!r}")

    # -- retransmission timers (unreliable transports only) --
    @property
    def timer_a(self) -> float:
        """Initial INVITE request retransmission interval (doubles, no cap)."""
        return self.t1

    @property
    def timer_e(self) -> float:
        """Initial non-INVITE request retransmission interval (doubles up to T2)."""
        return self.t1

    @property
    def timer_g(self) -> float:
        """Initial INVITE final-response retransmission interval (doubles up to T2)."""
        return self.t1

    def backoff(self, interval: float) -> float:
        """The next E/G interval: double, capped at T2."""
        return min(2 * interval, self.t2)

    # -- transaction lifetimes --
    @property
    def timer_b(self) -> float:
        """INVITE client transaction timeout."""
        return 64 * self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE client transaction timeout."""
        return 64 * self.t1

    @property
    def timer_h(self) -> float:
        """Wait time for an ACK to a non-2xx final response."""
        return 64 * self.t1

    @property
    def timer_l(self) -> float:
        """INVITE server transaction lifetime in Accepted (RFC 6026)."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """INVITE client transaction lifetime in Accepted (RFC 6026)."""
        return 64 * self.t1

    # -- absorbing retransmissions: zero on reliable transports --
    def timer_d(self, reliable: bool) -> float:
        """Wait time for response retransmissions (INVITE client, Completed)."""
        return 0.0 if reliable else self.d

    def timer_i(self, reliable: bool) -> float:
        """Wait time for ACK retransmissions (INVITE server, Confirmed)."""
        return 0.0 if reliable else self.t4

    def timer_j(self, reliable: bool) -> float:
        """Wait time for request retransmissions (non-INVITE server, Completed)."""
        return 0.0 if reliable else 64 * self.t1

    def timer_k(self, reliable: bool) -> float:
        """Wait time for response retransmissions (non-INVITE client, Completed)."""
        return 0.0 if reliable else self.t4
