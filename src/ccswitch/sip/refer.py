"""Transfers on the wire: REFER (RFC 3515), Replaces (RFC 3891), Referred-By (RFC 3892),
Refer-Sub (RFC 4488) and the implicit refer subscription of the REFER recipient (RFC 3515 §2.4
with RFC 6665).

Header values parse from their text and raise ``SipParseError(status, reason)`` with the answer
to send; the ``*_of(request)`` readers add the rules about how many values a request may carry.
Builders give the header values and the ``message/sipfrag`` body of the NOTIFYs that report a
referral's progress, and ``ReferSubscription`` is the notifier's table-driven machine: it says
which NOTIFY to send for each step of the referred call.  Pure: no I/O, the time is a parameter.

Who is who in a Replaces (RFC 3891 §3): the header names a dialog as the recipient of the INVITE
sees it, ``to-tag`` its local tag and ``from-tag`` the remote one (``Replaces.matches``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import ClassVar

from ..errors import CcswitchError, SipParseError
from .grammar import TOKEN_CHARS, format_params, is_token, parse_params, split_outside_quotes
from .headers import canonical, normalize
from .message import Message, Request
from .status import reason_phrase
from .uri import NameAddr, SipUri

SIPFRAG = "message/sipfrag;version=2.0"
"""The Content-Type of a refer NOTIFY (RFC 3515 §2.4.5, RFC 3420)."""
REFER_EVENT = "refer"
NOREFERSUB = "norefersub"
"""The option tag of RFC 4488 (``Supported: norefersub``)."""
DEFAULT_EXPIRES = 60
"""Seconds a refer subscription lasts when nothing else is said (RFC 3515 leaves it open)."""

# What a Call-ID ``word`` may hold (RFC 3261 §25.1); a Call-ID is ``word ["@" word]``.
_WORD_CHARS = frozenset(TOKEN_CHARS | set("()<>:\\\"/[]?{}"))
# What a URI header name or value may hold unescaped (RFC 3261 §25.1: ``unreserved`` and
# ``hnv-unreserved``); everything else is written as %XX of its UTF-8 bytes.
_HNV_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/?:+$")
_HEX = frozenset("0123456789abcdefABCDEF")


# -- URI headers (``sip:x@y?Replaces=...&Require=replaces``) -----------------------------------


def escape_uri_header(text: str) -> str:
    """``text`` as a URI header name or value: every octet outside ``unreserved`` and
    ``hnv-unreserved`` written as ``%XX`` (``@`` → ``%40``, ``;`` → ``%3B``, ``=`` → ``%3D``)."""
    if _HNV_SAFE.issuperset(text):
        return text
    return "".join(c if c in _HNV_SAFE else "".join(f"%{b:02X}" for b in c.encode())
                   for c in text)


def unescape_uri_header(text: str) -> str:
    """Undo ``%XX`` escapes; a broken escape or bytes that are not UTF-8 raise
    ``SipParseError(400, "Bad URI header")``."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%":
            hx = text[i + 1 : i + 3]
            if len(hx) != 2 or not _HEX.issuperset(hx):
                raise SipParseError(400, "Bad URI header")
            out.append(int(hx, 16))
            i += 3
        else:
            out += c.encode()
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError(400, "Bad URI header") from None


def parse_uri_headers(text: str) -> list[tuple[str, str]]:
    """The ``hname=hvalue&...`` part of a URI, unescaped, in order (names as written).

    An item whose ``=`` is itself escaped (``Call-ID%3D55432%40host``, as in an example of
    RFC 3515 §2.1) is split at the first ``=`` once unescaped."""
    if not text:
        return []
    out: list[tuple[str, str]] = []
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if eq:
            name, value = unescape_uri_header(name), unescape_uri_header(value)
        else:
            name, eq, value = unescape_uri_header(item).partition("=")
        if not eq or not is_token(name):
            raise SipParseError(400, "Bad URI header")
        out.append((name, value))
    return out


