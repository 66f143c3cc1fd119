"""Session timers (RFC 4028) on the legs of B2BUA calls (pure; the rules are
``sip/session_timer.py``).

Each leg negotiates its own timer: the caller's leg when its INVITE comes (``Signaling``
stashes the answer in ``B2bua.timer_offers`` by transaction; the headers go on our 2xx and the
timer starts with it), our INVITE's legs from their 2xx, and either again on every refresh
(re-INVITE or UPDATE) that leg sends or that we relay to it (the SDP offer of one we
relay becomes the SDP we last sent on the leg when its 2xx comes; no other body does).
A re-INVITE or UPDATE that
changes nothing (``is_refresh``) is answered on its own leg, with the SDP we last sent there,
and never reaches the other leg; one that changes the session is relayed.  When a leg's timer
fires, we refresh it (UPDATE when the peer allows it, else a re-INVITE with the SDP we last
sent on the leg, unchanged) or, as refreshee, end the call (``session_expired``: BYE to both
legs); the answer to our refresh restarts the timer (a 2xx, ACKed, also when it comes again),
is retried once with a larger interval (422) or ends the call (408, 481, no answer).
A refresh that crosses an offer of ours on the leg (our refresh, a relayed re-INVITE or
UPDATE) is answered 491.  A leg that leaves its call (transferor, replaced leg, a leg a
third party takes over) is disarmed: its timer stops and its refresh is forgotten.
A 422 to our INVITE to a phone is retried once with the 422's ``Min-SE`` (``retry_422``; a
trunk's is ``TrunkLegs``').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from ..sip.message import Request, Response, make_response
from ..sip.session_timer import (
    TAG,
    BadHeader,
    LegSession,
    Negotiated,
    TimerPolicy,
    TooSmall,
    allows,
    answer_2xx,
    answer_request,
    is_refresh,
    offer_headers,
    retry_after_422,
)
from ..sip.transaction import RequestReceived
from .state import ALLOW, Call, Leg, LegId, Phase, set_sdp

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

RETRY_491 = 2.0
"""Seconds before a refresh answered 491 (a glare with a relayed re-INVITE) is tried again."""


@dataclass(slots=True)
class Refresh:
    """One of our refreshes (by transaction id in ``B2bua.refreshes``): the call, the leg,
    the request; once a 2xx to a re-INVITE came, our ACK (sent again for each retransmission
    of that 2xx, RFC 3261 §13.2.2.4).  Kept until 64*T1 after its final answer, the leg's
    next refresh, the leg leaving the call or the call's end."""

    call: Call
    leg: LegId
    request: Request
    done: bool = False  # its final answer came
    ack: Request | None = None


def _key(call: Call, leg: LegId) -> tuple[str, str]:
    return (f"st-{leg}", call.key)


def _done_key(call: Call, leg: LegId) -> tuple[str, str]:
    return (f"stdone-{leg}", call.key)


