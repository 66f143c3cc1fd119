"""Session timers on the legs of calls, through the signaling core with a scripted carrier
(the demo's trunk ``carrier`` on 5070: session_timers "supported", 1800 s, Min-SE 90) and a
fake clock."""

from __future__ import annotations

import structlog
from callworld import Switch, offer
from sipphone import header

from ccswitch.sip.message import Request, Response

SUP = "Supported: timer\n"


class World(Switch):
    def __init__(self) -> None:
        super().__init__()
        self.carrier = self.add("carrier", 5070, register=False)

    def from_carrier(self, did: str, now: float, extra: str, *, call_id: str = "st-1",
                     allow: bool = False) -> Response:
        if allow:
            extra += "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\n"
        text = self.carrier.request("INVITE", f"sip:{did}@127.0.0.1:5060", call_id=call_id,
                                    cseq=1, to=f"<sip:{did}@127.0.0.1>", extra=extra,
                                    body=offer(8000))
        self.carrier.send(text, now)
        self.pump()
        return self.carrier.last_response()

    def ack(self, user: str, ok: Response, now: float, cseq: int = 1) -> None:
        super().ack(user, ok, now, cseq)


def byes(w: World) -> list[Request]:
    return w.carrier.requests("BYE")


def test_we_are_refreshee_and_end_the_call_when_no_refresh_comes() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 90;refresher=uac\n"
                        "Min-SE: 90\n")
    assert ok.status == 200
    assert header(ok, "Session-Expires") == "90;refresher=uac"
    assert header(ok, "Require") == "timer"
    w.ack("carrier", ok, 1.1)
    # expiry: the 2xx at 1.0 + 90 - min(32, 90/3 = 30) = 61.0
    w.run_until(60.9)
    assert not byes(w)
    with structlog.testing.capture_logs() as logs:
        w.run_until(61.0)
    assert len(byes(w)) == 1
    ended = w.ended()
    assert [(e.status, e.reason, e.ended_by) for e in ended] == [(408, "session_expired",
                                                                   "switch")]
    assert any(e["event"] == "session_expired" and e["interval"] == 90 for e in logs)


def test_a_refresh_from_the_carrier_restarts_its_timer() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 90;refresher=uac\n")
    w.ack("carrier", ok, 1.1)
    w.run_until(45.0)
    reinv = w.carrier.in_dialog("INVITE", ok, cseq=2, body=offer(8000),
                                extra=SUP + "Session-Expires: 90;refresher=uac\n")
    w.carrier.send(reinv, 45.0)
    w.pump()
    ok2 = w.carrier.last_response()
    assert (ok2.status, header(ok2, "Session-Expires")) == (200, "90;refresher=uac")
    w.carrier.send(w.carrier.in_dialog("ACK", ok2, cseq=2), 45.1)
    w.pump()
    # the old expiry (61.0) passes; the new one is 45.0 + 60 = 105.0
    w.run_until(104.9)
    assert not byes(w) and not w.ended()
    w.run_until(105.0)
    assert len(byes(w)) == 1
    assert w.ended()[0].reason == "session_expired"


def test_a_refresh_asking_too_little_is_422_and_the_call_stays() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 90;refresher=uac\n")
    w.ack("carrier", ok, 1.1)
    upd = w.carrier.in_dialog("UPDATE", ok, cseq=2, extra=SUP + "Session-Expires: 30\n")
    w.carrier.send(upd, 10.0)
    w.pump()
    r = w.carrier.last_response()
    assert (r.status, header(r, "Min-SE")) == (422, "90")
    assert not w.ended()


def test_an_interval_below_min_se_is_422_and_no_call_starts() -> None:
    w = World()
    r = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 60\n")
    assert (r.status, header(r, "Min-SE")) == (422, "90")
    assert not w.sig.b2bua._calls and not w.sig.b2bua.timer_offers


def test_an_unreadable_session_expires_is_400() -> None:
    w = World()
    assert w.from_carrier("5550700", 1.0, "Session-Expires: soon\n").status == 400


def test_we_refresh_with_the_same_sdp_when_the_peer_cannot() -> None:
    """Session-Expires without Supported: timer (a proxy inserted it): we are the refresher
    and send a re-INVITE (no UPDATE in the carrier's Allow) with our SDP unchanged."""
    w = World()
    ok = w.from_carrier("5550700", 1.0, "Session-Expires: 120\n")
    assert header(ok, "Session-Expires") == "120;refresher=uas"
    assert "Require" not in ok.headers
    w.ack("carrier", ok, 1.1)
    w.run_until(60.9)  # refresh at 1.0 + 120/2 = 61.0
    assert not w.carrier.requests("INVITE")
    w.run_until(61.0)
    reinv = w.carrier.take("INVITE")
    assert reinv.body == ok.body  # the same o= line and version: no change of session
    assert header(reinv, "Session-Expires") == "120;refresher=uac"
    w.carrier.reply(reinv, 200, "OK", 61.2, body=offer(8000),
                    extra="Session-Expires: 120;refresher=uac\n")
    w.pump()
    assert w.carrier.take("ACK").cseq.seq == reinv.cseq.seq
    w.run_until(121.1)  # next refresh: 61.2 + 60 = 121.2
    assert not w.carrier.requests("INVITE")
    w.run_until(121.2)
    assert w.carrier.take("INVITE").method == "INVITE"
    assert not w.ended()


