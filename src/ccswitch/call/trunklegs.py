"""Calls to outside numbers: trunk legs, failover between trunks, digest as a client (pure).

A phone that dialled an outside number (``Signaling`` asked the outbound router, which answered
``OutboundCall``) gets a call like any other: its INVITE is the caller's leg, its media is
anchored, and the switch sends one INVITE, the **trunk leg**, to the first trunk of the route.
That leg is an ordinary fork (``call/forks.py``): its provisional, 2xx and failures travel the
same phase table.  What this module adds, through three hooks the fork code calls:

- ``heard``: a provisional (other than 100) or a final answer from the current trunk stops
  its answer timer (the route's ``answer_timeout``);
- ``fork_failed``: a 401/407 is answered once with the trunk's credentials (a new INVITE in
  the same dialog, CSeq + 1); an answer that fails over (no answer, 408, 5xx, the route's
  ``failover_on``) sends a new INVITE to the next trunk; when no trunk is left the caller gets
  the last answer (``final_status``; 403 for a challenge we could not answer), without the
  carrier's headers, and the attempt counts for the burst detector;
- ``ended``: the call is over, its trunk and user counts are released.

The answer timer (:meth:`TrunkLegs.handle_timer`): a trunk that said nothing but 100 within
``answer_timeout`` is CANCELled and counted as "no answer".  A trunk leg that is not the
current one any more (CANCELled, answered by a 401 retried) is ignored when it fails.

A trunk's addresses (:meth:`TrunkLegs.addresses`) are its configured one, or what RFC 3263
found for its domain (``located``, handed in by the shell); no answer or a 503 moves to the
trunk's next address before the route's next trunk.  Each trunk is offered only its
``codecs`` (those the caller offered, in the trunk's order) and sees numbers in its
``number_format``.  :meth:`TrunkLegs.bridge` sends an answered call (an IVR's or a queue's
``number:``, a transfer) on to an outside number the same way; its failure goes back to the
phase table (the flow, the queue or the transferor hears it).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from ..clock import TimerHeap
from ..config.trunks import TrunkConfig
from ..dialplan.fraud import FraudCleared, FraudSuspected
from ..dialplan.numbers import is_e164
from ..dialplan.outbound import (
    Failover,
    OutboundCall,
    OutboundDecision,
    OutboundRefused,
    OutboundRouter,
    fails_over,
    final_status,
)
from ..ids import Ids
from ..sdp.negotiator import NotAcceptable
from ..sip.addr import Address
from ..sip.client_auth import AuthSession, DigestClient
from ..sip.dialog import Dialog, LocalContact
from ..sip.diversion import Diverted, diversion_headers, diverted_from
from ..sip.locate import Located
from ..sip.message import Request, Response
from ..sip.prack import OPTION_TAG
from ..sip.probes import tried_order
from ..sip.session_timer import offer_headers, retry_after_422
from ..sip.transaction import RequestReceived
from ..sip.uri import NameAddr, SipUri
from . import sessiontimers
from .anchor import codecs_fit
from .forks import fork_failed
from .legevents import Failed
from .state import ALLOW, Call, Leg, LegId, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


@dataclass(slots=True)
class Attempt:
    """One outside call: the trunks it may still try and the leg ringing now."""

    caller: str
    number: str  # E.164
    failover: Failover
    answer_timeout: float
    caller_id: str | None
    body: bytes  # the caller's offer (re-offered to each trunk with its codecs)
    ctype: str | None
    max_forwards: int
    leg: LegId = ""
    trunk: str = ""
    target: int = 0  # which of ``dests`` is tried
    dests: tuple[Address, ...] = ()  # the current trunk's addresses, in this call's order
    onward: bool = False  # an answered call sent on (IVR, queue overflow, transfer)
    trusted: bool = False  # a configured action: no user's class, no burst counting
    auth: AuthSession | None = None
    heard: bool = False
    diverted: Diverted | None = None  # the call was forwarded from this number
    tried: list[tuple[str, int | None]] = field(default_factory=list)


def _kept(br: Leg, more: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    """The headers of ``br``'s INVITE that a retry sends again."""
    names = ("allow", "user-agent", "p-asserted-identity", "privacy", *more)
    return tuple((n, v) for n, v in br.invite.headers.items() if n.lower() in names)


