"""The queue router on a fake clock: ordering, skills, tiers, offers, queue rules, callback."""

from __future__ import annotations

import random

import pytest

from ccswitch.acd import events as ev
from ccswitch.acd.model import (
    AgentSettings,
    AgentState,
    EscalationStep,
    QueueSettings,
    RouterError,
    Target,
)
from ccswitch.acd.router import Router


def make(*queues: QueueSettings, agents: tuple[AgentSettings, ...] = (),
         seed: int = 0) -> Router:
    return Router(queues=queues, agents=agents, rng=random.Random(seed))


def offers(r: Router) -> list[tuple[str, tuple[str, ...]]]:
    """The Offer actions since the last call (other actions and the events are dropped)."""
    r.events()
    return [(a.call_id, a.agents) for a in r.actions() if isinstance(a, ev.Offer)]


def of_type(items: list[object], kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def agent(name: str, **kw: object) -> AgentSettings:
    kw.setdefault("no_answer_delay", 0.0)
    return AgentSettings(name, **kw)  # type: ignore[arg-type]


def serve(r: Router, call_id: str, name: str, now: float) -> None:
    """Answer then end a call at once (wrap-up follows)."""
    assert r.offer_answered(call_id, name, now)
    assert r.call_ended(call_id, name, now)


# -- ordering -----------------------------------------------------------------------------


def test_fifo_then_priority_across_arrivals() -> None:
    r = make(QueueSettings("q", wrapup=0))
    for i, (t, prio) in enumerate([(1, 0), (2, 0), (3, 5), (4, 5), (5, 1)]):
        r.enqueue(f"c{i}", "q", float(t), priority=prio)
    assert offers(r) == []
    r.agent_login("a", 10.0, {"q": 0})
    served = []
    for t in range(5):
        (call, _), = offers(r)
        served.append(call)
        serve(r, call, "a", 11.0 + t)
    assert served == ["c2", "c3", "c4", "c0", "c1"]  # priority 5, 5, 1, then FIFO


def test_entry_position_counts_higher_priority_ahead() -> None:
    r = make(QueueSettings("q"))
    r.enqueue("low", "q", 1.0)
    r.enqueue("high", "q", 2.0, priority=3)
    r.enqueue("mid", "q", 3.0, priority=1)
    entered = {e.call_id: e.position for e in of_type(r.events(), ev.CallerEntered)}
    assert entered == {"low": 1, "high": 1, "mid": 2}
    assert [r.position(c) for c in ("high", "mid", "low")] == [1, 2, 3]


def test_priority_ageing_lets_a_long_wait_overtake() -> None:
    # 0.1 point per second: after 30 s a priority-0 caller has effective priority 3.
    r = make(QueueSettings("q", priority_ageing=0.1, wrapup=0))
    r.enqueue("old", "q", 0.0, priority=0)
    r.enqueue("vip", "q", 25.0, priority=2)  # at 30: old 3.0, vip 2.5
    r.agent_login("a", 30.0, {"q": 0})
    assert offers(r) == [("old", ("a",))]
    r2 = make(QueueSettings("q", priority_ageing=0.1))
    r2.enqueue("old", "q", 0.0, priority=0)
    r2.enqueue("vip", "q", 5.0, priority=2)  # at 30: old 3.0, vip 4.5
    r2.agent_login("a", 30.0, {"q": 0})
    assert offers(r2) == [("vip", ("a",))]


def test_agent_in_two_queues_takes_the_caller_to_serve_first_at_now() -> None:
    # q1 never ages, q2 ages 1 point/s: its priority-0 caller passes q1's priority-3 caller
    # after 3 s of waiting.
    for now, expected in ((2.0, "c1"), (5.0, "c2")):
        r = make(QueueSettings("q1"), QueueSettings("q2", priority_ageing=1.0))
        r.enqueue("c1", "q1", 0.0, priority=3)
        r.enqueue("c2", "q2", 0.0, priority=0)
        r.agent_login("a", now, {"q1": 0, "q2": 0})
        assert offers(r) == [(expected, ("a",))]


def test_equal_priority_across_queues_goes_to_the_longest_waiting() -> None:
    r = make(QueueSettings("q1"), QueueSettings("q2"))
    r.enqueue("late", "q1", 5.0)
    r.enqueue("early", "q2", 3.0)
    r.agent_login("a", 9.0, {"q1": 0, "q2": 0})
    assert offers(r) == [("early", ("a",))]


def test_position_hint_keeps_the_place_of_a_moved_caller() -> None:
    r = make(QueueSettings("q"))
    r.enqueue("c1", "q", 10.0)
    r.enqueue("moved", "q", 20.0, position_hint=5.0)
    assert r.position("moved") == 1


# -- skills, escalation, tiers ----------------------------------------------------------


def test_skills_escalation_lowers_the_level_after_a_wait() -> None:
    q = QueueSettings("q", skills={"french": 6},
                      escalation=(EscalationStep(30.0, lower_by=3),))
    r = make(q, agents=(agent("weak", skills={"french": 3}),))
    r.agent_login("weak", 0.0, {"q": 0})
    r.enqueue("c", "q", 10.0)
    assert offers(r) == []
    assert r.next_deadline() == 40.0  # the escalation (the announcement is at 40 too)
    r.handle_timer(39.5)
    assert offers(r) == []
    r.handle_timer(40.0)
    assert offers(r) == [("c", ("weak",))]


def test_escalation_can_drop_a_skill_and_caller_skills_override_the_queue() -> None:
    q = QueueSettings("q", skills={"sales": 2},
                      escalation=(EscalationStep(20.0, drop=frozenset({"german"})),))
    r = make(q, agents=(agent("a", skills={"sales": 9}),))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c", "q", 0.0, skills={"german": 4})
    assert of_type(r.events(), ev.CallerEntered)[0].skills == (("german", 4), ("sales", 2))
    assert offers(r) == []
    r.handle_timer(20.0)
    assert offers(r) == [("c", ("a",))]


def test_simultaneous_escalation_and_free_agent_still_serve_the_better_caller() -> None:
    # (found by the stateful test) at t=8 the low-priority c1 escalates into c2's bucket and
    # the agent's backoff ends, at the same deadline: the agent must take c2, the better.
    q = QueueSettings("q", ring_timeout=5.0, announce_interval=None,
                      escalation=(EscalationStep(8.0, drop=frozenset({"a"})),))
    r = make(q, agents=(agent("g", no_answer_delay=2.0),))
    r.agent_login("g", 0.0, {"q": 0})
    r.enqueue("c1", "q", 0.0, skills={"a": 1})
    r.enqueue("c2", "q", 1.0, priority=1)
    assert offers(r) == [("c2", ("g",))]
    r.handle_timer(8.0)  # c2 rang out at 6; g backs off until 8
    offered = [e.call_id for e in of_type(r.events(), ev.CallerOffered)]
    assert offered == ["c2"]


def test_an_agent_freed_with_an_escalation_takes_the_best_caller_of_any_bucket() -> None:
    # At t=8 c_low escalates into a bucket g serves and g's wrap-up ends: freed agents are
    # dispatched before new callers, so g takes c_high (priority 2) from the other bucket.
    q = QueueSettings("q", wrapup=5.0, announce_interval=None,
                      escalation=(EscalationStep(6.0, drop=frozenset({"a"})),))
    r = make(q, agents=(agent("g", skills={"b": 5}),))
    r.agent_login("g", 0.0, {"q": 0})
    r.enqueue("c0", "q", 0.0)
    r.offer_answered("c0", "g", 0.5)
    r.enqueue("c_high", "q", 1.0, priority=2, skills={"b": 1})
    r.enqueue("c_low", "q", 2.0, skills={"a": 1})
    r.call_ended("c0", "g", 3.0)  # wrap-up until 8, when c_low escalates
    r.events()
    r.handle_timer(8.0)
    assert [e.call_id for e in of_type(r.events(), ev.CallerOffered)] == ["c_high"]


def test_agent_without_the_skill_is_skipped_for_one_who_has_it() -> None:
    q = QueueSettings("q", skills={"billing": 5})
    r = make(q, agents=(agent("novice", skills={"billing": 2}),
                        agent("expert", skills={"billing": 8})))
    r.agent_login("novice", 0.0, {"q": 0})  # idle longest, but not qualified
    r.agent_login("expert", 1.0, {"q": 0})
    r.enqueue("c", "q", 2.0)
    assert offers(r) == [("c", ("expert",))]


def test_a_caller_goes_to_the_lowest_penalty_tier_with_a_free_agent() -> None:
    r = make(QueueSettings("q", wrapup=0))
    r.agent_login("backup", 0.0, {"q": 1})
    r.agent_login("primary", 5.0, {"q": 0})
    r.enqueue("c1", "q", 6.0)
    assert offers(r) == [("c1", ("primary",))]
    r.enqueue("c2", "q", 7.0)  # the primary rings: the backup tier takes it
    assert offers(r) == [("c2", ("backup",))]


def test_a_free_agent_serves_its_primary_queue_before_a_better_caller_elsewhere() -> None:
    r = make(QueueSettings("main"), QueueSettings("other"))
    r.enqueue("vip", "other", 0.0, priority=9)
    r.enqueue("normal", "main", 50.0)
    r.agent_login("a", 60.0, {"main": 0, "other": 1})
    assert offers(r) == [("normal", ("a",))]


# -- offers, ring timeout, agent states --------------------------------------------------


def test_ring_timeout_moves_to_the_next_agent_and_auto_pauses() -> None:
    r = make(QueueSettings("q", ring_timeout=15.0),
             agents=(agent("a", auto_pause_after=1, no_answer_delay=5.0), agent("b")))
    r.agent_login("a", 0.0, {"q": 0})
    r.agent_login("b", 1.0, {"q": 0})
    r.enqueue("c", "q", 2.0)
    assert offers(r) == [("c", ("a",))]
    assert r.next_deadline() == 17.0
    r.handle_timer(17.0)
    events, actions = r.events(), r.actions()
    assert ev.CancelOffer("c", "a") in actions
    assert of_type(actions, ev.Offer) == [ev.Offer("c", "q", ("b",), 15.0)]
    assert ev.OfferFailed(17.0, "c", "q", "a", "noanswer", 15.0) in events
    assert ev.AgentPaused(17.0, "a", ("q",), "autopause", auto=True) in events
    assert r.agent_state("a") is AgentState.PAUSED
    assert r.agent_unpause("a", 30.0)
    assert r.agent_state("a") is AgentState.READY


def test_busy_agent_backs_off_for_its_delay() -> None:
    r = make(QueueSettings("q"), agents=(agent("a", busy_delay=10.0),))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c", "q", 1.0)
    assert offers(r) == [("c", ("a",))]
    assert r.offer_failed("c", "a", 2.0, "busy")
    assert r.agent_state("a") is AgentState.BACKOFF
    r.handle_timer(11.9)
    assert offers(r) == []
    r.handle_timer(12.0)
    assert offers(r) == [("c", ("a",))]


def test_missed_offers_count_only_consecutive_no_answers() -> None:
    r = make(QueueSettings("q", wrapup=0), agents=(agent("a", auto_pause_after=2),))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)
    r.offer_failed("c1", "a", 2.0, "noanswer")
    serve(r, "c1", "a", 3.0)  # an answer resets the count
    r.enqueue("c2", "q", 4.0)
    r.offer_failed("c2", "a", 5.0, "noanswer")
    assert r.agent_state("a") is AgentState.RINGING  # re-offered, not paused
    r.offer_failed("c2", "a", 6.0, "noanswer")
    assert r.agent_state("a") is AgentState.PAUSED


