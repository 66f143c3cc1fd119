"""The screen pop (pure): a CRM lookup started when a call enters a queue, and the card every
offer of the call to an agent carries.

``ScreenPop`` follows the router's events as ``Signaling.events()`` drains them:

- after the first ``CallerEntered`` of a call it emits :class:`CrmLookup` (the ``[crm]`` URL
  filled in with the call's values, URL-encoded) when a lookup is configured; the call's
  ``crm_status`` is ``"pending"`` until the shell (``http/crm.py``) brings the outcome back
  with ``Signaling.crm_result`` (:meth:`ScreenPop.result`);
- after every ``CallerOffered`` it emits :class:`OfferCard`: the offer with everything a CRM
  or an agent's desktop needs (caller number and name, number dialled, the IVR's digits and
  variables, queue, wait, call id, recording id, the CRM record as it is now, the queue's
  call script filled in).  The offer never waits for the CRM;
- a virtual-hold caller (``CallbackRequested``) hangs up and is called back later as a new
  leg: what its card needs is kept until it leaves the queue, and when the called-back caller
  answers and the reserved agent is rung (the switch's :class:`CallbackOffer`) the agent gets
  the same card as for a live caller (the CRM record, even one that came while the caller
  was away).

Every outcome of a lookup is reported as :class:`CrmResult` (``call.crm``), so a desktop that
showed a card with ``crm_status`` ``"pending"`` learns the record when it comes.  What the IVR
collected is copied onto the call when it enters the queue (``Call.digits``/``Call.vars``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from ..acd.events import (
    CALLER_EXITS,
    CallbackFailed,
    CallbackRequested,
    CallerEntered,
    CallerOffered,
)
from ..config.crm import CrmConfig, Template, url_encode
from .ivr import IvrSession
from .state import Call

log = structlog.get_logger()

CRM_STATUSES: Final = ("off", "pending", "ok", "not_found", "timeout", "error")
"""``off``: no lookup configured; ``pending``: asked, no answer yet; ``ok``: the CRM answered
a JSON object (the record); ``not_found``: it answered 404; ``timeout``: no answer within
``[crm] timeout``; ``error``: anything else (refused connection, other status, not a JSON
object)."""


@dataclass(frozen=True, slots=True)
class CrmLookup:
    """For the shell: GET ``url`` with ``headers`` (kept out of ``repr``: credentials) and
    give up after ``timeout`` seconds; the outcome goes back as ``crm_result(call_id, ...)``.
    Not part of the event stream."""

    call_id: str
    url: str
    timeout: float
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class CrmResult:
    """The CRM lookup of ``call_id`` ended (``call.crm``): ``crm`` the record (``None``
    unless ``crm_status`` is ``"ok"``).  ``queue``: the call's queue; ``agent``: the agent
    ringing for it (or talking with it) when the answer came, else ``None`` (for a call that
    has ended meanwhile: the agent last offered it)."""

    time: float
    call_id: str
    queue: str | None
    agent: str | None
    crm: Mapping[str, Any] | None
    crm_status: str


@dataclass(frozen=True, slots=True)
class OfferCard:
    """The call was offered to ``agent`` (``queue.caller_offered``: the router's
    ``CallerOffered`` with the screen pop).  ``wait_s``: seconds since it entered its first
    queue; ``recording_id``: the name of the recording the answered call will have (its file
    is ``recordings/DAY/<recording_id>.wav``), ``None`` when it will not be recorded;
    ``script``: the queue's call script filled in (``None``: the queue has none)."""

    time: float
    call_id: str
    queue: str
    agent: str
    caller: str | None
    caller_name: str | None
    dialled: str | None
    digits: str
    vars: Mapping[str, str]
    wait_s: float
    recording_id: str | None
    crm: Mapping[str, Any] | None
    crm_status: str
    script: str | None


@dataclass(frozen=True, slots=True)
class CallbackOffer:
    """From the switch to the screen pop (never streamed): the called-back caller of
    ``call_id`` answered and the reserved ``agent`` is being rung; it becomes an
    :class:`OfferCard`."""

    time: float
    call_id: str
    queue: str
    agent: str


