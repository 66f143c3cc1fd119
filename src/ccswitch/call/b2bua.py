"""The back-to-back user agent: each call holds its legs by id, the caller's (its INVITE,
answered by us) and ours (INVITEs to the callee's contacts, forked in parallel; the one that
answers is the call's answered leg).  The controller relays provisional and final answers,
in-dialog requests (re-INVITE, UPDATE, INFO, BYE) and ACKs between a leg and its peer; leg
events go through the call's phase table (``call/phase.py``).  Sans-IO: it drives a
``TransactionLayer`` and reads no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import structlog

from ..acd.model import QueueSettings
from ..acd.router import Router
from ..clock import TimerHeap
from ..config.features import RoomConfig
from ..dialplan import Target
from ..ids import Ids
from ..ivr.menu import DEMO_MENUS, Menu
from ..media.ports import PortsExhausted
from ..sdp.negotiator import NotAcceptable
from ..sip.dialog import Dialog, LocalContact
from ..sip.message import Request, Response, make_response
from ..sip.registrar import Binding
from ..sip.session_timer import Negotiated, TimerPolicy
from ..sip.timers import SipTimers
from ..sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    TransactionLayer,
    TransactionTimeout,
)
from ..sip.uri import NameAddr, SipUri
from . import dtmfwork, earlyoffer, sessiontimers
from .anchor import CallMedia, LegMedia, MediaPlan
from .commands import Command, Done, execute
from .crm import CallbackOffer
from .events import CallEnded, CallEvent, CallStarted, LegRecord
from .forks import fork_failed, fork_response
from .hold import hold_by_command
from .legevents import Cancelled, Ended, LegEvent, RingTimeout
from .legrecord import joined_legs, leg_records
from .originate import Originated
from .originate import abandon as abandon_originated
from .originate import on_response as originated_response
from .originate import on_timeout as originated_timeout
from .originate import ring_timeout as origin_ring_timeout
from .phase import dispatch
from .queueing import PendingCallback, QueueAudio, Queues
from .relay import (
    answer_relay,
    copy_body,
    relay_request,
    relay_response,
    release_held_ack,
    resend_ack,
    resend_reinvite_2xx,
)
from .reliable import Reliability
from .rooms import Rooms
from .services import Services
from .state import ALLOW, Call, Leg, LegId, PendingTwoHundred, Phase, Relay, set_sdp
from .supervise import Mode
from .transfer import (
    TRANSFEROR,
    by_command,
    on_refer,
    release_transferor,
    report_outcome,
    transferor_bye,
)
from .voicemail import Voicemail

if TYPE_CHECKING:
    from .trunklegs import TrunkLegs

log = structlog.get_logger()

RELAYED_IN_DIALOG = frozenset({"INVITE", "UPDATE", "INFO", "NOTIFY", "MESSAGE", "OPTIONS"})


class B2bua:
    """Call controller.  The ``Signaling`` front end feeds it transaction events."""

    def __init__(self, *, txn: TransactionLayer, ids: Ids, timers: SipTimers,
                 local: Callable[[str], LocalContact], domain: str,
                 ring_timeout: float = 120.0, user_agent: str = "ccswitch",
                 media: MediaPlan | None = None, menus: Mapping[str, Menu] = DEMO_MENUS,
                 prompt_path: Callable[[str], str] = str,
                 bindings_of: Callable[[str, float], list[Binding]] | None = None,
                 router: Router | None = None,
                 queue_settings: Mapping[str, QueueSettings] | None = None,
                 agents: Iterable[str] = (), auto_answer: Mapping[str, bool] | None = None,
                 record_queues: Iterable[str] = (),
                 queue_audio: Mapping[str, QueueAudio] | None = None,
                 rooms: Mapping[str, RoomConfig] | None = None,
                 room_music: Mapping[str, str] | None = None,
                 supervise_keys: Mapping[str, Mode] | None = None,
                 transfer_ring_timeout: float = 30.0, transfer_recall: bool = True,
                 may_transfer: Callable[[str], bool] = lambda user: True,
                 user_dtmf: Callable[[str], str] = lambda user: "auto",
                 may_supervise: Callable[[str, str], bool] = lambda sup, agent: False,
                 resolve: Callable[[str, str], Target | None] | None = None,
                 voicemail: Voicemail | None = None) -> None:
        self._txn = txn
        self.voicemail = voicemail  # the mailboxes (None: no voicemail configured)
        self.resolve = resolve  # (number, caller) -> where the dial plan sends it
        self.rooms = Rooms(settings=rooms or {}, workers=media.workers if media else 1,
                           send=media.send if media else (lambda w, c: None),
                           next_id=media.next_id if media else (lambda: 0),
                           music={r: prompt_path(m) for r, m in (room_music or {}).items()},
                           media=media, emit=lambda ev: self._events.append(ev))
        self.supervise_keys = supervise_keys or {"4": "listen", "5": "whisper", "6": "barge"}
        self.transfer_ring_timeout = transfer_ring_timeout
        self.transfer_recall = transfer_recall
        self.may_transfer = may_transfer
        self.user_dtmf = user_dtmf  # a user's [users] dtmf: how digits reach its phones
        self.may_supervise = may_supervise  # (supervisor, agent) -> allowed
        self._originated: dict[str, Originated] = {}  # our INVITE's txn -> call being placed
        self._originating: dict[str, Originated] = {}  # its call id -> call being placed
        self.router = router
        self._callbacks: dict[str, PendingCallback] = {}
        self.queue_settings = queue_settings or {}
        self.agent_names = frozenset(agents)
        self.auto_answer = auto_answer or {}
        self.record_queues = frozenset(record_queues)
        self.queue_audio = queue_audio or {}
        self.menus = menus
        self.prompt_path = prompt_path
        self.bindings_of = bindings_of
        self.media = media
        self._by_leg: dict[int, Call] = {}
        self._ids = ids
        self._t = timers
        self._local = local
        self._domain = domain
        self._ring_timeout = ring_timeout
        self._ua = user_agent
        self._calls: dict[str, Call] = {}
        self._dialogs: dict[tuple[str, str], tuple[Call, LegId]] = {}
        self._clients: dict[str, Call] = {}  # branch INVITE txn -> call
        self._relays: dict[str, Relay] = {}  # client txn -> relay
        self._by_a_txn: dict[str, Call] = {}
        self._timers: TimerHeap[tuple[str, str]] = TimerHeap()
        self._events: list[CallEvent | CallbackOffer] = []  # (the latter for the screen pop)
        self._users_worker: dict[str, list[int]] = {}  # user -> [worker of its calls, count]
        self.ignored: Counter[tuple[str, str]] = Counter()  # (phase, event) with no handler
        self.services = Services(self)  # what the switch answers itself, ringing onward
        self.queues = Queues(self)  # queue callers, the router's actions, callbacks
        self.trunk_legs: TrunkLegs | None = None  # calls to outside numbers (set by Signaling)
        self.dids: dict[str, str] = {}  # a carrier's INVITE txn -> its DID, until its call
        self.timer_policy = TimerPolicy()  # session timers on phones' legs (RFC 4028)
        # a new INVITE's txn -> the policy and timer negotiated for it (until its call)
        self.timer_offers: dict[str, tuple[TimerPolicy, Negotiated | None]] = {}
        self.refreshes: dict[str, sessiontimers.Refresh] = {}  # our refreshes, by txn
        self.digit_infos: set[str] = set()  # our INFO digits (dtmfwork.py), by txn
        self.leg_dtmf: dict[str, str] = {}  # a carrier's INVITE txn -> its trunk's dtmf mode
        self.diversions: dict[str, str] = {}  # a carrier's INVITE txn -> diverted-from number
        self.reliable = Reliability(self)  # 100rel both ways (call/reliable.py)

    # -- shell-facing -----------------------------------------------------------------
    def events(self) -> list[CallEvent | CallbackOffer]:
        ev, self._events = self._events, []
        return ev

    def next_deadline(self) -> float | None:
        ds = [d for d in (self._timers.next_deadline(), self.reliable.next_deadline())
              if d is not None]
        return min(ds) if ds else None

    def __len__(self) -> int:
        return len(self._calls)

    def call_id_of_leg(self, leg: int) -> str | None:
        """The call id of the call a media leg belongs to (for the shell's log lines)."""
        call = self._by_leg.get(leg)
        return call.key if call is not None else None

    # -- new calls --------------------------------------------------------------------
    def start(self, ev: RequestReceived, *, caller: str, display: str | None, callee: str,
              bindings: list[Binding], now: float) -> None:
        """Ring every contact in ``bindings`` for the caller's INVITE in ``ev``."""
        inv = ev.request
        # a phone's second call goes where its first one is (attended transfer, consultation)
        cm = self._anchor(ev, ("a", "b"), now, caller=caller, callee=callee,
                          worker=self._worker_of(caller))
        if cm is False:
            return
        body = inv.body
        if cm is not None and body:
            offer = cm.offer_from("a", body)
            if isinstance(offer, NotAcceptable):
                cm.close()
                self._reply(ev, 488, "Not Acceptable Here", now,
                            (("Warning", f'304 ccswitch "{offer.reason}"'),))
                self.refused(ev, 488, "Not Acceptable Here", now, caller=caller,
                             callee=callee, why=f"sdp: {offer.reason}")
                return
            body = offer
        call = self._new_call(ev, caller, callee, now, cm)
        log.info("call_started", call_id=call.key, sip_call_id=inv.call_id, caller=caller,
                 callee=callee, contacts=len(bindings))
        ctype = inv.headers.get("content-type") if body else None
        mf = max(inv.max_forwards - 1, 0)
        for b in bindings:
            self._fork(call, b, display, ctype, mf, now, body)
        ring = self._ring_timeout
        vm = self.voicemail
        if vm is not None and cm is not None and vm.has(callee):
            call.voicemail_box = callee  # no answer within no_answer, or busy: its mailbox
            ring = vm.config.settings.no_answer
        self._timers.arm(("ring", call.key), now + ring)

    def _anchor(self, ev: RequestReceived, sides: tuple[str, ...], now: float, *,
                caller: str, callee: str, worker: int | None = None,
                ) -> CallMedia | Literal[False] | None:
        """Media legs for a new call (on ``worker`` when given); False when none can be
        had (503 sent)."""
        if self.media is None:
            return None
        try:
            return CallMedia.create(self.media, sides, now=now, worker=worker)
        except PortsExhausted as e:
            log.warning("rtp_ports_exhausted", sip_call_id=ev.request.call_id)
            self._reply(ev, 503, "Service Unavailable", now,
                        (("Retry-After", str(e.retry_after)),))
            self.refused(ev, 503, "Service Unavailable", now, caller=caller, callee=callee,
                         why="no RTP port free")
            return False

    def count_user(self, call: Call, user: str) -> None:
        """``user`` talks in ``call``: its next calls prefer the same media worker."""
        if call.media is None or user in call.users:
            return
        call.users += (user,)
        self._users_worker.setdefault(user, [call.media.worker, 0])[1] += 1

    def _worker_of(self, user: str) -> int | None:
        """The media worker of ``user``'s live calls, if it has any."""
        held = self._users_worker.get(user)
        return held[0] if held is not None else None

    def new_call_id(self) -> str:
        """A fresh call id: 16 random lowercase letters and digits, unique among live calls.

        The switch makes its own id rather than reusing the caller's Call-ID: two INVITEs may
        share a Call-ID (an upstream proxy forking to two of our addresses, a loop through an
        outside proxy), and a Call-ID may hold ``/`` and other characters unfit for a file name.
        """
        while True:
            cid = self._ids.token(16)
            if cid not in self._calls:
                return cid

    def refused(self, ev: RequestReceived, status: int, reason: str, now: float, *,
                caller: str, callee: str, why: str = "") -> str:
        """Record an INVITE answered with a final failure before any call was set up: a
        ``CallEnded`` (for its CDR) and a ``call_refused`` log line.  Returns its call id."""
        cid = self.new_call_id()
        sip_id = ev.request.call_id
        leg = LegRecord(ev.txn_id, "caller", caller, now, None, now, status, reason, "switch")
        self._events.append(CallEnded(cid, caller, callee, status, reason, now, None, now,
                                      "switch", None, sip_id, legs=(leg,)))
        log.info("call_refused", call_id=cid, sip_call_id=sip_id, caller=caller,
                 callee=callee, status=status, reason=why or reason,
                 source=str(ev.source))
        return cid

    def _new_call(self, ev: RequestReceived, caller: str, callee: str, now: float,
                  cm: CallMedia | None) -> Call:
        inv = ev.request
        me = self._local(ev.source.transport)
        a_dialog = self._server_dialog(ev)
        a_tag = a_dialog.local_tag
        first = Leg(ev.txn_id, inv, a_dialog, me, incoming=True, at=now)
        call = Call.of(first, key=self.new_call_id(), caller=caller, callee=callee,
                       started=now, media=cm)
        call.sip_call_id = inv.call_id
        call.did = self.dids.pop(ev.txn_id, None)
        call.diversion = self.diversions.pop(ev.txn_id, None)
        call.prack_mode = self.reliable.modes.pop(ev.txn_id, "supported")
        call.vars.update(call.start_vars())  # the CRM lookup sees them without an IVR too
        sessiontimers.uas_leg(self, first)
        first.dtmf = self.leg_dtmf.pop(ev.txn_id, "") or self.user_dtmf(caller)
        self._calls[call.key] = call
        for user in {caller, callee}:
            self.count_user(call, user)
        self._dialogs[(inv.call_id, a_tag)] = (call, first.id)
        self._by_a_txn[ev.txn_id] = call
        if cm is not None:
            for lm in cm.legs.values():
                self._by_leg[lm.leg] = call
        self._events.append(CallStarted(call.key, caller, callee, now, call.did))
        return call

    def _fork(self, call: Call, b: Binding, display: str | None, ctype: str | None, mf: int,
              now: float, body: bytes, extra: tuple[tuple[str, str], ...] = (),
              to_user: str | None = None) -> Leg:
        br = self._send_invite(b, call.caller, display, to_user or call.callee, body, ctype,
                               mf, extra, now)
        call.add(br)
        self._clients[br.txn_id] = call
        self._dialogs[(br.dialog.call_id, br.dialog.local_tag)] = (call, br.id)
        return br

    def _send_invite(self, b: Binding, from_user: str, display: str | None, to_user: str,
                     body: bytes, ctype: str | None, mf: int,
                     extra: tuple[tuple[str, str], ...], now: float) -> Leg:
        """A new dialog's INVITE from ``from_user`` to the contact ``b``, sent."""
        me = self._local(b.source.transport)
        local = NameAddr(SipUri(host=self._domain, user=from_user), display,
                         {"tag": self._ids.tag()})
        remote = NameAddr(SipUri(host=self._domain, user=to_user))
        dialog = Dialog(call_id=self._ids.call_id(me.host), local=local, remote=remote,
                        local_seq=0, remote_target=b.contact, peer=b.source)
        inv = dialog.request("INVITE", me=me, branch=self._ids.branch(),
                             body=body, content_type=ctype,
                             extra=(("Allow", ALLOW), ("User-Agent", self._ua), *extra,
                                    *sessiontimers.uac_headers(self.timer_policy)))
        inv.headers.set("Max-Forwards", str(mf))
        txn_id = self._txn.send_request(inv, b.source, now)
        leg = Leg(txn_id, inv, dialog, me, at=now)
        leg.dtmf = self.user_dtmf(b.user)
        sessiontimers.uac_leg(leg, self.timer_policy)
        return leg

    # -- responses on our client transactions -----------------------------------------
    def on_response(self, ev: ResponseReceived, now: float) -> bool:
        if self.queues.callback_response(ev, now) or originated_response(self, ev, now) or \
                sessiontimers.on_response(self, ev.txn_id, ev.response, now) or \
                dtmfwork.on_response(self, ev.txn_id, ev.response):
            return True
        call = self._clients.get(ev.txn_id)
        if call is not None:
            br = call.legs.get(ev.txn_id)
            if br is None:  # a leg that left the call (taken over): nothing more to do
                self._clients.pop(ev.txn_id, None)
                return True
            fork_response(self, call, br, ev.response, now)
            if call.phase is Phase.ENDED and ev.response.status >= 200:
                self._clients.pop(ev.txn_id, None)  # kept after the end to ACK+BYE a late 2xx
            return True
        relay = self._relays.get(ev.txn_id)
        if relay is not None:
            if relay.ack is not None:  # a 2xx retransmission: ACK it again (§13.2.2.4)
                resend_ack(self, relay, ev.response)
                return True
            if ev.response.status >= 200:
                del self._relays[ev.txn_id]
            relay_response(self, relay, ev.response, now, ev.txn_id)
            return True
        return False

    def on_timeout(self, ev: TransactionTimeout, now: float) -> bool:
        if self.queues.callback_timeout(ev, now) or originated_timeout(self, ev, now) or \
                sessiontimers.on_timeout(self, ev.txn_id, now) or \
                dtmfwork.on_timeout(self, ev.txn_id):
            return True
        call = self._clients.get(ev.txn_id)
        if call is not None:
            if call.phase is Phase.ENDED:
                self._clients.pop(ev.txn_id, None)
            br = call.legs.get(ev.txn_id)
            if br is not None:
                fork_failed(self, call, br, 408, "Request Timeout", now)
            return True
        relay = self._relays.pop(ev.txn_id, None)
        if relay is not None:
            if relay.method == "BYE":
                return True
            answer_relay(self, relay, 408, "Request Timeout", now)
            call = relay.call
            if call.phase is not Phase.ENDED:  # §12.2.1.2: the dialog is over
                log.warning("in_dialog_timeout", call_id=call.key, method=relay.method)
                self._hangup_both(call, now)
                self._end(call, 408, "Request Timeout", now, "switch")
            return True
        return False

    def _arm_2xx_retx(self, call: Call, now: float) -> None:
        """§13.3.1.4: retransmit the 2xx (UDP only) until the caller's ACK; none within
        64*T1: BYE."""
        leg = call.caller_leg
        leg.retx_deadline = now + 64 * self._t.t1
        if leg.dialog.peer.reliable:
            self._timers.arm(("retx", call.key), leg.retx_deadline)
        else:
            leg.retx_interval = self._t.t1
            self._timers.arm(("retx", call.key), now + self._t.t1)

    # -- the caller's leg ---------------------------------------------------------------
    def _answer_a(self, call: Call, status: int, reason: str, now: float,
                  source: Response | None = None, extra: Iterable[tuple[str, str]] = (),
                  sdp: bytes | None = None) -> None:
        a = call.caller_leg
        resp = self.caller_response(call, status, reason, extra)
        if call.media is None:
            copy_body(source, resp)
        elif sdp is not None:
            set_sdp(resp, sdp)
        if status >= 200:
            self._by_a_txn.pop(a.txn_id, None)
            if status < 300:
                a.ok = resp
                sessiontimers.sending_2xx(self, call, a, resp, now)
        self.reliable.to_caller(call, resp, now)

    def caller_response(self, call: Call, status: int, reason: str,
                        extra: Iterable[tuple[str, str]] = ()) -> Response:
        """A response to the caller's INVITE, in its dialog (our To tag)."""
        a = call.caller_leg
        return make_response(a.invite, status, reason, to_tag=a.dialog.local_tag,
                             headers=extra)

    def _fail_a(self, call: Call, status: int, reason: str, now: float, *, ended_by: str,
                extra: Iterable[tuple[str, str]] = ()) -> None:
        if call.phase is Phase.RINGING:
            self._answer_a(call, status, reason, now, extra=extra)
        self._end(call, status, reason, now, ended_by)

    def cancel(self, a_txn: str, now: float) -> bool:
        """The caller CANCELled the INVITE of server transaction ``a_txn``."""
        call = self._by_a_txn.get(a_txn)
        if call is None:
            return False
        return self.dispatch(call, Cancelled(call.caller_id), now)

    def on_ack(self, ev: AckReceived, now: float) -> bool:
        req = ev.request
        found = self._find_dialog(req)
        if found is None:
            return False
        call, leg = found
        if self._leg_dialog(call, leg, req) is None:
            return True  # e.g. an ACK from a fork that lost: nothing to relay
        lg = call.legs[leg]
        if req.body and lg.session is not None:
            lg.session.heard(req.body)  # a delayed offer's answer
        if leg == call.caller_id and call.answering:  # the caller's leg is confirmed
            lg.ok = None
            self._timers.cancel(("retx", call.key))
        pending = lg.unacked
        if pending is not None and pending.cseq == req.cseq.seq:
            lg.unacked = None
            self._timers.cancel((f"re2xx-{leg}", call.key))
        cm = call.media
        if call.service is not None and cm is not None and req.body:
            got = cm.accept_local_answer("a", req.body)
            if isinstance(got, NotAcceptable):
                log.warning("ack_sdp_refused", call_id=call.key, reason=got.reason)
            return True
        release_held_ack(self, call, leg, req)
        return True

    # -- in-dialog requests ------------------------------------------------------------
    def in_dialog(self, ev: RequestReceived, now: float) -> bool:
        """Handle a request whose To-tag names one of our dialogs; False if none matches."""
        req = ev.request
        found = self._find_dialog(req)
        if found is None:
            return False
        call, leg = found
        if earlyoffer.in_early_dialog(self, call, leg, ev, now):  # UPDATE before the 2xx
            return True
        dialog = self._leg_dialog(call, leg, req)
        if dialog is None or call.phase is Phase.ENDED:
            self._reply(ev, 481, "Call/Transaction Does Not Exist", now)
            return True
        seq = req.cseq.seq
        if dialog.remote_seq is not None and seq <= dialog.remote_seq:
            self._reply(ev, 500, "Out of Order CSeq", now, (("Retry-After", "1"),))
            return True
        dialog.remote_seq = seq
        if req.method == "PRACK":
            self.reliable.prack(call, call.legs[leg], ev, now)
            return True
        if call.end(leg) == TRANSFEROR:
            self._reply(ev, 200 if req.method != "INVITE" else 488,
                        "OK" if req.method != "INVITE" else "Not Acceptable Here", now)
            if req.method == "BYE":
                transferor_bye(self, call, now)
            return True
        if req.method == "REFER":
            on_refer(self, call, leg, ev, now)
            return True
        if req.method == "BYE":
            self._reply(ev, 200, "OK", now)
            self.dispatch(call, Ended(leg), now)
            return True
        if req.method not in RELAYED_IN_DIALOG:
            self._reply(ev, 501, "Not Implemented", now, (("Allow", ALLOW),))
            return True
        if sessiontimers.refresh_received(self, call, leg, ev, now) or \
                dtmfwork.info_received(self, call, leg, ev, now):
            return True
        if call.service is not None:
            self.services._service_request(call, ev, now)
            return True
        if not call.confirmed or call.answered_id is None:
            self._reply(ev, 491 if req.method == "INVITE" else 500, "Request Pending", now,
                        (("Retry-After", "1"),))
            return True
        relay_request(self, call, leg, dialog, ev, now)
        return True

    def retransmit_until_ack(self, call: Call, leg: LegId, resp: Response, now: float) -> None:
        """The 2xx to a re-INVITE from ``leg`` is resent until its ACK (§13.3.1.4; the
        transaction layer leaves 2xx to the UA).  Over TCP once is enough."""
        lg = call.legs.get(leg)
        if lg is None or lg.dialog.peer.reliable:
            return
        lg.unacked = PendingTwoHundred(resp, resp.cseq.seq, self._t.t1, now + 64 * self._t.t1)
        self._timers.arm((f"re2xx-{leg}", call.key), now + self._t.t1)

    # -- timers ------------------------------------------------------------------------
    def handle_timer(self, now: float) -> None:
        self.reliable.handle_timer(now)
        for key in self._timers.pop_due(now):
            kind, ckey = key
            if kind == "router" and self.router is not None:
                self.queues._router_armed = None  # fired: armed no more
                self.router.handle_timer(now)
                continue
            if kind == "cbring":
                self.queues.callback_ring_timeout(ckey, now)
                continue
            if kind == "origring":
                origin_ring_timeout(self, ckey, now)
                continue
            if kind == "xferbye":
                xcall = self._calls.get(ckey)
                if xcall is not None:
                    release_transferor(self, xcall, now)
                continue
            call = self._calls.get(ckey)
            if call is None:
                continue
            if kind == "ivr":
                self.services.ivr_timer(call, now)
            elif kind == "unpause":
                self.services.sensitive_over(call, now)
            elif kind == "ring":
                self.dispatch(call, RingTimeout(), now)
            elif kind.startswith("st-"):
                sessiontimers.fire(self, call, kind[3:], now)
            elif kind.startswith("stdone-"):
                sessiontimers.forget_done(self, call, kind[7:])
            elif kind.startswith("re2xx-"):
                resend_reinvite_2xx(self, call, kind[6:], now)
            elif kind == "retx" and call.answering:
                a = call.caller_leg
                if now >= a.retx_deadline:
                    log.warning("ack_timeout", call_id=call.key)
                    self._hangup_both(call, now)
                    self._end(call, 408, "No ACK", now, "switch")
                    continue
                assert a.ok is not None
                if not self.reliable.holding(call):  # a 2xx held for a PRACK is not out yet
                    self._txn.send_stateless(a.ok, a.dialog.peer)
                a.retx_interval = min(a.retx_interval * 2, self._t.t2)
                self._timers.arm(("retx", call.key),
                                 min(now + a.retx_interval, a.retx_deadline))

    # -- ending ------------------------------------------------------------------------
    def shutdown(self, now: float) -> None:
        """End every call: BYE to answered legs, 480/CANCEL to ringing ones."""
        self.queues.abandon_callbacks(now)
        abandon_originated(self, now)
        for call in list(self._calls.values()):
            if call.phase is Phase.RINGING:
                self.cancel_call(call, now)
            else:
                self._hangup_both(call, now)
                self._end(call, 200, "OK", now, "switch")

    def _hangup_both(self, call: Call, now: float) -> None:
        """BYE to the caller's leg and the answered one."""
        for lg in (call.caller_leg, call.answered_leg):
            if lg is not None:
                self._bye(lg.dialog, lg.me, now)

    def _hangup_other(self, call: Call, leg: LegId, now: float) -> None:
        """``leg`` hung up: BYE to its peer (the caller's leg for any other leg)."""
        other = call.answered_leg if leg == call.caller_id else call.caller_leg
        if other is not None:
            self._bye(other.dialog, other.me, now)

    def _bye(self, dialog: Dialog, me: LocalContact, now: float) -> None:
        bye = dialog.request("BYE", me=me, branch=self._ids.branch(),
                             extra=(("User-Agent", self._ua),))
        self._txn.send_request(bye, dialog.peer, now)

    def _end(self, call: Call, status: int, reason: str, now: float, ended_by: str) -> None:
        if call.phase is Phase.ENDED:
            return
        for key in call.supervisors:  # still on: each is hung up with the call
            sup = self._calls.get(key)
            if sup is not None:
                call.gone.extend(joined_legs(leg_records(sup, status, reason, "switch", now)))
        legs = leg_records(call, status, reason, ended_by, now)  # before the media closes
        main = self._calls.get(call.supervising[0]) if call.supervising else None
        if main is not None and main is not call:  # a supervisor's leg is the call's too
            main.gone.extend(joined_legs(legs))
        was, call.phase = call.phase, Phase.ENDED
        call.ended_by_agent = ended_by == "callee"
        self.queues._left_queue(call, now)
        self._timers.cancel(("ring", call.key))
        self._timers.cancel(("retx", call.key))
        self._timers.cancel(("ivr", call.key))
        sessiontimers.disarm_all(self, call)
        for lg in call.legs.values():
            if lg.unacked is not None:
                self._timers.cancel((f"re2xx-{lg.id}", call.key))
                lg.unacked = None
        if call.ivr is not None:
            call.ivr.hangup(now)
        self.services._leave_bridges(call, now)
        release_transferor(self, call, now)
        self._timers.cancel(("xferbye", call.key))
        if was is Phase.BRIDGING:  # the caller left while we rang onward: stop the ringing
            for br in call.forks():
                if br.final is None:
                    br.cancelled = True
                    self._txn.cancel_request(br.txn_id, now)
        self._calls.pop(call.key, None)
        self.reliable.forget(call)
        for user in call.users:
            held = self._users_worker.get(user)
            if held is not None:
                held[1] -= 1
                if held[1] <= 0:
                    del self._users_worker[user]
        self._by_a_txn.pop(call.caller_leg.txn_id, None)
        if call.media is not None:
            for lm in call.media.legs.values():
                self._by_leg.pop(lm.leg, None)
            call.media.close()
        for tid, lg in call.legs.items():
            if not lg.incoming and lg.final is not None and self._clients.get(tid) is call:
                self._clients.pop(tid)  # a fork still pending may yet answer 2xx: ACK+BYE it
            dkey = (lg.dialog.call_id, lg.dialog.local_tag)
            if (self._dialogs.get(dkey) or (None,))[0] is call:
                del self._dialogs[dkey]
        for tid in [t for t, r in self._relays.items() if r.call is call]:
            relay = self._relays[tid]
            if relay.ack is None and relay.method != "BYE":  # §15.1.2: answer what is pending
                answer_relay(self, relay, 487, "Request Terminated", now)
            if relay.ack is not None or relay.method != "INVITE":
                del self._relays[tid]  # a pending re-INVITE stays: its late 2xx gets an ACK
        recording = call.media.recording_file if call.media else None
        xfer = call.transfer
        if xfer is not None:  # ended before the target answered or failed
            report_outcome(self, call, xfer, 487, now)
        self._events.append(CallEnded(
            call.key, call.caller, call.callee, status, reason, call.started, call.answered, now,
            ended_by, recording, call.sip_call_id or call.caller_leg.invite.call_id,
            call.queue_name,
            call.queue_agent, f"{xfer.kind}:{xfer.target}" if xfer is not None else None,
            call.transferred_by, _media_legs(call.media), legs, tuple(call.transfers)))
        log.info("call_ended", call_id=call.key, status=status, reason=reason,
                 ended_by=ended_by, queue=call.queue_name, agent=call.queue_agent)

    # -- leg events and commands -------------------------------------------------------------
    def dispatch(self, call: Call, ev: LegEvent, now: float) -> bool:
        """Handle leg event ``ev`` as ``call``'s phase says (``call/phase.py``)."""
        return dispatch(self, call, ev, now)

    def command(self, cmd: Command, now: float) -> Done:
        """The one entry for what people and programs ask (``call/commands.py``)."""
        return execute(self, cmd, now)

    def cancel_call(self, call: Call, now: float) -> None:
        """End a call still ringing: CANCEL its forks, 480 to the caller."""
        for br in call.forks():
            if br.final is None:
                self._txn.cancel_request(br.txn_id, now)
        self._fail_a(call, 480, "Temporarily Unavailable", now, ended_by="switch")

    def hold_call(self, call: Call, on: bool, now: float) -> None:
        hold_by_command(self, call, on, now)

    def transfer_by_command(self, call: Call, number: str, now: float) -> None:
        by_command(self, call, number, now)

    # -- routing answered calls, legs ----------------------------------------------------
    def can_route(self, number: str, caller: str = "") -> bool:
        return self.resolve is not None and self.resolve(number, caller) is not None

    def media_free(self, lm: LegMedia) -> None:
        self._by_leg.pop(lm.leg, None)
        if self.media is not None:
            self.media.free_leg(lm)

    def media_new_leg(self, worker: int, now: float) -> LegMedia:
        assert self.media is not None
        return self.media.new_leg(worker, now=now)

    def _server_dialog(self, ev: RequestReceived) -> Dialog:
        inv = ev.request
        dialog = Dialog(
            call_id=inv.call_id, local=inv.to.with_tag(self._ids.tag()), remote=inv.from_,
            local_seq=0, remote_target=str(inv.contacts[0].uri) if inv.contacts else
            str(inv.from_.uri), peer=ev.source, remote_seq=inv.cseq.seq,
        )
        for rr in inv.headers.get_all("record-route"):
            dialog.route_set.append(rr)
        return dialog

    # -- helpers -----------------------------------------------------------------------
    def _leg_dialog(self, call: Call, leg: LegId, req: Request) -> Dialog | None:
        """The dialog of ``leg`` (which ``req`` came on); None for a fork that did not win
        or a leg no longer in the call."""
        lg = call.legs.get(leg)
        if lg is None:
            return None
        if leg == call.caller_id or leg == call.answered_id or call.end(leg) == TRANSFEROR:
            return lg.dialog
        return None

    def _find_dialog(self, req: Request) -> tuple[Call, LegId] | None:
        tag = req.to.tag
        if not tag:
            return None
        return self._dialogs.get((req.call_id, tag))

    def _reply(self, ev: RequestReceived, status: int, reason: str, now: float,
               extra: Iterable[tuple[str, str]] = ()) -> None:
        self._txn.send_response(ev.txn_id, make_response(ev.request, status, reason,
                                                         headers=extra), now)


def _media_legs(cm: CallMedia | None) -> tuple[tuple[str, int], ...]:
    """The caller's (side a) and the answered party's (side b) media legs of a call."""
    if cm is None:
        return ()
    return tuple((role, cm.legs[side].leg) for side, role in (("a", "caller"), ("b", "callee"))
                 if side in cm.legs)
