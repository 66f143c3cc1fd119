"""B2BUA call flows through ``Signaling`` with scripted phones and a fake clock.

Every test drives raw SIP text in and asserts on the messages that come out: their method or
status, headers, bodies and destinations.
"""

from __future__ import annotations

import dataclasses

import pytest
from sipphone import Msg, Phone, deliver, header, make_signaling, sdp

from ccswitch.call.events import CallAnswered, CallEnded, CallStarted
from ccswitch.call.signaling import Signaling
from ccswitch.sip.addr import Address
from ccswitch.sip.message import Request, Response

SDP_A = sdp(4000)
SDP_B = sdp(6000)
CALL = "call-1@127.0.0.1"
T1, T2 = 0.5, 4.0


def wire(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


class World:
    """A switch, caller ``a`` (1001) and ``n`` registered contacts of callee 1002."""

    def __init__(self, n: int = 1, *, transport: str = "udp") -> None:
        self.sig: Signaling = make_signaling(tcp=True)
        tcp = transport == "tcp"
        self.a = Phone(self.sig, "1001", 7001, transport=transport, conn=9 if tcp else None)
        self.bs = [Phone(self.sig, "1002", 7002 + i, transport=transport,
                         conn=20 + i if tcp else None) for i in range(n)]
        for b in self.bs:
            assert b.register(0.0).status == 200
            b.inbox.clear()
        self.sig.events()
        self.phones = [self.a, *self.bs]
        self.log: list[tuple[float, Msg, Address]] = []
        self.invite_text = ""

    @property
    def b(self) -> Phone:
        return self.bs[0]

    def flush(self, now: float) -> list[tuple[Msg, Address]]:
        sent = deliver(self.sig, self.phones)
        self.log += [(now, m, d) for m, d in sent]
        return sent

    def call(self, now: float = 1.0, body: str = SDP_A, extra: str = "") -> list[Request]:
        """A calls 1002 (through the 407 challenge); returns the INVITE each contact got."""
        self.invite_text = self.a.invite("1002", now, call_id=CALL, body=body, extra=extra,
                                         phones=self.bs)
        assert self.a.statuses() == [100]
        self.a.inbox.clear()
        return [b.take("INVITE") for b in self.bs]

    def run_until(self, t: float) -> list[tuple[float, Msg, Address]]:
        """Fire every deadline up to ``t`` in order, delivering as we go."""
        out: list[tuple[float, Msg, Address]] = []
        while (d := self.sig.next_deadline()) is not None and d <= t:
            self.sig.handle_timer(d)
            out += [(d, m, dest) for m, dest in self.flush(d)]
        self.sig.handle_timer(t)
        out += [(t, m, dest) for m, dest in self.flush(t)]
        return out

    def answered(self, now: float = 2.0) -> tuple[Request, Response]:
        """Call, ring and answer on the first contact, A ACKs: returns (B's INVITE, A's 200)."""
        invs = self.call(now - 1.0)
        inv = invs[0]
        self.b.reply(inv, 180, "Ringing", now - 0.5, to_tag="bt0")
        self.b.reply(inv, 200, "OK", now, to_tag="bt0", body=SDP_B)
        self.flush(now)
        ok = self.a.responses(200)[-1]
        self.a.send(self.a.in_dialog("ACK", ok, cseq=2), now + 0.01)
        self.flush(now + 0.01)
        assert self.b.take("ACK").cseq.seq == 1
        for p in self.phones:
            p.inbox.clear()
        return inv, ok


def events_of(sig: Signaling, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in sig.events() if isinstance(e, kind)]


def status_line(msg: Msg) -> tuple[int, str]:
    assert isinstance(msg, Response), msg
    return msg.status, msg.cseq.method


# -- forking and answering -----------------------------------------------------------------

def test_the_configured_display_name_is_the_caller_id() -> None:
    (inv,) = World().call(1.0)
    assert inv.from_.display == "Phone 1001"  # configs/demo.toml: display = "Phone {user}"


def test_no_display_name_when_neither_the_user_nor_the_phone_has_one() -> None:
    w = World()
    w.sig.config = dataclasses.replace(w.sig.config, users={
        n: dataclasses.replace(u, display=None) for n, u in w.sig.config.users.items()})
    (inv,) = w.call(1.0)
    assert inv.from_.display is None


def test_invite_forks_to_every_contact() -> None:
    w = World(2)
    invs = w.call(1.0)
    for b, inv in zip(w.bs, invs, strict=True):
        assert inv.uri_text == f"sip:1002@127.0.0.1:{b.addr.port}"
        assert inv.body == wire(SDP_A) and inv.content_type == "application/sdp"
        assert inv.from_.uri.user == "1001" and inv.from_.tag
        assert inv.to.uri.user == "1002" and inv.to.tag is None
        assert inv.max_forwards == 69
        assert inv.cseq.seq == 1 and inv.top_via.branch
        assert header(inv, "Contact").startswith("<sip:127.0.0.1:5060")
    assert invs[0].call_id != invs[1].call_id and invs[0].call_id != CALL
    assert [type(e) for e in w.sig.events()] == [CallStarted]


def test_first_200_wins_and_the_other_branch_is_cancelled() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    b1, b2 = w.bs
    b1.reply(inv1, 180, "Ringing", 1.1, to_tag="t1")
    b2.reply(inv2, 180, "Ringing", 1.2, to_tag="t2")
    w.flush(1.2)
    r1, r2 = w.a.responses()
    assert (r1.status, r2.status) == (180, 180)
    a_tag = r1.to.tag
    assert a_tag and r2.to.tag == a_tag and r1.call_id == CALL
    w.a.inbox.clear()

    b1.reply(inv1, 200, "OK", 2.0, to_tag="t1", body=SDP_B)
    sent = w.flush(2.0)
    ok = w.a.last_response()
    assert status_line(ok) == (200, "INVITE")
    assert ok.to.tag == a_tag and ok.body == wire(SDP_B)
    assert ok.content_type == "application/sdp"
    assert header(ok, "Contact") == "<sip:127.0.0.1:5060>"
    ack = b1.take("ACK")
    assert ack.cseq.seq == 1 and ack.to.tag == "t1" and ack.call_id == inv1.call_id
    assert ack.uri_text == f"sip:1002@127.0.0.1:{b1.addr.port}"
    assert ack.top_via.branch != inv1.top_via.branch  # the ACK for a 2xx is a new transaction
    cancel = b2.take("CANCEL")
    assert cancel.cseq.seq == 1 and cancel.top_via.branch == inv2.top_via.branch
    assert cancel.uri_text == inv2.uri_text and cancel.to.tag is None
    assert [(m.method if isinstance(m, Request) else m.status, d) for m, d in sent] == [
        ("ACK", b1.addr), ("CANCEL", b2.addr), (200, w.a.addr)]
    assert [type(e) for e in w.sig.events()] == [CallStarted, CallAnswered]

    b2.reply(cancel, 200, "OK", 2.1)
    b2.reply(inv2, 487, "Request Terminated", 2.1, to_tag="t2")
    w.flush(2.1)
    ack487 = b2.take("ACK")  # from the transaction layer
    assert ack487.top_via.branch == inv2.top_via.branch and ack487.to.tag == "t2"
    assert b2.inbox == [] and w.a.inbox == [ok]

    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.2)
    w.flush(2.2)
    assert b1.inbox == [] and b2.inbox == []  # A's ACK is absorbed: B was ACKed at once
    assert len(w.sig.b2bua) == 1


