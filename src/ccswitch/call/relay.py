"""In-dialog requests relayed between the two sides of a call (pure).

A re-INVITE, UPDATE, INFO, NOTIFY, MESSAGE or OPTIONS from one side of a two-party call goes to
the other side in its dialog; an offer's SDP is rewritten for our ports (``CallMedia``), the
answer comes back the same way, and a 2xx to a re-INVITE is ACKed by us and retransmitted to
the sender until its ACK (§13.3.1.4).  A re-INVITE without SDP keeps its ACK until the sender's
ACK brings the answer (delayed offer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..media.dtmf import DtmfError, parse_info_dtmf
from ..sdp.negotiator import NotAcceptable
from ..sip.dialog import Dialog
from ..sip.message import Request, Response, make_response
from ..sip.transaction import RequestReceived, TransactionError
from .hold import hold_changed
from .state import Call, CallState, Relay, set_sdp

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


def relay_request(sw: B2bua, call: Call, leg: str, dialog: Dialog, ev: RequestReceived,
                  now: float) -> None:
    """Relay an in-dialog request from side ``leg`` to the other side of a two-party
    call (the SDP of an offer rewritten for our ports; hold starts the music)."""
    req, b = ev.request, call.b
    assert b is not None  # an answered two-party call (in_dialog checked it)
    if req.method in ("INVITE", "UPDATE"):
        dialog.update_target(req)
    elif req.method == "INFO" and req.body:
        _log_info_digit(call, leg, req)
    other = b.dialog if leg == "a" else call.a.dialog
    me = b.me if leg == "a" else call.a.me
    extra = [(n, v) for n, v in req.headers.items()
             if n.lower() in ("event", "subscription-state", "info-package", "allow",
                              "supported", "session-expires")]
    body, ctype = req.body, req.headers.get("content-type")
    if call.media is not None and req.method in ("INVITE", "UPDATE") and body:
        offer = call.media.offer_from(leg, body)
        if isinstance(offer, NotAcceptable):
            sw._reply(ev, 488, "Not Acceptable Here", now,
                      (("Warning", f'304 ccswitch "{offer.reason}"'),))
            return
        hold_changed(sw, call, leg)
        body, ctype = offer, "application/sdp"
    out = other.request(req.method, me=me, branch=sw._ids.branch(), body=body,
                        content_type=ctype, extra=extra)
    tid = sw._txn.send_request(out, other.peer, now)
    sw._relays[tid] = Relay(call, ev.txn_id, "b" if leg == "a" else "a", req.method, out,
                            delayed_ack=req.method == "INVITE" and not req.body)


def relay_response(sw: B2bua, relay: Relay, resp: Response, now: float, tid: str) -> None:
    """The answer to a relayed request: ACK a 2xx to a re-INVITE, answer the sender."""
    call = relay.call
    if relay.method == "BYE":
        return
    if resp.status < 200:
        return
    if relay.method == "INVITE" and resp.status < 300:
        to_dialog = call.b.dialog if relay.to_leg == "b" and call.b else call.a.dialog
        to_dialog.update_target(resp)
        me = call.b.me if relay.to_leg == "b" and call.b else call.a.me
        ack = to_dialog.request("ACK", me=me, branch=sw._ids.branch(),
                                cseq=relay.request.cseq.seq)
        if call.state is CallState.ENDED:  # a 2xx after the call ended is ACKed (§13.2.2.4)
            sw._txn.send_stateless(ack, to_dialog.peer)
            return
        if relay.delayed_ack and relay.to_leg == "b":
            call.pending_b_ack = ack
        elif relay.delayed_ack:
            call.pending_a_ack = ack
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
    """Answer the relayed request on the side it came from."""
    call = relay.call
    from_leg = "a" if relay.to_leg == "b" else "b"
    from_dialog = call.a.dialog if from_leg == "a" else (call.b.dialog if call.b else None)
    if from_dialog is None:
        return
    try:
        req = sw._txn.request_of(relay.server_txn)
    except TransactionError:
        return
    extra: list[tuple[str, str]] = []
    if relay.method in ("INVITE", "UPDATE") and status < 300:
        me = call.a.me if from_leg == "a" else (call.b.me if call.b else call.a.me)
        extra.append(("Contact", me.contact()))
    resp = make_response(req, status, reason, headers=extra)
    cm = call.media
    if cm is None or relay.method not in ("INVITE", "UPDATE"):
        copy_body(source, resp)
    elif status >= 300:
        cm.rollback(from_leg)
    elif source is not None and source.body and status >= 200:
        sdp = (cm.offer_from(relay.to_leg, source.body) if relay.delayed_ack
               else cm.answer_from(relay.to_leg, source.body))
        if isinstance(sdp, NotAcceptable):
            log.warning("relayed_sdp_refused", call_id=call.key, reason=sdp.reason)
        else:
            set_sdp(resp, sdp)
    try:
        sw._txn.send_response(relay.server_txn, resp, now)
    except TransactionError:
        log.debug("relay_answer_late", call_id=call.key, status=status)
        return
    if relay.method == "INVITE" and 200 <= status < 300:
        sw.retransmit_until_ack(call, from_leg, resp, now)


def resend_reinvite_2xx(sw: B2bua, call: Call, leg: str, now: float) -> None:
    """The re-INVITE 2xx timer: resend, or end the call after 64*T1 without ACK."""
    pending = call.unacked.get(leg)
    dialog = call.a.dialog if leg == "a" else (call.b.dialog if call.b else None)
    if pending is None or dialog is None or call.state is CallState.ENDED:
        return
    if now >= pending.deadline:  # §13.3.1.4: no ACK within 64*T1 ends the session
        log.warning("reinvite_ack_timeout", call_id=call.key, leg=leg)
        del call.unacked[leg]
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
    if ack is call.pending_a_ack or ack is call.pending_b_ack:
        return  # still waiting for the answer it must carry
    if relay.to_leg == "b" and call.b is not None:
        sw._txn.send_stateless(ack, call.b.dialog.peer)
    elif relay.to_leg == "a":
        sw._txn.send_stateless(ack, call.a.dialog.peer)


def copy_body(source: Request | Response | None, dest: Request | Response) -> None:
    """Carry ``source``'s body and its Content-Type over to ``dest`` (no-op without a body)."""
    if source is None or not source.body:
        return
    dest.body = source.body
    ctype = source.headers.get("content-type")
    if ctype:
        dest.headers.set("Content-Type", ctype)


