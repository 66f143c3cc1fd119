"""Pausing a live call's recording: the commands, the spans they report, and sensitive IVR
menus (fake clock, through ``Signaling.command`` and the media events)."""

from __future__ import annotations

import dataclasses

import pytest
from callworld import Switch, demo_config

from ccswitch.call import recpause
from ccswitch.call.commands import CommandError, PauseRecording, ResumeRecording, Transfer
from ccswitch.call.events import RecordingPaused, RecordingResumed, RecordingStarted
from ccswitch.config.schema import SwitchConfig
from ccswitch.ivr.flow import (
    FlowRunner,
    HandOff,
    IvrCall,
    Sensitive,
    StartPlay,
)
from ccswitch.ivr.menu import Menu, menu_flow
from ccswitch.media.commands import (
    Digit,
    PauseRecord,
    Play,
    PlayDone,
    ResumeRecord,
    StartRecord,
    StopRecord,
)


def recorded_call(config: SwitchConfig | None = None) -> tuple[Switch, str]:
    """1001 calls 1002 at t=1.0, answered at t=2.0: the recording starts at 2.0."""
    w = Switch(config=config)
    w.plan.record_calls = True
    w.plan.recording_path = lambda name, ext: f"/rec/{name}.{ext}"
    w.call("1001", "1002", 1.0, call_id="c1")
    (cid,) = w.sig.b2bua._calls
    (started,) = [e for e in w.events if isinstance(e, RecordingStarted)]
    assert started.at == 2.0
    return w, cid


def spans(w: Switch) -> list[RecordingPaused | RecordingResumed]:
    return [e for e in w.events if isinstance(e, RecordingPaused | RecordingResumed)]


def test_pause_and_resume_send_the_worker_commands_and_report_the_span() -> None:
    w, cid = recorded_call()
    (start,) = w.commands(StartRecord)
    done = w.sig.command(PauseRecording(cid, by="desktop", user="1002"), 5.0)
    w.pump()
    assert done.detail == {"call_id": cid, "recording": "paused"}
    assert w.commands(PauseRecord) == [PauseRecord(start.rec_id)]
    done = w.sig.command(ResumeRecording(cid), 7.5)
    w.pump()
    assert done.detail == {"call_id": cid, "recording": "recording"}
    assert w.commands(ResumeRecord) == [ResumeRecord(start.rec_id)]
    # offsets from the file's start (2.0): 5.0 - 2.0 = 3.0 and 7.5 - 2.0 = 5.5
    assert spans(w) == [
        RecordingPaused(cid, start.path, 5.0, 3.0, "desktop", "1002"),
        RecordingResumed(cid, start.path, 7.5, 5.5, "api"),
    ]


def test_pause_twice_and_resume_unpaused_are_conflicts() -> None:
    w, cid = recorded_call()
    w.sig.command(PauseRecording(cid), 3.0)
    with pytest.raises(CommandError) as err:
        w.sig.command(PauseRecording(cid), 3.5)
    assert err.value.code == "conflict" and "already paused" in err.value.message
    w.sig.command(ResumeRecording(cid), 4.0)
    with pytest.raises(CommandError) as err:
        w.sig.command(ResumeRecording(cid), 4.5)
    assert err.value.code == "conflict" and "not paused" in err.value.message
    w.pump()
    assert len(w.commands(PauseRecord)) == 1 and len(w.commands(ResumeRecord)) == 1


def test_a_call_not_recorded_or_unknown_is_refused() -> None:
    w = Switch()  # record_calls off: 1001 -> 1002 is not recorded
    w.call("1001", "1002", 1.0, call_id="c1")
    (cid,) = w.sig.b2bua._calls
    with pytest.raises(CommandError) as err:
        w.sig.command(PauseRecording(cid), 3.0)
    assert err.value.code == "conflict" and "not being recorded" in err.value.message
    with pytest.raises(CommandError) as err:
        w.sig.command(PauseRecording("nope"), 3.0)
    assert err.value.code == "not_found"
    w.pump()
    assert w.commands(PauseRecord) == []


def sensitive_demo(cfg: SwitchConfig) -> SwitchConfig:
    menus = dict(cfg.menus)
    menus["demo"] = dataclasses.replace(menus["demo"], sensitive=True)
    return dataclasses.replace(cfg, menus=menus)


def finish_plays(w: Switch, now: float) -> None:
    """The worker reports every prompt started so far as played to its end."""
    for play in w.commands(Play):
        assert isinstance(play, Play)
        w.sig.media_events([PlayDone(play.leg, play.play_id, "end")], now)
    w.pump()


