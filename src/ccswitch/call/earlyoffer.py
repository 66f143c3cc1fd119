"""Offer/answer before the call is answered (pure): SDP in PRACKs (RFC 3262 §5) and UPDATE in
the early dialog (RFC 3311), on both legs of a ringing call.

Each leg's offer/answer state is the RFC 3264 one of ``sdp/negotiator.py`` (Idle, OfferSent,
OfferReceived, Stable), kept per leg in :class:`EarlySdp` and moved by what crosses the
B2BUA before the 2xx:

* the INVITE: the caller's leg starts in OfferReceived when its INVITE has SDP (Idle without);
  a fork in OfferSent when ours has (Idle without);
* a *reliable* provisional with SDP completes the INVITE's exchange (an unreliable one is
  only a preview, RFC 3261 §13.2.1): from a callee, its answer (Stable) or, to our INVITE
  without SDP, its offer (OfferReceived, answered in our PRACK); to the caller, our answer
  (Stable) or our offer (OfferSent, answered in its PRACK);
* a later offer in an UPDATE from either leg, or in the caller's PRACK, is answered by the
  switch itself from that leg's own port (``CallMedia.answer_early``): that leg's media is
  reconfigured (a carrier moving its early media, changing codec), the other leg is not
  asked, it keeps sending to the same port of ours.  Glare answers as RFC 3311 §5.2 says:
  491 while our offer to that leg waits for its answer, 500 with a random Retry-After
  (0 to 10 s) while its offer waits for ours (or nothing was offered yet); 488 for an offer we
  cannot take.  An UPDATE without SDP (a target refresh) is answered 200.

A callee's offer in a reliable provisional (our INVITE had no SDP, the caller's neither) is
relayed to the caller in a reliable provisional when the caller takes 100rel: our PRACK to
the callee waits for the caller's PRACK and carries the answer it brings (each leg's exchange
is completed by its own peer, as for a delayed-offer 2xx and its ACK).  One offer at a time
goes to the caller, while its exchange is idle (RFC 3262 §5): another fork's offer, or one to
a caller without 100rel (it cannot answer before its 2xx), is answered by the switch itself
in the PRACK; so is a waiting fork's when the caller's PRACK brings no answer.

Each completed early exchange is recorded on the leg's session timer (the SDP we sent, the
``o=`` line we heard), so refreshes after it repeat the current SDP (RFC 3264 §8).  A fork's
early UPDATEs are CSeq-checked per early dialog (per remote tag).

When the answering fork completed its exchange before its 2xx, SDP in that 2xx is a repeat
(RFC 3261 §13.2.1, RFC 6337 §3.1): the media stay as the early exchanges left them (a
carrier's UPDATE is not undone by its 2xx repeating its 183) and the caller's 2xx repeats the
SDP its leg last got (our answer, or our offer to a caller whose INVITE had none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..errors import SipParseError
from ..sdp.negotiator import NotAcceptable
from ..sdp.negotiator import OfferAnswerState as St
from ..sip.message import Request, Response, make_response
from ..sip.prack import RAck, rseq_of, wants_reliable
from ..sip.transaction import RequestReceived
from .state import Call, Leg, LegId, Phase, set_sdp

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

RETRY_AFTER_MAX = 10  # RFC 3311 §5.2: "between 0 and 10 seconds"


def state_of(call: Call, leg: Leg) -> St:
    """``leg``'s offer/answer state in the early dialog (its INVITE's, until moved)."""
    got = call.early.states.get(leg.id)
    if got is not None:
        return got
    if leg.incoming:
        return St.OFFER_RECEIVED if leg.invite.body else St.IDLE
    return St.OFFER_SENT if leg.invite.body else St.IDLE


def _set(call: Call, leg: Leg, st: St) -> None:
    call.early.states[leg.id] = st


def _exchanged(leg: Leg, sent: bytes | None, heard: bytes | None) -> None:
    """An early exchange on ``leg`` completed: its session timer keeps the SDP we sent (a
    re-INVITE refresh repeats it, RFC 3264 §8) and the ``o=`` line of what its peer sent
    (a request repeating it is a refresh)."""
    s = leg.session
    if s is None:
        return
    if sent:
        s.sdp = sent
    if heard:
        s.heard(heard)


# -- what crosses the B2BUA before the 2xx ------------------------------------------------------
def callee_provisional(call: Call, br: Leg, resp: Response) -> None:
    """A fork's provisional: a reliable one with SDP completes (or, our INVITE without SDP,
    opens) the fork's INVITE exchange."""
    if not resp.body or rseq_of(resp) is None:
        return
    st = state_of(call, br)
    if st is St.OFFER_SENT:
        _set(call, br, St.STABLE)
        _exchanged(br, None, resp.body)
    elif st is St.IDLE:
        _set(call, br, St.OFFER_RECEIVED)


