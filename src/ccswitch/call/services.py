"""Calls the switch answers itself — echo, tone, IVR — and calls it bridges onward after
answering (an IVR's transfer to a user, a queue ringing its agents).  A mixin of ``B2bua``:
the methods take ``self: B2bua`` and use its legs, transactions and timers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from ..dialplan import Target, TargetError, parse_target
from ..ivr.flow import Flow, FlowRunner, HandOff, HangupReq, IvrCall, QueueReq, TransferReq
from ..ivr.menu import MenuError, menu_flow
from ..media.commands import (
    Connect,
    Detect,
    Digit,
    LegFailed,
    MediaEvent,
    Play,
    PlayDone,
    PlayTone,
    RecordSilence,
    RtpTimeout,
    StopPlay,
    WorkerDied,
)
from ..media.dtmf import DtmfError, parse_info_dtmf
from ..media.ports import PortsExhausted
from ..sdp.negotiator import NotAcceptable
from ..sip.message import make_response
from ..sip.transaction import RequestReceived
from . import dtmfwork, recpause, sessiontimers
from .bridge import Role
from .events import CallAnswered
from .ivr import IvrSession
from .legevents import MediaLost
from .rooms import ADMIT, RoomFull, pin_flow
from .state import ALLOW, Call, Leg, Phase, set_sdp
from .supervise import ROLES, Mode
from .targets import route
from .transfer import target_failed, transfer_answered, transfer_to_voicemail
from .voicemail import DIVERT_STATUSES, VoicemailSession

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

SERVICES = frozenset({"echo", "tone", "ivr"})


def say_flow(prompt: str) -> Flow:
    """A flow that plays ``prompt`` and hangs up (feature-code confirmations)."""
    async def flow(call: IvrCall) -> None:
        await call.play(prompt, interruptible=False)
        await call.hangup()

    return flow


class Services:
    """Calls the switch answers itself (echo, tone, IVR, queue entry, rooms, supervision,
    prompts) and answered calls rung onward: a collaborator of ``B2bua`` (``sw.services``)."""

    def __init__(self, sw: B2bua) -> None:
        self.sw = sw

    # -- answering ourselves -----------------------------------------------------------
    def start_service(self, ev: RequestReceived, *, caller: str, service: str,
                      now: float, arg: str = "", worker: int | None = None,
                      priority: int = 0) -> None:
        """Answer the caller's INVITE ourselves: ``echo`` (it hears itself), ``tone`` (a
        steady 1000 Hz tone), ``ivr`` (the menu ``arg``), ``queue``, ``room`` (the conference
        room ``arg``), ``supervise`` (``arg`` is MODE:AGENT) or ``say`` (a prompt, then
        goodbye), until it hangs up."""
        inv = ev.request
        callee = f"{service}:{arg}" if arg else service
        vm = self.sw.voicemail
        if (service == "ivr" and arg not in self.sw.menus) or (
                service == "queue" and arg not in self.sw.queue_settings) or (
                service == "room" and arg not in self.sw.rooms) or (
                service in ("voicemail", "mailbox") and (vm is None or not vm.has(arg))):
            self.sw._reply(ev, 404, "Not Found", now)
            self.sw.refused(ev, 404, "Not Found", now, caller=caller, callee=callee,
                         why=f"no {service} {arg}")
            return
        if service == "room":
            worker = self.sw.rooms.worker_for(arg)
        cm = self.sw._anchor(ev, ("a",), now, caller=caller, callee=callee, worker=worker)
        if cm is False:
            return
        if cm is None:
            self.sw._reply(ev, 480, "Temporarily Unavailable", now,
                        (("Warning", '399 ccswitch "media is not anchored"'),))
            self.sw.refused(ev, 480, "Temporarily Unavailable", now, caller=caller,
                         callee=callee, why="media is not anchored")
            return
        if inv.body:
            sdp = cm.answer_locally("a", inv.body)
            if isinstance(sdp, NotAcceptable):
                cm.close()
                self.sw._reply(ev, 488, "Not Acceptable Here", now,
                            (("Warning", f'304 ccswitch "{sdp.reason}"'),))
                self.sw.refused(ev, 488, "Not Acceptable Here", now, caller=caller,
                             callee=callee, why=f"sdp: {sdp.reason}")
                return
        else:
            sdp = cm.offer_locally("a")  # delayed offer: the ACK brings the answer
        call = self.sw._new_call(ev, caller, callee, now, cm)
        log.info("service_started", call_id=call.key, sip_call_id=inv.call_id, caller=caller,
                 service=service, arg=arg)
        call.answered = now
        a = call.caller_leg
        resp = make_response(inv, 200, "OK", to_tag=a.dialog.local_tag,
                             headers=[("Contact", a.me.contact()), ("Allow", ALLOW)])
        set_sdp(resp, sdp)
        self.sw._by_a_txn.pop(a.txn_id, None)
        a.ok = resp
        sessiontimers.sending_2xx(self.sw, call, a, resp, now)
        self.sw._txn.send_response(a.txn_id, resp, now)
        call.phase = Phase.SERVICE  # until the service below says more
        self.sw._events.append(CallAnswered(call.key, service, now))
        self.sw._arm_2xx_retx(call, now)
        if service == "ivr":
            self._start_ivr(call, arg, now)
        elif service == "say":
            self._start_flow(call, say_flow(arg), now)
        elif service == "queue":
            self.sw.queues.enqueue(call, arg, now, priority=priority)
        elif service == "room":
            pin = self.sw.rooms.settings[arg].pin
            if pin:
                self._start_flow(call, pin_flow(arg, pin), now)
            else:
                self._enter_room(call, arg, now)
        elif service == "voicemail":
            self.start_voicemail(call, arg, now)
        elif service == "mailbox":
            self.start_mailbox(call, arg, now)
        elif service == "supervise":
            mode, _, agent = arg.partition(":")
            self._supervise(call, agent, mode, now)  # type: ignore[arg-type]
        else:
            self._become(call, service)

    # -- rooms and supervision: legs joining another bridge -------------------------------
    def _enter_room(self, call: Call, room: str, now: float) -> None:
        cm = call.media
        assert cm is not None
        call.service, call.ivr = "room", None
        call.phase = Phase.ROOM
        self.sw._timers.cancel(("ivr", call.key))
        try:
            joined = self.sw.rooms.join(room, cm.leg("a"), call.key, now=now)
        except (RoomFull, PortsExhausted) as e:
            log.info("room_full", call_id=call.key, room=room, why=type(e).__name__)
            self._start_flow(call, say_flow("conference-full"), now)
            return
        call.room = room
        if joined.recording is not None and cm.recording_file is None:
            cm.recording_file = joined.recording.path  # its CDR names the room's recording

    def start_supervise(self, ev: RequestReceived, *, caller: str, agent: str, mode: Mode,
                        now: float) -> None:
        """A supervisor dialled a supervision code: its call is answered on the worker of the
        agent's call and joins that call's bridge (a prompt says when there is none)."""
        found = self.agent_call(agent)
        if found is None or found[0].media is None:
            self.start_service(ev, caller=caller, service="say", arg="nobody-to-supervise",
                               now=now)
            return
        self.start_service(ev, caller=caller, service="supervise", arg=f"{mode}:{agent}",
                           now=now, worker=found[0].media.worker)

    def agent_call(self, agent: str) -> tuple[Call, int] | None:
        """The live call ``agent`` talks in, and the agent's media leg in it."""
        for call in self.sw._calls.values():
            cm = call.media
            if not call.live or cm is None or cm.bridge is None or \
                    "b" not in cm.legs or call.supervising is not None:
                continue
            parties = cm.bridge.parties()
            if call.queue_agent == agent or (call.queue_agent is None and call.callee == agent):
                leg = cm.leg("b")
            elif call.caller == agent:
                leg = cm.leg("a")
            else:
                continue
            if leg in parties and call.phase is not Phase.BRIDGING:  # not one ringing onward
                return call, leg
        return None

    def _supervise(self, call: Call, agent: str, mode: Mode, now: float) -> None:
        """The supervisor's answered ``call`` joins ``agent``'s call in ``mode``."""
        found = self.agent_call(agent)
        cm = call.media
        assert cm is not None
        if found is None or found[0].media is None or found[0].media.worker != cm.worker:
            self._start_flow(call, say_flow("nobody-to-supervise"), now)
            return
        target, agent_leg = found
        call.service = "supervise"
        call.phase = Phase.SERVICE
        call.supervising = (target.key, agent_leg)
        target.supervisors.append(call.key)
        cm.plan.send(cm.worker, Detect(cm.leg("a"), inband=True))
        self.supervise_mode(call, mode)
        log.info("supervision_started", call_id=call.key, supervised=target.key, agent=agent,
                 mode=mode)

    def supervise_mode(self, call: Call, mode: Mode) -> None:
        """Put the supervisor's ``call`` in ``mode`` (listen, whisper, barge)."""
        assert call.supervising is not None and call.media is not None
        target = self.sw._calls.get(call.supervising[0])
        if target is None or target.media is None or target.media.bridge is None:
            return
        role, bridge = ROLES[mode], target.media.bridge
        coach = call.supervising[1]
        if role is Role.WHISPER and coach not in bridge.parties():
            # the agent's leg left the call (a transfer): nobody to whisper to, so listen
            log.info("supervision_no_whisper", call_id=call.key, supervised=target.key)
            role, mode = Role.LISTEN, "listen"
        bridge.join(call.media.leg("a"), role, coach=coach if role is Role.WHISPER else None)
        log.info("supervision_mode", call_id=call.key, supervised=target.key, mode=mode)

    def _leave_bridges(self, call: Call, now: float) -> None:
        """``call`` is ending: its legs leave the bridges of other calls and rooms, and the
        supervisors of its own bridge are hung up."""
        cm = call.media
        if cm is not None and call.room is not None:
            self.sw.rooms.leave(cm.leg("a"))
            call.room = None
        if call.supervising is not None and cm is not None:
            target = self.sw._calls.get(call.supervising[0])
            if target is not None and target.media is not None and target.media.bridge:
                target.media.bridge.leave(cm.leg("a"))
                if call.key in target.supervisors:
                    target.supervisors.remove(call.key)
            call.supervising = None
        for key in call.supervisors:
            sup = self.sw._calls.get(key)
            if sup is not None and sup.phase is not Phase.ENDED:
                sup.supervising = None  # our bridge goes away with us
                self.sw._hangup_both(sup, now)
                self.sw._end(sup, 200, "supervised call ended", now, "switch")
        call.supervisors = []

    def _become(self, call: Call, service: str) -> None:
        """Turn ``call`` into the echo or tone service."""
        cm = call.media
        assert cm is not None
        call.service = service
        call.phase = Phase.SERVICE
        plan, leg = cm.plan, cm.leg("a")
        plan.send(cm.worker, Detect(leg, inband=True))
        if service == "echo":
            plan.send(cm.worker, Connect(leg, leg))
        else:
            plan.send(cm.worker, Play(leg, plan.next_id(), PlayTone("1000hz"), loop=True))

    def _start_ivr(self, call: Call, menu: str, now: float) -> None:
        self._start_flow(call, menu_flow(self.sw.menus, menu), now)

    def _start_flow(self, call: Call, flow: Flow, now: float) -> None:
        assert call.media is not None
        call.service = "ivr"
        call.phase = Phase.IVR
        ivr_call = IvrCall(caller=call.caller, dialled=call.callee,
                           vars=call.start_vars())
        runner = FlowRunner(flow, ivr_call)
        call.ivr = IvrSession(call_id=call.key, runner=runner, media=call.media,
                              prompt_path=self.sw.prompt_path,
                              on_sensitive=functools.partial(self._sensitive, call))
        self._after_ivr(call, call.ivr.start(now), now)

    def _sensitive(self, call: Call, menu: str | None, now: float) -> None:
        """A sensitive menu holds a pause of the call's recording while the caller is in it
        (from one sensitive menu to the next the pause goes on; a recording started
        meanwhile starts paused).  When the caller leaves it the pause is held
        ``recpause.GUARD`` seconds more: the tail of the last key (detected as it starts,
        and heard through the jitter buffer) stays out of the file."""
        cm = call.media
        if cm is None:
            return
        key = ("unpause", call.key)
        if menu is None:
            if recpause.IVR in cm.pause_holds:
                self.sw._timers.arm(key, now + recpause.GUARD)
            return
        self.sw._timers.cancel(key)
        if recpause.IVR not in cm.pause_holds:
            log.info("ivr_sensitive", call_id=call.key, menu=menu)
            ev = recpause.hold(call, recpause.IVR, f"ivr:{menu}", now)
            if ev is not None:
                self.sw._events.append(ev)

    def sensitive_over(self, call: Call, now: float) -> None:
        """The guard after a sensitive menu ran out: the menu lets go of its pause."""
        held = call.media.pause_holds.get(recpause.IVR) if call.media is not None else None
        if held is not None:
            ev = recpause.release(call, recpause.IVR, held, now)
            if ev is not None:
                self.sw._events.append(ev)

    # -- voicemail ---------------------------------------------------------------------
    def start_voicemail(self, call: Call, box: str, now: float) -> bool:
        """The answered ``call`` leaves a message in ``box`` (a full box: goodbye)."""
        vm = self.sw.voicemail
        if vm is None or not vm.has(box) or call.media is None:
            return False
        if vm.full(box):
            log.info("voicemail_full", call_id=call.key, box=box)
            self._start_flow(call, say_flow("goodbye"), now)
            return True
        message_id, machine = vm.deposit(box, call.caller)
        log.info("voicemail_deposit", call_id=call.key, box=box, message=message_id)
        self._run_voicemail(call, VoicemailSession(
            call_id=call.key, machine=machine, media=call.media,
            prompt_path=self.sw.prompt_path, voicemail=vm, message_id=message_id), now)
        return True

    def start_mailbox(self, call: Call, box: str, now: float) -> None:
        """The answered ``call`` (its caller owns ``box``) opens the mailbox menu."""
        vm = self.sw.voicemail
        assert vm is not None and call.media is not None
        log.info("voicemail_menu", call_id=call.key, box=box)
        self._run_voicemail(call, VoicemailSession(
            call_id=call.key, machine=vm.retrieval(box), media=call.media,
            prompt_path=self.sw.prompt_path, voicemail=vm), now)

    def _run_voicemail(self, call: Call, session: VoicemailSession, now: float) -> None:
        self.sw._timers.cancel(("ivr", call.key))
        call.service = "voicemail"
        call.phase = Phase.IVR  # digits and prompt ends reach it as they reach a flow
        call.ivr = session
        self._after_ivr(call, session.start(now), now)

    def divert_to_voicemail(self, call: Call, now: float) -> bool:
        """A user's call still ringing (``call.voicemail_box``) was not answered: CANCEL what
        rings, answer the caller ourselves and take its message.  False when it cannot (no
        mailbox, no anchored media, an SDP we cannot answer): the caller gets the failure."""
        vm, cm, box = self.sw.voicemail, call.media, call.voicemail_box
        if vm is None or cm is None or box is None or not vm.has(box) \
                or call.phase is not Phase.RINGING:
            return False
        a = call.caller_leg
        inv = a.invite
        sdp = cm.answer_locally("a", inv.body) if inv.body else cm.offer_locally("a")
        if isinstance(sdp, NotAcceptable):
            log.info("voicemail_sdp_refused", call_id=call.key, reason=sdp.reason)
            return False
        for br in call.forks():
            if br.final is None:
                br.cancelled = True
                self.sw._txn.cancel_request(br.txn_id, now)
        self.sw._timers.cancel(("ring", call.key))
        if cm.bridge is not None and "b" in cm.legs:
            cm.bridge.leave(cm.leg("b"))  # early media of a fork: no longer heard
        resp = make_response(inv, 200, "OK", to_tag=a.dialog.local_tag,
                             headers=[("Contact", a.me.contact()), ("Allow", ALLOW)])
        set_sdp(resp, sdp)
        self.sw._by_a_txn.pop(a.txn_id, None)
        a.ok = resp
        sessiontimers.sending_2xx(self.sw, call, a, resp, now)
        self.sw.reliable.to_caller(call, resp, now)
        call.answered = now
        call.phase = Phase.SERVICE
        self.sw._events.append(CallAnswered(call.key, f"voicemail:{box}", now))
        self.sw._arm_2xx_retx(call, now)
        log.info("voicemail_divert", call_id=call.key, box=box)
        return self.start_voicemail(call, box, now)

    def bridge_to_voicemail(self, call: Call, now: float) -> bool:
        """An answered call rung onward to a user with a mailbox (``call.voicemail_box``:
        a menu's hand-off or a transfer) was not answered: CANCEL what rings, the mailbox
        takes it."""
        box, vm, cm = call.voicemail_box, self.sw.voicemail, call.media
        if box is None or vm is None or cm is None or call.phase is not Phase.BRIDGING:
            return False
        call.voicemail_box = None
        for br in call.forks():
            if br.final is None:
                br.cancelled = True
                self.sw._txn.cancel_request(br.txn_id, now)
        self.sw._timers.cancel(("ring", call.key))
        if call.ringback is not None:
            cm.plan.send(cm.worker, StopPlay(cm.leg("a"), call.ringback))
            call.ringback = None
        log.info("voicemail_divert", call_id=call.key, box=box)
        if not self.start_voicemail(call, box, now):
            return False
        if call.transfer is not None:
            transfer_to_voicemail(self.sw, call, box, now)
        return True

    def _after_ivr(self, call: Call, handoffs: list[HandOff], now: float) -> None:
        """Carry out what the flow handed over, then re-arm its timer."""
        for ho in handoffs:
            if call.phase is Phase.ENDED:
                return
            self._hand_off(call, ho, now)
        session = call.ivr
        if session is None or call.phase is Phase.ENDED:
            return
        if session.finished is not None and call.phase is not Phase.BRIDGING \
                and call.service in ("ivr", "voicemail") \
                and call.room is None:
            self.sw._hangup_both(call, now)
            self.sw._end(call, 200, "IVR finished", now, "switch")
            return
        deadline = session.next_deadline()
        if deadline is None:
            self.sw._timers.cancel(("ivr", call.key))
        else:
            self.sw._timers.arm(("ivr", call.key), deadline)

    def _hand_off(self, call: Call, ho: HandOff, now: float) -> None:
        req = ho.request
        log.info("ivr_handoff", call_id=call.key, **handoff_fields(req))
        if isinstance(req, HangupReq):
            self.sw._hangup_both(call, now)
            self.sw._end(call, 200, "IVR hangup", now, "switch")
        elif isinstance(req, TransferReq):
            if req.target.startswith(ADMIT):
                self._enter_room(call, req.target[len(ADMIT):], now)
                return
            try:
                target: Target | None = parse_target(req.target)
            except TargetError:
                target = None
            if route(self.sw, call, target, now).startswith("failed:"):
                self._ivr_result(call, "unavailable", now)
        elif isinstance(req, QueueReq):
            self.sw.queues.enqueue(call, req.queue, now, priority=req.priority, skills=req.skills)

    def _ivr_result(self, call: Call, result: str, now: float) -> None:
        """Tell the call's flow how its hand-off ended; without a flow, the call is over."""
        if call.phase is Phase.ENDED:
            return
        if call.ivr is not None:
            call.phase = Phase.IVR  # the flow goes on
            self._after_ivr(call, call.ivr.on_result(result, now), now)
            return
        log.info("nothing_left_to_do", call_id=call.key, result=result)
        self.sw._hangup_both(call, now)
        self.sw._end(call, 480, result, now, "switch")

    # -- bridging an answered call onward -----------------------------------------------
    def _bridge(self, call: Call, users: list[str], now: float) -> None:
        """Ring every registered contact of ``users`` (ring-all) for answered ``call``.
        When nothing can be rung, the phase stays as it was and the caller (``route``)
        reports the failure: a transfer recalls its transferor, a menu hears "unavailable"."""
        bindings = [b for u in users for b in (self.sw.bindings_of(u, now)
                                               if self.sw.bindings_of else [])]
        if not bindings:
            return
        body = self.onward_offer(call, now)
        if body is None:
            return
        for b in bindings:
            call.callee = b.user
            self.sw._fork(call, b, None, "application/sdp", 70, now, body)
        self.ring_onward(call, now)
        log.info("bridging", call_id=call.key, contacts=len(bindings))

    def onward_offer(self, call: Call, now: float,
                     codecs: Sequence[str] | None = None) -> bytes | None:
        """The answered ``call`` rings onward: its media end ``b`` (made if missing) and our
        offer from it (``codecs``: only those, in that order); the call is BRIDGING.  None:
        no media or no RTP port (nothing changed)."""
        cm = call.media
        if cm is None:
            return None
        try:
            if "b" not in cm.legs:
                cm.legs["b"] = cm.plan.new_leg(cm.worker, now=now)
                self.sw._by_leg[cm.legs["b"].leg] = call
        except PortsExhausted:
            log.warning("rtp_ports_exhausted", call_id=call.key)
            return None
        body = cm.offer_locally("b", only=codecs)
        call.phase = Phase.BRIDGING  # earlier forks stay: their late answers must still match
        call.failure = None
        return body

    def ring_onward(self, call: Call, now: float) -> None:
        """The caller hears ringback while ``call`` rings onward, up to the ring timeout."""
        cm = call.media
        assert cm is not None
        call.ringback = cm.plan.next_id()
        cm.plan.send(cm.worker, Play(cm.leg("a"), call.ringback, PlayTone("ringback"),
                                     loop=True))
        self.sw._timers.arm(("ring", call.key), now + self.sw._ring_timeout)

    def _bridge_answered(self, call: Call, br: Leg, body: bytes,
                         now: float) -> bool:
        """A fork of ``_bridge`` answered: connect it to the caller.  False when its SDP
        cannot be used (the caller then keeps waiting on the other forks)."""
        cm = call.media
        assert cm is not None
        got = cm.accept_local_answer("b", body) if body else NotAcceptable("no SDP answer")
        if isinstance(got, NotAcceptable):
            log.warning("bridge_answer_refused", call_id=call.key,
                        reason=got.reason)
            return False
        call.answered_id = br.id
        call.phase = Phase.TALKING
        call.voicemail_box = None
        call.service = None
        call.ivr = None  # the flow is over: the call is a two-party call now
        self.sw._timers.cancel(("ring", call.key))
        self.sw._timers.cancel(("ivr", call.key))
        if call.ringback is not None:
            cm.plan.send(cm.worker, StopPlay(cm.leg("a"), call.ringback))
            call.ringback = None
        cm.connect()
        cm.plan.send(cm.worker, Detect(cm.leg("b"), inband=False))
        dtmfwork.answered(call)  # in-band detection where the two legs' modes need it
        for other in call.forks():
            if other is not br and other.final is None:
                self.sw._txn.cancel_request(other.txn_id, now)
        self.sw.count_user(call, br.agent or call.callee)
        self.sw._events.append(CallAnswered(call.key, br.dialog.remote_target, now))
        log.info("bridge_answered", call_id=call.key, callee=br.dialog.remote_target)
        if cm.plan.record_calls or (call.queue is not None and call.queue in self.sw.record_queues):
            self.sw._events.extend(recpause.start(call, now))
        if call.transfer is not None:
            transfer_answered(self.sw, call, now)
        return True

    def _bridge_failed(self, call: Call, now: float) -> None:
        """Every fork of ``_bridge`` failed: the flow (or the transfer) hears about it; a
        user with a mailbox who was busy or did not answer has it take the call."""
        code = call.failure[0] if call.failure else 480
        if code in DIVERT_STATUSES and self.bridge_to_voicemail(call, now):
            return
        call.phase = Phase.IVR if call.ivr is not None else Phase.TALKING
        self.sw._timers.cancel(("ring", call.key))
        cm = call.media
        if cm is not None and call.ringback is not None:
            cm.plan.send(cm.worker, StopPlay(cm.leg("a"), call.ringback))
            call.ringback = None
        code = call.failure[0] if call.failure else 480
        if call.transfer is not None and not call.transfer.done:
            target_failed(self.sw, call, code, now)
            return
        if call.ivr is None:
            self.sw._hangup_both(call, now)
            self.sw._end(call, code, "No answer", now, "switch")
            return
        self._ivr_result(call, f"failed:{code}", now)

    # -- in-dialog requests and media events -----------------------------------------
    def _service_request(self, call: Call, ev: RequestReceived, now: float) -> None:
        """An in-dialog request on a call the switch answered itself."""
        req, cm = ev.request, call.media
        if req.method in ("INVITE", "UPDATE") and cm is not None:
            if req.body:
                sdp = cm.answer_locally("a", req.body)
                if isinstance(sdp, NotAcceptable):
                    self.sw._reply(ev, 488, "Not Acceptable Here", now)
                    return
            elif req.method == "INVITE":
                sdp = cm.offer_locally("a")
            else:
                self.sw._reply(ev, 200, "OK", now, (("Contact", call.caller_leg.me.contact()),))
                return
            resp = make_response(req, 200, "OK", headers=[("Contact", call.caller_leg.me.contact()),
                                                           ("Allow", ALLOW)])
            set_sdp(resp, sdp)
            sessiontimers.answer_headers(call.caller_leg, resp)
            self.sw._txn.send_response(ev.txn_id, resp, now)
            if req.method == "INVITE":
                self.sw.retransmit_until_ack(call, call.caller_id, resp, now)
            return
        self.sw._reply(ev, 200, "OK", now)  # INFO (digits), OPTIONS, NOTIFY, MESSAGE
        if req.method == "INFO" and req.body and (call.ivr is not None or call.queue is not None
                                                  or call.supervising is not None):
            try:
                digit = parse_info_dtmf(req.headers.get("content-type") or "", req.body)
            except DtmfError:
                return
            if cm is None:
                return
            leg = cm.leg("a")
            with structlog.contextvars.bound_contextvars(call_id=call.key, leg=leg):
                log.info("digit", call_id=call.key, leg=leg, key=digit.key, method="info")
                # one digit stream, whatever the method
                self.sw.dispatch(call, Digit(leg, digit.key, "info"), now)

    def on_media(self, ev: MediaEvent, now: float) -> None:
        """A media worker's event: digits and prompt ends go to the IVR; a dead stream ends
        the calls it carried."""
        if isinstance(ev, Digit | PlayDone):
            call = self.sw._by_leg.get(ev.leg)
            if call is None or call.phase is Phase.ENDED:
                if isinstance(ev, Digit):
                    log.info("digit", call_id=None, leg=ev.leg, key=ev.key, method=ev.method)
                return
            # every line logged while this event is handled names the call and the leg
            with structlog.contextvars.bound_contextvars(call_id=call.key, leg=ev.leg):
                if isinstance(ev, Digit):
                    log.info("digit", call_id=call.key, leg=ev.leg, key=ev.key,
                             method=ev.method)
                self.sw.dispatch(call, ev, now)
            return
        if isinstance(ev, RecordSilence):  # a message's caller has gone quiet
            call = self.sw._by_leg.get(ev.leg)
            if call is not None and call.phase is not Phase.ENDED \
                    and isinstance(call.ivr, VoicemailSession):
                self._after_ivr(call, call.ivr.on_silence(ev.rec_id, now), now)
            return
        legs: tuple[int, ...]
        if isinstance(ev, RtpTimeout | LegFailed):
            legs = (ev.leg,)
            if isinstance(ev, LegFailed) and ev.port_busy and self.sw.media is not None:
                self.sw.media.port_busy(ev.leg, now)
        elif isinstance(ev, WorkerDied):
            legs = ev.legs
            if self.sw.media is not None:
                self.sw.media.forget_worker(ev.worker, ev.legs)
        else:
            return
        why = {RtpTimeout: "RTP timeout", LegFailed: "media leg failed",
               WorkerDied: "media worker died"}[type(ev)]
        for leg in legs:
            call = self.sw._by_leg.get(leg) or self.sw._calls.get(
                self.sw.rooms.linked_call(leg) or "")
            if call is None or call.phase is Phase.ENDED:
                continue
            log.warning("media_lost", call_id=call.key, leg=leg, reason=why)
            self.sw.dispatch(call, MediaLost(leg, why), now)

    def ivr_timer(self, call: Call, now: float) -> None:
        if call.ivr is not None and call.phase is not Phase.ENDED:
            self._after_ivr(call, call.ivr.on_timer(now), now)


def handoff_fields(req: QueueReq | TransferReq | HangupReq) -> dict[str, str | int]:
    """A flow's hand-off as plain log fields (``to=queue:sales priority=0``), not a repr."""
    if isinstance(req, QueueReq):
        fields: dict[str, str | int] = {"to": f"queue:{req.queue}", "priority": req.priority}
        if req.skills:
            fields["skills"] = ",".join(f"{k}:{v}" for k, v in sorted(req.skills.items()))
        return fields
    if isinstance(req, TransferReq):
        return {"to": req.target}
    return {"to": "hangup"}


__all__ = ["SERVICES", "MenuError", "Services", "handoff_fields"]

