"""Event records (call/eventlog): every core event has a stable, documented type name, becomes
a flat JSON-able object with wall-clock times, and the filters select what a client asked for."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from ccswitch.acd import events as acd
from ccswitch.acd.model import Target
from ccswitch.call import events as call
from ccswitch.call.crm import CrmEvent, CrmLookup, OfferCard
from ccswitch.call.eventlog import (
    ALL,
    NOT_STREAMED,
    TYPES,
    EventFilter,
    Scope,
    fallback_type,
    record_of,
    recording_done,
    wire,
)
from ccswitch.sip.registrar import BindingsChanged

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
OFFSET = 1_700_000_000.0


def test_every_core_event_class_has_a_unique_type_name_and_the_docs_list_it() -> None:
    classes = (set(get_args(call.CallEvent)) | set(get_args(acd.QueueEvent))
               | set(get_args(CrmEvent)))
    assert classes - {CrmLookup} <= set(TYPES), classes - set(TYPES)
    assert {acd.CallerOffered, CrmLookup} == NOT_STREAMED
    # the router's offer is streamed as the switch's card: one name, carried by the card
    assert TYPES[acd.CallerOffered] == TYPES[OfferCard]
    names = [n for cls, n in TYPES.items() if cls not in NOT_STREAMED]
    assert len(names) == len(set(names))
    documented = set(re.findall(r"^### `([a-z_.]+)`", DOCS.read_text(), re.MULTILINE))
    assert set(names) | {"recording.done"} <= documented, set(names) - documented


def test_a_queue_event_becomes_a_flat_object_with_its_wall_clock_time() -> None:
    ev = acd.CallerEntered(time=12.5, call_id="c1", queue="support", priority=2, position=1,
                           skills=(("french", 5),), number="1001")
    rec = record_of(ev, now=99.0, wall_offset=OFFSET)
    assert rec is not None
    assert (rec.type, rec.time, rec.call_id, rec.agent, rec.queues) == (
        "queue.caller_entered", OFFSET + 12.5, "c1", None, ("support",))
    obj = wire(7, rec)
    assert list(obj)[:3] == ["seq", "type", "time"]
    assert obj == {"seq": 7, "type": "queue.caller_entered", "time": OFFSET + 12.5,
                   "call_id": "c1", "queue": "support", "priority": 2, "position": 1,
                   "skills": [["french", 5]], "number": "1001", "rejoined": False}
    assert json.loads(json.dumps(obj)) == obj


def test_agent_events_name_every_queue_of_the_agent() -> None:
    rec = record_of(acd.AgentLoggedIn(time=1.0, agent="2001",
                                      queues=(("support", 0), ("sales", 1))),
                    now=5.0, wall_offset=0.0)
    assert rec is not None and rec.type == "agent.logged_in"
    assert rec.queues == ("support", "sales") and rec.agent == "2001"
    paused = record_of(acd.AgentPaused(time=2.0, agent="2001", queues=("sales",),
                                       reason="lunch"), now=5.0, wall_offset=0.0)
    assert paused is not None and paused.queues == ("sales",) and paused.time == 2.0


def test_call_events_carry_wall_clock_instants_and_targets_as_text() -> None:
    ended = call.CallEnded("c9", "1001", "800", 200, "OK", started=10.0, answered=12.0,
                           ended=70.0, ended_by="caller", queue="support", agent="2002")
    rec = record_of(ended, now=71.0, wall_offset=OFFSET)
    assert rec is not None and rec.type == "call.ended" and rec.time == OFFSET + 70.0
    assert rec.fields["started"] == OFFSET + 10.0 and rec.fields["answered"] == OFFSET + 12.0
    assert rec.fields["ended"] == OFFSET + 70.0
    assert (rec.queues, rec.agent) == (("support",), "2002")
    started = record_of(call.CallStarted("c9", "1001", "800", at=10.0), now=11.0,
                        wall_offset=OFFSET)
    assert started is not None and started.time == OFFSET + 10.0 and started.queues == ()
    refused = record_of(acd.CallerRefused(time=3.0, call_id="c2", queue="sales",
                                          reason="full", target=Target.parse("queue:support")),
                        now=3.0, wall_offset=0.0)
    assert refused is not None and refused.fields["target"] == "queue:support"


def test_registrations_are_not_stream_events_and_new_core_events_get_a_fallback_name() -> None:
    assert record_of(BindingsChanged("1001", ()), now=1.0, wall_offset=0.0) is None

    @dataclass(frozen=True, slots=True)
    class LegHeld:
        call_id: str
        leg: str
        at: float

    LegHeld.__module__ = "ccswitch.call.events"
    assert fallback_type(LegHeld) == "call.leg_held"
    rec = record_of(LegHeld("c1", "l2", 4.0), now=9.0, wall_offset=10.0)
    assert rec is not None and rec.type == "call.leg_held" and rec.time == 14.0
    LegHeld.__module__ = "somewhere.else"
    assert record_of(LegHeld("c1", "l2", 4.0), now=9.0, wall_offset=10.0) is None


def test_an_event_without_a_time_takes_the_shells_now() -> None:
    @dataclass(frozen=True, slots=True)
    class Odd:
        call_id: str

    Odd.__module__ = "ccswitch.call.other"
    rec = record_of(Odd("c1"), now=9.0, wall_offset=1.0)
    assert rec is not None and rec.time == 10.0


def test_recording_done_names_its_call() -> None:
    rec = recording_done(path="/r/c1.wav", call_id="c1", seconds=3.14159, ok=True, time=5.0)
    assert rec.type == "recording.done" and rec.call_id == "c1"
    assert rec.fields == {"call_id": "c1", "path": "/r/c1.wav", "seconds": 3.142, "ok": True}


def _rec(ev: object) -> object:
    rec = record_of(ev, now=0.0, wall_offset=0.0)
    assert rec is not None
    return rec


def test_filters_by_type_family_queue_and_agent_and_within_a_scope() -> None:
    entered = record_of(acd.CallerEntered(time=1, call_id="c1", queue="support", priority=0,
                                          position=1, skills=()), now=0, wall_offset=0)
    assert record_of(acd.CallerOffered(time=1, call_id="c1", queue="sales", agent="2005"),
                     now=0, wall_offset=0) is None  # its OfferCard is streamed instead
    offered = record_of(OfferCard(time=1, call_id="c1", queue="sales", agent="2005",
                                  caller="1001", caller_name=None, dialled="801", digits="",
                                  vars={}, wait_s=0.0, recording_id=None, crm=None,
                                  crm_status="off", script=None), now=0, wall_offset=0)
    login = record_of(acd.AgentLoggedIn(time=1, agent="2008",
                                        queues=(("support", 0), ("sales", 0))),
                      now=0, wall_offset=0)
    started = record_of(call.CallStarted("c1", "1001", "2001", 1.0), now=0, wall_offset=0)
    assert entered and offered and login and started
    every = EventFilter()
    assert all(every.matches(r) for r in (entered, offered, login, started))
    fam = EventFilter.of(types=["queue"])
    assert fam.matches(entered) and fam.matches(offered) and not fam.matches(login)
    star = EventFilter.of(types=["agent.*", "call.started"])
    assert star.matches(login) and star.matches(started) and not star.matches(entered)
    support = EventFilter.of(queues=["support"])
    assert support.matches(entered) and support.matches(login)
    assert not support.matches(offered) and not support.matches(started)
    agent = EventFilter.of(agents=["2005"])
    assert agent.matches(offered) and not agent.matches(login) and not agent.matches(entered)
    both = EventFilter.of(queues=["sales"], agents=["2005"])
    assert both.matches(offered) and not both.matches(login)
    # scopes: a supervisor of support sees support and its agents' calls; an agent itself
    sup = Scope(queues=frozenset({"support"}), users=frozenset({"2001", "2008"}))
    assert sup.allows(entered) and sup.allows(login) and not sup.allows(offered)
    assert sup.allows(started)  # a direct call to agent 2001
    other = record_of(call.CallStarted("c2", "1001", "1002", 1.0), now=0, wall_offset=0)
    assert other is not None and not sup.allows(other)
    me = Scope(users=frozenset({"2005"}))
    assert me.allows(offered) and not me.allows(login) and not me.allows(entered)
    assert ALL.allows(other) and not Scope().allows(entered)
