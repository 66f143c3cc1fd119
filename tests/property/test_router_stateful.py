"""The router's invariants under random sequences of inputs (hypothesis, stateful).

An independent model follows the router from its inputs and its events (the queue log) and
checks, at every offer and after every step:

1. **One call per agent**: an agent is offered a call (or reserved for a callback) only
   while it is free in the model - logged in, not paused, not ringing, not on a call, past
   its wrap-up and its backoff after a failed offer.
2. **No waiting caller is passed over by one with the same needs**: when caller X of queue Q
   is offered at time t, no other caller of Q is waiting (in line, not ringing, not holding
   for a callback retry) with the same *current* requirement - the model recomputes
   escalation from the queue's steps and the caller's arrival - and a better key
   ``(-(priority - ageing * place), place, entry order)``, i.e. higher effective priority
   at t (ageing included), or equal and earlier place.  Callers whose requirements differ
   at t are not "the same needs": an escalated caller may be served by an agent the other
   cannot use.
3. **Work conservation**: after every step, no free agent meets the current requirement of
   a waiting caller of one of its queues.
4. **Every caller who entered leaves exactly once**: one exit event (connected, abandoned,
   overflowed, exited by key, final callback failure) per entered call, none after it but
   the completion of a connected call; when the test ends, every caller still queued is
   abandoned and then all have left.

The model's agent states are also compared with ``Router.agent_state`` after every step.
Times are multiples of 1/4 and ageing rates 0, 1/4 or 1/2, so the model's float arithmetic
is exact and equal to the router's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ccswitch.acd import events as ev
from ccswitch.acd.model import (
    AgentSettings,
    AgentState,
    EscalationStep,
    QueueSettings,
    Requirement,
    make_requirement,
    requirement_steps,
    satisfies,
)
from ccswitch.acd.router import Router
from ccswitch.acd.strategies import STRATEGIES

QUEUES = ("q1", "q2", "q3")
SKILLS = ("a", "b", "c")
AGENTS = ("g1", "g2", "g3", "g4", "g5")
DTS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 7.5])


@dataclass
class MCaller:
    call_id: str
    queue: QueueSettings
    priority: int
    arrived: float
    seq: int
    reqs: tuple[Requirement, ...]
    state: str = "waiting"  # waiting | offered | reserved | retry
    offered: set[str] = field(default_factory=set)
    callback: bool = False
    retry_until: float = 0.0

    def key(self) -> tuple[float, float, int]:
        rate = float(self.queue.priority_ageing)
        return (-(self.priority - rate * self.arrived), self.arrived, self.seq)

    def req(self, t: float) -> Requirement:
        k = sum(1 for step in self.queue.escalation if self.arrived + step.after <= t)
        return self.reqs[k]

    def waiting(self, t: float) -> bool:
        return self.state == "waiting" or (self.state == "retry" and t >= self.retry_until)


@dataclass
class MAgent:
    settings: AgentSettings
    queues: dict[str, int] = field(default_factory=dict)
    logged_in: bool = False
    paused: bool = False
    ringing: str | None = None
    on_call: str | None = None
    busy_until: float = 0.0
    missed: int = 0
    expect_autopause: bool = False

    def free(self, t: float) -> bool:
        return (self.logged_in and not self.paused and self.ringing is None
                and self.on_call is None and t >= self.busy_until)


queue_settings = st.builds(
    QueueSettings,
    name=st.just("q"),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    ring_timeout=st.sampled_from([2.0, 5.0]),
    wrapup=st.sampled_from([0.0, 1.0, 3.0]),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 6), max_size=2),
    escalation=st.sampled_from([
        (), (EscalationStep(4.0, lower_by=2),),
        (EscalationStep(3.0, lower_by=1), EscalationStep(8.0, drop=frozenset({"a", "b"})))]),
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
    auto_pause_after=st.sampled_from([None, 2, 3]),
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
        for agent in AGENTS:  # most runs start staffed, so that offers happen from the start
            queues = data.draw(st.dictionaries(st.sampled_from(QUEUES), st.integers(0, 1),
                                               max_size=3))
            if queues:
                self.login(0.0, agent, queues)

    # -- event processing: the model follows the log, checking each offer ----------------

    def process(self) -> None:
        for e in self.router.events():
            handler = getattr(self, "on_" + type(e).__name__)
            handler(e)
        self.router.actions()
        assert not any(g.expect_autopause for g in self.agents.values())

    def check_offer(self, t: float, call_id: str, agent: str) -> None:
        g = self.agents[agent]
        assert g.free(t), f"{agent} offered {call_id} at {t} while not free: {g}"
        x = self.callers[call_id]
        assert x.queue.name in g.queues
        assert satisfies(g.settings.skills, x.req(t)), f"{agent} lacks {x.req(t)}"
        for y in self.callers.values():
            if y is x or y.queue is not x.queue or not y.waiting(t):
                continue
            if y.req(t) == x.req(t):
                assert not y.key() < x.key(), f"{call_id} {x.key()} passed {y.call_id} {y.key()}"

    def on_CallerEntered(self, e: ev.CallerEntered) -> None:
        assert e.call_id not in self.entered
        self.entered.add(e.call_id)

    def on_CallerRefused(self, e: ev.CallerRefused) -> None:
        assert e.call_id not in self.entered

    def on_CallerOffered(self, e: ev.CallerOffered) -> None:
        self.check_offer(e.time, e.call_id, e.agent)
        x = self.callers[e.call_id]
        x.state = "offered"
        x.offered.add(e.agent)
        self.agents[e.agent].ringing = e.call_id

    def on_CallbackMade(self, e: ev.CallbackMade) -> None:
        self.check_offer(e.time, e.call_id, e.agent)
        x = self.callers[e.call_id]
        assert x.callback
        x.state = "reserved"
        x.offered = {e.agent}
        self.agents[e.agent].ringing = e.call_id

    def on_OfferFailed(self, e: ev.OfferFailed) -> None:
        x = self.callers[e.call_id]
        x.offered.remove(e.agent)
        g = self.agents[e.agent]
        g.ringing = None
        if e.reason != "cancelled":
            g.busy_until = e.time + g.settings.delay_after(e.reason)
        if e.reason == "noanswer":
            g.missed += 1
            limit = g.settings.auto_pause_after
            g.expect_autopause = limit is not None and g.missed >= limit and not g.paused
        if not x.offered:
            x.state = "waiting"

    def on_AgentPaused(self, e: ev.AgentPaused) -> None:
        g = self.agents[e.agent]
        if e.auto:
            limit = g.settings.auto_pause_after
            assert limit is not None and g.missed >= limit and not g.paused
        g.paused = True
        if e.auto:
            g.missed, g.expect_autopause = 0, False

    def on_AgentUnpaused(self, e: ev.AgentUnpaused) -> None:
        g = self.agents[e.agent]
        g.paused = False
        g.missed = 0

    def on_AgentLoggedIn(self, e: ev.AgentLoggedIn) -> None:
        pass

    def on_AgentLoggedOut(self, e: ev.AgentLoggedOut) -> None:
        pass

    def exit(self, call_id: str) -> MCaller:
        self.exits[call_id] = self.exits.get(call_id, 0) + 1
        assert self.exits[call_id] == 1, f"{call_id} left twice"
        x = self.callers.pop(call_id)
        for agent in x.offered:  # ring-all losers are released without an event
            if self.agents[agent].ringing == call_id:
                self.agents[agent].ringing = None
        return x

    def on_CallerConnected(self, e: ev.CallerConnected) -> None:
        x = self.exit(e.call_id)
        assert e.agent in x.offered and x.callback == e.callback
        g = self.agents[e.agent]
        g.on_call, g.missed = e.call_id, 0
        self.connected[e.call_id] = (x.queue.name, e.agent)

    def on_CallerAbandoned(self, e: ev.CallerAbandoned) -> None:
        self.exit(e.call_id)

    def on_CallerOverflowed(self, e: ev.CallerOverflowed) -> None:
        x = self.exit(e.call_id)
        assert not x.offered
        if e.reason == "timeout":
            assert x.queue.max_wait is not None and e.wait >= x.queue.max_wait

    def on_CallerExitedWithKey(self, e: ev.CallerExitedWithKey) -> None:
        self.exit(e.call_id)

    def on_CallbackRequested(self, e: ev.CallbackRequested) -> None:
        self.callers[e.call_id].callback = True

    def on_CallbackFailed(self, e: ev.CallbackFailed) -> None:
        x = self.callers[e.call_id]
        self.agents[e.agent].ringing = None
        x.offered = set()
        if e.final:
            self.exit(e.call_id)
        else:
            x.state, x.retry_until = "retry", e.time + x.queue.callback_retry

    def on_CallCompleted(self, e: ev.CallCompleted) -> None:
        queue, agent = self.connected.pop(e.call_id)
        g = self.agents[agent]
        assert g.on_call == e.call_id
        g.on_call = None
        if g.logged_in:
            g.busy_until = e.time + self.qs[queue].wrapup
        assert e.wrapup == (self.qs[queue].wrapup if g.logged_in else 0.0)

    def on_CallTransferred(self, e: ev.CallTransferred) -> None:
        queue, agent = self.connected.pop(e.call_id)
        g = self.agents[agent]
        assert g.on_call == e.call_id
        g.on_call = None
        if g.logged_in:
            g.busy_until = e.time + self.qs[queue].wrapup

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

    @rule(dt=DTS, queue=st.sampled_from(QUEUES), priority=st.integers(0, 3),
          skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 8), max_size=1))
    def enqueue(self, dt: float, queue: str, priority: int, skills: dict[str, int]) -> None:
        self.step(dt)
        self.n += 1
        call_id = f"c{self.n}"
        q = self.qs[queue]
        base = make_requirement(q.skills, skills)
        self.seq += 1
        # the model caller exists before the router reports its events
        self.callers[call_id] = MCaller(call_id, q, priority, self.now, self.seq,
                                        requirement_steps(base, q.escalation))
        accepted = self.router.enqueue(call_id, queue, self.now, priority=priority,
                                       skills=skills)
        if not accepted:
            del self.callers[call_id]
        self.process()

    @rule(dt=DTS, data=st.data())
    def abandon(self, dt: float, data: st.DataObject) -> None:
        self.step(dt)
        ids = [*sorted(self.callers), "nobody"]
        call_id = data.draw(st.sampled_from(ids))
        assert self.router.abandon(call_id, self.now) == (call_id in self.callers)
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS),
          queues=st.dictionaries(st.sampled_from(QUEUES), st.integers(0, 1), min_size=1))
    def login(self, dt: float, agent: str, queues: dict[str, int]) -> None:
        self.step(dt)
        g = self.agents[agent]
        assert self.router.agent_login(agent, self.now, queues) == (not g.logged_in)
        if not g.logged_in:
            g.logged_in, g.queues, g.paused, g.missed = True, queues, False, 0
            g.busy_until = 0.0
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS))
    def logout(self, dt: float, agent: str) -> None:
        self.step(dt)
        g = self.agents[agent]
        assert self.router.agent_logout(agent, self.now) == g.logged_in
        self.process()  # the withdrawn offer is reported as OfferFailed(cancelled)
        g.logged_in = False
        assert g.ringing is None  # a call in progress goes on (g.on_call stays)

    @rule(dt=DTS, agent=st.sampled_from(AGENTS), reason=st.sampled_from(["lunch", "break"]))
    def pause(self, dt: float, agent: str, reason: str) -> None:
        self.step(dt)
        self.router.agent_pause(agent, reason, self.now)
        self.process()

    @rule(dt=DTS, agent=st.sampled_from(AGENTS))
    def unpause(self, dt: float, agent: str) -> None:
        self.step(dt)
        self.router.agent_unpause(agent, self.now)
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
        assert self.router.offer_answered(call_id, agent, self.now)
        self.process()
        assert not self.router.offer_answered(call_id, agent, self.now)  # now stale

    @rule(dt=DTS, data=st.data(), reason=st.sampled_from(["noanswer", "busy", "rejected"]))
    def fail(self, dt: float, data: st.DataObject, reason: str) -> None:
        self.step(dt)
        offers = self.ringing()
        if offers:
            call_id, agent = data.draw(st.sampled_from(offers))
            assert self.router.offer_failed(call_id, agent, self.now, reason)
            self.process()

    @rule(dt=DTS, data=st.data(), transfer=st.booleans())
    def end_call(self, dt: float, data: st.DataObject, transfer: bool) -> None:
        self.step(dt)
        if not self.connected:
            return
        call_id = data.draw(st.sampled_from(sorted(self.connected)))
        agent = self.connected[call_id][1]
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
        assert self.router.request_callback(call_id, "+331", self.now) == expected
        self.process()

    @rule(dt=DTS, data=st.data(), answered=st.booleans())
    def callback_result(self, dt: float, data: st.DataObject, answered: bool) -> None:
        self.step(dt)
        reserved = sorted(c for c, x in self.callers.items() if x.state == "reserved")
        if reserved:
            call_id = data.draw(st.sampled_from(reserved))
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
            assert (state is AgentState.READY) == g.free(t), (name, state, g, t)
            if not g.free(t):
                continue
            for y in self.callers.values():
                if y.waiting(t) and y.queue.name in g.queues:
                    assert not satisfies(g.settings.skills, y.req(t)), \
                        f"{name} idle while {y.call_id} waits for {y.req(t)} at {t}"

    def teardown(self) -> None:
        if not hasattr(self, "router"):
            return
        while self.callers:  # one at a time: an abandon may empty a queue (leave-empty)
            assert self.router.abandon(min(self.callers), self.now)
            self.process()
        assert not self.callers
        assert set(self.exits) == self.entered
        assert all(n == 1 for n in self.exits.values())


RouterMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestRouterInvariants = RouterMachine.TestCase