def test_one_call_per_agent() -> None:
    r = make(QueueSettings("q", wrapup=10.0))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)
    r.enqueue("c2", "q", 2.0)
    assert offers(r) == [("c1", ("a",))]
    r.offer_answered("c1", "a", 3.0)
    assert r.agent_state("a") is AgentState.ON_CALL
    r.call_ended("c1", "a", 50.0)
    assert r.agent_state("a") is AgentState.WRAP_UP
    assert offers(r) == []
    r.handle_timer(60.0)
    assert offers(r) == [("c2", ("a",))]


def test_ring_all_rings_every_eligible_agent_and_cancels_the_losers() -> None:
    q = QueueSettings("q", strategy="ring_all", skills={"x": 1}, wrapup=0)
    r = make(q, agents=(agent("a", skills={"x": 1}), agent("b", skills={"x": 2}),
                        agent("c")))
    for name in ("a", "b", "c"):
        r.agent_login(name, 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)
    assert offers(r) == [("c1", ("a", "b"))]
    r.enqueue("c2", "q", 2.0)
    r.actions()  # its entry announcement
    assert r.offer_answered("c1", "b", 3.0)
    actions = r.actions()
    assert actions[0] == ev.CancelOffer("c1", "a")
    assert of_type(actions, ev.Offer) == [ev.Offer("c2", "q", ("a",), 20.0)]


