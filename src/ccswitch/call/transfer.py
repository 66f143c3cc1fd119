"""Transfers: where a call changes hands (pure).  Everything about REFER and Replaces is here.

* **Blind transfer** (RFC 3515): a phone in a call sends REFER with ``Refer-To: <target>``.
  We accept it (202), tell the transferor how it goes with NOTIFYs of ``message/sipfrag``
  (100 Trying, then the target's final answer), take the transferor out of the bridge (the
  other party hears ringback) and ring the target, a number of the dial plan: a user, a queue
  (the caller keeps its place and priority), an IVR menu, a service.  When the target answers
  it is joined to the bridge and the transferor, told 200, hangs up (or is hung up after
  ``TRANSFEROR_GRACE`` seconds).  A user with a mailbox who is busy or does not answer
  within ``[voicemail] no_answer`` has its mailbox take the call, as on a direct call (for
  the transferor the transfer succeeded).  When it fails otherwise, the transferor is told
  and, if it is still there, gets the call back (recall); if it has gone, the call ends.
* **Attended transfer** (REFER with ``Replaces`` in Refer-To, RFC 3891 + RFC 5589): the
  transferor talks to the target in a second call (the consultation) and then refers the first
  call's other party to the target, naming the consultation dialog.  Both calls are ours, so
  the target's leg moves from the consultation into the first call's bridge and the
  transferor's two legs are released.
* **INVITE with Replaces** from a phone: its new leg takes the place of the named leg in that
  call's bridge; the replaced phone is sent BYE.

A transfer moves legs: the transferor's leg leaves the call's bridge (it stays in the call as
``Transfer.leg``, media end ``"t"``, until it hangs up, so its NOTIFYs have a dialog and its BYE
ends only that leg), the party who stays becomes the call's caller leg, the target's leg (rung
for the call, or moved in from the consultation call) becomes its answered leg.  Legs keep their
ids and their own state (2xx retransmission, held ACK, music) wherever they go; only the
call's roles (``caller_id``/``answered_id``) and its media ends follow.

A transfer out of a queue call is a queue event (BLINDTRANSFER/ATTENDEDTRANSFER) and the agent
goes to wrap-up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

import structlog

from ..dialplan import OutsideTarget
from ..errors import SipParseError
from ..media.ports import PortsExhausted
from ..sdp.negotiator import NotAcceptable
from ..sip.dialog import Dialog, LocalContact
from ..sip.message import make_response
from ..sip.refer import Notify, Replaces, SubState, refer_event, refer_sub_of, refer_to_of
from ..sip.transaction import RequestReceived
from . import dtmfwork, sessiontimers
from .events import TransferEnded
from .hold import stop_music
from .legrecord import leg_gone, remove_leg, transfer_result, transfer_started
from .state import ALLOW, Call, Leg, LegId, Phase, set_sdp
from .targets import route
from .voicemail import VoicemailSession

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

TRANSFEROR = "t"  # the media end of a transferor's leg while its transfer goes on
TRANSFEROR_GRACE = 4.0  # seconds the transferor has to hang up after a successful transfer
SUBSCRIPTION_S = 60
T = TypeVar("T")


@dataclass(slots=True)
class Transfer:
    """A transfer under way in a call: the transferor's leg and its refer subscription."""

    kind: Literal["blind", "attended"]
    target: str  # the number referred to
    leg: Leg  # the transferor's leg (its dialog gets the NOTIFYs)
    event: str  # the Event header of its NOTIFYs

    @property
    def dialog(self) -> Dialog:
        return self.leg.dialog

    @property
    def me(self) -> LocalContact:
        return self.leg.me
    subscribed: bool  # False: Refer-Sub: false, no NOTIFY
    gone: bool = False  # the transferor hung up
    done: bool = False  # the final NOTIFY was sent
    grace: float = TRANSFEROR_GRACE  # seconds the transferor has to hang up after success
    started: float = 0.0  # the REFER (or the command) came in
    by: str = "refer"  # "refer" | "api"
    reported: bool = False  # its TransferEnded is out


