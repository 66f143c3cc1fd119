"""Answers to the INVITEs we send for a call (pure): a fork's provisional, 2xx or failure is
turned into a leg event (``Ringing``, ``Answered``, ``Failed``) and dispatched on the call's
phase (``call/phase.py``); the handlers for those events are here.

What does not depend on the phase is done before the dispatch: a fork's final status and
dialog, the best failure so far (RFC 3261 §16.7), and a second fork answering after the first
(ACK and BYE, §13.2.2.4) or a retransmitted 2xx (ACK again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..sdp.negotiator import NotAcceptable
from ..sip.message import Response
from . import dtmfwork, earlyoffer, recpause, sessiontimers
from .events import CallAnswered
from .legevents import Answered, Failed, Ringing
from .legrecord import leg_answered, leg_failed, leg_gone
from .state import ALLOW, Call, Leg, Phase
from .voicemail import DIVERT_STATUSES

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

# what a caller needs from the callee's final failure: where to go instead (3xx Contact), what
# to authenticate with (401/407 challenges), when to retry, why, what is supported
RELAYED_FAILURE_HEADERS = ("contact", "www-authenticate", "proxy-authenticate", "retry-after",
                           "warning", "unsupported", "accept", "allow")


def fork_response(sw: B2bua, call: Call, br: Leg, resp: Response, now: float) -> None:
    """A response to fork ``br`` of ``call``."""
    status = resp.status
    if 100 < status < 200 and not sw.reliable.from_callee(br, resp, now):
        return  # a reliable provisional heard before (or out of order): RFC 3262 §4
    if sw.trunk_legs is not None:
        sw.trunk_legs.heard(call, br, status)
    if status < 200:
        if status != 100:
            sw.dispatch(call, Ringing(br.id, resp), now)
        return
    if status < 300:
        _fork_answered(sw, call, br, resp, now)
        return
    if br.final is None:
        fork_failed(sw, call, br, status, resp.reason, now, resp)


def _fork_answered(sw: B2bua, call: Call, br: Leg, resp: Response, now: float) -> None:
    first = br.final is None
    br.final = resp.status
    if first:
        leg_answered(br, resp.reason, now)
    br.dialog.remote = resp.to
    earlyoffer.confirmed(call, br)  # the CSeq its early UPDATEs reached goes on
    br.dialog.update_target(resp)
    for rr in reversed(resp.headers.get_all("record-route")):
        if first:
            br.dialog.route_set.append(rr)
    ack = br.dialog.request("ACK", me=br.me, branch=sw._ids.branch(), cseq=br.invite.cseq.seq)
    if call.answered_id is not None and call.answered_id != br.id:
        # a second fork answered: ACK and hang it up (RFC 3261 §13.2.2.4)
        if first:
            sw._txn.send_stateless(ack, br.dialog.peer)
            _bye(sw, br, now)
            leg_gone(call, br, "switch", "another fork answered", now)
        return
    if call.answered_id == br.id:  # retransmitted 2xx: re-ACK
        if br.held_ack is None:
            sw._txn.send_stateless(ack, br.dialog.peer)
        return
    sessiontimers.answered(sw, call, br, resp, now)
    sw.dispatch(call, Answered(br.id, resp, ack), now)


def fork_failed(sw: B2bua, call: Call, br: Leg, status: int, reason: str, now: float,
                resp: Response | None = None) -> None:
    """Fork ``br`` ended with a final failure (or a timeout, 408).  A trunk leg's failure may
    be retried with credentials or fail over to the next trunk (``call/trunklegs.py``)."""
    leg_failed(br, status, reason, now)
    if status == 422 and sessiontimers.retry_422(sw, call, br, resp, now):
        return  # asked again with a larger session interval (RFC 4028 §7.4)
    if sw.trunk_legs is not None and sw.trunk_legs.fork_failed(call, br, status, reason, resp,
                                                               now):
        return
    br.final = status
    if call.failure is None or _rank(status) < _rank(call.failure[0]):
        call.failure = (status, reason)
        call.failure_headers = _relayed_failure_headers(resp)
    sw.dispatch(call, Failed(br.id, status, reason), now)


# -- handlers: Ringing ------------------------------------------------------------------------
def relay_provisional(sw: B2bua, call: Call, ev: Ringing, now: float) -> None:
    """RINGING: a fork's 18x goes to the caller (its SDP rewritten: early media)."""
    br, resp = call.legs[ev.leg], ev.response
    if resp.to.tag:
        br.early = True
        br.dialog.remote = resp.to
    extra = [("Contact", call.caller_leg.me.contact())]
    # SDP in a provisional after the fork's exchange completed is a repeat (earlyoffer.py)
    repeat = earlyoffer.answer_sdp(call, br) if resp.body else None
    sdp = repeat or callee_sdp(call, resp)
    if isinstance(sdp, NotAcceptable):
        log.info("early_sdp_refused", call_id=call.key, reason=sdp.reason)
        earlyoffer.release_pracks(sw, call, now)  # none waits for an answer to it
        sdp = None
    else:
        earlyoffer.callee_provisional(call, br, resp)
    sw._answer_a(call, resp.status, resp.reason, now, resp, extra, sdp)


