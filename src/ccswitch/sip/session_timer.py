"""Session timers (RFC 4028) for one INVITE session, as pure functions of headers and time.

A leg's timer is negotiated on its own (a B2BUA's two legs each have theirs):

- as UAS (``answer_request``): a ``Session-Expires`` below our minimum is refused 422 with our
  ``Min-SE`` (§9); a peer that supports ``timer`` gets ``Session-Expires`` (its value, or ours
  when it sent none, never below its ``Min-SE``) with the refresher it named, else ``uac``
  (it refreshes); a peer without ``timer`` support that still sent ``Session-Expires`` (a proxy
  inserted it) or any peer under the ``required`` policy gets ``refresher=uas`` (we refresh);
- as UAC (``offer_headers``, ``answer_2xx``, ``retry_after_422``): our INVITE offers
  ``Session-Expires``/``Min-SE``; the 2xx's ``Session-Expires`` says the interval and who
  refreshes (no ``Session-Expires`` in the 2xx: no session expiration, §7.2); a 422 is retried
  once with its ``Min-SE`` (§7.4);
- ``LegTimer``: the refresher refreshes at half the interval (§10); the refreshee ends the
  session at the interval minus the lesser of 32 s and a third of it (§10) when no refresh came;
- ``is_refresh``: a re-INVITE or UPDATE that changes nothing (an UPDATE without a body, or an
  SDP whose ``o=`` line is the one the peer last sent: RFC 3264 §8) only refreshes the session;
  a B2BUA answers it on that leg and the other leg never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .message import Headers

Mode = Literal["off", "supported", "required"]
Refresher = Literal["uac", "uas"]

MIN_SE_FLOOR = 90
"""The smallest ``Min-SE`` RFC 4028 allows (§4, §5)."""
TAG = "timer"


@dataclass(frozen=True, slots=True)
class TimerPolicy:
    """What one side of ours asks for: ``off`` (never negotiated, headers ignored),
    ``supported`` (used when the peer supports it) or ``required`` (``Require: timer`` on our
    INVITEs; as UAS we refresh for a peer without support); the interval we ask for and the
    smallest we accept, in seconds."""

    mode: Mode = "supported"
    expires: int = 1800
    min_se: int = MIN_SE_FLOOR

    def __post_init__(self) -> None:
        if self.min_se < MIN_SE_FLOOR or self.expires < self.min_se:
            raise ValueError(f"session timer: need {MIN_SE_FLOOR} <= min_se <= expires")

    @property
    def on(self) -> bool:
        return self.mode != "off"


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """A ``Session-Expires`` value: the interval and the refresher it names, if any."""

    interval: int
    refresher: Refresher | None = None

    def header(self) -> str:
        return f"{self.interval};refresher={self.refresher}" if self.refresher else \
            str(self.interval)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The timer a leg runs: its interval and whether we are the refresher; ``headers``
    go on the 2xx we send (as UAS)."""

    interval: int
    we_refresh: bool
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TooSmall:
    """422 Session Interval Too Small, with our ``Min-SE``."""

    min_se: int
    status: int = 422
    reason: str = "Session Interval Too Small"

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("Min-SE", str(self.min_se)),)


class BadHeader(ValueError):
    """A ``Session-Expires`` or ``Min-SE`` that cannot be read (answered 400)."""