# -- REFER ----------------------------------------------------------------------------------
def on_refer(sw: B2bua, call: Call, leg: LegId, ev: RequestReceived, now: float) -> None:
    """A REFER from leg ``leg`` of ``call``."""
    req = ev.request
    try:
        refer_to = refer_to_of(req)
        subscribed = refer_sub_of(req)
    except SipParseError as e:
        sw._reply(ev, e.status, e.reason, now)
        return
    cm = call.media
    if not call.confirmed or call.answered_id is None or cm is None or \
            call.end(leg) == TRANSFEROR:
        sw._reply(ev, 491 if call.answering else 403,
                  "Request Pending" if call.answering else "Forbidden", now)
        return
    if (call.transfer is not None and not call.transfer.done) or _offer_answer_pending(sw, call):
        sw._reply(ev, 491, "Request Pending", now, (("Retry-After", "2"),))
        return
    if refer_to.method != "INVITE" or refer_to.target.scheme not in ("sip", "sips"):
        sw._reply(ev, 403, "Forbidden", now)
        return
    from_caller = leg == call.caller_id
    user = call.caller if from_caller else (call.queue_agent or call.callee)
    # a queue caller may not hand the agent on: the router would see the agent leave (wrap-up,
    # new offers) while it still talks to the target
    if not sw.may_transfer(user) or (from_caller and call.queue_agent is not None):
        sw._reply(ev, 403, "Forbidden", now)
        return
    number = refer_to.target.user or ""
    consult = None
    if refer_to.replaces is not None:
        consult = _dialog_of(sw, refer_to.replaces)
        if consult is not None and (consult[0] is call or consult[0].media is None or
                                    consult[0].media.worker != cm.worker):
            sw._reply(ev, 403, "Forbidden", now)
            return
    elif not sw.can_route(number) and not is_outside(sw, number):
        sw._reply(ev, 404, "Not Found", now)
        return
    me = call.legs[leg].me
    resp = make_response(req, 202, "Accepted", headers=[("Contact", me.contact())])
    if not subscribed:
        resp.headers.set("Refer-Sub", "false")
    sw._txn.send_response(ev.txn_id, resp, now)
    if refer_to.replaces is not None and consult is None:
        # the dialog to replace is gone (it ended as the phone referred, RFC 3891 §3): the
        # transfer fails as the INVITE with Replaces would have, and the call goes on.  Not
        # a 481 to the REFER: that would tell the phone its own dialog is gone (§12.2.1.2)
        gone = Transfer("attended", number, call.legs[leg], refer_event(req.cseq.seq),
                        subscribed, started=now)
        notify(sw, gone, 481, "Call/Transaction Does Not Exist", now)
        report_outcome(sw, call, gone, 481, now)
        log.info("transfer_failed", call_id=call.key, target=number, status=481)
        return
    if from_caller:  # the party who stays is the caller now
        swap_roles(sw, call)
    xfer = _detach_transferor(sw, call, number, refer_event(req.cseq.seq), subscribed, now,
                              "attended" if refer_to.replaces else "blind")
    if refer_to.replaces is not None:  # done at once: the one NOTIFY is the final one
        assert consult is not None
        _attended(sw, call, consult[0], consult[1], now)
    else:
        notify(sw, xfer, 100, "Trying", now)
        route_target(sw, call, number, now)


def by_command(sw: B2bua, call: Call, number: str, now: float) -> None:
    """A blind transfer asked by a command (the API): as a REFER from the answered leg,
    without NOTIFYs; that leg is hung up as soon as the target answers."""
    xfer = _detach_transferor(sw, call, number, "", False, now, "blind")
    xfer.grace = 0.0
    xfer.by = "api"
    route_target(sw, call, number, now)