def test_late_200_from_the_second_fork_is_acked_and_hung_up() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    b1, b2 = w.bs
    b2.reply(inv2, 180, "Ringing", 1.1, to_tag="t2")
    b1.reply(inv1, 200, "OK", 2.0, to_tag="t1", body=SDP_B)
    w.flush(2.0)
    cancel = b2.take("CANCEL")
    b2.reply(cancel, 200, "OK", 2.05)
    b2.reply(inv2, 200, "OK", 2.1, to_tag="t2", body=sdp(6100))
    w.flush(2.1)
    ack = b2.take("ACK")
    bye = b2.take("BYE")
    assert ack.cseq.seq == 1 and ack.to.tag == "t2"
    assert bye.cseq.seq == 2 and bye.to.tag == "t2" and bye.call_id == inv2.call_id
    assert bye.from_.tag == inv2.from_.tag
    assert [r.status for r in w.a.responses()] == [180, 200]  # A saw one answer only
    assert w.a.last_response().body == wire(SDP_B)
    b2.reply(bye, 200, "OK", 2.2)
    b2.reply(inv2, 200, "OK", 2.3, to_tag="t2", body=sdp(6100))  # a retransmission
    w.flush(2.3)
    assert "BYE" not in b2.methods()
    assert len(w.sig.b2bua) == 1


def test_180_and_183_with_sdp_are_relayed_with_one_to_tag() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 180, "Ringing", 1.1, to_tag="bt")
    w.b.reply(inv, 183, "Session Progress", 1.2, to_tag="bt", body=SDP_B)
    w.b.reply(inv, 200, "OK", 1.5, to_tag="bt", body=SDP_B)
    w.flush(1.5)
    r180, r183, r200 = w.a.responses()
    assert [r.status for r in (r180, r183, r200)] == [180, 183, 200]
    assert r180.body == b"" and r180.content_type is None
    assert r183.body == wire(SDP_B) and r183.content_type == "application/sdp"
    assert r200.body == wire(SDP_B)
    assert r180.to.tag and r180.to.tag == r183.to.tag == r200.to.tag
    assert all(r.call_id == CALL and r.cseq.seq == 2 for r in (r180, r183, r200))
    assert all(r.from_.tag == "ft" for r in (r180, r183, r200))
    assert w.b.take("ACK").cseq.method == "ACK"


# -- CANCEL from the caller ----------------------------------------------------------------

