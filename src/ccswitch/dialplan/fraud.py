"""Toll-fraud policy: who may call which outside number, how many at once, and when a user's
attempts look like fraud (pure; ``now`` is passed in, nothing reads a clock).

- Each user has an :class:`OutboundClass`: ``none`` (no calls at all), ``internal`` (no
  outside calls), ``local``, ``national`` or ``international``.  A destination is allowed when
  its :class:`~ccswitch.dialplan.numbers.DestinationClass` is not above the user's class.
  The default class is ``national``: international calls are off unless configured.
- Blocked destination prefixes (E.164, e.g. premium-rate ranges) are refused for everyone.
- Concurrent outbound calls are limited per user and per trunk, and new calls per second per
  trunk; the call layer reports calls that start and end (:meth:`TollPolicy.call_started` /
  :meth:`call_ended`).
- A :class:`BurstDetector` counts a user's suspicious attempts (refused by this policy, failed
  at the carrier, or expensive: international) in a sliding window; reaching the threshold
  blocks the user (every outside call refused) and emits :class:`FraudSuspected` until an
  admin calls :meth:`TollPolicy.clear`.

The policy does not log: its refusals carry a ``why`` and its events are read with
:meth:`TollPolicy.events`; the call layer logs them (``fraud_suspected`` at warning).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from .numbers import DestinationClass

__all__ = [
    "DEFAULT_CLASS",
    "BurstDetector",
    "FraudCleared",
    "FraudSuspected",
    "OutboundClass",
    "PolicyRefusal",
    "TollPolicy",
]


class OutboundClass(Enum):
    """What a user may dial, in increasing reach."""

    NONE = "none"
    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, dest: DestinationClass) -> bool:
        """Whether a user of this class may call a destination of class ``dest``."""
        return self.rank >= _RANK_OF_DEST[dest]

    @property
    def internal_calls(self) -> bool:
        """Whether a user of this class may call inside the switch at all."""
        return self is not OutboundClass.NONE


_RANK: Final = {c: i for i, c in enumerate(OutboundClass)}
_RANK_OF_DEST: Final = {DestinationClass.LOCAL: _RANK[OutboundClass.LOCAL],
                        DestinationClass.NATIONAL: _RANK[OutboundClass.NATIONAL],
                        DestinationClass.INTERNATIONAL: _RANK[OutboundClass.INTERNATIONAL]}
DEFAULT_CLASS: Final = OutboundClass.NATIONAL
"""A user's class when none is configured: international calls are off by default."""


@dataclass(frozen=True, slots=True)
class PolicyRefusal:
    """An outside call refused: answer ``status``/``reason``; ``why`` for the log
    (``blocked_user``, ``class``, ``blocked_prefix``, ``user_limit``, ``trunk_limit``)."""

    status: int
    reason: str
    why: str


@dataclass(frozen=True, slots=True)
class FraudSuspected:
    """``user`` made ``attempts`` suspicious attempts within ``window`` seconds up to ``at``;
    the user is blocked from outside calls until cleared."""

    user: str
    attempts: int
    window: float
    at: float


@dataclass(frozen=True, slots=True)
class FraudCleared:
    """An admin cleared ``user``'s block at ``at``."""

    user: str
    at: float


FraudEvent = FraudSuspected | FraudCleared