def route_target(sw: B2bua, call: Call, number: str, now: float) -> None:
    """Send the transferred ``call`` to dial-plan ``number``; the transferor hears how it
    went (at once for a queue, a menu, a service; when the rung target answers or fails)."""
    target = sw.resolve(number, call.caller) if sw.resolve else None
    if target is None and is_outside(sw, number):
        target = OutsideTarget(number)  # a trunk, with the transferring user's class
    call.voicemail_box = None
    outcome = route(sw, call, target, now)
    if outcome == "ringing" and call.voicemail_box is None:
        # (a user with a mailbox rings for [voicemail] no_answer, as a direct call does)
        sw._timers.arm(("ring", call.key), now + sw.transfer_ring_timeout)
    elif outcome == "answered" and isinstance(call.ivr, VoicemailSession):
        transfer_to_voicemail(sw, call, call.ivr.machine.box, now)  # a mailbox took it
    elif outcome == "answered":
        transfer_answered(sw, call, now)
    elif outcome.startswith("failed:"):
        target_failed(sw, call, int(outcome[7:]), now)


def is_outside(sw: B2bua, number: str) -> bool:
    """Whether ``number`` is an outside number the switch's trunks may reach."""
    return sw.trunk_legs is not None and sw.trunk_legs.router.plan.normalize(number) is not None


def target_failed(sw: B2bua, call: Call, status: int, now: float) -> None:
    """A transfer's target failed: recall the transferor, or end the call."""
    if not transfer_failed(sw, call, status, now):
        sw._hangup_both(call, now)
        sw._end(call, status, "transfer failed", now, "switch")


def _offer_answer_pending(sw: B2bua, call: Call) -> bool:
    """A re-INVITE or UPDATE relayed between the legs is unanswered, or its 2xx un-ACKed:
    moving a leg now would send its answer, or the ACK, to the wrong leg."""
    if any(lg.unacked is not None or lg.held_ack is not None for lg in call.legs.values()):
        return True
    return any(r.call is call and r.ack is None and r.method in ("INVITE", "UPDATE")
               for r in sw._relays.values())


def _detach_transferor(sw: B2bua, call: Call, number: str, event: str, subscribed: bool,
                       now: float, kind: Literal["blind", "attended"]) -> Transfer:
    """The answered leg (the transferor) leaves the bridge: the call's transferor now."""
    b, cm = call.answered_leg, call.media
    assert b is not None and cm is not None
    if call.transfer is not None:  # an earlier transferor still on the line: BYE, let go
        release_transferor(sw, call, now)
    stop_music(sw, call, call.caller_leg, now)  # the transferor held the other party
    stop_music(sw, call, b, now)  # (phones do, before REFER)
    xfer = Transfer(kind, number, b, event, subscribed, started=now)
    call.transfer = xfer
    call.answered_id = None
    old = cm.legs.pop("b")
    cm.legs[TRANSFEROR] = old
    cm.connected = False
    if cm.bridge is not None:
        cm.bridge.leave(old.leg)
    for side in ("b",):
        cm.offers.pop(side, None)
        cm.our_offers.pop(side, None)
    agent = call.queue_agent
    call.transferred_by = agent or call.callee
    transfer_started(call, kind, call.transferred_by, number, "refer" if event else "api", now)
    if agent is not None and sw.router is not None:
        sw.router.call_transferred(call.key, agent, now, number,
                                   attended=kind == "attended")
        call.queue = None
        call.queue_agent = None
    log.info("transfer_started", call_id=call.key, kind=kind, target=number, agent=agent)
    return xfer


def notify(sw: B2bua, xfer: Transfer, status: int, reason: str, now: float) -> None:
    """Tell the transferor how its transfer goes (final status: the subscription ends)."""
    if xfer.done or xfer.gone:
        return
    final = status >= 200
    xfer.done = final
    if not xfer.subscribed:
        return
    n = Notify(status, reason, SubState.TERMINATED if final else SubState.ACTIVE, xfer.event,
               None if final else SUBSCRIPTION_S, "noresource" if final else None)
    req = xfer.dialog.request("NOTIFY", me=xfer.me, branch=sw._ids.branch(), body=n.body,
                              content_type=n.content_type,
                              extra=[h for h in n.headers() if h[0] != "Content-Type"])
    sw._txn.send_request(req, xfer.dialog.peer, now)


