"""Changing a waiting caller's priority: the router recomputes its place with the line's key
(priority first, then seniority, with ageing), the command's typed refusals, the API's scope
(admin and the queue's supervisors), and the event in the queue log and the stream."""

from __future__ import annotations

import random

import pytest
from callworld import Switch
from test_api import ADMIN, SUP, Api

from ccswitch.acd import events as ev
from ccswitch.acd.model import QueueSettings
from ccswitch.acd.queue_log import format_event
from ccswitch.acd.router import Router
from ccswitch.call.commands import CommandError, SetPriority
from ccswitch.call.eventlog import record_of, wire


def make(*queues: QueueSettings) -> Router:
    return Router(queues=queues, rng=random.Random(0))


def line(r: Router, queue: str) -> list[tuple[str, int]]:
    return [(call, prio) for call, _, prio, _ in r.callers_in(queue)]


# -- the router --------------------------------------------------------------------------
def test_a_raised_caller_moves_ahead_of_the_lower_ones_and_is_served_first() -> None:
    r = make(QueueSettings("q", wrapup=0))
    for t, call in ((1.0, "c1"), (2.0, "c2"), (3.0, "c3")):
        r.enqueue(call, "q", t)
    r.events()
    # c3 raised to 5: ahead of c1 and c2 (priority 0), so from position 3 to 1
    assert r.set_priority("c3", 5, 4.0) == 1
    assert r.events() == [ev.CallerPriorityChanged(4.0, "c3", "q", 0, 5, 3, 1)]
    assert line(r, "q") == [("c3", 5), ("c1", 0), ("c2", 0)]
    # c1 raised to 5 too: same priority as c3 but it arrived earlier (1.0 < 3.0): first
    assert r.set_priority("c1", 5, 5.0) == 1
    assert line(r, "q") == [("c1", 5), ("c3", 5), ("c2", 0)]
    # c1 lowered to -1: behind c2 (priority 0), from position 1 to 3
    assert r.set_priority("c1", -1, 6.0) == 3
    r.events()
    r.agent_login("a", 7.0, {"q": 0})
    (offer,) = [a for a in r.actions() if isinstance(a, ev.Offer)]
    assert offer.call_id == "c3"


def test_the_same_priority_changes_no_place_and_an_unknown_call_is_none() -> None:
    r = make(QueueSettings("q"))
    r.enqueue("c1", "q", 1.0)
    r.enqueue("c2", "q", 2.0, priority=2)
    r.events()
    assert r.set_priority("c2", 2, 3.0) == 1
    assert r.events() == [ev.CallerPriorityChanged(3.0, "c2", "q", 2, 2, 1, 1)]
    assert r.set_priority("nosuch", 1, 3.0) is None
    assert r.events() == []


def test_with_ageing_the_new_priority_still_counts_the_time_waited() -> None:
    # 0.1 point per second.  old entered at 0 with 0, new at 20 with 0.
    # At 30 new is raised to 1.5: effective old 0 + 0.1*30 = 3.0, new 1.5 + 0.1*10 = 2.5:
    # old stays first.  Raised to 2.5: new 2.5 + 1.0 = 3.5 > 3.0: new goes first.
    r = make(QueueSettings("q", priority_ageing=0.1))
    r.enqueue("old", "q", 0.0)
    r.enqueue("new", "q", 20.0)
    assert r.set_priority("new", 1, 30.0) == 2  # 1 + 1.0 = 2.0 < 3.0
    assert r.set_priority("new", 3, 30.0) == 1  # 3 + 1.0 = 4.0 > 3.0


def test_a_ringing_offer_goes_on_and_its_line_position_changes() -> None:
    r = make(QueueSettings("q"))
    r.agent_login("a", 0.0, {"q": 0})
    r.enqueue("c1", "q", 1.0)  # offered to a at once
    r.enqueue("c2", "q", 2.0)
    r.actions()
    assert r.set_priority("c2", 9, 3.0) == 1
    assert r.actions() == []  # nothing cancelled, nobody else rung
    assert r.offer_answered("c1", "a", 4.0)