def test_stale_answers_and_failures_are_refused() -> None:
    r = make(QueueSettings("q"))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c", "q", 1.0)
    assert not r.offer_answered("c", "b", 2.0)  # not offered to b
    assert not r.offer_failed("nope", "a", 2.0, "busy")
    r.abandon("c", 3.0)
    assert not r.offer_answered("c", "a", 4.0)
    with pytest.raises(RouterError):
        r.offer_failed("c", "a", 4.0, "exploded")


def test_logout_while_ringing_withdraws_the_offer_and_the_caller_moves_on() -> None:
    r = make(QueueSettings("q"))
    r.agent_login("a", 0.0, {"q": 0})
    r.agent_login("b", 1.0, {"q": 0})
    r.enqueue("c", "q", 2.0)
    assert offers(r) == [("c", ("a",))]
    assert r.agent_logout("a", 3.0)
    events, actions = r.events(), r.actions()
    assert ev.OfferFailed(3.0, "c", "q", "a", "cancelled", 1.0) in events
    assert ev.CancelOffer("c", "a") in actions
    assert of_type(actions, ev.Offer) == [ev.Offer("c", "q", ("b",), 20.0)]
    assert ev.AgentLoggedOut(3.0, "a", ("q",), 3.0) in events
    assert r.agent_state("a") is AgentState.LOGGED_OUT