def test_caller_cancel_before_answer() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    b1, b2 = w.bs
    b1.reply(inv1, 180, "Ringing", 1.1, to_tag="t1")
    b2.reply(inv2, 180, "Ringing", 1.1, to_tag="t2")
    w.flush(1.1)
    w.a.inbox.clear()
    a_branch = w.a.last_branch
    w.a.send(w.a.request("CANCEL", "sip:1002@127.0.0.1", call_id=CALL, cseq=2,
                         to="<sip:1002@ccswitch.local>", branch=a_branch, contact=None), 2.0)
    w.flush(2.0)
    got = sorted(status_line(m) for m in w.a.responses())
    assert got == [(200, "CANCEL"), (487, "INVITE")]
    r487 = w.a.responses(487)[0]
    assert r487.to.tag and r487.top_via.branch == a_branch
    c1, c2 = b1.take("CANCEL"), b2.take("CANCEL")
    assert c1.top_via.branch == inv1.top_via.branch and c2.top_via.branch == inv2.top_via.branch
    ended = events_of(w.sig, CallEnded)
    assert [(e.status, e.ended_by, e.answered) for e in ended] == [(487, "caller", None)]
    assert len(w.sig.b2bua) == 0
    # A's ACK for the 487 is absorbed by the INVITE server transaction
    w.a.inbox.clear()
    w.a.send(w.a.request("ACK", "sip:1002@127.0.0.1", call_id=CALL, cseq=2,
                         to=header(r487, "To"), branch=a_branch, contact=None), 2.1)
    for b, inv, cancel, tag in ((b1, inv1, c1, "t1"), (b2, inv2, c2, "t2")):
        b.reply(cancel, 200, "OK", 2.1)
        b.reply(inv, 487, "Request Terminated", 2.1, to_tag=tag)
    w.flush(2.1)
    assert w.a.inbox == []
    assert b1.take("ACK").top_via.branch == inv1.top_via.branch
    assert b2.take("ACK").top_via.branch == inv2.top_via.branch
    assert w.sig.counters["stray_acks"] == 0


def test_cancel_waits_for_a_provisional_and_a_racing_200_is_hung_up() -> None:
    w = World(1)
    (inv,) = w.call(1.0)  # the contact has not answered anything yet
    w.a.send(w.a.request("CANCEL", "sip:1002@127.0.0.1", call_id=CALL, cseq=2,
                         to="<sip:1002@ccswitch.local>", branch=w.a.last_branch,
                         contact=None), 1.2)
    w.flush(1.2)
    assert sorted(r.status for r in w.a.responses()) == [200, 487]
    assert w.b.inbox == []  # RFC 3261 §9.1: no CANCEL before a provisional
    w.b.reply(inv, 180, "Ringing", 1.3, to_tag="bt")
    w.flush(1.3)
    assert w.b.take("CANCEL").top_via.branch == inv.top_via.branch
    assert w.a.responses(180) == []  # the call is over: nothing more to A
    # the callee answered before it saw the CANCEL: the switch must ACK and BYE it
    w.b.reply(inv, 200, "OK", 1.4, to_tag="bt", body=SDP_B)
    w.flush(1.4)
    ack, bye = w.b.take("ACK"), w.b.take("BYE")
    assert ack.cseq.seq == 1 and ack.to.tag == "bt"
    assert bye.cseq.seq == 2 and bye.to.tag == "bt" and bye.call_id == inv.call_id
    assert [status_line(r) for r in w.a.responses()] == [(200, "CANCEL"), (487, "INVITE")]


# -- BYE -----------------------------------------------------------------------------------

def test_bye_from_caller() -> None:
    w = World(1)
    inv, ok = w.answered()
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 10.0)
    w.flush(10.0)
    assert status_line(w.a.last_response()) == (200, "BYE")
    bye = w.b.take("BYE")
    assert bye.call_id == inv.call_id and bye.to.tag == "bt0"
    assert bye.from_.tag == inv.from_.tag and bye.cseq.seq == 2
    assert bye.uri_text == "sip:1002@127.0.0.1:7002"
    assert len(w.sig.b2bua) == 0
    (ended,) = events_of(w.sig, CallEnded)
    assert (ended.status, ended.ended_by, ended.answered) == (200, "caller", 2.0)
    assert ended.ended == 10.0 and ended.caller == "1001" and ended.callee == "1002"
    w.b.reply(bye, 200, "OK", 10.1)
    w.flush(10.1)
    # anything more on the dead dialog is 481
    w.a.inbox.clear()
    w.a.send(w.a.in_dialog("INFO", ok, cseq=4), 11.0)
    w.flush(11.0)
    assert w.a.last_response().status == 481


def test_bye_from_callee() -> None:
    w = World(1)
    inv, ok = w.answered()
    w.b.send(w.b.in_dialog("BYE", inv, cseq=1, my_tag="bt0"), 10.0)
    w.flush(10.0)
    assert status_line(w.b.last_response()) == (200, "BYE")
    bye = w.a.take("BYE")
    assert bye.call_id == CALL and bye.from_.tag == ok.to.tag and bye.to.tag == "ft"
    assert bye.uri_text == "sip:1001@127.0.0.1:7001" and bye.cseq.seq == 1
    assert len(w.sig.b2bua) == 0
    (ended,) = events_of(w.sig, CallEnded)
    assert (ended.status, ended.ended_by) == (200, "callee")


# -- failures ------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "reason"), [(486, "Busy Here"), (603, "Decline"),
                                                (404, "Not Found")])
def test_failure_from_the_only_contact_is_relayed(status: int, reason: str) -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, status, reason, 1.5, to_tag="bt")
    w.flush(1.5)
    assert w.b.take("ACK").top_via.branch == inv.top_via.branch
    (final,) = w.a.responses()
    assert (final.status, final.reason) == (status, reason) and final.to.tag
    assert len(w.sig.b2bua) == 0
    (ended,) = events_of(w.sig, CallEnded)
    assert (ended.status, ended.ended_by) == (status, "callee")


