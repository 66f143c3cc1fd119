"""Queued calls: the router's decisions carried out on SIP legs and media (a collaborator
of ``B2bua``, pure).

A caller enters a queue from the dial plan (``queue:NAME``) or an IVR; the switch has answered
it.  While it waits it hears music on hold, cut for the position/expected-wait announcements
and whenever an agent answers.  ``Offer`` rings every registered contact of the offered
agent(s) (with auto-answer headers for agents configured so); the first to answer is bridged
to the caller and recorded when the queue says so.  Busy, rejecting and unanswered agents are
reported back to the router, which moves on; a caller who hangs up abandons.  Agents log in
when they register (and with the feature codes ``*21``/``*22``, pause with ``*23[reason]`` and
resume with ``*24``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from ..acd.events import Announce, CancelOffer, Overflow
from ..acd.events import Callback as RouterCallback
from ..acd.events import Offer as RouterOffer
from ..acd.model import AgentState
from ..config.schema import SwitchConfig
from ..dialplan import Target as DialTarget
from ..dialplan import TargetError, parse_target
from ..ivr.say import say_position, say_wait
from ..media.commands import Detect, Play, PlayFile, StopPlay
from ..media.ports import PortsExhausted
from ..sdp.negotiator import NotAcceptable
from ..sip.transaction import ResponseReceived, TransactionTimeout
from .anchor import CallMedia
from .commands import AgentLogin, AgentLogout, AgentPause, AgentReady, execute
from .crm import CallbackOffer
from .events import CallStarted
from .hold import MOH
from .services import say_flow
from .state import Call, Leg, Phase
from .targets import route

AgentCommand = AgentLogin | AgentLogout | AgentPause | AgentReady


@dataclass(slots=True)
class PendingCallback:
    """A callback being dialled: the router's action, the caller's media leg, the forks."""

    action: RouterCallback
    media: CallMedia
    started: float
    branches: dict[str, Leg] = field(default_factory=dict)
    answered: bool = False
    withdrawn: bool = False  # the router took the reservation back, or nobody answered

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

AUTO_ANSWER_HEADERS = (("Call-Info", "<sip:127.0.0.1>;answer-after=0"),
                       ("Alert-Info", "<http://127.0.0.1>;info=alert-autoanswer;delay=0"))


@dataclass(frozen=True, slots=True)
class QueueAudio:
    """What a queue's waiting callers hear: the music (prompt values or absolute files played
    in turn, shuffled per caller when ``shuffle``), the prompts opening the first announcement
    (``entry``), one of ``periodic`` per later announcement in turn, whether announcements
    say the place in line and expected wait (``position``), whether a registered caller is
    offered a callback (``callback``, key 1), and whether the router announces on entry."""

    moh: tuple[str, ...] = (MOH,)
    shuffle: bool = False
    entry: tuple[str, ...] = ("please-hold",)
    periodic: tuple[str, ...] = ()
    position: bool = True
    callback: bool = True
    announce_on_entry: bool = True


def build_queue_audio(config: SwitchConfig) -> dict[str, QueueAudio]:
    """Each configured queue's :class:`QueueAudio` (its music class's files, resolved at load
    time; the class's source as a prompt value when they were not)."""
    out: dict[str, QueueAudio] = {}
    for name, q in config.queues.items():
        cls = config.moh.get(q.moh)
        out[name] = QueueAudio(
            moh=moh_files(config, q.moh), shuffle=cls is not None and cls.mode == "shuffle",
            entry=q.entry_prompt, periodic=q.announce_prompts, position=q.announce_position,
            callback=q.callback, announce_on_entry=q.announce_on_entry)
    return out


def build_room_music(config: SwitchConfig) -> dict[str, str]:
    """Room -> the music a lone member hears (its ``moh_when_alone`` class's first file)."""
    return {name: moh_files(config, room.moh_when_alone)[0]
            for name, room in config.rooms.items() if room.moh_when_alone is not None}