@dataclass(slots=True)
class _Held:
    """What a virtual-hold caller's card needs while it is away (its call has ended)."""

    caller_name: str | None
    dialled: str
    digits: str
    vars: dict[str, str]
    crm: dict[str, object] | None
    crm_status: str | None
    entered: float | None


CrmEvent = CrmLookup | CrmResult | OfferCard


def call_values(call: Call, queue: str | None,
                displays: Mapping[str, str] | None = None) -> dict[str, str]:
    """The template values of ``call`` (``config/crm.py``'s plain placeholders)."""
    return {"caller": call.caller, "caller_name": caller_name(call, displays) or "",
            "dialled": dialled(call), "queue": queue or call.queue_name or "",
            "call_id": call.key, "digits": call.digits}


def dialled(call: Call) -> str:
    """The number the caller dialled: its INVITE's Request-URI user (``call.callee`` is
    where the dial plan sent it, e.g. ``ivr:demo``)."""
    if call.callback_agent is not None:
        return call.callee  # a virtual-hold callback: the queue that called back
    return call.caller_leg.invite.uri.user or call.callee


def caller_name(call: Call, displays: Mapping[str, str] | None = None) -> str | None:
    """The caller's name: its user's configured ``display`` (what the switch shows callees
    too), else the display name of its From (``None``: none, or a call we placed)."""
    configured = (displays or {}).get(call.caller)
    if configured:
        return configured
    if call.callback_agent is not None:
        return None  # a virtual-hold callback: the leg is our INVITE to the caller
    display = call.caller_leg.invite.from_.display
    return display or None


def queue_scripts(queues: Mapping[str, Any]) -> dict[str, Template]:
    """The call script of each queue that has one (``QueueConfig.script``)."""
    return {name: q.script for name, q in queues.items() if q.script is not None}


def user_displays(users: Mapping[str, Any]) -> dict[str, str]:
    """The configured display name of each user that has one."""
    return {name: u.display for name, u in users.items() if u.display}


