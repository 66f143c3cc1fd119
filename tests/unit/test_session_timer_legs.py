"""Session timers (RFC 4028) of legs that leave their call, of bodies relayed on a leg and of
refreshes crossing a relayed offer, through the signaling core with a fake clock: a
transferor's timer never ends the transferred call; only the SDP offer of a relayed re-INVITE
answered 2xx becomes the SDP of our refreshes; a refresh crossing a relayed re-INVITE is 491;
our refreshes are forgotten 64*T1 after their answer and when their leg leaves the call."""

from __future__ import annotations

from callworld import Switch, offer
from test_session_timer_refresh import SUP, World
from test_transfer_calls import bye, notifies, refer

from ccswitch.sip.message import Request


def blind_transfer(w: Switch, se: str) -> Request:
    """1001 calls 1002, which answers with ``Session-Expires: se`` and blind-transfers the
    call to 1003 at 5.0 (answered at 6.0); returns 1002's INVITE."""
    w["1001"].invite("1002", 1.0, call_id="c1", body=offer(4000),
                     phones=list(w.phones.values()))
    w.pump()
    inv = w["1002"].take("INVITE")
    w["1002"].reply(inv, 200, "OK", 2.0, to_tag="bt", body=offer(6000),
                    extra=f"Require: timer\nSession-Expires: {se}\n")
    w.pump()
    ok = w["1001"].last_response()
    w["1001"].send(w["1001"].in_dialog("ACK", ok, cseq=ok.cseq.seq), 2.1)
    w.pump()
    w["1002"].take("ACK")
    return inv


def transfer_to_1003(w: Switch, inv: Request, now: float) -> None:
    assert refer(w, "1002", inv, now, cseq=1, my_tag="bt",
                 extra="Referred-By: <sip:1002@ccswitch.local>\n").status == 202
    inv3 = w["1003"].take("INVITE")
    w["1003"].reply(inv3, 200, "OK", now + 1.0, to_tag="ct", body=offer(6100))
    w.pump()
    w["1003"].take("ACK")
    notifies(w, "1002", now + 1.1)


def test_the_transferors_session_timer_does_not_end_the_transferred_call() -> None:
    """1002 (the refresher of its leg) transfers and hangs up: its leg's timer (expiry at
    2.0 + 60) is gone with it; caller and target talk on."""
    w = Switch()
    inv = blind_transfer(w, "90;refresher=uas")
    transfer_to_1003(w, inv, 5.0)
    assert bye(w, "1002", inv, 7.0, cseq=2, my_tag="bt").status == 200
    w.run_until(300.0)
    assert w.ended() == []
    assert not w["1001"].requests("BYE") and not w["1003"].requests("BYE")


def test_a_transferor_whose_timer_expires_in_its_grace_is_let_go_alone() -> None:
    """The transferor stays on the line and its leg's timer expires before the grace ends:
    only the transferor gets a BYE; the transferred call goes on."""
    w = Switch()
    inv = blind_transfer(w, "90;refresher=uas")
    transfer_to_1003(w, inv, 60.0)  # expiry: 2.0 + 60 = 62.0, grace still running
    w.run_until(62.5)
    assert w["1002"].requests("BYE")
    w.run_until(300.0)
    assert w.ended() == []
    assert not w["1001"].requests("BYE") and not w["1003"].requests("BYE")


def test_our_refresh_of_a_leg_that_leaves_the_call_is_forgotten() -> None:
    """We refresh 1002's leg (answered at 47.1); 1002 transfers and hangs up at 50: the
    refresh is forgotten at once (not when the call ends), and no refresh goes to 1002."""
    w = Switch()
    inv = blind_transfer(w, "90;refresher=uac")
    w.run_until(47.0)  # 2.0 + 45
    refresh = w["1002"].take("INVITE")
    w["1002"].reply(refresh, 200, "OK", 47.1, body=offer(6000),
                    extra="Require: timer\nSession-Expires: 90;refresher=uac\n")
    w.pump()
    w["1002"].take("ACK")
    assert len(w.sig.b2bua.refreshes) == 1
    transfer_to_1003(w, inv, 48.0)
    assert bye(w, "1002", inv, 50.0, cseq=2, my_tag="bt").status == 200
    assert w.sig.b2bua.refreshes == {}
    w.run_until(300.0)
    assert not w["1002"].requests("INVITE")
    assert w.ended() == [] and w.sig.b2bua.refreshes == {}


