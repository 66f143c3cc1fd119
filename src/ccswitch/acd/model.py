"""The ACD data model: queue and agent settings, skill requirements, and a sorted list.

Everything here is plain data or a pure function; the router (``acd.router``) owns state.

Skill requirements
    A *requirement* is a sorted tuple of ``(skill, minimum level)`` pairs, all of which an
    agent must meet (levels 1-10).  A caller's base requirement is the queue's ``skills``
    overridden by the caller's own (``enqueue(skills=...)``).  Escalation steps relax it after
    a wait: each step drops skills, caps named skills at lower levels and lowers every level
    by ``lower_by`` (never below 1); steps apply cumulatively, so the set of agents who may
    take a caller only widens.

Empty queues (``join_empty`` / ``leave_empty``)
    ``None`` means the policy is off (join always / never leave).  Otherwise the value is the
    set of agent states that count as *absent*; a queue is empty when no logged-in member is
    in a state outside that set.  A queue with no logged-in member is always empty (Asterisk's
    ``unavailable``).  ``frozenset()`` = "empty only when nobody is logged in";
    ``{PAUSED}`` = Asterisk ``paused``; add ``ON_CALL`` (``inuse``), ``RINGING``, ``WRAP_UP``,
    ``BACKOFF`` for stricter rules.  Skills are not considered: emptiness is about staffing.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from ..errors import CcswitchError
from .strategies import FreeEntry, MemberStats, Strategy, entry_for

Requirement = tuple[tuple[str, int], ...]
"""Skills an agent must have, sorted by name: ``(("billing", 5), ("french", 3))``."""

MIN_LEVEL: Final = 1
MAX_LEVEL: Final = 10
TARGET_KINDS: Final = ("queue", "number", "voicemail", "ivr", "hangup")
AUTO_PAUSE_REASON: Final = "autopause"
OFFER_FAILURES: Final = ("noanswer", "busy", "rejected")


class RouterError(CcswitchError, ValueError):
    """API misuse or invalid settings: unknown queue, duplicate call id, bad level..."""


class AgentState(enum.StrEnum):
    """What an agent is doing; ``BACKOFF`` is the short rest after a failed offer."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"  # offered a call, or reserved for a callback
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BACKOFF = "backoff"  # after no-answer / busy / reject, for the agent's delay
    PAUSED = "paused"


