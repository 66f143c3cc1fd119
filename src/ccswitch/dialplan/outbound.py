"""Outbound routes: which trunks an outside number goes to, in which order, with which caller
ID, and when a trunk's answer means "try the next one" (pure).

:meth:`OutboundRouter.decide` takes the authenticated caller (``None`` for anyone else) and the
dialled number and answers one of:

- :class:`NotOutside`: the number is not an outside number of a known form (the dial plan
  answers it: a user, a feature code, 404);
- :class:`OutboundRefused`: refused with a status (403 unauthenticated caller or toll-fraud
  policy, 404 no route, 503 no trunk available), ``why`` for the log;
- :class:`OutboundCall`: the E.164 number, its destination class, the route, the trunks to try
  in order (down trunks and full trunks left out) and the caller ID to present.

The order of checks: the number's form (normalised by the :class:`NumberPlan`), the caller
(an unauthenticated caller never reaches a trunk), the toll-fraud policy (blocked user, class,
blocked prefix, concurrent calls), the first route whose prefixes or regular expressions match
the E.164 number (routes in configuration order), then the trunks' state.  An international
call that passes counts as an expensive attempt for the burst detector.

Failover (:func:`fails_over`, :class:`Failover`): 408, any 5xx and no answer (a transaction
timeout or the route's ``answer_timeout``) move to the next trunk; 3xx, 6xx and the callee's
4xx do not, except the 4xx codes a route lists in ``failover_on`` (403/404 of a broken trunk).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .fraud import TollPolicy
from .numbers import DestinationClass, NumberPlan

__all__ = [
    "FAILOVER_4XX",
    "Failover",
    "NotOutside",
    "OutboundCall",
    "OutboundDecision",
    "OutboundRefused",
    "OutboundRouter",
    "Route",
    "fails_over",
    "final_status",
]

FAILOVER_4XX: Final = frozenset({403, 404})
"""The 4xx codes a route may list in ``failover_on`` (a broken or misconfigured trunk)."""


@dataclass(frozen=True, slots=True)
class Route:
    """An outbound route: numbers (E.164) starting with one of ``prefixes`` or matching one of
    ``patterns`` (whole-number regular expressions) go to ``trunks`` in order.  ``caller_id``:
    the number presented (``None``: the user's, else the trunk's default); ``failover_on``:
    4xx codes that also move to the next trunk; ``answer_timeout``: seconds a trunk has to
    send a provisional or final answer before the next one is tried."""

    name: str
    trunks: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    caller_id: str | None = None
    failover_on: frozenset[int] = frozenset()
    answer_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.trunks:
            raise ValueError(f"route {self.name}: no trunk")
        if not self.prefixes and not self.patterns:
            raise ValueError(f"route {self.name}: no prefix or pattern")
        if not self.failover_on <= FAILOVER_4XX:
            raise ValueError(f"route {self.name}: failover_on may hold only 403 and 404")

    def matches(self, e164: str) -> bool:
        return (any(e164.startswith(p) for p in self.prefixes)
                or any(p.fullmatch(e164) for p in self.patterns))


@dataclass(frozen=True, slots=True)
class NotOutside:
    """``dialled`` is not an outside number: the dial plan decides."""

    dialled: str


@dataclass(frozen=True, slots=True)
class OutboundRefused:
    """Refused: answer ``status`` ``reason``; ``why`` for the log (``unauthenticated``,
    ``blocked_user``, ``class``, ``blocked_prefix``, ``user_limit``, ``no_route``,
    ``no_trunk``); ``number``: the E.164 number refused."""

    status: int
    reason: str
    why: str
    number: str


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """Call ``number`` (E.164) through ``trunks`` in order, presenting ``caller_id``."""

    number: str
    destination: DestinationClass
    route: str
    trunks: tuple[str, ...]
    caller_id: str | None
    failover_on: frozenset[int]
    answer_timeout: float

    def failover(self) -> Failover:
        return Failover(self.trunks, self.failover_on)


OutboundDecision = NotOutside | OutboundRefused | OutboundCall


def fails_over(status: int | None, failover_on: Collection[int] = ()) -> bool:
    """Whether a trunk's final answer ``status`` (``None``: no answer in time) moves the call
    to the next trunk: no answer, 408, 5xx, and the 4xx codes of ``failover_on``."""
    if status is None or status == 408 or 500 <= status <= 599:
        return True
    return 400 <= status <= 499 and status in failover_on


def final_status(status: int | None) -> int:
    """What the caller hears when no trunk took the call, from the last trunk's answer: 408
    for no answer, 500 for a 503 (the carrier's unavailability is not ours to pass on, RFC
    3261 §16.7), else that status."""
    if status is None:
        return 408
    return 500 if status == 503 else status


class Failover:
    """The trunks of one call, in order: :attr:`current` is being tried; :meth:`failed` with
    its answer gives the next one or ``None`` (then the call fails with :func:`final_status`)."""

    __slots__ = ("_failover_on", "_i", "_trunks", "tried")

    def __init__(self, trunks: Sequence[str], failover_on: Collection[int] = ()) -> None:
        if not trunks:
            raise ValueError("no trunk to try")
        self._trunks = tuple(trunks)
        self._failover_on = frozenset(failover_on)
        self._i = 0
        self.tried: list[tuple[str, int | None]] = []

    @property
    def current(self) -> str | None:
        return self._trunks[self._i] if self._i < len(self._trunks) else None

    def failed(self, status: int | None) -> str | None:
        """The current trunk answered ``status`` (``None``: nothing in time): the next trunk,
        or ``None`` when the answer does not fail over or no trunk is left."""
        trunk = self.current
        if trunk is None:
            raise ValueError("every trunk was tried")
        self.tried.append((trunk, status))
        if not fails_over(status, self._failover_on):
            self._i = len(self._trunks)
            return None
        self._i += 1
        return self.current


class OutboundRouter:
    """Decides outside calls (see the module docstring).  ``routes`` in order; ``user_caller_ids``:
    the caller ID of a user, which wins over the route's."""

    def __init__(self, *, plan: NumberPlan, routes: Sequence[Route], policy: TollPolicy,
                 user_caller_ids: Mapping[str, str] | None = None) -> None:
        self.plan = plan
        self.routes = tuple(routes)
        self.policy = policy
        self._user_caller_ids = dict(user_caller_ids or {})

    def route_for(self, e164: str) -> Route | None:
        return next((r for r in self.routes if r.matches(e164)), None)

    def decide(self, *, caller: str | None, dialled: str, now: float,
               unavailable: Collection[str] = (), trusted: bool = False) -> OutboundDecision:
        """What to do with ``dialled`` from ``caller`` (the authenticated user, ``None`` for an
        unauthenticated source).  ``unavailable``: trunks marked down (keep-alive or
        registration); full trunks are left out by the policy's limits.  ``trusted``: the
        number is the configuration's own (``number:`` of a menu or a queue's overflow): no
        caller and no user class, but blocked prefixes and trunk limits still apply."""
        e164 = self.plan.normalize(dialled)
        if e164 is None:
            return NotOutside(dialled)
        dest = self.plan.classify(e164)
        if trusted:
            if any(e164.startswith(p) for p in self.policy.blocked_prefixes):
                return OutboundRefused(403, "Forbidden", "blocked_prefix", e164)
        elif caller is None:
            return OutboundRefused(403, "Forbidden", "unauthenticated", e164)
        else:
            refusal = self.policy.check(caller, e164, dest, now)
            if refusal is not None:
                return OutboundRefused(refusal.status, refusal.reason, refusal.why, e164)
        route = self.route_for(e164)
        if route is None:
            return OutboundRefused(404, "Not Found", "no_route", e164)
        trunks = tuple(t for t in route.trunks
                       if t not in unavailable and self.policy.trunk_has_room(t, now))
        if not trunks:
            return OutboundRefused(503, "Service Unavailable", "no_trunk", e164)
        if dest is DestinationClass.INTERNATIONAL and caller is not None and not trusted:
            self.policy.attempt(caller, now, suspicious=True)
        caller_id = (self._user_caller_ids.get(caller, route.caller_id)
                     if caller is not None and not trusted else route.caller_id)
        return OutboundCall(e164, dest, route.name, trunks, caller_id, route.failover_on,
                            route.answer_timeout)

    def call_failed(self, caller: str, now: float) -> None:
        """Every trunk refused or failed a call of ``caller``: a suspicious attempt."""
        self.policy.attempt(caller, now, suspicious=True)