@pytest.mark.parametrize(("first", "second", "want"), [
    (486, 480, 486), (480, 486, 486), (404, 486, 486), (500, 404, 404), (404, 500, 404),
    (503, 503, 480), (408, 404, 404), (404, 408, 404), (408, 408, 480)
])
def test_all_contacts_fail_best_answer_wins(first: int, second: int, want: int) -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    w.bs[0].reply(inv1, first, "Nope", 1.5, to_tag="t1")
    w.flush(1.5)
    assert w.a.inbox == []  # one contact still ringing: wait
    w.bs[1].reply(inv2, second, "Nope", 1.6, to_tag="t2")
    w.flush(1.6)
    (final,) = w.a.responses()
    assert final.status == want
    assert len(w.sig.b2bua) == 0


def test_6xx_ends_the_search_at_once() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    w.bs[1].reply(inv2, 180, "Ringing", 1.1, to_tag="t2")
    w.bs[0].reply(inv1, 603, "Decline", 1.5, to_tag="t1")
    w.flush(1.5)
    assert w.a.statuses() == [180, 603]
    assert w.bs[1].take("CANCEL").top_via.branch == inv2.top_via.branch


def test_branch_timeout_timer_b_is_480() -> None:
    w = World(1)
    (_inv,) = w.call(1.0)
    out = w.run_until(1.0 + 64 * T1 - 0.01)
    retx = [t for t, m, d in out if isinstance(m, Request) and m.method == "INVITE"]
    assert [round(t - 1.0, 3) for t in retx] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # Timer A
    assert w.a.inbox == []
    w.run_until(1.0 + 64 * T1)
    (final,) = w.a.responses()
    assert (final.status, final.reason) == (480, "Temporarily Unavailable")
    assert len(w.sig.b2bua) == 0
    (ended,) = events_of(w.sig, CallEnded)
    assert ended.status == 480


def test_ring_timeout_cancels_and_answers_480() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    for b, inv, tag in zip(w.bs, (inv1, inv2), ("t1", "t2"), strict=True):
        b.reply(inv, 180, "Ringing", 1.1, to_tag=tag)
    w.flush(1.1)
    w.a.inbox.clear()
    w.run_until(1.0 + 119.9)
    assert w.a.inbox == [] and all(b.inbox == [] for b in w.bs)
    w.run_until(1.0 + 120.0)
    (final,) = w.a.responses()
    assert final.status == 480
    assert w.bs[0].take("CANCEL").top_via.branch == inv1.top_via.branch
    assert w.bs[1].take("CANCEL").top_via.branch == inv2.top_via.branch
    (ended,) = events_of(w.sig, CallEnded)
    assert (ended.status, ended.ended_by) == (480, "switch")


# -- in-dialog requests --------------------------------------------------------------------

def test_reinvite_hold_from_caller_is_relayed_both_ways() -> None:
    w = World(1)
    inv, ok = w.answered()
    hold = sdp(4000, direction="sendonly", version=2)
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=hold), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    assert re.body == wire(hold) and re.content_type == "application/sdp"
    assert re.call_id == inv.call_id and re.to.tag == "bt0" and re.from_.tag == inv.from_.tag
    assert re.cseq.seq == 2 and re.uri_text == "sip:1002@127.0.0.1:7002"
    assert w.a.statuses() == [100]
    w.b.reply(re, 200, "OK", 5.1, body=sdp(6000, direction="recvonly", version=2))
    w.flush(5.1)
    ack_b = w.b.take("ACK")
    assert ack_b.cseq.seq == 2 and ack_b.to.tag == "bt0"
    r200 = w.a.last_response()
    assert status_line(r200) == (200, "INVITE") and r200.cseq.seq == 3
    assert b"a=recvonly" in r200.body and r200.content_type == "application/sdp"
    assert r200.to.tag == ok.to.tag and header(r200, "Contact") == "<sip:127.0.0.1:5060>"
    w.a.send(w.a.in_dialog("ACK", ok, cseq=3), 5.2)
    w.flush(5.2)
    assert w.b.inbox == []  # B was ACKed by the switch already
    assert w.sig.counters["stray_acks"] == 0


def test_reinvite_hold_from_callee_is_relayed_both_ways() -> None:
    w = World(1)
    inv, ok = w.answered()
    hold = sdp(6000, direction="sendonly", version=2)
    w.b.send(w.b.in_dialog("INVITE", inv, cseq=1, body=hold, my_tag="bt0"), 5.0)
    w.flush(5.0)
    re = w.a.take("INVITE")
    assert re.body == wire(hold) and re.call_id == CALL
    assert re.from_.tag == ok.to.tag and re.to.tag == "ft" and re.cseq.seq == 1
    assert re.uri_text == "sip:1001@127.0.0.1:7001"
    w.a.reply(re, 200, "OK", 5.1, body=sdp(4000, direction="recvonly", version=2))
    w.flush(5.1)
    ack_a = w.a.take("ACK")
    assert ack_a.cseq.seq == 1 and ack_a.from_.tag == ok.to.tag
    r200 = w.b.last_response()
    assert status_line(r200) == (200, "INVITE") and b"a=recvonly" in r200.body
    w.b.send(w.b.in_dialog("ACK", inv, cseq=1, my_tag="bt0"), 5.2)
    w.flush(5.2)
    assert w.a.inbox == [] and w.sig.counters["stray_acks"] == 0


def test_reinvite_rejected_by_the_other_side_is_relayed() -> None:
    w = World(1)
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    w.b.reply(re, 488, "Not Acceptable Here", 5.1)
    w.flush(5.1)
    assert w.b.take("ACK").top_via.branch == re.top_via.branch  # transaction-layer ACK
    assert w.a.last_response().status == 488
    assert len(w.sig.b2bua) == 1  # the call goes on


