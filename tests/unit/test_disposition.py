"""Disposition codes and click-to-dial.  An agent sets a code on its last queue call after
it ended; a wrap-up in progress ends early, the code is a queue event (``DISPOSITION`` in the
queue_log) once per call, and the command is refused without such a call.  ``Dial`` rings the
agent's phone first, then the number."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from callworld import Switch
from test_anchor import offer
from test_queue_calls import QueueWorld

from ccswitch.acd.events import CallCompleted, CallDisposition
from ccswitch.acd.model import AgentSettings, AgentState, QueueSettings
from ccswitch.acd.queue_log import format_event
from ccswitch.acd.router import Router
from ccswitch.call.commands import CommandError, Dial, Disposition
from ccswitch.config import parse_config
from ccswitch.config.desktop import AgentDesktopConfig
from ccswitch.errors import ConfigError

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"


def _router(wrapup: float = 30.0) -> Router:
    r = Router(queues=[QueueSettings("q", wrapup=wrapup)],
               agents=[AgentSettings("a1", queues={"q": 0})], rng=random.Random(1))
    r.agent_login("a1", 0.0)
    r.enqueue("c1", "q", 1.0)
    assert r.offer_answered("c1", "a1", 2.0)
    r.call_ended("c1", "a1", 10.0)
    r.events()
    return r


def test_a_disposition_ends_the_wrap_up_early_once_per_call() -> None:
    r = _router()
    assert r.agent_state("a1") is AgentState.WRAP_UP
    assert r.last_call("a1") == "c1"
    assert r.agent_disposition("a1", "resolved", 14.0)
    assert r.agent_state("a1") is AgentState.READY
    assert r.events() == [CallDisposition(14.0, "c1", "q", "a1", "resolved", 26.0)]
    assert r.last_call("a1") is None
    assert not r.agent_disposition("a1", "again", 15.0)
    r.handle_timer(40.0)  # the cancelled wrap-up end changes nothing
    assert r.agent_state("a1") is AgentState.READY


def test_a_disposition_after_the_wrap_up_keeps_the_state() -> None:
    r = _router(wrapup=5.0)
    r.handle_timer(15.0)
    assert r.agent_state("a1") is AgentState.READY
    r.agent_pause("a1", "lunch", 16.0)
    assert r.agent_disposition("a1", "callback", 17.0)
    assert r.agent_state("a1") is AgentState.PAUSED
    (ev,) = [e for e in r.events() if isinstance(e, CallDisposition)]
    assert ev.wrapup_left == 0.0


def test_a_disposition_is_a_queue_log_line() -> None:
    line = format_event(CallDisposition(100.0, "c1", "q", "a1", "resolved", 12.4))
    assert line == ["100|c1|q|a1|DISPOSITION|resolved|12"]


def test_the_disposition_command_through_the_core() -> None:
    w = QueueWorld()
    w.dial()
    with pytest.raises(CommandError) as err:
        w.sig.command(Disposition("2001", "resolved"), 2.0)
    assert err.value.code == "conflict"  # no call yet
    inv = w.invite_to("2001")
    w.agents["2001"].reply(inv, 200, "OK", 3.0, to_tag="ag1", body=offer(6000))
    w.pump()
    w.agents["2001"].send(w.agents["2001"].in_dialog("BYE", inv, cseq=9, my_tag="ag1"), 30.0)
    w.pump()
    done = next(e for e in w.events if isinstance(e, CallCompleted))
    with pytest.raises(CommandError) as err:
        w.sig.command(Disposition("2001", "resolved", call_id="other"), 31.0)
    assert err.value.code == "conflict"  # a stale card
    with pytest.raises(CommandError) as err:
        w.sig.command(Disposition("1001", "resolved"), 31.0)
    assert err.value.code == "not_found"
    ok = w.sig.command(Disposition("2001", "resolved", call_id=done.call_id), 31.0)
    w.pump()
    assert ok.detail == {"agent": "2001", "call_id": done.call_id, "code": "resolved",
                         "state": "ready"}
    (ev,) = [e for e in w.events if isinstance(e, CallDisposition)]
    assert (ev.call_id, ev.agent, ev.code) == (done.call_id, "2001", "resolved")
    with pytest.raises(CommandError):
        w.sig.command(Disposition("2001", "resolved"), 32.0)


def test_dial_rings_the_agent_first_then_the_number_and_bridges_them() -> None:
    w = Switch(("2001", "1002"))
    with pytest.raises(CommandError) as err:
        w.sig.command(Dial("2001", "5999"), 1.0)
    assert err.value.code == "not_found"
    done = w.sig.command(Dial("2001", "1002"), 1.0)
    w.pump()
    assert done.detail == {"agent": "2001", "number": "1002"}
    assert not w["1002"].requests("INVITE")  # the agent's phone first
    ring = w.answer("2001", 2.0, tag="ag", port=6100)
    assert ring.from_.uri.user == "1002" and ring.from_.display == "Dial 1002"
    agent = w.leg_of(ring)
    assert w["2001"].take("ACK").method == "ACK"
    inv = w.answer("1002", 3.0, tag="cu", port=6200)
    callee = w.leg_of(inv)
    assert inv.from_.uri.user == "2001"
    assert w.hearing.hears(agent) == {callee} and w.hearing.hears(callee) == {agent}
    w["1002"].send(w["1002"].in_dialog("BYE", inv, cseq=9, my_tag="cu"), 9.0)
    w.pump()
    assert w["2001"].take("BYE").method == "BYE"
    (ended,) = w.ended()
    assert (ended.caller, ended.callee) == ("2001", "1002")


def test_dial_to_a_user_without_a_phone_hangs_up_the_agent() -> None:
    w = Switch(("2001", "1002"))
    w.sig.command(Dial("2001", "2002"), 1.0)  # an agent (no mailbox) with no phone here
    w.pump()
    w.answer("2001", 2.0, tag="ag", port=6100)
    assert w["2001"].take("ACK").method == "ACK"
    assert w["2001"].take("BYE").method == "BYE"
    (ended,) = w.ended()
    assert ended.status == 480


def test_dial_for_a_user_without_a_phone_is_a_conflict() -> None:
    w = Switch(("1002",))
    with pytest.raises(CommandError) as err:
        w.sig.command(Dial("2001", "1002"), 1.0)
    assert err.value.code == "conflict"


def test_the_agent_desktop_menus_are_configured() -> None:
    demo = parse_config(DEMO.read_text(encoding="utf-8"), "demo.toml")
    assert demo.agent_desktop == AgentDesktopConfig()  # the demo spells out the defaults
    cfg = parse_config('[agent_desktop]\npause_reasons = ["coffee"]\n'
                       'dispositions = ["sale", "no-sale"]', "f.toml")
    assert cfg.agent_desktop == AgentDesktopConfig(("coffee",), ("sale", "no-sale"))
    for text, key in (('pause_reasons = []', "pause_reasons"),
                      ('dispositions = ["a b"]', "dispositions"),
                      ('dispositions = ["x", "x"]', "dispositions"),
                      ('colour = "red"', "colour")):
        with pytest.raises(ConfigError) as info:
            parse_config(f"[agent_desktop]\n{text}", "f.toml")
        assert f"agent_desktop.{key}" in str(info.value), (text, str(info.value))