def _frozen_map(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return MappingProxyType(dict(value or {}))


def _check_levels(where: str, skills: Mapping[str, int]) -> None:
    for skill, level in skills.items():
        if not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
            raise RouterError(f"{where}: skill {skill!r} level {level!r} is not 1-10")


@dataclass(frozen=True, slots=True)
class Target:
    """Where an overflowing caller goes: ``kind`` in TARGET_KINDS, ``value`` its name/number."""

    kind: str
    value: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise RouterError(f"overflow target kind {self.kind!r} is not one of {TARGET_KINDS}")

    @classmethod
    def parse(cls, text: str) -> Target:
        """``"queue:sales"``, ``"number:+3312345"``, ``"voicemail:2001"``, ``"ivr:main"``,
        ``"hangup"``."""
        kind, _, value = text.partition(":")
        return cls(kind.strip(), value.strip())

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After ``after`` seconds of waiting, relax the caller's requirement (cumulatively)."""

    after: float
    drop: frozenset[str] = frozenset()  # skills no longer required
    lower_by: int = 0  # every remaining minimum level goes down by this (never below 1)
    levels: Mapping[str, int] = field(default_factory=dict)  # caps: skill -> max minimum

    def __post_init__(self) -> None:
        if not self.after > 0:
            raise RouterError(f"escalation step after {self.after!r}: must be > 0")
        if self.lower_by < 0:
            raise RouterError("escalation lower_by must be >= 0")
        object.__setattr__(self, "drop", frozenset(self.drop))
        _check_levels("escalation levels", self.levels)
        object.__setattr__(self, "levels", _frozen_map(self.levels))


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """One queue.  Times are seconds; ``None`` disables a limit or a feature."""

    name: str
    strategy: str = "longest_idle"
    ring_timeout: float = 20.0  # an offer rings this long, then the next agent is tried
    wrapup: float = 5.0  # after-call work before the agent is offered again
    skills: Mapping[str, int] = field(default_factory=dict)  # required minimum levels
    escalation: tuple[EscalationStep, ...] = ()
    priority_ageing: float = 0.0  # priority points gained per second of waiting
    max_wait: float | None = None  # then the caller overflows to ``on_timeout``
    max_length: int | None = None  # callers beyond this overflow to ``on_full``
    join_empty: frozenset[AgentState] | None = None  # see the module docstring
    leave_empty: frozenset[AgentState] | None = None
    on_timeout: Target | None = None  # None: the switch continues the call's dial plan
    on_full: Target | None = None
    on_join_empty: Target | None = None
    on_leave_empty: Target | None = None
    service_level: float = 20.0  # answered within this many seconds counts as in SL
    announce_interval: float | None = 30.0  # position/expected-wait announcements
    announce_on_entry: bool = True  # an Announce when a caller has to wait at all
    rejoin_window: float = 0.0  # a caller who hung up may rejoin its place this long
    callback_attempts: int = 1  # tries to reach a virtual-hold caller
    callback_retry: float = 60.0  # delay before the next try
    handle_window: int = 100  # handle times kept for the expected wait
    default_handle_time: float | None = None  # until one call has been handled
    linear_order: tuple[str, ...] = ()  # agent order for the ``linear`` strategy

    def __post_init__(self) -> None:
        _check_levels(f"queue {self.name}", self.skills)
        object.__setattr__(self, "skills", _frozen_map(self.skills))
        steps = tuple(self.escalation)
        if any(b.after <= a.after for a, b in itertools.pairwise(steps)):
            raise RouterError(f"queue {self.name}: escalation steps must have rising 'after'")
        object.__setattr__(self, "escalation", steps)
        if self.ring_timeout <= 0 or self.wrapup < 0 or self.priority_ageing < 0:
            raise RouterError(f"queue {self.name}: ring_timeout > 0, wrapup and ageing >= 0")
        if self.max_length is not None and self.max_length < 0:
            raise RouterError(f"queue {self.name}: max_length must be >= 0")
        if self.callback_attempts < 1 or self.handle_window < 1:
            raise RouterError(f"queue {self.name}: callback_attempts, handle_window >= 1")
        for policy in (self.join_empty, self.leave_empty):
            if policy is not None and (AgentState.LOGGED_OUT in policy
                                       or AgentState.READY in policy):
                raise RouterError(f"queue {self.name}: empty policies name busy states only")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """One agent: skills (1-10), default queue membership (queue -> penalty), and the rest
    it takes after a failed offer.  ``weight`` is for the ``weighted_random`` strategy."""

    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: Mapping[str, int] = field(default_factory=dict)
    weight: float = 1.0
    auto_pause_after: int | None = 3  # consecutive no-answers, then paused ("autopause")
    no_answer_delay: float = 5.0
    busy_delay: float = 5.0
    reject_delay: float = 5.0

    def __post_init__(self) -> None:
        _check_levels(f"agent {self.name}", self.skills)
        object.__setattr__(self, "skills", _frozen_map(self.skills))
        object.__setattr__(self, "queues", _frozen_map(self.queues))
        if self.weight <= 0 or min(self.no_answer_delay, self.busy_delay,
                                   self.reject_delay) < 0:
            raise RouterError(f"agent {self.name}: weight > 0 and delays >= 0")
        if self.auto_pause_after is not None and self.auto_pause_after < 1:
            raise RouterError(f"agent {self.name}: auto_pause_after must be >= 1")

    def delay_after(self, reason: str) -> float:
        """The backoff after an offer failed for ``reason`` (see OFFER_FAILURES)."""
        if reason == "noanswer":
            return self.no_answer_delay
        return self.busy_delay if reason == "busy" else self.reject_delay


# -- requirements ------------------------------------------------------------------------


def make_requirement(queue_skills: Mapping[str, int],
                     caller_skills: Mapping[str, int] | None = None) -> Requirement:
    """The queue's required skills, overridden by the caller's own for the same name."""
    merged = dict(queue_skills)
    if caller_skills:
        _check_levels("caller skills", caller_skills)
        merged.update(caller_skills)
    return tuple(sorted(merged.items()))


def escalate(req: Requirement, step: EscalationStep) -> Requirement:
    """``req`` relaxed by one escalation ``step``."""
    out: list[tuple[str, int]] = []
    for skill, level in req:
        if skill in step.drop:
            continue
        cap = step.levels.get(skill)
        if cap is not None:
            level = min(level, cap)
        out.append((skill, max(MIN_LEVEL, level - step.lower_by)))
    return tuple(out)


def requirement_steps(req: Requirement,
                      steps: tuple[EscalationStep, ...]) -> tuple[Requirement, ...]:
    """``req`` before any step, then after each step in turn (``len(steps) + 1`` items)."""
    out = [req]
    for step in steps:
        out.append(escalate(out[-1], step))
    return tuple(out)


def satisfies(skills: Mapping[str, int], req: Requirement) -> bool:
    """True when ``skills`` meets every minimum level of ``req``."""
    get = skills.get
    for skill, level in req:  # noqa: SIM110 - a plain loop: this is the hot path
        if get(skill, 0) < level:
            return False
    return True


# -- a sorted list with rank, for callers in line and free agents -------------------------

T = TypeVar("T", bound=tuple[Any, ...])


class SortedList(Generic[T]):
    """A list kept sorted, in blocks of at most ``2 * load`` items, so that insertion and
    removal cost O(log n + load) and ``rank`` O(n / load) - never a scan of every item.

    Items must be totally ordered and unique (callers and agents carry a sequence number).
    """

    __slots__ = ("_blocks", "_len", "_load", "_maxes")

    def __init__(self, load: int = 512) -> None:
        self._blocks: list[list[T]] = []
        self._maxes: list[T] = []
        self._len = 0
        self._load = load

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self) -> Iterator[T]:
        for block in self._blocks:
            yield from block

    def add(self, item: T) -> None:
        blocks, maxes = self._blocks, self._maxes
        self._len += 1
        if not blocks:
            blocks.append([item])
            maxes.append(item)
            return
        i = bisect.bisect_left(maxes, item)
        if i == len(maxes):
            i -= 1
            blocks[i].append(item)
            maxes[i] = item
        else:
            bisect.insort(blocks[i], item)
        if len(blocks[i]) > 2 * self._load:
            block = blocks[i]
            half = len(block) // 2
            blocks[i:i + 1] = [block[:half], block[half:]]
            maxes[i:i + 1] = [block[half - 1], block[-1]]

    def remove(self, item: T) -> None:
        """Remove ``item``; KeyError if absent."""
        blocks, maxes = self._blocks, self._maxes
        i = bisect.bisect_left(maxes, item)
        if i < len(blocks):
            block = blocks[i]
            j = bisect.bisect_left(block, item)
            if j < len(block) and block[j] == item:
                del block[j]
                self._len -= 1
                if not block:
                    del blocks[i]
                    del maxes[i]
                elif j == len(block):
                    maxes[i] = block[-1]
                return
        raise KeyError(item)

    def first(self) -> T:
        """The smallest item (IndexError when empty)."""
        return self._blocks[0][0]

    def rank(self, item: T) -> int:
        """How many items are smaller than ``item``."""
        blocks = self._blocks
        i = bisect.bisect_left(self._maxes, item)
        if i == len(blocks):
            return self._len
        if 2 * i < len(blocks):
            before = sum(len(b) for b in blocks[:i])
        else:
            before = self._len - sum(len(b) for b in blocks[i:])
        return before + bisect.bisect_left(blocks[i], item)

    def __getitem__(self, index: int) -> T:
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        for block in self._blocks:
            if index < len(block):
                return block[index]
            index -= len(block)
        raise IndexError(index)  # pragma: no cover - unreachable

    def bisect_left(self, item: T) -> int:
        """The index where ``item`` would be inserted (== ``rank``)."""
        return self.rank(item)


