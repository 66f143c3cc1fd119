"""In-dialog requests relayed between the two legs of a call (pure).

A re-INVITE, UPDATE, INFO, NOTIFY, MESSAGE or OPTIONS from one leg of a two-party call goes to
its peer in the peer's dialog; an offer's SDP is rewritten for our ports (``CallMedia``), the
answer comes back the same way, and a 2xx to a re-INVITE is ACKed by us and retransmitted to
the sender until its ACK (§13.3.1.4).  A re-INVITE without SDP keeps its ACK until the sender's
ACK brings the answer (delayed offer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..media.dtmf import DtmfError, parse_info_dtmf
from ..sdp.negotiator import NotAcceptable, OfferAnswerState
from ..sip.dialog import Dialog
from ..sip.message import Request, Response, make_response
from ..sip.transaction import RequestReceived, TransactionError
from . import earlyoffer, sessiontimers
from .legevents import HoldChanged
from .state import Call, LegId, Phase, Relay, set_sdp

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


def relay_request(sw: B2bua, call: Call, leg: LegId, dialog: Dialog, ev: RequestReceived,
                  now: float) -> None:
    """Relay an in-dialog request from ``leg`` to its peer in a two-party call (the SDP of
    an offer rewritten for our ports; hold starts the music)."""
    req = ev.request
    to = call.answered_leg if leg == call.caller_id else call.caller_leg
    assert to is not None  # an answered two-party call (in_dialog checked it)
    if req.method in ("INVITE", "UPDATE"):
        dialog.update_target(req)
    elif req.method == "INFO" and req.body:
        _log_info_digit(call, leg, req)
    other, me = to.dialog, to.me
    extra = [(n, v) for n, v in req.headers.items()
             if n.lower() in ("event", "subscription-state", "info-package", "allow",
                              "supported")]
    body, ctype = req.body, req.headers.get("content-type")
    if call.media is not None and req.method in ("INVITE", "UPDATE") and body:
        offer = call.media.offer_from(call.end(leg), body)
        if isinstance(offer, NotAcceptable):
            sw._reply(ev, 488, "Not Acceptable Here", now,
                      (("Warning", f'304 ccswitch "{offer.reason}"'),))
            return
        sw.dispatch(call, HoldChanged(leg), now)
        body, ctype = offer, "application/sdp"
    out = other.request(req.method, me=me, branch=sw._ids.branch(), body=body,
                        content_type=ctype, extra=extra)
    sessiontimers.relayed_to(to, out)
    tid = sw._txn.send_request(out, other.peer, now)
    sw._relays[tid] = Relay(call, ev.txn_id, leg, to.id, req.method, out,
                            delayed_ack=req.method == "INVITE" and not req.body)


def relay_response(sw: B2bua, relay: Relay, resp: Response, now: float, tid: str) -> None:
    """The answer to a relayed request: ACK a 2xx to a re-INVITE, answer the sender."""
    call = relay.call
    if relay.method == "BYE":
        return
    if resp.status < 200:
        return
    target = call.legs.get(relay.to_leg)
    if relay.method in ("INVITE", "UPDATE") and resp.status < 300 and target is not None and \
            call.phase is not Phase.ENDED:
        sessiontimers.relay_answered(sw, call, target, relay.request, resp, now)
    if relay.method == "INVITE" and resp.status < 300:
        to = call.legs.get(relay.to_leg) or call.caller_leg
        to_dialog = to.dialog
        to_dialog.update_target(resp)
        ack = to_dialog.request("ACK", me=to.me, branch=sw._ids.branch(),
                                cseq=relay.request.cseq.seq)
        if call.phase is Phase.ENDED:  # a 2xx after the call ended is ACKed (§13.2.2.4)
            sw._txn.send_stateless(ack, to_dialog.peer)
            return
        if relay.delayed_ack:
            to.held_ack = ack
        else:
            sw._txn.send_stateless(ack, to_dialog.peer)
        relay.ack = ack  # kept (one per call) to ACK retransmissions of this 2xx
        if call.reinvite_txn is not None:
            sw._relays.pop(call.reinvite_txn, None)
        call.reinvite_txn = tid
        sw._relays[tid] = relay
    answer_relay(sw, relay, resp.status, resp.reason, now, resp)


def answer_relay(sw: B2bua, relay: Relay, status: int, reason: str, now: float,
                 source: Response | None = None) -> None:
    """Answer the relayed request on the leg it came from."""
    call = relay.call
    # the leg may have left the call meanwhile (replaced, taken over): its request is still
    # answered, on its own transaction
    from_leg = call.legs.get(relay.from_leg) or call.caller_leg
    try:
        req = sw._txn.request_of(relay.server_txn)
    except TransactionError:
        return
    extra: list[tuple[str, str]] = []
    if relay.method in ("INVITE", "UPDATE") and status < 300:
        extra.append(("Contact", from_leg.me.contact()))
    resp = make_response(req, status, reason, headers=extra)
    cm = call.media
    if cm is None or relay.method not in ("INVITE", "UPDATE"):
        copy_body(source, resp)
    elif status >= 300:
        cm.rollback(call.end(relay.from_leg))
    elif source is not None and source.body and status >= 200:
        to_end = call.end(relay.to_leg)
        sdp = (cm.offer_from(to_end, source.body) if relay.delayed_ack
               else cm.answer_from(to_end, source.body))
        if isinstance(sdp, NotAcceptable):
            log.warning("relayed_sdp_refused", call_id=call.key, reason=sdp.reason)
        else:
            set_sdp(resp, sdp)
    if relay.method in ("INVITE", "UPDATE") and 200 <= status < 300:
        sessiontimers.answer_headers(call.legs.get(relay.from_leg), resp)
    try:
        sw._txn.send_response(relay.server_txn, resp, now)
    except TransactionError:
        log.debug("relay_answer_late", call_id=call.key, status=status)
        return
    if relay.method == "INVITE" and 200 <= status < 300:
        sw.retransmit_until_ack(call, relay.from_leg, resp, now)


def resend_reinvite_2xx(sw: B2bua, call: Call, leg: LegId, now: float) -> None:
    """The re-INVITE 2xx timer: resend, or end the call after 64*T1 without ACK."""
    lg = call.legs.get(leg)
    pending = lg.unacked if lg is not None else None
    if lg is None or pending is None or call.phase is Phase.ENDED:
        return
    dialog = lg.dialog
    if now >= pending.deadline:  # §13.3.1.4: no ACK within 64*T1 ends the session
        log.warning("reinvite_ack_timeout", call_id=call.key, leg=call.end(leg))
        lg.unacked = None
        sw._hangup_both(call, now)
        sw._end(call, 408, "No ACK", now, "switch")
        return
    sw._txn.send_stateless(pending.response, dialog.peer)
    pending.interval = min(pending.interval * 2, sw._t.t2)
    sw._timers.arm((f"re2xx-{leg}", call.key), min(now + pending.interval,
                                                      pending.deadline))


def resend_ack(sw: B2bua, relay: Relay, resp: Response) -> None:
    """A retransmitted 2xx of a relayed re-INVITE: ACK it again (§13.2.2.4)."""
    call, ack = relay.call, relay.ack
    if not 200 <= resp.status < 300 or ack is None:
        return
    if any(lg.held_ack is ack for lg in call.legs.values()):
        return  # still waiting for the answer it must carry
    to = call.legs.get(relay.to_leg)
    if to is not None and relay.to_leg in (call.caller_id, call.answered_id):
        sw._txn.send_stateless(ack, to.dialog.peer)


def copy_body(source: Request | Response | None, dest: Request | Response) -> None:
    """Carry ``source``'s body and its Content-Type over to ``dest`` (no-op without a body)."""
    if source is None or not source.body:
        return
    dest.body = source.body
    ctype = source.headers.get("content-type")
    if ctype:
        dest.headers.set("Content-Type", ctype)