def test_logout_during_a_call_and_back_keeps_the_agent_busy() -> None:
    r = make(QueueSettings("q", wrapup=0))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)
    assert offers(r) == [("c1", ("a",))]
    r.offer_answered("c1", "a", 2.0)
    r.agent_logout("a", 3.0)
    r.agent_login("a", 4.0, {"q": 0})
    assert r.agent_state("a") is AgentState.ON_CALL
    r.enqueue("c2", "q", 5.0)
    assert offers(r) == []
    assert r.call_ended("c1", "a", 6.0)
    assert offers(r) == [("c2", ("a",))]


def test_pause_while_on_call_takes_effect_after_the_call() -> None:
    r = make(QueueSettings("q", wrapup=5.0))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)
    assert offers(r) == [("c1", ("a",))]
    r.offer_answered("c1", "a", 2.0)
    assert r.agent_pause("a", "lunch", 3.0)
    assert not r.agent_pause("a", "lunch", 3.5)
    assert r.agent_state("a") is AgentState.ON_CALL
    r.call_ended("c1", "a", 10.0)
    r.handle_timer(15.0)
    assert r.agent_state("a") is AgentState.PAUSED
    r.enqueue("c2", "q", 16.0)
    assert offers(r) == []
    r.agent_unpause("a", 20.0)
    assert offers(r) == [("c2", ("a",))]


# -- calls, wrap-up, statistics ---------------------------------------------------------


