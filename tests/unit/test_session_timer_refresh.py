"""Session refreshes (RFC 4028) on the legs of calls, through the signaling core with a fake
clock: a refresh that changes nothing is answered on its own leg and never reaches the other
one; the answers to our own refreshes (2xx ACKed, also when resent; 422 retried; 408/481 end
the call; other failures keep it); a phone's (or a queue agent's) 422 to our INVITE retried
once."""

from __future__ import annotations

import structlog
from callworld import Switch, offer
from sipphone import header
from test_queue_calls import QueueWorld

from ccswitch.acd.events import CallerConnected, OfferFailed
from ccswitch.sip.message import Request, Response

SUP = "Supported: timer\n"
NO_UPDATE = "Allow: INVITE, ACK, BYE, CANCEL\n"


class World(Switch):
    def __init__(self) -> None:
        super().__init__()
        self.carrier = self.add("carrier", 5070, register=False)

    def phone_call(self, se: str = "90;refresher=uac") -> Response:
        """1001 (timers, the refresher named by ``se``) calls 1002 (no timers): answered and
        ACKed; returns 1001's 200."""
        self["1001"].invite("1002", 1.0, call_id="pp-r", body=offer(4000),
                            extra=SUP + f"Session-Expires: {se}\n",
                            phones=list(self.phones.values()))
        self.pump()
        self.answer("1002", 2.0, tag="b1")
        ok = self["1001"].last_response()
        assert ok.status == 200
        self.ack("1001", ok, 2.1, cseq=ok.cseq.seq)
        self["1002"].take("ACK")
        return ok

    def carrier_call(self, se: str, *, allow: str = NO_UPDATE) -> Request:
        """1001 dials out; the carrier answers 200 at 2.0 with ``se`` and ``allow``; returns
        the carrier's INVITE."""
        self.dial("1001", "5550700123", 1.0, call_id="out-r")
        inv = self.carrier.take("INVITE")
        self.carrier.reply(inv, 200, "OK", 2.0, to_tag="c1", body=offer(9000),
                           extra=f"Session-Expires: {se}\nRequire: timer\n{allow}")
        self.pump()
        ok = self["1001"].last_response()
        assert ok.status == 200
        self.ack("1001", ok, 2.1, cseq=ok.cseq.seq)
        self.carrier.take("ACK")
        return inv


def test_an_update_without_a_body_is_answered_on_its_leg_only() -> None:
    w = World()
    w.phone_call()
    ok = w["1001"].last_response()
    with structlog.testing.capture_logs() as logs:
        w["1001"].send(w["1001"].in_dialog("UPDATE", ok, cseq=ok.cseq.seq + 1,
                                           extra=SUP + "Session-Expires: 90;refresher=uac\n"),
                       30.0)
        w.pump()
    r = w["1001"].last_response()
    assert (r.status, header(r, "Session-Expires"), r.body) == (200, "90;refresher=uac", b"")
    assert not w["1002"].requests("UPDATE")
    assert any(e["event"] == "session_refreshed" and e["method"] == "UPDATE" for e in logs)
    w.run_until(89.9)  # 30.0 + 60
    assert not w.ended()
    w.run_until(90.0)
    assert [e.reason for e in w.ended()] == ["session_expired"]


def test_a_reinvite_that_changes_the_sdp_is_relayed_and_its_version_is_then_current() -> None:
    w = World()
    ok = w.phone_call()
    hold = offer(4000, direction="sendonly", version=2)
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 1, body=hold,
                                       extra=SUP + "Session-Expires: 90;refresher=uac\n"), 20.0)
    w.pump()
    relayed = w["1002"].take("INVITE")  # a real change (hold) goes on to the other leg
    assert "Session-Expires" not in relayed.headers
    w["1002"].reply(relayed, 200, "OK", 20.1, body=offer(6000, direction="recvonly"))
    w.pump()
    ok2 = w["1001"].last_response()
    assert (ok2.status, header(ok2, "Session-Expires")) == (200, "90;refresher=uac")
    w["1001"].send(w["1001"].in_dialog("ACK", ok2, cseq=ok2.cseq.seq), 20.2)
    w.pump()
    w["1002"].take("ACK")
    # the same held SDP again (version 2) is now a refresh: answered with our last answer
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 2, body=hold,
                                       extra=SUP + "Session-Expires: 90;refresher=uac\n"), 50.0)
    w.pump()
    ok3 = w["1001"].last_response()
    assert (ok3.status, ok3.body) == (200, ok2.body)
    assert not w["1002"].requests("INVITE")
    # the first SDP (version 1) is a change now: relayed again
    w["1001"].send(w["1001"].in_dialog("INVITE", ok, cseq=ok.cseq.seq + 3,
                                       body=offer(4000),
                                       extra=SUP + "Session-Expires: 90;refresher=uac\n"), 51.0)
    w.pump()
    assert w["1002"].take("INVITE").body


