"""Ring strategies: the pure choosers on their own, then each strategy through the router."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ccswitch.acd import events as ev
from ccswitch.acd.model import AgentSettings, QueueSettings, SortedList
from ccswitch.acd.router import Router
from ccswitch.acd.strategies import (
    STRATEGIES,
    FreeEntry,
    first_eligible,
    ring_all,
    round_robin,
    uniform_random,
    weighted_random,
)


def free_list(*names: str) -> SortedList[FreeEntry]:
    out: SortedList[FreeEntry] = SortedList()
    for order, name in enumerate(names, start=1):
        out.add((0.0, 0.0, order, name))
    return out


def everyone(name: str) -> bool:
    return True


def unit(name: str) -> float:
    return 1.0


def test_registry_has_every_strategy_of_the_issue() -> None:
    assert set(STRATEGIES) == {"ring_all", "longest_idle", "fewest_calls", "least_talk",
                               "round_robin", "linear", "random", "weighted_random"}


def test_first_eligible_skips_the_unqualified() -> None:
    free = free_list("a", "b", "c")
    rng = random.Random(0)
    assert first_eligible(free, lambda n: n != "a", unit, 0, rng) == (("b",), 0)
    assert first_eligible(free, lambda n: False, unit, 0, rng) == ((), 0)


def test_round_robin_resumes_after_the_last_chosen_and_wraps() -> None:
    free = free_list("a", "b", "c")  # member orders 1, 2, 3
    rng = random.Random(0)
    picks, memory = [], 0
    for _ in range(5):
        (name,), memory = round_robin(free, everyone, unit, memory, rng)
        picks.append(name)
    assert picks == ["a", "b", "c", "a", "b"]
    assert round_robin(free, lambda n: n == "a", unit, 1, rng) == (("a",), 1)  # wraps to a
    assert round_robin(free_list(), everyone, unit, 2, rng) == ((), 2)


def test_uniform_random_is_uniform_over_the_eligible() -> None:
    free = free_list("a", "b", "c", "d", "e")
    rng = random.Random(42)
    draws = Counter(uniform_random(free, lambda n: n in "bde", unit, 0, rng)[0][0]
                    for _ in range(6000))
    assert set(draws) == {"b", "d", "e"}
    for name in "bde":  # 2000 expected each, sd ~ 36.5
        assert abs(draws[name] - 2000) < 150, draws
    rare = Counter(uniform_random(free, lambda n: n == "c", unit, 0, rng)[0][0]
                   for _ in range(50))
    assert rare == {"c": 50}  # found by the exact fallback when rejection draws miss


def test_weighted_random_follows_the_weights() -> None:
    free = free_list("light", "heavy", "none")
    weights = {"light": 1.0, "heavy": 3.0, "none": 5.0}
    rng = random.Random(7)
    draws = Counter(weighted_random(free, lambda n: n != "none", weights.__getitem__, 0,
                                    rng)[0][0] for _ in range(8000))
    assert set(draws) == {"light", "heavy"}
    assert abs(draws["heavy"] / 8000 - 0.75) < 0.02, draws  # sd ~ 0.005


def test_ring_all_returns_every_eligible_agent() -> None:
    free = free_list("a", "b", "c")
    assert ring_all(free, lambda n: n != "b", unit, 0, random.Random(0)) == (("a", "c"), 0)


# -- through the router --------------------------------------------------------------------


def router(strategy: str, *names: str, seed: int = 1, **queue: object) -> Router:
    agents = tuple(AgentSettings(n, weight=3.0 if n == "b" else 1.0) for n in names)
    r = Router(queues=[QueueSettings("q", strategy=strategy, wrapup=0.0, **queue)],  # type: ignore[arg-type]
               agents=agents, rng=random.Random(seed))
    for i, name in enumerate(names):
        r.agent_login(name, float(i), {"q": 0})
    return r


def take_call(r: Router, call_id: str, now: float, talk: float = 0.0) -> str:
    """Enqueue a call; the chosen agent answers and talks ``talk`` seconds. Returns it."""
    r.enqueue(call_id, "q", now)
    (offer,) = [a for a in r.actions() if isinstance(a, ev.Offer)]
    (name,) = offer.agents
    r.offer_answered(call_id, name, now)
    r.call_ended(call_id, name, now + talk)
    return name


def test_longest_idle_prefers_the_agent_free_for_longest() -> None:
    r = router("longest_idle", "a", "b", "c")  # logged in at 0, 1, 2
    assert [take_call(r, f"c{i}", 10.0 + i) for i in range(4)] == ["a", "b", "c", "a"]


def test_fewest_calls_prefers_the_agent_with_fewer_answered_calls() -> None:
    r = router("fewest_calls", "a", "b")
    assert take_call(r, "c1", 10.0) == "a"
    assert take_call(r, "c2", 11.0) == "b"
    assert take_call(r, "c3", 12.0) == "a"  # a tie on calls: the longer idle
    r.agent_pause("b", "x", 12.5)
    assert take_call(r, "c4", 13.0) == "a"  # a: 3 calls, b: 1
    r.agent_unpause("b", 14.0)
    assert take_call(r, "c5", 15.0) == "b"


def test_least_talk_prefers_the_agent_who_talked_least() -> None:
    r = router("least_talk", "a", "b")
    assert take_call(r, "c1", 10.0, talk=300.0) == "a"
    assert take_call(r, "c2", 400.0, talk=100.0) == "b"
    assert take_call(r, "c3", 600.0) == "b"  # 100 s against 300 s
    assert take_call(r, "c4", 601.0) == "b"


def test_round_robin_remembers_where_it_stopped() -> None:
    r = router("round_robin", "a", "b", "c")
    assert [take_call(r, f"c{i}", 10.0 + i) for i in range(5)] == ["a", "b", "c", "a", "b"]


def test_linear_follows_the_configured_order() -> None:
    r = router("linear", "a", "b", "c", linear_order=("c", "a"))
    assert [take_call(r, f"c{i}", 10.0 + i) for i in range(3)] == ["c", "c", "c"]
    r.agent_pause("c", "x", 20.0)
    assert take_call(r, "c9", 21.0) == "a"
    r.agent_pause("a", "x", 22.0)
    assert take_call(r, "c10", 23.0) == "b"  # not listed: after the listed ones


@pytest.mark.parametrize("strategy", ["random", "weighted_random"])
def test_random_strategies_are_seeded_and_reach_everyone(strategy: str) -> None:
    picks = [take_call(r, f"c{i}", 10.0 + i) for r in [router(strategy, "a", "b", "c")]
             for i in range(300)]
    again = [take_call(r, f"c{i}", 10.0 + i) for r in [router(strategy, "a", "b", "c")]
             for i in range(300)]
    assert picks == again  # same seed, same choices
    counts = Counter(picks)
    assert set(counts) == {"a", "b", "c"}
    if strategy == "weighted_random":  # b weighs 3 of 5
        assert abs(counts["b"] / 300 - 0.6) < 0.1, counts