def test_complete_and_transfer_report_wait_talk_and_wrapup() -> None:
    r = make(QueueSettings("q", wrapup=7.0, service_level=20.0))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 10.0)
    r.offer_answered("c1", "a", 14.0)
    r.call_ended("c1", "a", 74.0, by="agent")
    r.handle_timer(81.0)
    r.enqueue("c2", "q", 81.0)
    r.offer_answered("c2", "a", 85.0)
    r.call_transferred("c2", "a", 95.0, "2002")
    events = r.events()
    assert ev.CallerConnected(14.0, "c1", "q", "a", 4.0, 4.0, 1) in events
    assert ev.CallCompleted(74.0, "c1", "q", "a", 4.0, 60.0, 7.0, "agent", 1) in events
    assert ev.CallTransferred(95.0, "c2", "q", "a", "2002", 4.0, 10.0, 1) in events
    status = r.queue_status("q", 95.0)
    assert status["answered"] == 2 and status["service_level"] == 1.0
    assert status["average_handle_s"] == pytest.approx(((60 + 7) + (10 + 7)) / 2)
    assert not r.call_ended("c1", "a", 99.0)  # already ended


def test_expected_wait_from_recent_handle_times_and_staffed_agents() -> None:
    q = QueueSettings("q", wrapup=20.0, handle_window=2, announce_interval=30.0)
    r = make(q)
    assert r.expected_wait("q") is None  # no agent, no history
    r.agent_login("a", 0.0, {"q": 0})
    r.agent_login("b", 0.0, {"q": 0})
    for i, talk in enumerate((40.0, 100.0, 100.0)):  # the window keeps the last two
        r.enqueue(f"x{i}", "q", 1000.0 * i)
        (call, (name,)), = offers(r)
        r.offer_answered(call, name, 1000.0 * i)
        r.call_ended(call, name, 1000.0 * i + talk)
    assert r.queue_status("q", 3000.0)["average_handle_s"] == 120.0
    r.agent_pause("a", "x", 3000.0)
    r.agent_pause("b", "x", 3000.0)
    assert r.expected_wait("q") is None  # nobody staffed
    r.agent_unpause("a", 3000.0)
    r.agent_pause("a", "y", 3000.0)  # pause with another reason: still paused
    r.agent_unpause("b", 3000.0)
    r.enqueue("w1", "q", 3001.0)  # b takes it
    r.enqueue("w2", "q", 3002.0)
    r.enqueue("w3", "q", 3003.0)
    r.events()
    assert of_type(r.actions(), ev.Announce) == [ev.Announce("w2", "q", 2, 2 * 120.0 / 1),
                                                 ev.Announce("w3", "q", 3, 3 * 120.0 / 1)]
    r.handle_timer(3032.0)
    assert of_type(r.actions(), ev.Announce) == [ev.Announce("w2", "q", 2, 240.0)]


# -- queue rules ----------------------------------------------------------------------------


def test_max_wait_overflows_to_its_target() -> None:
    target = Target.parse("voicemail:100")
    r = make(QueueSettings("q", max_wait=60.0, on_timeout=target))
    r.enqueue("c", "q", 5.0)
    r.handle_timer(64.9)
    r.events()
    r.actions()
    r.handle_timer(65.0)
    assert r.actions() == [ev.Overflow("c", "q", "timeout", target)]
    assert r.events() == [ev.CallerOverflowed(65.0, "c", "q", "timeout", target, 1, 1, 60.0)]
    assert r.caller_state("c") is None


def test_max_wait_lets_a_ringing_offer_finish() -> None:
    r = make(QueueSettings("q", max_wait=30.0, ring_timeout=20.0))
    r.enqueue("c", "q", 0.0)
    r.agent_login("a", 25.0, {"q": 0})
    r.handle_timer(30.0)  # ringing since 25: not cut
    assert r.caller_state("c") is not None
    assert r.offer_answered("c", "a", 33.0)
    r2 = make(QueueSettings("q", max_wait=30.0, ring_timeout=20.0))
    r2.enqueue("c", "q", 0.0)
    r2.agent_login("a", 25.0, {"q": 0})
    r2.offer_failed("c", "a", 33.0, "rejected")
    assert of_type(r2.actions(), ev.Overflow) == [ev.Overflow("c", "q", "timeout", None)]


