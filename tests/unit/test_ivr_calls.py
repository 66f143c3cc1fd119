"""IVR calls through the signaling core: the switch answers 700, plays the demo menu's
prompts on the caller's leg, hears digits from the media worker, and hands the call to the
echo test or rings the queue's agents and bridges the one who answers."""

from __future__ import annotations

from sipphone import Phone, deliver
from test_anchor import MEDIA_IP, World, media_of, offer

from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    Detect,
    Digit,
    Play,
    PlayDone,
    PlayFile,
    StopPlay,
)
from ccswitch.sip.message import Response


class IvrWorld(World):
    def __init__(self) -> None:
        super().__init__(ports=(30000, 30019))
        self.sig.b2bua.prompt_path = lambda name: f"/prompts/{name}.wav"
        self.commands_seen: list[object] = []

    def dial_700(self) -> Response:
        self.a.invite("700", 1.0, call_id="ivr-1@127.0.0.1", body=offer(4000))
        ok = self.a.last_response()
        assert ok.status == 200
        self.a.send(self.a.in_dialog("ACK", ok, cseq=2), 1.05)
        self.flush()
        return ok

    def take(self) -> list[object]:
        got = self.commands()
        self.commands_seen += got
        return got

    def plays(self, cmds: list[object]) -> list[Play]:
        return [c for c in cmds if isinstance(c, Play)]

    def finish(self, play: Play, now: float) -> None:
        self.sig.media_events([PlayDone(play.leg, play.play_id, "end")], now)
        self.flush()


def test_700_answers_and_plays_the_greeting_then_the_menu_while_listening_for_digits() -> None:
    w = IvrWorld()
    ok = w.dial_700()
    assert media_of(ok)[0] == MEDIA_IP
    cmds = w.take()
    (create,) = [c for c in cmds if isinstance(c, CreateLeg)]
    assert Detect(create.leg, inband=True) in cmds
    (greeting,) = w.plays(cmds)
    assert greeting.source == PlayFile("/prompts/welcome.wav") and greeting.leg == create.leg
    w.finish(greeting, 3.0)
    (menu,) = w.plays(w.take())
    assert menu.source == PlayFile("/prompts/main-menu.wav")


def test_digit_9_turns_the_call_into_the_echo_test() -> None:
    w = IvrWorld()
    w.dial_700()
    (greeting,) = w.plays(w.take())
    w.sig.media_events([Digit(greeting.leg, "9", "rfc4733")], 2.0)  # barge-in on the greeting
    w.flush()
    cmds = w.take()
    assert StopPlay(greeting.leg, greeting.play_id) in cmds
    assert Connect(greeting.leg, greeting.leg) in cmds


def test_no_digit_repeats_the_menu_once_then_queues_for_support() -> None:
    w = IvrWorld()
    agent = Phone(w.sig, "2001", 7101)
    assert agent.register(0.5).status == 200
    agent.inbox.clear()
    w.dial_700()
    (greeting,) = w.plays(w.take())
    w.finish(greeting, 2.0)
    (menu1,) = w.plays(w.take())
    w.finish(menu1, 4.0)
    w.sig.handle_timer(9.1)  # 5 s after the menu ended
    w.flush()
    (menu2,) = w.plays(w.take())
    assert menu2.source == PlayFile("/prompts/main-menu.wav")
    w.finish(menu2, 11.0)
    w.sig.handle_timer(16.1)
    deliver_to = [w.a, w.b, agent]
    deliver(w.sig, deliver_to)
    inv = agent.take("INVITE")
    assert media_of(inv)[0] == MEDIA_IP
    cmds = w.take()
    moh = [p for p in w.plays(cmds) if p.source == PlayFile("/prompts/moh/default.wav")]
    assert len(moh) == 1 and moh[0].loop  # the caller waits with music, the agent rings
    agent.reply(inv, 200, "OK", 17.0, to_tag="ag", body=offer(6000))
    deliver(w.sig, deliver_to)
    assert agent.take("ACK").cseq.method == "ACK"
    cmds = w.take()
    conf = [c for c in cmds if isinstance(c, ConfigureLeg)]
    assert conf and conf[-1].remote_port == 6000
    a_leg = moh[0].leg
    b_leg = conf[-1].leg
    assert Connect(a_leg, b_leg) in cmds and Connect(b_leg, a_leg) in cmds
    assert StopPlay(a_leg, moh[0].play_id) in cmds