# -- the router's records (mutable; owned by one Router) -----------------------------------


class CallerState(enum.Enum):
    """Where a queued caller is."""

    WAITING = "waiting"  # in line (also a virtual-hold caller waiting for its callback)
    OFFERED = "offered"  # ringing one agent (or several: ring-all)
    RESERVED = "reserved"  # its turn came: an agent is reserved, the callback is going out
    RETRY = "retry"  # a callback attempt failed; tried again after ``callback_retry``
    GONE = "gone"


class MemberRec:
    """An agent's membership of one queue."""

    __slots__ = ("agent", "calls", "entry", "order", "penalty", "queue", "rank", "talk")

    def __init__(self, agent: AgentRec, queue: QueueRec, penalty: int, order: int,
                 rank: int) -> None:
        self.agent = agent
        self.queue = queue
        self.penalty = penalty
        self.order = order
        self.rank = rank
        self.calls = 0
        self.talk = 0.0
        self.entry: FreeEntry | None = None


class AgentRec:
    """A logged-in agent.  ``activity`` is what it does; ``state`` adds the pause."""

    __slots__ = ("activity", "call", "eligible", "idle_since", "login_time", "members", "missed",
                 "name",
                 "paused", "paused_at", "settings", "since", "skills", "state", "tiers",
                 "until")

    def __init__(self, name: str, settings: AgentSettings, now: float) -> None:
        self.name = name
        self.settings = settings
        self.skills = settings.skills
        self.login_time = now
        self.idle_since = now
        self.activity = AgentState.LOGGED_OUT
        self.state = AgentState.LOGGED_OUT
        self.since = now  # when ``state`` last changed
        self.paused: str | None = None
        self.paused_at = now
        self.missed = 0
        self.call: str | None = None
        self.until = 0.0
        self.members: dict[str, MemberRec] = {}
        self.tiers: list[tuple[int, tuple[QueueRec, ...]]] = []
        self.eligible: dict[Requirement, bool] = {}  # a cache of satisfies(skills, req)

    def meets(self, req: Requirement) -> bool:
        """Whether the agent's skills meet ``req`` (cached; the skills never change while it
        is logged in)."""
        found = self.eligible.get(req)
        if found is None:
            if len(self.eligible) >= 512:
                self.eligible.clear()
            found = self.eligible[req] = satisfies(self.skills, req)
        return found

    def build_tiers(self) -> None:
        """Its queues grouped by penalty, lowest first."""
        by_penalty: dict[int, list[QueueRec]] = {}
        for member in self.members.values():
            by_penalty.setdefault(member.penalty, []).append(member.queue)
        self.tiers = [(p, tuple(qs)) for p, qs in sorted(by_penalty.items())]


