"""Commands through ``Signaling.command``: the one entry the HTTP API will use."""

from __future__ import annotations

import pytest
from callworld import Switch

from ccswitch.call.commands import (
    AddParty,
    AgentLogin,
    AgentPause,
    AgentReady,
    CommandError,
    Hangup,
    Hold,
    RoomKick,
    RoomMute,
    Supervise,
    SuperviseMode,
    Transfer,
)
from ccswitch.media.commands import Play, StopPlay


def call_id(w: Switch) -> str:
    (cid,) = w.sig.b2bua._calls
    return cid


def test_hangup_byes_both_sides_and_ends_the_call_once() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    cid = call_id(w)
    done = w.sig.command(Hangup(cid), 5.0)
    w.pump()
    assert done.detail == {"call_id": cid}
    assert w["1001"].take("BYE").method == "BYE" and w["1002"].take("BYE").method == "BYE"
    assert [e.call_id for e in w.ended()] == [cid]
    with pytest.raises(CommandError) as err:
        w.sig.command(Hangup(cid), 6.0)
    assert err.value.code == "not_found"


def test_hangup_of_a_ringing_call_cancels_and_answers_480() -> None:
    w = Switch()
    w.dial("1001", "1002", 1.0, call_id="c1")
    (inv,) = w["1002"].requests("INVITE")
    w["1002"].reply(inv, 180, "Ringing", 1.5, to_tag="r")  # CANCEL waits for a provisional
    w.pump()
    w.sig.command(Hangup(call_id(w)), 2.0)
    w.pump()
    assert w["1002"].take("CANCEL").method == "CANCEL"
    assert 480 in w["1001"].statuses()
    assert len(w.ended()) == 1


def test_hold_plays_music_to_the_caller_and_resume_joins_it_again() -> None:
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    caller, callee = w.leg_of(ok), w.leg_of(inv)
    cid = call_id(w)
    w.sig.command(Hold(cid), 3.0)
    w.pump()
    assert w.hearing.hears(caller) == set() and w.hearing.hears(callee) == set()
    music = [c for c in w.commands(Play) if isinstance(c, Play) and c.leg == caller]
    assert music and music[-1].loop
    w.sig.command(Hold(cid, on=False), 4.0)
    w.pump()
    assert any(isinstance(c, StopPlay) and c.leg == caller for c in w.commands(StopPlay))
    assert w.hearing.hears(caller) == {callee} and w.hearing.hears(callee) == {caller}
    assert w["1001"].requests("INVITE") == [] and w["1002"].requests("INVITE") == []


def test_transfer_command_rings_the_target_and_releases_the_callee() -> None:
    w = Switch()
    ok, _ = w.call("1001", "1002", 1.0, call_id="c1")
    caller = w.leg_of(ok)
    cid = call_id(w)
    w.sig.command(Transfer(cid, "1003"), 3.0)
    w.pump()
    inv = w.answer("1003", 4.0, tag="t3", port=6300)
    target = w.leg_of(inv)
    w.at(4.01)
    assert w.hearing.hears(caller) == {target}
    assert w["1002"].take("BYE").method == "BYE"  # at once; and no NOTIFY: it did not REFER
    assert w["1002"].requests("NOTIFY") == []


def test_transfer_command_to_an_unknown_number_is_not_found() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    with pytest.raises(CommandError) as err:
        w.sig.command(Transfer(call_id(w), "99999"), 3.0)
    assert err.value.code == "not_found"


def test_a_transfer_or_hold_of_a_call_not_up_is_a_conflict() -> None:
    w = Switch()
    w.dial("1001", "1002", 1.0, call_id="c1")
    with pytest.raises(CommandError) as err:
        w.sig.command(Hold(call_id(w)), 2.0)
    assert err.value.code == "conflict"


def test_agent_commands_change_the_router_state() -> None:
    w = Switch(("1001", "2001"))
    done = w.sig.command(AgentPause("2001", "lunch"), 1.0)
    assert done.detail["state"] == "paused" and done.detail["changed"] is True
    assert w.sig.command(AgentReady("2001"), 2.0).detail["state"] == "ready"
    assert w.sig.command(AgentLogin("2001"), 3.0).detail["changed"] is False
    with pytest.raises(CommandError) as err:
        w.sig.command(AgentPause("1001"), 4.0)
    assert err.value.code == "not_found"


def test_room_mute_and_kick() -> None:
    w = Switch(("1001", "1002"))
    ok1 = w.answered("1001", "850", 1.0, call_id="r1", port=4000)
    ok2 = w.answered("1002", "850", 2.0, call_id="r2", port=4100)
    a, b = w.leg_of(ok1), w.leg_of(ok2)
    assert w.hearing.hears(b) == {a}
    ids = {c.caller: c.key for c in w.sig.b2bua._calls.values()}
    w.sig.command(RoomMute("850", ids["1001"]), 3.0)
    w.pump()
    assert w.hearing.hears(b) == set() and w.hearing.hears(a) == {b}
    w.sig.command(RoomKick("850", ids["1002"]), 4.0)
    w.pump()
    assert w["1002"].take("BYE").method == "BYE"
    with pytest.raises(CommandError) as err:
        w.sig.command(RoomKick("850", ids["1002"]), 5.0)
    assert err.value.code == "not_found"


