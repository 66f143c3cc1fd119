"""The call's phase table (pure): (phase, leg event) -> handler, like the transaction tables
of ``sip/txn_tables.py``.

Every leg event of a call (``call/legevents.py``: a fork ringing, answering or failing, a leg
hanging up, the caller cancelling, a hold, a digit, a prompt's end, lost media, the ring
timer) goes through ``dispatch``, which looks up the handler for the call's ``Phase``.  An
event with no entry is a no-op that is logged (``call_event_ignored``) and counted
(``B2bua.ignored``), never an exception.  Entries that do nothing on purpose (``_nothing``:
a losing fork's 487 while the call talks, a tone's end) say so in the table.

The phases (``state.Phase``) and what moves a call between them:

* RINGING: a new call's forks ring -> TALKING (a fork answers) or ENDED;
* SERVICE / IVR / ROOM / QUEUED: the switch answered the call itself (echo, tone, a
  supervisor's or third party's leg / a flow / a conference room / a queue);
* BRIDGING: an answered call rings onward (a user for a menu or a transfer, queue agents)
  -> TALKING when one answers, back to the flow, the queue or a recalled transferor if not;
* TALKING: two legs relayed in one bridge (transfers move legs in and out of it);
* ENDED: the call is over and owns no legs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog

from . import dtmfwork, forks
from .hold import hold_changed
from .legevents import (
    Answered,
    Cancelled,
    Digit,
    Ended,
    Failed,
    HoldChanged,
    LegEvent,
    MediaLost,
    PlayDone,
    Ringing,
    RingTimeout,
)
from .party import take_over
from .state import Call, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

Handler = Callable[[Any, Call, Any, float], None]  # (switch, call, event, now)


def dispatch(sw: B2bua, call: Call, ev: LegEvent, now: float) -> bool:
    """Run the handler of (``call.phase``, ``ev``); False (logged, counted) when none."""
    handler = TABLE.get((call.phase, type(ev)))
    if handler is None:
        sw.ignored[(call.phase.value, type(ev).__name__)] += 1
        log.info("call_event_ignored", call_id=call.key, phase=call.phase.value,
                 leg_event=type(ev).__name__)
        return False
    handler(sw, call, ev, now)
    return True


# -- handlers ---------------------------------------------------------------------------------
def _nothing(sw: B2bua, call: Call, ev: LegEvent, now: float) -> None:
    """An event expected in this phase that asks for nothing."""


def _caller_cancelled(sw: B2bua, call: Call, ev: Cancelled | Ended, now: float) -> None:
    """RINGING: the caller gave up (CANCEL, or BYE on an early dialog, §15): CANCEL the
    forks, 487 to the caller."""
    for br in call.forks():
        if br.final is None:
            sw._txn.cancel_request(br.txn_id, now)
    sw._fail_a(call, 487, "Request Terminated", now, ended_by="caller")


def _early_bye(sw: B2bua, call: Call, ev: Ended, now: float) -> None:
    _caller_cancelled(sw, call, ev, now)


def _hung_up(sw: B2bua, call: Call, ev: Ended, now: float) -> None:
    """A leg of an answered call hung up: a third party takes its place (three-way), else
    its peer is hung up and the call ends."""
    if call.supervisors and take_over(sw, call, ev.leg, now):
        return
    sw._hangup_other(call, ev.leg, now)
    sw._end(call, 200, "OK", now, "caller" if ev.leg == call.caller_id else "callee")


def _hold(sw: B2bua, call: Call, ev: HoldChanged, now: float) -> None:
    hold_changed(sw, call, ev.leg, now)


def _supervisor_key(sw: B2bua, call: Call, ev: Digit, now: float) -> None:
    """SERVICE: a supervisor's keys 4/5/6 switch listen, whisper, barge, however its phone
    sends them (RFC 4733 and in-band from the worker, INFO from ``_service_request``)."""
    if call.supervising is None or call.service != "supervise":
        return
    mode = sw.supervise_keys.get(ev.key)
    if mode is not None:
        sw.services.supervise_mode(call, mode)


def _relay_digit(sw: B2bua, call: Call, ev: Digit, now: float) -> None:
    dtmfwork.on_digit(sw, call, ev, now)


def _flow_or_queue(sw: B2bua, call: Call, ev: Digit | PlayDone, now: float) -> None:
    """QUEUED, BRIDGING, IVR: a digit or a prompt's end goes to the queue the caller waits
    in, else to the call's flow."""
    if call.queue is not None:
        if isinstance(ev, Digit):
            sw.queues.queue_digit(call, ev.key, now)
        else:
            sw.queues.queue_play_done(call, ev.play_id, ev.reason)
        return
    if call.ivr is None:
        return
    handoffs = (call.ivr.on_digit(ev.key, now) if isinstance(ev, Digit)
                else call.ivr.on_play_done(ev, now))
    sw.services._after_ivr(call, handoffs, now)