class CallerRec:
    """A caller in a queue.  ``entry`` is its sort key in line (see ``acd.router``)."""

    __slots__ = ("armed", "arrived", "attempts", "call_id", "callback", "entry",
                 "entry_position", "in_bucket", "number", "offered", "offered_at", "place",
                 "priority", "queue", "req", "reqs", "seq", "state", "step", "t_announce",
                 "t_escalate", "t_maxwait", "t_retry", "t_ring", "timed_out")

    def __init__(self, call_id: str, queue: QueueRec, priority: int, number: str | None,
                 arrived: float, place: float, seq: int,
                 reqs: tuple[Requirement, ...]) -> None:
        inf = float("inf")
        self.call_id = call_id
        self.queue = queue
        self.priority = priority
        self.number = number
        self.arrived = arrived
        self.place = place
        self.seq = seq
        self.entry: CallerEntry = (-(priority - queue.rate * place), place, seq, call_id)
        self.entry_position = 0
        self.reqs = reqs
        self.step = 0
        self.req = reqs[0]
        self.state = CallerState.WAITING
        self.in_bucket = False
        self.offered: list[str] = []
        self.offered_at = arrived
        self.callback: str | None = None
        self.attempts = 0
        self.timed_out = False
        self.t_ring = self.t_maxwait = self.t_escalate = self.t_announce = inf
        self.t_retry = self.armed = inf


CallerEntry = tuple[float, float, int, str]
"""A caller's key in line: (-(priority - ageing * place), place, seq, call id)."""


class Connection:
    """A call answered by an agent, until it ends."""

    __slots__ = ("agent", "answered", "call_id", "entry_position", "queue", "wait")

    def __init__(self, call_id: str, queue: QueueRec, agent: str, answered: float,
                 wait: float, entry_position: int) -> None:
        self.call_id = call_id
        self.queue = queue
        self.agent = agent
        self.answered = answered
        self.wait = wait
        self.entry_position = entry_position


