"""The SIP front end of the switch (sans-IO): parse, match transactions, authenticate,
register, answer OPTIONS and route INVITEs through the dial plan to the B2BUA.

The shell pushes bytes with ``receive(data, source, now)`` and time with
``handle_timer(now)``; it pulls ``outbox()`` (bytes to send and where), ``events()`` (binding
changes to persist, call events) and ``next_deadline()``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ..acd.events import QueueEvent
from ..config.schema import SwitchConfig
from ..dialplan import (
    Dialplan,
    IvrTarget,
    NumberTarget,
    OutsideTarget,
    QueueTarget,
    RoomTarget,
    ServiceTarget,
    SuperviseTarget,
    Target,
    UserTarget,
    VoicemailTarget,
    may_supervise,
)
from ..dialplan.inbound import DidNotFound, DidRouter, TrunkPeers
from ..dialplan.outbound import OutboundCall, OutboundRefused
from ..errors import SipParseError
from ..ids import Ids
from ..media.commands import Command as MediaCommand
from ..media.commands import MediaEvent
from ..sip.addr import Address
from ..sip.auth import AuthOutcome, AuthResult, Credentials, DigestAuthenticator
from ..sip.dialog import LocalContact
from ..sip.diversion import diverted_from
from ..sip.grammar import is_token
from ..sip.headers import normalize
from ..sip.locate import Located
from ..sip.message import Headers, Request, find_head_end, make_response, parse_message
from ..sip.mwi import subscribe_of
from ..sip.prack import OPTION_TAG, refuses_required
from ..sip.refer import replaces_of
from ..sip.registrar import Binding, BindingsChanged, Registrar
from ..sip.session_timer import TAG, BadHeader, TimerPolicy, TooSmall, has_tag
from ..sip.source_limit import SourceLimit
from ..sip.timers import SipTimers
from ..sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionLayer,
    TransactionTimeout,
)
from ..voicemail import Message
from . import sessiontimers
from .acdconfig import build_router
from .anchor import MediaPlan
from .b2bua import B2bua
from .checks import SUPPORTED_EXTENSIONS, refusal
from .commands import Command, Done
from .crm import CrmEvent, ScreenPop, queue_scripts, user_displays
from .events import CallEnded, CallEvent
from .mwiwire import ALLOW_EVENTS, CHALLENGED_SUBSCRIBES, MwiDialogs
from .queueing import build_queue_audio, build_room_music
from .reload import Reloaded, reload
from .state import ALLOW
from .transfer import replace
from .trunkdriver import TrunkDriver
from .trunklegs import TrunkLegs
from .voicemail import VOICEMAIL_CODE, Voicemail, VoicemailEvent

log = structlog.get_logger()

KNOWN_METHODS = frozenset({"SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "PRACK",
                           "INFO", "UPDATE"})
# What an answer to a request that failed parsing copies from it (RFC 3261 §8.2.6.2).
_ECHOED = frozenset({"via", "from", "to", "call-id", "cseq"})
SwitchEvent = BindingsChanged | CallEvent | QueueEvent | CrmEvent | VoicemailEvent


@dataclass(frozen=True, slots=True)
class Listener:
    """A bound listen address (the shell passes the real ports, e.g. after binding port 0)."""

    transport: str
    host: str
    port: int


class Signaling:
    """Everything the switch decides about SIP signaling, for one process."""

    def __init__(self, *, config: SwitchConfig, listeners: Iterable[Listener], ids: Ids,
                 media: MediaPlan | None = None,
                 prompt_path: Callable[[str], str] = str,
                 voicemail_dir: Callable[[str], str] = lambda box: f"voicemail/{box}",
                 recorded_greeting: Callable[[str], str | None] = lambda box: None,
                 ) -> None:
        """``voicemail_dir(box)``: the directory of a mailbox's files (the shell's, created);
        ``recorded_greeting(box)``: the box's recorded greeting file, if there is one."""
        self.config = config
        self._events: list[SwitchEvent] = []
        self.voicemail: Voicemail | None = None
        if config.voicemail.mailboxes:
            self.voicemail = Voicemail(config=config.voicemail, box_dir=voicemail_dir,
                                       new_id=lambda: ids.token(16),
                                       emit=lambda e: self._events.append(e),
                                       domain=config.domains[0],
                                       recorded_greeting=recorded_greeting)
        self._ids = ids
        self._listeners = list(listeners)
        sip = config.sip
        self._timers = SipTimers(t1=sip.t1, t2=sip.t2, t4=sip.t4)
        self._max_size = sip.max_message_size
        self._ua = sip.user_agent
        self.txn = TransactionLayer(timers=self._timers)
        self.auth = DigestAuthenticator(
            realm=config.realm, lookup=self._credentials, ids=ids,
            algorithms=tuple(config.auth.algorithms), nonce_ttl=config.auth.nonce_ttl,
            max_failures=config.auth.max_failures, failure_window=config.auth.failure_window,
        )
        self._subscribe_limit = SourceLimit(limit=CHALLENGED_SUBSCRIBES[0],
                                            window=CHALLENGED_SUBSCRIBES[1])
        reg = config.registrar
        self.registrar = Registrar(min_expires=reg.min_expires, max_expires=reg.max_expires,
                                   default_expires=reg.default_expires,
                                   max_contacts=reg.max_contacts)
        self.dialplan = Dialplan.from_config(config)
        router, queue_settings = build_router(config, random.Random(ids.token()))
        self.b2bua = B2bua(txn=self.txn, ids=ids, timers=self._timers, local=self.local_contact,
                           domain=config.domains[0], user_agent=self._ua, media=media,
                           ring_timeout=sip.ring_timeout,
                           prompt_path=prompt_path, bindings_of=self.registrar.lookup,
                           menus=config.menus, router=router, queue_settings=queue_settings,
                           agents=config.agents,
                           auto_answer={n: u.agent.auto_answer for n, u in config.agents.items()
                                        if u.agent is not None},
                           record_queues=[q.name for q in config.queues.values() if q.record],
                           queue_audio=build_queue_audio(config),
                           rooms=config.rooms, room_music=build_room_music(config),
                           supervise_keys=config.supervision.keys,
                           transfer_ring_timeout=config.transfer.ring_timeout,
                           transfer_recall=config.transfer.recall,
                           may_transfer=self._may_transfer,
                           user_dtmf=self._user_dtmf,
                           may_supervise=self._may_supervise,
                           resolve=lambda number, caller: self.dialplan.resolve(
                               number, caller=caller),
                           voicemail=self.voicemail)
        self.screenpop = ScreenPop(
            crm=config.crm, find=self.b2bua._calls.get,
            scripts=queue_scripts(config.queues),
            recorded=lambda call: bool(call.media is not None and (
                call.media.plan.record_calls or call.queue_name in self.b2bua.record_queues)),
            displays=user_displays(config.users))
        self.media = media
        self.mwi: MwiDialogs | None = None
        if self.voicemail is not None:
            self.mwi = MwiDialogs(txn=self.txn, ids=ids, notifier=self.voicemail.mwi,
                                  local=self.local_contact, user_agent=self._ua,
                                  domain=config.domains[0])
        trunking = config.trunking
        self.trunk_peers: TrunkPeers | None = None
        self.trunk_legs: TrunkLegs | None = None
        self.trunk_driver: TrunkDriver | None = None
        self._did_routers: dict[str, DidRouter] = {}
        if trunking.trunks:
            self.trunk_peers = trunking.peers()
            self._did_routers = {name: trunking.dids_router(name) for name in trunking.trunks}
            self.trunk_legs = TrunkLegs(sw=self.b2bua, trunks=trunking.trunks,
                                        router=trunking.router(), ids=ids)
            self.b2bua.trunk_legs = self.trunk_legs
            self.trunk_driver = TrunkDriver(trunks=trunking.trunks, txn=self.txn, ids=ids,
                                            local=self.local_contact, domain=config.domains[0],
                                            user_agent=self._ua,
                                            rng=random.Random(ids.token()),
                                            down=self.trunk_legs.down,
                                            addresses=self.trunk_legs.addresses,
                                            down_addresses=self.trunk_legs.down_addresses)
        self._our_hosts = {d.lower() for d in config.domains} | {"localhost"}
        self._any_ip = False
        for lst in self._listeners:
            self._our_hosts.add(lst.host.lower())
            if lst.host in ("0.0.0.0", "::"):
                self._any_ip = True
        self.counters: dict[str, int] = {"bad_answered": 0, "bad_dropped": 0, "stray_acks": 0,
                                         "stray_responses": 0, "requests": 0,
                                         "keepalives": 0, "shed": 0, "did_not_found": 0,
                                         "trunk_calls": 0, "subscribe_flood": 0}
        # Set by the shell while it cannot keep up (its loop lags): new INVITEs and REGISTERs
        # get 503 + Retry-After, everything inside existing dialogs and transactions goes on.
        self.overloaded = False

    # -- shell-facing -----------------------------------------------------------------
    def local_contact(self, transport: str) -> LocalContact:
        for lst in self._listeners:
            if lst.transport == transport:
                return LocalContact(transport, lst.host, lst.port)
        lst = self._listeners[0]
        return LocalContact(transport, lst.host, lst.port)

    def outbox(self) -> list[tuple[bytes, Address]]:
        return self.txn.outbox()

    def events(self) -> list[SwitchEvent]:
        self._events.extend(self.registrar.events())
        calls = self.b2bua.events()
        if self.trunk_legs is not None:
            for cev in calls:
                if isinstance(cev, CallEnded):
                    self.trunk_legs.ended(cev.call_id)
        self._events.extend(self.screenpop.follow(calls))
        if self.b2bua.router is not None:
            self._events.extend(self.screenpop.follow(self.b2bua.router.events()))
        ev, self._events = self._events, []
        return ev

    def media_commands(self) -> list[tuple[int, MediaCommand]]:
        """Commands for the media workers, as (worker, command)."""
        return self.media.commands() if self.media is not None else []

    def media_events(self, events: Iterable[MediaEvent], now: float) -> None:
        """Events from the media workers."""
        for ev in events:
            self.b2bua.services.on_media(ev, now)
        self._drain(now)

    def crm_result(self, call_id: str, record: Mapping[str, Any] | None, status: str,
                   now: float) -> None:
        """The outcome of a ``CrmLookup`` (``call/crm.py``): ``status`` ``ok`` with the
        record, or ``not_found``, ``timeout``, ``error``; reported as ``call.crm``."""
        ev = self.screenpop.result(call_id, record, status, now)
        if ev is not None:
            self._events.append(ev)

    def next_deadline(self) -> float | None:
        """The earliest deadline of every timer owner (asked after every input: no list)."""
        best = self.txn.next_deadline()
        for owner in (self.registrar, self.b2bua, self.auth, self.trunk_legs, self.trunk_driver,
                      self.voicemail.mwi if self.voicemail is not None else None):
            if owner is not None:
                d = owner.next_deadline()
                if d is not None and (best is None or d < best):
                    best = d
        return best

    def handle_timer(self, now: float) -> None:
        self.txn.handle_timer(now)
        self.registrar.handle_timer(now)
        self._agents_follow_registrations(now)
        self.b2bua.handle_timer(now)
        self.auth.handle_timer(now)
        if self.trunk_legs is not None:
            self.trunk_legs.handle_timer(now)
        if self.trunk_driver is not None:
            self.trunk_driver.handle_timer(now)
        if self.voicemail is not None:
            self.voicemail.mwi.handle_timer(now)
        self._drain(now)

    def command(self, cmd: Command, now: float) -> Done:
        """Carry out a command (``call/commands.py``); raises ``CommandError``."""
        try:
            return self.b2bua.command(cmd, now)
        finally:
            self._drain(now)

    def reload(self, config: SwitchConfig, now: float) -> Reloaded:
        """Apply a re-read configuration without dropping a call (``call/reload.py``)."""
        try:
            return reload(self, config, now)
        finally:
            self._drain(now)

    def set_did_routers(self, routers: dict[str, DidRouter]) -> None:
        """The DID routers of the trunks, by trunk (a reload's new ``[dids]``)."""
        self._did_routers = routers

    def restore_bindings(self, bindings: list[Binding], now: float) -> None:
        self.registrar.restore(bindings, now)
        for agent in self.config.agents:
            if self.registrar.lookup(agent, now):
                self.b2bua.queues.agent_present(agent, True, now)
        self.b2bua.queues.settle(now)

    def start_trunks(self, now: float) -> None:
        """Start the trunks' keep-alive probes and registrations (the shell, once ready)."""
        if self.trunk_driver is not None:
            self.trunk_driver.start(now)

    def trunk_located(self, trunk: str, located: Located, now: float) -> None:
        """The shell's DNS found ``located`` for domain trunk ``trunk`` (RFC 3263): calls and
        probes use those addresses from now on."""
        if self.trunk_legs is None or trunk not in self.trunk_legs.trunks:
            return
        self.trunk_legs.located[trunk] = located
        if self.trunk_driver is not None:
            self.trunk_driver.located(trunk, now)

    def restore_voicemail(self, messages: Iterable[Message], now: float) -> None:
        """The stored voice messages (``received`` on the loop clock): the mailboxes and
        their lamps start from them, and the phones of unsolicited boxes registered before a
        restart (bindings restored first) are told at once."""
        vm = self.voicemail
        if vm is not None:
            vm.restore(messages, now)
            for box in vm.boxes:
                bindings = tuple(self.registrar.lookup(box, now))
                if bindings and self.mwi is not None and vm.mailbox(box).unsolicited:
                    self.mwi.registered(box, bindings, now)
            self._drain(now)

    def voice_message(self, box: str, message_id: str, *, delete: bool, now: float) -> bool:
        """Delete (or save) one message for the API; False when the box has no such message.
        The row and file follow through the events, the lamps at once."""
        vm = self.voicemail
        if vm is None or not vm.has(box) or vm.boxes[box].get(message_id) is None:
            return False
        (vm.delete if delete else vm.save)(box, message_id)
        vm.changed(box, now)
        self._drain(now)
        return True

    def shutdown(self, now: float) -> None:
        if self.trunk_driver is not None:
            self.trunk_driver.stop(now)
        self.b2bua.shutdown(now)
        self._drain(now)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One whole message from ``source`` (a datagram, or a frame cut from a stream)."""
        if not data.strip(b"\r\n\0"):
            self.counters["keepalives"] += 1  # RFC 5626 CRLF keep-alive over UDP
            return
        try:
            msg = parse_message(data, max_size=self._max_size, stream=source.reliable)
        except SipParseError as err:
            self._bad_input(data, err, source)
            return
        try:
            self.txn.receive(msg, source, now)
        except SipParseError as err:  # a lazily checked header read by the transaction layer
            self._bad_input(data, err, source)
            return
        self._drain(now)

    def answer_bad(self, data: bytes, err: SipParseError, source: Address) -> None:
        """Answer input that failed parsing or framing, when it is an answerable request."""
        self._bad_input(data, err, source)

    # -- dispatch ---------------------------------------------------------------------
    def _drain(self, now: float) -> None:
        for _ in range(1000):
            evs = self.txn.events()
            if not evs:
                self.b2bua.queues.settle(now)  # the router's decisions, once per input
                if self.mwi is not None:
                    self.mwi.flush(now)  # the lamps of mailboxes that changed
                return
            for ev in evs:
                if isinstance(ev, RequestReceived):
                    self.counters["requests"] += 1
                    self._on_request(ev, now)
                elif isinstance(ev, ResponseReceived):
                    if (self.trunk_driver is None or not self.trunk_driver.on_response(ev, now)) \
                            and (self.mwi is None or not self.mwi.on_response(ev, now)):
                        self.b2bua.on_response(ev, now)
                elif isinstance(ev, AckReceived):
                    if not self.b2bua.on_ack(ev, now):
                        self.counters["stray_acks"] += 1
                elif isinstance(ev, TransactionTimeout):
                    if (self.trunk_driver is None or not self.trunk_driver.on_timeout(ev, now)) \
                            and (self.mwi is None or not self.mwi.on_timeout(ev.txn_id, now)):
                        self.b2bua.on_timeout(ev, now)
                elif isinstance(ev, StrayResponse):
                    self.counters["stray_responses"] += 1

    def _on_request(self, ev: RequestReceived, now: float) -> None:
        req = ev.request
        method = req.method
        try:
            in_dialog = method != "CANCEL" and req.to.tag is not None
            refused = refusal(req, in_dialog=in_dialog)
            if refused is not None and method == "INVITE" and not in_dialog:
                self._refuse(ev, refused.status, refused.reason, now, _from_user(req),
                             refused.headers)
            elif refused is not None:
                self._reply(ev, refused.status, refused.reason, now, refused.headers)
            elif method == "CANCEL":
                self._on_cancel(ev, now)
            elif in_dialog and method == "SUBSCRIBE" and self.mwi is not None \
                    and self.mwi.knows(ev):
                self._on_subscribe_refresh(ev, now)
            elif in_dialog:
                if not self.b2bua.in_dialog(ev, now):
                    self._reply(ev, 481, "Call/Transaction Does Not Exist", now)
            elif method in ("INVITE", "REGISTER") and self.overloaded:
                # shed new work first, keep the calls we have (RFC 3261 §21.5.4, RFC 7339 spirit)
                self.counters["shed"] += 1
                self._reply(ev, 503, "Service Unavailable", now, (("Retry-After", "5"),))
                if method == "INVITE":
                    self.b2bua.refused(ev, 503, "Service Unavailable", now,
                                       caller=_from_user(req), callee=req.uri.user or "",
                                       why="overloaded")
            elif method == "INVITE":
                self._on_invite(ev, now)
            elif method == "REGISTER":
                self._on_register(ev, now)
            elif method == "OPTIONS":
                self._reply(ev, 200, "OK", now, (("Allow", ALLOW), ("Accept", "application/sdp"),
                                                 ("Accept-Language", "en"),
                                                 ("Supported", ", ".join(
                                                     sorted(SUPPORTED_EXTENSIONS)))))
            elif method in ("BYE", "PRACK"):  # outside any dialog: nothing to end or PRACK
                self._reply(ev, 481, "Call/Transaction Does Not Exist", now)
            elif method == "SUBSCRIBE":
                self._on_subscribe(ev, now)
            elif method in KNOWN_METHODS:
                self._reply(ev, 405, "Method Not Allowed", now, (("Allow", ALLOW),))
            else:
                self._reply(ev, 501, "Not Implemented", now, (("Allow", ALLOW),))
        except SipParseError as err:
            # a header the switch reads only now (Contact, Expires, Max-Forwards…) is broken
            self._reply(ev, err.status, err.reason, now)

    def _on_cancel(self, ev: RequestReceived, now: float) -> None:
        tid = self.txn.server_txn_for_cancel(ev.request)
        if tid is None:
            self._reply(ev, 481, "Call/Transaction Does Not Exist", now)
            return
        self._reply(ev, 200, "OK", now)
        self.b2bua.cancel(tid, now)

    def _on_register(self, ev: RequestReceived, now: float) -> None:
        req = ev.request
        if not self._is_ours(req.uri.host):
            self._reply(ev, 404, "Domain Not Served", now)
            return
        res = self._authenticate(ev, now, proxy=False)
        if res.outcome is not AuthOutcome.OK:
            self._reply(ev, res.status, res.reason, now, res.headers)
            return
        if req.to.uri.user != res.user:
            log.warning("register_other_user", user=res.user, aor=req.to.uri.user)
            self._reply(ev, 403, "Forbidden", now)
            return
        assert res.user is not None
        ans = self.registrar.handle(req, res.user, ev.source, now)
        self._reply(ev, ans.status, ans.reason, now, ans.headers)
        self._agents_follow_registrations(now)

    def _on_subscribe(self, ev: RequestReceived, now: float) -> None:
        """An out-of-dialog SUBSCRIBE: only ``message-summary`` of the subscriber's own
        mailbox (489 another package, 401 challenge, 403 someone else's box, 404 no box)."""
        req = ev.request
        try:
            subscribe_of(req, sub_id="", mailbox="")
        except SipParseError as err:
            extra = (("Allow-Events", ALLOW_EVENTS),) if err.status == 489 else ()
            self._reply(ev, err.status, err.reason, now, extra)
            return
        if not self._is_ours(req.uri.host) or self.mwi is None or self.voicemail is None:
            self._reply(ev, 404, "Not Found", now)
            return
        if not req.headers.get_raw_all("authorization") and not self._may_challenge(ev, now):
            return
        res = self._authenticate(ev, now, proxy=False)
        if res.outcome is not AuthOutcome.OK:
            self._reply(ev, res.status, res.reason, now, res.headers)
            return
        box = req.uri.user or ""
        if box != res.user:
            log.warning("mwi_other_box", user=res.user, box=box)
            self._reply(ev, 403, "Forbidden", now)
            return
        if not self.voicemail.has(box):
            self._reply(ev, 404, "Not Found", now)
            return
        self.mwi.subscribe(ev, box, now)

    def _on_subscribe_refresh(self, ev: RequestReceived, now: float) -> None:
        """A SUBSCRIBE in one of our message-summary dialogs (a refresh, or ``Expires: 0``):
        challenged like the initial one (RFC 3261 §22.1 lets a UAS challenge any request, as
        Asterisk does every request of an endpoint with auth), within the same per-source
        budget; answered only with the credentials of the box's owner (403 otherwise)."""
        assert self.mwi is not None
        box = self.mwi.box_of(ev) or ""
        if not ev.request.headers.get_raw_all("authorization") \
                and not self._may_challenge(ev, now):
            return
        res = self._authenticate(ev, now, proxy=False)
        if res.outcome is not AuthOutcome.OK:
            self._reply(ev, res.status, res.reason, now, res.headers)
            return
        if res.user != box:
            log.warning("mwi_other_box", user=res.user, box=box, refresh=True)
            self._reply(ev, 403, "Forbidden", now)
            return
        self.mwi.subscribe(ev, box, now)

    def _may_challenge(self, ev: RequestReceived, now: float) -> bool:
        """A SUBSCRIBE without credentials gets a challenge (a nonce kept) only within its
        source's budget; beyond it, 503 + Retry-After, counted, logged once per episode."""
        src = ev.source
        verdict = self._subscribe_limit.check((src.transport, src.host, src.port), now)
        if verdict.allowed:
            return True
        self.counters["subscribe_flood"] += 1
        if verdict.first_refusal:
            log.warning("subscribe_flood", source=_hostport(src), transport=src.transport,
                        limit=CHALLENGED_SUBSCRIBES[0], window_s=CHALLENGED_SUBSCRIBES[1])
        self._reply(ev, 503, "Service Unavailable", now,
                    (("Retry-After", str(verdict.retry_after)),))
        return False

    def _agents_follow_registrations(self, now: float) -> None:
        """Agents are logged in while they have a registered contact (CONTRACT)."""
        changes = self.registrar.events()
        self._events.extend(changes)
        for ch in changes:
            if ch.user in self.config.agents:
                self.b2bua.queues.agent_present(ch.user, bool(ch.bindings), now)
            vm = self.voicemail
            if vm is not None and self.mwi is not None and vm.has(ch.user) \
                    and vm.mailbox(ch.user).unsolicited:
                self.mwi.registered(ch.user, ch.bindings, now)

    def _on_invite(self, ev: RequestReceived, now: float) -> None:
        trunk = (self.trunk_peers.match(ev.source.host, ev.source.port)
                 if self.trunk_peers is not None else None)
        policy = (self.config.trunking.trunks[trunk].session_timer if trunk is not None
                  else self.b2bua.timer_policy)
        if not self._session_timer(ev, policy, now):
            return
        if trunk is not None:
            self.b2bua.leg_dtmf[ev.txn_id] = self.config.trunking.trunks[trunk].dtmf
        try:
            self._new_invite(ev, trunk, now)
        finally:
            self.b2bua.timer_offers.pop(ev.txn_id, None)
            self.b2bua.leg_dtmf.pop(ev.txn_id, None)

    def _session_timer(self, ev: RequestReceived, policy: TimerPolicy, now: float) -> bool:
        """RFC 4028 for a new INVITE under ``policy``: the timer its call's 2xx will carry,
        or the answer refusing it (400 unreadable, 420 ``timer`` required where it is off,
        422 an interval below our minimum); False when refused."""
        req = ev.request
        if not policy.on and has_tag(req.headers, "require"):
            self._reply(ev, 420, "Bad Extension", now, (("Unsupported", TAG),))
            return False
        try:
            got = sessiontimers.offered(policy, req)
        except BadHeader as err:
            self._reply(ev, 400, str(err), now)
            return False
        if isinstance(got, TooSmall):
            log.info("session_interval_too_small", sip_call_id=req.call_id, min_se=got.min_se)
            self._reply(ev, got.status, got.reason, now, got.headers)
            return False
        self.b2bua.timer_offers[ev.txn_id] = (policy, got)
        return True

    def _new_invite(self, ev: RequestReceived, trunk: str | None, now: float) -> None:
        req = ev.request
        if trunk is not None:  # a carrier's call: its address is its authentication
            self._from_trunk(ev, trunk, now)
            return
        res = self._authenticate(ev, now, proxy=True)
        if res.outcome is AuthOutcome.FORBIDDEN:  # an attempt, refused: it gets a CDR
            self._refuse(ev, res.status, res.reason, now, res.user or _from_user(req),
                         why=res.failure)
            return
        if res.outcome is not AuthOutcome.OK:  # a challenge: not a call attempt (yet)
            self._reply(ev, res.status, res.reason, now, res.headers)
            return
        assert res.user is not None
        uri = req.uri
        rep = replaces_of(req)
        if rep is not None:  # a phone taking over a leg of a call (RFC 3891)
            if not replace(self.b2bua, ev, rep, res.user, now):
                self._refuse(ev, 481, "Call/Transaction Does Not Exist", now, res.user,
                             why="Replaces names no dialog")
            return
        if not self._is_ours(uri.host) or not uri.user:
            self._refuse(ev, 404, "Not Found", now, res.user, why="domain not served")
            return
        if uri.user.startswith("*2") and res.user in self.config.agents:
            self._feature(ev, res.user, uri.user, now)
            return
        if uri.user == VOICEMAIL_CODE:
            self._mailbox_menu(ev, res.user, now)
            return
        target: Target | None = self.dialplan.resolve(uri.user, caller=res.user)
        if target is None and self.trunk_legs is not None:
            self._outside(ev, res.user, uri.user, now)
            return
        if target is None:
            self._refuse(ev, 404, "Not Found", now, res.user, why="no such number")
            return
        self._to_target(ev, res.user, target, now)

    def _outside(self, ev: RequestReceived, caller: str, dialled: str, now: float) -> None:
        """An authenticated phone (``caller``) dialled a number the dial plan does not know:
        the outbound router decides; a call goes out on a trunk leg, else the refusal (or
        404: not an outside number) is answered here."""
        assert self.trunk_legs is not None
        decision = self.trunk_legs.decide(caller=caller, dialled=dialled, now=now)
        if isinstance(decision, OutboundCall):
            self.trunk_legs.start(ev, caller=caller, decision=decision, now=now)
        elif isinstance(decision, OutboundRefused):
            self._refuse(ev, decision.status, decision.reason, now, caller,
                         why=f"outbound: {decision.why}")
        else:
            self._refuse(ev, 404, "Not Found", now, caller, why="no such number")

    def _from_trunk(self, ev: RequestReceived, trunk: str, now: float) -> None:
        """A new INVITE from ``trunk``'s address: its DID says where it goes (404 and
        counted when it is no DID of ours); it never reaches another trunk."""
        req = ev.request
        caller = _from_user(req)
        mode = self.config.trunking.trunks[trunk].rel100
        if refuses_required(req, mode):  # the trunk is configured without 100rel
            self._refuse(ev, 420, "Bad Extension", now, caller, (("Unsupported", OPTION_TAG),),
                         why=f"trunk {trunk}: 100rel off")
            return
        try:
            to_user = req.to.uri.user
        except SipParseError:
            to_user = None
        found = self._did_routers[trunk].route(request_user=req.uri.user, to_user=to_user)
        if isinstance(found, DidNotFound):
            self.counters["did_not_found"] += 1
            log.info("did_not_found", trunk=trunk, did=found.did, caller=caller)
            self._refuse(ev, 404, "Not Found", now, caller, why=f"no DID {found.did}")
            return
        target: Target | None = found.target
        if isinstance(target, NumberTarget):
            target = self.dialplan.resolve(target.number)
        if target is None or isinstance(target, OutsideTarget):
            self._refuse(ev, 404, "Not Found", now, caller, why=f"DID {found.did}: no target")
            return
        self.counters["trunk_calls"] += 1
        diverted = diverted_from(req)
        log.info("inbound_call", trunk=trunk, did=found.did, caller=caller, target=str(target),
                 sip_call_id=req.call_id,
                 diversion=diverted.number if diverted is not None else None)
        b2 = self.b2bua
        b2.dids[ev.txn_id] = found.did
        b2.reliable.modes[ev.txn_id] = mode
        if diverted is not None:
            b2.diversions[ev.txn_id] = diverted.number
        try:
            self._to_target(ev, caller, target, now)
        finally:
            b2.dids.pop(ev.txn_id, None)
            b2.reliable.modes.pop(ev.txn_id, None)
            b2.diversions.pop(ev.txn_id, None)

    def _to_target(self, ev: RequestReceived, caller: str, target: Target,
                   now: float) -> None:
        """Start the call of ``caller``'s new INVITE in ``ev`` to ``target``."""
        req = ev.request
        if isinstance(target, ServiceTarget):
            self.b2bua.services.start_service(ev, caller=caller, service=target.name, now=now)
            return
        if isinstance(target, IvrTarget):
            self.b2bua.services.start_service(ev, caller=caller, service="ivr", now=now,
                                     arg=target.menu)
            return
        if isinstance(target, QueueTarget):
            self.b2bua.services.start_service(ev, caller=caller, service="queue", now=now,
                                     arg=target.queue, priority=target.priority or 0)
            return
        if isinstance(target, RoomTarget):
            self.b2bua.services.start_service(ev, caller=caller, service="room", now=now,
                                     arg=target.room)
            return
        if isinstance(target, SuperviseTarget):
            self._supervise(ev, caller, target, now)
            return
        if isinstance(target, VoicemailTarget):
            self.b2bua.services.start_service(ev, caller=caller, service="voicemail",
                                              now=now, arg=target.box)
            return
        if not isinstance(target, UserTarget):
            why = f"{target} not available yet"
            self._refuse(ev, 480, "Temporarily Unavailable", now, caller,
                         (("Warning", f'399 ccswitch "{why}"'),), why=why)
            return
        bindings = self.registrar.lookup(target.user, now)
        if not bindings and self.voicemail is not None and self.voicemail.has(target.user):
            # nobody to ring: the user's mailbox takes the call
            self.b2bua.services.start_service(ev, caller=caller, service="voicemail",
                                              now=now, arg=target.user)
            return
        if not bindings:
            self._refuse(ev, 480, "Temporarily Unavailable", now, caller,
                         why="user not registered")
            return
        user = self.config.users.get(caller)
        display = user.display if user is not None and user.display else req.from_.display
        self.b2bua.start(ev, caller=caller, display=display, callee=target.user,
                         bindings=bindings, now=now)

    def _feature(self, ev: RequestReceived, agent: str, code: str, now: float) -> None:
        """An agent's feature code: done at once, confirmed by a prompt, then hung up."""
        done = self.b2bua.queues.feature(agent, code, now)
        log.info("agent_feature", agent=agent, code=code, done=done)
        self.b2bua.services.start_service(ev, caller=agent, service="say", now=now,
                                 arg="goodbye" if done else "invalid")

    def _mailbox_menu(self, ev: RequestReceived, user: str, now: float) -> None:
        """``*97``: the caller's own mailbox menu (PIN asked); without a mailbox with a PIN, a
        refusal prompt."""
        vm = self.voicemail
        if vm is None or not vm.has(user) or vm.mailbox(user).pin is None:
            log.info("voicemail_menu_refused", user=user)
            self.b2bua.services.start_service(ev, caller=user, service="say", now=now,
                                              arg="not-allowed")
            return
        self.b2bua.services.start_service(ev, caller=user, service="mailbox", now=now,
                                          arg=user)

    def _supervise(self, ev: RequestReceived, user: str, target: SuperviseTarget,
                   now: float) -> None:
        """A supervision code: only a supervisor of one of the agent's queues may (403)."""
        if not self._may_supervise(user, target.agent):
            self._refuse(ev, 403, "Forbidden", now, user,
                         why=f"{user} may not supervise {target.agent}")
            return
        self.b2bua.services.start_supervise(ev, caller=user, agent=target.agent, mode=target.mode,
                                   now=now)

    def _may_supervise(self, supervisor: str, agent: str) -> bool:
        agents_queues = {name: tuple(u.agent.queues) for name, u in self.config.agents.items()
                         if u.agent is not None}
        return may_supervise(self.config.supervisors.get(supervisor), agent, agents_queues)

    def _may_transfer(self, user: str) -> bool:
        u = self.config.users.get(user)
        return u is not None and u.transfer

    def _user_dtmf(self, user: str) -> str:
        u = self.config.users.get(user)
        return u.dtmf if u is not None else "auto"

    # -- helpers ----------------------------------------------------------------------
    def _credentials(self, user: str) -> Credentials | None:
        u = self.config.users.get(user)
        if u is None:
            return None
        algs = tuple(u.algorithms) if u.algorithms else None
        return Credentials(u.password, algs)

    def _is_ours(self, host: str) -> bool:
        h = host.lower().strip("[]")
        if h in self._our_hosts or h.startswith("127."):
            return True
        return self._any_ip and _is_ip(h)

    def _authenticate(self, ev: RequestReceived, now: float, *, proxy: bool) -> AuthResult:
        """Check the request's credentials; refused ones are logged for the operator
        (fail2ban): ``auth_failed`` for each, ``auth_blocked`` when a block starts."""
        res = self.auth.check(ev.request, source_host=ev.source.host, now=now, proxy=proxy)
        if res.failure:
            src = ev.source
            log.info("auth_failed", user=res.user or "", source=_hostport(src),
                     ip=src.host, reason=res.failure, method=ev.request.method,
                     transport=src.transport, failures=res.failures)
            if res.blocked:
                log.warning("auth_blocked", user=res.user or "",
                            source=_hostport(src), ip=src.host,
                            failures=res.failures, block_s=self.config.auth.failure_window)
        return res

    def _refuse(self, ev: RequestReceived, status: int, reason: str, now: float, caller: str,
                extra: Iterable[tuple[str, str]] = (), *, why: str = "") -> None:
        """Answer a new INVITE with a final failure; it is logged and gets a CDR."""
        self._reply(ev, status, reason, now, extra)
        self.b2bua.refused(ev, status, reason, now, caller=caller,
                           callee=ev.request.uri.user or "", why=why)

    def _reply(self, ev: RequestReceived, status: int, reason: str, now: float,
               extra: Iterable[tuple[str, str]] = ()) -> None:
        headers = [(n, v) for n, v in extra if v]
        if status == 200 or status >= 400:
            headers.append(("Server", self._ua))
        resp = make_response(ev.request, status, reason,
                             to_tag=self._ids.tag() if status > 100 else None, headers=headers)
        self.txn.send_response(ev.txn_id, resp, now)

    def _bad_input(self, data: bytes, err: SipParseError, source: Address) -> None:
        """Answer a malformed request when its headers allow it; otherwise drop and count."""
        req = _salvage_request(data)
        if req is None or req.method == "ACK":
            self.counters["bad_dropped"] += 1
            log.debug("sip_dropped", source=str(source), reason=err.reason)
            return
        self.counters["bad_answered"] += 1
        log.info("sip_bad_request", source=str(source), status=err.status, reason=err.reason)
        resp = make_response(req, err.status, err.reason, headers=(("Server", self._ua),))
        self.txn.send_stateless(resp, source)


def _salvage_request(data: bytes) -> Request | None:
    """The request line and the headers an answer copies, read leniently from a message that
    failed parsing (any line ends, stray lines skipped, bytes that are not UTF-8 replaced)."""
    data = data.lstrip(b"\r\n")
    end, _ = find_head_end(data)
    head = (data[:end] if end >= 0 else data).decode("utf-8", "replace")
    lines = head.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    parts = lines[0].split()
    if len(parts) < 2 or lines[0].startswith("SIP/") or not is_token(parts[0]):
        return None  # a response, or not a request line at all
    keep: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = normalize(name.strip(" \t")) if colon else ""
        if key in _ECHOED and "\x00" not in value:
            keep.append((key, name.strip(" \t"), value.strip(" \t")))
    if not any(k == "via" for k, _, _ in keep):
        return None  # nowhere to route an answer by
    return Request(parts[0], parts[1], Headers._from_parsed(keep))


def _hostport(addr: Address) -> str:
    """``HOST:PORT`` (``[v6]:PORT``), the form fail2ban and people read."""
    host = f"[{addr.host}]" if ":" in addr.host else addr.host
    return f"{host}:{addr.port}"


def _from_user(req: Request) -> str:
    """The user the From header claims (for the CDR of an attempt refused before auth)."""
    try:
        return req.from_.uri.user or ""
    except SipParseError:
        return ""


def _is_ip(host: str) -> bool:
    if ":" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


