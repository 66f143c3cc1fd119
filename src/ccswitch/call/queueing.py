"""Queued calls: the router's decisions carried out on SIP legs and media (a mixin of
``B2bua``, pure).

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

from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from ..acd.events import Announce, CancelOffer, Overflow
from ..acd.events import Callback as RouterCallback
from ..acd.events import Offer as RouterOffer
from ..acd.model import AgentState, QueueSettings
from ..acd.router import Router
from ..ivr.say import say_position, say_wait
from ..media.commands import Detect, Play, PlayFile, StopPlay
from ..media.ports import PortsExhausted
from ..sip.registrar import Binding
from .state import Branch, Call, CallState

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..clock import TimerHeap
    from ..sip.transaction import TransactionLayer
    from .events import CallEvent

log = structlog.get_logger()

AUTO_ANSWER_HEADERS = (("Call-Info", "<sip:127.0.0.1>;answer-after=0"),
                       ("Alert-Info", "<http://127.0.0.1>;info=alert-autoanswer;delay=0"))
MOH = "moh/default"


def offer_failure(status: int) -> str:
    """The router's name for an agent's final answer to an offer."""
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "noanswer"
    return "rejected"


class QueueCalls:
    """Queue handling for ``B2bua``."""

    router: Router | None
    queue_settings: Mapping[str, QueueSettings]  # the router's queues
    agent_names: frozenset[str]
    auto_answer: Mapping[str, bool]
    record_queues: frozenset[str]
    if TYPE_CHECKING:
        prompt_path: Callable[[str], str]
        bindings_of: Callable[[str, float], list[Binding]] | None
        _txn: TransactionLayer
        _timers: TimerHeap[tuple[str, str]]
        _events: list[CallEvent]
        _calls: dict[str, Call]
        _by_leg: dict[int, Call]

        def _fork(self, call: Call, b: Binding, display: str | None, ctype: str | None,
                  mf: int, now: float, body: bytes,
                  extra: tuple[tuple[str, str], ...] = ()) -> Branch: ...
        def _hangup_both(self, call: Call, now: float) -> None: ...
        def _end(self, call: Call, status: int, reason: str, now: float,
                 ended_by: str) -> None: ...
        def _ivr_result(self, call: Call, result: str, now: float) -> None: ...
        def _start_ivr(self, call: Call, menu: str, now: float) -> None: ...
        def _become(self, call: Call, service: str) -> None: ...
        def _bridge(self, call: Call, users: list[str], now: float,
                    queue: str | None = None) -> None: ...

    # -- entering and leaving ------------------------------------------------------------
    def enqueue(self, call: Call, queue: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None) -> None:
        """Put the answered ``call`` in ``queue`` (music on hold until an agent answers)."""
        router, cm = self.router, call.media
        if router is None or cm is None or queue not in self.queue_settings:
            self._ivr_result(call, "unavailable", now)
            return
        call.queue = queue
        call.service = "queue"
        cm.plan.send(cm.worker, Detect(cm.leg("a"), inband=True))
        self._moh(call)
        router.enqueue(call.key, queue, now, priority=priority, skills=skills,
                       number=call.caller)
        self.pump_router(now)

    def _left_queue(self, call: Call, now: float) -> None:
        """``call`` ended: the router hears it abandoned, or that its talk is over."""
        router = self.router
        if router is None or call.queue is None:
            return
        if call.queue_agent is not None:
            router.call_ended(call.key, call.queue_agent, now,
                              by="agent" if call.ended_by_agent else "caller")
        else:
            router.abandon(call.key, now)
        call.queue = None
        self.pump_router(now)

    # -- the router's decisions ----------------------------------------------------------
    def pump_router(self, now: float) -> None:
        """Carry out what the router decided; re-arm its timer."""
        router = self.router
        if router is None:
            return
        for _ in range(100):
            actions = router.actions()
            if not actions:
                break
            for action in actions:
                call = self._calls.get(action.call_id)
                if call is None or call.state is CallState.ENDED:
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
                elif isinstance(action, RouterCallback):
                    router.callback_result(action.call_id, now, answered=False)
        deadline = router.next_deadline()
        if deadline is None:
            self._timers.cancel(("router", ""))
        else:
            self._timers.arm(("router", ""), deadline)

    def _offer(self, call: Call, agents: tuple[str, ...], now: float) -> None:
        cm = call.media
        assert cm is not None and self.router is not None
        try:
            if "b" not in cm.legs:
                cm.legs["b"] = cm.plan.new_leg(cm.worker)
                self._by_leg[cm.legs["b"].leg] = call
        except PortsExhausted:
            for agent in agents:
                self.router.offer_failed(call.key, agent, now, "rejected")
            return
        body = cm.offer_locally("b")
        call.bridging = True
        for agent in agents:
            bindings = self.bindings_of(agent, now) if self.bindings_of else []
            if not bindings:
                self.router.offer_failed(call.key, agent, now, "noanswer")
                continue
            extra = AUTO_ANSWER_HEADERS if self.auto_answer.get(agent) else ()
            for b in bindings:
                br = self._fork(call, b, None, "application/sdp", 70, now, body, extra)
                br.agent = agent
            log.info("queue_offer", call_id=call.a_invite.call_id, queue=call.queue,
                     agent=agent, contacts=len(bindings))

    def _cancel_agent(self, call: Call, agent: str, now: float) -> None:
        for br in call.branches.values():
            if br.agent == agent and br.final is None:
                br.cancelled = True
                self._txn.cancel_request(br.txn_id, now)

    def queue_branch_failed(self, call: Call, br: Branch, status: int, now: float) -> None:
        """A contact of an offered agent gave up; when all of them have, the agent did."""
        agent = br.agent
        if agent is None or self.router is None:
            return
        if any(b.agent == agent and b.final is None for b in call.branches.values()):
            return
        if not br.cancelled:
            self.router.offer_failed(call.key, agent, now, offer_failure(status))
        self.pump_router(now)

    def queue_answered(self, call: Call, br: Branch, now: float) -> None:
        """An offered agent answered and is bridged: the router connects them."""
        cm = call.media
        assert cm is not None and self.router is not None
        call.queue_agent = br.agent
        self._stop_waiting_audio(call)
        if br.agent is not None:
            self.router.offer_answered(call.key, br.agent, now)
        for other in call.branches.values():
            if other is not br and other.final is None:
                other.cancelled = True
        self.pump_router(now)

    def _announce(self, call: Call, position: int, expected: float | None) -> None:
        if call.bridging and call.queue_agent is None and call.announcing:
            return
        prompts = [] if call.announced else ["please-hold"]  # the entry announcement
        call.announced = True
        prompts += say_position(position)
        if expected is not None and expected >= 0 and expected < 24 * 3600:
            prompts += say_wait(expected)
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
                                     PlayFile(self.prompt_path(name))))

    def queue_play_done(self, call: Call, play_id: int) -> bool:
        """A prompt of an announcement ended: the next one, or back to the music."""
        if play_id != call.announce_play or call.queue_agent is not None:
            return False
        call.announce_play = None
        self._play_next_announcement(call)
        return True

    def _moh(self, call: Call) -> None:
        cm = call.media
        if cm is None or call.queue_agent is not None:
            return
        call.moh = cm.plan.next_id()
        cm.plan.send(cm.worker, Play(cm.leg("a"), call.moh, PlayFile(self.prompt_path(MOH)),
                                     loop=True))

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
        call.bridging = False
        for br in call.branches.values():
            if br.final is None:
                br.cancelled = True
                self._txn.cancel_request(br.txn_id, now)
        self._stop_waiting_audio(call)
        target = action.target
        log.info("queue_overflow", call_id=call.a_invite.call_id, queue=action.queue,
                 reason=action.reason, target=str(target) if target else None)
        if target is None or target.kind == "hangup":
            if call.ivr is not None:
                self._ivr_result(call, f"overflow:{action.reason}", now)
                return
            self._hangup_both(call, now)
            self._end(call, 200, f"queue {action.reason}", now, "switch")
        elif target.kind == "queue":
            self.enqueue(call, target.value, now)
        elif target.kind == "ivr":
            self._start_ivr(call, target.value, now)
        elif target.kind == "number" and target.value in ("echo", "tone"):
            self._become(call, target.value)
        elif target.kind == "number" and target.value.startswith("user:"):
            self._bridge(call, [target.value[5:]], now)
        else:  # voicemail and outside numbers: not reachable yet
            self._hangup_both(call, now)
            self._end(call, 480, f"overflow to {target} not available", now, "switch")

    def queue_digit(self, call: Call, key: str, now: float) -> None:
        """A key pressed while waiting: ``0`` leaves the queue (overflow target of the
        queue's timeout rule, else back to the IVR or hang up)."""
        if self.router is None or call.queue is None or call.queue_agent is not None:
            return
        if key == "0":
            self.router.exit_with_key(call.key, key, now)
            queue = self.queue_settings.get(call.queue)
            target = queue.on_timeout if queue is not None else None
            self._overflow(call, Overflow(call.key, call.queue, "key", target), now)
            self.pump_router(now)

    # -- agents ----------------------------------------------------------------------
    def agent_present(self, agent: str, registered: bool, now: float) -> None:
        """Agents are logged in while registered (CONTRACT) and out when no contact is left."""
        router = self.router
        if router is None or agent not in self.agent_names:
            return
        state = router.agent_state(agent)
        if registered and state is AgentState.LOGGED_OUT:
            router.agent_login(agent, now)
        elif not registered and state is not AgentState.LOGGED_OUT:
            router.agent_logout(agent, now)
        self.pump_router(now)

    def feature(self, agent: str, code: str, now: float) -> bool:
        """Feature code ``*21`` login, ``*22`` logout, ``*23[reason]`` pause, ``*24`` unpause;
        False when ``agent`` is not an agent or the code is unknown."""
        router = self.router
        if router is None or agent not in self.agent_names:
            return False
        if code == "*21":
            router.agent_login(agent, now)
        elif code == "*22":
            router.agent_logout(agent, now)
        elif code.startswith("*23"):
            router.agent_pause(agent, code[3:] or "break", now)
        elif code == "*24":
            router.agent_unpause(agent, now)
        else:
            return False
        self.pump_router(now)
        return True