def _media_lost_ringing(sw: B2bua, call: Call, ev: MediaLost, now: float) -> None:
    for br in call.forks():
        if br.final is None:
            sw._txn.cancel_request(br.txn_id, now)
    sw._fail_a(call, 500, ev.why.capitalize(), now, ended_by="media")


def _media_lost(sw: B2bua, call: Call, ev: MediaLost, now: float) -> None:
    sw._hangup_both(call, now)
    sw._end(call, 200, ev.why, now, "media")


def _ring_timeout(sw: B2bua, call: Call, ev: RingTimeout, now: float) -> None:
    """RINGING: nobody answered: the user's mailbox takes the call, else CANCEL the forks,
    480 to the caller."""
    if sw.services.divert_to_voicemail(call, now):
        return
    for br in call.forks():
        if br.final is None:
            sw._txn.cancel_request(br.txn_id, now)
    sw._fail_a(call, 480, "Temporarily Unavailable", now, ended_by="switch")


def _stop_ringing(sw: B2bua, call: Call, ev: RingTimeout, now: float) -> None:
    """BRIDGING: nobody answered: the user's mailbox takes the call (a menu's hand-off to a
    user with one), else CANCEL what rings (the 487s say how it ended)."""
    if sw.services.bridge_to_voicemail(call, now):
        return
    for br in call.forks():
        if br.final is None:
            sw._txn.cancel_request(br.txn_id, now)


# -- the table --------------------------------------------------------------------------------
P = Phase
ANSWERED_PHASES = (P.SERVICE, P.IVR, P.QUEUED, P.BRIDGING, P.TALKING, P.ROOM)


def _rows() -> dict[tuple[Phase, type], Handler]:
    t: dict[tuple[Phase, type], Handler] = {}

    def row(event: type, handler: Handler, *phases: Phase) -> None:
        for phase in phases:
            assert (phase, event) not in t, (phase, event)
            t[(phase, event)] = handler

    row(Ringing, forks.relay_provisional, P.RINGING)
    row(Ringing, _nothing, *ANSWERED_PHASES, P.ENDED)
    row(Answered, forks.caller_answered, P.RINGING)
    row(Answered, forks.onward_answered, P.BRIDGING)
    row(Answered, forks.late_answer, P.SERVICE, P.IVR, P.QUEUED, P.TALKING, P.ROOM, P.ENDED)
    row(Failed, forks.ringing_fork_failed, P.RINGING)
    row(Failed, forks.onward_fork_failed, P.QUEUED, P.BRIDGING)
    row(Failed, _nothing, P.SERVICE, P.IVR, P.TALKING, P.ROOM, P.ENDED)
    row(Ended, _early_bye, P.RINGING)
    row(Ended, _hung_up, *ANSWERED_PHASES)
    row(Cancelled, _caller_cancelled, P.RINGING)
    row(HoldChanged, _hold, P.TALKING)
    row(Digit, _supervisor_key, P.SERVICE)
    row(Digit, _flow_or_queue, P.QUEUED, P.BRIDGING, P.IVR)
    row(Digit, _relay_digit, P.TALKING)
    row(Digit, _nothing, P.ROOM)
    row(PlayDone, _flow_or_queue, P.QUEUED, P.BRIDGING, P.IVR)
    row(PlayDone, _nothing, P.SERVICE, P.TALKING, P.ROOM)
    row(MediaLost, _media_lost_ringing, P.RINGING)
    row(MediaLost, _media_lost, *ANSWERED_PHASES)
    row(RingTimeout, _ring_timeout, P.RINGING)
    row(RingTimeout, _stop_ringing, P.BRIDGING)
    return t


TABLE: Mapping[tuple[Phase, type], Handler] = MappingProxyType(_rows())
"""(phase, leg event type) -> handler; what is not here is logged and counted."""
