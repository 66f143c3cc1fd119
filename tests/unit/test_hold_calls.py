"""Hold through the signaling core: a re-INVITE with ``sendonly`` from either party of a call is
relayed, and the held party's leg plays music on hold (a looped Play of the MOH file) until a
``sendrecv`` re-INVITE resumes the call."""

from __future__ import annotations

from callworld import Switch, offer
from test_queue_calls import QueueWorld

from ccswitch.acd.events import CallerConnected, CallHeld
from ccswitch.call.commands import Hold
from ccswitch.media.commands import Play, PlayFile, StopPlay
from ccswitch.sip.message import Request, Response

MOH = PlayFile("/p/moh/default.wav")


def reinvite(w: Switch, user: str, other: str, dialog: Request | Response, now: float, *,
             cseq: int, direction: str, version: int, port: int, my_tag: str = "",
             answer_dir: str = "sendrecv") -> None:
    """``user`` re-INVITEs; the switch relays it to ``other``, who answers; ACKs go both
    ways."""
    p, q = w[user], w[other]
    p.send(p.in_dialog("INVITE", dialog, cseq=cseq, my_tag=my_tag,
                       body=offer(port, direction=direction, version=version)), now)
    w.pump()
    relayed = q.take("INVITE")
    q.reply(relayed, 200, "OK", now + 0.1, body=offer(port + 2000, direction=answer_dir,
                                                      version=version + 1))
    w.pump()
    assert q.take("ACK").method == "ACK"
    ok = [r for r in p.responses() if r.cseq.method == "INVITE" and r.cseq.seq == cseq]
    assert ok and ok[-1].status == 200
    p.inbox.clear()
    p.send(p.in_dialog("ACK", dialog, cseq=cseq, my_tag=my_tag), now + 0.2)
    w.pump()


def moh_plays(w: Switch, mark: int = 0) -> list[Play]:
    return [c for c in w.since(mark, Play) if isinstance(c, Play) and c.source == MOH]


def test_the_caller_holding_plays_music_to_the_callee_until_it_resumes() -> None:
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    a_leg, b_leg = w.leg_of(ok), w.leg_of(inv)
    reinvite(w, "1001", "1002", ok, 5.0, cseq=3, direction="sendonly", version=2, port=4000,
             answer_dir="recvonly")
    (moh,) = moh_plays(w)
    assert moh.leg == b_leg and moh.loop
    mark = w.mark()
    reinvite(w, "1001", "1002", ok, 9.0, cseq=4, direction="sendrecv", version=3, port=4000)
    assert StopPlay(b_leg, moh.play_id) in w.since(mark)
    assert moh_plays(w, mark) == []
    assert w.hearing.hears(a_leg) == {b_leg} and w.hearing.hears(b_leg) == {a_leg}


def test_the_callee_holding_plays_music_to_the_caller_until_it_resumes() -> None:
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    a_leg = w.leg_of(ok)
    reinvite(w, "1002", "1001", inv, 5.0, cseq=1, direction="sendonly", version=2,
             port=6000, my_tag="bt", answer_dir="recvonly")
    (moh,) = moh_plays(w)
    assert moh.leg == a_leg and moh.loop
    mark = w.mark()
    reinvite(w, "1002", "1001", inv, 9.0, cseq=2, direction="sendrecv", version=3,
             port=6000, my_tag="bt")
    assert StopPlay(a_leg, moh.play_id) in w.since(mark)


def test_a_second_hold_offer_does_not_start_a_second_music() -> None:
    w = Switch()
    ok, _ = w.call("1001", "1002", 1.0, call_id="c1")
    reinvite(w, "1001", "1002", ok, 5.0, cseq=3, direction="sendonly", version=2, port=4000,
             answer_dir="recvonly")
    reinvite(w, "1001", "1002", ok, 6.0, cseq=4, direction="inactive", version=3, port=4000,
             answer_dir="inactive")
    assert len(moh_plays(w)) == 1
    assert not w.commands(StopPlay)