def caller_provisional(call: Call, resp: Response) -> None:
    """We send the caller a reliable provisional with SDP (called once it is stamped)."""
    a = call.caller_leg
    st = state_of(call, a)
    if st is St.OFFER_RECEIVED:
        _set(call, a, St.STABLE)
    elif st is St.IDLE:
        _set(call, a, St.OFFER_SENT)
        call.early.offer_to_caller = resp


def may_offer_to_caller(call: Call) -> bool:
    """A callee's offer may go to the caller in a reliable provisional: a PRACK waits for
    its answer and the caller's early exchange is idle (else the offer is dropped from a
    provisional that must be reliable)."""
    return bool(call.early.held_pracks) and state_of(call, call.caller_leg) is St.IDLE


def _caller_may_answer(call: Call) -> bool:
    """A callee's offer may wait for the caller's answer: the caller takes 100rel and its
    early exchange is idle with none waiting yet (one offer at a time, RFC 3262 §5)."""
    a = call.caller_leg
    return call.phase is Phase.RINGING and not a.invite.body and not call.early.held_pracks \
        and state_of(call, a) is St.IDLE \
        and wants_reliable(a.invite, mode=call.prack_mode, with_sdp=True)


def our_prack(sw: B2bua, br: Leg, resp: Response, prack: Request) -> bool:
    """Our PRACK for fork ``br``'s reliable provisional ``resp``: True when it may go now.
    An offer in ``resp`` (our INVITE had no SDP) is answered in the PRACK: by the caller
    (the PRACK waits for its own) when it takes 100rel and has no other offer to answer,
    else by us."""
    call = sw._clients.get(br.txn_id)
    cm = call.media if call is not None else None
    if call is None or cm is None or not resp.body or br.invite.body \
            or state_of(call, br) is not St.IDLE:
        return True
    if _caller_may_answer(call):
        call.early.held_pracks[br.id] = prack
        call.early.held_offers[br.id] = resp.body
        return False
    _answer_locally(call, br, prack, resp.body)
    return True


def _answer_locally(call: Call, br: Leg, prack: Request, offer: bytes) -> None:
    """Fork ``br``'s offer answered by us in our PRACK (the caller cannot answer it)."""
    cm = call.media
    assert cm is not None
    sdp = cm.answer_locally("b", offer)
    if isinstance(sdp, NotAcceptable):
        log.info("early_offer_refused", call_id=call.key, reason=sdp.reason)
        return  # the provisional is acknowledged; its 2xx will be refused
    set_sdp(prack, sdp)
    _set(call, br, St.STABLE)
    _exchanged(br, sdp, offer)


def answer_sdp(call: Call, br: Leg) -> bytes | None:
    """The SDP for the caller's 2xx when the answering fork completed its exchange before
    it: the SDP the caller's leg last got, repeated (the 2xx's own SDP is a repeat too and
    is not applied again); None: the 2xx's SDP is relayed as usual."""
    cm = call.media
    if cm is None or state_of(call, br) is not St.STABLE:
        return None
    last = cm.legs["a"].last_sent if "a" in cm.legs else None
    return last.to_bytes() if last is not None else None


# -- requests in the early dialog ---------------------------------------------------------------
def in_early_dialog(sw: B2bua, call: Call, leg_id: LegId, ev: RequestReceived,
                    now: float) -> bool:
    """An UPDATE from the caller or a ringing fork before the call is answered (True: it was
    answered here).  Anything else is left to the B2BUA."""
    req = ev.request
    if req.method != "UPDATE" or call.phase is not Phase.RINGING or call.media is None:
        return False
    leg = call.legs.get(leg_id)
    if leg is None:
        return False
    if not leg.incoming and (not leg.early or leg.final is not None):
        return False
    dialog = leg.dialog
    if not _in_order(call, leg, req):
        sw._reply(ev, 500, "Out of Order CSeq", now, (("Retry-After", "1"),))
        return True
    dialog.update_target(req)  # UPDATE is a target refresh (RFC 3311 §5.2)
    status, reason, extra, sdp = offer_received(sw, call, leg, req.body)
    resp = make_response(req, status, reason,
                         headers=(("Contact", leg.me.contact()), *extra) if status < 300
                         else extra)
    if sdp is not None:
        set_sdp(resp, sdp)
    sw._txn.send_response(ev.txn_id, resp, now)
    return True


def _in_order(call: Call, leg: Leg, req: Request) -> bool:
    """Whether ``req``'s CSeq is above the last one its early dialog sent (recorded).  The
    caller's leg is one dialog; a fork's has one early dialog per remote tag (a forking
    proxy's 18x with several To-tags), each with its own CSeq space."""
    seq = req.cseq.seq
    if leg.incoming:
        d = leg.dialog
        if d.remote_seq is not None and seq <= d.remote_seq:
            return False
        d.remote_seq = seq
        return True
    key = (leg.id, req.from_.tag or "")
    last = call.early.remote_seqs.get(key)
    if last is not None and seq <= last:
        return False
    call.early.remote_seqs[key] = seq
    return True