def _delta(text: str, name: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        raise BadHeader(f"bad {name}")
    return int(text)


def parse_session_expires(value: str) -> SessionExpires:
    """``delta-seconds *(;se-params)``; ``refresher`` is ``uac`` or ``uas`` (case-insensitive)."""
    head, *params = value.split(";")
    interval = _delta(head, "Session-Expires")
    if interval == 0:
        raise BadHeader("bad Session-Expires")
    refresher: Refresher | None = None
    for p in params:
        name, _, val = p.partition("=")
        if name.strip().lower() == "refresher":
            v = val.strip().lower()
            if v == "uac":
                refresher = "uac"
            elif v == "uas":
                refresher = "uas"
            else:
                raise BadHeader("bad Session-Expires refresher")
    return SessionExpires(interval, refresher)


def parse_min_se(value: str) -> int:
    """``Min-SE: delta-seconds *(;generic-param)``."""
    return _delta(value.split(";")[0], "Min-SE")


def _session_expires(headers: Headers) -> SessionExpires | None:
    value = headers.get("session-expires") or headers.get("x")
    return parse_session_expires(value) if value is not None else None


def _min_se(headers: Headers) -> int | None:
    value = headers.get("min-se")
    return parse_min_se(value) if value is not None else None


def has_tag(headers: Headers, name: str, tag: str = TAG) -> bool:
    """Whether option tag ``tag`` is in header ``name`` (``supported`` or ``require``)."""
    return any(t.strip().lower() == tag for v in headers.get_all(name) for t in v.split(","))


def answer_request(policy: TimerPolicy, headers: Headers,
                   ) -> Negotiated | TooSmall | None:
    """As UAS of an INVITE (or a refreshing re-INVITE/UPDATE) with ``headers``: the timer to
    run and the headers of our 2xx, a 422 to send, or None (no session timer on this leg).
    Raises ``BadHeader`` for an unreadable ``Session-Expires``/``Min-SE``."""
    if not policy.on:
        return None
    se = _session_expires(headers)
    their_min = _min_se(headers) or MIN_SE_FLOOR
    supported = has_tag(headers, "supported") or has_tag(headers, "require")
    if se is not None and se.interval < policy.min_se:
        return TooSmall(max(policy.min_se, their_min))
    if se is None and not supported and policy.mode != "required":
        return None  # the peer knows nothing of timers: none on this leg (§9 allows one)
    interval = se.interval if se is not None else max(policy.expires, their_min)
    if not supported:  # it cannot refresh: we do (no Require: it would not understand it)
        return Negotiated(interval, True, (
            ("Session-Expires", SessionExpires(interval, "uas").header()),))
    refresher: Refresher = se.refresher if se is not None and se.refresher else "uac"
    return Negotiated(interval, refresher == "uas", (
        ("Session-Expires", SessionExpires(interval, refresher).header()),
        ("Require", TAG)))


def offer_headers(policy: TimerPolicy, interval: int | None = None,
                  refresher: Refresher | None = None, min_se: int | None = None,
                  ) -> tuple[tuple[str, str], ...]:
    """Headers of our INVITE: ``Session-Expires`` (``interval`` and ``min_se`` after a 422,
    ``refresher`` on a refresh), ``Min-SE`` and, when required, ``Require: timer``.  The
    ``Supported: timer`` tag is the caller's to add (one ``Supported`` header per request)."""
    if not policy.on:
        return ()
    asked = interval if interval is not None else policy.expires
    floor = max(policy.min_se, min_se or 0)
    out: list[tuple[str, str]] = [("Session-Expires", SessionExpires(asked, refresher).header()),
                                  ("Min-SE", str(floor))]
    if policy.mode == "required":
        out.append(("Require", TAG))
    return tuple(out)


def answer_2xx(policy: TimerPolicy, headers: Headers) -> Negotiated | None:
    """As UAC, the 2xx to our INVITE with ``headers``: the leg's timer, or None (§7.2: a 2xx
    without ``Session-Expires`` means no expiration).  A 2xx without ``refresher`` is ours."""
    if not policy.on:
        return None
    se = _session_expires(headers)
    if se is None:
        return None
    return Negotiated(se.interval, se.refresher != "uas")


def retry_after_422(policy: TimerPolicy, asked: int, headers: Headers) -> int | None:
    """As UAC, a 422 to our INVITE that asked ``asked`` seconds: the interval to ask next
    (its ``Min-SE``), or None when retrying cannot help (no or no larger ``Min-SE``)."""
    if not policy.on:
        return None
    try:
        their = _min_se(headers)
    except BadHeader:
        return None
    if their is None or their <= asked:
        return None
    return their


@dataclass(slots=True)
class LegTimer:
    """The running timer of one leg: ``since`` is the last refresh (or the answer)."""

    interval: int
    we_refresh: bool
    since: float

    @property
    def deadline(self) -> float:
        """When to act: refresh (half the interval) or end the session (the interval minus
        the lesser of 32 s and a third of it)."""
        if self.we_refresh:
            return self.since + self.interval / 2
        return self.since + self.interval - min(32.0, self.interval / 3)

    def refreshed(self, n: Negotiated, now: float) -> None:
        """A refresh (either way) confirmed ``n``: start over from ``now``."""
        self.interval, self.we_refresh, self.since = n.interval, n.we_refresh, now


@dataclass(slots=True)
class LegSession:
    """What a B2BUA keeps per leg: the policy that applies to it (its trunk's or the phones'),
    the running timer (None: no session timer on this leg), the headers of our 2xx to the
    peer's last refresh (as UAS), whether the peer takes UPDATE (refresh without SDP), the
    last SDP we sent on the leg (a re-INVITE refresh repeats it unchanged; a refresh from
    the peer is answered with it), the ``o=`` line of the last SDP the peer sent (a request
    repeating it is a refresh) and the interval our last INVITE asked for (a 422 is retried
    from it)."""

    policy: TimerPolicy
    timer: LegTimer | None = None
    answer: tuple[tuple[str, str], ...] = ()
    update_ok: bool = False
    sdp: bytes = b""
    asked: int = 0
    retried: bool = False
    pending: Negotiated | None = None  # as UAS: runs once our 2xx goes out
    peer_origin: bytes | None = None  # the o= line of the last SDP the peer sent on the leg
    refresh_txn: str | None = None  # our last refresh's transaction (as refresher)

    def heard(self, body: bytes) -> None:
        """The peer sent SDP ``body`` on the leg (an offer or an answer)."""
        origin = sdp_origin(body)
        if origin is not None:
            self.peer_origin = origin

    def negotiated(self, n: Negotiated | None, now: float) -> None:
        """Run ``n`` from ``now`` (None: this leg has no timer any more)."""
        if n is None:
            self.timer, self.answer = None, ()
        elif self.timer is None:
            self.timer, self.answer = LegTimer(n.interval, n.we_refresh, now), n.headers
        else:
            self.timer.refreshed(n, now)
            self.answer = n.headers


def sdp_origin(body: bytes) -> bytes | None:
    """The ``o=`` line of SDP ``body`` (None: no body, or no ``o=`` line in it)."""
    for line in body.splitlines():
        if line.startswith(b"o="):
            return line.strip()
    return None


def is_refresh(method: str, body: bytes, peer_origin: bytes | None) -> bool:
    """Whether a re-INVITE or UPDATE with ``body`` only refreshes the session: an UPDATE
    without a body, or SDP whose ``o=`` line (session id and version) is the one the peer
    sent last (``peer_origin``; RFC 3264 §8: an unchanged description keeps its version).
    A re-INVITE without a body asks us to offer: not a refresh we answer on our own."""
    if not body:
        return method == "UPDATE"
    return peer_origin is not None and sdp_origin(body) == peer_origin


def allows(headers: Headers, method: str) -> bool:
    """Whether the ``Allow`` headers list ``method``."""
    return any(m.strip().upper() == method for v in headers.get_all("allow")
               for m in v.split(","))