def test_the_callees_refresh_is_answered_here_and_restarts_its_leg_only() -> None:
    """The carrier (our INVITE's UAS) refreshes with a re-INVITE repeating its answer: 200
    with the SDP we offered it; 1001 hears nothing; the carrier's leg expires 60 s later."""
    w = World()
    inv = w.carrier_call("90;refresher=uas")
    reinv = w.carrier.in_dialog("INVITE", inv, cseq=1, body=offer(9000), my_tag="c1",
                                extra=SUP + "Session-Expires: 90;refresher=uac\n")
    w.carrier.send(reinv, 30.0)
    w.pump()
    r = w.carrier.last_response()
    assert (r.status, header(r, "Session-Expires"), header(r, "Require")) == \
        (200, "90;refresher=uac", "timer")
    assert r.body == inv.body  # our SDP on that leg, unchanged
    assert not w["1001"].requests("INVITE")
    w.carrier.send(w.carrier.in_dialog("ACK", inv, cseq=1, my_tag="c1"), 30.1)
    w.pump()
    w.run_until(89.9)  # the old expiry 2.0 + 60 passed; the new one is 30.0 + 60
    assert not w.ended()
    w.run_until(90.0)
    assert [e.reason for e in w.ended()] == ["session_expired"]


def test_our_refresh_reinvite_422_is_retried_its_2xx_acked_even_when_resent() -> None:
    w = World()
    w.carrier_call("90;refresher=uac")  # we refresh, by re-INVITE (no UPDATE allowed)
    w.run_until(47.0)  # 2.0 + 45
    first = w.carrier.take("INVITE")
    assert header(first, "Session-Expires") == "90;refresher=uac"
    w.carrier.reply(first, 422, "Session Interval Too Small", 47.1, extra="Min-SE: 120\n")
    w.pump()
    w.carrier.take("ACK")
    again = w.carrier.take("INVITE")
    assert (header(again, "Session-Expires"), header(again, "Min-SE")) == \
        ("120;refresher=uac", "120")
    assert again.body == first.body and again.cseq.seq == first.cseq.seq + 1
    ok = w.carrier.response(again, 200, "OK", body=offer(9000),
                            extra="Session-Expires: 120;refresher=uac\nRequire: timer\n")
    w.carrier.send(ok, 47.2)
    w.pump()
    assert w.carrier.take("ACK").cseq.seq == again.cseq.seq
    w.carrier.send(ok, 47.7)  # our ACK was lost: the 2xx comes again, ACKed again
    w.pump()
    assert w.carrier.take("ACK").cseq.seq == again.cseq.seq
    w.run_until(107.1)  # the 2xx restarted the timer at 120 s: next refresh 47.2 + 60
    assert not w.carrier.requests("INVITE")
    w.run_until(107.2)
    nxt = w.carrier.take("INVITE")
    assert header(nxt, "Session-Expires") == "120;refresher=uac"
    # a 422 to a later refresh is retried again (one retry per refresh)
    w.carrier.reply(nxt, 422, "Session Interval Too Small", 107.3, extra="Min-SE: 150\n")
    w.pump()
    w.carrier.take("ACK")
    assert header(w.carrier.take("INVITE"), "Min-SE") == "150"
    assert not w.ended()


def test_a_refresh_failing_otherwise_keeps_the_call_but_408_ends_it() -> None:
    w = World()
    w.carrier_call("90;refresher=uac")
    w.run_until(47.0)
    with structlog.testing.capture_logs() as logs:
        w.carrier.reply(w.carrier.take("INVITE"), 500, "Server Internal Error", 47.1)
        w.pump()
    w.carrier.take("ACK")
    assert any(e["event"] == "session_refresh_failed" and e["status"] == 500 for e in logs)
    w.run_until(300.0)
    assert not w.ended() and not w.carrier.requests("BYE")

    w2 = World()
    w2.carrier_call("90;refresher=uac")
    w2.run_until(47.0)
    w2.carrier.reply(w2.carrier.take("INVITE"), 408, "Request Timeout", 47.1)
    w2.pump()
    assert [(e.reason, e.ended_by) for e in w2.ended()] == [("session_expired", "switch")]
    assert w2.carrier.requests("BYE") and w2["1001"].requests("BYE")