def test_max_length_refuses_with_full() -> None:
    r = make(QueueSettings("q", max_length=2, on_full=Target("queue", "overflow")))
    assert r.enqueue("c1", "q", 0.0) and r.enqueue("c2", "q", 0.0)
    assert not r.enqueue("c3", "q", 0.0)
    assert of_type(r.events(), ev.CallerRefused) == [
        ev.CallerRefused(0.0, "c3", "q", "full", Target("queue", "overflow"))]
    assert r.waiting("q") == 2


def test_join_empty_policies() -> None:
    strict = QueueSettings("q", join_empty=frozenset({AgentState.PAUSED, AgentState.ON_CALL}))
    r = make(strict, QueueSettings("any", join_empty=frozenset()))
    assert not r.enqueue("c1", "q", 0.0)  # nobody logged in
    assert not r.enqueue("c2", "any", 0.0)
    r.agent_login("a", 1.0, {"q": 0, "any": 0})
    r.agent_pause("a", "x", 1.0)
    assert not r.enqueue("c3", "q", 2.0)  # only member paused: empty for this policy
    assert r.enqueue("c4", "any", 2.0)  # somebody is logged in: enough here
    reasons = [e.reason for e in of_type(r.events(), ev.CallerRefused)]
    assert reasons == ["joinempty"] * 3


def test_leave_empty_takes_waiting_callers_out_when_the_last_agent_pauses() -> None:
    q = QueueSettings("q", leave_empty=frozenset({AgentState.PAUSED}),
                      on_leave_empty=Target("ivr", "main"))
    r = make(q)
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)  # rings a
    r.enqueue("c2", "q", 2.0)
    r.enqueue("c3", "q", 3.0)
    r.agent_pause("a", "lunch", 4.0)  # ringing: not yet paused, not empty
    assert r.waiting("q") == 3
    r.offer_failed("c1", "a", 5.0, "rejected")
    overflowed = of_type(r.events(), ev.CallerOverflowed)
    # a goes to backoff, i.e. paused: the queue is empty; c1, back from ringing, leaves too
    assert [(e.call_id, e.reason, e.position, e.wait) for e in overflowed] == [
        ("c2", "leaveempty", 2, 3.0), ("c3", "leaveempty", 2, 2.0),
        ("c1", "leaveempty", 1, 4.0)]
    assert of_type(r.actions(), ev.Overflow)[0] == ev.Overflow("c2", "q", "leaveempty",
                                                              Target("ivr", "main"))
    r.enqueue("c4", "q", 6.0)  # joins (no join rule) and leaves at once
    assert [type(e) for e in r.events()] == [ev.CallerEntered, ev.CallerOverflowed]
    assert r.waiting("q") == 0


def test_exit_with_key() -> None:
    r = make(QueueSettings("q"))
    r.enqueue("c1", "q", 0.0)
    r.enqueue("c2", "q", 1.0)
    assert r.exit_with_key("c2", "0", 5.0)
    assert of_type(r.events(), ev.CallerExitedWithKey) == [
        ev.CallerExitedWithKey(5.0, "c2", "q", "0", 2, 2, 4.0)]
    assert not r.exit_with_key("c2", "0", 6.0)


def test_abandon_reports_position_and_wait() -> None:
    r = make(QueueSettings("q"))
    r.enqueue("c1", "q", 0.0)
    r.enqueue("c2", "q", 1.0)
    r.abandon("c1", 9.0)
    r.abandon("c2", 10.0)
    assert of_type(r.events(), ev.CallerAbandoned) == [
        ev.CallerAbandoned(9.0, "c1", "q", 1, 1, 9.0),
        ev.CallerAbandoned(10.0, "c2", "q", 1, 2, 9.0)]
    assert r.queue_status("q", 10.0)["abandoned"] == 2
    assert not r.abandon("c1", 11.0)


