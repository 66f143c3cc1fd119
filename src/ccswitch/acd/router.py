"""The queue router: one pure, deterministic scheduler over every queue and agent.

Sans-IO: inputs are method calls carrying ``now`` (seconds, the shell's monotonic clock);
outputs are pulled with ``actions()`` (what the switch must do) and ``events()`` (the queue
log); ``next_deadline()`` says when ``handle_timer(now)`` is due.  Every input first runs the
timers due by ``now``, so the order in which the shell delivers timers and inputs that fall
at the same moment does not matter.  Randomness comes from the injected ``rng``.

Ordering.  Within a queue a caller's place is the key ``(-(priority - ageing * place),
place, seq)``: higher priority first, then longest waiting, and with linear priority ageing
(``priority_ageing`` points per second) the order of two callers never changes over time,
so it is a static sort key.  ``place`` is the entry time (or an earlier ``position_hint``,
or the old place of a caller who rejoins).  Callers wait in *buckets*, one per queue and
current skill requirement, each sorted by that key.

Decisions.  When an agent becomes free, it takes the caller to serve first across all its
queues: lowest penalty tier first, then the highest effective priority at ``now`` (ageing
included), then the earliest place - looking only at bucket heads, best first.  When callers
start waiting (arrive, come back from a failed offer, escalate), their bucket's head is
offered to the agent the queue's strategy picks among the free eligible ones, lowest tier
first.  Freed agents are dispatched before new callers.  Hence the invariants:

* an agent is offered one call at a time (ringing, on a call, in wrap-up: never free);
* no free agent is ever eligible for a waiting caller of one of its queues;
* of two waiting callers in the same queue with the same current requirement, the one with
  the better key is offered first.

Cost per decision: O(log n) per bucket head or free-list step, never a scan of the waiting
callers or of all agents (see benchmarks/router_bench.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final, cast

from ..clock import TimerHeap
from .events import (
    Action,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentUnpaused,
    Announce,
    Callback,
    CallbackFailed,
    CallbackMade,
    CallbackRequested,
    CallCompleted,
    CallDisposition,
    CallerAbandoned,
    CallerConnected,
    CallerEntered,
    CallerExitedWithKey,
    CallerOffered,
    CallerOverflowed,
    CallerPriorityChanged,
    CallerRefused,
    CallTransferred,
    CancelOffer,
    Hangup,
    Offer,
    OfferFailed,
    OfferFailure,
    Overflow,
    OverflowReason,
    QueueEvent,
    RefuseReason,
)
from .model import (
    AUTO_PAUSE_REASON,
    OFFER_FAILURES,
    AgentRec,
    AgentSettings,
    AgentState,
    CallerRec,
    CallerState,
    Connection,
    MemberRec,
    QueueRec,
    QueueSettings,
    Requirement,
    RouterError,
    make_requirement,
)
from .strategies import STRATEGIES, RandomLike

INF: Final = float("inf")
_READY, _RINGING, _ON_CALL = AgentState.READY, AgentState.RINGING, AgentState.ON_CALL
_WRAP_UP, _BACKOFF, _PAUSED = AgentState.WRAP_UP, AgentState.BACKOFF, AgentState.PAUSED
_OUT = AgentState.LOGGED_OUT


class Router:
    """The ACD router (see the module docstring).  Construct with the queues, optional
    agent settings (skills, default membership, weights) and an ``rng``."""

    def __init__(self, *, queues: Iterable[QueueSettings],
                 agents: Iterable[AgentSettings] = (), rng: RandomLike) -> None:
        self._rng = rng
        self._queues: dict[str, QueueRec] = {}
        for settings in queues:
            if settings.name in self._queues:
                raise RouterError(f"queue {settings.name!r} defined twice")
            if settings.strategy not in STRATEGIES:
                raise RouterError(f"queue {settings.name}: unknown strategy "
                                  f"{settings.strategy!r} (one of {', '.join(STRATEGIES)})")
            self._queues[settings.name] = QueueRec(settings, STRATEGIES[settings.strategy])
        self._agent_settings: dict[str, AgentSettings] = {a.name: a for a in agents}
        self._agents: dict[str, AgentRec] = {}
        self._callers: dict[str, CallerRec] = {}
        self._connections: dict[str, Connection] = {}
        self._busy: dict[str, str] = {}  # agent -> the connected call it is on
        self._last_call: dict[str, tuple[str, str]] = {}  # agent -> (call, queue) to dispose
        self._out_since: dict[str, float] = {}  # agent -> when it logged out (views only)
        self._rejoin: dict[tuple[str, str], tuple[float, float]] = {}  # -> (place, expires)
        self._timers: TimerHeap[object] = TimerHeap()
        self._free_agents: deque[AgentRec] = deque()  # became ready, to dispatch
        self._new_callers: deque[CallerRec] = deque()  # started waiting, to dispatch
        self._actions: list[Action] = []
        self._events: list[QueueEvent] = []
        self._seq = 0
        self._now = -INF

    # -- outputs ---------------------------------------------------------------------------

    def actions(self) -> list[Action]:
        """Actions produced since the last call, in order."""
        out, self._actions = self._actions, []
        return out

    def events(self) -> list[QueueEvent]:
        """Queue events produced since the last call, in order."""
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called (``None``: no timer armed)."""
        return self._timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        """Run every timer due at or before ``now`` (ring timeouts, escalation, max wait,
        announcements, wrap-up and backoff ends, callback retries, rejoin expiry)."""
        self._advance(now)

    # -- queries ---------------------------------------------------------------------------

    def agent_state(self, agent: str) -> AgentState:
        """The agent's state (``LOGGED_OUT`` for an unknown agent)."""
        rec = self._agents.get(agent)
        return rec.state if rec is not None else _OUT

    def agent_info(self, agent: str) -> tuple[AgentState, float | None, str | None]:
        """The agent's state, since when (``None``: logged out since before this router
        began) and its pause reason (for the API's views)."""
        rec = self._agents.get(agent)
        if rec is None:
            return _OUT, self._out_since.get(agent), None
        return rec.state, rec.since, rec.paused

    def callers_in(self, queue: str) -> list[tuple[str, float, int, CallerState]]:
        """The callers in ``queue`` in line order (position 1 first): call id, arrival time,
        priority and state."""
        q = self._queue(queue)
        out = []
        for entry in q.order:
            c = q.callers[entry[3]]
            out.append((c.call_id, c.arrived, c.priority, c.state))
        return out

    def caller_state(self, call_id: str) -> CallerState | None:
        """The caller's state, or ``None`` once it has left the queue (or never entered)."""
        rec = self._callers.get(call_id)
        return rec.state if rec is not None else None

    def caller_queue(self, call_id: str) -> str | None:
        """The queue the caller is in, or ``None``."""
        rec = self._callers.get(call_id)
        return rec.queue.name if rec is not None else None

    def priority_of(self, call_id: str) -> int | None:
        """The queued caller's priority, or ``None``."""
        rec = self._callers.get(call_id)
        return rec.priority if rec is not None else None

    def position(self, call_id: str) -> int | None:
        """The caller's 1-based position in its queue, or ``None``."""
        c = self._callers.get(call_id)
        return None if c is None else c.queue.order.rank(c.entry) + 1

    def waiting(self, queue: str) -> int:
        """Callers in ``queue`` (waiting, ringing or holding for a callback)."""
        return len(self._queue(queue).callers)

    def expected_wait(self, queue: str, position: int | None = None) -> float | None:
        """Expected wait for ``position`` (default: a caller joining now), from the mean of
        recent handle times and the agents staffing the queue; ``None`` when unknown."""
        q = self._queue(queue)
        return q.expected_wait(len(q.callers) + 1 if position is None else position)

    def queue_status(self, queue: str, now: float) -> dict[str, object]:
        """A snapshot for wallboards and the API (see ``QueueRec.status``)."""
        return self._queue(queue).status(now)

    # -- caller inputs -----------------------------------------------------------------------

    def enqueue(self, call_id: str, queue: str, now: float, priority: int = 0,
                skills: Mapping[str, int] | None = None, position_hint: float | None = None,
                number: str | None = None) -> bool:
        """A caller joins ``queue``.  ``position_hint``: an earlier entry time that sets its
        place (a caller moved from another queue keeps its place); ``number``: its caller id
        (for rejoin).  Returns False when refused (``Overflow`` and ``CallerRefused``)."""
        self._advance(now)
        q = self._queue(queue)
        if call_id in self._callers:
            raise RouterError(f"call {call_id!r} is already queued")
        s = q.settings
        reason: RefuseReason | None = None
        if s.max_length is not None and len(q.callers) >= s.max_length:
            reason = "full"
        elif s.join_empty is not None and q.is_empty(s.join_empty):
            reason = "joinempty"
        if reason is not None:
            target = s.on_full if reason == "full" else s.on_join_empty
            self._actions.append(Overflow(call_id, queue, reason, target))
            self._events.append(CallerRefused(now, call_id, queue, reason, target))
            return False
        place = now if position_hint is None else min(position_hint, now)
        rejoined = False
        if number is not None and (ticket := self._rejoin.pop((queue, number), None)):
            self._timers.cancel((queue, number))
            if ticket[1] >= now:
                place, rejoined = min(place, ticket[0]), True
        self._seq += 1
        base = make_requirement(s.skills, skills)
        c = CallerRec(call_id, q, priority, number, now, place, self._seq, q.steps_for(base))
        q.callers[call_id] = c
        self._callers[call_id] = c
        q.order.add(c.entry)
        c.entry_position = q.order.rank(c.entry) + 1
        self._events.append(CallerEntered(now, call_id, queue, priority, c.entry_position,
                                          base, number, rejoined))
        if s.max_wait is not None:
            c.t_maxwait = now + s.max_wait
        if s.escalation:
            c.t_escalate = now + s.escalation[0].after
        if s.announce_interval is not None:
            c.t_announce = now + s.announce_interval
        self._wait(c)
        self._drain(now)
        if c.state is CallerState.WAITING and s.announce_on_entry:
            self._announce(c)
        self._arm_caller(c)
        return True

    def abandon(self, call_id: str, now: float) -> bool:
        """The caller hung up (or cancelled its callback).  False if it is not queued."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None:
            return False
        q = c.queue
        position = self._depart(c, now)
        q.abandoned += 1
        self._events.append(CallerAbandoned(now, call_id, q.name, position, c.entry_position,
                                            now - c.arrived))
        window = q.settings.rejoin_window
        if window > 0 and c.number is not None:
            key = (q.name, c.number)
            self._rejoin[key] = (c.place, now + window)
            self._timers.arm(key, now + window)
        self._drain(now)
        return True

    def exit_with_key(self, call_id: str, key: str, now: float) -> bool:
        """The caller left by pressing ``key`` (the switch takes it on).  False if unknown."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None:
            return False
        position = self._depart(c, now)
        self._events.append(CallerExitedWithKey(now, call_id, c.queue.name, key, position,
                                                c.entry_position, now - c.arrived))
        self._drain(now)
        return True

    def request_callback(self, call_id: str, number: str, now: float) -> bool:
        """Virtual hold: the waiting caller will hang up and be called back at ``number``
        when its turn comes.  False unless it is waiting (not ringing an agent)."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None or c.state is not CallerState.WAITING or c.callback is not None:
            return False
        c.callback = number
        c.t_maxwait = c.t_announce = INF
        self._arm_caller(c)
        self._events.append(CallbackRequested(now, call_id, c.queue.name, number,
                                              c.queue.order.rank(c.entry) + 1,
                                              now - c.arrived))
        return True

    def set_priority(self, call_id: str, priority: int, now: float) -> int | None:
        """Change a queued caller's priority (``CallerPriorityChanged``): its place in line is
        recomputed with the line's key (so with the same ``place`` it keeps its seniority
        among callers of its new priority) and, while it waits, it may be offered at once.
        An offer ringing or a callback being made goes on.  Returns its new position, or
        ``None`` when the call is not in a queue."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None:
            return None
        q = c.queue
        old, old_position = c.priority, q.order.rank(c.entry) + 1
        if priority != old:
            waiting = c.in_bucket
            self._unbucket(c)
            q.order.remove(c.entry)
            c.priority = priority
            c.entry = (-(priority - q.rate * c.place), c.place, c.seq, c.call_id)
            q.order.add(c.entry)
            if waiting:
                q.enter(c.req, c.entry)
                c.in_bucket = True
                self._new_callers.append(c)
        position = q.order.rank(c.entry) + 1
        self._events.append(CallerPriorityChanged(now, call_id, q.name, old, priority,
                                                  old_position, position))
        self._drain(now)
        return position

    def callback_result(self, call_id: str, now: float, answered: bool) -> bool:
        """The outcome of a ``Callback``: ``answered`` connects caller and reserved agent;
        otherwise the caller is tried again later, or leaves after its last attempt."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None or c.state is not CallerState.RESERVED:
            return False
        agent = c.offered[0]
        if answered:
            self._connect(c, agent, now)
        else:
            self._callback_failed(c, agent, now)
        self._drain(now)
        return True

    # -- offer results and calls -----------------------------------------------------------

    def offer_answered(self, call_id: str, agent: str, now: float) -> bool:
        """``agent`` answered the offer.  False for a stale offer (the caller left, or the
        offer timed out): the switch must then hang up that agent leg."""
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None or c.state is not CallerState.OFFERED or agent not in c.offered:
            return False
        self._connect(c, agent, now)
        self._drain(now)
        return True

    def offer_failed(self, call_id: str, agent: str, now: float, reason: str) -> bool:
        """The offer to ``agent`` failed (``noanswer``, ``busy``, ``rejected``); the caller
        goes on to the next agent.  False for a stale offer."""
        if reason not in OFFER_FAILURES:
            raise RouterError(f"offer failure {reason!r} is not one of {OFFER_FAILURES}")
        self._advance(now)
        c = self._callers.get(call_id)
        if c is None or c.state is not CallerState.OFFERED or agent not in c.offered:
            return False
        self._offer_failed(c, agent, now, cast(OfferFailure, reason))
        self._drain(now)
        return True

    def call_ended(self, call_id: str, agent: str, now: float, by: Hangup = "caller") -> bool:
        """The connected call ended; the agent goes to wrap-up."""
        return self._end(call_id, agent, now, by, None)

    def call_transferred(self, call_id: str, agent: str, now: float, target: str, *,
                         attended: bool = False) -> bool:
        """The agent transferred the connected call to ``target``; the agent goes to wrap-up."""
        return self._end(call_id, agent, now, "agent", target, attended)

    # -- configuration ---------------------------------------------------------------------

    def configure(self, queues: Iterable[QueueSettings],
                  agents: Iterable[AgentSettings]) -> list[str]:
        """A reloaded configuration: new queues are added, existing ones take their new
        settings (callers and members stay; a new strategy only while nobody is logged in
        to the queue), agents' settings apply from their next login.  A removed queue is
        dropped when nobody waits in it or serves it, else kept until then.  Returns what
        could not change now, one line each."""
        kept: list[str] = []
        wanted = {s.name: s for s in queues}
        for name, settings in wanted.items():
            if settings.strategy not in STRATEGIES:
                raise RouterError(f"queue {name}: unknown strategy {settings.strategy!r}")
            q = self._queues.get(name)
            if q is None:
                self._queues[name] = QueueRec(settings, STRATEGIES[settings.strategy])
                continue
            if settings.strategy != q.settings.strategy and q.members:
                kept.append(f"queue {name}: strategy stays {q.settings.strategy} while "
                            "agents are logged in")
                settings = replace(settings, strategy=q.settings.strategy)
            else:
                q.strategy = STRATEGIES[settings.strategy]
            q.settings = settings
            q.rate = float(settings.priority_ageing)
        for name in [n for n in self._queues if n not in wanted]:
            q = self._queues[name]
            if q.callers or q.members:
                kept.append(f"queue {name}: removed, kept while callers wait or agents "
                            "are logged in")
            else:
                del self._queues[name]
        self._agent_settings = {a.name: a for a in agents}
        return kept

    # -- agent inputs ----------------------------------------------------------------------

    def set_agent(self, settings: AgentSettings) -> None:
        """Add or replace an agent's settings; they apply from its next login."""
        self._agent_settings[settings.name] = settings

    def agent_login(self, agent: str, now: float,
                    queues_with_penalty: Mapping[str, int] | None = None) -> bool:
        """The agent logs in to these queues (name -> penalty; default: its settings'
        ``queues``) and is ready.  False if already logged in."""
        self._advance(now)
        if agent in self._agents:
            return False
        settings = self._agent_settings.get(agent) or AgentSettings(agent)
        membership = dict(settings.queues if queues_with_penalty is None
                          else queues_with_penalty)
        for name in membership:
            self._queue(name)
        a = AgentRec(agent, settings, now)
        self._agents[agent] = a
        for name, penalty in sorted(membership.items()):
            q = self._queues[name]
            q.next_order += 1
            rank = (q.settings.linear_order.index(agent) if agent in q.settings.linear_order
                    else len(q.settings.linear_order))
            member = MemberRec(a, q, penalty, q.next_order, rank)
            a.members[name] = member
            q.add_member(member)
        a.build_tiers()
        self._events.append(AgentLoggedIn(now, agent, tuple(sorted(membership.items()))))
        a.call = self._busy.get(agent)  # logged out during a call that is still going on
        self._set_activity(a, _READY if a.call is None else _ON_CALL)
        self._drain(now)
        return True

    def agent_logout(self, agent: str, now: float) -> bool:
        """The agent logs out; an offer ringing it is withdrawn (the caller goes on), a call
        in progress continues to its end.  False if not logged in."""
        self._advance(now)
        a = self._agents.get(agent)
        if a is None:
            return False
        self._release_ringing(a, now)
        self._set_activity(a, _OUT)
        for member in a.members.values():
            member.queue.remove_member(member)
        self._timers.cancel(a)
        del self._agents[agent]
        self._out_since[agent] = now
        self._events.append(AgentLoggedOut(now, agent, tuple(a.members), now - a.login_time))
        self._drain(now)
        return True

    def agent_pause(self, agent: str, reason: str, now: float) -> bool:
        """The agent takes no new call until unpaused (a ringing offer or a call in progress
        goes on).  False if not logged in or already paused for ``reason``."""
        self._advance(now)
        a = self._agents.get(agent)
        if a is None or a.paused == reason:
            return False
        self._pause(a, reason, now, auto=False)
        self._drain(now)
        return True

    def agent_unpause(self, agent: str, now: float) -> bool:
        """The agent is back.  False if not logged in or not paused."""
        self._advance(now)
        a = self._agents.get(agent)
        if a is None or a.paused is None:
            return False
        self._events.append(AgentUnpaused(now, agent, tuple(a.members), a.paused,
                                          now - a.paused_at))
        a.paused = None
        a.missed = 0
        self._set_activity(a, a.activity)
        self._drain(now)
        return True

    def last_call(self, agent: str) -> str | None:
        """The agent's last ended queue call still waiting for a disposition code."""
        last = self._last_call.get(agent)
        return None if last is None else last[0]

    def agent_disposition(self, agent: str, code: str, now: float) -> bool:
        """The agent sets ``code`` on its last ended queue call (once per call); a wrap-up in
        progress ends now and the agent is ready.  False if there is no such call."""
        self._advance(now)
        last = self._last_call.pop(agent, None)
        if last is None:
            return False
        a = self._agents.get(agent)
        left = 0.0
        if a is not None and a.activity is _WRAP_UP and a.call is None:
            left = max(0.0, a.until - now)
            a.until = now
            self._timers.cancel(a)
            a.idle_since = now
            self._set_activity(a, _READY)
        self._events.append(CallDisposition(now, last[0], last[1], agent, code, left))
        self._drain(now)
        return True

    # -- time --------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        timers = self._timers
        while (deadline := timers.next_deadline()) is not None and deadline <= now:
            at = max(deadline, self._now)
            self._now = at
            for key in timers.pop_due(deadline):
                if isinstance(key, CallerRec):
                    self._caller_timer(key, at)
                elif isinstance(key, AgentRec):
                    self._agent_timer(key, at)
                elif isinstance(key, tuple):
                    self._rejoin.pop(key, None)  # the rejoin window closed
            self._drain(at)
        self._now = max(self._now, now)

    def _arm_caller(self, c: CallerRec) -> None:
        if c.state is CallerState.GONE:
            return
        when = min(c.t_ring, c.t_maxwait, c.t_escalate, c.t_announce, c.t_retry)
        if when != c.armed:
            c.armed = when
            if when == INF:
                self._timers.cancel(c)
            else:
                self._timers.arm(c, when)

    def _caller_timer(self, c: CallerRec, now: float) -> None:
        c.armed = INF
        if c.state is CallerState.GONE:
            return
        if c.t_escalate <= now:
            self._escalate(c, now)
        if c.t_retry <= now:
            c.t_retry = INF
            self._wait(c)
        if c.t_ring <= now:
            c.t_ring = INF  # (re-armed if the caller is offered again)
            for agent in tuple(c.offered if c.state is CallerState.OFFERED else ()):
                self._actions.append(CancelOffer(c.call_id, agent))
                self._offer_failed(c, agent, now, "noanswer")
        if c.t_maxwait <= now:
            c.t_maxwait = INF
            if c.state is CallerState.WAITING:
                self._exit(c, now, "timeout")
            elif c.state is CallerState.OFFERED:
                c.timed_out = True  # the ring in progress may still connect
        if c.t_announce <= now:
            interval = c.queue.settings.announce_interval or INF
            while c.t_announce <= now:  # once, even if the shell was late
                c.t_announce += interval
            if c.state is CallerState.WAITING and c.callback is None:
                self._announce(c)
        self._arm_caller(c)

    def _agent_timer(self, a: AgentRec, now: float) -> None:
        if self._agents.get(a.name) is not a or a.until > now:
            return
        if a.activity is _WRAP_UP:
            a.idle_since = now
            self._set_activity(a, _READY)
        elif a.activity is _BACKOFF:
            self._set_activity(a, _READY)

    # -- the decisions -----------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        """Dispatch what became free or started waiting: agents first (each takes the best
        caller it can serve), then callers (their bucket's head takes a free agent)."""
        agents, callers = self._free_agents, self._new_callers
        while agents or callers:
            if agents:
                a = agents.popleft()
                if a.state is _READY and self._agents.get(a.name) is a:
                    self._dispatch_agent(a, now)
            else:
                c = callers.popleft()
                if c.in_bucket:
                    self._dispatch_bucket(c.queue, c.req, now)

    def _dispatch_bucket(self, q: QueueRec, req: Requirement, now: float) -> None:
        """Callers started waiting in this bucket: while a free agent meets its requirement,
        offer the bucket's head (the caller to serve first among those with these needs)."""
        agents = self._agents

        def eligible(name: str) -> bool:
            return not req or agents[name].meets(req)

        def weight(name: str) -> float:
            return agents[name].settings.weight

        while (bucket := q.buckets.get(req)) is not None:
            head = self._callers[bucket.first()[3]]
            for penalty in q.penalties:
                free = q.free[penalty]
                if not free:
                    continue
                names, memory = q.strategy.choose(free, eligible, weight, q.memory, self._rng)
                if names:
                    q.memory = memory
                    self._offer(head, names[:1] if head.callback is not None else names, now)
                    break
            else:
                return

    def _dispatch_agent(self, a: AgentRec, now: float) -> None:
        """An agent became free: give it the caller to serve first across its queues, or
        else put it in its queues' free lists - only here, so a caller never takes an agent
        that has not yet had its own pick."""
        for _, queues in a.tiers:
            best: tuple[float, float, int, str] | None = None
            best_q: QueueRec | None = None
            for q in queues:
                head = q.best_head(a)
                if head is None:
                    continue
                # effective priority at ``now`` makes queues with other ageing comparable
                key = (head[0] - q.rate * now, head[1], head[2], head[3])
                if best is None or key < best:
                    best, best_q = key, q
            if best is not None and best_q is not None:
                best_q.memory = a.members[best_q.name].order
                self._offer(self._callers[best[3]], (a.name,), now)
                return
        for member in a.members.values():
            member.queue.free_member(member)

    def _offer(self, c: CallerRec, names: tuple[str, ...], now: float) -> None:
        q = c.queue
        self._unbucket(c)
        c.offered = list(names)
        c.offered_at = now
        c.state = CallerState.OFFERED if c.callback is None else CallerState.RESERVED
        for name in names:
            a = self._agents[name]
            a.call = c.call_id
            self._set_activity(a, _RINGING)
        if c.callback is not None:
            self._actions.append(Callback(c.call_id, q.name, names[0], c.callback))
            self._events.append(CallbackMade(now, c.call_id, q.name, names[0], c.callback,
                                             now - c.arrived))
            return
        c.t_ring = now + q.settings.ring_timeout
        self._arm_caller(c)
        self._actions.append(Offer(c.call_id, q.name, names, q.settings.ring_timeout))
        self._events.extend(CallerOffered(now, c.call_id, q.name, n) for n in names)

    # -- caller transitions ----------------------------------------------------------------

    def _wait(self, c: CallerRec) -> None:
        """Put the caller (back) in its bucket and have it dispatched - or out, when its
        queue is empty under the leave-when-empty rule (virtual-hold callers stay)."""
        policy = c.queue.settings.leave_empty
        if policy is not None and c.callback is None and c.queue.is_empty(policy):
            self._exit(c, self._now, "leaveempty")
            return
        c.state = CallerState.WAITING
        c.queue.enter(c.req, c.entry)
        c.in_bucket = True
        self._new_callers.append(c)

    def _unbucket(self, c: CallerRec) -> None:
        if c.in_bucket:
            c.queue.leave(c.req, c.entry)
            c.in_bucket = False

    def _escalate(self, c: CallerRec, now: float) -> None:
        steps = c.queue.settings.escalation
        while c.step < len(steps) and c.arrived + steps[c.step].after <= now:
            c.step += 1
        c.t_escalate = c.arrived + steps[c.step].after if c.step < len(steps) else INF
        new = c.reqs[c.step]
        if new == c.req:
            return
        if c.in_bucket:
            self._unbucket(c)
            c.req = new
            self._wait(c)
        else:
            c.req = new

    def _leave(self, c: CallerRec) -> None:
        """The caller leaves its queue for good (the exit event is the caller's to add)."""
        q = c.queue
        self._unbucket(c)
        q.order.remove(c.entry)
        del q.callers[c.call_id]
        del self._callers[c.call_id]
        self._timers.cancel(c)
        c.state = CallerState.GONE

    def _exit(self, c: CallerRec, now: float, reason: OverflowReason) -> None:
        """The router takes the caller out: max wait reached, or the queue emptied."""
        q = c.queue
        position = q.order.rank(c.entry) + 1
        self._leave(c)
        target = q.settings.on_timeout if reason == "timeout" else q.settings.on_leave_empty
        self._events.append(CallerOverflowed(now, c.call_id, q.name, reason, target, position,
                                             c.entry_position, now - c.arrived))
        self._actions.append(Overflow(c.call_id, q.name, reason, target))

    def _depart(self, c: CallerRec, now: float) -> int:
        """The caller leaves of its own will (hung up, pressed a key): release the agents
        ringing for it and return the position it left from."""
        position = c.queue.order.rank(c.entry) + 1
        for name in c.offered:  # (empty unless it was ringing or reserved)
            self._actions.append(CancelOffer(c.call_id, name))
            self._events.append(OfferFailed(now, c.call_id, c.queue.name, name, "cancelled",
                                            now - c.offered_at))
            a = self._agents.get(name)
            if a is not None:
                a.call = None
                self._set_activity(a, _READY)
        c.offered = []
        self._leave(c)
        return position

    def _connect(self, c: CallerRec, agent: str, now: float) -> None:
        q = c.queue
        callback = c.state is CallerState.RESERVED
        losers = [n for n in c.offered if n != agent]
        ring_time = now - c.offered_at
        c.offered = []
        self._leave(c)
        for name in losers:  # ring-all: the others stop ringing
            self._actions.append(CancelOffer(c.call_id, name))
            other = self._agents[name]
            other.call = None
            self._set_activity(other, _READY)
        a = self._agents[agent]
        a.call = c.call_id
        a.missed = 0
        a.members[q.name].calls += 1
        self._set_activity(a, _ON_CALL)
        wait = now - c.arrived
        q.answered += 1
        if wait <= q.settings.service_level:
            q.answered_in_sl += 1
        self._busy[agent] = c.call_id
        self._connections[c.call_id] = Connection(c.call_id, q, agent, now, wait,
                                                  c.entry_position)
        self._events.append(CallerConnected(now, c.call_id, q.name, agent, wait, ring_time,
                                            c.entry_position, callback))

    def _offer_failed(self, c: CallerRec, agent: str, now: float,
                      reason: OfferFailure) -> None:
        c.offered.remove(agent)
        self._events.append(OfferFailed(now, c.call_id, c.queue.name, agent, reason,
                                        now - c.offered_at))
        a = self._agents.get(agent)
        if a is not None:
            a.call = None
            self._after_miss(a, reason, now)
        self._unrung(c, now)

    def _unrung(self, c: CallerRec, now: float) -> None:
        """After an offer to one agent ended: once no agent rings, the caller waits again
        (or leaves, if its maximum wait passed while it rang)."""
        if c.offered:
            return
        c.t_ring = INF
        if c.timed_out:
            self._exit(c, now, "timeout")
        else:
            self._wait(c)
            self._arm_caller(c)

    def _callback_failed(self, c: CallerRec, agent: str, now: float) -> None:
        q = c.queue
        c.offered = []
        c.attempts += 1
        final = c.attempts >= q.settings.callback_attempts
        a = self._agents.get(agent)
        if a is not None:
            a.call = None
            self._set_activity(a, _READY)
        number = c.callback or ""
        self._events.append(CallbackFailed(now, c.call_id, q.name, agent, number, c.attempts,
                                           final, now - c.arrived, c.entry_position))
        if final:
            self._leave(c)
        else:
            c.state = CallerState.RETRY
            c.t_retry = now + q.settings.callback_retry
            self._arm_caller(c)

    def _announce(self, c: CallerRec) -> None:
        q = c.queue
        position = q.order.rank(c.entry) + 1
        self._actions.append(Announce(c.call_id, q.name, position, q.expected_wait(position)))

    def _end(self, call_id: str, agent: str, now: float, by: Hangup,
             target: str | None, attended: bool = False) -> bool:
        self._advance(now)
        conn = self._connections.get(call_id)
        if conn is None or conn.agent != agent:
            return False
        del self._connections[call_id]
        del self._busy[agent]
        q = conn.queue
        self._last_call[agent] = (call_id, q.name)
        talk = now - conn.answered
        wrapup = float(q.settings.wrapup)
        a = self._agents.get(agent)
        if a is not None and a.call == call_id:
            a.call = None
            member = a.members.get(q.name)
            if member is not None:
                member.talk += talk
            if wrapup > 0:
                a.until = now + wrapup
                self._timers.arm(a, a.until)
                self._set_activity(a, _WRAP_UP)
            else:
                a.idle_since = now
                self._set_activity(a, _READY)
        else:
            wrapup = 0.0
        q.record_handle(talk + wrapup)
        if target is None:
            self._events.append(CallCompleted(now, call_id, q.name, agent, conn.wait, talk,
                                              wrapup, by, conn.entry_position))
        else:
            self._events.append(CallTransferred(now, call_id, q.name, agent, target,
                                                conn.wait, talk, conn.entry_position,
                                                attended))
        self._drain(now)
        return True

    # -- agent transitions -----------------------------------------------------------------

    def _set_activity(self, a: AgentRec, activity: AgentState) -> None:
        """Set what the agent does; keep queue counts and free lists right, dispatch it when
        it becomes free, and apply leave-when-empty to its queues."""
        a.activity = activity
        old = a.state
        if activity is _OUT:
            new = _OUT
        elif a.paused is not None and activity in (_READY, _BACKOFF):
            new = _PAUSED
        else:
            new = activity
        if new is old:
            return
        a.state = new
        a.since = self._now
        for member in a.members.values():
            q = member.queue
            q.count(old, new)
            if old is _READY:
                q.unfree(member)  # (a no-op if it was not indexed yet)
        if new is _READY:  # indexed as free only if no caller takes it (see _dispatch_agent)
            self._free_agents.append(a)
        for member in a.members.values():
            q = member.queue
            if q.settings.leave_empty is not None and q.callers \
                    and q.is_empty(q.settings.leave_empty):
                self._evacuate(q)

    def _evacuate(self, q: QueueRec) -> None:
        leaving = [c for c in q.callers.values()
                   if c.state is CallerState.WAITING and c.callback is None]
        for c in leaving:
            self._exit(c, self._now, "leaveempty")

    def _pause(self, a: AgentRec, reason: str, now: float, auto: bool) -> None:
        a.paused = reason
        a.paused_at = now
        self._events.append(AgentPaused(now, a.name, tuple(a.members), reason, auto))
        self._set_activity(a, a.activity)

    def _after_miss(self, a: AgentRec, reason: OfferFailure, now: float) -> None:
        """An offer to ``a`` failed: count no-answers (auto-pause), then back off or free."""
        if reason == "noanswer":
            a.missed += 1
            limit = a.settings.auto_pause_after
            if limit is not None and a.missed >= limit and a.paused is None:
                a.missed = 0
                self._pause(a, AUTO_PAUSE_REASON, now, auto=True)
        delay = a.settings.delay_after(reason)
        if delay > 0:
            a.until = now + delay
            self._timers.arm(a, a.until)
            self._set_activity(a, _BACKOFF)
        else:
            self._set_activity(a, _READY)

    def _release_ringing(self, a: AgentRec, now: float) -> None:
        """Before logout: withdraw the offer or callback reservation ringing this agent."""
        if a.activity is not _RINGING or a.call is None:
            return
        c = self._callers[a.call]
        self._actions.append(CancelOffer(c.call_id, a.name))
        self._events.append(OfferFailed(now, c.call_id, c.queue.name, a.name, "cancelled",
                                        now - c.offered_at))
        a.call = None
        c.offered.remove(a.name)
        if c.state is CallerState.OFFERED:
            self._unrung(c, now)
        else:  # a callback reservation: the caller keeps its place, no attempt counted
            self._wait(c)

    def _queue(self, name: str) -> QueueRec:
        q = self._queues.get(name)
        if q is None:
            raise RouterError(f"unknown queue {name!r}")
        return q

