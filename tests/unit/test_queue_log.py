"""Queue events as Asterisk queue_log lines: one test per line shape, then a whole call."""

from __future__ import annotations

import random

import pytest

from ccswitch.acd import events as ev
from ccswitch.acd.model import QueueSettings, Target
from ccswitch.acd.queue_log import format_event, format_events
from ccswitch.acd.router import Router

T = 1000.4  # router clock; with the offset below the epoch is 1700000000


def line(event: ev.QueueEvent, **kw: object) -> list[str]:
    return format_event(event, epoch_offset=1_699_999_000.0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("event", "expected"), [
    (ev.CallerEntered(T, "c1", "sales", 0, 1, (), "+33123"),
     "1700000000|c1|sales|NONE|ENTERQUEUE||+33123"),
    (ev.CallerEntered(T, "c1", "sales", 0, 1, ()),
     "1700000000|c1|sales|NONE|ENTERQUEUE||"),
    (ev.CallerRefused(T, "c1", "sales", "full", None),
     "1700000000|c1|sales|NONE|FULL|"),
    (ev.CallerRefused(T, "c1", "sales", "joinempty", Target("ivr", "x")),
     "1700000000|c1|sales|NONE|JOINEMPTY|"),
    (ev.OfferFailed(T, "c1", "sales", "2001", "noanswer", 15.0),
     "1700000000|c1|sales|2001|RINGNOANSWER|15000"),
    (ev.OfferFailed(T, "c1", "sales", "2001", "busy", 0.25),
     "1700000000|c1|sales|2001|RINGNOANSWER|250"),
    (ev.OfferFailed(T, "c1", "sales", "2001", "cancelled", 3.0),
     "1700000000|c1|sales|2001|RINGCANCELED|3000"),
    (ev.CallerConnected(T, "c1", "sales", "2001", 42.4, 3.6, 2),
     "1700000000|c1|sales|2001|CONNECT|42||4"),
    (ev.CallCompleted(T, "c1", "sales", "2001", 42.0, 125.0, 5.0, "caller", 2),
     "1700000000|c1|sales|2001|COMPLETECALLER|42|125|2"),
    (ev.CallCompleted(T, "c1", "sales", "2001", 42.0, 125.0, 5.0, "agent", 2),
     "1700000000|c1|sales|2001|COMPLETEAGENT|42|125|2"),
    (ev.CallTransferred(T, "c1", "sales", "2001", "3000", 42.0, 60.0, 2),
     "1700000000|c1|sales|2001|BLINDTRANSFER|3000|ccswitch|42|60|2"),
    (ev.CallerAbandoned(T, "c1", "sales", 3, 5, 61.0),
     "1700000000|c1|sales|NONE|ABANDON|3|5|61"),
    (ev.CallerOverflowed(T, "c1", "sales", "timeout", None, 1, 4, 300.0),
     "1700000000|c1|sales|NONE|EXITWITHTIMEOUT|1|4|300"),
    (ev.CallerOverflowed(T, "c1", "sales", "leaveempty", None, 2, 2, 9.0),
     "1700000000|c1|sales|NONE|EXITEMPTY|2|2|9"),
    (ev.CallerExitedWithKey(T, "c1", "sales", "0", 2, 3, 30.0),
     "1700000000|c1|sales|NONE|EXITWITHKEY|0|2|3|30"),
    (ev.CallbackFailed(T, "c1", "sales", "2001", "+33", 2, True, 400.0, 6),
     "1700000000|c1|sales|NONE|ABANDON|1|6|400"),
])
def test_line_shapes(event: ev.QueueEvent, expected: str) -> None:
    assert line(event) == [expected]


def test_events_without_an_asterisk_line_unless_extended() -> None:
    quiet = [ev.CallerOffered(T, "c1", "q", "2001"),
             ev.CallbackRequested(T, "c1", "q", "+33", 2, 10.0),
             ev.CallbackMade(T, "c1", "q", "2001", "+33", 70.0),
             ev.CallbackFailed(T, "c1", "q", "2001", "+33", 1, False, 70.0, 2)]
    assert [line(e) for e in quiet] == [[], [], [], []]
    assert [line(e, extended=True) for e in quiet] == [
        ["1700000000|c1|q|2001|RINGSTART|"],
        ["1700000000|c1|q|NONE|CALLBACKREQUEST|+33|2|10"],
        ["1700000000|c1|q|2001|CALLBACKMADE|+33|70"],
        ["1700000000|c1|q|2001|CALLBACKFAILED|+33|1"]]


def test_agent_lines_per_queue_or_agent_style() -> None:
    login = ev.AgentLoggedIn(T, "2001", (("sales", 0), ("support", 1)))
    logout = ev.AgentLoggedOut(T, "2001", ("sales", "support"), 3600.2)
    assert line(login) == ["1700000000|NONE|sales|2001|ADDMEMBER|",
                           "1700000000|NONE|support|2001|ADDMEMBER|"]
    assert line(logout) == ["1700000000|NONE|sales|2001|REMOVEMEMBER|",
                            "1700000000|NONE|support|2001|REMOVEMEMBER|"]
    assert line(login, login_style="agent") == ["1700000000|NONE|NONE|2001|AGENTLOGIN|2001"]
    assert line(logout, login_style="agent") == [
        "1700000000|NONE|NONE|2001|AGENTLOGOFF|2001|3600"]
    pause = ev.AgentPaused(T, "2001", ("sales", "support"), "lunch")
    assert line(pause) == ["1700000000|NONE|NONE|2001|PAUSEALL|lunch",
                           "1700000000|NONE|sales|2001|PAUSE|lunch",
                           "1700000000|NONE|support|2001|PAUSE|lunch"]
    unpause = ev.AgentUnpaused(T, "2001", ("sales",), "lunch", 600.0)
    assert line(unpause) == ["1700000000|NONE|NONE|2001|UNPAUSEALL|lunch",
                             "1700000000|NONE|sales|2001|UNPAUSE|lunch"]


def test_separators_and_control_characters_inside_fields_are_neutralised() -> None:
    e = ev.AgentPaused(T, "agent|x", ("q",), "coffee\nbreak|now")
    assert line(e)[1] == "1700000000|NONE|q|agent_x|PAUSE|coffee_break_now"
    for text in line(e):
        assert text.count("|") == 5


def test_a_whole_call_through_the_router() -> None:
    r = Router(queues=[QueueSettings("support", wrapup=5.0)], rng=random.Random(0))
    r.agent_login("2001", 0.0, {"support": 0})
    r.enqueue("call-1", "support", 10.0, number="+33100")
    r.offer_failed("call-1", "2001", 12.0, "busy")
    r.handle_timer(17.0)  # the agent's busy backoff ends; the call is offered again
    r.offer_answered("call-1", "2001", 20.0)
    r.call_ended("call-1", "2001", 80.0, by="caller")
    assert format_events(r.events()) == [
        "0|NONE|support|2001|ADDMEMBER|",
        "10|call-1|support|NONE|ENTERQUEUE||+33100",
        "12|call-1|support|2001|RINGNOANSWER|2000",
        "20|call-1|support|2001|CONNECT|10||3",
        "80|call-1|support|2001|COMPLETECALLER|10|60|1",
    ]
