"""The router's invariants under random sequences of inputs (hypothesis, stateful).

The model here is independent of the router's code: it takes nothing from ``ccswitch.acd``
but the settings classes (the configuration) and the event classes (the log it reads). It has
its own skill matching (every minimum level of the requirement met), its own escalation (the
queue's steps applied, in order, to the caller's base requirement once ``after`` seconds of
waiting have passed: drop, cap, lower by, never below 1) and its own agent states: pauses come
from the commands the test issues and from the auto-pause rule of the agent's settings
(``auto_pause_after`` consecutive no-answers, counted by the model from the test's own
``noanswer`` failures and the ring timeouts it predicts), never from the router's events.
Every event the router reports is either one the model expects from the command just issued
(a connect, a pause, a cancelled offer...) or checked against what the model predicts (an
offer to a free, qualified agent; a ring timeout exactly ``ring_timeout`` after the offer; an
auto-pause exactly when the model's count reaches the limit). It checks, at every offer and
after every step:

1. **One call per agent**: an agent is offered a call (or reserved for a callback) only
   while it is free in the model - logged in, not paused, not ringing, not on a call, past
   its wrap-up and its backoff after a failed offer - and its state (``Router.agent_state``)
   is the model's after every step.
2. **No waiting caller is passed over by one with the same needs**: when caller X of queue Q
   is offered at time t, no other caller of Q is waiting (in line, not ringing, not holding
   for a callback retry) with the same requirement at t and a better key
   ``(-(priority - ageing * place), place, entry order)``.  Callers whose requirements
   differ at t are not "the same needs": an escalated caller may be served by an agent the
   other cannot use.
3. **Work conservation**: after every step, no free agent meets the current requirement of
   a waiting caller of one of its queues.
4. **Every caller who entered leaves exactly once**: one exit event (connected, abandoned,
   overflowed, exited by key, final callback failure) per entered call, none after it but
   the completion of a connected call; when the test ends, every caller still queued is
   abandoned and then all have left.

Times are multiples of 1/4 and ageing rates 0, 1/4 or 1/2, so the model's float arithmetic
is exact and equal to the router's.  The number of examples follows the hypothesis profile
loaded by tests/conftest.py (twice its ``max_examples``: each example is a whole sequence).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ccswitch.acd import events as ev
from ccswitch.acd.model import AgentSettings, AgentState, EscalationStep, QueueSettings
from ccswitch.acd.router import Router
from ccswitch.acd.strategies import STRATEGIES

QUEUES = ("q1", "q2", "q3")
SKILLS = ("a", "b", "c")
AGENTS = ("g1", "g2", "g3", "g4", "g5")
DTS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 7.5])
AUTOPAUSE = "autopause"  # the reason the router gives an automatic pause (CONTRACT of events)

Req = dict[str, int]
"""The model's skill requirement: skill -> minimum level."""


# -- the model's own skill matching and escalation -----------------------------------------


def qualifies(skills: Mapping[str, int], req: Req) -> bool:
    """An agent qualifies when it has every required skill at the minimum level or above."""
    return all(skills.get(skill, 0) >= level for skill, level in req.items())


def requirement_after(base: Req, steps: tuple[EscalationStep, ...], waited: float) -> Req:
    """``base`` relaxed by every step whose ``after`` has passed: each drops its skills, caps
    the levels it names, then lowers every level by ``lower_by`` (never below 1)."""
    req = dict(base)
    for step in steps:
        if waited < step.after:
            break
        req = {s: level for s, level in req.items() if s not in step.drop}
        for s, cap in step.levels.items():
            if s in req:
                req[s] = min(req[s], cap)
        req = {s: max(1, level - step.lower_by) for s, level in req.items()}
    return req


@dataclass
class MCaller:
    call_id: str
    queue: QueueSettings
    priority: int
    arrived: float
    seq: int
    base: Req
    state: str = "waiting"  # waiting | offered | reserved | retry
    offered: set[str] = field(default_factory=set)
    offered_at: float = 0.0
    callback: bool = False
    attempts: int = 0
    retry_until: float = 0.0

    def key(self) -> tuple[float, float, int]:
        rate = float(self.queue.priority_ageing)
        return (-(self.priority - rate * self.arrived), self.arrived, self.seq)

    def req(self, t: float) -> Req:
        return requirement_after(self.base, self.queue.escalation, t - self.arrived)

    def waiting(self, t: float) -> bool:
        return self.state == "waiting" or (self.state == "retry" and t >= self.retry_until)


