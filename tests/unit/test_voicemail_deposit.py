"""Leaving a message: greeting, beep, recording, kept or discarded (fake clock)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.prompts import prompt_names
from ccswitch.voicemail import (
    Deposit,
    DepositSettings,
    HangUp,
    MailboxChanged,
    MessageKept,
    Play,
    RecordingDiscarded,
    StartRecording,
    StopPlay,
    StopRecording,
    VoicemailAction,
)
from ccswitch.voicemail.deposit import BEEP, DEFAULT_GREETING, GRACE, DepositState

SETTINGS = DepositSettings(max_seconds=60.0, min_seconds=2.0, silence_seconds=4.0)


def deposit(greeting: str | None = None) -> Deposit:
    d = Deposit(box="1002", caller="1001", file="msg-1.wav", settings=SETTINGS, greeting=greeting)
    d.start(0.0)
    return d


def play_of(actions: list[object]) -> Play:
    (p,) = [a for a in actions if isinstance(a, Play)]
    return p


def to_recording(d: Deposit, now: float = 10.0) -> None:
    greet = play_of(d.actions())
    d.prompt_ended(greet.play_id, now - 1)
    beep = play_of(d.actions())
    assert beep.items == (BEEP,)
    d.prompt_ended(beep.play_id, now)
    assert d.actions() == [StartRecording("msg-1.wav", 60.0, 4.0)]
    assert d.state is DepositState.RECORDING


def test_default_greeting_then_beep_then_recording_ended_by_hash_keeps_the_message() -> None:
    d = deposit()
    assert d.actions() == [Play(1, DEFAULT_GREETING)]
    d.prompt_ended(1, 8.0)
    assert d.actions() == [Play(2, (BEEP,))]
    d.prompt_ended(2, 9.0)
    assert d.actions() == [StartRecording("msg-1.wav", 60.0, 4.0)]
    d.digit("#", 20.0)
    assert d.actions() == [StopRecording("msg-1.wav")]
    d.recording_ended(11.0, "stopped", 20.1)
    kept = MessageKept("1002", "1001", 9.0, 11.0, "msg-1.wav")
    assert d.actions() == [kept, MailboxChanged("1002"), Play(3, ("vm/saved", "goodbye"))]
    d.prompt_ended(3, 22.0)
    assert d.actions() == [HangUp()]
    assert d.done and d.kept == kept and d.next_deadline() is None


def test_a_recorded_greeting_plays_instead_and_hash_skips_it() -> None:
    d = deposit("/var/vm/1002/greeting.wav")
    assert d.actions() == [Play(1, ("/var/vm/1002/greeting.wav",))]
    d.digit("5", 1.0)
    assert d.actions() == []
    d.digit("#", 1.5)
    assert d.actions() == [StopPlay(1), Play(2, (BEEP,))]
    d.prompt_ended(1, 1.6)  # the stopped greeting's end report changes nothing
    assert d.state is DepositState.BEEP and d.actions() == []


def test_silence_ends_the_recording_and_is_not_counted_in_the_duration() -> None:
    d = deposit()
    to_recording(d)
    d.recording_ended(15.0, "silence", 25.0)
    got = d.actions()
    assert got[0] == MessageKept("1002", "1001", 10.0, 11.0, "msg-1.wav")


def test_too_short_a_message_is_discarded_and_the_mailbox_is_untouched() -> None:
    d = deposit()
    to_recording(d)
    d.recording_ended(5.0, "silence", 15.0)  # 1 s of speech once the silence is off
    assert d.actions() == [RecordingDiscarded("1002", "msg-1.wav", "too_short"),
                           Play(3, ("goodbye",))]
    assert d.kept is None


def test_hang_up_while_recording_stops_and_keeps_it_without_a_goodbye() -> None:
    d = deposit()
    to_recording(d)
    d.hangup(30.0)
    assert d.actions() == [StopRecording("msg-1.wav")]
    d.recording_ended(20.0, "hangup", 30.2)
    got = d.actions()
    assert isinstance(got[0], MessageKept) and got[1:] == [MailboxChanged("1002")]
    assert d.done


def test_hang_up_during_the_greeting_records_nothing() -> None:
    d = deposit()
    d.actions()
    d.hangup(2.0)
    d.prompt_ended(1, 2.1)
    assert d.actions() == [] and d.done and d.next_deadline() is None


def test_max_length_is_the_media_s_job_and_the_guard_stops_a_silent_media() -> None:
    d = deposit()
    to_recording(d, now=10.0)
    assert d.next_deadline() == 10.0 + 60.0 + GRACE
    d.handle_timer(74.9)
    assert d.actions() == []
    d.handle_timer(75.0)
    assert d.actions() == [StopRecording("msg-1.wav")]
    d.handle_timer(80.0)  # the media never answers: the file is lost
    assert d.actions() == [RecordingDiscarded("1002", "msg-1.wav", "lost"), Play(3, ("goodbye",))]


def test_a_failed_recording_is_discarded() -> None:
    d = deposit()
    to_recording(d)
    d.recording_ended(30.0, "failed", 40.0)
    assert d.actions()[0] == RecordingDiscarded("1002", "msg-1.wav", "failed")


def test_max_length_reported_by_the_media_keeps_the_whole_message() -> None:
    d = deposit()
    to_recording(d)
    d.recording_ended(60.0, "max_length", 70.0)
    assert d.actions()[0] == MessageKept("1002", "1001", 10.0, 60.0, "msg-1.wav")


def test_every_prompt_the_deposit_plays_is_shipped() -> None:
    assert {*DEFAULT_GREETING, BEEP, "vm/saved", "goodbye"} <= set(prompt_names())


_STEP = st.sampled_from(["#", "1", "end", "end", "end", "rec_stopped", "rec_silence",
                         "rec_failed", "timer"])
# a caller hangs up once at most, anywhere
_EVENTS = st.tuples(st.lists(_STEP, max_size=20), st.booleans(),
                    st.lists(_STEP, max_size=10)).map(
    lambda t: t[0] + (["hangup"] if t[1] else []) + t[2])


@settings(max_examples=300, deadline=None)
@given(_EVENTS, st.floats(0.0, 100.0))
def test_any_input_order_records_at_most_once_and_decides_the_file_once(
        events: list[str], seconds: float) -> None:
    d = deposit()
    seen: list[VoicemailAction] = list(d.actions())
    playing = 1
    now = 0.0
    for ev in events:
        now += 1.0
        if ev in ("#", "1"):
            d.digit(ev, now)
        elif ev == "end":
            d.prompt_ended(playing, now)
        elif ev.startswith("rec_"):
            d.recording_ended(seconds, ev.removeprefix("rec_"), now)
        elif ev == "timer":
            deadline = d.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                d.handle_timer(now)
        else:
            d.hangup(now)
        got = d.actions()
        if d.done and ev == "hangup":
            assert not any(isinstance(a, (Play, HangUp, StartRecording)) for a in got)
        for a in got:
            if isinstance(a, Play):
                playing = a.play_id
            if isinstance(a, HangUp):
                assert d.done
        seen += got
    starts = [a for a in seen if isinstance(a, StartRecording)]
    verdicts = [a for a in seen if isinstance(a, (MessageKept, RecordingDiscarded))]
    assert len(starts) <= 1 and len(verdicts) <= 1
    assert not verdicts or starts  # nothing is kept or discarded that was never recorded
    assert sum(isinstance(a, HangUp) for a in seen) <= 1
    assert sum(isinstance(a, StopRecording) for a in seen) <= 1
    kept = [a for a in verdicts if isinstance(a, MessageKept)]
    if kept:
        assert kept[0].duration >= SETTINGS.min_seconds
        assert seen[seen.index(kept[0]) + 1] == MailboxChanged("1002")
    if d.done:
        assert d.next_deadline() is None