def test_a_recorded_call_transferred_into_a_sensitive_menu_is_paused_until_it_hands_off(
) -> None:
    w, cid = recorded_call(demo_config(sensitive_demo))
    (start,) = w.commands(StartRecord)
    caller_leg = start.legs[0]
    w.sig.command(Transfer(cid, "700"), 4.0)  # 700 = ivr:demo (sensitive here)
    w.pump()
    assert w.commands(PauseRecord) == [PauseRecord(start.rec_id)]
    # an agent cannot resume what the menu holds
    with pytest.raises(CommandError) as err:
        w.sig.command(ResumeRecording(cid), 4.5)
    assert err.value.code == "conflict" and "ivr:demo" in err.value.message
    finish_plays(w, 6.0)
    w.sig.media_events([Digit(caller_leg, "2", "rfc4733")], 9.0)  # 2 -> queue:support
    w.pump()
    assert w.commands(ResumeRecord) == []  # the guard: the last key's tail stays out
    w.run_until(9.0 + recpause.GUARD)
    assert w.commands(ResumeRecord) == [ResumeRecord(start.rec_id)]
    assert StopRecord(start.rec_id) not in w.commands(StopRecord)
    # 4.0 - 2.0 = 2.0 s into the file; handed to the queue at 9.0, resumed one guard
    # (1.0 s) later: 9.0 + 1.0 - 2.0 = 8.0 s
    (paused, resumed) = spans(w)
    assert (paused.offset, paused.by, resumed.offset, resumed.by) == (2.0, "ivr:demo", 8.0,
                                                                      "ivr:demo")


def test_a_manual_pause_outlives_the_menu_and_the_span_stays_one() -> None:
    w, cid = recorded_call(demo_config(sensitive_demo))
    (start,) = w.commands(StartRecord)
    w.sig.command(PauseRecording(cid), 3.0)
    w.sig.command(Transfer(cid, "700"), 4.0)
    w.pump()
    finish_plays(w, 6.0)
    w.sig.media_events([Digit(start.legs[0], "2", "rfc4733")], 9.0)
    w.run_until(11.0)  # the menu's guard (9.0 + 1.0) is over
    assert len(w.commands(PauseRecord)) == 1 and w.commands(ResumeRecord) == []
    done = w.sig.command(ResumeRecording(cid), 12.0)
    w.pump()
    assert done.detail["recording"] == "recording"
    # one span: paused 3.0 - 2.0 = 1.0 s in by the API, resumed 12.0 - 2.0 = 10.0 s in
    assert [(type(e).__name__, e.offset, e.by) for e in spans(w)] == [
        ("RecordingPaused", 1.0, "api"), ("RecordingResumed", 10.0, "api")]


def test_a_sensitive_menu_before_any_recording_leaves_nothing_held() -> None:
    w = Switch(config=demo_config(sensitive_demo))
    w.plan.record_calls = True
    w.answered("1001", "700", 1.0, call_id="c1")
    (cid,) = w.sig.b2bua._calls
    call = w.sig.b2bua._calls[cid]
    assert call.media is not None and call.media.pause_holds == {"ivr": "ivr:demo"}
    assert recpause.recording_state(call) is None
    finish_plays(w, 3.0)
    (play,) = w.commands(Play)[:1]
    assert isinstance(play, Play)
    w.sig.media_events([Digit(play.leg, "2", "rfc4733")], 5.0)
    w.pump()
    assert call.media.pause_holds == {"ivr": "ivr:demo"}  # the guard after the menu
    w.run_until(5.0 + recpause.GUARD)
    assert call.media.pause_holds == {}  # let go
    assert w.commands(PauseRecord) == [] and spans(w) == []


def test_a_recording_started_while_a_pause_is_held_starts_paused() -> None:
    w = Switch()
    w.plan.record_calls = True
    w.plan.recording_path = lambda name, ext: f"/rec/{name}.{ext}"
    w.dial("1001", "1002", 1.0, call_id="c1")
    (cid,) = w.sig.b2bua._calls
    call = w.sig.b2bua._calls[cid]
    assert recpause.hold(call, recpause.IVR, "ivr:cards", 1.5) is None  # nothing to pause yet
    w.answer("1002", 2.0, tag="bt")
    kinds = [type(c).__name__ for c in w.commands() if isinstance(c, StartRecord | PauseRecord)]
    assert kinds == ["StartRecord", "PauseRecord"]
    assert recpause.recording_state(call) == "paused"
    (start,) = w.commands(StartRecord)
    # the span starts with the file (offset 0), answered at 2.0
    assert spans(w) == [RecordingPaused(cid, start.path, 2.0, 0.0, "ivr:cards")]


def test_the_runner_reports_entering_and_leaving_sensitive_menus() -> None:
    menus = {
        "main": Menu("main", ("main-menu",), choices={"1": ("menu:cards",)}),
        "cards": Menu("cards", ("card",), choices={"1234": ("queue:sales",)}, max_digits=4,
                      sensitive=True),
    }
    runner = FlowRunner(menu_flow(menus, "main"), IvrCall("1001", "700"))
    runner.start(0.0)
    (play,) = runner.actions()
    assert isinstance(play, StartPlay)
    runner.on_digit("1", 1.0)
    got = runner.actions()
    assert Sensitive("cards") in got  # before the card prompt plays
    assert isinstance(got[-1], StartPlay) and got.index(Sensitive("cards")) < len(got) - 1
    for key in "123":
        runner.on_digit(key, 2.0)
        assert not any(isinstance(a, Sensitive) for a in runner.actions())
    runner.on_digit("4", 3.0)
    got = runner.actions()
    assert got[0] == Sensitive(None) and isinstance(got[1], HandOff)
    runner.on_result("overflow", 9.0)  # back from the queue: the flow ends, nothing held
    assert [a for a in runner.actions() if isinstance(a, Sensitive)] == []