@dataclass
class MAgent:
    settings: AgentSettings
    queues: dict[str, int] = field(default_factory=dict)
    logged_in: bool = False
    pause: str | None = None  # the reason, while paused
    ringing: str | None = None
    on_call: str | None = None
    rest: AgentState = AgentState.READY  # WRAP_UP or BACKOFF until busy_until
    busy_until: float = 0.0
    missed: int = 0  # consecutive no-answers, for auto-pause
    last: str | None = None  # the ended call awaiting a disposition code

    def free(self, t: float) -> bool:
        return (self.logged_in and self.pause is None and self.ringing is None
                and self.on_call is None and t >= self.busy_until)

    def state(self, t: float) -> AgentState:
        """What ``Router.agent_state`` must say: a pause shows unless ringing, on a call or
        in wrap-up (it hides only readiness and the backoff)."""
        if not self.logged_in:
            return AgentState.LOGGED_OUT
        if self.ringing is not None:
            return AgentState.RINGING
        if self.on_call is not None:
            return AgentState.ON_CALL
        resting = t < self.busy_until
        if resting and self.rest is AgentState.WRAP_UP:
            return AgentState.WRAP_UP
        if self.pause is not None:
            return AgentState.PAUSED
        return self.rest if resting else AgentState.READY

    def delay_after(self, reason: str) -> float:
        s = self.settings
        return {"noanswer": s.no_answer_delay, "busy": s.busy_delay,
                "rejected": s.reject_delay}[reason]


queue_settings = st.builds(
    QueueSettings,
    name=st.just("q"),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    ring_timeout=st.sampled_from([2.0, 5.0]),
    wrapup=st.sampled_from([0.0, 1.0, 3.0]),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 6), max_size=2),
    escalation=st.sampled_from([
        (), (EscalationStep(4.0, lower_by=2),),
        (EscalationStep(3.0, lower_by=1), EscalationStep(8.0, drop=frozenset({"a", "b"}))),
        (EscalationStep(1.5, levels={"a": 3, "c": 1}),
         EscalationStep(5.0, lower_by=1, levels={"b": 4}),
         EscalationStep(9.75, drop=frozenset({"c"}), lower_by=2))]),
    priority_ageing=st.sampled_from([0.0, 0.25, 0.5]),
    max_wait=st.sampled_from([None, None, 20.0]),
    max_length=st.sampled_from([None, None, None, 4]),
    join_empty=st.sampled_from([None, None, None, frozenset()]),
    leave_empty=st.sampled_from([None, None, frozenset({AgentState.PAUSED})]),
    announce_interval=st.sampled_from([None, 5.0]),
    callback_attempts=st.integers(1, 2),
    callback_retry=st.sampled_from([1.0, 3.0]),
)

agent_settings = st.builds(
    AgentSettings,
    name=st.just("g"),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3),
    weight=st.sampled_from([0.5, 1.0, 3.0]),
    auto_pause_after=st.sampled_from([None, 1, 2, 3]),
    no_answer_delay=st.sampled_from([0.0, 2.0]),
    busy_delay=st.sampled_from([0.0, 1.0]),
    reject_delay=st.sampled_from([0.0, 3.0]),
)