@pytest.mark.parametrize(("method", "ctype", "body"), [
    ("UPDATE", "application/sdp", sdp(4000, version=3)),
    ("INFO", "application/dtmf-relay", "Signal=5\nDuration=160\n"),
])
def test_update_and_info_are_relayed(method: str, ctype: str, body: str) -> None:
    w = World(1)
    inv, ok = w.answered()
    w.a.send(w.a.in_dialog(method, ok, cseq=3, body=body,
                           extra=f"Content-Type: {ctype}\n"), 5.0)
    w.flush(5.0)
    out = w.b.take(method)
    assert out.body == wire(body) and out.content_type == ctype
    assert out.to.tag == "bt0" and out.call_id == inv.call_id and out.cseq.seq == 2
    w.b.reply(out, 200, "OK", 5.1, body=sdp(6000, version=3) if method == "UPDATE" else "")
    w.flush(5.1)
    resp = w.a.last_response()
    assert status_line(resp) == (200, method) and resp.cseq.seq == 3
    if method == "UPDATE":
        assert resp.body == wire(sdp(6000, version=3))
    # and the other way round, from the callee
    w.b.send(w.b.in_dialog(method, inv, cseq=1, body=body, my_tag="bt0",
                           extra=f"Content-Type: {ctype}\n"), 6.0)
    w.flush(6.0)
    back = w.a.take(method)
    assert back.body == wire(body) and back.call_id == CALL and back.to.tag == "ft"
    w.a.reply(back, 200, "OK", 6.1)
    w.flush(6.1)
    assert status_line(w.b.last_response()) == (200, method)


def test_in_dialog_request_with_unknown_tags_is_481() -> None:
    w = World(1)
    w.answered()
    w.a.send(w.a.request("INFO", "sip:127.0.0.1:5060", call_id=CALL, cseq=9,
                         to="<sip:1002@ccswitch.local>;tag=nosuchtag"), 5.0)
    w.a.send(w.a.request("BYE", "sip:127.0.0.1:5060", call_id="other", cseq=9,
                         to="<sip:1002@ccswitch.local>;tag=x"), 5.0)
    w.flush(5.0)
    assert [(r.status, r.cseq.method) for r in w.a.responses()] == [(481, "INFO"),
                                                                    (481, "BYE")]
    assert w.b.inbox == [] and len(w.sig.b2bua) == 1


def test_out_of_order_cseq_in_dialog_is_500() -> None:
    w = World(1)
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INFO", ok, cseq=5), 5.0)
    w.flush(5.0)
    w.b.reply(w.b.take("INFO"), 200, "OK", 5.0)
    w.flush(5.0)
    w.a.inbox.clear()
    for cseq in (5, 4):
        w.a.send(w.a.in_dialog("INFO", ok, cseq=cseq), 5.1)
    w.flush(5.1)
    assert [r.status for r in w.a.responses()] == [500, 500]
    assert w.b.inbox == []


# -- delayed offer -------------------------------------------------------------------------

def test_delayed_offer_ack_carries_the_answer_to_the_callee() -> None:
    w = World(1)
    (inv,) = w.call(1.0, body="")
    assert inv.body == b"" and inv.content_type is None
    w.b.reply(inv, 200, "OK", 2.0, to_tag="bt", body=SDP_B)  # the offer
    w.flush(2.0)
    ok = w.a.last_response()
    assert ok.status == 200 and ok.body == wire(SDP_B)
    assert w.b.inbox == []  # B's ACK waits for A's answer
    w.b.reply(inv, 200, "OK", 2.5, to_tag="bt", body=SDP_B)  # retransmitted: still no ACK
    w.flush(2.5)
    assert w.b.inbox == []
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2, body=SDP_A), 3.0)
    w.flush(3.0)
    ack = w.b.take("ACK")
    assert ack.body == wire(SDP_A) and ack.content_type == "application/sdp"
    assert ack.cseq.seq == 1 and ack.to.tag == "bt"
    w.run_until(10.0)
    assert w.a.responses(200) == [ok]  # A's ACK stopped the 2xx retransmissions


# -- 2xx retransmission and ACK timeout ------------------------------------------------------

def test_2xx_retransmitted_until_ack() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 200, "OK", 2.0, to_tag="bt", body=SDP_B)
    w.flush(2.0)
    ok = w.a.last_response()
    out = w.run_until(2.0 + 3.6)
    times = [round(t - 2.0, 3) for t, m, d in out if d == w.a.addr]
    assert times == [T1, 3 * T1, 7 * T1]
    assert all(m.to_bytes() == ok.to_bytes() for _, m, d in out if d == w.a.addr)
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 6.0)
    w.flush(6.0)
    out = w.run_until(40.0)
    assert [m for _, m, d in out if d == w.a.addr] == []
    assert len(w.sig.b2bua) == 1


def test_no_ack_after_64_t1_tears_the_call_down() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 200, "OK", 2.0, to_tag="bt", body=SDP_B)
    w.flush(2.0)
    w.b.take("ACK")
    w.a.inbox.clear()
    out = w.run_until(2.0 + 64 * T1 - 0.01)
    times = [t - 2.0 for t, m, d in out if d == w.a.addr]
    gaps = [round(b - a, 3) for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:4] == [T1, 2 * T1, 4 * T1, T2] and set(gaps[3:]) == {T2}  # doubling to T2
    assert all(isinstance(m, Response) and m.status == 200 for _, m, d in out)
    assert len(w.sig.b2bua) == 1
    w.run_until(2.0 + 64 * T1)
    bye_a, bye_b = w.a.take("BYE"), w.b.take("BYE")
    assert bye_a.call_id == CALL and bye_b.call_id == inv.call_id and bye_b.to.tag == "bt"
    assert len(w.sig.b2bua) == 0
    ended = events_of(w.sig, CallEnded)
    assert [(e.status, e.ended_by) for e in ended] == [(408, "switch")]


