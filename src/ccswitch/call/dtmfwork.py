"""DTMF interworking between the two legs of a talking call: RFC 4733 events, SIP INFO
(``application/dtmf-relay``, ``application/dtmf``) and in-band tones (pure).

Each leg has a mode: its trunk's ``dtmf`` (``rfc4733``, ``info``, ``inband``), or ``auto``
(every phone, and a trunk left at ``auto``): RFC 4733 when the leg's SDP negotiated
telephone-event, else in-band.  A digit from one leg reaches the other in the other's mode.
When both modes agree nothing is done here: the media relay carries RFC 4733 packets and
in-band audio as they are and signaling relays INFO, so the per-packet cost stays zero.
Otherwise the switch converts: ``SendDigit`` (the worker generates RFC 4733 events), an INFO
``application/dtmf-relay`` on the other leg's dialog, or the digit's tone played into the other
leg's audio (``PlayTone("dtmf-K")``, mixed).  In-band detection runs only on a leg in in-band
mode whose peer is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..media.commands import Detect, Digit, Play, PlayTone, RelayEvents, SendDigit
from ..media.dtmf import DtmfError, build_dtmf_relay, parse_info_dtmf
from ..sip.message import Response
from ..sip.transaction import RequestReceived
from .state import Call, Leg, LegId, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

def mode(call: Call, lg: Leg) -> str:
    """The mode digits reach ``lg`` in (``auto`` read from its negotiated SDP)."""
    if lg.dtmf != "auto":
        return lg.dtmf
    cm = call.media
    te = cm.te_pt.get(call.end(lg.id)) if cm is not None else None
    return "rfc4733" if te is not None else "inband"


def _talking(call: Call) -> tuple[Leg, Leg] | None:
    """The caller's leg and the answered leg of an anchored two-party call."""
    peer = call.answered_leg
    if call.media is None or call.phase is not Phase.TALKING or peer is None:
        return None
    return call.caller_leg, peer


def on_digit(sw: B2bua, call: Call, ev: Digit, now: float) -> None:
    """A digit the worker found on a media leg of a talking call: to the other leg when it
    wants another mode."""
    legs = _talking(call)
    cm = call.media
    if legs is None or cm is None:
        return
    a, b = legs
    if ev.leg == cm.legs["a"].leg:
        dst = b
    elif "b" in cm.legs and ev.leg == cm.legs["b"].leg:
        dst = a
    else:
        return
    want = mode(call, dst)
    if want != ev.method:
        deliver(sw, call, dst, want, ev.key, now)


def info_received(sw: B2bua, call: Call, leg: LegId, ev: RequestReceived, now: float) -> bool:
    """An INFO from ``leg``: a digit for a peer that takes another mode is answered here and
    converted (True); anything else is relayed as before (False)."""
    req = ev.request
    legs = _talking(call)
    if req.method != "INFO" or not req.body or legs is None:
        return False
    dst = legs[1] if leg == legs[0].id else legs[0] if leg == legs[1].id else None
    if dst is None or mode(call, dst) == "info":
        return False
    try:
        digit = parse_info_dtmf(req.headers.get("content-type") or "", req.body)
    except DtmfError:
        return False
    sw._reply(ev, 200, "OK", now)
    log.info("digit", call_id=call.key, leg=call.end(leg), key=digit.key, method="info")
    deliver(sw, call, dst, mode(call, dst), digit.key, now)
    return True


def deliver(sw: B2bua, call: Call, dst: Leg, want: str, key: str, now: float) -> None:
    """Send ``key`` to leg ``dst`` in mode ``want``."""
    cm = call.media
    assert cm is not None
    media_leg = cm.legs[call.end(dst.id)].leg
    if want == "info":
        req = dst.dialog.request("INFO", me=dst.me, branch=sw._ids.branch(),
                                 body=build_dtmf_relay(key),
                                 content_type="application/dtmf-relay",
                                 extra=(("User-Agent", sw._ua),))
        sw.digit_infos.add(sw._txn.send_request(req, dst.dialog.peer, now))
    elif want == "rfc4733":
        cm.plan.send(cm.worker, SendDigit(media_leg, key))
    else:
        cm.plan.send(cm.worker, Play(media_leg, cm.plan.next_id(), PlayTone(f"dtmf-{key}"),
                                     mix=True))
    log.info("digit_relayed", call_id=call.key, to=call.end(dst.id), key=key, mode=want)


def on_response(sw: B2bua, tid: str, resp: Response) -> bool:
    """The answer to an INFO digit we sent (False: not one); a failure is logged."""
    if tid not in sw.digit_infos:
        return False
    if resp.status >= 200:
        sw.digit_infos.discard(tid)
        if resp.status >= 300:
            log.warning("digit_info_refused", status=resp.status)
    return True


def on_timeout(sw: B2bua, tid: str) -> bool:
    if tid not in sw.digit_infos:
        return False
    sw.digit_infos.discard(tid)
    log.warning("digit_info_timeout")
    return True


def answered(call: Call) -> None:
    """A call starts talking: in-band detection on a leg in in-band mode whose peer is not;
    a leg set to ``info`` or ``inband`` whose SDP has telephone-event anyway is sent no
    RFC 4733 events by the relay (it gets the digit converted, once)."""
    legs = _talking(call)
    cm = call.media
    if legs is None or cm is None:
        return
    a, b = legs
    for src, dst in ((a, b), (b, a)):
        if mode(call, src) == "inband" and mode(call, dst) != "inband":
            cm.plan.send(cm.worker, Detect(cm.legs[call.end(src.id)].leg, inband=True))
        end = call.end(dst.id)
        if dst.dtmf in ("info", "inband") and cm.te_pt.get(end) is not None:
            cm.plan.send(cm.worker, RelayEvents(cm.legs[end].leg, on=False))