def moh_files(config: SwitchConfig, music_class: str | None) -> tuple[str, ...]:
    """The files (resolved at load time) of a music class, or its source as a prompt value
    when they were not; the shipped music for a class that does not exist."""
    cls = config.moh.get(music_class) if music_class is not None else None
    if cls is None:
        return (MOH,)
    return cls.files or ((cls.path,) if cls.path is not None else (MOH,))


def offer_failure(status: int) -> str:
    """The router's name for an agent's final answer to an offer."""
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "noanswer"
    return "rejected"


class Queues:
    """Queue callers carried out on SIP legs and media: a collaborator of ``B2bua``
    (``sw.queues``); the queues' settings and the router are the switch's."""

    def __init__(self, sw: B2bua) -> None:
        self.sw = sw
        self._router_armed: float | None = None  # the router deadline our timer is armed at

    # -- entering and leaving ------------------------------------------------------------
    def enqueue(self, call: Call, queue: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None,
                position_hint: float | None = None) -> None:
        """Put the answered ``call`` in ``queue`` (music on hold until an agent answers)."""
        router, cm = self.sw.router, call.media
        if router is None or cm is None or queue not in self.sw.queue_settings:
            self.sw.services._ivr_result(call, "unavailable", now)
            return
        call.queue = call.queue_name = queue
        call.service = "queue"
        call.phase = Phase.QUEUED
        call.caller_registered = bool(self.sw.bindings_of and self.sw.bindings_of(call.caller, now))
        cm.plan.send(cm.worker, Detect(cm.leg("a"), inband=True))
        self._music_for(call, queue)
        self._moh(call)
        if call.queue_entered is None:
            call.queue_entered, call.queue_priority = now, priority
        router.enqueue(call.key, queue, now, priority=priority, skills=skills,
                       number=call.caller, position_hint=position_hint)

    def _left_queue(self, call: Call, now: float) -> None:
        """``call`` ended: the router hears it abandoned, or that its talk is over."""
        router = self.sw.router
        if router is None or call.queue is None:
            return
        if call.queue_agent is not None:
            router.call_ended(call.key, call.queue_agent, now,
                              by="agent" if call.ended_by_agent else "caller")
        else:
            router.abandon(call.key, now)
        call.queue = None

    # -- the router's decisions ----------------------------------------------------------
    def settle(self, now: float) -> None:
        """Carry out what the router decided, once at the end of every input (the front end
        calls it after each message, timer and media event); re-arm its timer."""
        router = self.sw.router
        if router is None:
            return
        for _ in range(100):
            actions = router.actions()
            if not actions:
                break
            for action in actions:
                if isinstance(action, RouterCallback):
                    self._call_back(action, now)
                    continue
                if isinstance(action, CancelOffer) and action.call_id not in self.sw._calls:
                    self._withdraw_callback(action.call_id, now)
                    continue
                call = self.sw._calls.get(action.call_id)
                if call is None or call.phase is Phase.ENDED:
                    if isinstance(action, RouterOffer):
                        for agent in action.agents:
                            router.offer_failed(action.call_id, agent, now, "cancelled")
                    continue
                if isinstance(action, RouterOffer):
                    self._offer(call, action.agents, now)
                elif isinstance(action, CancelOffer):
                    self._cancel_agent(call, action.agent, now)
                elif isinstance(action, Announce):
                    self._announce(call, action.position, action.expected_wait)
                elif isinstance(action, Overflow):
                    self._overflow(call, action, now)
        deadline = router.next_deadline()
        if deadline == self._router_armed:  # most inputs change nothing: no heap push
            return
        self._router_armed = deadline
        if deadline is None:
            self.sw._timers.cancel(("router", ""))
        else:
            self.sw._timers.arm(("router", ""), deadline)

    def _offer(self, call: Call, agents: tuple[str, ...], now: float) -> None:
        cm = call.media
        assert cm is not None and self.sw.router is not None
        try:
            if "b" not in cm.legs:
                cm.legs["b"] = cm.plan.new_leg(cm.worker, now=now)
                self.sw._by_leg[cm.legs["b"].leg] = call
        except PortsExhausted:
            log.warning("rtp_ports_exhausted", call_id=call.key, queue=call.queue)
            for agent in agents:
                self.sw.router.offer_failed(call.key, agent, now, "rejected")
            return
        body = cm.offer_locally("b")
        call.phase = Phase.BRIDGING
        for agent in agents:
            bindings = self.sw.bindings_of(agent, now) if self.sw.bindings_of else []
            if not bindings:
                self.sw.router.offer_failed(call.key, agent, now, "noanswer")
                continue
            extra = AUTO_ANSWER_HEADERS if self.sw.auto_answer.get(agent) else ()
            for b in bindings:
                br = self.sw._fork(call, b, None, "application/sdp", 70, now, body, extra,
                                to_user=agent)
                br.agent = agent
            log.info("queue_offer", call_id=call.key, queue=call.queue,
                     agent=agent, contacts=len(bindings))

    def _cancel_agent(self, call: Call, agent: str, now: float) -> None:
        for br in call.forks():
            if br.agent == agent and br.final is None:
                br.cancelled = True
                self.sw._txn.cancel_request(br.txn_id, now)

    def queue_branch_failed(self, call: Call, br: Leg, status: int, now: float) -> None:
        """A contact of an offered agent gave up; when all of them have, the agent did."""
        agent = br.agent
        if agent is None or self.sw.router is None:
            return
        if any(b.agent == agent and b.final is None for b in call.forks()):
            return
        if call.callback_agent is not None:  # the reserved agent missed the called-back caller
            self.sw.router.callback_result(call.key, now, answered=False)
            call.queue = None
            self.sw._hangup_both(call, now)
            self.sw._end(call, 480, "agent did not answer the callback", now, "switch")
            return
        if not br.cancelled:
            self.sw.router.offer_failed(call.key, agent, now, offer_failure(status))

    def queue_answered(self, call: Call, br: Leg, now: float) -> None:
        """An offered agent answered and is bridged: the router connects them."""
        cm = call.media
        assert cm is not None and self.sw.router is not None
        call.queue_agent = br.agent
        self._stop_waiting_audio(call)
        if call.callback_agent is not None:
            self.sw.router.callback_result(call.key, now, answered=True)
        elif br.agent is not None:
            self.sw.router.offer_answered(call.key, br.agent, now)
        for other in call.forks():
            if other is not br and other.final is None:
                other.cancelled = True

    def _audio(self, call: Call) -> QueueAudio:
        return self.sw.queue_audio.get(call.queue or "") or QueueAudio()

    def _announce(self, call: Call, position: int, expected: float | None) -> None:
        if call.phase is Phase.BRIDGING and call.queue_agent is None and call.announcing:
            return
        audio = self._audio(call)
        entry = not call.announced
        prompts = list(audio.entry) if entry else []  # the entry announcement
        call.announced = True
        if audio.position:
            prompts += say_position(position)
            if expected is not None and expected >= 0 and expected < 24 * 3600:
                prompts += say_wait(expected)
        if audio.periodic and not (entry and audio.announce_on_entry):
            prompts.append(audio.periodic[call.announce_turn % len(audio.periodic)])
            call.announce_turn += 1
        if audio.callback and call.caller_registered:
            prompts.append("callback-offer")  # key 1: be called back, keep the place
        if not prompts:
            return
        if entry and audio.announce_on_entry and call.moh_files:
            # the music had just begun: it starts with the same file after the announcement
            call.moh_next = (call.moh_next - 1) % len(call.moh_files)
        call.announcing = prompts
        self._play_next_announcement(call)

    def _play_next_announcement(self, call: Call) -> None:
        cm = call.media
        if cm is None:
            return
        if call.moh is not None:
            cm.plan.send(cm.worker, StopPlay(cm.leg("a"), call.moh))
            call.moh = None
        if not call.announcing:
            self._moh(call)
            return
        name = call.announcing.pop(0)
        call.announce_play = cm.plan.next_id()
        cm.plan.send(cm.worker, Play(cm.leg("a"), call.announce_play,
                                     PlayFile(self.sw.prompt_path(name))))

    def queue_play_done(self, call: Call, play_id: int, reason: str = "end") -> bool:
        """A prompt of an announcement ended: the next one, or back to the music; a music
        file of several ended: the next one."""
        if call.queue_agent is not None:
            return False
        if play_id == call.moh and call.moh is not None:
            if reason not in ("end", "error"):
                return True
            call.moh = None
            call.moh_failed = call.moh_failed + 1 if reason == "error" else 0
            if call.moh_failed < len(call.moh_files):  # not every file failed in a row
                self._moh(call)
            return True
        if play_id != call.announce_play:
            return False
        call.announce_play = None
        self._play_next_announcement(call)
        return True

    def _music_for(self, call: Call, queue: str) -> None:
        """The music ``call`` hears in ``queue``: its class's files, in a shuffled order
        (one per caller, from the switch's random source) for a ``shuffle`` class."""
        audio = self.sw.queue_audio.get(queue) or QueueAudio()
        files = list(audio.moh)
        if audio.shuffle and len(files) > 1:
            random.Random(self.sw._ids.ssrc()).shuffle(files)
        call.moh_files, call.moh_next, call.moh_failed = tuple(files), 0, 0

    def _moh(self, call: Call) -> None:
        """Play the music: one file loops; several play one after the other, and music cut
        by a periodic announcement comes back with the next file."""
        cm = call.media
        if cm is None or call.queue_agent is not None:
            return
        files = call.moh_files or (MOH,)
        name = files[call.moh_next % len(files)]
        call.moh_next = (call.moh_next + 1) % len(files)
        call.moh = cm.plan.next_id()
        cm.plan.send(cm.worker, Play(cm.leg("a"), call.moh, PlayFile(self.sw.prompt_path(name)),
                                     loop=len(files) == 1))

    def _stop_waiting_audio(self, call: Call) -> None:
        cm = call.media
        if cm is None:
            return
        for pid in (call.moh, call.announce_play):
            if pid is not None:
                cm.plan.send(cm.worker, StopPlay(cm.leg("a"), pid))
        call.moh = call.announce_play = None
        call.announcing = []

    def _overflow(self, call: Call, action: Overflow, now: float) -> None:
        """The caller leaves the queue for the rule's target."""
        call.queue = None
        call.phase = Phase.QUEUED  # leaving: the target below says where to
        for br in call.forks():
            if br.final is None:
                br.cancelled = True
                self.sw._txn.cancel_request(br.txn_id, now)
        self._stop_waiting_audio(call)
        target = action.target
        log.info("queue_overflow", call_id=call.key, queue=action.queue,
                 reason=action.reason, target=str(target) if target else None)
        if target is None or target.kind == "hangup":
            if call.ivr is not None:
                self.sw.services._ivr_result(call, f"overflow:{action.reason}", now)
                return
            self.sw._hangup_both(call, now)
            self.sw._end(call, 200, f"queue {action.reason}", now, "switch")
        elif target.kind == "queue":
            self.enqueue(call, target.value, now)
        elif target.kind == "ivr":
            self.sw.services._start_ivr(call, target.value, now)
        else:  # a dial-plan target: the one resolver
            try:
                where: DialTarget | None = parse_target(target.value)
            except TargetError:
                where = None
            if route(self.sw, call, where, now).startswith("failed:"):
                self.sw._hangup_both(call, now)
                self.sw._end(call, 480, f"overflow to {target} not available", now, "switch")

    def queue_digit(self, call: Call, key: str, now: float) -> None:
        """A key pressed while waiting: ``0`` leaves the queue (overflow target of the
        queue's timeout rule, else back to the IVR or hang up)."""
        if self.sw.router is None or call.queue is None or call.queue_agent is not None:
            return
        if key == "1" and call.caller_registered and self._audio(call).callback and \
                self.sw.router.request_callback(
                call.key, call.caller, now):
            log.info("callback_requested", call_id=call.key, queue=call.queue)
            call.queue = None  # its place is kept by the router; this leg now says goodbye
            self._stop_waiting_audio(call)
            self.sw.services._start_flow(call, say_flow("callback-confirm"), now)
            return
        if key == "0":
            self.sw.router.exit_with_key(call.key, key, now)
            queue = self.sw.queue_settings.get(call.queue)
            target = queue.on_timeout if queue is not None else None
            self._overflow(call, Overflow(call.key, call.queue, "key", target), now)

    # -- virtual hold: calling the caller back ------------------------------------------
    def _call_back(self, action: RouterCallback, now: float) -> None:
        """The caller's turn came while it was away: ring it; the reserved agent is offered
        the call when it answers."""
        router, plan = self.sw.router, self.sw.media
        assert router is not None
        bindings = self.sw.bindings_of(action.number, now) if self.sw.bindings_of else []
        if plan is None or not bindings:
            router.callback_result(action.call_id, now, answered=False)
            return
        try:
            cm = CallMedia.create(plan, ("a",), now=now)
        except PortsExhausted:
            log.warning("rtp_ports_exhausted", call_id=action.call_id, queue=action.queue)
            router.callback_result(action.call_id, now, answered=False)
            return
        body = cm.offer_locally("a")
        pending = PendingCallback(action, cm, now)
        for b in bindings:
            br = self.sw._send_invite(b, action.queue, None, action.number, body,
                                   "application/sdp", 70, (), now)
            pending.branches[br.txn_id] = br
            self.sw._callbacks[br.txn_id] = pending
        settings = self.sw.queue_settings.get(action.queue)
        ring = settings.ring_timeout if settings is not None else 30.0
        self.sw._timers.arm(("cbring", action.call_id), now + ring)
        log.info("callback_dialled", call_id=action.call_id, number=action.number,
                 agent=action.agent, contacts=len(bindings))

    def callback_response(self, ev: ResponseReceived, now: float) -> bool:
        """A response to a callback INVITE (False: not ours)."""
        pending = self.sw._callbacks.get(ev.txn_id)
        if pending is None:
            return False
        resp, br = ev.response, pending.branches[ev.txn_id]
        if resp.status < 200:
            return True
        br.final = resp.status
        self.sw._callbacks.pop(ev.txn_id, None)
        if resp.status >= 300:
            self._callback_branch_done(pending, now)
            return True
        br.dialog.remote = resp.to
        br.dialog.update_target(resp)
        ack = br.dialog.request("ACK", me=br.me, branch=self.sw._ids.branch(),
                                cseq=br.invite.cseq.seq)
        self.sw._txn.send_stateless(ack, br.dialog.peer)
        if pending.answered or pending.withdrawn or not resp.body or isinstance(
                pending.media.accept_local_answer("a", resp.body), NotAcceptable):
            bye = br.dialog.request("BYE", me=br.me, branch=self.sw._ids.branch())
            self.sw._txn.send_request(bye, br.dialog.peer, now)
            self._callback_branch_done(pending, now)
            return True
        pending.answered = True
        self.sw._timers.cancel(("cbring", pending.action.call_id))
        for tid, other in pending.branches.items():
            if other is not br and other.final is None:
                self.sw._txn.cancel_request(tid, now)  # its answer, if it crosses, is hung up
        self._callback_answered(pending, br, now)
        return True

    def callback_timeout(self, ev: TransactionTimeout, now: float) -> bool:
        pending = self.sw._callbacks.get(ev.txn_id)
        if pending is None:
            return False
        pending.branches[ev.txn_id].final = 408
        self.sw._callbacks.pop(ev.txn_id, None)
        self._callback_branch_done(pending, now)
        return True

    def _pending_callback(self, call_id: str) -> PendingCallback | None:
        return next((p for p in self.sw._callbacks.values() if p.action.call_id == call_id
                     and not p.answered), None)

    def _withdraw_callback(self, call_id: str, now: float) -> None:
        """The router took back the reservation (e.g. the agent logged out): stop ringing."""
        pending = self._pending_callback(call_id)
        if pending is None:
            return
        pending.withdrawn = True
        self.sw._timers.cancel(("cbring", call_id))
        for tid, br in pending.branches.items():
            if br.final is None:
                self.sw._txn.cancel_request(tid, now)

    def callback_ring_timeout(self, call_id: str, now: float) -> None:
        """Nobody answered the callback in the queue's ring time: give up this attempt."""
        pending = self._pending_callback(call_id)
        if pending is None:
            return
        log.info("callback_ring_timeout", call_id=call_id)
        for tid, br in pending.branches.items():
            if br.final is None:
                self.sw._txn.cancel_request(tid, now)  # the 487s end the attempt

    def abandon_callbacks(self, now: float) -> None:
        """Shutdown: stop every callback being dialled and free its media."""
        seen: set[int] = set()
        for pending in list(self.sw._callbacks.values()):
            if id(pending) in seen:
                continue
            seen.add(id(pending))
            pending.withdrawn = True
            self.sw._timers.cancel(("cbring", pending.action.call_id))
            for tid, br in pending.branches.items():
                if br.final is None:
                    self.sw._txn.cancel_request(tid, now)
            if not pending.answered:
                pending.media.close()

    def _callback_branch_done(self, pending: PendingCallback, now: float) -> None:
        if pending.answered or any(b.final is None for b in pending.branches.values()):
            return
        self.sw._timers.cancel(("cbring", pending.action.call_id))
        pending.media.close()
        assert self.sw.router is not None
        self.sw.router.callback_result(pending.action.call_id, now, answered=False)
        log.info("callback_unanswered", call_id=pending.action.call_id)

    def _callback_answered(self, pending: PendingCallback, br: Leg, now: float) -> None:
        """The called-back caller answered: its leg becomes the caller's leg of a call
        offered to the reserved agent."""
        action = pending.action
        call = Call.of(br, key=action.call_id, caller=action.number, callee=action.queue,
                       started=now, phase=Phase.QUEUED, media=pending.media)
        call.answered = now
        call.queue = call.queue_name = action.queue
        call.service = "queue"
        call.callback_agent = action.agent
        self.sw._calls[call.key] = call
        self.sw._dialogs[(br.dialog.call_id, br.dialog.local_tag)] = (call, br.id)
        self.sw._by_leg[pending.media.leg("a")] = call
        self.sw._events.append(CallStarted(call.key, action.number, action.queue, now,
                                           inbound=False))
        log.info("callback_answered", call_id=call.key, agent=action.agent)
        self._offer(call, (action.agent,), now)
        if any(b.agent == action.agent for b in call.forks()):  # its phone rings: the card
            self.sw._events.append(CallbackOffer(now, call.key, action.queue, action.agent))

    # -- agents ----------------------------------------------------------------------
    def agent_present(self, agent: str, registered: bool, now: float) -> None:
        """Agents are logged in while registered (CONTRACT) and out when no contact is left."""
        router = self.sw.router
        if router is None or agent not in self.sw.agent_names:
            return
        state = router.agent_state(agent)
        if registered and state is AgentState.LOGGED_OUT:
            router.agent_login(agent, now)
        elif not registered and state is not AgentState.LOGGED_OUT:
            router.agent_logout(agent, now)

    def feature(self, agent: str, code: str, now: float) -> bool:
        """Feature code ``*21`` login, ``*22`` logout, ``*23[reason]`` pause, ``*24`` unpause;
        False when ``agent`` is not an agent or the code is unknown."""
        if self.sw.router is None or agent not in self.sw.agent_names:
            return False
        cmd: AgentCommand
        if code == "*21":
            cmd = AgentLogin(agent)
        elif code == "*22":
            cmd = AgentLogout(agent)
        elif code.startswith("*23"):
            cmd = AgentPause(agent, code[3:] or "break")
        elif code == "*24":
            cmd = AgentReady(agent)
        else:
            return False
        execute(self.sw, cmd, now)
        return True