def test_no_ack_over_tcp_also_tears_down_without_retransmitting() -> None:
    w = World(1, transport="tcp")
    (inv,) = w.call(1.0)
    w.b.reply(inv, 200, "OK", 2.0, to_tag="bt", body=SDP_B)
    w.flush(2.0)
    w.b.take("ACK")
    w.a.inbox.clear()
    w.run_until(2.0 + 64 * T1 - 0.01)
    assert w.a.inbox == []  # no retransmissions on a reliable transport
    w.run_until(2.0 + 64 * T1)
    assert w.a.take("BYE").call_id == CALL and w.b.take("BYE").call_id == inv.call_id
    assert len(w.sig.b2bua) == 0


# -- shutdown ------------------------------------------------------------------------------

def test_shutdown_byes_answered_calls_and_480s_ringing_ones() -> None:
    w = World(1)
    inv, _ok = w.answered()
    c = Phone(w.sig, "1003", 7010)
    d = Phone(w.sig, "1004", 7011)
    assert d.register(3.0).status == 200
    w.phones += [c, d]
    c.invite("1004", 4.0, call_id="call-2", body=SDP_A, phones=[d])
    inv2 = d.take("INVITE")
    d.reply(inv2, 180, "Ringing", 4.1, to_tag="dt")
    w.flush(4.1)
    assert len(w.sig.b2bua) == 2
    w.sig.events()
    w.sig.shutdown(5.0)
    w.flush(5.0)
    assert w.a.take("BYE").call_id == CALL
    assert w.b.take("BYE").call_id == inv.call_id
    assert c.last_response().status == 480
    assert d.take("CANCEL").top_via.branch == inv2.top_via.branch
    assert len(w.sig.b2bua) == 0
    ended = sorted((e.status, e.ended_by) for e in events_of(w.sig, CallEnded))
    assert ended == [(200, "switch"), (480, "switch")]


# -- requests the switch answers itself -----------------------------------------------------

def test_require_unknown_extension_is_420_with_unsupported() -> None:
    # 100rel and path are supported: only the unknown tag is named in Unsupported
    w = World(1)
    w.a.send(w.a.request("INVITE", "sip:1002@127.0.0.1", call_id="x", cseq=1,
                         to="<sip:1002@ccswitch.local>",
                         extra="Require: 100rel, x-unknown-ext, path\n", body=SDP_A), 1.0)
    w.flush(1.0)
    resp = w.a.last_response()
    assert (resp.status, header(resp, "Unsupported")) == (420, "x-unknown-ext")
    assert w.b.inbox == []


def test_max_forwards_zero_is_483() -> None:
    w = World(1)
    text = w.a.request("INVITE", "sip:1002@127.0.0.1", call_id="x", cseq=1,
                       to="<sip:1002@ccswitch.local>", body=SDP_A)
    w.a.send(text.replace("Max-Forwards: 70", "Max-Forwards: 0"), 1.0)
    w.flush(1.0)
    assert w.a.last_response().status == 483 and w.b.inbox == []


@pytest.mark.parametrize(("method", "status"), [("OPTIONS", 200), ("PUBLISH", 405),
                                                ("FOO", 501)])
def test_methods_answered_by_the_switch(method: str, status: int) -> None:
    w = World(1)
    w.a.send(w.a.request(method, "sip:127.0.0.1:5060", call_id="m", cseq=1,
                         to="<sip:127.0.0.1>", extra="Event: presence\n"), 1.0)
    w.flush(1.0)
    (resp,) = w.a.responses()
    assert status_line(resp) == (status, method) and resp.to.tag
    if status != 501:
        allow = {m.strip() for m in header(resp, "Allow").split(",")}
        assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"} <= allow
        assert method not in allow or method == "OPTIONS"
    assert w.b.inbox == []


def test_subscribe_to_another_event_package_is_489_with_allow_events() -> None:
    w = World(1)
    w.a.send(w.a.request("SUBSCRIBE", "sip:127.0.0.1:5060", call_id="m", cseq=1,
                         to="<sip:127.0.0.1>", extra="Event: presence\n"), 1.0)
    w.flush(1.0)
    (resp,) = w.a.responses()
    assert status_line(resp) == (489, "SUBSCRIBE")
    assert header(resp, "Allow-Events") == "message-summary, refer"


# -- TCP -----------------------------------------------------------------------------------

