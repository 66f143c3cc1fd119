"""Message-waiting indication: the ``message-summary`` event package (RFC 3842) over RFC 6665.

Two pure pieces:

- :class:`MessageSummary`, the ``application/simple-message-summary`` body: ``build()`` gives
  the bytes, :meth:`MessageSummary.parse` reads them (any bytes: a summary or
  ``SipParseError(400, ...)``)::

      Messages-Waiting: yes
      Message-Account: sip:1002@ccswitch.local
      Voice-Message: 2/8 (0/2)

- :class:`MwiNotifier`, the notifier's side of every ``message-summary`` subscription of the
  switch, table-driven (:data:`MWI_TABLE`).  The shell reads a SUBSCRIBE, checks who may
  watch the mailbox, and passes a :class:`Subscribe`; the notifier answers it
  (:class:`SubscribeAnswer`: 200 with the granted Expires, 423 with Min-Expires, 481 for a
  refresh of a subscription it no longer has) and queues the NOTIFYs (:class:`MwiNotify`) in
  ``outbox()``: one at once for a new subscription or a refresh (RFC 6665 §4.2.1.2), one to
  every watcher of a mailbox whose counts change (``update``), ``terminated;reason=timeout``
  at expiry, ``terminated`` after ``Expires: 0``.  A NOTIFY answered 481/408 or not at all
  ends its subscription without another NOTIFY (``notify_failed``, §4.2.2).  Phones configured
  for *unsolicited* MWI (no SUBSCRIBE, as many desk phones ask) get an out-of-dialog NOTIFY
  on every change (``add_unsolicited``), carrying ``Subscription-State: active``.
  ``events()`` reports subscriptions that ended (:class:`SubscriptionEnded`).

:func:`subscribe_of` reads a SUBSCRIBE into a :class:`Subscribe` (489 for another event
package, 406 for an Accept without our body type).  Subscription ids are the shell's (its
dialog key); mailbox names are opaque strings.  Pure:
no I/O, the time is a parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import ClassVar

from ..clock import TimerHeap
from ..errors import CcswitchError, SipParseError
from .message import Request
from .refer import Event, SubState, subscription_state

CONTENT_TYPE = "application/simple-message-summary"
EVENT = "message-summary"
DEFAULT_EXPIRES = 3600
"""Seconds a subscription lasts when the SUBSCRIBE has no Expires (RFC 3842 §4.4: one hour)."""
MIN_EXPIRES = 60
"""Shorter asks are answered 423 with this Min-Expires (RFC 6665 §4.2.1.1)."""
MAX_EXPIRES = 3600
"""Longer asks are granted this much (the notifier may shorten, §4.2.1.1)."""

MESSAGE_CLASSES = ("voice-message", "fax-message", "pager-message", "multimedia-message",
                   "text-message", "none")
"""The message-context-class names of RFC 3842 §5.2 (and RFC 3458), canonical order."""
_MAX_COUNT = 2**31 - 1
_COUNT = r"[0-9]{1,10}"
_SUMMARY_LINE = re.compile(
    rf"({_COUNT})\s*/\s*({_COUNT})(?:\s*\(\s*({_COUNT})\s*/\s*({_COUNT})\s*\))?")
_NAME = re.compile(r"[A-Za-z0-9-]+")


# -- the body (RFC 3842 §5) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    """``new/old (urgent_new/urgent_old)`` of one message class."""

    new: int = 0
    old: int = 0
    urgent_new: int = 0
    urgent_old: int = 0

    def __str__(self) -> str:
        text = f"{self.new}/{self.old}"
        if self.urgent_new or self.urgent_old:
            text += f" ({self.urgent_new}/{self.urgent_old})"
        return text


def _frozen_counts(d: Mapping[str, Counts]) -> Mapping[str, Counts]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message-summary body: whether messages wait, the account, counts per class (keys
    lower-case class names of :data:`MESSAGE_CLASSES` or extensions)."""

    waiting: bool
    account: str | None = None
    counts: Mapping[str, Counts] = field(default_factory=lambda: _frozen_counts({}))

    @classmethod
    def voice(cls, new: int, old: int, *, account: str | None = None, urgent_new: int = 0,
              urgent_old: int = 0) -> MessageSummary:
        """The summary of a voice mailbox: waiting when it holds new messages."""
        return cls(new > 0, account, _frozen_counts(
            {"voice-message": Counts(new, old, urgent_new, urgent_old)}))

    @property
    def voice_counts(self) -> Counts:
        return self.counts.get("voice-message", Counts())

    def build(self) -> bytes:
        """The body, CRLF line ends, classes in the order of :data:`MESSAGE_CLASSES`."""
        lines = [f"Messages-Waiting: {'yes' if self.waiting else 'no'}"]
        if self.account is not None:
            lines.append(f"Message-Account: {self.account}")
        order = {name: i for i, name in enumerate(MESSAGE_CLASSES)}
        for name in sorted(self.counts, key=lambda n: (order.get(n, len(order)), n)):
            lines.append(f"{_title(name)}: {self.counts[name]}")
        return ("\r\n".join(lines) + "\r\n").encode()

    @classmethod
    def parse(cls, body: bytes) -> MessageSummary:
        """Read a body: ``Messages-Waiting`` first and required, then an optional
        ``Message-Account`` and summary lines; lines after the first empty one (the optional
        message headers of §5.2) are not read.  Names are case-insensitive; unknown names
        before the empty line are refused.  Any fault: ``SipParseError(400, ...)``."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SipParseError(400, "Bad message-summary") from None
        lines = text.replace("\r\n", "\n").split("\n")
        waiting: bool | None = None
        account: str | None = None
        counts: dict[str, Counts] = {}
        for line in lines:
            if not line.strip(" \t"):
                if waiting is None:
                    continue  # leading blank lines
                break
            name, colon, value = line.partition(":")
            name, value = name.strip(" \t").lower(), value.strip(" \t")
            if not colon or not _NAME.fullmatch(name):
                raise SipParseError(400, "Bad message-summary line")
            if waiting is None:
                if name != "messages-waiting" or value.lower() not in ("yes", "no"):
                    raise SipParseError(400, "Bad Messages-Waiting")
                waiting = value.lower() == "yes"
            elif name == "message-account":
                if account is not None or counts or not value or " " in value:
                    raise SipParseError(400, "Bad Message-Account")
                account = value
            elif name in counts or name in ("messages-waiting",):
                raise SipParseError(400, f"Repeated {name}")
            elif name in MESSAGE_CLASSES:
                counts[name] = _parse_counts(value)
            else:
                raise SipParseError(400, f"Unknown message-summary line {name}")
        if waiting is None:
            raise SipParseError(400, "Missing Messages-Waiting")
        return cls(waiting, account, _frozen_counts(counts))


def _title(name: str) -> str:
    return "-".join(w.capitalize() for w in name.split("-"))


def _parse_counts(value: str) -> Counts:
    m = _SUMMARY_LINE.fullmatch(value)
    if m is None:
        raise SipParseError(400, "Bad message counts")
    nums = [int(g) if g is not None else 0 for g in m.groups()]
    if any(n > _MAX_COUNT for n in nums):
        raise SipParseError(400, "Bad message counts")
    return Counts(*nums)


# -- the notifier's machine (RFC 6665 §4.2) ------------------------------------------------


class MwiInput(Enum):
    """What can happen to one subscription."""

    SUBSCRIBE = "initial SUBSCRIBE with Expires > 0"
    FETCH = "initial SUBSCRIBE with Expires: 0 (a one-time fetch of the state)"
    REFRESH = "SUBSCRIBE in the subscription, Expires > 0"
    UNSUBSCRIBE = "SUBSCRIBE in the subscription, Expires: 0"
    CHANGE = "the mailbox's counts changed"
    TIMEOUT = "the subscription expired"
    NOTIFY_FAILED = "a NOTIFY was answered 481, 408 or not at all"
    CLOSE = "the mailbox went away or the switch stops"


class MwiAction(Enum):
    NOTIFY_ACTIVE = "NOTIFY the state, active;expires=<seconds left>"
    NOTIFY_TERMINATED = "NOTIFY the state, terminated (fetch or unsubscribe)"
    NOTIFY_TIMEOUT = "NOTIFY the state, terminated;reason=timeout"
    NOTIFY_NORESOURCE = "NOTIFY the state, terminated;reason=noresource"
    NOTHING = "send nothing"


class MwiState(Enum):
    INIT = "init"  # created by the SUBSCRIBE being answered
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class MwiEdge:
    do: MwiAction
    next: MwiState


_N, _A, _T = MwiState.INIT, MwiState.ACTIVE, MwiState.TERMINATED
_M = MwiInput

MWI_TABLE: Mapping[tuple[MwiState, MwiInput], MwiEdge] = MappingProxyType({
    (_N, _M.SUBSCRIBE): MwiEdge(MwiAction.NOTIFY_ACTIVE, _A),
    (_N, _M.FETCH): MwiEdge(MwiAction.NOTIFY_TERMINATED, _T),
    (_A, _M.REFRESH): MwiEdge(MwiAction.NOTIFY_ACTIVE, _A),
    (_A, _M.UNSUBSCRIBE): MwiEdge(MwiAction.NOTIFY_TERMINATED, _T),
    (_A, _M.CHANGE): MwiEdge(MwiAction.NOTIFY_ACTIVE, _A),
    (_A, _M.TIMEOUT): MwiEdge(MwiAction.NOTIFY_TIMEOUT, _T),
    (_A, _M.NOTIFY_FAILED): MwiEdge(MwiAction.NOTHING, _T),
    (_A, _M.CLOSE): MwiEdge(MwiAction.NOTIFY_NORESOURCE, _T),
    # late inputs after the end (a NOTIFY failing after the terminating one, a change racing
    # the expiry): nothing more is sent.
    (_T, _M.CHANGE): MwiEdge(MwiAction.NOTHING, _T),
    (_T, _M.NOTIFY_FAILED): MwiEdge(MwiAction.NOTHING, _T),
    (_T, _M.CLOSE): MwiEdge(MwiAction.NOTHING, _T),
    (_T, _M.TIMEOUT): MwiEdge(MwiAction.NOTHING, _T),
})
"""``(state, input) -> edge``; a missing entry is API misuse (``MwiError``)."""

_WHY: Mapping[MwiAction, str] = MappingProxyType({
    MwiAction.NOTIFY_TIMEOUT: "timeout", MwiAction.NOTIFY_NORESOURCE: "noresource"})


class MwiError(CcswitchError):
    """The notifier was driven out of order (programmer error in the caller)."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """A message-summary SUBSCRIBE as the shell read it: its subscription id (the dialog key;
    the same id for a refresh), the mailbox watched, and ``Expires`` (None when absent)."""

    sub_id: str
    mailbox: str
    expires: int | None = None
    initial: bool = True  # False: sent inside an existing dialog (refresh or unsubscribe)


@dataclass(frozen=True, slots=True)
class SubscribeAnswer:
    """The response to send: 200 with ``expires`` granted, 423 with ``min_expires``, or 481."""

    sub_id: str
    status: int
    expires: int | None = None
    min_expires: int | None = None

    def headers(self) -> list[tuple[str, str]]:
        if self.status == 423:
            return [("Min-Expires", str(self.min_expires))]
        if self.expires is not None:
            return [("Expires", str(self.expires))]
        return []


@dataclass(frozen=True, slots=True)
class MwiNotify:
    """A NOTIFY to send: in the subscription ``sub_id``'s dialog, or out of dialog to the
    unsolicited target ``sub_id`` when ``unsolicited``."""

    sub_id: str
    mailbox: str
    summary: MessageSummary
    state: SubState  # ACTIVE or TERMINATED
    expires: int | None = None  # seconds left, with ACTIVE in a subscription
    reason: str | None = None  # with TERMINATED
    unsolicited: bool = False

    content_type: ClassVar[str] = CONTENT_TYPE

    @property
    def body(self) -> bytes:
        return self.summary.build()

    @property
    def subscription_state(self) -> str:
        return subscription_state(self.state, expires=self.expires, reason=self.reason)

    def headers(self) -> list[tuple[str, str]]:
        """Event, Subscription-State and Content-Type, in that order."""
        return [("Event", EVENT), ("Subscription-State", self.subscription_state),
                ("Content-Type", CONTENT_TYPE)]


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    """A subscription is over (``reason``: timeout, unsubscribed, fetch, failed, closed)."""

    sub_id: str
    mailbox: str
    reason: str


def subscribe_of(req: Request, *, sub_id: str, mailbox: str) -> Subscribe:
    """Read a message-summary SUBSCRIBE (RFC 6665 §4.1.2, RFC 3842 §4): one ``Event`` naming
    the package (else ``SipParseError(489, "Bad Event")``, answered with ``Allow-Events``), an
    ``Accept`` that, when present, allows ``application/simple-message-summary`` (else 406),
    and the Expires (400 when malformed).  ``initial``: no To tag (a new subscription)."""
    if req.method != "SUBSCRIBE":
        raise MwiError(f"subscribe_of({req.method})")
    events = req.headers.get_raw_all("event")
    if len(events) != 1:
        raise SipParseError(489, "Bad Event")
    try:
        event = Event.parse(events[0])
    except SipParseError:
        raise SipParseError(489, "Bad Event") from None
    if event.package.lower() != EVENT:
        raise SipParseError(489, "Bad Event")
    accepts = req.headers.get_all("accept")
    if accepts and not any(a.partition(";")[0].strip(" \t").lower() in (CONTENT_TYPE, "*/*",
                                                                        "application/*")
                           for a in accepts):
        raise SipParseError(406, "Not Acceptable")
    return Subscribe(sub_id, mailbox, req.expires, initial=req.to.tag is None)


_END_REASON: Mapping[MwiInput, str] = MappingProxyType({
    MwiInput.FETCH: "fetch", MwiInput.UNSUBSCRIBE: "unsubscribed", MwiInput.TIMEOUT: "timeout",
    MwiInput.NOTIFY_FAILED: "failed", MwiInput.CLOSE: "closed"})


@dataclass(slots=True)
class _Sub:
    mailbox: str
    state: MwiState
    expires_at: float


class MwiNotifier:
    """Every message-summary subscription and unsolicited MWI target of the switch.

    ``receive(Subscribe, now)`` answers a SUBSCRIBE; ``update(mailbox, summary, now)`` reports a
    mailbox's state (a NOTIFY to each watcher when it changed); ``notify_failed(sub_id, now)``
    when a NOTIFY got 481/408 or timed out; ``handle_timer(now)`` at ``next_deadline()``.
    ``outbox()`` drains the NOTIFYs to send, ``events()`` the ended subscriptions.
    """

    def __init__(self, *, default_expires: int = DEFAULT_EXPIRES,
                 min_expires: int = MIN_EXPIRES, max_expires: int = MAX_EXPIRES,
                 account: Mapping[str, str] | None = None) -> None:
        assert 0 < min_expires <= default_expires <= max_expires
        self._default = default_expires
        self._min = min_expires
        self._max = max_expires
        self._account = dict(account or {})  # mailbox -> Message-Account URI
        self._subs: dict[str, _Sub] = {}
        self._unsolicited: dict[str, str] = {}  # target -> mailbox
        self._state: dict[str, MessageSummary] = {}
        self._timers: TimerHeap[str] = TimerHeap()
        self._outbox: list[MwiNotify] = []
        self._events: list[SubscriptionEnded] = []

    def set_max_expires(self, max_expires: int) -> None:
        """Grant at most ``max_expires`` seconds from the next SUBSCRIBE on (the default
        shrinks with it); subscriptions running keep their expiry."""
        assert max_expires >= self._min
        self._max = max_expires
        self._default = min(DEFAULT_EXPIRES, max_expires)

    # -- the shell's side ----------------------------------------------------------------
    def outbox(self) -> list[MwiNotify]:
        out, self._outbox = self._outbox, []
        return out

    def events(self) -> list[SubscriptionEnded]:
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def summary(self, mailbox: str) -> MessageSummary:
        """The last state reported for ``mailbox`` (nothing waiting until ``update``)."""
        got = self._state.get(mailbox)
        if got is None:
            got = MessageSummary.voice(0, 0, account=self._account.get(mailbox))
        return got

    def watchers(self, mailbox: str) -> list[str]:
        """The live subscriptions on ``mailbox``."""
        return [sid for sid, s in self._subs.items()
                if s.mailbox == mailbox and s.state is MwiState.ACTIVE]

    def receive(self, sub: Subscribe, now: float) -> SubscribeAnswer:
        expires = self._default if sub.expires is None else sub.expires
        known = self._subs.get(sub.sub_id)
        if not sub.initial and (known is None or known.state is not MwiState.ACTIVE
                                or known.mailbox != sub.mailbox):
            return SubscribeAnswer(sub.sub_id, 481)  # §4.2.1.2: no such subscription
        if 0 < expires < self._min:
            return SubscribeAnswer(sub.sub_id, 423, min_expires=self._min)
        granted = min(max(expires, 0), self._max)
        if sub.initial:
            if known is not None and known.state is MwiState.ACTIVE:
                # a retransmitted or repeated initial SUBSCRIBE: a refresh of what exists
                inp = MwiInput.REFRESH if granted else MwiInput.UNSUBSCRIBE
            else:
                inp = MwiInput.SUBSCRIBE if granted else MwiInput.FETCH
                known = _Sub(sub.mailbox, MwiState.INIT, now)
                self._subs[sub.sub_id] = known
        else:
            inp = MwiInput.REFRESH if granted else MwiInput.UNSUBSCRIBE
        assert known is not None
        known.expires_at = now + granted
        self._step(sub.sub_id, known, inp, now)
        return SubscribeAnswer(sub.sub_id, 200, expires=granted)

    def update(self, mailbox: str, summary: MessageSummary, now: float) -> None:
        """The mailbox's state is now ``summary``: NOTIFY every watcher and unsolicited target
        when it differs from the last one reported."""
        if summary.account is None and mailbox in self._account:
            summary = MessageSummary(summary.waiting, self._account[mailbox], summary.counts)
        if self.summary(mailbox) == summary:
            self._state[mailbox] = summary
            return
        self._state[mailbox] = summary
        for sid in self.watchers(mailbox):
            self._step(sid, self._subs[sid], MwiInput.CHANGE, now)
        for target, box in self._unsolicited.items():
            if box == mailbox:
                self._outbox.append(MwiNotify(target, mailbox, summary, SubState.ACTIVE,
                                              unsolicited=True))

    def notify_failed(self, sub_id: str, now: float) -> None:
        """A NOTIFY of ``sub_id`` was refused (481) or timed out (408): the subscription ends
        without another NOTIFY.  Unknown ids are ignored (it ended already)."""
        sub = self._subs.get(sub_id)
        if sub is not None:
            self._step(sub_id, sub, MwiInput.NOTIFY_FAILED, now)

    def close(self, mailbox: str | None, now: float) -> None:
        """End the subscriptions on ``mailbox`` (every one when None) with ``noresource``."""
        for sid, sub in list(self._subs.items()):
            if mailbox is None or sub.mailbox == mailbox:
                self._step(sid, sub, MwiInput.CLOSE, now)

    def add_unsolicited(self, target: str, mailbox: str, now: float, *,
                        send_now: bool = True) -> None:
        """Send ``mailbox``'s state to ``target`` (a configured phone's contact) on every
        change, out of dialog; ``send_now``: once at once too (a phone that just registered)."""
        self._unsolicited[target] = mailbox
        if send_now:
            self._outbox.append(MwiNotify(target, mailbox, self.summary(mailbox),
                                          SubState.ACTIVE, unsolicited=True))

    def remove_unsolicited(self, target: str) -> None:
        self._unsolicited.pop(target, None)

    def handle_timer(self, now: float) -> None:
        for sid in self._timers.pop_due(now):
            sub = self._subs.get(sid)
            if sub is not None and sub.state is MwiState.ACTIVE:
                if now >= sub.expires_at:
                    self._step(sid, sub, MwiInput.TIMEOUT, now)
                else:  # re-armed meanwhile
                    self._timers.arm(sid, sub.expires_at)

    # -- the table ---------------------------------------------------------------------
    def _step(self, sid: str, sub: _Sub, inp: MwiInput, now: float) -> None:
        edge = MWI_TABLE.get((sub.state, inp))
        if edge is None:
            raise MwiError(f"{inp.name} in state {sub.state.name}")
        sub.state = edge.next
        summary = self.summary(sub.mailbox)
        do = edge.do
        if do is MwiAction.NOTIFY_ACTIVE:
            left = max(0, math.ceil(sub.expires_at - now))
            self._outbox.append(MwiNotify(sid, sub.mailbox, summary, SubState.ACTIVE,
                                          expires=left))
        elif do is not MwiAction.NOTHING:
            self._outbox.append(MwiNotify(sid, sub.mailbox, summary, SubState.TERMINATED,
                                          reason=_WHY.get(do)))
        if edge.next is MwiState.ACTIVE:
            self._timers.arm(sid, sub.expires_at)
        elif sid in self._subs and inp in _END_REASON:
            del self._subs[sid]
            self._timers.cancel(sid)
            self._events.append(SubscriptionEnded(sid, sub.mailbox, _END_REASON[inp]))
