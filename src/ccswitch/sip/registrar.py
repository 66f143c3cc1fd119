"""The registrar (RFC 3261 §10.3), sans-IO: bindings per user, expiry, Min-Expires, ``*``.

``handle(req, user, source, now)`` applies an authenticated REGISTER and returns the
answer to send.  Changes are reported as ``BindingsChanged`` events so the shell can
persist them; ``restore()`` loads persisted bindings at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from ..clock import TimerHeap
from ..errors import SipParseError
from .addr import Address
from .grammar import is_digits
from .message import Request
from .uri import NameAddr

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Binding:
    """One registered contact of a user, and the flow it registered over."""

    user: str
    contact: str  # the Contact URI as the phone sent it
    expires_at: float
    call_id: str
    cseq: int
    source: Address
    q: float = 1.0
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class BindingsChanged:
    """The bindings of ``user`` changed (now ``bindings``; empty when all are gone)."""

    user: str
    bindings: tuple[Binding, ...]


@dataclass(frozen=True, slots=True)
class RegisterAnswer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


class Registrar:
    """Bindings of users to contacts, with expiry sweeps on a timer heap."""

    def __init__(self, *, min_expires: int = 60, max_expires: int = 3600,
                 default_expires: int = 3600, max_contacts: int = 10) -> None:
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.max_contacts = max_contacts
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._timers: TimerHeap[tuple[str, str]] = TimerHeap()
        self._events: list[BindingsChanged] = []

    # -- queries ----------------------------------------------------------------------
    def lookup(self, user: str, now: float) -> list[Binding]:
        """Live bindings of ``user``, highest q first."""
        found = [b for b in self._bindings.get(user, {}).values() if b.expires_at > now]
        return sorted(found, key=lambda b: -b.q)

    def all_bindings(self) -> list[Binding]:
        return [b for per in self._bindings.values() for b in per.values()]

    def __len__(self) -> int:
        return sum(len(v) for v in self._bindings.values())

    def events(self) -> list[BindingsChanged]:
        ev, self._events = self._events, []
        return ev

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    # -- inputs -----------------------------------------------------------------------
    def restore(self, bindings: list[Binding], now: float) -> None:
        for b in bindings:
            if b.expires_at > now:
                self._bindings.setdefault(b.user, {})[b.contact] = b
                self._timers.arm((b.user, b.contact), b.expires_at)

    def handle_timer(self, now: float) -> None:
        changed: set[str] = set()
        for key in self._timers.pop_due(now):
            user, contact = key
            per = self._bindings.get(user)
            if per and contact in per and per[contact].expires_at <= now:
                del per[contact]
                changed.add(user)
                log.info("unregistered", user=user, contact=contact, reason="expired")
        for user in changed:
            self._report(user)

    def handle(self, req: Request, user: str, source: Address, now: float) -> RegisterAnswer:
        """Apply a REGISTER whose sender authenticated as ``user``."""
        try:
            header_expires = req.expires
            contacts = req.contacts
        except SipParseError as e:
            return RegisterAnswer(e.status, e.reason)
        call_id = req.call_id
        cseq = req.cseq.seq
        per = self._bindings.get(user, {})
        if any(c.wildcard for c in contacts):
            if len(contacts) != 1 or header_expires != 0:
                return RegisterAnswer(400, "Bad Contact: * needs Expires: 0 alone")
            if _out_of_order(per.values(), call_id, cseq):
                return RegisterAnswer(500, "Out of order CSeq")
            for key in per:
                self._timers.cancel((user, key))
                log.info("unregistered", user=user, contact=key, reason="wildcard",
                         source=str(source))
            per.clear()
            self._report(user)
            return self._ok(user, now)
        # check every contact first: the updates apply all or none (§10.3 step 7)
        updates: list[tuple[NameAddr, int]] = []
        for c in contacts:
            raw = c.params.get("expires")
            if raw is not None:
                if not is_digits(raw):
                    return RegisterAnswer(400, "Bad Contact expires")
                exp = int(raw)
            elif header_expires is not None:
                exp = header_expires
            else:
                exp = self.default_expires
            if 0 < exp < self.min_expires:
                return RegisterAnswer(423, "Interval Too Brief",
                                      (("Min-Expires", str(self.min_expires)),))
            old = per.get(str(c.uri))
            if old is not None and _out_of_order((old,), call_id, cseq):
                return RegisterAnswer(500, "Out of order CSeq")
            updates.append((c, min(exp, self.max_expires)))
        ua = req.headers.get("user-agent") or ""
        changed = False
        if any(exp for _, exp in updates):
            per = self._bindings.setdefault(user, per)
        for c, exp in updates:
            key = str(c.uri)
            if exp == 0:
                if per.pop(key, None) is not None:
                    self._timers.cancel((user, key))
                    changed = True
                    log.info("unregistered", user=user, contact=key, reason="expires_0",
                             source=str(source))
                continue
            if key not in per and len(per) >= self.max_contacts:
                self._evict_oldest(user, per)
            q = _q_value(c.params.get("q"))
            per[key] = Binding(user, key, now + exp, call_id, cseq, source, q, ua)
            self._timers.arm((user, key), now + exp)
            changed = True
        if changed:
            self._report(user)
        added = [c for c, exp in updates if exp]
        if added:
            log.info("registered", user=user, contact=str(added[0].uri), contacts=len(per),
                     source=str(source))
        return self._ok(user, now)

    # -- helpers ----------------------------------------------------------------------
    def _evict_oldest(self, user: str, per: dict[str, Binding]) -> None:
        oldest = min(per.values(), key=lambda b: b.expires_at)
        del per[oldest.contact]
        self._timers.cancel((user, oldest.contact))

    def _ok(self, user: str, now: float) -> RegisterAnswer:
        headers = tuple(
            ("Contact", f"<{b.contact}>;expires={max(0, int(b.expires_at - now + 0.5))}")
            for b in self.lookup(user, now)
        )
        return RegisterAnswer(200, "OK", headers)

    def _report(self, user: str) -> None:
        per = self._bindings.get(user, {})
        if not per:
            self._bindings.pop(user, None)
        self._events.append(BindingsChanged(user, tuple(per.values())))


def _out_of_order(bindings: Iterable[Binding], call_id: str, cseq: int) -> bool:
    """Whether a REGISTER (``call_id``, ``cseq``) is not newer than a binding it updates."""
    return any(b.call_id == call_id and cseq <= b.cseq for b in bindings)


def _q_value(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        q = float(raw)
    except ValueError:
        return 1.0
    if not math.isfinite(q):
        return 1.0
    return min(max(q, 0.0), 1.0)
