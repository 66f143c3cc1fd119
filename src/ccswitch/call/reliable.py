"""100rel in calls (RFC 3262, pure): reliable provisionals to callers, PRACKs to callees.

* **To the caller** (we are its UAS): every response to a caller's INVITE goes through
  :meth:`Reliability.to_caller`.  A provisional goes reliably when ``sip/prack.wants_reliable``
  says so for the call's mode (a trunk's ``100rel``; ``supported`` for phones): the caller's
  INVITE requires 100rel, or supports it and the provisional carries SDP (early media) or the
  trunk is ``required`` (SDP that would be an offer, to a caller whose INVITE had none, goes
  reliably only when our PRACK to the callee waits for its answer: ``call/earlyoffer.py``).
  The caller's PRACK is answered here (200, or 481 when it names nothing unacknowledged; SDP
  in it goes to ``earlyoffer.caller_prack``); a 2xx waits for the PRACK of a provisional with
  SDP; 64·T1 without PRACK refuses the INVITE with 504 and ends the call (``prack_timeout``
  logged).
* **From the callee** (we are its UAC): :meth:`Reliability.from_callee` PRACKs each new
  reliable provisional of a fork in its early dialog (Contact and Record-Route of the
  provisional, CSeq + 1 in the fork's dialog; one whose provisional offers SDP carries the
  answer, ``earlyoffer.our_prack``) and tells the fork code to ignore a retransmitted or
  out-of-order one.  Trunk legs announce ``Supported: 100rel`` (or
  ``Require``) as the trunk's ``100rel`` says (``call/trunklegs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from ..clock import TimerHeap
from ..errors import SipParseError
from ..sip.dialog import Dialog
from ..sip.message import Response, make_response
from ..sip.prack import (
    GIVE_UP_STATUS,
    Heard,
    Mode,
    ProvisionalAcks,
    RAck,
    ReliableProvisionals,
    rack_for,
    wants_reliable,
)
from ..sip.transaction import RequestReceived
from . import earlyoffer
from .state import Call, Leg, set_sdp

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


@dataclass(slots=True)
class _Caller:
    call: Call
    rel: ReliableProvisionals


class Reliability:
    """Reliable provisionals of the B2BUA's calls, both ways (one per process)."""

    def __init__(self, sw: B2bua) -> None:
        self.sw = sw
        self.modes: dict[str, Mode] = {}  # a trunk's INVITE txn -> its 100rel, until its call
        self._callers: dict[str, _Caller] = {}  # caller's INVITE txn -> its provisionals
        self._callees: dict[str, ProvisionalAcks] = {}  # our INVITE txn -> what we PRACKed
        self._timers: TimerHeap[str] = TimerHeap()
        self.counters: dict[str, int] = dict.fromkeys(
            ("reliable_sent", "retransmitted", "pracks_answered", "pracks_refused",
             "prack_timeouts", "pracks_sent", "provisionals_ignored", "offers_dropped",
             # offer/answer before the 2xx (call/earlyoffer.py)
             "early_offers_answered", "early_offers_relayed", "early_offers_refused",
             "early_glare", "early_offer_pending"), 0)

    # -- UAS: the caller's INVITE -----------------------------------------------------------
    def to_caller(self, call: Call, resp: Response, now: float) -> None:
        """Send ``resp`` on the caller's INVITE (reliably when 100rel applies)."""
        a = call.caller_leg
        entry = self._callers.get(a.txn_id)
        provisional = resp.status < 200
        # SDP in a provisional to a caller whose INVITE had none is an offer: its answer
        # comes in the PRACK, relayed only to a callee whose PRACK waits for it (the
        # callee's own offer); else such early media goes unreliably as before, and a
        # provisional that must be reliable goes without it
        offer = provisional and bool(resp.body) and not a.invite.body
        relayed = offer and earlyoffer.may_offer_to_caller(call)  # a PRACK waits for it
        reliable = provisional and wants_reliable(
            a.invite, mode=call.prack_mode, with_sdp=bool(resp.body) and (relayed or not offer))
        if reliable and offer and not relayed:
            resp.body = b""
            resp.headers.remove("content-type")
            self.counters["offers_dropped"] += 1
        if reliable and resp.body:
            earlyoffer.caller_provisional(call, resp)
        if provisional and not reliable:
            entry = None  # an unreliable provisional goes as it is
        elif provisional and entry is None:
            rel = ReliableProvisionals(invite_cseq=a.invite.cseq.seq,
                                       next_rseq=self.sw._ids.rseq(), t1=self.sw._t.t1,
                                       reliable_transport=a.dialog.peer.reliable)
            entry = self._callers[a.txn_id] = _Caller(call, rel)
        if entry is None:
            self.sw._txn.send_response(a.txn_id, resp, now)
            return
        if provisional:
            entry.rel.provisional(resp, now)
        else:
            entry.rel.final(resp, now)
        self._flush(a.txn_id, entry, now)

    def holding(self, call: Call) -> bool:
        """The caller's 2xx waits for a PRACK (the B2BUA does not resend it meanwhile)."""
        entry = self._callers.get(call.caller_leg.txn_id)
        return entry is not None and entry.rel.holding

    def prack(self, call: Call, leg: Leg, ev: RequestReceived, now: float) -> None:
        """The caller's PRACK (in its early or confirmed dialog): 200 or 481 (400: no RAck)."""
        entry = self._callers.get(leg.txn_id) if leg.incoming else None
        try:
            rack = RAck.parse(ev.request.headers.get("rack") or "")
        except SipParseError as err:
            self.sw._reply(ev, err.status, err.reason, now)
            return
        status = entry.rel.prack(rack, now) if entry is not None else 481
        if status == 200:
            self.counters["pracks_answered"] += 1
            # SDP in it: the answer to our offer, or a new offer (call/earlyoffer.py)
            code, reason, extra, sdp = earlyoffer.caller_prack(self.sw, call, leg,
                                                               ev.request, now)
            resp = make_response(ev.request, code, reason, headers=extra)
            if sdp is not None:
                set_sdp(resp, sdp)
            self.sw._txn.send_response(ev.txn_id, resp, now)
        else:
            self.counters["pracks_refused"] += 1
            log.info("prack_refused", call_id=call.key, rack=str(rack))
            self.sw._reply(ev, 481, "Call/Transaction Does Not Exist", now)
        if entry is not None:
            self._flush(leg.txn_id, entry, now)

    def forget(self, call: Call) -> None:
        """``call`` ended: its reliable provisionals and PRACK records go."""
        for tid in call.legs:
            if self._callers.pop(tid, None) is not None:
                self._timers.cancel(tid)
            self._callees.pop(tid, None)

    def _flush(self, tid: str, entry: _Caller, now: float) -> None:
        rel = entry.rel
        for out in rel.outbox():
            self.sw._txn.send_response(tid, out, now)
        for ours, theirs in (("reliable_sent", "sent"), ("retransmitted", "retransmitted")):
            self.counters[ours] += rel.counters[theirs]  # moved over: counted once
            rel.counters[theirs] = 0
        deadline = rel.next_deadline()
        if deadline is None:
            self._timers.cancel(tid)
        else:
            self._timers.arm(tid, deadline)
        if rel.gave_up:
            del self._callers[tid]
            self._timers.cancel(tid)
            self._give_up(entry.call, now)

    def _give_up(self, call: Call, now: float) -> None:
        """64·T1 without the caller's PRACK: 504 to its INVITE, the call ends (RFC 3262 §3)."""
        sw = self.sw
        self.counters["prack_timeouts"] += 1
        log.warning("prack_timeout", call_id=call.key, caller=call.caller)
        status, reason = GIVE_UP_STATUS
        answered = call.answered_leg
        if answered is not None:  # the callee answered while its 2xx waited: hang it up
            sw._bye(answered.dialog, answered.me, now)
        for br in call.forks():
            if br.final is None:
                sw._txn.cancel_request(br.txn_id, now)
        a = call.caller_leg
        a.ok = None
        sw._timers.cancel(("retx", call.key))
        resp = sw.caller_response(call, status, reason)
        sw._txn.send_response(a.txn_id, resp, now)
        sw._end(call, status, reason, now, "switch")

    # -- UAC: our INVITEs ------------------------------------------------------------------
    def from_callee(self, br: Leg, resp: Response, now: float) -> bool:
        """Whether fork ``br``'s provisional ``resp`` is to be processed (a new reliable one
        is PRACKed first); False for a retransmitted or out-of-order reliable provisional."""
        acks = self._callees.get(br.txn_id)
        if acks is None:
            acks = self._callees[br.txn_id] = ProvisionalAcks()
        heard = acks.heard(resp)
        if heard is Heard.UNRELIABLE:
            return True
        if heard is not Heard.NEW:
            self.counters["provisionals_ignored"] += 1
            return False
        self._send_prack(br, resp, now)
        return True

    def _send_prack(self, br: Leg, resp: Response, now: float) -> None:
        """PRACK in the early dialog ``resp`` makes (§4): its Contact as the target, its
        Record-Route reversed as the route set; the CSeq follows the fork's dialog."""
        sw, d = self.sw, br.dialog
        early = Dialog(call_id=d.call_id, local=d.local, remote=resp.to,
                       local_seq=d.local_seq, remote_target=d.remote_target, peer=d.peer,
                       route_set=list(reversed(resp.headers.get_all("record-route"))))
        try:
            early.update_target(resp)
        except SipParseError:  # a broken Contact: the INVITE's target it is
            log.info("prack_bad_contact", call_id=d.call_id)
        prack = early.request("PRACK", me=br.me, branch=sw._ids.branch(),
                              extra=(("RAck", str(rack_for(resp))),))
        d.local_seq = early.local_seq
        if not earlyoffer.our_prack(sw, br, resp, prack):
            return  # it carries the caller's answer to the offer in ``resp``: it waits
        sw._txn.send_request(prack, d.peer, now)
        self.counters["pracks_sent"] += 1

    # -- time ------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        for tid in self._timers.pop_due(now):
            entry = self._callers.get(tid)
            if entry is not None:
                entry.rel.handle_timer(now)
                self._flush(tid, entry, now)