def confirmed(call: Call, br: Leg) -> None:
    """Fork ``br`` answered: its dialog's remote CSeq is its answering early dialog's."""
    last = call.early.remote_seqs.get((br.id, br.dialog.remote.tag or ""))
    if last is not None and (br.dialog.remote_seq is None or last > br.dialog.remote_seq):
        br.dialog.remote_seq = last


def caller_prack(sw: B2bua, call: Call, leg: Leg, req: Request, now: float,
                 ) -> tuple[int, str, tuple[tuple[str, str], ...], bytes | None]:
    """The caller's accepted PRACK carries SDP: the answer to our offer (relayed to the fork
    whose PRACK waits for it) or a new offer (answered here).  The 200 (or failure) to send."""
    cm = call.media
    if cm is None or not leg.incoming:
        return 200, "OK", (), None
    if not req.body:
        if state_of(call, leg) is St.OFFER_SENT and _acks_our_offer(call, req):
            # RFC 3262 §5 wants the answer in this PRACK: the forks get ours instead
            log.info("early_answer_missing", call_id=call.key)
            _answer_held_locally(call)
            release_pracks(sw, call, now)
        return 200, "OK", (), None
    if state_of(call, leg) is St.OFFER_SENT:
        _answer_to_caller_offer(sw, call, leg, req.body)
        release_pracks(sw, call, now)
        return 200, "OK", (), None
    return offer_received(sw, call, leg, req.body)


def _acks_our_offer(call: Call, req: Request) -> bool:
    """Whether the caller's PRACK ``req`` acknowledges the provisional with our offer (not
    an earlier one: the offer's provisional may still wait its turn)."""
    offer = call.early.offer_to_caller
    rseq = rseq_of(offer) if offer is not None else None
    try:
        rack = RAck.parse(req.headers.get("rack") or "")
    except SipParseError:
        return False
    return rseq is not None and rack.rseq == rseq


def _answer_held_locally(call: Call) -> None:
    """The caller did not answer: each waiting fork's offer is answered by us."""
    for fid, prack in call.early.held_pracks.items():
        br = call.legs.get(fid)
        offer = call.early.held_offers.get(fid)
        if br is not None and offer and state_of(call, br) is St.OFFER_RECEIVED:
            _answer_locally(call, br, prack, offer)


def release_pracks(sw: B2bua, call: Call, now: float) -> None:
    """Send our PRACKs that waited for the caller's (it came, or the call moved on)."""
    for fid, prack in list(call.early.held_pracks.items()):
        del call.early.held_pracks[fid]
        call.early.held_offers.pop(fid, None)
        br = call.legs.get(fid)
        if br is not None:
            sw._txn.send_request(prack, br.dialog.peer, now)
            sw.reliable.counters["pracks_sent"] += 1


def offer_received(sw: B2bua, call: Call, leg: Leg, body: bytes,
                   ) -> tuple[int, str, tuple[tuple[str, str], ...], bytes | None]:
    """An offer (or none) from ``leg`` in the early dialog: status, reason, headers and the
    SDP of our answer."""
    if not body:
        return 200, "OK", (), None
    counters, st = sw.reliable.counters, state_of(call, leg)
    if st is St.OFFER_SENT:
        counters["early_glare"] += 1
        return 491, "Request Pending", (), None
    if st is not St.STABLE:
        counters["early_offer_pending"] += 1
        return 500, "Offer Pending", \
            (("Retry-After", str(sw._ids.below(RETRY_AFTER_MAX + 1))),), None
    cm = call.media
    assert cm is not None
    side = call.end(leg.id)
    sdp = cm.answer_early(side, body)
    if isinstance(sdp, NotAcceptable):
        counters["early_offers_refused"] += 1
        log.info("early_offer_refused", call_id=call.key, leg=side, reason=sdp.reason)
        return 488, "Not Acceptable Here", \
            (("Warning", f'304 ccswitch "{sdp.reason}"'),), None
    counters["early_offers_answered"] += 1
    _exchanged(leg, sdp, body)
    log.info("early_offer_answered", call_id=call.key, leg=side,
             media_leg=cm.legs[side].leg, port=cm.legs[side].port)
    return 200, "OK", (), sdp


def _answer_to_caller_offer(sw: B2bua, call: Call, a: Leg, body: bytes) -> None:
    """The caller answered (in its PRACK) the callee's offer we relayed: our answer goes to
    each fork in its waiting PRACK."""
    cm = call.media
    assert cm is not None
    _set(call, a, St.STABLE)
    sdp = cm.answer_from("a", body)
    if isinstance(sdp, NotAcceptable):
        log.warning("early_answer_refused", call_id=call.key, reason=sdp.reason)
        _answer_held_locally(call)
        return
    _exchanged(a, None, body)
    for fid, prack in call.early.held_pracks.items():
        br = call.legs.get(fid)
        if br is not None and state_of(call, br) is St.OFFER_RECEIVED:
            set_sdp(prack, sdp)
            _set(call, br, St.STABLE)
            _exchanged(br, sdp, call.early.held_offers.get(fid))
            sw.reliable.counters["early_offers_relayed"] += 1