def test_tcp_answers_go_back_on_the_same_connection() -> None:
    w = World(1, transport="tcp")
    (inv,) = w.call(1.0)
    assert inv.top_via.transport == "TCP"
    assert header(inv, "Contact") == "<sip:127.0.0.1:5060;transport=tcp>"
    w.b.reply(inv, 180, "Ringing", 1.1, to_tag="bt")
    w.b.reply(inv, 200, "OK", 1.2, to_tag="bt", body=SDP_B)
    sent = w.flush(1.2)
    dests = {(type(m).__name__, d) for m, d in sent}
    assert dests == {("Response", Address("tcp", "127.0.0.1", 7001, 9)),
                     ("Request", Address("tcp", "127.0.0.1", 7002, 20))}
    ok = w.a.last_response()
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 1.3)
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 2.0)
    sent = w.flush(2.0)
    assert [(status_line(m) if isinstance(m, Response) else m.method, d) for m, d in sent] == [
        ((200, "BYE"), Address("tcp", "127.0.0.1", 7001, 9)),
        ("BYE", Address("tcp", "127.0.0.1", 7002, 20))]
    assert all(d.transport == "tcp" for _, _, d in w.log)
    assert w.sig.outbox() == []


# -- corner cases that once broke ----------------------------------------------------------

def test_bye_from_a_losing_fork_does_not_end_the_call() -> None:
    w = World(2)
    inv1, inv2 = w.call(1.0)
    b1, b2 = w.bs
    b2.reply(inv2, 180, "Ringing", 1.1, to_tag="t2")
    b1.reply(inv1, 200, "OK", 2.0, to_tag="t1", body=SDP_B)
    b2.reply(inv2, 200, "OK", 2.0, to_tag="t2", body=sdp(6100))
    w.flush(2.0)
    assert "BYE" in b2.methods()
    ok = w.a.responses(200)[0]
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    b2.inbox.clear()
    b1.inbox.clear()
    # the losing fork hangs up its own dialog (crossing our BYE)
    b2.send(b2.in_dialog("BYE", inv2, cseq=1, my_tag="t2"), 2.2)
    w.flush(2.2)
    assert b2.last_response().status == 481
    assert w.a.requests() == [] and b1.inbox == []
    assert len(w.sig.b2bua) == 1
    # the real call still works
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 3.0)
    w.flush(3.0)
    assert b1.take("BYE").call_id == inv1.call_id


def test_caller_bye_on_the_early_dialog_cancels_the_branches() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 180, "Ringing", 1.1, to_tag="bt")
    w.flush(1.1)
    r180 = w.a.last_response()
    w.a.inbox.clear()
    w.a.send(w.a.in_dialog("BYE", r180, cseq=3), 2.0)
    w.flush(2.0)
    assert sorted(status_line(r) for r in w.a.responses()) == [(200, "BYE"), (487, "INVITE")]
    assert w.b.take("CANCEL").top_via.branch == inv.top_via.branch
    assert len(w.sig.b2bua) == 0
    (ended,) = events_of(w.sig, CallEnded)
    assert (ended.status, ended.ended_by) == (487, "caller")


@pytest.mark.parametrize("from_caller", [True, False])
def test_reinvite_without_sdp_carries_the_answer_in_the_ack(from_caller: bool) -> None:
    w = World(1)
    inv, ok = w.answered()
    src, dst = (w.a, w.b) if from_caller else (w.b, w.a)

    def dialog_req(p: Phone, method: str, cseq: int, body: str = "") -> str:
        if p is w.a:
            return p.in_dialog(method, ok, cseq=cseq, body=body)
        return p.in_dialog(method, inv, cseq=cseq, body=body, my_tag="bt0")

    src.send(dialog_req(src, "INVITE", 3), 5.0)
    w.flush(5.0)
    re = dst.take("INVITE")
    assert re.body == b""
    offer = sdp(dst.addr.port, version=2)
    dst.reply(re, 200, "OK", 5.1, body=offer)
    w.flush(5.1)
    assert dst.inbox == []  # its ACK waits for the answer
    r200 = src.last_response()
    assert status_line(r200) == (200, "INVITE") and r200.body == wire(offer)
    answer = sdp(src.addr.port, version=2)
    src.send(dialog_req(src, "ACK", 3, body=answer), 5.2)
    w.flush(5.2)
    ack = dst.take("ACK")
    assert ack.body == wire(answer) and ack.cseq.seq == re.cseq.seq
    assert ack.content_type == "application/sdp"


def test_reinvite_2xx_retransmission_is_acked_again() -> None:
    w = World(1)
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    for t in (5.1, 5.6):  # the 200 and its retransmission (our first ACK was lost)
        w.b.reply(re, 200, "OK", t, body=SDP_B)
        w.flush(t)
        ack = w.b.take("ACK")
        assert ack.cseq.seq == re.cseq.seq and ack.to.tag == "bt0"
    assert [r.status for r in w.a.responses(200)] == [200]  # relayed once


def test_bye_while_a_relayed_request_is_pending_answers_it() -> None:
    w = World(1)
    inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    w.b.take("INVITE")
    w.a.inbox.clear()
    w.b.send(w.b.in_dialog("BYE", inv, cseq=1, my_tag="bt0"), 5.5)
    w.flush(5.5)
    assert w.a.take("BYE").call_id == CALL
    assert [status_line(r) for r in w.a.responses()] == [(487, "INVITE")]
    assert len(w.sig.b2bua) == 0


def test_invite_retransmission_is_not_a_second_call() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 180, "Ringing", 1.1, to_tag="bt")
    w.flush(1.1)
    w.a.send(w.invite_text, 1.2)  # the same INVITE again (same branch)
    w.flush(1.2)
    assert w.a.statuses() == [180, 180]
    assert w.b.inbox == [] and len(w.sig.b2bua) == 1


