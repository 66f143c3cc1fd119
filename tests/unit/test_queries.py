"""Read-only views of the core (``call/queries.py``): pure, frozen, in the API's terms."""

from __future__ import annotations

import dataclasses

import pytest
from callworld import Switch

from ccswitch.call import queries
from ccswitch.call.commands import AgentPause


def test_an_offered_agent_rings_then_rests_as_wrap_up_after_a_missed_offer() -> None:
    w = Switch(("1001", "2001"))
    w.answered("1001", "800", 1.0, call_id="q1")
    assert w["2001"].requests("INVITE")  # offered
    agent = queries.agent_view(w.sig, "2001", 2.0)
    assert agent is not None and (agent.state, agent.detail) == ("ringing", "ringing")
    (support,) = [q for q in queries.queue_views(w.sig, 2.0) if q.name == "support"]
    assert support.agents["ringing"] == 1
    assert [(c.caller, c.state) for c in support.callers] == [("1001", "offered")]
    w.run_until(21.5)  # the queue's 20 s ring timeout: the offer fails, 2001 backs off
    agent = queries.agent_view(w.sig, "2001", 21.5)
    assert agent is not None and (agent.state, agent.detail) == ("wrap_up", "backoff")
    assert agent.time_in_state_s is not None and agent.time_in_state_s < 1.0


def test_views_are_frozen_and_unknown_names_are_none() -> None:
    w = Switch(("1001", "2001"))
    w.sig.command(AgentPause("2001", "lunch"), 1.0)
    view = queries.agent_view(w.sig, "2001", 4.0)
    assert view is not None and view.pause_reason == "lunch"
    assert view.time_in_state_s == pytest.approx(3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.state = "ready"  # type: ignore[misc]
    assert queries.agent_view(w.sig, "1001", 4.0) is None  # a phone, not an agent
    assert queries.queue_view(w.sig, "nosuch", 4.0) is None
    assert queries.call_view(w.sig, "nosuch", 4.0) is None
    assert queries.room_members(w.sig, "nosuch") is None
    assert queries.room_members(w.sig, "850") == []


def test_every_queue_counts_each_of_its_agents_once() -> None:
    w = Switch(("1001", "2001", "2008"))
    for q in queries.queue_views(w.sig, 1.0):
        members = [a for a, qs in queries.agent_queues(w.sig).items() if q.name in qs]
        assert sum(q.agents.values()) == len(members)
        assert set(q.agents) == set(queries.AGENT_STATES)