def _log_info_digit(call: Call, leg: str, req: Request) -> None:
    """A key sent by SIP INFO on a relayed call joins the leg's digit stream (the log)."""
    try:
        digit = parse_info_dtmf(req.headers.get("content-type") or "", req.body)
    except DtmfError:
        return
    media_leg = call.media.legs.get(leg) if call.media is not None else None
    log.info("digit", call_id=call.key, leg=media_leg.leg if media_leg else leg,
             key=digit.key, method="info")


def release_held_ack(sw: B2bua, call: Call, leg: str, req: Request) -> None:
    """An ACK held for the other side (delayed offer) goes on with this ACK's answer."""
    held = call.pending_b_ack if leg == "a" else call.pending_a_ack
    if held is None or call.b is None:
        return
    cm = call.media
    if cm is None:
        copy_body(req, held)
    elif req.body:
        sdp = cm.answer_from(leg, req.body)
        if isinstance(sdp, NotAcceptable):
            log.warning("ack_sdp_refused", call_id=call.key, reason=sdp.reason)
        else:
            set_sdp(held, sdp)
    if leg == "a":
        call.pending_b_ack = None
        sw._txn.send_stateless(held, call.b.dialog.peer)
    else:
        call.pending_a_ack = None
        sw._txn.send_stateless(held, call.a.dialog.peer)