def test_we_refresh_with_update_when_the_peer_allows_it() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 90;refresher=uas\n",
                        allow=True)
    assert header(ok, "Session-Expires") == "90;refresher=uas"
    w.ack("carrier", ok, 1.1)
    w.run_until(46.0)  # 1.0 + 90/2
    upd = w.carrier.take("UPDATE")
    assert not upd.body
    assert header(upd, "Session-Expires") == "90;refresher=uac"
    # the carrier does not answer: the transaction times out (64*T1 = 32 s) and the call ends
    w.run_until(46.0 + 32.0 + 1)
    assert [(e.reason, e.ended_by) for e in w.ended()] == [("session_expired", "switch")]


def test_a_refresh_answered_481_ends_the_call() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, SUP + "Session-Expires: 90;refresher=uas\n",
                        allow=True)
    w.ack("carrier", ok, 1.1)
    w.run_until(46.0)
    w.carrier.reply(w.carrier.take("UPDATE"), 481, "Call/Transaction Does Not Exist", 46.1)
    w.pump()
    assert w.ended() and w.ended()[0].reason == "session_expired"


def test_a_phone_without_timer_support_gets_no_timer() -> None:
    w = World()
    ok = w.from_carrier("5550700", 1.0, "")
    assert "Session-Expires" not in ok.headers
    w.ack("carrier", ok, 1.1)
    w.run_until(4000.0)
    assert not byes(w)


def test_our_outbound_invite_offers_a_timer_and_retries_a_422() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-st")
    inv = w.carrier.take("INVITE")
    assert header(inv, "Session-Expires") == "1800"
    assert header(inv, "Min-SE") == "90"
    assert "timer" in header(inv, "Supported")
    w.carrier.reply(inv, 422, "Session Interval Too Small", 1.2, to_tag="c1",
                    extra="Min-SE: 3600\n")
    w.pump()
    w.carrier.take("ACK")
    inv2 = w.carrier.take("INVITE")
    assert (header(inv2, "Session-Expires"), header(inv2, "Min-SE")) == ("3600", "3600")
    assert inv2.cseq.seq == inv.cseq.seq + 1 and inv2.call_id == inv.call_id
    w.carrier.reply(inv2, 200, "OK", 2.0, to_tag="c2", body=offer(9000),
                    extra="Session-Expires: 3600;refresher=uac\nRequire: timer\n"
                          "Allow: INVITE, ACK, BYE, UPDATE\n")
    w.pump()
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 2.1, cseq=ok.cseq.seq)
    w.carrier.take("ACK")
    w.run_until(1801.9)  # we refresh at 2.0 + 3600/2 = 1802.0
    assert not w.carrier.requests("UPDATE")
    w.run_until(1802.0)
    upd = w.carrier.take("UPDATE")
    assert header(upd, "Session-Expires") == "3600;refresher=uac"


def test_a_second_422_is_not_retried() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-st2")
    inv = w.carrier.take("INVITE")
    w.carrier.reply(inv, 422, "Session Interval Too Small", 1.2, to_tag="c1",
                    extra="Min-SE: 3600\n")
    w.pump()
    inv2 = w.carrier.take("INVITE")
    w.carrier.reply(inv2, 422, "Session Interval Too Small", 1.4, to_tag="c2",
                    extra="Min-SE: 7200\n")
    w.pump()
    assert len(w.carrier.requests("INVITE")) == 0  # not a third INVITE on carrier
    assert w.ended()


def test_each_leg_of_a_phone_call_has_its_own_timer() -> None:
    """1001 supports timers and asks 90 s; 1002 does not: the caller's leg runs 90 s (1001
    refreshes), 1002's leg none; 1001's refresh (the same SDP) is answered by the switch and
    restarts only 1001's timer: 1002 sees nothing of it."""
    w = World()
    w["1001"].invite("1002", 1.0, call_id="pp-1", body=offer(4000),
                     extra=SUP + "Session-Expires: 90;refresher=uac\n",
                     phones=list(w.phones.values()))
    w.pump()
    inv = w.answer("1002", 2.0, tag="b1")
    assert header(inv, "Session-Expires") == "1800"  # what we ask 1002 for on our own leg
    ok = w["1001"].last_response()
    assert (ok.status, header(ok, "Session-Expires")) == (200, "90;refresher=uac")
    Switch.ack(w, "1001", ok, 2.1)
    w["1002"].take("ACK")
    w.run_until(46.0)
    reinv = w["1001"].in_dialog("INVITE", ok, cseq=3, body=offer(4000),
                                extra=SUP + "Session-Expires: 90;refresher=uac\n")
    w["1001"].send(reinv, 46.0)
    w.pump()
    assert not w["1002"].requests("INVITE")  # answered here: 1002's leg is not disturbed
    ok2 = w["1001"].last_response()
    assert (ok2.status, header(ok2, "Session-Expires")) == (200, "90;refresher=uac")
    assert ok2.body == ok.body  # our SDP on 1001's leg, unchanged (same o= version)
    w["1001"].send(w["1001"].in_dialog("ACK", ok2, cseq=3), 46.2)
    w.pump()
    # 1001's refresh at 46.0 moved its leg's expiry to 46.0 + 60 = 106.0; 1002 has none
    w.run_until(105.9)
    assert not w.ended()
    assert not w["1002"].requests("INVITE")
    w.run_until(106.0)
    assert [e.reason for e in w.ended()] == ["session_expired"]
    assert w["1001"].requests("BYE") and w["1002"].requests("BYE")