def report_outcome(sw: B2bua, call: Call, xfer: Transfer, status: int, now: float) -> None:
    """Report the transfer's outcome once (``TransferEnded``: the availability audit)."""
    if not xfer.reported:
        xfer.reported = True
        sw._events.append(TransferEnded(call.key, xfer.kind, xfer.target, xfer.by, status,
                                        xfer.started, now))


def transfer_answered(sw: B2bua, call: Call, now: float) -> None:
    """The target answered and is bridged: the transferor is told and let go."""
    xfer = call.transfer
    if xfer is None or xfer.done:
        return
    transfer_result(call, "answered")
    notify(sw, xfer, 200, "OK", now)
    report_outcome(sw, call, xfer, 200, now)
    log.info("transfer_done", call_id=call.key, kind=xfer.kind, target=xfer.target)
    if not xfer.gone:
        sw._timers.arm(("xferbye", call.key), now + xfer.grace)


def transfer_to_voicemail(sw: B2bua, call: Call, box: str, now: float) -> None:
    """The target (a user) was busy or did not answer and its mailbox takes the call, as
    it would a direct call: for the transferor the transfer succeeded (NOTIFY 200, let go);
    the CDR's transfer step says ``voicemail:BOX``."""
    xfer = call.transfer
    if xfer is None or xfer.done:
        return
    transfer_result(call, f"voicemail:{box}")
    notify(sw, xfer, 200, "OK", now)
    report_outcome(sw, call, xfer, 200, now)
    log.info("transfer_to_voicemail", call_id=call.key, kind=xfer.kind, target=xfer.target,
             box=box)
    if not xfer.gone:
        sw._timers.arm(("xferbye", call.key), now + xfer.grace)


def transfer_failed(sw: B2bua, call: Call, status: int, now: float) -> bool:
    """The target did not answer: the transferor is told and gets the call back when it is
    still there (True); False when it has gone (the caller is to be hung up)."""
    xfer = call.transfer
    if xfer is None or xfer.done:
        return False
    transfer_result(call, f"failed:{status}")
    final = status if status >= 300 else 480
    notify(sw, xfer, final, "Temporarily Unavailable" if status in (408, 480) else "Failed",
           now)
    report_outcome(sw, call, xfer, final, now)
    log.info("transfer_failed", call_id=call.key, target=xfer.target, status=status)
    cm = call.media
    if xfer.gone or cm is None or TRANSFEROR not in cm.legs or not sw.transfer_recall:
        return False
    # recall: the transferor's leg goes back into the bridge as the answered leg
    if "b" in cm.legs:
        sw.media_free(cm.legs.pop("b"))
    cm.legs["b"] = cm.legs.pop(TRANSFEROR)
    call.answered_id = xfer.leg.id
    call.transfer = None
    call.phase = Phase.TALKING
    cm.connect()
    log.info("transfer_recalled", call_id=call.key)
    return True


def transferor_bye(sw: B2bua, call: Call, now: float) -> None:
    """The transferor hung up: its leg is released; the call goes on."""
    xfer = call.transfer
    sw._timers.cancel(("xferbye", call.key))
    if xfer is not None:
        xfer.gone = True
        sw._dialogs.pop((xfer.dialog.call_id, xfer.dialog.local_tag), None)
    cm = call.media
    if xfer is not None:
        leg_gone(call, xfer.leg, "party", "", now)  # (its codec: before its media goes)
        sessiontimers.disarm(sw, call, xfer.leg)
    if cm is not None and TRANSFEROR in cm.legs:
        sw.media_free(cm.legs.pop(TRANSFEROR))


def release_transferor(sw: B2bua, call: Call, now: float) -> None:
    """Grace over, or the call is ending: BYE the transferor if it is still there."""
    xfer = call.transfer
    if xfer is None or xfer.gone:
        return
    leg_gone(call, xfer.leg, "switch", "transferred", now)
    sw._bye(xfer.dialog, xfer.me, now)
    transferor_bye(sw, call, now)


