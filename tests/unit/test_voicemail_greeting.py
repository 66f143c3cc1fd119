"""Recording a box's greeting from the ``*97`` menu (key 0): the recorder inside the menu,
on a fake clock."""

from __future__ import annotations

from ccswitch.prompts import prompt_names
from ccswitch.voicemail import (
    GreetingKept,
    Play,
    RecordingDiscarded,
    Retrieval,
    StartRecording,
    StopRecording,
    VoicemailAction,
)
from ccswitch.voicemail.greeting import GreetingSettings
from ccswitch.voicemail.retrieve import RetrievalState

SHIPPED = frozenset(prompt_names())
GREETING = GreetingSettings(max_seconds=60.0, min_seconds=1.0, silence_seconds=3.0,
                            review_timeout=10.0, review_repeats=1)


class Menu:
    """An empty box's ``*97`` menu with the greeting option, PIN typed."""

    def __init__(self) -> None:
        self.takes = 0
        self.r = Retrieval(box="1002", messages=[], pin="1002", greeting_file=self._take,
                           greeting=GREETING)
        self.r.start(0.0)
        self.log: list[VoicemailAction] = []
        self.pump()
        for k in "1002#":
            self.r.digit(k, 1.0)
        self.pump()

    def _take(self) -> str:
        self.takes += 1
        return f"/data/vm/1002/greeting-{self.takes}.wav"

    def pump(self) -> list[VoicemailAction]:
        got = self.r.actions()
        self.log += got
        return got

    def last_play(self) -> Play:
        return [a for a in self.log if isinstance(a, Play)][-1]

    def end_play(self, now: float) -> list[VoicemailAction]:
        self.r.prompt_ended(self.last_play().play_id, now)
        return self.pump()

    def recording(self) -> None:
        """The "no messages" notice and the options end (2.0), 0 at 3.0, the beep at 4.0."""
        self.end_play(2.0)
        self.r.digit("0", 3.0)
        self.pump()
        self.end_play(4.0)


def test_an_empty_box_offers_the_options_and_0_records_reviews_and_keeps_a_greeting() -> None:
    m = Menu()
    assert m.last_play().items == ("vm/no-messages",)
    m.end_play(2.0)
    assert m.last_play().items == ("vm/options", "vm/options-greeting")
    m.r.digit("0", 3.0)
    m.pump()
    assert m.r.state is RetrievalState.GREETING
    assert m.last_play().items == ("vm/record-greeting", "vm/beep")
    got = m.end_play(5.0)
    assert got == [StartRecording("/data/vm/1002/greeting-1.wav", 60.0, 3.0)]
    m.r.digit("#", 9.0)
    assert m.pump() == [StopRecording("/data/vm/1002/greeting-1.wav")]
    m.r.recording_ended(4.0, "stopped", 9.0)  # 5.0 .. 9.0
    m.pump()
    assert m.last_play().items == ("vm/your-greeting", "/data/vm/1002/greeting-1.wav",
                                   "vm/greeting-options")
    m.end_play(15.0)
    assert m.r.next_deadline() == 25.0  # 15 + review_timeout 10
    m.r.digit("1", 16.0)
    got = m.pump()
    assert GreetingKept("1002", "/data/vm/1002/greeting-1.wav") in got
    assert m.last_play().items == ("vm/greeting-saved",)
    m.end_play(17.0)  # back to the menu's options
    assert m.r.state is RetrievalState.OPTIONS
    assert m.last_play().items == ("vm/options", "vm/options-greeting")
    assert not [a for a in m.log if isinstance(a, RecordingDiscarded)]
    played = {i for a in m.log if isinstance(a, Play) for i in a.items if "/" in i
              and not i.startswith("/")}
    assert played <= SHIPPED, played - SHIPPED


def test_redo_discards_the_take_and_records_a_new_file() -> None:
    m = Menu()
    m.recording()
    m.r.digit("#", 8.0)
    m.pump()
    m.r.recording_ended(4.0, "stopped", 8.0)
    m.pump()
    m.r.digit("2", 9.0)
    got = m.pump()
    # played back already: the media is done with it, it may go at once
    assert RecordingDiscarded("1002", "/data/vm/1002/greeting-1.wav", "redo", True) in got
    assert m.last_play().items == ("vm/record-greeting", "vm/beep")
    assert m.end_play(10.0) == [StartRecording("/data/vm/1002/greeting-2.wav", 60.0, 3.0)]


def test_silence_is_not_counted_and_a_too_short_take_is_asked_again() -> None:
    m = Menu()
    m.recording()
    # ended by 3 s of silence after 3.5 s: 3.5 - 3 = 0.5 s of greeting, under min_seconds 1
    m.r.recording_ended(3.5, "silence", 7.5)
    got = m.pump()
    assert RecordingDiscarded("1002", "/data/vm/1002/greeting-1.wav", "too_short") in got
    assert m.last_play().items == ("vm/greeting-too-short",)
    m.end_play(8.0)
    assert m.last_play().items == ("vm/record-greeting", "vm/beep")


def test_no_choice_after_the_options_twice_gives_the_take_up() -> None:
    m = Menu()
    m.recording()
    m.r.recording_ended(5.0, "max_length", 9.0)
    m.pump()
    m.end_play(12.0)
    m.r.handle_timer(22.0)  # 12 + 10: the options once more
    m.pump()
    assert m.last_play().items == ("vm/greeting-options",)
    m.end_play(25.0)
    m.r.handle_timer(35.0)  # 25 + 10, review_repeats 1 used: given up, back to the menu
    got = m.pump()
    assert RecordingDiscarded("1002", "/data/vm/1002/greeting-1.wav", "cancelled", True) in got
    assert m.r.state is RetrievalState.OPTIONS


def test_hanging_up_while_recording_stops_and_discards_the_take() -> None:
    m = Menu()
    m.recording()
    m.r.hangup(6.0)
    assert StopRecording("/data/vm/1002/greeting-1.wav") in m.pump()
    m.r.recording_ended(2.0, "stopped", 6.0)  # the session reports the stop it made
    got = m.pump()
    # not played back: the file goes once the worker has finished it
    assert got == [RecordingDiscarded("1002", "/data/vm/1002/greeting-1.wav", "hangup")]
    assert m.r.done
