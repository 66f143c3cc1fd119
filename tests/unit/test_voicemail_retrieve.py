"""The ``*97`` menu: PIN, counts, messages and their keys (fake clock, hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.prompts import prompt_names
from ccswitch.voicemail import (
    DeleteMessage,
    Folder,
    HangUp,
    Mailbox,
    MailboxChanged,
    Message,
    Play,
    Retrieval,
    RetrievalSettings,
    SaveMessage,
    StopPlay,
    VoicemailAction,
    ordered,
)
from ccswitch.voicemail.retrieve import RetrievalState

SHIPPED = frozenset(prompt_names())
SETTINGS = RetrievalSettings(pin_attempts=3, pin_timeout=5.0, interdigit=3.0,
                             options_timeout=10.0, options_repeats=1)


def msg(i: int, folder: Folder = Folder.NEW, received: float | None = None) -> Message:
    return Message(f"m{i}", "1002", "1001", 100.0 * i if received is None else received, 5.0,
                   f"m{i}.wav", folder)


def session(messages: list[Message], pin: str | None = "1002") -> Retrieval:
    r = Retrieval(box="1002", messages=ordered(messages), pin=pin, settings=SETTINGS,
                  file_path="/data/vm/{box}/{file}")
    r.start(0.0)
    return r


def last_play(actions: list[VoicemailAction]) -> Play:
    plays = [a for a in actions if isinstance(a, Play)]
    assert plays, actions
    return plays[-1]


def enter(r: Retrieval, keys: str, now: float = 1.0) -> list[VoicemailAction]:
    for k in keys:
        r.digit(k, now)
    return r.actions()


def finish(r: Retrieval, actions: list[VoicemailAction], now: float) -> list[VoicemailAction]:
    """End the last play of ``actions``; the actions that follow."""
    r.prompt_ended(last_play(actions).play_id, now)
    return r.actions()


def test_mailbox_order_is_new_oldest_first_then_saved_oldest_first() -> None:
    box = Mailbox("1002", [msg(3), msg(1, Folder.SAVED), msg(2), msg(0, Folder.SAVED)])
    assert [m.id for m in box.messages()] == ["m2", "m3", "m0", "m1"]
    assert box.counts() == (2, 2)
    assert box.save("m2") and box.counts() == (1, 3)
    assert box.delete("m3") and not box.delete("m3") and box.counts() == (0, 3)
    assert box.summary("sip:1002@x").build().startswith(b"Messages-Waiting: no")


def test_right_pin_counts_then_plays_new_then_saved_with_keys() -> None:
    r = session([msg(2), msg(1), msg(0, Folder.SAVED)])
    assert r.actions() == [Play(1, ("vm/enter-password",))]
    got = enter(r, "1002#")
    assert got[0] == StopPlay(1)
    assert last_play(got).items == ("vm/you-have", "digits/2", "vm/new-messages", "vm/and",
                                    "digits/1", "vm/saved-message")
    got = finish(r, got, 5.0)
    assert last_play(got).items == ("vm/message", "digits/1", "/data/vm/1002/m1.wav")
    assert got[1:] == [SaveMessage("1002", "m1"), MailboxChanged("1002")]
    got = finish(r, got, 15.0)
    assert last_play(got).items == ("vm/options",)
    got = enter(r, "6", 16.0)
    assert last_play(got).items == ("vm/message", "digits/2", "/data/vm/1002/m2.wav")
    got = enter(r, "6", 17.0)  # during the message: stops it, goes on
    assert got[0] == StopPlay(last_play(got).play_id - 1)
    assert last_play(got).items[-1] == "/data/vm/1002/m0.wav"
    assert SaveMessage("1002", "m0") not in got  # already saved: no change to report
    got = enter(r, "4", 18.0)
    assert last_play(got).items[-1] == "/data/vm/1002/m2.wav"
    got = enter(r, "5", 19.0)
    assert last_play(got).items[-1] == "/data/vm/1002/m2.wav"
    got = enter(r, "#", 20.0)
    assert last_play(got).items == ("goodbye",)
    assert finish(r, got, 21.0) == [HangUp()]
    assert r.done


def test_delete_goes_to_the_next_message_and_never_plays_the_deleted_one() -> None:
    r = session([msg(0), msg(1)], pin=None)
    got = finish(r, r.actions(), 1.0)  # counts -> first message
    got = enter(r, "7", 2.0)
    assert DeleteMessage("1002", "m0") in got and MailboxChanged("1002") in got
    assert last_play(got).items == ("vm/deleted",)
    got = finish(r, got, 3.0)
    assert last_play(got).items[-1] == "/data/vm/1002/m1.wav"
    got = enter(r, "7", 4.0)
    assert last_play(got).items == ("vm/deleted", "vm/no-more")
    got = enter(r, "4", 5.0)  # the list is empty now
    assert last_play(got).items == ("vm/no-more",)
    assert r.current is None and r.deleted == {"m0", "m1"}


def test_save_key_says_saved_then_plays_the_next() -> None:
    r = session([msg(0, Folder.SAVED), msg(1, Folder.SAVED)], pin=None)
    got = r.actions()
    assert last_play(got).items == ("vm/you-have", "digits/0", "vm/new-messages", "vm/and",
                                    "digits/2", "vm/saved-messages")
    finish(r, got, 1.0)
    got = enter(r, "9", 2.0)
    assert last_play(got).items == ("vm/saved",)
    got = finish(r, got, 3.0)
    assert last_play(got).items[-1] == "/data/vm/1002/m1.wav"
    got = enter(r, "9", 4.0)
    assert last_play(got).items == ("vm/saved", "vm/no-more")
    assert r.current is not None and r.current.id == "m1"


def test_three_wrong_pins_hang_up() -> None:
    r = session([msg(0)])
    r.actions()
    got = enter(r, "1234#")
    assert last_play(got).items == ("wrong-pin",)
    got = finish(r, got, 2.0)
    assert last_play(got).items == ("vm/enter-password",)
    got = enter(r, "0000#", 3.0)
    got = finish(r, got, 4.0)  # wrong-pin, then asked again
    assert last_play(got).items == ("vm/enter-password",)
    got = enter(r, "9#", 6.0)
    assert last_play(got).items == ("wrong-pin", "goodbye")
    assert finish(r, got, 7.0) == [HangUp()]


def test_pin_without_hash_is_checked_after_the_interdigit_timeout() -> None:
    r = session([msg(0)])
    r.actions()
    r.prompt_ended(1, 2.0)
    assert r.next_deadline() == 7.0
    enter(r, "1002", 3.0)
    assert r.next_deadline() == 6.0
    r.handle_timer(5.9)
    assert r.actions() == []
    r.handle_timer(6.0)
    assert last_play(r.actions()).items[0] == "vm/you-have"


def test_no_key_at_all_for_the_pin_counts_as_a_wrong_one() -> None:
    r = session([msg(0)])
    r.actions()
    r.prompt_ended(1, 2.0)
    r.handle_timer(7.0)
    assert last_play(r.actions()).items == ("wrong-pin",)


def test_options_repeat_then_goodbye_when_no_key_comes() -> None:
    r = session([msg(0)], pin=None)
    got = finish(r, r.actions(), 1.0)
    got = finish(r, got, 10.0)  # the message ends: options
    got = finish(r, got, 14.0)
    assert got == [] and r.next_deadline() == 24.0
    r.handle_timer(24.0)
    got = r.actions()
    assert last_play(got).items == ("vm/options",)
    got = finish(r, got, 28.0)
    r.handle_timer(38.0)
    assert last_play(r.actions()).items == ("goodbye",)


def test_an_unknown_key_at_the_options_is_invalid_and_the_options_follow() -> None:
    r = session([msg(0)], pin=None)
    got = finish(r, finish(r, r.actions(), 1.0), 10.0)
    got = enter(r, "2", 11.0)
    assert last_play(got).items == ("invalid",)
    assert last_play(finish(r, got, 12.0)).items == ("vm/options",)


def test_an_empty_mailbox_says_so_and_hangs_up() -> None:
    r = session([], pin=None)
    got = r.actions()
    assert last_play(got).items == ("vm/no-messages", "goodbye")
    assert finish(r, got, 1.0) == [HangUp()]


def test_hang_up_anywhere_ends_the_session_quietly() -> None:
    r = session([msg(0)])
    r.actions()
    r.hangup(1.0)
    r.digit("1", 1.1)
    r.handle_timer(100.0)
    assert r.actions() == [] and r.done and r.next_deadline() is None
    assert r.state is RetrievalState.DONE


# -- properties --------------------------------------------------------------------------------

# keys of the menu often, the others (and "#", which ends the session) rarely; prompts end
# often; a hang-up only as the last input (else most runs would end at once)
_OPS = (*(("digit", k) for k in "4567945679*0"), ("digit", "#"), ("digit", "1"),
        *[("end", "")] * 8, ("timer", ""))
_inputs = st.tuples(st.lists(st.sampled_from(_OPS), max_size=80),
                    st.booleans()).map(lambda t: t[0] + ([("hangup", "")] if t[1] else []))
_boxes = st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(_boxes, st.booleans(), _inputs)
def test_the_menu_never_plays_a_deleted_message_and_counts_stay_consistent(
        spec: list[tuple[bool, int]], with_pin: bool,
        inputs: list[tuple[str, str]]) -> None:
    messages = [msg(i, Folder.NEW if new else Folder.SAVED, float(t))
                for i, (new, t) in enumerate(spec)]
    box = Mailbox("1002", messages)
    r = session(box.messages(), pin="12" if with_pin else None)
    deleted: set[str] = set()
    now = 0.0
    playing: int | None = None

    def apply(actions: list[VoicemailAction]) -> None:
        nonlocal playing
        for a in actions:
            if isinstance(a, Play):
                playing = a.play_id
                for item in a.items:
                    assert item.startswith("/data/vm/1002/") or item in SHIPPED, item
                    if item.startswith("/data/vm/1002/"):
                        played = item.rsplit("/", 1)[1].removesuffix(".wav")
                        assert played not in deleted, f"played deleted {played}"
                        assert box.get(played) is not None
            elif isinstance(a, DeleteMessage):
                assert a.message_id not in deleted
                deleted.add(a.message_id)
                assert box.delete(a.message_id)
            elif isinstance(a, SaveMessage):
                m = box.get(a.message_id)
                assert m is not None and m.folder is Folder.NEW
                box.save(a.message_id)

    apply(r.actions())
    for kind, key in [("digit", k) for k in "12#"] + inputs:
        now += 1.0
        if kind == "digit":
            r.digit(key, now)
        elif kind == "end" and playing is not None:
            r.prompt_ended(playing, now)
        elif kind == "timer":
            deadline = r.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                r.handle_timer(now)
        elif kind == "hangup":
            r.hangup(now)
        apply(r.actions())
        new, saved = box.counts()
        assert new + saved == len(messages) - len(deleted)
        assert r.deleted == deleted
    if r.done:
        assert r.next_deadline() is None