def test_our_answered_refresh_is_forgotten_64_t1_after_its_answer() -> None:
    w = World()
    w.carrier_call("90;refresher=uac")  # we refresh, by re-INVITE
    w.run_until(47.0)
    refresh = w.carrier.take("INVITE")
    ok = w.carrier.response(refresh, 200, "OK", body=offer(9000),
                            extra="Require: timer\nSession-Expires: 90;refresher=uac\n")
    w.carrier.send(ok, 47.1)
    w.pump()
    w.carrier.take("ACK")
    w.carrier.send(ok, 48.0)  # resent within 64*T1: ACKed again
    w.pump()
    assert w.carrier.take("ACK")
    assert len(w.sig.b2bua.refreshes) == 1
    w.run_until(47.1 + 64 * 0.5)
    assert w.sig.b2bua.refreshes == {}
    assert not w.ended()


def test_a_relayed_message_body_is_not_the_sdp_of_our_refresh() -> None:
    w = World()
    inv = w.carrier_call("90;refresher=uac")  # we refresh by re-INVITE
    ok = w["1001"].last_response()
    w["1001"].send(w["1001"].in_dialog("MESSAGE", ok, cseq=ok.cseq.seq + 1,
                                       body="hello there",
                                       extra="Content-Type: text/plain\n"), 10.0)
    w.pump()
    msg = w.carrier.take("MESSAGE")
    assert msg.body == b"hello there"
    w.carrier.reply(msg, 200, "OK", 10.1)
    w.pump()
    w.run_until(47.0)
    refresh = w.carrier.take("INVITE")
    assert refresh.body == inv.body
    assert refresh.headers.get("content-type") == "application/sdp"


def test_a_relayed_offer_refused_is_not_the_sdp_of_our_refresh() -> None:
    """1001 puts the call on hold; the carrier refuses (488): our next refresh repeats the
    SDP the carrier accepted, not the refused offer."""
    w = World()
    inv = w.carrier_call("90;refresher=uac")
    ok = w["1001"].last_response()
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 1,
                                       body=offer(4000, direction="sendonly", version=2)),
                   10.0)
    w.pump()
    hold = w.carrier.take("INVITE")
    assert hold.body != inv.body
    w.carrier.reply(hold, 488, "Not Acceptable Here", 10.1)
    w.pump()
    assert w["1001"].last_response().status == 488
    w.run_until(47.0)
    refresh = w.carrier.take("INVITE")
    assert refresh.body == inv.body


def test_a_relayed_offer_answered_2xx_is_the_sdp_of_our_refresh() -> None:
    w = World()
    w.carrier_call("90;refresher=uac")
    ok = w["1001"].last_response()
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 1,
                                       body=offer(4000, direction="sendonly", version=2)),
                   10.0)
    w.pump()
    hold = w.carrier.take("INVITE")
    w.carrier.reply(hold, 200, "OK", 10.1, body=offer(9000, direction="recvonly"),
                    extra="Require: timer\nSession-Expires: 90;refresher=uac\n")
    w.pump()
    w.carrier.take("ACK")
    ok2 = w["1001"].last_response()
    w.ack("1001", ok2, 10.2, cseq=ok2.cseq.seq)
    w.run_until(55.1)  # 10.1 + 45
    assert w.carrier.take("INVITE").body == hold.body


def test_a_refresh_crossing_a_relayed_reinvite_is_491() -> None:
    """1002 re-INVITEs (hold), relayed to 1001, which refreshes (SDP unchanged) before it
    answers: 491 (RFC 3261 §14.2); once the hold is answered, its refresh is 200."""
    w = World()
    w["1001"].invite("1002", 1.0, call_id="pp-g", body=offer(4000),
                     extra=SUP + "Session-Expires: 90;refresher=uac\n",
                     phones=list(w.phones.values()))
    w.pump()
    inv_b = w.answer("1002", 2.0, tag="b1")
    ok = w["1001"].last_response()
    w.ack("1001", ok, 2.1, cseq=ok.cseq.seq)
    w["1002"].take("ACK")
    w["1002"].send(w["1002"].in_dialog("INVITE", inv_b, cseq=1, my_tag="b1",
                                       body=offer(6000, direction="sendonly", version=2)), 10.0)
    w.pump()
    relayed = w["1001"].take("INVITE")
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 1, body=offer(4000),
                                       extra=SUP + "Session-Expires: 90;refresher=uac\n"), 10.1)
    w.pump()
    r = w["1001"].last_response()
    assert (r.status, r.headers.get("retry-after")) == (491, "2")
    w["1001"].reply(relayed, 200, "OK", 10.2, body=offer(4000, direction="recvonly",
                                                          version=2))
    w.pump()
    w["1002"].send(w["1002"].in_dialog("ACK", w["1002"].last_response(), cseq=1,
                                       my_tag="b1"), 10.3)
    w.pump()
    w["1001"].take("ACK")
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 2,
                                       body=offer(4000, direction="recvonly", version=2),
                                       extra=SUP + "Session-Expires: 90;refresher=uac\n"), 12.0)
    w.pump()
    assert w["1001"].last_response().status == 200
    assert not w["1002"].requests("INVITE")