class TrunkLegs:
    """Trunk legs of the switch's calls (one per process, next to the B2BUA)."""

    def __init__(self, *, sw: B2bua, trunks: Mapping[str, TrunkConfig], router: OutboundRouter,
                 ids: Ids) -> None:
        self.sw = sw
        self.trunks = dict(trunks)
        self.router = router
        self._ids = ids
        self._clients = {name: DigestClient(user=t.username, password=t.password, ids=ids,
                                            realm=t.realm)
                         for name, t in trunks.items()
                         if t.username is not None and t.password is not None}
        self._attempts: dict[str, Attempt] = {}  # by call key
        self._rng = random.Random(ids.token())  # the weighted SRV order of each call
        self._timers: TimerHeap[str] = TimerHeap()
        self.down: set[str] = set()  # trunks the keep-alive found down
        # each trunk's addresses the keep-alive found down (TrunkDriver's): tried last
        self.down_addresses: dict[str, frozenset[Address]] = {}
        self.located: dict[str, Located] = {}  # domain trunks: what the shell's DNS found
        self.counters: dict[str, int] = {"outbound_calls": 0, "failovers": 0,
                                         "target_failovers": 0, "auth_retries": 0,
                                         "outbound_refused": 0}

    def draw(self, trunk: str) -> tuple[Address, ...]:
        """``trunk``'s addresses in the order one call tries them: a domain's SRV records
        in a weighted order drawn for this call (RFC 2782), else :meth:`addresses`; those
        the keep-alive found down last."""
        found = self.located.get(trunk)
        if self.trunks[trunk].address is None and found is not None:
            order = found.draw(self._rng)
        else:
            order = self.addresses(trunk)
        down = self.down_addresses.get(trunk)
        return tried_order(order, down) if down else order

    def addresses(self, trunk: str) -> tuple[Address, ...]:
        """Where ``trunk``'s requests go, in order: its address, or what RFC 3263 found for
        its domain (nothing before the first lookup answered)."""
        cfg = self.trunks[trunk]
        if cfg.address is not None:
            a = cfg.address
            return (Address(a.transport, a.host, a.port),)
        found = self.located.get(trunk)
        return found.addresses if found is not None else ()

    def unresolved(self) -> set[str]:
        """Domain trunks without any address yet: calls skip them."""
        return {n for n in self.trunks if not self.addresses(n)}

    def active_calls(self, trunk: str) -> int:
        """Outside calls through ``trunk`` now (ringing or talking)."""
        return self.router.policy.calls_of_trunk(trunk)

    # -- deciding ----------------------------------------------------------------------
    def decide(self, *, caller: str | None, dialled: str, now: float,
               unavailable: Collection[str] = (), trusted: bool = False) -> OutboundDecision:
        """The outbound router's decision for ``dialled`` (trunks down left out); refusals
        and the policy's fraud events are logged here."""
        decision = self.router.decide(caller=caller, dialled=dialled, now=now,
                                      unavailable={*self.down, *self.unresolved(),
                                                   *unavailable}, trusted=trusted)
        if isinstance(decision, OutboundRefused):
            self.counters["outbound_refused"] += 1
            log.info("outbound_refused", caller=caller or "", number=decision.number,
                     status=decision.status, why=decision.why)
        self._log_policy_events()
        return decision

    def clear_fraud(self, user: str, now: float) -> bool:
        """An admin lifts ``user``'s toll-fraud block (``fraud_cleared``); False when the
        user was not blocked."""
        cleared = self.router.policy.clear(user, now)
        self._log_policy_events()
        return cleared

    def _log_policy_events(self) -> None:
        for ev in self.router.policy.events():
            if isinstance(ev, FraudSuspected):
                log.warning("fraud_suspected", user=ev.user, attempts=ev.attempts,
                            window=ev.window)
            elif isinstance(ev, FraudCleared):
                log.info("fraud_cleared", user=ev.user)

    # -- placing -----------------------------------------------------------------------
    def start(self, ev: RequestReceived, *, caller: str, decision: OutboundCall,
              now: float, diverted: Diverted | None = None) -> None:
        """A new call from ``caller``'s INVITE in ``ev`` to the outside number of
        ``decision``: anchored like any call, its first trunk leg sent.  ``diverted``: the
        call was forwarded from that number (else a Diversion / History-Info of the INVITE
        that names the caller itself: a phone forwarding its own call); each trunk leg names
        it as the trunk's ``diversion`` says."""
        sw = self.sw
        inv = ev.request
        callee = decision.number
        failover = decision.failover()
        first = failover.current
        misfit = None
        while first is not None and (m := codecs_fit(inv.body, self.trunks[first].codecs)):
            misfit = misfit or m  # transcoding is not a trunk's job: trunks without a
            first = failover.failed(None)  # codec of the caller are skipped
        cm = sw._anchor(ev, ("a", "b"), now, caller=caller, callee=callee,
                        worker=sw._worker_of(caller))
        if cm is False:
            return
        offer: bytes | NotAcceptable | None = misfit if first is None else None
        if first is not None and cm is not None and inv.body:
            offer = cm.offer_from("a", inv.body, only=self.trunks[first].codecs)
        if isinstance(offer, NotAcceptable):
            if cm is not None:
                cm.close()
            sw._reply(ev, 488, "Not Acceptable Here", now,
                      (("Warning", f'304 ccswitch "{offer.reason}"'),))
            sw.refused(ev, 488, "Not Acceptable Here", now, caller=caller,
                       callee=callee, why=f"sdp: {offer.reason}")
            return
        assert first is not None
        call = sw._new_call(ev, caller, callee, now, cm)
        attempt = Attempt(caller=caller, number=callee, failover=failover,
                          answer_timeout=decision.answer_timeout, caller_id=decision.caller_id,
                          body=inv.body,
                          ctype=inv.headers.get("content-type") if inv.body else None,
                          max_forwards=max(inv.max_forwards - 1, 0),
                          diverted=diverted if diverted is not None else _own(inv, caller))
        self._attempts[call.key] = attempt
        self.counters["outbound_calls"] += 1
        log.info("outbound_call", call_id=call.key, sip_call_id=inv.call_id, caller=caller,
                 number=callee, route=decision.route, trunks=list(decision.trunks))
        self._send(call, attempt, first, now)
        sw._timers.arm(("ring", call.key), now + sw._ring_timeout)

    def bridge(self, call: Call, number: str, user: str | None, now: float) -> str:
        """Send the answered ``call`` on to the outside ``number`` (``number:`` of an IVR
        menu or a queue's overflow, ``user`` None: the configuration's own choice; a transfer
        by ``user``: that user's class and limits).  The target outcome of
        ``call/targets.route``: ``ringing`` or ``failed:CODE``."""
        decision = self.decide(caller=user, dialled=number, now=now, trusted=user is None)
        if not isinstance(decision, OutboundCall):
            return f"failed:{decision.status if isinstance(decision, OutboundRefused) else 404}"
        cm = call.media
        if cm is None:
            return "failed:503"
        ours = {c.name.lower() for c in cm.plan.codecs if not c.is_dtmf}
        failover = decision.failover()
        first = failover.current
        while first is not None and not self._fits_ours(first, ours):
            first = failover.failed(None)
        if first is None:
            log.info("trunk_codecs_refused", call_id=call.key, number=decision.number)
            return "failed:488"
        self.ended(call.key)  # an earlier outside leg of this call is not counted twice
        body = self.sw.services.onward_offer(call, now, self.trunks[first].codecs)
        if body is None:
            return "failed:503"
        # the switch forwards the call: the carrier learns who diverted it (RFC 5806): the
        # transferring user (a deflection), else the number the caller dialled (a menu's or
        # a queue's rule: unconditional)
        dialled = call.caller_leg.invite.uri.user or call.callee
        diverted = (Diverted(user, "deflection") if user is not None
                    else Diverted(dialled, "unconditional"))
        call.callee = decision.number
        attempt = Attempt(caller=user or call.caller, number=decision.number,
                          failover=failover, answer_timeout=decision.answer_timeout,
                          caller_id=decision.caller_id, body=body, ctype="application/sdp",
                          max_forwards=70, onward=True, trusted=user is None,
                          diverted=diverted)
        self._attempts[call.key] = attempt
        self.counters["outbound_calls"] += 1
        log.info("outbound_call", call_id=call.key, caller=user or "", onward=True,
                 number=decision.number, route=decision.route, trunks=list(decision.trunks))
        self._send(call, attempt, first, now)
        self.sw.services.ring_onward(call, now)
        return "ringing"

    def _fits_ours(self, trunk: str, ours: set[str]) -> bool:
        codecs = self.trunks[trunk].codecs
        return codecs is None or any(c.lower() in ours for c in codecs)

    def _send(self, call: Call, attempt: Attempt, trunk: str, now: float,
              target: int = 0) -> None:
        """A new INVITE (a new dialog) for ``call`` to ``trunk``'s address ``target``."""
        sw = self.sw
        cfg = self.trunks[trunk]
        if target == 0:
            attempt.dests = self.draw(trunk)
        dest = attempt.dests[target]
        me = sw._local(dest.transport)
        user = self._format(cfg, attempt.number)
        port = cfg.address.port if cfg.address is not None else None
        params: dict[str, str | None] = {} if dest.transport == "udp" else {
            "transport": dest.transport}
        ruri = SipUri(host=cfg.host, user=user, port=port, params=params)
        shown = attempt.caller_id or cfg.caller_id or attempt.caller
        if is_e164(shown):
            shown = self._format(cfg, shown)
        timers = sessiontimers.uac_headers(cfg.session_timer)
        supported = [v for n, v in timers if n == "Supported"]
        extra: list[tuple[str, str]] = [("Allow", ALLOW), ("User-Agent", sw._ua),
                                        *((n, v) for n, v in timers if n != "Supported")]
        pai = f"<{SipUri(host=sw._domain, user=shown)}>"
        if cfg.privacy == "id":
            local = NameAddr(SipUri(host="anonymous.invalid", user="anonymous"), "Anonymous",
                             {"tag": self._ids.tag()})
            extra += [("P-Asserted-Identity", pai), ("Privacy", "id")]
        else:
            local = NameAddr(SipUri(host=sw._domain, user=shown), None,
                             {"tag": self._ids.tag()})
            extra.append(("P-Asserted-Identity", pai))
        if cfg.rel100 == "required":
            extra.append(("Require", OPTION_TAG))
        elif cfg.rel100 == "supported":
            supported.insert(0, OPTION_TAG)
        if supported:  # one Supported header: 100rel, timer
            extra.append(("Supported", ", ".join(supported)))
        if attempt.diverted is not None:
            extra += diversion_headers(attempt.diverted, host=sw._domain, target=ruri,
                                       style=cfg.diversion)
        remote = NameAddr(SipUri(host=cfg.host, user=user))
        dialog = Dialog(call_id=self._ids.call_id(me.host), local=local, remote=remote,
                        local_seq=0, remote_target=str(ruri), peer=dest)
        attempt.trunk, attempt.target = trunk, target
        attempt.auth = (self._clients[trunk].session() if trunk in self._clients else None)
        self.router.policy.call_started(call.key, attempt.caller, trunk, now)
        self._invite(call, attempt, dialog, me, tuple(extra), now)
        log.info("trunk_leg", call_id=call.key, trunk=trunk, ruri=str(ruri), dest=str(dest))

    def _invite(self, call: Call, attempt: Attempt, dialog: Dialog, me: LocalContact,
                extra: tuple[tuple[str, str], ...], now: float) -> None:
        sw = self.sw
        body = self._offer(call, attempt)
        inv = dialog.request("INVITE", me=me, branch=self._ids.branch(), body=body,
                             content_type=attempt.ctype if body else None, extra=extra)
        inv.headers.set("Max-Forwards", str(attempt.max_forwards))
        assert dialog.peer is not None
        txn_id = sw._txn.send_request(inv, dialog.peer, now)
        br = Leg(txn_id, inv, dialog, me, at=now, role="trunk",
                 party=f"{attempt.trunk}:{dialog.remote.uri.user}")
        sessiontimers.uac_leg(br, self.trunks[attempt.trunk].session_timer)
        br.dtmf = self.trunks[attempt.trunk].dtmf
        call.add(br)
        sw._clients[br.txn_id] = call
        sw._dialogs[(dialog.call_id, dialog.local_tag)] = (call, br.id)
        attempt.leg = br.id
        attempt.heard = False
        self._timers.arm(call.key, now + attempt.answer_timeout)

    def _offer(self, call: Call, attempt: Attempt) -> bytes:
        """Our offer to the current trunk: the anchor's re-offer of the caller's SDP with that
        trunk's codecs (the caller's body as it is when media is not anchored)."""
        cm = call.media
        if cm is None or not attempt.body:
            return attempt.body
        if attempt.onward:  # our own offer from the call's end b
            return cm.offer_locally("b", only=self.trunks[attempt.trunk].codecs)
        offer = cm.offer_from("a", attempt.body, only=self.trunks[attempt.trunk].codecs)
        return b"" if isinstance(offer, NotAcceptable) else offer

    def _format(self, cfg: TrunkConfig, e164: str) -> str:
        """``e164`` as ``cfg``'s carrier wants it (``number_format``)."""
        plan = self.router.plan
        fmt = cfg.number_format
        if fmt == "national":
            return plan.national(e164) or e164
        if fmt == "international":
            return plan.international(e164)
        return e164[1:] if fmt == "e164" else e164

    # -- hooks from the fork code --------------------------------------------------------
    def heard(self, call: Call, br: Leg, status: int) -> None:
        """The trunk leg ``br`` answered ``status`` (1xx other than 100, or final)."""
        attempt = self._attempts.get(call.key)
        if attempt is None or attempt.leg != br.id or status == 100:
            return
        attempt.heard = True
        self._timers.cancel(call.key)

    def fork_failed(self, call: Call, br: Leg, status: int, reason: str,
                    resp: Response | None, now: float) -> bool:
        """Whether the failure of ``br`` was taken care of here: retried with credentials,
        moved to the next trunk, a leg no longer current, or the call's last trunk failed
        (the caller hears the last answer, without the carrier's headers).  False: not a
        trunk leg of a ringing call."""
        attempt = self._attempts.get(call.key)
        if attempt is None:
            return False
        if br.id != attempt.leg:
            if br.final is None:
                br.final = status
            return True  # an older leg of this call: already failed over or retried
        self._timers.cancel(call.key)
        if call.phase not in (Phase.RINGING, Phase.BRIDGING) or call.answered_id is not None:
            return False
        if status in (401, 407) and resp is not None and self._retry_auth(call, attempt, br,
                                                                          resp, now):
            return True
        if status == 422 and resp is not None and self._retry_422(call, attempt, br, resp, now):
            return True
        self.router.policy.call_ended(call.key)
        no_answer = None if (status == 408 and resp is None) else status
        where = attempt.dests
        if no_answer in (None, 503) and attempt.target + 1 < len(where):
            # RFC 3263 §4.3: a timeout or 503 moves to the trunk's next address
            br.final = status
            self.counters["target_failovers"] += 1
            log.info("trunk_target_failover", call_id=call.key, trunk=attempt.trunk,
                     dest=str(where[attempt.target]), status=status,
                     next=str(where[attempt.target + 1]))
            self._send(call, attempt, attempt.trunk, now, attempt.target + 1)
            return True
        attempt.tried.append((attempt.trunk, no_answer))
        nxt = attempt.failover.failed(no_answer)
        while nxt is not None and not self._usable(call, attempt, nxt, now):
            attempt.tried.append((nxt, None))
            nxt = attempt.failover.failed(None)
        if nxt is not None:
            br.final = status
            self.counters["failovers"] += 1
            log.info("trunk_failover", call_id=call.key, trunk=attempt.trunk, status=status,
                     next=nxt)
            self._send(call, attempt, nxt, now)
            return True
        if fails_over(no_answer, ()) and not attempt.trusted:
            self.router.call_failed(attempt.caller, now)
            self._log_policy_events()
        if attempt.onward:  # the flow, the queue or the transferor hears it (phase table)
            self.ended(call.key)
            log.info("outbound_failed", call_id=call.key, number=attempt.number,
                     tried=[f"{t}:{s}" for t, s in attempt.tried])
            return False
        log.info("outbound_failed", call_id=call.key, number=attempt.number,
                 tried=[f"{t}:{s}" for t, s in attempt.tried])
        # the caller hears the last trunk's answer, never a carrier's challenge or Contact
        code = 403 if status in (401, 407) else final_status(no_answer)
        why = "Forbidden" if code == 403 and status != 403 else reason
        br.final = status
        call.failure = (code, why)
        call.failure_headers = ()
        sw = self.sw
        sw.dispatch(call, Failed(br.id, code, why), now)
        return True

    def _usable(self, call: Call, attempt: Attempt, trunk: str, now: float) -> bool:
        """Whether a call may fail over to ``trunk``: up, resolved, with room, and sharing a
        codec with the caller."""
        if trunk in self.down or not self.addresses(trunk):
            return False
        if not self.router.policy.trunk_has_room(trunk, now):
            return False
        if attempt.onward:
            ours = {c.name.lower() for c in call.media.plan.codecs} if call.media else set()
            return self._fits_ours(trunk, ours)
        misfit = codecs_fit(attempt.body, self.trunks[trunk].codecs)
        if misfit is not None:
            log.info("trunk_codecs_skipped", call_id=call.key, trunk=trunk, why=misfit.reason)
            return False
        return True

    def _retry_auth(self, call: Call, attempt: Attempt, br: Leg, resp: Response,
                    now: float) -> bool:
        if attempt.auth is None:
            return False
        answer = attempt.auth.answer(resp, method="INVITE", uri=str(br.invite.uri))
        if not answer.ok:
            log.warning("trunk_auth_failed", call_id=call.key, trunk=attempt.trunk,
                        reason=answer.reason, detail=answer.detail)
            return False
        br.final = resp.status
        self.counters["auth_retries"] += 1
        kept = _kept(br, ("session-expires", "min-se", "supported", "require", "diversion",
                          "history-info"))
        self._invite(call, attempt, br.dialog, br.me, (*kept, *answer.headers), now)
        log.info("trunk_auth", call_id=call.key, trunk=attempt.trunk, status=resp.status)
        return True

    def _retry_422(self, call: Call, attempt: Attempt, br: Leg, resp: Response,
                   now: float) -> bool:
        """RFC 4028 §7.4: a 422 is answered once with the larger interval of its Min-SE."""
        s = br.session
        bigger = retry_after_422(s.policy, s.asked, resp.headers) \
            if s is not None and not s.retried else None
        if s is None or bigger is None:
            return False
        br.final = resp.status
        kept = (*_kept(br, ("supported", "require", "diversion", "history-info")),
                *offer_headers(s.policy, bigger, None, bigger))
        self._invite(call, attempt, br.dialog, br.me, kept, now)
        retried = call.legs[attempt.leg].session
        assert retried is not None
        retried.asked, retried.retried = bigger, True
        log.info("session_interval_retry", call_id=call.key, trunk=attempt.trunk,
                 interval=bigger)
        return True

    def ended(self, call_key: str) -> None:
        """The call ``call_key`` is over: its counts are released."""
        if self._attempts.pop(call_key, None) is not None:
            self._timers.cancel(call_key)
            self.router.policy.call_ended(call_key)

    # -- time --------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        """A trunk that did not answer within its route's ``answer_timeout``: CANCEL it and
        try the next one."""
        for key in self._timers.pop_due(now):
            attempt = self._attempts.get(key)
            call = self.sw._calls.get(key)
            if attempt is None or call is None or attempt.heard:
                continue
            br = call.legs.get(attempt.leg)
            if br is None or br.final is not None or call.phase not in (Phase.RINGING,
                                                                          Phase.BRIDGING):
                continue
            log.info("trunk_no_answer", call_id=key, trunk=attempt.trunk,
                     after=attempt.answer_timeout)
            self.sw._txn.cancel_request(br.txn_id, now)
            fork_failed(self.sw, call, br, 408, "Request Timeout", now)


def _own(inv: Request, caller: str) -> Diverted | None:
    """The diversion a phone's INVITE names, when it names the caller itself (a phone
    forwarding its own call); any other number is not passed on to a carrier, which may
    trust a Diversion naming one of its customer's numbers."""
    found = diverted_from(inv)
    if found is None:
        return None
    if found.number != caller:
        log.info("diversion_ignored", caller=caller, diversion=found.number)
        return None
    return found