# -- attended -------------------------------------------------------------------------------
def _dialog_of(sw: B2bua, rep: Replaces) -> tuple[Call, LegId] | None:
    """The call and leg of the dialog ``rep`` names (either tag may be ours)."""
    return sw._dialogs.get((rep.call_id, rep.to_tag)) or sw._dialogs.get(
        (rep.call_id, rep.from_tag))


def _attended(sw: B2bua, call: Call, consult: Call, leg: LegId, now: float) -> None:
    """The consultation's other party (the target) moves from the consultation into
    ``call`` in the transferor's place; the consultation ends without hanging the target
    up.  ``leg`` is the transferor's leg in the consultation."""
    if consult.phase is Phase.RINGING and consult.caller_id == leg:
        _ringing_consultation(sw, call, consult, now)
        return
    if leg == consult.answered_id:  # the transferor is the consultation's callee
        swap_roles(sw, consult)
    target, ccm, cm = consult.answered_leg, consult.media, call.media
    assert cm is not None
    if target is None or ccm is None or not consult.confirmed:
        transfer_failed(sw, call, 481, now)
        return
    stop_music(sw, consult, target, now)  # the transferor held the target meanwhile
    remove_leg(consult, target, "switch", "attended transfer", now, moving=True)
    sessiontimers.disarm(sw, consult, target)  # (armed again in call below)
    target.role = "transfer"
    moved = ccm.legs.pop("b")
    if ccm.bridge is not None:
        ccm.bridge.leave(moved.leg)
    for key in ("b",):
        if key in ccm.offers:
            cm.offers["b"] = ccm.offers.pop(key)
        if key in ccm.our_offers:
            cm.our_offers["b"] = ccm.our_offers.pop(key)
    consult.answered_id = None
    # the target's leg, its dialog and INVITE transaction now belong to call (its BYE, a
    # late 2xx)
    del consult.legs[target.id]
    call.add(target)
    if sw._clients.get(target.txn_id) is consult:
        sw._clients[target.txn_id] = call
    cm.legs["b"] = moved
    sw._by_leg[moved.leg] = call
    call.answered_id = target.id
    sw._dialogs[(target.dialog.call_id, target.dialog.local_tag)] = (call, target.id)
    sessiontimers.arm(sw, call, target)  # its session timer runs on, in this call
    cm.connect()
    dtmfwork.answered(call)
    call.callee = consult.callee
    # the replaced dialog is ended by the side that took the Replaces (RFC 3891 §3): us
    sw._bye(consult.caller_leg.dialog, consult.caller_leg.me, now)
    sw._end(consult, 200, "attended transfer", now, "switch")
    transfer_answered(sw, call, now)


def _ringing_consultation(sw: B2bua, call: Call, consult: Call, now: float) -> None:
    """The transferor referred while its consultation still rings (a "semi-attended"
    transfer): the consultation ends (487 to the transferor, CANCEL to the target) and the
    call goes to the consultation's number as a blind transfer would, so the target's
    busy and no-answer rules (its mailbox) apply; the target rings again."""
    number = consult.callee
    for br in consult.forks():
        if br.final is None:
            br.cancelled = True
            sw._txn.cancel_request(br.txn_id, now)
    sw._fail_a(consult, 487, "Request Terminated", now, ended_by="switch")
    xfer = call.transfer
    assert xfer is not None
    xfer.target = number
    if call.transfers:
        call.transfers[-1] = dataclasses.replace(call.transfers[-1], target=number)
    log.info("transfer_consultation_ringing", call_id=call.key, target=number)
    notify(sw, xfer, 100, "Trying", now)
    route_target(sw, call, number, now)


