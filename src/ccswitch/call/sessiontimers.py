"""Session timers (RFC 4028) on the legs of B2BUA calls (pure; the rules are
``sip/session_timer.py``).

Each leg negotiates its own timer: the caller's leg when its INVITE comes (``Signaling``
stashes the answer in ``B2bua.timer_offers`` by transaction; the headers go on our 2xx and the
timer starts with it), our INVITE's legs from their 2xx, and either again on every refresh
(re-INVITE or UPDATE) that leg sends or that we relay to it.  When a leg's timer fires, we
refresh it (UPDATE when the peer allows it, else a re-INVITE with the SDP we last sent on the
leg, unchanged) or, as refreshee, end the call (``session_expired``: BYE to both legs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..sip.message import Request, Response
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
    offer_headers,
    retry_after_422,
)
from ..sip.transaction import RequestReceived
from .state import Call, Leg, LegId, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

RETRY_491 = 2.0
"""Seconds before a refresh answered 491 (a glare with a relayed re-INVITE) is tried again."""


def _key(call: Call, leg: LegId) -> tuple[str, str]:
    return (f"st-{leg}", call.key)


def arm(sw: B2bua, call: Call, leg: Leg) -> None:
    """(Re)arm ``leg``'s timer, or disarm it when the leg has none."""
    s = leg.session
    if s is None or s.timer is None:
        sw._timers.cancel(_key(call, leg.id))
    else:
        sw._timers.arm(_key(call, leg.id), s.timer.deadline)


def disarm_all(sw: B2bua, call: Call) -> None:
    for lg in call.legs.values():
        if lg.session is not None:
            sw._timers.cancel(_key(call, lg.id))


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
    with 400 or 422; the request goes no further)."""
    lg = call.legs.get(leg)
    s = lg.session if lg is not None else None
    if lg is None or s is None or ev.request.method not in ("INVITE", "UPDATE"):
        return False
    try:
        n = answer_request(s.policy, ev.request.headers)
    except BadHeader as err:
        sw._reply(ev, 400, str(err), now)
        return True
    if isinstance(n, TooSmall):
        sw._reply(ev, n.status, n.reason, now, n.headers)
        return True
    s.negotiated(n, now)
    arm(sw, call, lg)
    return False


def answer_headers(lg: Leg | None, resp: Response) -> None:
    """Our 2xx to ``lg``'s refresh carries the timer we run for it (and its SDP is kept)."""
    s = lg.session if lg is not None else None
    if s is None:
        return
    for name, value in s.answer:
        resp.headers.add(name, value)
    if resp.body:
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
    """A request we relay to ``lg``: our side of its timer, and the SDP kept."""
    s = lg.session
    if s is None:
        return
    if out.body and out.method == "INVITE":
        s.sdp = out.body
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
    try:
        n = answer_2xx(s.policy, resp.headers)
    except BadHeader:
        n = None
    s.negotiated(n, now)
    arm(sw, call, lg)


# -- the timer ------------------------------------------------------------------------------
def fire(sw: B2bua, call: Call, leg: LegId, now: float) -> None:
    """``leg``'s timer is due: refresh it, or end the call."""
    lg = call.legs.get(leg)
    s = lg.session if lg is not None else None
    if lg is None or s is None or s.timer is None or call.phase is Phase.ENDED:
        return
    if s.timer.we_refresh:
        _refresh(sw, call, lg, s.timer.interval, now)
        return
    log.warning("session_expired", call_id=call.key, leg=call.end(leg),
                interval=s.timer.interval)
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
    sw.refreshes[tid] = (call, lg.id, req)
    log.debug("session_refresh", call_id=call.key, leg=call.end(lg.id), method=method)


def on_response(sw: B2bua, tid: str, resp: Response, now: float) -> bool:
    """A response to one of our refreshes (False: not one)."""
    got = sw.refreshes.get(tid)
    if got is None:
        return False
    if resp.status < 200:
        return True
    del sw.refreshes[tid]
    call, leg, req = got
    lg = call.legs.get(leg)
    if req.method == "INVITE" and resp.status < 300 and lg is not None:
        ack = lg.dialog.request("ACK", me=lg.me, branch=sw._ids.branch(), cseq=req.cseq.seq)
        sw._txn.send_stateless(ack, lg.dialog.peer)
    s = lg.session if lg is not None else None
    if lg is None or s is None or call.phase is Phase.ENDED:
        return True
    status = resp.status
    if status < 300:
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
    call, leg, _ = got
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