# -- handlers: Answered -----------------------------------------------------------------------
def caller_answered(sw: B2bua, call: Call, ev: Answered, now: float) -> None:
    """RINGING: the first fork to answer wins; the caller is answered 200."""
    br, resp, ack = call.legs[ev.leg], ev.response, ev.ack
    # both legs' offer/answer done before the 2xx: its SDP is a repeat (call/earlyoffer.py)
    sdp = earlyoffer.answer_sdp(call, br) or callee_sdp(call, resp)
    if isinstance(sdp, NotAcceptable):  # the callee's answer is not one we can use
        log.warning("answer_refused", call_id=call.key, reason=sdp.reason)
        br.final = 488
        sw._txn.send_stateless(ack, br.dialog.peer)
        _bye(sw, br, now)
        call.failure = (488, "Not Acceptable Here")
        fork_failed(sw, call, br, 488, "Not Acceptable Here", now)
        return
    call.answered_id = br.id
    call.answered = now
    sw._timers.cancel(("ring", call.key))
    if call.caller_leg.invite.body:
        sw._txn.send_stateless(ack, br.dialog.peer)
    else:
        br.held_ack = ack  # delayed offer: the caller's ACK carries the answer
    for other in call.forks():
        if other is not br and other.final is None:
            sw._txn.cancel_request(other.txn_id, now)
    extra = [("Contact", call.caller_leg.me.contact()), ("Allow", ALLOW)]
    sw._answer_a(call, resp.status, resp.reason, now, resp, extra, sdp)
    call.phase = Phase.TALKING
    dtmfwork.answered(call)
    sw._events.append(CallAnswered(call.key, br.dialog.remote_target, now))
    log.info("call_answered", call_id=call.key, callee=call.callee)
    if call.media is not None and call.media.plan.record_calls:
        sw._events.extend(recpause.start(call, now))
    sw._arm_2xx_retx(call, now)


def onward_answered(sw: B2bua, call: Call, ev: Answered, now: float) -> None:
    """BRIDGING: a user (or queue agent) rung for the answered call answered."""
    br = call.legs[ev.leg]
    sw._txn.send_stateless(ev.ack, br.dialog.peer)
    if br.cancelled:  # answered as our CANCEL crossed it: the offer is over
        _bye(sw, br, now)
        fork_failed(sw, call, br, 487, "Request Terminated", now)
        return
    if sw.services._bridge_answered(call, br, ev.response.body, now):
        if call.queue is not None:
            sw.queues.queue_answered(call, br, now)
        return
    _bye(sw, br, now)
    fork_failed(sw, call, br, 488, "Not Acceptable Here", now)


def late_answer(sw: B2bua, call: Call, ev: Answered, now: float) -> None:
    """A fork answered when nothing rings for it any more: ACK and BYE."""
    br = call.legs[ev.leg]
    sw._txn.send_stateless(ev.ack, br.dialog.peer)
    _bye(sw, br, now)


# -- handlers: Failed -------------------------------------------------------------------------
def ringing_fork_failed(sw: B2bua, call: Call, ev: Failed, now: float) -> None:
    """RINGING: when every fork failed (or one said 6xx) the caller gets the best failure."""
    if call.answered_id is not None:
        return
    forks = call.forks()
    if all(b.final is not None for b in forks) or ev.status >= 600:
        for other in forks:
            if other.final is None:
                sw._txn.cancel_request(other.txn_id, now)
        assert call.failure is not None
        code, why = call.failure
        if code in DIVERT_STATUSES and sw.services.divert_to_voicemail(call, now):
            return  # busy or no answer: the user's mailbox takes the call
        extra = call.failure_headers
        if code in (408, 503):
            code, why, extra = 480, "Temporarily Unavailable", ()
        sw._fail_a(call, code, why, now, ended_by="callee", extra=extra)


def onward_fork_failed(sw: B2bua, call: Call, ev: Failed, now: float) -> None:
    """QUEUED, BRIDGING: an agent's contact gave up (the router hears when all of the agent's
    did); a user rung onward failed on every contact (the flow or the transfer hears)."""
    if call.answered_id is not None:
        return
    if call.queue is not None:
        sw.queues.queue_branch_failed(call, call.legs[ev.leg], ev.status, now)
        return
    if call.phase is Phase.BRIDGING and all(b.final is not None for b in call.forks()):
        sw.services._bridge_failed(call, now)


# -- helpers ----------------------------------------------------------------------------------
def callee_sdp(call: Call, resp: Response) -> bytes | NotAcceptable | None:
    """The callee's SDP in ``resp`` rewritten for the caller (None: no SDP to send)."""
    cm = call.media
    if cm is None or not resp.body:
        return None
    if call.caller_leg.invite.body:
        return cm.answer_from("b", resp.body)
    return cm.offer_from("b", resp.body)  # delayed offer: the callee offers


def _bye(sw: B2bua, br: Leg, now: float) -> None:
    bye = br.dialog.request("BYE", me=br.me, branch=sw._ids.branch())
    sw._txn.send_request(bye, br.dialog.peer, now)


def _relayed_failure_headers(resp: Response | None) -> tuple[tuple[str, str], ...]:
    if resp is None:
        return ()
    return tuple((name, value) for name, value in resp.headers.items()
                 if name.lower() in RELAYED_FAILURE_HEADERS)


def _rank(status: int) -> int:
    """Lower is a better final answer to relay when every fork failed (RFC 3261 §16.7)."""
    if status >= 600:
        return 0
    if status in (486, 600):
        return 1
    if status in (401, 407, 415, 420, 484):
        return 2
    if status == 408:
        return 9
    return 3 + status // 100