def test_supervise_mode_needs_a_supervisors_call() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    with pytest.raises(CommandError) as err:
        w.sig.command(SuperviseMode(call_id(w), "barge"), 2.0)
    assert err.value.code == "invalid"


def test_supervise_rings_the_supervisors_phone_which_then_listens() -> None:
    w = Switch(("1001", "2001", "1020"))
    ok, inv = w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
    caller, agent = w.leg_of(ok), w.leg_of(inv)
    done = w.sig.command(Supervise("1020", "2001", "whisper"), 3.0)
    w.pump()
    assert done.detail == {"supervisor": "1020", "agent": "2001", "mode": "whisper"}
    ring = w.answer("1020", 4.0, tag="sv", port=6900)
    assert ring.from_.uri.user == "2001" and ring.from_.display == "Whisper 2001"
    sup = w.leg_of(ring)
    assert w["1020"].take("ACK").method == "ACK"
    assert w.hearing.hears(sup) == {caller, agent}
    assert w.hearing.hears(agent) == {caller, sup} and w.hearing.hears(caller) == {agent}
    # the agent's call ends: the supervisor's phone is hung up
    w["1001"].send(w["1001"].in_dialog("BYE", ok, cseq=3), 6.0)
    w.pump()
    assert w["1020"].take("BYE").method == "BYE"


def test_supervise_is_refused_to_a_non_supervisor_and_for_an_idle_agent() -> None:
    w = Switch(("1001", "2001", "1020"))
    with pytest.raises(CommandError) as err:
        w.sig.command(Supervise("1001", "2001"), 1.0)
    assert err.value.code == "forbidden"
    with pytest.raises(CommandError) as err:
        w.sig.command(Supervise("1020", "2001"), 1.0)
    assert err.value.code == "conflict"


def test_a_supervisor_nobody_answers_for_is_given_up_and_its_port_freed() -> None:
    w = Switch(("1001", "2001", "1020"))
    w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
    before = w.plan.ports.in_use
    w.sig.command(Supervise("1020", "2001"), 3.0)
    w.pump()
    (inv,) = w["1020"].requests("INVITE")
    w["1020"].reply(inv, 180, "Ringing", 3.1, to_tag="r")
    w.pump()
    w.run_until(40.0)
    assert w["1020"].requests("CANCEL")
    w["1020"].reply(inv, 487, "Request Terminated", 40.1, to_tag="r")
    w.pump()
    assert not w.sig.b2bua._originating
    assert w.plan.ports.in_use == before


def test_add_party_makes_a_three_way_call_that_falls_back_to_two() -> None:
    w = Switch(("1001", "2001", "1003"))
    ok, inv = w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
    caller, agent = w.leg_of(ok), w.leg_of(inv)
    w.sig.command(AddParty(call_id(w), "1003"), 3.0)
    w.pump()
    ring = w.answer("1003", 4.0, tag="p3", port=6800)
    third = w.leg_of(ring)
    assert ring.from_.uri.user == "1001"
    assert w.hearing.hears(caller) == {agent, third}
    assert w.hearing.hears(agent) == {caller, third}
    assert w.hearing.hears(third) == {caller, agent}
    w["1003"].send(w["1003"].in_dialog("BYE", ring, cseq=2, my_tag="p3"), 6.0)
    w.pump()
    assert w.hearing.hears(caller) == {agent} and w.hearing.hears(agent) == {caller}
    assert w["1001"].requests("BYE") == [] and w["2001"].requests("BYE") == []


def test_add_party_needs_a_user() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    with pytest.raises(CommandError) as err:
        w.sig.command(AddParty(call_id(w), "800"), 2.0)
    assert err.value.code == "not_found"


def test_in_a_three_way_call_the_two_left_talk_on_when_a_first_party_hangs_up() -> None:
    w = Switch(("1001", "2001", "1003"))
    ok, inv = w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
    agent = w.leg_of(inv)
    w.sig.command(AddParty(call_id(w), "1003"), 3.0)
    w.pump()
    ring = w.answer("1003", 4.0, tag="p3", port=6800)
    third = w.leg_of(ring)
    w["1001"].send(w["1001"].in_dialog("BYE", ok, cseq=3), 6.0)  # the caller leaves
    w.pump()
    assert w.hearing.hears(agent) == {third} and w.hearing.hears(third) == {agent}
    assert w["2001"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert len(w.ended()) == 1  # the third party's own call record; the call goes on
    # now the third party hangs up: the call is over, the agent gets BYE
    w["1003"].send(w["1003"].in_dialog("BYE", ring, cseq=2, my_tag="p3"), 8.0)
    w.pump()
    assert w["2001"].take("BYE").method == "BYE"
    assert len(w.ended()) == 2
    w.run_until(60.0)
    assert w.plan.ports.in_use == 0