class BurstDetector:
    """Counts hits per key in a sliding window of ``window`` seconds: :meth:`hit` returns the
    number of hits in ``(now - window, now]`` including this one.  Times must not go back."""

    def __init__(self, *, window: float) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> int:
        times = self._hits.setdefault(key, deque())
        times.append(now)
        self._prune(key, times, now)
        return len(times)

    def count(self, key: str, now: float) -> int:
        times = self._hits.get(key)
        if times is None:
            return 0
        self._prune(key, times, now)
        return len(times)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _prune(self, key: str, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._hits[key]

    def __len__(self) -> int:
        """Keys with hits still in memory (pruned as they are touched)."""
        return len(self._hits)


FORBIDDEN: Final = (403, "Forbidden")


@dataclass(slots=True)
class TollPolicy:
    """The toll-fraud policy (see the module docstring).  ``classes``: per-user outbound class
    (``default_class`` for the others); ``blocked_prefixes``: E.164 prefixes nobody may call;
    ``max_user_calls``: concurrent outside calls per user (0: no limit); ``trunk_limits``:
    concurrent calls per trunk (missing: no limit); ``trunk_rates``: new calls per second per
    trunk (missing: no limit; below 1, one call per ``1/rate`` seconds);
    ``burst_attempts`` suspicious attempts within ``burst_window`` seconds block a user."""

    classes: Mapping[str, OutboundClass] = field(default_factory=dict)
    default_class: OutboundClass = DEFAULT_CLASS
    blocked_prefixes: tuple[str, ...] = ()
    max_user_calls: int = 2
    trunk_limits: Mapping[str, int] = field(default_factory=dict)
    trunk_rates: Mapping[str, float] = field(default_factory=dict)
    burst_attempts: int = 5
    burst_window: float = 60.0
    _burst: BurstDetector = field(init=False, repr=False)
    _starts: dict[str, BurstDetector] = field(init=False, default_factory=dict)
    _blocked: dict[str, float] = field(init=False, default_factory=dict)
    _user_calls: dict[str, int] = field(init=False, default_factory=dict)
    _trunk_calls: dict[str, int] = field(init=False, default_factory=dict)
    _calls: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)
    _events: list[FraudEvent] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.burst_attempts < 1 or self.max_user_calls < 0:
            raise ValueError("burst_attempts must be at least 1, max_user_calls not negative")
        self._burst = BurstDetector(window=self.burst_window)
        for trunk, rate in self.trunk_rates.items():
            if rate <= 0:
                raise ValueError(f"trunk {trunk}: calls per second must be positive")
            self._starts[trunk] = BurstDetector(window=max(1.0, 1.0 / rate))

    # -- questions --------------------------------------------------------------------------
    def class_of(self, user: str) -> OutboundClass:
        return self.classes.get(user, self.default_class)

    def is_blocked(self, user: str) -> bool:
        return user in self._blocked

    @property
    def blocked_users(self) -> Mapping[str, float]:
        """Blocked user -> when the block started."""
        return dict(self._blocked)

    def check(self, user: str, e164: str, dest: DestinationClass, now: float,
              ) -> PolicyRefusal | None:
        """Whether ``user`` may call ``e164`` (of class ``dest``) now; a refusal counts as a
        suspicious attempt.  Trunk limits are asked apart (:meth:`trunk_has_room`)."""
        refusal = self._refusal(user, e164, dest)
        if refusal is not None and refusal.why != "blocked_user":
            self.attempt(user, now, suspicious=True)
        return refusal

    def _refusal(self, user: str, e164: str, dest: DestinationClass) -> PolicyRefusal | None:
        if user in self._blocked:
            return PolicyRefusal(*FORBIDDEN, "blocked_user")
        if not self.class_of(user).allows(dest):
            return PolicyRefusal(*FORBIDDEN, "class")
        if any(e164.startswith(p) for p in self.blocked_prefixes):
            return PolicyRefusal(*FORBIDDEN, "blocked_prefix")
        if self.max_user_calls and self._user_calls.get(user, 0) >= self.max_user_calls:
            return PolicyRefusal(*FORBIDDEN, "user_limit")
        return None

    def trunk_has_room(self, trunk: str, now: float) -> bool:
        """Whether ``trunk`` may take one more call now: below its concurrent calls and its
        calls per second."""
        limit = self.trunk_limits.get(trunk)
        if limit is not None and self._trunk_calls.get(trunk, 0) >= limit:
            return False
        starts = self._starts.get(trunk)
        return starts is None or starts.count(trunk, now) < max(1, int(self.trunk_rates[trunk]))

    # -- what happened ----------------------------------------------------------------------
    def attempt(self, user: str, now: float, *, suspicious: bool) -> None:
        """Count an attempt of ``user``: suspicious ones (refused, failed at every trunk,
        international) feed the burst detector; a burst blocks the user."""
        if not suspicious or user in self._blocked:
            return
        hits = self._burst.hit(user, now)
        if hits >= self.burst_attempts:
            self._blocked[user] = now
            self._burst.reset(user)
            self._events.append(FraudSuspected(user, hits, self.burst_window, now))

    def call_started(self, call_id: str, user: str, trunk: str, now: float) -> None:
        """An outside call of ``user`` through ``trunk`` is being set up at ``now`` (counted
        until :meth:`call_ended`, and in the trunk's calls per second)."""
        if call_id in self._calls:
            raise ValueError(f"call {call_id} already counted")
        starts = self._starts.get(trunk)
        if starts is not None:
            starts.hit(trunk, now)
        self._calls[call_id] = (user, trunk)
        self._user_calls[user] = self._user_calls.get(user, 0) + 1
        self._trunk_calls[trunk] = self._trunk_calls.get(trunk, 0) + 1

    def call_ended(self, call_id: str) -> None:
        """The call ended (or failed over: a call moving to another trunk ends and starts).
        Unknown ids are ignored (ended twice)."""
        entry = self._calls.pop(call_id, None)
        if entry is None:
            return
        user, trunk = entry
        _decrement(self._user_calls, user)
        _decrement(self._trunk_calls, trunk)

    def calls_of_user(self, user: str) -> int:
        return self._user_calls.get(user, 0)

    def calls_of_trunk(self, trunk: str) -> int:
        return self._trunk_calls.get(trunk, 0)

    def clear(self, user: str, now: float) -> bool:
        """An admin lifts ``user``'s block; False when it was not blocked."""
        if self._blocked.pop(user, None) is None:
            return False
        self._burst.reset(user)
        self._events.append(FraudCleared(user, now))
        return True

    def events(self) -> list[FraudEvent]:
        out, self._events = self._events, []
        return out


def _decrement(counts: dict[str, int], key: str) -> None:
    n = counts.get(key, 0) - 1
    if n > 0:
        counts[key] = n
    else:
        counts.pop(key, None)
