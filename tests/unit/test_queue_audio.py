"""What a queue's waiting caller hears, per queue: its music class (one file looped, several
in order or shuffled, each next one when the last ends), its own entry and periodic
announcement prompts, and whether callback is offered (fake clock, real router)."""

from __future__ import annotations

from test_queue_calls import QueueWorld

from ccswitch.acd.events import CallbackRequested
from ccswitch.call.queueing import QueueAudio
from ccswitch.media.commands import Digit, Play, PlayDone, PlayFile

MUSIC = ("/m/a.wav", "/m/b.wav", "/m/c.wav")


def files(w: QueueWorld) -> list[str]:
    return [c.source.path for c in w.cmds if isinstance(c, Play) and isinstance(c.source, PlayFile)]


def last_play(w: QueueWorld) -> Play:
    return [c for c in w.cmds if isinstance(c, Play)][-1]


def busy_world(audio: QueueAudio, *, registered: bool = False) -> QueueWorld:
    """Queue support with ``audio``; its only agent paused, so a caller waits."""
    w = QueueWorld(("2001",))
    w.sig.b2bua.queue_audio = {"support": audio}
    w.sig.b2bua.prompt_path = lambda name: name if name.startswith("/") else f"/p/{name}.wav"
    if registered:
        assert w.a.register(0.05).status == 200
        w.a.inbox.clear()
    agent = w.agents["2001"]
    agent.invite("*23", 0.5, call_id="f-1@127.0.0.1", phones=[agent])
    w.pump()
    w.cmds.clear()  # the agent's feature-code confirmation
    return w


def finish(w: QueueWorld, play: Play, now: float, reason: str = "end") -> None:
    w.sig.media_events([PlayDone(play.leg, play.play_id, reason)], now)  # type: ignore[arg-type]
    w.pump()


def test_a_class_of_several_files_plays_them_in_order_each_after_the_last() -> None:
    w = busy_world(QueueAudio(moh=MUSIC, entry=(), position=False, callback=False))
    w.dial(now=1.0)
    heard = []
    for i in range(5):
        play = last_play(w)
        assert not play.loop  # several files: each plays once, then the next
        heard.append(play.source.path)  # type: ignore[union-attr]
        finish(w, play, 2.0 + i)
    assert heard == [*MUSIC, *MUSIC[:2]]


def test_one_file_loops_and_the_default_is_the_shipped_music() -> None:
    w = busy_world(QueueAudio(moh=("/m/only.mp3",), entry=(), position=False))
    w.dial(now=1.0)
    play = last_play(w)
    assert play.loop and play.source == PlayFile("/m/only.mp3")
    w2 = busy_world(QueueAudio(entry=(), position=False))
    w2.dial(now=1.0)
    assert last_play(w2).source == PlayFile("/p/moh/default.wav") and last_play(w2).loop


def test_a_shuffled_class_plays_every_file_once_per_round_in_a_caller_own_order() -> None:
    many = tuple(f"/m/{i:02d}.wav" for i in range(12))
    w = busy_world(QueueAudio(moh=many, shuffle=True, entry=(), position=False))
    w.dial(now=1.0)
    heard = []
    for i in range(len(many)):
        play = last_play(w)
        heard.append(play.source.path)  # type: ignore[union-attr]
        finish(w, play, 2.0 + i)
    assert sorted(heard) == list(many)
    assert heard != list(many)  # 12! orders: sorted order by chance is 1 in 479 million


def test_files_that_all_fail_leave_silence_instead_of_a_loop() -> None:
    w = busy_world(QueueAudio(moh=MUSIC, entry=(), position=False))
    w.dial(now=1.0)
    for i in range(3):
        finish(w, last_play(w), 2.0 + i, "error")
    count = len(files(w))
    finish(w, last_play(w), 6.0, "error")
    assert len(files(w)) == count == 3


def test_own_entry_prompt_and_periodic_prompts_in_turn_without_position() -> None:
    audio = QueueAudio(moh=("/m/music.wav",), entry=("/site/welcome-de.wav",),
                       periodic=("/site/p1.wav", "/site/p2.wav"), position=False,
                       callback=False)
    w = busy_world(audio)
    w.dial(now=1.0)
    assert files(w) == ["/m/music.wav", "/site/welcome-de.wav"]  # entry: only its prompt
    finish(w, last_play(w), 3.0)
    assert files(w)[-1] == "/m/music.wav"
    said = []
    for k in range(3):  # the queue's announce_interval is 30 s (demo)
        w.at(1.0 + 30.0 * (k + 1) + 0.01)
        said.append(files(w)[-1])
        finish(w, last_play(w), 1.0 + 30.0 * (k + 1) + 1)
        assert files(w)[-1] == "/m/music.wav"
    assert said == ["/site/p1.wav", "/site/p2.wav", "/site/p1.wav"]


def test_periodic_prompts_follow_the_position_when_both_are_on() -> None:
    w = busy_world(QueueAudio(moh=("/m/music.wav",), periodic=("/site/p1.wav",),
                              callback=False))
    w.dial(now=1.0)
    entry = files(w)[1:]
    assert entry[0] == "/p/please-hold.wav" and "/site/p1.wav" not in entry
    while last_play(w).source != PlayFile("/m/music.wav"):
        finish(w, last_play(w), 2.0)
    before = len(files(w))
    w.at(31.01)
    play = last_play(w)
    while play.source != PlayFile("/m/music.wav"):
        finish(w, play, 32.0)
        play = last_play(w)
    said = files(w)[before:-1]
    assert said[0] == "/p/you-are-caller.wav" and said[-1] == "/site/p1.wav", said


def test_a_queue_without_callback_neither_offers_it_nor_takes_key_1() -> None:
    w = busy_world(QueueAudio(callback=False), registered=True)
    w.dial(now=1.0)
    moh = next(c for c in w.cmds if isinstance(c, Play))
    for _ in range(12):
        finish(w, last_play(w), 2.0)
    assert not any(p.endswith("callback-offer.wav") for p in files(w)), files(w)
    w.sig.media_events([Digit(moh.leg, "1", "rfc4733")], 5.0)
    w.pump()
    assert not [e for e in w.events if isinstance(e, CallbackRequested)]
    # the same caller in a queue that offers it hears the offer
    w2 = busy_world(QueueAudio(), registered=True)
    w2.dial(now=1.0)
    for _ in range(12):
        finish(w2, last_play(w2), 2.0)
    assert any(p.endswith("callback-offer.wav") for p in files(w2)), files(w2)


def test_music_starts_with_the_first_file_after_the_entry_announcement() -> None:
    w = busy_world(QueueAudio(moh=MUSIC, callback=False, position=False))
    w.dial(now=1.0)
    assert files(w) == ["/m/a.wav", "/p/please-hold.wav"]
    finish(w, last_play(w), 2.0)
    assert files(w)[-1] == "/m/a.wav"
    w.at(31.01)  # a periodic announcement (none to say here) leaves the music alone
    assert files(w)[-1] == "/m/a.wav"
    finish(w, last_play(w), 32.0)
    assert files(w)[-1] == "/m/b.wav"


def test_music_cut_by_a_periodic_announcement_comes_back_with_the_next_file() -> None:
    w = busy_world(QueueAudio(moh=MUSIC, entry=(), periodic=("/site/p.wav",), position=False,
                              callback=False))
    w.dial(now=1.0)
    assert files(w) == ["/m/a.wav"]
    w.at(31.01)
    assert files(w)[-1] == "/site/p.wav"
    finish(w, last_play(w), 32.0)
    assert files(w) == ["/m/a.wav", "/site/p.wav", "/m/b.wav"]