def is_sdp(msg: Request | Response) -> bool:
    """Whether ``msg`` carries an SDP body."""
    ctype = (msg.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return bool(msg.body) and ctype == "application/sdp"


def arm(sw: B2bua, call: Call, leg: Leg) -> None:
    """(Re)arm ``leg``'s timer, or disarm it when the leg has none."""
    s = leg.session
    if s is None or s.timer is None:
        sw._timers.cancel(_key(call, leg.id))
    else:
        sw._timers.arm(_key(call, leg.id), s.timer.deadline)


def disarm(sw: B2bua, call: Call, leg: Leg) -> None:
    """``leg`` leaves ``call`` (or the call ends): its timer stops and its refresh is
    forgotten (a leg moving on into another call is armed there again, ``arm``)."""
    s = leg.session
    if s is None:
        return
    sw._timers.cancel(_key(call, leg.id))
    sw._timers.cancel(_done_key(call, leg.id))
    if s.refresh_txn is not None:
        sw.refreshes.pop(s.refresh_txn, None)
        s.refresh_txn = None


def disarm_all(sw: B2bua, call: Call) -> None:
    for lg in call.legs.values():
        disarm(sw, call, lg)


def forget_done(sw: B2bua, call: Call, leg: LegId) -> None:
    """64*T1 after the final answer to ``leg``'s refresh: no 2xx to ACK comes any more."""
    lg = call.legs.get(leg)
    s = lg.session if lg is not None else None
    if s is None or s.refresh_txn is None:
        return
    got = sw.refreshes.get(s.refresh_txn)
    if got is None or got.done:
        sw.refreshes.pop(s.refresh_txn, None)
        s.refresh_txn = None


# -- as UAS ---------------------------------------------------------------------------------
def offered(policy: TimerPolicy, req: Request) -> Negotiated | TooSmall | None:
    """A new INVITE's timer under ``policy`` (raises ``BadHeader``)."""
    return answer_request(policy, req.headers)


def uas_leg(sw: B2bua, leg: Leg) -> None:
    """The caller's leg of a new call takes the timer ``Signaling`` negotiated for its INVITE."""
    got = sw.timer_offers.pop(leg.txn_id, None)
    if got is None:
        return
    policy, n = got
    leg.session = LegSession(policy, pending=n, update_ok=allows(leg.invite.headers, "UPDATE"))
    leg.session.heard(leg.invite.body)


def sending_2xx(sw: B2bua, call: Call, leg: Leg, resp: Response, now: float) -> None:
    """Our 2xx to ``leg``'s INVITE is about to go: its timer headers on it, the timer runs."""
    s = leg.session
    if s is None:
        return
    if resp.body:
        s.sdp = resp.body
    n, s.pending = s.pending, None
    if n is None:
        return
    for name, value in n.headers:
        resp.headers.add(name, value)
    s.negotiated(n, now)
    arm(sw, call, leg)
    log.info("session_timer", call_id=call.key, leg=call.end(leg.id), interval=n.interval,
             refresher="us" if n.we_refresh else "peer")


def refresh_received(sw: B2bua, call: Call, leg: LegId, ev: RequestReceived,
                     now: float) -> bool:
    """A re-INVITE or UPDATE from ``leg``: its timer negotiated again (True: answered here,
    with 400, 422, 491 or, for a refresh of a leg with a timer that changes nothing, 200; the
    request goes no further)."""
    lg = call.legs.get(leg)
    s = lg.session if lg is not None else None
    req = ev.request
    if lg is None or s is None or req.method not in ("INVITE", "UPDATE"):
        return False
    try:
        n = answer_request(s.policy, req.headers)
    except BadHeader as err:
        sw._reply(ev, 400, str(err), now)
        return True
    if isinstance(n, TooSmall):
        sw._reply(ev, n.status, n.reason, now, n.headers)
        return True
    # a refresh of a leg with a session timer (RFC 4028 §10) that changes nothing
    local = n is not None and _confirmed(call, lg) and \
        is_refresh(req.method, req.body, s.peer_origin) and bool(s.sdp or not req.body)
    if local and (req.method == "INVITE" or req.body) and \
            (_refreshing(sw, s) or _offer_pending(sw, call, lg)):
        # RFC 3261 §14.2, RFC 3311 §5.2: an offer of ours on this dialog is pending
        sw._reply(ev, 491, "Request Pending", now, (("Retry-After", "2"),))
        return True
    s.negotiated(n, now)
    arm(sw, call, lg)
    if not local:
        s.heard(req.body)
        return False
    _answer_refresh(sw, call, lg, ev, now)
    return True


def _confirmed(call: Call, lg: Leg) -> bool:
    """Whether ``lg``'s session is established: the caller's leg of an answered call, or
    a leg of ours answered 2xx."""
    if lg.incoming:
        return call.live
    return lg.final is not None and 200 <= lg.final < 300


def _refreshing(sw: B2bua, s: LegSession) -> bool:
    """Whether our own re-INVITE refresh on the leg is still unanswered."""
    got = sw.refreshes.get(s.refresh_txn) if s.refresh_txn is not None else None
    return got is not None and not got.done and got.request.method == "INVITE"


def _offer_pending(sw: B2bua, call: Call, lg: Leg) -> bool:
    """Whether a re-INVITE (or an UPDATE with SDP) we relayed to ``lg`` is unanswered, or
    its 2xx not yet ACKed (the ACK waits for the other leg's answer)."""
    if lg.held_ack is not None:
        return True
    return any(r.call is call and r.to_leg == lg.id and r.ack is None and
               (r.method == "INVITE" or (r.method == "UPDATE" and bool(r.request.body)))
               for r in sw._relays.values())


def _answer_refresh(sw: B2bua, call: Call, lg: Leg, ev: RequestReceived, now: float) -> None:
    """A refresh from ``lg`` that changes nothing: 200 on that leg with its timer and, when
    it offered SDP, the SDP we last sent there (unchanged); the other leg sees nothing."""
    s = lg.session
    assert s is not None
    req = ev.request
    lg.dialog.update_target(req)
    resp = make_response(req, 200, "OK", headers=(("Contact", lg.me.contact()),
                                                  ("Allow", ALLOW), *s.answer))
    if req.body:
        set_sdp(resp, s.sdp)
    sw._txn.send_response(ev.txn_id, resp, now)
    if req.method == "INVITE":
        sw.retransmit_until_ack(call, lg.id, resp, now)
    log.info("session_refreshed", call_id=call.key, leg=call.end(lg.id), method=req.method,
             interval=s.timer.interval if s.timer is not None else None)


def answer_headers(lg: Leg | None, resp: Response) -> None:
    """Our 2xx to ``lg``'s refresh carries the timer we run for it (and its SDP is kept)."""
    s = lg.session if lg is not None else None
    if s is None:
        return
    for name, value in s.answer:
        resp.headers.add(name, value)
    if is_sdp(resp):
        s.sdp = resp.body


# -- as UAC ---------------------------------------------------------------------------------
def uac_headers(policy: TimerPolicy) -> tuple[tuple[str, str], ...]:
    """Headers of a new INVITE of ours under ``policy``."""
    if not policy.on:
        return ()
    return (("Supported", TAG), *offer_headers(policy))


def uac_leg(leg: Leg, policy: TimerPolicy) -> None:
    """``leg`` is our new INVITE under ``policy``."""
    leg.session = LegSession(policy, asked=policy.expires, sdp=leg.invite.body)


def relayed_to(lg: Leg, out: Request) -> None:
    """A request we relay to ``lg``: our side of its timer (its SDP is kept once answered
    2xx, ``relay_answered``)."""
    s = lg.session
    if s is None:
        return
    if s.timer is not None and out.method in ("INVITE", "UPDATE"):
        for name, value in (("Supported", TAG), *offer_headers(
                s.policy, s.timer.interval, "uac" if s.timer.we_refresh else "uas")):
            out.headers.add(name, value)


def answered(sw: B2bua, call: Call, lg: Leg, resp: Response, now: float) -> None:
    """A 2xx to our INVITE (or to a request relayed to ``lg``): its timer from the answer."""
    s = lg.session
    if s is None:
        return
    s.update_ok = s.update_ok or allows(resp.headers, "UPDATE")
    s.heard(resp.body)
    try:
        n = answer_2xx(s.policy, resp.headers)
    except BadHeader:
        n = None
    s.negotiated(n, now)
    arm(sw, call, lg)


def relay_answered(sw: B2bua, call: Call, lg: Leg, sent: Request, resp: Response,
                   now: float) -> None:
    """A 2xx to the re-INVITE or UPDATE ``sent`` we relayed to ``lg``: its SDP offer, if
    any, is what we last sent on the leg now; its timer from the answer."""
    s = lg.session
    if s is None:
        return
    if is_sdp(sent):
        s.sdp = sent.body
    answered(sw, call, lg, resp, now)


# -- the timer ------------------------------------------------------------------------------
def fire(sw: B2bua, call: Call, leg: LegId, now: float) -> None:
    """``leg``'s timer is due: refresh it, or end the call."""
    lg = call.legs.get(leg)
    s = lg.session if lg is not None else None
    if lg is None or s is None or s.timer is None or call.phase is Phase.ENDED or \
            lg.ended_at is not None:
        return
    if s.timer.we_refresh:
        s.retried = False  # a new refresh: a 422 to it may be retried once
        _refresh(sw, call, lg, s.timer.interval, now)
        return
    log.warning("session_expired", call_id=call.key, leg=call.end(leg),
                interval=s.timer.interval)
    xfer = call.transfer
    if xfer is not None and xfer.leg is lg:  # the transferor's leg only: the call goes on
        from .transfer import release_transferor  # (transfer uses this module)
        release_transferor(sw, call, now)
        return
    sw._hangup_both(call, now)
    sw._end(call, 408, "session_expired", now, "switch")


def _refresh(sw: B2bua, call: Call, lg: Leg, interval: int, now: float,
             min_se: int | None = None) -> None:
    s = lg.session
    assert s is not None
    method = "UPDATE" if s.update_ok else "INVITE"
    body = s.sdp if method == "INVITE" else b""
    req = lg.dialog.request(method, me=lg.me, branch=sw._ids.branch(), body=body,
                            content_type="application/sdp" if body else None,
                            extra=(("Supported", TAG),
                                   *offer_headers(s.policy, interval, "uac", min_se),
                                   ("User-Agent", sw._ua)))
    s.asked = interval
    tid = sw._txn.send_request(req, lg.dialog.peer, now)
    if s.refresh_txn is not None:
        sw.refreshes.pop(s.refresh_txn, None)
    s.refresh_txn = tid
    sw.refreshes[tid] = Refresh(call, lg.id, req)
    log.debug("session_refresh", call_id=call.key, leg=call.end(lg.id), method=method)


def on_response(sw: B2bua, tid: str, resp: Response, now: float) -> bool:
    """A response to one of our refreshes (False: not one)."""
    got = sw.refreshes.get(tid)
    if got is None:
        return False
    if resp.status < 200:
        return True
    call, leg, req = got.call, got.leg, got.request
    lg = call.legs.get(leg)
    if got.done:  # a retransmitted final answer: ACK a 2xx again, nothing more
        if got.ack is not None and resp.status < 300 and lg is not None:
            sw._txn.send_stateless(got.ack, lg.dialog.peer)
        return True
    got.done = True
    sw._timers.arm(_done_key(call, leg), now + 64 * sw._t.t1)
    if req.method == "INVITE" and resp.status < 300 and lg is not None:
        got.ack = lg.dialog.request("ACK", me=lg.me, branch=sw._ids.branch(),
                                    cseq=req.cseq.seq)
        sw._txn.send_stateless(got.ack, lg.dialog.peer)
    s = lg.session if lg is not None else None
    if lg is None or s is None or call.phase is Phase.ENDED:
        return True
    status = resp.status
    if status < 300:
        s.retried = False
        answered(sw, call, lg, resp, now)
    elif status == 422 and not s.retried:
        bigger = retry_after_422(s.policy, s.asked, resp.headers)
        if bigger is not None:
            s.retried = True
            _refresh(sw, call, lg, bigger, now, bigger)
            return True
        _failed(sw, call, lg, status, now)
    elif status == 491:
        sw._timers.arm(_key(call, leg), now + RETRY_491)
    elif req.method == "UPDATE" and status in (405, 501):
        s.update_ok = False
        assert s.timer is not None
        _refresh(sw, call, lg, s.timer.interval, now)
    else:
        _failed(sw, call, lg, status, now)
    return True


def on_timeout(sw: B2bua, tid: str, now: float) -> bool:
    """Our refresh had no answer: the dialog is over (RFC 4028 §10, RFC 3261 §12.2.1.2)."""
    got = sw.refreshes.pop(tid, None)
    if got is None:
        return False
    call, leg = got.call, got.leg
    lg = call.legs.get(leg)
    if lg is not None and call.phase is not Phase.ENDED:
        _failed(sw, call, lg, 408, now)
    return True


def _failed(sw: B2bua, call: Call, lg: Leg, status: int, now: float) -> None:
    """A refresh failed: 408 and 481 end the call; any other failure leaves the session to
    the peer's timer (it stays up while the peer keeps it)."""
    log.warning("session_refresh_failed", call_id=call.key, leg=call.end(lg.id), status=status)
    if status in (408, 481):
        sw._hangup_both(call, now)
        sw._end(call, 408, "session_expired", now, "switch")


# -- a 422 to our INVITE to a phone ----------------------------------------------------------
RETRY_DROPPED = ("via", "cseq", "session-expires", "min-se", "content-length", "content-type",
                 "from", "to", "call-id", "contact", "route", "max-forwards")
"""Headers of the first INVITE that the retry's dialog request makes anew (or changes)."""


def retry_422(sw: B2bua, call: Call, br: Leg, resp: Response | None, now: float) -> bool:
    """RFC 4028 §7.4: a phone (or an agent's phone) answered our INVITE 422: ask again once,
    in the same dialog with the next CSeq, with the 422's ``Min-SE`` as interval and
    ``Min-SE``.  The new INVITE takes the place of ``br`` as the fork ringing the contact
    (same agent, role and party).  False: not retried (no 422 with a larger ``Min-SE``, a
    second 422, a trunk's leg, or the call no longer rings for it)."""
    s = br.session
    if resp is None or resp.status != 422 or s is None or s.retried or br.role == "trunk" or \
            br.cancelled or call.phase is Phase.ENDED or call.answered_id is not None:
        return False
    bigger = retry_after_422(s.policy, s.asked, resp.headers)
    if bigger is None:
        return False
    old = br.invite
    br.final = 422
    br.dialog.remote = old.to  # no To-tag: a new INVITE outside any early dialog
    kept = tuple((n, v) for n, v in old.headers.items() if n.lower() not in RETRY_DROPPED)
    inv = br.dialog.request("INVITE", me=br.me, branch=sw._ids.branch(), body=old.body,
                            content_type=old.headers.get("content-type"),
                            extra=(*kept, *offer_headers(s.policy, bigger, None, bigger)))
    inv.headers.set("Max-Forwards", old.headers.get("max-forwards") or "70")
    assert br.dialog.peer is not None
    txn_id = sw._txn.send_request(inv, br.dialog.peer, now)
    new = Leg(txn_id, inv, br.dialog, br.me, at=now, agent=br.agent, role=br.role,
              party=br.party, dtmf=br.dtmf)
    uac_leg(new, s.policy)
    assert new.session is not None
    new.session.asked, new.session.retried = bigger, True
    call.add(new)
    sw._clients[txn_id] = call
    sw._dialogs[(br.dialog.call_id, br.dialog.local_tag)] = (call, new.id)
    log.info("session_interval_retry", call_id=call.key, leg=br.party or call.callee,
             interval=bigger)
    return True