class ScreenPop:
    """The CRM lookup and the offer cards, for the switch's calls (``find``)."""

    def __init__(self, *, crm: CrmConfig, scripts: Mapping[str, Template],
                 find: Callable[[str], Call | None],
                 recorded: Callable[[Call], bool] = lambda call: False,
                 displays: Mapping[str, str] | None = None) -> None:
        self.crm = crm
        self.displays = displays or {}  # user -> its configured display name
        self.scripts = scripts
        self._find = find
        self._recorded = recorded
        # lookups asked and not answered: call id -> [queue, agent last offered the call],
        # so an answer for a call that has ended meanwhile is still reported
        self._asked: dict[str, list[str | None]] = {}
        self._held: dict[str, _Held] = {}  # virtual-hold callers away, by call id

    def configure(self, *, crm: CrmConfig, scripts: Mapping[str, Template],
                  displays: Mapping[str, str]) -> None:
        """A reloaded configuration: the next call entering a queue is looked up with the
        new ``[crm]`` (a lookup running goes on and its answer is kept), the next offer
        carries the new script and display names."""
        self.crm, self.scripts, self.displays = crm, scripts, displays

    def follow(self, events: Iterable[object]) -> list[Any]:
        """``events`` (the router's or the switch's) with each one's screen-pop events after
        it; a :class:`CallbackOffer` is replaced by its card."""
        out: list[Any] = []
        for ev in events:
            if isinstance(ev, CallbackOffer):
                out.append(self.callback_card(ev))
                continue
            out.append(ev)
            if isinstance(ev, CallerEntered):
                lookup = self.entered(ev)
                if lookup is not None:
                    out.append(lookup)
            elif isinstance(ev, CallerOffered):
                out.append(self.card(ev))
            elif isinstance(ev, CallbackRequested):
                self.hold(ev.call_id)
            elif self._held and (isinstance(ev, CALLER_EXITS) or (
                    isinstance(ev, CallbackFailed) and ev.final)):
                self._held.pop(ev.call_id, None)
        return out

    def hold(self, call_id: str) -> None:
        """The caller asked to be called back: keep what its card needs."""
        call = self._find(call_id)
        if call is not None:
            self._held[call_id] = _Held(caller_name(call, self.displays), dialled(call),
                                        call.digits, dict(call.vars), call.crm,
                                        call.crm_status, call.queue_entered)

    def callback_card(self, ev: CallbackOffer) -> OfferCard:
        """The card of a called-back caller's offer: the new leg's call gets back what the
        caller had collected (IVR, CRM), and the card names it as it first came in."""
        held = self._held.get(ev.call_id)
        call = self._find(ev.call_id)
        if held is not None and call is not None:
            call.digits, call.vars = held.digits, dict(held.vars)
            call.crm, call.crm_status = held.crm, held.crm_status
            if held.entered is not None:
                call.queue_entered = held.entered
        return self.card(CallerOffered(ev.time, ev.call_id, ev.queue, ev.agent))

    def entered(self, ev: CallerEntered) -> CrmLookup | None:
        """The call entered a queue: keep what its IVR collected; the lookup, on its first
        queue, when one is configured."""
        call = self._find(ev.call_id)
        if call is None:
            return None
        if isinstance(call.ivr, IvrSession):
            flow = call.ivr.runner.call
            call.digits = flow.digits
            call.vars = dict(flow.vars)
        if call.crm_status is not None:
            return None  # asked already (an earlier queue, a rejoin)
        crm = self.crm
        if not crm.active or crm.url is None:
            call.crm_status = "off"
            return None
        call.crm_status = "pending"
        self._asked[call.key] = [ev.queue, None]
        url = crm.url.fill(call_values(call, ev.queue, self.displays), call.vars,
                             encode=url_encode)
        log.info("crm_lookup", call_id=call.key, queue=ev.queue)
        return CrmLookup(call.key, url, crm.timeout, crm.headers)

    def card(self, ev: CallerOffered) -> OfferCard:
        """The card of an offer (the offer's own fields alone when the call is gone)."""
        call = self._find(ev.call_id)
        if call is None:
            return OfferCard(ev.time, ev.call_id, ev.queue, ev.agent, None, None, None, "", {},
                             0.0, None, None, "off", None)
        call.offered = True
        if ev.call_id in self._asked:
            self._asked[ev.call_id][1] = ev.agent
        script = self.scripts.get(ev.queue)
        entered = call.queue_entered
        values = call_values(call, ev.queue, self.displays)
        held = self._held.get(call.key) if call.callback_agent is not None else None
        if held is not None:  # a called-back caller: named as it first came in
            values["dialled"] = held.dialled
            values["caller_name"] = values["caller_name"] or held.caller_name or ""
        return OfferCard(
            time=ev.time, call_id=ev.call_id, queue=ev.queue, agent=ev.agent,
            caller=call.caller, caller_name=values["caller_name"] or None,
            dialled=values["dialled"],
            digits=call.digits, vars=dict(call.vars),
            wait_s=round(max(0.0, ev.time - entered), 3) if entered is not None else 0.0,
            recording_id=call.key if self._recorded(call) else None,
            crm=call.crm, crm_status=call.crm_status or "off",
            script=script.fill(values, call.vars) if script is not None else None)

    def result(self, call_id: str, record: Mapping[str, Any] | None, status: str,
               now: float) -> CrmResult | None:
        """The shell's outcome of a :class:`CrmLookup`: kept on the call (later offers carry
        it) and reported, also when the call has ended meanwhile (its queue and the agent
        last offered it); ``None`` for a call that asked nothing."""
        if status not in CRM_STATUSES or status in ("off", "pending"):
            raise ValueError(f"not a lookup outcome: {status!r}")
        asked = self._asked.pop(call_id, None)
        crm = dict(record) if status == "ok" and record is not None else None
        call = self._find(call_id)
        held = self._held.get(call_id)
        if held is not None:  # a virtual-hold caller: its callback's card will carry it
            held.crm, held.crm_status = crm, status
        if call is None:
            if asked is None:
                log.warning("crm_result_unasked", call_id=call_id)
                return None
            log.info("crm_result", call_id=call_id, crm_status=status, ended=True)
            return CrmResult(now, call_id, asked[0], asked[1], crm, status)
        call.crm = crm
        call.crm_status = status
        agent = call.queue_agent or next(
            (b.agent for b in call.forks() if b.agent is not None and b.final is None), None)
        log.info("crm_result", call_id=call_id, crm_status=status, offered=call.offered)
        return CrmResult(now, call_id, call.queue or call.queue_name, agent, call.crm, status)