def _log_info_digit(call: Call, leg: LegId, req: Request) -> None:
    """A key sent by SIP INFO on a relayed call joins the leg's digit stream (the log)."""
    try:
        digit = parse_info_dtmf(req.headers.get("content-type") or "", req.body)
    except DtmfError:
        return
    end = call.end(leg)
    media_leg = call.media.legs.get(end) if call.media is not None else None
    log.info("digit", call_id=call.key, leg=media_leg.leg if media_leg else end,
             key=digit.key, method="info")


def release_held_ack(sw: B2bua, call: Call, leg: LegId, req: Request) -> None:
    """An ACK held for the peer (delayed offer) goes on with this ACK's answer."""
    if call.answered_id is None:
        return
    other = call.answered_leg if leg == call.caller_id else call.caller_leg
    held = other.held_ack if other is not None else None
    if held is None or other is None:
        return
    cm = call.media
    if cm is None:
        copy_body(req, held)
    elif req.body:
        sdp = cm.answer_from(call.end(leg), req.body)
        if isinstance(sdp, NotAcceptable):
            log.warning("ack_sdp_refused", call_id=call.key, reason=sdp.reason)
        elif earlyoffer.state_of(call, other) is not OfferAnswerState.STABLE:
            set_sdp(held, sdp)  # (its exchange done before the 2xx: no SDP in its ACK)
    other.held_ack = None
    sw._txn.send_stateless(held, other.dialog.peer)