def test_cancel_after_the_answer_changes_nothing() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 200, "OK", 2.0, to_tag="bt", body=SDP_B)
    w.flush(2.0)
    w.b.take("ACK")
    w.a.inbox.clear()
    w.a.send(w.a.request("CANCEL", "sip:1002@127.0.0.1", call_id=CALL, cseq=2,
                         to="<sip:1002@ccswitch.local>", branch=w.a.last_branch,
                         contact=None), 2.1)
    w.a.send(w.a.request("CANCEL", "sip:1002@127.0.0.1", call_id="nope", cseq=1,
                         to="<sip:1002@ccswitch.local>", contact=None), 2.1)
    w.flush(2.1)
    assert [status_line(r) for r in w.a.responses()] == [(200, "CANCEL"), (481, "CANCEL")]
    assert w.b.inbox == [] and len(w.sig.b2bua) == 1


# -- overload ---------------------------------------------------------------------------------

def test_overloaded_switch_sheds_new_invites_and_registers_but_keeps_its_calls() -> None:
    w = World(1)
    inv, ok = w.answered()
    w.sig.overloaded = True
    # a new call and a new registration are refused at once, without a challenge
    w.a.send(w.a.request("INVITE", "sip:1002@127.0.0.1", call_id="new", cseq=1,
                         to="<sip:1002@ccswitch.local>", body=SDP_A), 5.0)
    w.a.send(w.a.request("REGISTER", "sip:ccswitch.local", call_id="reg", cseq=1,
                         to="<sip:1001@ccswitch.local>"), 5.0)
    w.flush(5.0)
    shed = [r for r in w.a.responses() if r.status >= 200]
    assert [(r.status, r.cseq.method) for r in shed] == [(503, "INVITE"), (503, "REGISTER")]
    assert all(header(r, "Retry-After") == "5" for r in shed)
    assert w.b.inbox == [] and w.sig.counters["shed"] == 2
    # the established call still hangs up normally
    w.a.inbox.clear()
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 6.0)
    w.flush(6.0)
    assert status_line(w.a.last_response()) == (200, "BYE")
    assert w.b.take("BYE").call_id == inv.call_id
    # once the shell clears the flag, new calls are served again
    w.sig.overloaded = False
    w.a.inbox.clear()
    w.a.send(w.a.request("OPTIONS", "sip:127.0.0.1", call_id="o", cseq=1,
                         to="<sip:127.0.0.1>"), 7.0)
    w.flush(7.0)
    assert w.a.last_response().status == 200


def test_the_2xx_relayed_to_a_reinvite_is_retransmitted_until_its_ack() -> None:
    w = World(1)
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    w.b.reply(re, 200, "OK", 5.1, body=SDP_B)
    w.flush(5.1)
    out = w.run_until(5.1 + T1 + 2 * T1 + 0.01)  # two retransmissions: T1, then 2*T1 later
    resent = [(t, m) for t, m, _ in out if isinstance(m, Response) and m.status == 200]
    assert [round(t - 5.1, 2) for t, _ in resent] == [T1, 3 * T1]
    assert all(m.cseq.seq == 3 for _, m in resent)
    w.a.send(w.a.in_dialog("ACK", ok, cseq=3), 7.0)
    w.flush(7.0)
    later = w.run_until(20.0)
    assert not [m for _, m, _ in later if isinstance(m, Response) and m.status == 200]


def test_a_reinvite_2xx_never_acked_ends_the_call_after_64_t1() -> None:
    w = World(1)
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    w.b.reply(re, 200, "OK", 5.1, body=SDP_B)
    w.flush(5.1)
    w.run_until(5.1 + 64 * T1 + 0.1)
    assert "BYE" in w.a.methods() and "BYE" in w.b.methods()
    ended = [e for e in w.sig.events() if isinstance(e, CallEnded)]
    assert ended and ended[-1].reason == "No ACK"


def test_a_reinvite_2xx_over_tcp_is_sent_once() -> None:
    w = World(1, transport="tcp")
    _inv, ok = w.answered()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=SDP_A), 5.0)
    w.flush(5.0)
    re = w.b.take("INVITE")
    w.b.reply(re, 200, "OK", 5.1, body=SDP_B)
    w.flush(5.1)
    out = w.run_until(10.0)
    assert not [m for _, m, _ in out if isinstance(m, Response) and m.status == 200]


@pytest.mark.parametrize(("status", "reason", "header", "value"), [
    (302, "Moved Temporarily", "Contact", "<sip:1003@127.0.0.1:7009>"),
    (407, "Proxy Authentication Required", "Proxy-Authenticate",
     'Digest realm="elsewhere", nonce="abc", algorithm=MD5'),
    (486, "Busy Here", "Retry-After", "30"),
])
def test_a_callee_failure_is_relayed_with_what_the_caller_needs(
        status: int, reason: str, header: str, value: str) -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, status, reason, 1.5, to_tag="bt", extra=f"{header}: {value}\nX-Private: 1\n")
    w.flush(1.5)
    (final,) = w.a.responses()
    assert (final.status, final.headers.get(header)) == (status, value)
    assert final.headers.get("x-private") is None  # only the headers a caller acts on


def test_a_408_from_every_fork_becomes_480_without_the_forks_headers() -> None:
    w = World(1)
    (inv,) = w.call(1.0)
    w.b.reply(inv, 408, "Request Timeout", 1.5, to_tag="bt", extra="Retry-After: 9\n")
    w.flush(1.5)
    (final,) = w.a.responses()
    assert final.status == 480 and final.headers.get("retry-after") is None
