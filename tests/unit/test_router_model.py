"""The router's data model: requirements and escalation, settings checks, the sorted list."""

from __future__ import annotations

import bisect
import random

import pytest

from ccswitch.acd.model import (
    AgentSettings,
    AgentState,
    EscalationStep,
    QueueSettings,
    RouterError,
    SortedList,
    Target,
    escalate,
    make_requirement,
    requirement_steps,
    satisfies,
)


def test_requirement_merges_queue_and_caller_skills_sorted() -> None:
    assert make_requirement({"sales": 3, "french": 5}, {"french": 2, "vip": 7}) == (
        ("french", 2), ("sales", 3), ("vip", 7))
    assert make_requirement({}) == ()


def test_escalation_steps_relax_cumulatively() -> None:
    base = (("billing", 8), ("french", 6), ("german", 4))
    steps = (EscalationStep(10.0, lower_by=2),
             EscalationStep(20.0, drop=frozenset({"german"}), levels={"billing": 3}),
             EscalationStep(30.0, lower_by=5))
    assert requirement_steps(base, steps) == (
        base,
        (("billing", 6), ("french", 4), ("german", 2)),
        (("billing", 3), ("french", 4)),
        (("billing", 1), ("french", 1)),  # never below level 1
    )
    assert escalate((("x", 2),), EscalationStep(1.0, levels={"x": 9})) == (("x", 2),)


def test_satisfies_needs_every_minimum_level() -> None:
    req = (("billing", 5), ("french", 2))
    assert satisfies({"billing": 5, "french": 9}, req)
    assert not satisfies({"billing": 4, "french": 9}, req)
    assert not satisfies({"billing": 9}, req)
    assert satisfies({}, ())


@pytest.mark.parametrize("build", [
    lambda: QueueSettings("q", skills={"x": 11}),
    lambda: QueueSettings("q", skills={"x": 0}),
    lambda: QueueSettings("q", ring_timeout=0),
    lambda: QueueSettings("q", escalation=(EscalationStep(20.0), EscalationStep(10.0))),
    lambda: QueueSettings("q", leave_empty=frozenset({AgentState.READY})),
    lambda: QueueSettings("q", callback_attempts=0),
    lambda: EscalationStep(0.0),
    lambda: AgentSettings("a", skills={"x": 12}),
    lambda: AgentSettings("a", weight=0),
    lambda: AgentSettings("a", auto_pause_after=0),
    lambda: Target("fax", "1"),
    lambda: make_requirement({}, {"x": 99}),
])
def test_invalid_settings_are_refused(build: object) -> None:
    with pytest.raises(RouterError):
        build()  # type: ignore[operator]


def test_target_parse_and_str() -> None:
    assert Target.parse("queue:sales") == Target("queue", "sales")
    assert Target.parse("hangup") == Target("hangup")
    assert str(Target("voicemail", "2001")) == "voicemail:2001" and str(Target("hangup")) == \
        "hangup"


def test_agent_delay_by_failure() -> None:
    a = AgentSettings("a", no_answer_delay=1.0, busy_delay=2.0, reject_delay=3.0)
    assert [a.delay_after(r) for r in ("noanswer", "busy", "rejected")] == [1.0, 2.0, 3.0]


def test_sorted_list_matches_a_plain_sorted_list() -> None:
    rng = random.Random(5)
    mine: SortedList[tuple[int, int]] = SortedList(load=4)  # tiny blocks: many splits
    plain: list[tuple[int, int]] = []
    for step in range(4000):
        if plain and rng.random() < 0.45:
            item = plain.pop(rng.randrange(len(plain)))
            mine.remove(item)
        else:
            item = (rng.randrange(300), step)
            mine.add(item)
            bisect.insort(plain, item)
        assert len(mine) == len(plain)
        if step % 97 == 0:
            assert list(mine) == plain
            probe = (rng.randrange(300), rng.randrange(4000))
            assert mine.rank(probe) == bisect.bisect_left(plain, probe)
            if plain:
                i = rng.randrange(len(plain))
                assert mine[i] == plain[i] and mine[-1] == plain[-1]
                assert mine.first() == plain[0]
    with pytest.raises(KeyError):
        mine.remove((999, -1))
    with pytest.raises(IndexError):
        mine[len(plain)]