class RouterMachine(RuleBasedStateMachine):
    """Drives a Router and checks it against the model (see the module docstring)."""

    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        self.qs = {n: replace(data.draw(queue_settings), name=n) for n in QUEUES}
        self.ags = {n: replace(data.draw(agent_settings), name=n) for n in AGENTS}
        self.router = Router(queues=self.qs.values(), agents=self.ags.values(),
                             rng=random.Random(data.draw(st.integers(0, 2**16))))
        self.now = 0.0
        self.n = 0
        self.seq = 0
        self.callers: dict[str, MCaller] = {}
        self.agents = {n: MAgent(s) for n, s in self.ags.items()}
        self.connected: dict[str, tuple[str, str]] = {}  # call -> (queue, agent)
        self.entered: set[str] = set()
        self.exits: dict[str, int] = {}
        self.expected: Counter[tuple[object, ...]] = Counter()  # events the commands cause
        for agent in AGENTS:  # most runs start staffed, so that offers happen from the start
            queues = data.draw(st.dictionaries(st.sampled_from(QUEUES), st.integers(0, 1),
                                               max_size=3))
            if queues:
                self.login(0.0, agent, queues)

    # -- event processing: the model follows the log, checking each event ------------------

    def expect(self, *event: object) -> None:
        """The command just issued must make the router report this event."""
        self.expected[event] += 1

    def consume(self, *event: object) -> bool:
        """Whether the event was expected (it is then no longer)."""
        if self.expected[event] <= 0:
            return False
        self.expected[event] -= 1
        return True

    def process(self) -> None:
        for e in self.router.events():
            handler = getattr(self, "on_" + type(e).__name__)
            handler(e)
        self.router.actions()
        missing = +self.expected
        assert not missing, f"expected events not reported: {sorted(missing, key=str)}"
        self.expected.clear()
        for x in self.callers.values():  # every ring timeout that passed has fired
            if x.state == "offered":
                assert x.offered_at + x.queue.ring_timeout > self.now, \
                    f"{x.call_id} still rings {x.offered} at {self.now}"

    def check_offer(self, t: float, call_id: str, agent: str) -> None:
        g = self.agents[agent]
        assert g.free(t), f"{agent} offered {call_id} at {t} while not free: {g}"
        x = self.callers[call_id]
        assert x.queue.name in g.queues
        assert qualifies(g.settings.skills, x.req(t)), \
            f"{agent} {dict(g.settings.skills)} lacks {x.req(t)} for {call_id} at {t}"
        for y in self.callers.values():
            if y is x or y.queue is not x.queue or not y.waiting(t):
                continue
            if y.req(t) == x.req(t):
                assert not y.key() < x.key(), f"{call_id} {x.key()} passed {y.call_id} {y.key()}"

    def on_CallerEntered(self, e: ev.CallerEntered) -> None:
        assert e.call_id not in self.entered
        assert self.consume("CallerEntered", e.call_id)
        self.entered.add(e.call_id)
        assert dict(e.skills) == self.callers[e.call_id].base

    def on_CallerRefused(self, e: ev.CallerRefused) -> None:
        assert e.call_id not in self.entered

    def on_CallerOffered(self, e: ev.CallerOffered) -> None:
        self.check_offer(e.time, e.call_id, e.agent)
        x = self.callers[e.call_id]
        assert x.state == "offered" or x.waiting(e.time)
        if x.state != "offered":
            x.state, x.offered_at = "offered", e.time
        assert x.offered_at == e.time  # ring-all: every agent at once
        x.offered.add(e.agent)
        self.agents[e.agent].ringing = e.call_id

    def on_CallbackMade(self, e: ev.CallbackMade) -> None:
        self.check_offer(e.time, e.call_id, e.agent)
        x = self.callers[e.call_id]
        assert x.callback and x.waiting(e.time)
        x.state = "reserved"
        x.offered = {e.agent}
        self.agents[e.agent].ringing = e.call_id

    def on_OfferFailed(self, e: ev.OfferFailed) -> None:
        x = self.callers[e.call_id]
        g = self.agents[e.agent]
        assert e.agent in x.offered and g.ringing == e.call_id, e
        if not self.consume("OfferFailed", e.call_id, e.agent, e.reason):
            # nothing the test did: only the ring timeout ends an offer on its own
            assert e.reason == "noanswer" and x.state == "offered", e
            assert e.time == x.offered_at + x.queue.ring_timeout, (e, x.offered_at)
        x.offered.remove(e.agent)
        g.ringing = None
        if e.reason != "cancelled":
            g.rest, g.busy_until = AgentState.BACKOFF, e.time + g.delay_after(e.reason)
        if e.reason == "noanswer":
            g.missed += 1
            limit = g.settings.auto_pause_after
            if limit is not None and g.missed >= limit and g.pause is None:
                g.pause, g.missed = AUTOPAUSE, 0  # the model's own rule
                self.expect("AgentPaused", e.agent, AUTOPAUSE, True)
        if not x.offered:
            x.state = "waiting"

    def on_AgentPaused(self, e: ev.AgentPaused) -> None:
        assert self.consume("AgentPaused", e.agent, e.reason, e.auto), f"unexpected {e}"

    def on_AgentUnpaused(self, e: ev.AgentUnpaused) -> None:
        assert self.consume("AgentUnpaused", e.agent), f"unexpected {e}"

    def on_AgentLoggedIn(self, e: ev.AgentLoggedIn) -> None:
        assert self.consume("AgentLoggedIn", e.agent), f"unexpected {e}"

    def on_AgentLoggedOut(self, e: ev.AgentLoggedOut) -> None:
        assert self.consume("AgentLoggedOut", e.agent), f"unexpected {e}"

    def exit(self, call_id: str) -> MCaller:
        self.exits[call_id] = self.exits.get(call_id, 0) + 1
        assert self.exits[call_id] == 1, f"{call_id} left twice"
        x = self.callers.pop(call_id)
        for agent in x.offered:  # ring-all losers are released without an event
            if self.agents[agent].ringing == call_id:
                self.agents[agent].ringing = None
        return x

    def on_CallerConnected(self, e: ev.CallerConnected) -> None:
        assert self.consume("CallerConnected", e.call_id, e.agent, e.callback), f"unexpected {e}"
        x = self.exit(e.call_id)
        assert e.agent in x.offered and x.callback == e.callback
        g = self.agents[e.agent]
        g.on_call, g.missed = e.call_id, 0
        self.connected[e.call_id] = (x.queue.name, e.agent)

    def on_CallerAbandoned(self, e: ev.CallerAbandoned) -> None:
        assert self.consume("CallerAbandoned", e.call_id), f"unexpected {e}"
        self.exit(e.call_id)

    def on_CallerOverflowed(self, e: ev.CallerOverflowed) -> None:
        x = self.exit(e.call_id)
        assert not x.offered
        if e.reason == "timeout":
            assert x.queue.max_wait is not None and e.wait >= x.queue.max_wait
        else:
            assert x.queue.leave_empty is not None

    def on_CallerExitedWithKey(self, e: ev.CallerExitedWithKey) -> None:
        raise AssertionError(f"no key was pressed: {e}")

    def on_CallbackRequested(self, e: ev.CallbackRequested) -> None:
        assert self.consume("CallbackRequested", e.call_id), f"unexpected {e}"
        self.callers[e.call_id].callback = True

    def on_CallbackFailed(self, e: ev.CallbackFailed) -> None:
        assert self.consume("CallbackFailed", e.call_id, e.agent), f"unexpected {e}"
        x = self.callers[e.call_id]
        self.agents[e.agent].ringing = None
        x.offered = set()
        x.attempts += 1
        assert e.final == (x.attempts >= x.queue.callback_attempts), (e, x.attempts)
        if e.final:
            self.exit(e.call_id)
        else:
            x.state, x.retry_until = "retry", e.time + x.queue.callback_retry

    def end(self, e: ev.CallCompleted | ev.CallTransferred) -> None:
        assert self.consume("CallEnded", e.call_id, e.agent), f"unexpected {e}"
        queue, agent = self.connected.pop(e.call_id)
        g = self.agents[agent]
        assert g.on_call == e.call_id
        g.on_call = None
        g.last = e.call_id
        if g.logged_in:
            g.rest, g.busy_until = AgentState.WRAP_UP, e.time + self.qs[queue].wrapup

    def on_CallCompleted(self, e: ev.CallCompleted) -> None:
        self.end(e)
        assert e.wrapup == (self.qs[e.queue].wrapup if self.agents[e.agent].logged_in else 0.0)

    def on_CallTransferred(self, e: ev.CallTransferred) -> None:
        self.end(e)

    def on_CallDisposition(self, e: ev.CallDisposition) -> None:
        assert self.consume("CallDisposition", e.agent, e.call_id, e.code), f"unexpected {e}"
        g = self.agents[e.agent]
        wrapping = (g.logged_in and g.on_call is None and g.rest is AgentState.WRAP_UP
                    and e.time < g.busy_until)
        assert e.wrapup_left == (g.busy_until - e.time if wrapping else 0.0), e
        if wrapping:
            g.busy_until = e.time  # the wrap-up ends now: the agent is free again

    # -- rules -------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        """Advance the clock; the router runs its due timers and the model follows."""
        self.now += dt
        self.router.handle_timer(self.now)
        self.process()

    @rule(dt=DTS)
    def tick(self, dt: float) -> None:
        self.step(dt)
        deadline = self.router.next_deadline()
        assert deadline is None or deadline > self.now

    @rule(data=st.data())
    def until_escalation(self, data: st.DataObject) -> None:
        """Advance exactly to a moment a caller's requirement relaxes (the model's own
        timing), where an escalation the router makes late or early shows."""
        times = sorted({x.arrived + step.after for x in self.callers.values()
                        for step in x.queue.escalation if x.arrived + step.after > self.now})
        if times:
            self.step(data.draw(st.sampled_from(times)) - self.now)

    @rule(dt=DTS, queue=st.sampled_from(QUEUES), priority=st.integers(0, 3),
          skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 8), max_size=1))
    def enqueue(self, dt: float, queue: str, priority: int, skills: dict[str, int]) -> None:
        self.step(dt)
        self.n += 1
        call_id = f"c{self.n}"
        q = self.qs[queue]
        self.seq += 1
        # the model caller exists before the router reports its events
        self.callers[call_id] = MCaller(call_id, q, priority, self.now, self.seq,
                                        {**q.skills, **skills})
        if self.router.enqueue(call_id, queue, self.now, priority=priority, skills=skills):
            self.expect("CallerEntered", call_id)
        else:
            del self.callers[call_id]
        self.process()

    @rule(dt=DTS, data=st.data())
    def abandon(self, dt: float, data: st.DataObject) -> None:
        self.step(dt)
        self.hang_up(data.draw(st.sampled_from([*sorted(self.callers), "nobody"])))

    def hang_up(self, call_id: str) -> None:
        """The caller hangs up: an offer ringing for it (or a callback reservation) is
        withdrawn, then it has abandoned."""
        x = self.callers.get(call_id)
        assert self.router.abandon(call_id, self.now) == (x is not None)
        if x is not None:
            self.expect("CallerAbandoned", call_id)
            for agent in x.offered:
                self.expect("OfferFailed", call_id, agent, "cancelled")
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS),
          queues=st.dictionaries(st.sampled_from(QUEUES), st.integers(0, 1), min_size=1))
    def login(self, dt: float, agent: str, queues: dict[str, int]) -> None:
        self.step(dt)
        g = self.agents[agent]
        assert self.router.agent_login(agent, self.now, queues) == (not g.logged_in)
        if not g.logged_in:
            g.logged_in, g.queues, g.pause, g.missed = True, queues, None, 0
            g.busy_until = 0.0
            self.expect("AgentLoggedIn", agent)
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS))
    def logout(self, dt: float, agent: str) -> None:
        self.step(dt)
        g = self.agents[agent]
        assert self.router.agent_logout(agent, self.now) == g.logged_in
        if g.logged_in:
            self.expect("AgentLoggedOut", agent)
            if g.ringing is not None:  # the offer or callback reservation is withdrawn
                self.expect("OfferFailed", g.ringing, agent, "cancelled")
        g.logged_in = False
        self.process()
        assert g.ringing is None  # a call in progress goes on (g.on_call stays)

    @rule(dt=DTS, agent=st.sampled_from(AGENTS), reason=st.sampled_from(["lunch", "break"]))
    def pause(self, dt: float, agent: str, reason: str) -> None:
        self.step(dt)
        g = self.agents[agent]
        accepted = g.logged_in and g.pause != reason
        assert self.router.agent_pause(agent, reason, self.now) == accepted
        if accepted:
            g.pause = reason
            self.expect("AgentPaused", agent, reason, False)
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS))
    def unpause(self, dt: float, agent: str) -> None:
        self.step(dt)
        g = self.agents[agent]
        accepted = g.logged_in and g.pause is not None
        assert self.router.agent_unpause(agent, self.now) == accepted
        if accepted:
            g.pause, g.missed = None, 0
            self.expect("AgentUnpaused", agent)
        self.process()

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5]), data=st.data())
    def disposition(self, dt: float, data: st.DataObject) -> None:
        """A code for the last ended call (soon after it: often within the wrap-up)."""
        self.step(dt)
        awaiting = sorted(a for a, g in self.agents.items() if g.last is not None)
        agent = data.draw(st.sampled_from(awaiting or list(AGENTS)))
        g = self.agents[agent]
        accepted = g.last is not None
        if accepted:
            self.expect("CallDisposition", agent, g.last, "done")
        assert self.router.agent_disposition(agent, "done", self.now) == accepted
        g.last = None
        self.process()

    def ringing(self) -> list[tuple[str, str]]:
        return sorted((c, a) for c, x in self.callers.items() if x.state == "offered"
                      for a in x.offered)

    @rule(dt=DTS, data=st.data())
    def answer(self, dt: float, data: st.DataObject) -> None:
        self.step(dt)
        offers = self.ringing()
        if not offers:
            assert not self.router.offer_answered("nobody", "g1", self.now)
            return
        call_id, agent = data.draw(st.sampled_from(offers))
        self.expect("CallerConnected", call_id, agent, False)
        assert self.router.offer_answered(call_id, agent, self.now)
        self.process()
        assert not self.router.offer_answered(call_id, agent, self.now)  # now stale

    @rule(dt=DTS, data=st.data(), reason=st.sampled_from(["noanswer", "busy", "rejected"]))
    def fail(self, dt: float, data: st.DataObject, reason: str) -> None:
        self.step(dt)
        offers = self.ringing()
        if offers:
            call_id, agent = data.draw(st.sampled_from(offers))
            self.expect("OfferFailed", call_id, agent, reason)
            assert self.router.offer_failed(call_id, agent, self.now, reason)
            self.process()

    @rule(dt=DTS, data=st.data(), transfer=st.booleans())
    def end_call(self, dt: float, data: st.DataObject, transfer: bool) -> None:
        self.step(dt)
        if not self.connected:
            return
        call_id = data.draw(st.sampled_from(sorted(self.connected)))
        agent = self.connected[call_id][1]
        self.expect("CallEnded", call_id, agent)
        if transfer:
            assert self.router.call_transferred(call_id, agent, self.now, "2001")
        else:
            assert self.router.call_ended(call_id, agent, self.now, by="agent")
        self.process()

    @rule(dt=DTS, data=st.data())
    def request_callback(self, dt: float, data: st.DataObject) -> None:
        self.step(dt)
        if not self.callers:
            return
        call_id = data.draw(st.sampled_from(sorted(self.callers)))
        x = self.callers[call_id]
        expected = x.state == "waiting" and not x.callback
        if expected:
            self.expect("CallbackRequested", call_id)
        assert self.router.request_callback(call_id, "+331", self.now) == expected
        self.process()

    @rule(dt=DTS, data=st.data(), answered=st.booleans())
    def callback_result(self, dt: float, data: st.DataObject, answered: bool) -> None:
        self.step(dt)
        reserved = sorted(c for c, x in self.callers.items() if x.state == "reserved")
        if reserved:
            call_id = data.draw(st.sampled_from(reserved))
            (agent,) = self.callers[call_id].offered
            if answered:
                self.expect("CallerConnected", call_id, agent, True)
            else:
                self.expect("CallbackFailed", call_id, agent)
            assert self.router.callback_result(call_id, self.now, answered)
            self.process()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def no_idle_agent_beside_a_waiting_caller(self) -> None:
        if not hasattr(self, "router"):
            return
        t = self.now
        self.router.handle_timer(t)
        self.process()
        for name, g in self.agents.items():
            state = self.router.agent_state(name)
            assert state is g.state(t), (name, state, g, t)
            if not g.free(t):
                continue
            for y in self.callers.values():
                if y.waiting(t) and y.queue.name in g.queues:
                    assert not qualifies(g.settings.skills, y.req(t)), \
                        f"{name} idle while {y.call_id} waits for {y.req(t)} at {t}"

    def teardown(self) -> None:
        if not hasattr(self, "router"):
            return
        while self.callers:  # one at a time: an abandon may empty a queue (leave-empty)
            self.hang_up(min(self.callers))
        assert not self.callers
        assert set(self.exits) == self.entered
        assert all(n == 1 for n in self.exits.values())


RouterMachine.TestCase.settings = settings(
    max_examples=2 * settings.default.max_examples, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestRouterInvariants = RouterMachine.TestCase