class QueueRec:
    """A queue's live state: callers in line (all, and per requirement bucket), members,
    free agents per penalty tier (sorted by the strategy key), counts by agent state."""

    __slots__ = ("abandoned", "answered", "answered_in_sl", "buckets", "callers", "counts",
                 "free", "handle_sum", "handles", "heads", "members", "memory", "name",
                 "next_order", "order", "penalties", "rate", "settings", "steps", "strategy",
                 "tier_sizes")

    def __init__(self, settings: QueueSettings, strategy: Strategy) -> None:
        self.settings = settings
        self.name = settings.name
        self.strategy = strategy
        self.rate = float(settings.priority_ageing)
        self.callers: dict[str, CallerRec] = {}  # in arrival order
        self.order: SortedList[CallerEntry] = SortedList()
        self.buckets: dict[Requirement, SortedList[CallerEntry]] = {}
        # every bucket's head, best first: a free agent stops at the first it qualifies for
        self.heads: SortedList[tuple[CallerEntry, Requirement]] = SortedList(load=64)
        self.members: dict[str, MemberRec] = {}
        self.free: dict[int, SortedList[FreeEntry]] = {}
        self.penalties: list[int] = []
        self.tier_sizes: dict[int, int] = {}
        self.counts: dict[AgentState, int] = dict.fromkeys(AgentState, 0)
        self.handles: deque[float] = deque()
        self.handle_sum = 0.0
        self.memory = 0
        self.next_order = 0
        self.answered = self.answered_in_sl = self.abandoned = 0
        self.steps: dict[Requirement, tuple[Requirement, ...]] = {}

    def steps_for(self, base: Requirement) -> tuple[Requirement, ...]:
        """``base`` and its escalated forms (interned per queue)."""
        found = self.steps.get(base)
        if found is None:
            found = self.steps[base] = requirement_steps(base, self.settings.escalation)
        return found

    def enter(self, req: Requirement, entry: CallerEntry) -> None:
        """A caller starts waiting in the bucket of ``req``; ``heads`` follows."""
        bucket = self.buckets.get(req)
        if bucket is None:
            bucket = self.buckets[req] = SortedList()
            bucket.add(entry)
            self.heads.add((entry, req))
            return
        head = bucket.first()
        bucket.add(entry)
        if entry < head:
            self.heads.remove((head, req))
            self.heads.add((entry, req))

    def leave(self, req: Requirement, entry: CallerEntry) -> None:
        """A caller stops waiting in the bucket of ``req``; ``heads`` follows."""
        bucket = self.buckets[req]
        head = bucket.first()
        bucket.remove(entry)
        if entry == head:
            self.heads.remove((head, req))
            if bucket:
                self.heads.add((bucket.first(), req))
            else:
                del self.buckets[req]

    def best_head(self, agent: AgentRec) -> CallerEntry | None:
        """The caller ``agent`` should take from this queue: the best bucket head it
        qualifies for (heads are kept best first, so this usually stops at once)."""
        if not self.heads:
            return None
        entry, req = self.heads.first()
        if not req or agent.meets(req):
            return entry
        for entry, req in self.heads:
            if not req or agent.meets(req):
                return entry
        return None

    def add_member(self, member: MemberRec) -> None:
        self.members[member.agent.name] = member
        n = self.tier_sizes.get(member.penalty, 0)
        self.tier_sizes[member.penalty] = n + 1
        if n == 0:
            bisect.insort(self.penalties, member.penalty)
            self.free[member.penalty] = SortedList(load=256)

    def remove_member(self, member: MemberRec) -> None:
        del self.members[member.agent.name]
        n = self.tier_sizes[member.penalty] - 1
        self.tier_sizes[member.penalty] = n
        if n == 0:
            del self.tier_sizes[member.penalty]
            self.penalties.remove(member.penalty)
            del self.free[member.penalty]

    def count(self, old: AgentState, new: AgentState) -> None:
        if old is not AgentState.LOGGED_OUT:
            self.counts[old] -= 1
        if new is not AgentState.LOGGED_OUT:
            self.counts[new] += 1

    def free_member(self, member: MemberRec) -> None:
        if member.entry is not None:  # already indexed
            return
        stats = MemberStats(member.agent.idle_since, member.calls, member.talk, member.order,
                            member.rank)
        member.entry = entry_for(self.strategy, stats, member.agent.name)
        self.free[member.penalty].add(member.entry)

    def unfree(self, member: MemberRec) -> None:
        if member.entry is not None:
            self.free[member.penalty].remove(member.entry)
            member.entry = None

    def is_empty(self, absent: frozenset[AgentState]) -> bool:
        """No logged-in member in a state outside ``absent`` (see the module docstring)."""
        return not any(n for state, n in self.counts.items() if n and state not in absent)

    def record_handle(self, seconds: float) -> None:
        self.handles.append(seconds)
        self.handle_sum += seconds
        if len(self.handles) > self.settings.handle_window:
            self.handle_sum -= self.handles.popleft()

    def average_handle(self) -> float | None:
        if self.handles:
            return self.handle_sum / len(self.handles)
        return self.settings.default_handle_time

    def expected_wait(self, position: int) -> float | None:
        """``position`` callers served by the staffed (logged-in, unpaused) members, each
        call taking the recent average handle time; ``None`` when unknown."""
        staffed = len(self.members) - self.counts[AgentState.PAUSED]
        aht = self.average_handle()
        if staffed <= 0 or aht is None:
            return None
        return position * aht / staffed

    def status(self, now: float) -> dict[str, object]:
        """Waiting callers, longest wait, agents by state, answered/abandoned counts,
        service level (answered within ``service_level`` / answered), handle and wait."""
        oldest = next(iter(self.callers.values()), None)  # callers are in arrival order
        return {
            "name": self.name, "waiting": len(self.callers),
            "longest_wait_s": 0.0 if oldest is None else max(0.0, now - oldest.arrived),
            "agents": {s.value: n for s, n in self.counts.items() if n},
            "answered": self.answered, "abandoned": self.abandoned,
            "service_level": self.answered_in_sl / self.answered if self.answered else None,
            "average_handle_s": self.average_handle(),
            "expected_wait_s": self.expected_wait(len(self.callers) + 1)}