def test_the_priority_change_is_an_extended_queue_log_line_and_a_stream_event() -> None:
    e = ev.CallerPriorityChanged(100.0, "c1", "q", 0, 5, 3, 1)
    assert format_event(e) == []  # Asterisk has no such verb
    assert format_event(e, extended=True) == ["100|c1|q|NONE|PRIORITY|5|0|1"]
    rec = record_of(e, now=100.0, wall_offset=1000.0)
    assert rec is not None
    out = wire(7, rec)
    assert (out["type"], out["time"], out["queue"], out["old"], out["priority"],
            out["old_position"], out["position"]) == (
        "queue.caller_priority_changed", 1100.0, "q", 0, 5, 3, 1)


# -- the command and the API -------------------------------------------------------------
def waiting_world() -> tuple[Switch, Api, str, str]:
    """Two callers waiting in support (its registered agents 2001 and 2002 paused): 1001
    then 1002; their call ids."""
    w = Switch(("1001", "1002", "1003", "2001", "2002", "2005"))
    api = Api(w)
    for agent in ("2001", "2002"):
        assert api("POST", f"/api/v1/agents/{agent}/pause").status_code == 200
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)
    w.answered("1002", "800", 3.0, call_id="q2", port=4100)
    api.now = 5.0
    keys = {c["caller"]: c["call_id"] for c in api("GET", "/api/v1/queues/support").json()[
        "callers"]}
    return w, api, keys["1001"], keys["1002"]


def test_the_command_refuses_with_typed_errors() -> None:
    w, _, q1, q2 = waiting_world()
    sig = w.sig
    with pytest.raises(CommandError) as no_queue:
        sig.command(SetPriority("nosuch", q1, 1), 5.0)
    with pytest.raises(CommandError) as elsewhere:
        sig.command(SetPriority("sales", q1, 1), 5.0)  # q1 waits in support
    with pytest.raises(CommandError) as too_high:
        sig.command(SetPriority("support", q1, 1001), 5.0)
    assert [e.value.code for e in (no_queue, elsewhere, too_high)] == [
        "not_found", "not_found", "invalid"]
    done = sig.command(SetPriority("support", q2, 3), 5.0)
    assert done.detail == {"queue": "support", "call_id": q2, "priority": 3, "old": 0,
                           "position": 1}


def test_a_supervisor_raises_the_second_caller_who_is_then_served_first() -> None:
    w, api, q1, q2 = waiting_world()
    r = api("POST", f"/api/v1/queues/support/callers/{q2}/priority", SUP,
            json={"priority": 5})
    assert r.status_code == 200, r.text
    assert r.json() == {"command": "SetPriority", "detail": {
        "queue": "support", "call_id": q2, "priority": 5, "old": 0, "position": 1}}
    support = api("GET", "/api/v1/queues/support").json()
    assert [(c["call_id"], c["position"], c["priority"]) for c in support["callers"]] == [
        (q2, 1, 5), (q1, 2, 0)]
    (changed,) = [e for e in w.events if isinstance(e, ev.CallerPriorityChanged)]
    assert (changed.call_id, changed.old_position, changed.position) == (q2, 2, 1)
    api.now = 6.0
    assert api("POST", "/api/v1/agents/2001/ready").status_code == 200
    (invite,) = w["2001"].requests("INVITE")
    # the agent's phone rings for 1002's call (q2), not for 1001's who came first
    assert invite.from_.uri.user == "1002"


def test_who_may_change_a_priority() -> None:
    _, api, q1, _ = waiting_world()
    path = f"/api/v1/queues/support/callers/{q1}/priority"
    assert api("POST", path, "demo-agent-2001", json={"priority": 1}).status_code == 403
    assert api("POST", path, None, json={"priority": 1}).status_code == 401
    assert api("POST", path, json={"priority": 1001}).status_code == 422
    assert api("POST", path, json={}).status_code == 422
    # a missing caller: 404 for the admin, the same 403 as out-of-scope for a supervisor
    missing = "/api/v1/queues/support/callers/nosuch/priority"
    assert api("POST", missing, ADMIN, json={"priority": 1}).status_code == 404
    r = api("POST", missing, SUP, json={"priority": 1})
    assert (r.status_code, r.json()) == (403, {"detail": "forbidden"})
    assert api("POST", path, ADMIN, json={"priority": -2}).status_code == 200