def format_uri_headers(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    return "&".join(f"{escape_uri_header(n)}={escape_uri_header(v)}" for n, v in headers)


# -- Replaces (RFC 3891 §6.1) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replaces:
    """``Replaces: call-id;to-tag=X;from-tag=Y[;early-only]``; unknown parameters are kept."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Replaces:
        """Exactly one to-tag and one from-tag (§6.1), else ``SipParseError(400, "Bad
        Replaces")``."""
        call_id, _, ptext = text.partition(";")
        call_id = call_id.strip(" \t")
        if not _is_call_id(call_id):
            raise SipParseError(400, "Bad Replaces")
        to_tag: str | None = None
        from_tag: str | None = None
        early = False
        params: dict[str, str | None] = {}
        try:
            items = split_outside_quotes(ptext, ";") if ptext else []
        except SipParseError:
            raise SipParseError(400, "Bad Replaces") from None
        for raw in items:
            name, eq, value = raw.partition("=")
            name, value = name.strip(" \t").lower(), value.strip(" \t")
            if not is_token(name) or (eq and not value):
                raise SipParseError(400, "Bad Replaces")
            if name in ("to-tag", "from-tag"):
                if (not is_token(value)
                        or (to_tag if name == "to-tag" else from_tag) is not None):
                    raise SipParseError(400, "Bad Replaces")
                if name == "to-tag":
                    to_tag = value
                else:
                    from_tag = value
            elif name == "early-only":
                early = True
            elif name in params:
                raise SipParseError(400, "Bad Replaces")
            else:
                params[name] = value if eq else None
        if to_tag is None or from_tag is None:
            raise SipParseError(400, "Bad Replaces")
        return cls(call_id, to_tag, from_tag, early, params)

    def matches(self, call_id: str, local_tag: str, remote_tag: str) -> bool:
        """Whether this names the dialog ``(call_id, local_tag, remote_tag)`` as seen by the
        recipient of the INVITE carrying it (RFC 3891 §3: to-tag local, from-tag remote)."""
        return (self.call_id == call_id and self.to_tag == local_tag
                and self.from_tag == remote_tag)

    def __str__(self) -> str:
        early = ";early-only" if self.early_only else ""
        return (f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{early}"
                f"{format_params(self.params)}")


def _is_call_id(text: str) -> bool:
    left, at, right = text.partition("@")
    return (bool(left) and _WORD_CHARS.issuperset(left)
            and (not at or (bool(right) and _WORD_CHARS.issuperset(right))))


# -- Refer-To (RFC 3515 §2.1) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferTo:
    """A Refer-To value: where to go (``target``, its URI headers removed), the display name,
    the header parameters, the URI headers to put in the referred request (unescaped, Replaces
    aside) and the embedded Replaces of an attended transfer."""

    target: SipUri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    replaces: Replaces | None = None

    @classmethod
    def parse(cls, text: str) -> ReferTo:
        """One name-addr or addr-spec; a list, no URI or a bad one is ``SipParseError(400,
        ...)``, a scheme other than sip/sips ``SipParseError(416, ...)``."""
        try:
            parts = [p for p in split_outside_quotes(text, ",") if p.strip(" \t")]
        except SipParseError:
            raise SipParseError(400, "Bad Refer-To") from None
        if len(parts) > 1:
            raise SipParseError(400, "Multiple Refer-To")
        if not parts:
            raise SipParseError(400, "Missing Refer-To URI")
        try:
            addr = NameAddr.parse(parts[0])
        except SipParseError as e:
            if e.status == 416:
                raise
            raise SipParseError(400, "Bad Refer-To") from None
        if addr.wildcard:
            raise SipParseError(400, "Bad Refer-To")
        try:
            embedded = parse_uri_headers(addr.uri.headers)
        except SipParseError:
            raise SipParseError(400, "Bad Refer-To") from None
        replaces: Replaces | None = None
        others: list[tuple[str, str]] = []
        for name, value in embedded:
            if normalize(name) != "replaces":
                others.append((name, value))
            elif replaces is not None:
                raise SipParseError(400, "Multiple Replaces in Refer-To")
            else:
                replaces = Replaces.parse(value)
        target = addr.uri.with_(headers="") if addr.uri.headers else addr.uri
        return cls(target, addr.display, addr.params, tuple(others), replaces)

    @property
    def method(self) -> str:
        """The method the referred request is to use (the ``method`` URI parameter, §2.1)."""
        return (self.target.params.get("method") or "INVITE").upper()

    @property
    def uri(self) -> SipUri:
        """``target`` with the URI headers put back (escaped), as it goes on the wire."""
        items = list(self.headers)
        if self.replaces is not None:
            items.insert(0, ("Replaces", str(self.replaces)))
        return self.target.with_(headers=format_uri_headers(items)) if items else self.target

    def __str__(self) -> str:
        return str(NameAddr(self.uri, self.display, self.params))


# -- Referred-By (RFC 3892) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferredBy:
    """Who asked for the transfer: a name-addr and its parameters (``cid`` among them)."""

    address: NameAddr

    @classmethod
    def parse(cls, text: str) -> ReferredBy:
        try:
            addr = NameAddr.parse(text)
        except SipParseError:
            raise SipParseError(400, "Bad Referred-By") from None
        if addr.wildcard:
            raise SipParseError(400, "Bad Referred-By")
        return cls(addr)

    @property
    def uri(self) -> SipUri:
        return self.address.uri

    @property
    def cid(self) -> str | None:
        """The Content-ID of the Referred-By token, unquoted (RFC 3892 §3)."""
        v = self.address.params.get("cid")
        return v[1:-1] if v is not None and len(v) >= 2 and v[0] == v[-1] == '"' else v

    def __str__(self) -> str:
        return str(self.address)


# -- Refer-Sub (RFC 4488) ----------------------------------------------------------------------


def parse_refer_sub(text: str) -> bool:
    """``true``/``false`` (any case, extension parameters ignored), else 400."""
    value = text.partition(";")[0].strip(" \t").lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise SipParseError(400, "Bad Refer-Sub")


# -- Reading them from a request ----------------------------------------------------------------


def _one(msg: Message, name: str) -> str | None:
    values = msg.headers.get_raw_all(name)
    if len(values) > 1:
        raise SipParseError(400, f"Multiple {canonical(name)}")
    return values[0] if values else None


def refer_to_of(req: Request) -> ReferTo:
    """The one Refer-To of a REFER: none or more than one is a 400 (RFC 3515 §2.4.2)."""
    raw = _one(req, "refer-to")
    if raw is None:
        raise SipParseError(400, "Missing Refer-To")
    return ReferTo.parse(raw)


def referred_by_of(msg: Message) -> ReferredBy | None:
    """The Referred-By of a REFER or of the INVITE it caused, ``None`` when absent."""
    raw = _one(msg, "referred-by")
    return None if raw is None else ReferredBy.parse(raw)


def replaces_of(req: Request) -> Replaces | None:
    """The Replaces of an INVITE, ``None`` when absent; more than one, or one in another
    method, is a 400 (RFC 3891 §3).  The caller answers a Replaces that matches no dialog with
    481, one with ``early_only`` that matches a confirmed dialog with 486, and one that names a
    dialog already ended with 603."""
    raw = _one(req, "replaces")
    if raw is None:
        return None
    if req.method != "INVITE":
        raise SipParseError(400, "Replaces outside INVITE")
    return Replaces.parse(raw)


def refer_sub_of(req: Request) -> bool:
    """Whether a REFER asks for the implicit subscription (``Refer-Sub: false`` says no; the
    2xx that accepts such a REFER carries ``Refer-Sub: false`` too, RFC 4488 §4)."""
    raw = _one(req, "refer-sub")
    return True if raw is None else parse_refer_sub(raw)


# -- NOTIFY contents (RFC 3515 §2.4.4-2.4.6, RFC 6665 §8.2.3) ---------------------------------


def sipfrag(status: int, reason: str | None = None) -> bytes:
    """The ``message/sipfrag`` body reporting ``status``: ``SIP/2.0 200 OK\\r\\n``."""
    phrase = reason_phrase(status) if reason is None else reason
    phrase = phrase.replace("\r", " ").replace("\n", " ")
    return f"SIP/2.0 {status} {phrase}\r\n".encode()


def parse_sipfrag(body: bytes) -> tuple[int, str]:
    """The status line that begins a refer NOTIFY's body: ``(status, reason)``, else 400."""
    line = body.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError(400, "Bad sipfrag") from None
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if (version != "SIP/2.0" or len(code) != 3 or not code.isascii() or not code.isdigit()
            or not 100 <= int(code) <= 699):
        raise SipParseError(400, "Bad sipfrag")
    return int(code), reason


@dataclass(frozen=True, slots=True)
class Event:
    """An Event header value: the package and its ``id`` (RFC 6665 §8.2.1)."""

    package: str
    id: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Event:
        package, semi, ptext = text.partition(";")
        package = package.strip(" \t")
        if not is_token(package):
            raise SipParseError(400, "Bad Event")
        try:
            params = parse_params(ptext) if semi else {}
        except SipParseError:
            raise SipParseError(400, "Bad Event") from None
        return cls(package, params.pop("id", None), params)


def refer_event(event_id: int | None = None) -> str:
    """The Event value of a refer NOTIFY: ``refer;id=CSEQ`` (the REFER's CSeq number, needed
    from the second REFER of a dialog on and always allowed, §2.4.6), or ``refer``."""
    return REFER_EVENT if event_id is None else f"{REFER_EVENT};id={event_id}"


class SubState(Enum):
    """States of a refer subscription at its notifier (RFC 6665 §4.1.3, Subscription-State)."""

    PENDING = "pending"  # the REFER is being answered; no NOTIFY sent yet
    ACTIVE = "active"
    TERMINATED = "terminated"


def subscription_state(state: SubState, *, expires: int | None = None,
                       reason: str | None = None) -> str:
    """A Subscription-State value: ``active;expires=60``, ``terminated;reason=noresource``."""
    out = state.value
    if expires is not None:
        out += f";expires={expires}"
    if reason is not None:
        out += f";reason={reason}"
    return out


@dataclass(frozen=True, slots=True)
class Notify:
    """A refer NOTIFY to send in the REFER's dialog: the status line it reports and the
    subscription state it carries (``headers()`` and ``body`` are what goes on the wire)."""

    status: int  # the referred request's status being reported (100 before any)
    reason: str
    state: SubState  # ACTIVE or TERMINATED
    event: str  # the Event header value
    expires: int | None = None  # seconds left, with ACTIVE
    why: str | None = None  # the Subscription-State reason, with TERMINATED

    content_type: ClassVar[str] = SIPFRAG

    @property
    def body(self) -> bytes:
        return sipfrag(self.status, self.reason)

    @property
    def subscription_state(self) -> str:
        return subscription_state(self.state, expires=self.expires, reason=self.why)

    def headers(self) -> list[tuple[str, str]]:
        """Event, Subscription-State and Content-Type, in that order."""
        return [("Event", self.event), ("Subscription-State", self.subscription_state),
                ("Content-Type", SIPFRAG)]


# -- The notifier's machine ---------------------------------------------------------------------


class ReferInput(Enum):
    """What can happen to a refer subscription."""

    ACCEPT = "REFER accepted (2xx sent), subscription wanted"
    NO_SUBSCRIPTION = "REFER accepted with Refer-Sub: false (RFC 4488)"
    PROGRESS = "the referred request got a provisional response"
    FINAL = "the referred request got a final response (or failed locally)"
    TIMEOUT = "the subscription expired"
    REFRESH = "SUBSCRIBE refresh (Expires > 0)"
    UNSUBSCRIBE = "SUBSCRIBE with Expires: 0"


class ReferAction(Enum):
    """What a step sends."""

    NOTIFY_ACTIVE = "NOTIFY the status, active;expires=<seconds left>"
    NOTIFY_NORESOURCE = "NOTIFY the status, terminated;reason=noresource (§2.4.7)"
    NOTIFY_TIMEOUT = "NOTIFY the last status, terminated;reason=timeout"
    NOTIFY_TERMINATED = "NOTIFY the last status, terminated (the subscriber left)"
    NOTHING = "send nothing (no subscription, or it is over)"


@dataclass(frozen=True, slots=True)
class ReferEdge:
    """Take ``do``, then move to ``next``."""

    do: ReferAction
    next: SubState


_P, _A, _T = SubState.PENDING, SubState.ACTIVE, SubState.TERMINATED
_I = ReferInput

REFER_TABLE: Mapping[tuple[SubState, ReferInput], ReferEdge] = MappingProxyType({
    (_P, _I.ACCEPT): ReferEdge(ReferAction.NOTIFY_ACTIVE, _A),  # the initial NOTIFY: 100 Trying
    (_P, _I.NO_SUBSCRIPTION): ReferEdge(ReferAction.NOTHING, _T),
    (_A, _I.PROGRESS): ReferEdge(ReferAction.NOTIFY_ACTIVE, _A),
    (_A, _I.FINAL): ReferEdge(ReferAction.NOTIFY_NORESOURCE, _T),
    (_A, _I.TIMEOUT): ReferEdge(ReferAction.NOTIFY_TIMEOUT, _T),
    (_A, _I.REFRESH): ReferEdge(ReferAction.NOTIFY_ACTIVE, _A),  # RFC 6665: a NOTIFY per SUBSCRIBE
    (_A, _I.UNSUBSCRIBE): ReferEdge(ReferAction.NOTIFY_TERMINATED, _T),
    # the referred call goes on after the subscription ended (Refer-Sub: false, expiry,
    # unsubscribe): nothing more to report.  A SUBSCRIBE then gets a 481 from the caller.
    (_T, _I.PROGRESS): ReferEdge(ReferAction.NOTHING, _T),
    (_T, _I.FINAL): ReferEdge(ReferAction.NOTHING, _T),
    (_T, _I.REFRESH): ReferEdge(ReferAction.NOTHING, _T),
    (_T, _I.UNSUBSCRIBE): ReferEdge(ReferAction.NOTHING, _T),
})
"""``(state, input) -> edge``; a missing entry is API misuse (``ReferSubscriptionError``)."""


# The Subscription-State reason of each terminating NOTIFY (read-only).
_WHY: Mapping[ReferAction, str] = MappingProxyType({
    ReferAction.NOTIFY_NORESOURCE: "noresource", ReferAction.NOTIFY_TIMEOUT: "timeout"})


class ReferSubscriptionError(CcswitchError):
    """A refer subscription was driven out of order (e.g. progress before accept)."""


class ReferSubscription:
    """The implicit subscription a REFER creates, at its recipient (the notifier).

    Create it when the REFER arrives; call ``accept`` (or ``no_subscription`` for Refer-Sub:
    false) when answering it with 2xx, then ``progress``/``final`` as the referred call
    advances, ``subscribe`` for a SUBSCRIBE refresh, and ``handle_timer`` at
    ``next_deadline()``.  Each returns the NOTIFY to send, or ``None``.
    """

    __slots__ = ("_expires_at", "_reason", "_state", "_status", "event")

    def __init__(self, *, event_id: int | None, expires: float = DEFAULT_EXPIRES,
                 now: float) -> None:
        self.event = refer_event(event_id)
        self._state = SubState.PENDING
        self._status = 100
        self._reason = reason_phrase(100)
        self._expires_at = now + expires

    @property
    def state(self) -> SubState:
        return self._state

    @property
    def status(self) -> int:
        """The last status reported (100 until the referred request is answered)."""
        return self._status

    def accept(self, now: float) -> Notify | None:
        return self._step(ReferInput.ACCEPT, now)

    def no_subscription(self, now: float) -> Notify | None:
        return self._step(ReferInput.NO_SUBSCRIPTION, now)

    def progress(self, status: int, now: float, reason: str | None = None) -> Notify | None:
        if not 100 <= status <= 199:
            raise ReferSubscriptionError(f"progress with a final status {status}")
        return self._step(ReferInput.PROGRESS, now, status, reason)

    def final(self, status: int, now: float, reason: str | None = None) -> Notify | None:
        if not 200 <= status <= 699:
            raise ReferSubscriptionError(f"final with status {status}")
        return self._step(ReferInput.FINAL, now, status, reason)

    def subscribe(self, expires: float, now: float) -> Notify | None:
        """A SUBSCRIBE in the subscription: ``expires`` seconds more, or 0 to end it."""
        if expires <= 0:
            return self._step(ReferInput.UNSUBSCRIBE, now)
        edge = self._edge(ReferInput.REFRESH)
        if edge.next is SubState.ACTIVE:
            self._expires_at = now + expires
        return self._run(edge, now)

    def next_deadline(self) -> float | None:
        return self._expires_at if self._state is SubState.ACTIVE else None

    def handle_timer(self, now: float) -> Notify | None:
        if self._state is SubState.ACTIVE and now >= self._expires_at:
            return self._step(ReferInput.TIMEOUT, now)
        return None

    def _edge(self, inp: ReferInput) -> ReferEdge:
        edge = REFER_TABLE.get((self._state, inp))
        if edge is None:
            raise ReferSubscriptionError(f"{inp.name} in state {self._state.name}")
        return edge

    def _step(self, inp: ReferInput, now: float, status: int | None = None,
              reason: str | None = None) -> Notify | None:
        edge = self._edge(inp)
        if status is not None and edge.do is not ReferAction.NOTHING:
            self._status = status
            self._reason = reason_phrase(status) if reason is None else reason
        return self._run(edge, now)

    def _run(self, edge: ReferEdge, now: float) -> Notify | None:
        self._state = edge.next
        do = edge.do
        if do is ReferAction.NOTHING:
            return None
        if do is ReferAction.NOTIFY_ACTIVE:
            left = max(0, math.ceil(self._expires_at - now))
            return Notify(self._status, self._reason, SubState.ACTIVE, self.event, expires=left)
        return Notify(self._status, self._reason, SubState.TERMINATED, self.event,
                      why=_WHY.get(do))
