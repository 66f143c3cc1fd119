"""Regressions found by the call state machine (tests/property/test_call_machine.py),
minimised to plain wire-level tests."""

from __future__ import annotations

from callworld import Switch, offer
from test_transfer_calls import refer

from ccswitch.media.commands import Connect, DestroyLeg


def test_a_refer_while_a_relayed_reinvite_is_unanswered_is_491_and_the_reinvite_completes() \
        -> None:
    """1001 holds 1002 (its re-INVITE is relayed); before 1002 has answered it, 1002 sends
    REFER.  Taking 1002 out of the call then (side b gone) sent the ACK of 1002's 200 to 1001
    and left 1002's 2xx un-ACKed, and the answer was applied to the new target's leg (later
    connected after it was destroyed).  The REFER waits: 491, the re-INVITE completes."""
    w = Switch(("1001", "1002", "1003"))
    ok, inv = w.call("1001", "1002", 1.0, call_id="c1", tag="bt")
    a, b = w["1001"], w["1002"]
    a.send(a.in_dialog("INVITE", ok, cseq=3, body=offer(4000, direction="sendonly",
                                                          version=2)), 2.0)
    w.pump()
    reinv = b.take("INVITE")
    assert refer(w, "1002", inv, 2.5, cseq=1, my_tag="bt").status == 491
    assert w["1003"].requests("INVITE") == []
    b.reply(reinv, 200, "OK", 3.0, body=offer(6000, direction="recvonly", version=2))
    w.pump()
    assert [r.cseq.seq for r in b.requests("ACK")] == [reinv.cseq.seq]
    assert a.requests("ACK") == []
    assert a.last_response().status == 200 and a.last_response().cseq.method == "INVITE"
    # now the transfer goes ahead
    a.send(a.in_dialog("ACK", a.last_response(), cseq=3), 3.1)
    w.pump()
    assert refer(w, "1002", inv, 4.0, cseq=2, my_tag="bt").status == 202
    assert w["1003"].take("INVITE").method == "INVITE"
    destroyed = {c.leg for c in w.commands(DestroyLeg) if isinstance(c, DestroyLeg)}
    assert not [c for c in w.commands(Connect) if isinstance(c, Connect)
                and (c.src in destroyed or c.sink in destroyed)]


def test_a_late_2xx_to_a_relayed_reinvite_after_the_call_ended_is_acked() -> None:
    w = Switch(("1001", "1002"))
    ok, _ = w.call("1001", "1002", 1.0, call_id="c1", tag="bt")
    a, b = w["1001"], w["1002"]
    a.send(a.in_dialog("INVITE", ok, cseq=3, body=offer(4000, direction="sendonly",
                                                          version=2)), 2.0)
    w.pump()
    reinv = b.take("INVITE")
    a.send(a.in_dialog("BYE", ok, cseq=4), 3.0)
    w.pump()
    b.take("BYE")
    b.reply(reinv, 200, "OK", 3.1, body=offer(6000, direction="recvonly", version=2))
    w.pump()
    assert [r for r in b.requests("ACK") if r.cseq.seq == reinv.cseq.seq]


def test_an_agent_whose_call_was_transferred_to_a_queue_is_nobody_to_supervise() -> None:
    w = Switch(("1001", "1020", "2001", "2002"))
    _, inv = w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
    p = w["2001"]
    p.send(p.in_dialog("REFER", inv, cseq=1, my_tag="ag",
                       extra="Refer-To: <sip:800@ccswitch.local>\n"), 2.0)
    w.pump()
    w.dial("1020", "*322001", 3.0, call_id="s1", port=4900)
    assert w["1020"].last_response().status == 200
    assert w.plays_of("nobody-to-supervise")


def test_a_relayed_reinvite_nobody_answers_ends_the_call() -> None:
    w = Switch(("1001", "1002"))
    ok, _ = w.call("1001", "1002", 1.0, call_id="c1", tag="bt")
    a, b = w["1001"], w["1002"]
    a.send(a.in_dialog("INVITE", ok, cseq=3, body=offer(4000, direction="sendonly",
                                                          version=2)), 2.0)
    w.pump()
    w.run_until(40.0)  # 1002 never answers: Timer B (64*T1) fires
    assert 408 in a.statuses()
    assert a.requests("BYE") and b.requests("BYE")
    (cdr,) = w.ended()
    assert cdr.status == 408