def test_rejoin_within_the_window_takes_back_the_old_place() -> None:
    r = make(QueueSettings("q", rejoin_window=60.0))
    r.enqueue("first", "q", 0.0, number="+3301")
    r.enqueue("second", "q", 10.0, number="+3302")
    r.abandon("first", 20.0)
    r.enqueue("again", "q", 50.0, number="+3301")
    assert r.position("again") == 1
    assert of_type(r.events(), ev.CallerEntered)[-1].rejoined
    r.abandon("again", 60.0)
    r.handle_timer(200.0)  # the window closed
    r.enqueue("late", "q", 200.0, number="+3301")
    assert r.position("late") == 2


# -- callback (virtual hold) ------------------------------------------------------------


def test_callback_keeps_the_place_and_reserves_an_agent() -> None:
    r = make(QueueSettings("q", wrapup=0))
    r.enqueue("cb", "q", 0.0)
    r.enqueue("other", "q", 1.0)
    assert r.request_callback("cb", "+33123", 2.0)
    assert not r.request_callback("cb", "+33123", 2.5)
    r.agent_login("a", 10.0, {"q": 0})
    events, actions = r.events(), r.actions()
    assert ev.CallbackRequested(2.0, "cb", "q", "+33123", 1, 2.0) in events
    assert ev.CallbackMade(10.0, "cb", "q", "a", "+33123", 10.0) in events
    assert ev.Callback("cb", "q", "a", "+33123") in actions
    assert not of_type(actions, ev.Offer)
    assert r.agent_state("a") is AgentState.RINGING
    assert r.callback_result("cb", 20.0, answered=True)
    connected = of_type(r.events(), ev.CallerConnected)
    assert connected == [ev.CallerConnected(20.0, "cb", "q", "a", 20.0, 10.0, 1, True)]


def test_failed_callback_is_retried_then_the_caller_leaves() -> None:
    r = make(QueueSettings("q", callback_attempts=2, callback_retry=30.0))
    r.enqueue("cb", "q", 0.0)
    r.request_callback("cb", "+33", 1.0)
    r.agent_login("a", 5.0, {"q": 0})
    assert r.callback_result("cb", 10.0, answered=False)
    assert r.agent_state("a") is AgentState.READY  # freed, no backoff
    assert r.caller_state("cb") is not None
    r.events()
    r.handle_timer(40.0)
    assert ev.CallbackMade(40.0, "cb", "q", "a", "+33", 40.0) in r.events()
    r.callback_result("cb", 45.0, answered=False)
    failed = of_type(r.events(), ev.CallbackFailed)
    assert failed == [ev.CallbackFailed(45.0, "cb", "q", "a", "+33", 2, True, 45.0, 1)]
    assert r.caller_state("cb") is None
    assert not r.callback_result("cb", 46.0, answered=True)


# -- API ---------------------------------------------------------------------------------


def test_api_misuse_raises_router_error() -> None:
    with pytest.raises(RouterError):
        make(QueueSettings("q", strategy="telepathy"))
    with pytest.raises(RouterError):
        make(QueueSettings("q"), QueueSettings("q"))
    r = make(QueueSettings("q"))
    with pytest.raises(RouterError):
        r.enqueue("c", "nowhere", 0.0)
    r.enqueue("c", "q", 0.0)
    with pytest.raises(RouterError):
        r.enqueue("c", "q", 1.0)
    with pytest.raises(RouterError):
        r.agent_login("a", 0.0, {"nowhere": 0})
    assert r.agent_login("a", 0.0, {"q": 0}) and not r.agent_login("a", 1.0)


def test_login_uses_configured_membership_and_timers_fire_at_their_deadline() -> None:
    r = make(QueueSettings("q", ring_timeout=10.0),
             agents=(agent("a", queues={"q": 0}),))
    r.agent_login("a", 0.0)
    assert ev.AgentLoggedIn(0.0, "a", (("q", 0),)) in r.events()
    r.enqueue("c", "q", 1.0)
    r.events()
    r.handle_timer(100.0)  # late: the timeout is still stamped at its deadline, 11.0
    failed = of_type(r.events(), ev.OfferFailed)
    assert failed[0].time == 11.0 and failed[0].ring_time == 10.0
    assert r.next_deadline() is not None and r.next_deadline() > 100.0