# -- INVITE with Replaces -------------------------------------------------------------------
def replace(sw: B2bua, ev: RequestReceived, rep: Replaces, caller: str, now: float) -> bool:
    """An INVITE with Replaces: its leg takes the named leg's place.  False when nothing
    matches (the caller answers 481)."""
    found = _dialog_of(sw, rep)
    if found is None:
        return False
    call, leg = found
    cm = call.media
    if not call.live or call.end(leg) == TRANSFEROR or cm is None:
        sw._reply(ev, 603 if call.phase is Phase.ENDED else 486, "Busy Here", now)
        return True
    if rep.early_only:
        sw._reply(ev, 486, "Busy Here", now)
        return True
    if leg == call.answered_id:  # the replaced leg becomes the caller's, then is replaced
        swap_roles(sw, call)
    req = ev.request
    if not req.body:
        sw._reply(ev, 488, "Not Acceptable Here", now,
                  (("Warning", '399 ccswitch "an offer is needed with Replaces"'),))
        return True
    try:
        new = sw.media_new_leg(cm.worker, now)
    except PortsExhausted as e:
        log.warning("rtp_ports_exhausted", call_id=call.key)
        sw._reply(ev, 503, "Service Unavailable", now, (("Retry-After", str(e.retry_after)),))
        return True
    old_leg = cm.legs["a"]
    cm.legs["a"] = new
    cm.offers.pop("a", None)
    cm.our_offers.pop("a", None)
    sdp = cm.answer_locally("a", req.body)
    if isinstance(sdp, NotAcceptable):
        cm.legs["a"] = old_leg
        sw.media_free(new)
        sw._reply(ev, 488, "Not Acceptable Here", now)
        return True
    replaced = call.caller_leg
    old_dialog, old_me = replaced.dialog, replaced.me
    sw._dialogs.pop((old_dialog.call_id, old_dialog.local_tag), None)
    if cm.bridge is not None:
        cm.bridge.leave(old_leg.leg)
    sw.media_free(old_leg)
    sw._by_leg[new.leg] = call
    call.caller = caller  # the caller's leg is the replacing phone's now
    # the replacing INVITE's leg takes the replaced leg's place, answered 200 with our SDP
    # (retransmitted to its ACK)
    new_leg = Leg(ev.txn_id, req, sw._server_dialog(ev), sw._local(ev.source.transport),
                  incoming=True, at=now, answered_at=now, role="replaces")
    new_leg.dtmf = sw.user_dtmf(caller)
    if replaced.unacked is not None:
        sw._timers.cancel((f"re2xx-{replaced.id}", call.key))
    replaced.codec, replaced.media = replaced.codec or old_leg.codec, old_leg.leg
    remove_leg(call, replaced, "switch", "replaced", now)
    sessiontimers.disarm(sw, call, replaced)
    del call.legs[replaced.id]
    call.add(new_leg)
    call.caller_id = new_leg.id
    sw._dialogs[(req.call_id, new_leg.dialog.local_tag)] = (call, new_leg.id)
    resp = make_response(req, 200, "OK", to_tag=new_leg.dialog.local_tag,
                         headers=[("Contact", new_leg.me.contact()), ("Allow", ALLOW)])
    set_sdp(resp, sdp)
    new_leg.ok = resp  # the call is answering again until this leg's ACK
    sessiontimers.uas_leg(sw, new_leg)
    sessiontimers.sending_2xx(sw, call, new_leg, resp, now)
    sw._txn.send_response(ev.txn_id, resp, now)
    sw._arm_2xx_retx(call, now)
    cm.connect()
    sw._bye(old_dialog, old_me, now)
    log.info("call_replaced", call_id=call.key, by=caller)
    return True


# -- roles ----------------------------------------------------------------------------------
def swap_roles(sw: B2bua, call: Call) -> None:
    """The caller's leg and the answered leg trade roles (an answered call only), so the
    transfer code deals with the transferor, or the replaced leg, in one known role.  The
    legs keep their ids, dialogs and state; the media ends follow the roles."""
    b, cm = call.answered_id, call.media
    assert b is not None and call.phase is not Phase.RINGING
    call.caller_id, call.answered_id = b, call.caller_id
    if call.queue_agent is None:  # who is in the caller's role is the caller (caller id, rights)
        call.caller, call.callee = call.callee, call.caller
    if cm is not None:
        _swap(cm.legs)
        _swap(cm.offers)
        _swap(cm.our_offers)
        _swap(cm.held)


def _swap(d: dict[str, T]) -> None:
    va, vb = d.pop("a", None), d.pop("b", None)
    if vb is not None:
        d["a"] = vb
    if va is not None:
        d["b"] = va