def test_a_refresh_crossing_ours_gets_491() -> None:
    w = World()
    inv = w.carrier_call("90;refresher=uac")
    w.run_until(47.0)
    ours = w.carrier.take("INVITE")
    w.carrier.send(w.carrier.in_dialog("INVITE", inv, cseq=1, body=offer(9000), my_tag="c1",
                                       extra=SUP + "Session-Expires: 90;refresher=uas\n"),
                   47.05)
    w.pump()
    assert w.carrier.last_response().status == 491
    w.carrier.reply(ours, 200, "OK", 47.1, body=offer(9000),
                    extra="Session-Expires: 90;refresher=uac\n")
    w.pump()
    assert w.carrier.take("ACK").cseq.seq == ours.cseq.seq
    assert not w.ended()


def test_a_phones_422_is_retried_once_with_its_min_se() -> None:
    w = World()
    w.dial("1001", "1002", 1.0, call_id="ph-422")
    inv = w["1002"].take("INVITE")
    assert header(inv, "Session-Expires") == "1800"
    w["1002"].reply(inv, 422, "Session Interval Too Small", 1.1, to_tag="x1",
                    extra="Min-SE: 3600\n")
    w.pump()
    w["1002"].take("ACK")
    again = w["1002"].take("INVITE")
    assert (header(again, "Session-Expires"), header(again, "Min-SE")) == ("3600", "3600")
    assert (again.call_id, again.cseq.seq) == (inv.call_id, inv.cseq.seq + 1)
    assert again.to.tag is None and again.body == inv.body
    assert header(again, "Supported") == header(inv, "Supported")
    assert not w["1001"].responses(422)  # the caller knows nothing of it
    w["1002"].reply(again, 200, "OK", 1.5, to_tag="x2", body=offer(6000),
                    extra=SUP + "Session-Expires: 3600;refresher=uac\nRequire: timer\n")
    w.pump()
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 1.6, cseq=ok.cseq.seq)
    assert w["1002"].take("ACK").cseq.seq == again.cseq.seq
    w.run_until(1801.4)  # we refresh 1002's leg at 1.5 + 3600/2
    assert not w["1002"].requests("INVITE")
    w.run_until(1801.5)
    assert header(w["1002"].take("INVITE"), "Session-Expires") == "3600;refresher=uac"


def test_a_phones_second_422_fails_the_call() -> None:
    w = World()
    w.dial("1001", "1002", 1.0, call_id="ph-422b")
    w["1002"].reply(w["1002"].take("INVITE"), 422, "Session Interval Too Small", 1.1,
                    to_tag="x1", extra="Min-SE: 3600\n")
    w.pump()
    again = w["1002"].take("INVITE")
    w["1002"].reply(again, 422, "Session Interval Too Small", 1.2, to_tag="x2",
                    extra="Min-SE: 7200\n")
    w.pump()
    assert not w["1002"].requests("INVITE")  # no third INVITE
    final = w["1001"].last_response()
    assert final.status >= 400
    assert w.ended()


def test_an_agents_422_is_retried_and_the_agent_answers_the_retry() -> None:
    """A queue's offer to agent 2001 answered 422: the INVITE is asked again with the 422's
    Min-SE; it still offers the call to that agent (no failed offer), whose 200 bridges it."""
    w = QueueWorld()
    w.dial()
    inv = w.invite_to("2001")
    w.agents["2001"].reply(inv, 422, "Session Interval Too Small", 2.0, to_tag="ag0",
                           extra="Min-SE: 1900\n")
    w.pump()
    w.agents["2001"].take("ACK")
    again = w.invite_to("2001")
    assert (header(again, "Session-Expires"), header(again, "Min-SE")) == ("1900", "1900")
    assert again.cseq.seq == inv.cseq.seq + 1
    assert not [e for e in w.events if isinstance(e, OfferFailed)]
    w.agents["2001"].reply(again, 200, "OK", 3.0, to_tag="ag1", body=offer(6000))
    w.pump()
    connected = [e for e in w.events if isinstance(e, CallerConnected)]
    assert [e.agent for e in connected] == ["2001"]
