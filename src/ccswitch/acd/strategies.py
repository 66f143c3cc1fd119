"""Ring strategies: pure functions choosing among a queue's free agents, in a registry.

The router keeps each queue's free agents (per penalty tier) in a list sorted by the
strategy's ``key``, as entries ``(k1, k2, order, agent)`` where ``order`` is the member's
join order in the queue (unique).  A strategy's ``choose`` walks that list and returns the
agents to ring, and its new memory (the round-robin pointer), given:

* ``eligible(agent)`` - the agent meets the caller's skill requirement;
* ``weight(agent)`` - the agent's weight (``weighted_random``);
* ``memory`` - the queue's last remembered member order (``round_robin``);
* ``rng`` - the router's injected random source (``random.Random`` or alike).

Keyed strategies stop at the first eligible entry, so a choice costs O(log n) plus the
ineligible agents skipped; only ``ring_all`` and ``weighted_random`` look at every free agent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple, Protocol

FreeEntry = tuple[float, float, int, str]
"""A free agent as the router indexes it: (key 1, key 2, member order, agent name)."""


class FreeList(Protocol):
    """A queue tier's free agents, sorted (``acd.model.SortedList``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> FreeEntry: ...

    def __iter__(self) -> Iterator[FreeEntry]: ...

    def bisect_left(self, item: FreeEntry) -> int: ...


class RandomLike(Protocol):
    """The part of ``random.Random`` the strategies use."""

    def random(self) -> float: ...

    def randrange(self, start: int, /) -> int: ...


class MemberStats(NamedTuple):
    """What a strategy may order free agents by, for one queue member."""

    idle_since: float  # end of its last call's wrap-up, or login
    calls: int  # calls answered from this queue since login
    talk: float  # talk seconds on calls from this queue since login
    order: int  # join order in this queue
    rank: int  # position in the queue's ``linear_order`` (members not listed come after)


Choice = tuple[tuple[str, ...], int]
KeyFn = Callable[[MemberStats], tuple[float, float]]


class Chooser(Protocol):
    def __call__(self, free: FreeList, eligible: Callable[[str], bool],
                 weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice: ...


@dataclass(frozen=True, slots=True)
class Strategy:
    """A named strategy: the order free agents are kept in, and how one is chosen."""

    name: str
    key: KeyFn
    choose: Chooser


# -- keys ----------------------------------------------------------------------------------


def longest_idle_key(m: MemberStats) -> tuple[float, float]:
    return (m.idle_since, 0.0)


def fewest_calls_key(m: MemberStats) -> tuple[float, float]:
    return (float(m.calls), m.idle_since)


def least_talk_key(m: MemberStats) -> tuple[float, float]:
    return (m.talk, m.idle_since)


def linear_key(m: MemberStats) -> tuple[float, float]:
    return (float(m.rank), 0.0)


def order_key(m: MemberStats) -> tuple[float, float]:
    return (0.0, 0.0)  # entries then sort by member order alone


# -- choosers -------------------------------------------------------------------------------


def first_eligible(free: FreeList, eligible: Callable[[str], bool],
                   weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice:
    """The first eligible agent in key order (longest idle, fewest calls, ...)."""
    for entry in free:
        if eligible(entry[3]):
            return (entry[3],), memory
    return (), memory


def round_robin(free: FreeList, eligible: Callable[[str], bool],
                weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice:
    """The first eligible agent after the last one chosen (by member order), wrapping."""
    n = len(free)
    if not n:
        return (), memory
    start = free.bisect_left((0.0, 0.0, memory + 1, ""))
    for i in range(n):
        entry = free[(start + i) % n]
        if eligible(entry[3]):
            return (entry[3],), entry[2]
    return (), memory


def uniform_random(free: FreeList, eligible: Callable[[str], bool],
                   weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice:
    """An eligible agent uniformly at random: a few rejection draws, then an exact pick."""
    n = len(free)
    for _ in range(min(n, 8)):
        entry = free[rng.randrange(n)]
        if eligible(entry[3]):
            return (entry[3],), memory
    names = [e[3] for e in free if eligible(e[3])]
    if not names:
        return (), memory
    return (names[rng.randrange(len(names))],), memory


def weighted_random(free: FreeList, eligible: Callable[[str], bool],
                    weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice:
    """An eligible agent at random, with probability proportional to its weight."""
    names = [e[3] for e in free if eligible(e[3])]
    if not names:
        return (), memory
    weights = [weight(name) for name in names]
    point = rng.random() * sum(weights)
    for name, w in zip(names, weights, strict=True):
        point -= w
        if point < 0:
            return (name,), memory
    return (names[-1],), memory


def ring_all(free: FreeList, eligible: Callable[[str], bool],
             weight: Callable[[str], float], memory: int, rng: RandomLike) -> Choice:
    """Every eligible free agent of the tier at once."""
    return tuple(e[3] for e in free if eligible(e[3])), memory


STRATEGIES: Final = MappingProxyType({
    s.name: s for s in (
        Strategy("longest_idle", longest_idle_key, first_eligible),
        Strategy("fewest_calls", fewest_calls_key, first_eligible),
        Strategy("least_talk", least_talk_key, first_eligible),
        Strategy("linear", linear_key, first_eligible),
        Strategy("round_robin", order_key, round_robin),
        Strategy("random", order_key, uniform_random),
        Strategy("weighted_random", order_key, weighted_random),
        Strategy("ring_all", order_key, ring_all),
    )
})
"""Every strategy by name; ``longest_idle`` is the default."""


def entry_for(strategy: Strategy, stats: MemberStats, agent: str) -> FreeEntry:
    """The free-list entry of ``agent`` under ``strategy``."""
    k1, k2 = strategy.key(stats)
    return (k1, k2, stats.order, agent)