def test_music_stops_when_the_holding_phone_transfers_the_held_caller() -> None:
    """Phones hold the other party before they send REFER: once the target answers, the
    caller hears the target, not the music any more."""
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    a_leg = w.leg_of(ok)
    reinvite(w, "1002", "1001", inv, 5.0, cseq=1, direction="sendonly", version=2,
             port=6000, my_tag="bt", answer_dir="recvonly")
    (moh,) = moh_plays(w)
    p = w["1002"]
    p.send(p.in_dialog("REFER", inv, cseq=2, my_tag="bt",
                       extra="Refer-To: <sip:1003@ccswitch.local>\n"), 6.0)
    w.pump()
    inv3 = w["1003"].take("INVITE")
    w["1003"].reply(inv3, 200, "OK", 7.0, to_tag="ct", body=offer(6100))
    w.pump()
    t_leg = w.leg_of(inv3)
    assert w.hearing.hears(a_leg) == {t_leg}
    assert StopPlay(a_leg, moh.play_id) in w.commands()


def test_music_stops_when_the_held_caller_is_joined_by_an_attended_transfer() -> None:
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    a_leg = w.leg_of(ok)
    reinvite(w, "1002", "1001", inv, 5.0, cseq=1, direction="sendonly", version=2,
             port=6000, my_tag="bt", answer_dir="recvonly")
    (moh,) = moh_plays(w)
    k_ok, k_inv = w.call("1002", "1003", 6.0, call_id="k1", tag="k3", a_port=4300,
                         b_port=6300)
    rep = f"k1%3Bto-tag%3D{k_ok.to.tag}%3Bfrom-tag%3Dft"
    p = w["1002"]
    p.send(p.in_dialog("REFER", inv, cseq=2, my_tag="bt",
                       extra=f"Refer-To: <sip:1003@ccswitch.local?Replaces={rep}>\n"), 8.0)
    w.pump()
    assert [r.status for r in p.responses() if r.cseq.method == "REFER"] == [202]
    assert w.hearing.hears(a_leg) == {w.leg_of(k_inv)}
    assert StopPlay(a_leg, moh.play_id) in w.commands()


def test_music_the_target_hears_in_the_consultation_stops_when_it_is_transferred() -> None:
    w = Switch()
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1")
    k_ok, k_inv = w.call("1002", "1003", 6.0, call_id="k1", tag="k3", a_port=4300,
                         b_port=6300)
    target_leg = w.leg_of(k_inv)
    reinvite(w, "1002", "1003", k_ok, 7.0, cseq=3, direction="sendonly", version=2,
             port=4300, answer_dir="recvonly")
    (moh,) = moh_plays(w)
    assert moh.leg == target_leg
    rep = f"k1%3Bto-tag%3D{k_ok.to.tag}%3Bfrom-tag%3Dft"
    p = w["1002"]
    p.send(p.in_dialog("REFER", inv, cseq=2, my_tag="bt",
                       extra=f"Refer-To: <sip:1003@ccswitch.local?Replaces={rep}>\n"), 8.0)
    w.pump()
    assert w.hearing.hears(target_leg) == {w.leg_of(ok)}
    assert StopPlay(target_leg, moh.play_id) in w.commands()


def test_a_queue_calls_hold_and_resume_are_queue_events() -> None:
    """The agent's call from queue support is held and resumed by the API's command: two
    ``CallHeld`` events with the call, queue and agent (the reports' hold time); a plain
    phone-to-phone hold (above) gives none."""
    w = QueueWorld()
    w.dial()
    inv = w.invite_to("2001")
    w.agents["2001"].reply(inv, 200, "OK", 3.0, to_tag="ag1", body=offer(6000))
    w.pump()
    (connected,) = [e for e in w.events if isinstance(e, CallerConnected)]
    w.sig.command(Hold(connected.call_id, on=True), 10.0)
    w.sig.command(Hold(connected.call_id, on=False), 25.0)
    w.pump()
    held = [e for e in w.events if isinstance(e, CallHeld)]
    assert held == [CallHeld(10.0, connected.call_id, "support", "2001", True, "command"),
                    CallHeld(25.0, connected.call_id, "support", "2001", False, "command")]
    plain = Switch()
    ok, _ = plain.call("1001", "1002", 1.0, call_id="c1")
    reinvite(plain, "1001", "1002", ok, 5.0, cseq=3, direction="sendonly", version=2,
             port=4000, answer_dir="recvonly")
    assert not [e for e in plain.sig.events() if isinstance(e, CallHeld)]
