"""Transfers through the signaling core, on the wire: blind REFER (RFC 3515) with its sipfrag
NOTIFYs, recall when the target fails, attended transfer (REFER with Replaces, RFC 3891) and
INVITE with Replaces; the media commands say who ends up hearing whom, the call events that
every call has exactly one CDR, the queue events how a queue call left its agent."""

from __future__ import annotations

from callworld import (
    MEDIA_IP,
    Switch,
    demo_config,
    no_mailbox,
    no_recall,
    no_transfer_for,
    offer,
)
from structlog.testing import capture_logs

from ccswitch.acd.events import CallTransferred
from ccswitch.acd.queue_log import format_events
from ccswitch.call.events import CallEnded
from ccswitch.media.commands import Connect, DestroyLeg, Disconnect, Play, PlayTone
from ccswitch.sdp.session import parse_sdp
from ccswitch.sip.message import Request, Response

NO_BOX_1003 = no_mailbox("1003")  # the demo gives 1003 a mailbox: a failed transfer recalls
REFER_TO_1003 = "Refer-To: <sip:1003@ccswitch.local>\nReferred-By: <sip:{by}@ccswitch.local>\n"


# -- helpers ---------------------------------------------------------------------------------
def refer(w: Switch, user: str, dialog: Request | Response, now: float, *, cseq: int,
          refer_to: str = "<sip:1003@ccswitch.local>", my_tag: str = "",
          extra: str = "") -> Response:
    """``user`` sends REFER in the dialog of ``dialog``; returns the switch's answer."""
    p = w[user]
    p.send(p.in_dialog("REFER", dialog, cseq=cseq, my_tag=my_tag,
                       extra=f"Refer-To: {refer_to}\n{extra}"), now)
    w.pump()
    got = [r for r in p.responses() if r.cseq.method == "REFER"]
    assert got, p.inbox
    p.inbox.remove(got[-1])
    return got[-1]


def notifies(w: Switch, user: str, now: float) -> list[Request]:
    """Every NOTIFY ``user`` got (each answered 200), oldest first, without retransmissions."""
    p = w[user]
    got = p.requests("NOTIFY")
    for n in got:
        p.inbox.remove(n)
        p.reply(n, 200, "OK", now)
    w.pump()
    seen: dict[int, Request] = {}
    for n in got:
        seen.setdefault(n.cseq.seq, n)
    return list(seen.values())


def frag(n: Request) -> str:
    return n.body.decode().split("\r\n")[0]


def bye(w: Switch, user: str, dialog: Request | Response, now: float, *, cseq: int,
        my_tag: str = "") -> Response:
    p = w[user]
    p.send(p.in_dialog("BYE", dialog, cseq=cseq, my_tag=my_tag), now)
    w.pump()
    got = [r for r in p.responses() if r.cseq.method == "BYE"]
    assert got, p.inbox
    p.inbox.remove(got[-1])
    return got[-1]


def ok_byes(w: Switch, user: str, now: float) -> list[Request]:
    """Every BYE ``user`` got (each answered 200), without retransmissions."""
    return answer_all(w, user, "BYE", now)


def answer_all(w: Switch, user: str, method: str, now: float) -> list[Request]:
    p = w[user]
    got = p.requests(method)
    for r in got:
        p.inbox.remove(r)
        p.reply(r, 200, "OK", now)
    w.pump()
    seen: dict[tuple[str, int], Request] = {}
    for r in got:
        seen.setdefault((r.call_id, r.cseq.seq), r)
    return list(seen.values())


def one_cdr(w: Switch) -> CallEnded:
    ended = w.ended()
    assert len(ended) == 1, ended
    return ended[0]


class Call:
    """1001 calls 1002 (answered): the legs and the dialogs each phone has."""

    def __init__(self, w: Switch, now: float = 1.0) -> None:
        self.ok, self.inv = w.call("1001", "1002", now, call_id="c1")
        self.a_leg, self.b_leg = w.leg_of(self.ok), w.leg_of(self.inv)
        assert w.hearing.hears(self.a_leg) == {self.b_leg}


def blind_by_callee(w: Switch, now: float = 5.0) -> tuple[Call, Request]:
    """1002 refers 1001 to 1003: returns the call and the INVITE 1003 got."""
    c = Call(w)
    resp = refer(w, "1002", c.inv, now, cseq=1, my_tag="bt",
                 extra="Referred-By: <sip:1002@ccswitch.local>\n")
    assert resp.status == 202
    return c, w["1003"].take("INVITE")


# -- blind transfer --------------------------------------------------------------------------
def test_blind_transfer_by_the_callee_rings_the_target_and_joins_it_to_the_caller() -> None:
    w = Switch()
    c = Call(w)
    mark = w.mark()
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 extra="Referred-By: <sip:1002@ccswitch.local>\n")
    assert resp.status == 202 and resp.headers.get("contact")
    (trying,) = notifies(w, "1002", 5.1)
    assert trying.headers.get("event") == "refer;id=1"  # the REFER's CSeq
    assert (trying.headers.get("subscription-state") or "").startswith("active;expires=")
    assert (trying.headers.get("content-type") or "").startswith("message/sipfrag")
    assert frag(trying) == "SIP/2.0 100 Trying"
    # the transferor left the bridge: the caller hears ringback, not the transferor
    assert Disconnect(c.a_leg, c.b_leg) in w.since(mark)
    assert Disconnect(c.b_leg, c.a_leg) in w.since(mark)
    assert w.hearing.hears(c.a_leg) == set() and w.hearing.hears(c.b_leg) == set()
    ringback = [p for p in w.since(mark, Play) if isinstance(p, Play)
                and p.source == PlayTone("ringback")]
    assert [p.leg for p in ringback] == [c.a_leg]
    # the target is rung with our SDP, from the caller
    inv3 = w["1003"].take("INVITE")
    sdp = parse_sdp(inv3.body)
    assert sdp.media_connection(sdp.media[0]).address == MEDIA_IP  # type: ignore[union-attr]
    assert inv3.from_.uri.user == "1001"
    t_leg = w.leg_of(inv3)
    assert t_leg not in (c.a_leg, c.b_leg)
    w["1003"].reply(inv3, 200, "OK", 6.0, to_tag="ct", body=offer(6100))
    w.pump()
    assert w["1003"].take("ACK").method == "ACK"
    assert Connect(c.a_leg, t_leg) in w.since(mark) and Connect(t_leg, c.a_leg) in w.since(mark)
    assert w.hearing.hears(c.a_leg) == {t_leg} and w.hearing.hears(t_leg) == {c.a_leg}
    (done,) = notifies(w, "1002", 6.1)
    assert frag(done) == "SIP/2.0 200 OK"
    assert (done.headers.get("subscription-state") or "").startswith("terminated")
    assert done.headers.get("event") == "refer;id=1"
    # the transferor hangs up: only its leg ends
    assert bye(w, "1002", c.inv, 7.0, cseq=2, my_tag="bt").status == 200
    assert DestroyLeg(c.b_leg) in w.since(mark)
    assert DestroyLeg(c.a_leg) not in w.since(mark) and DestroyLeg(t_leg) not in w.since(mark)
    assert w["1001"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert w.ended() == []
    w.run_until(60.0)  # no late BYE to anyone
    assert w["1001"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert w["1002"].requests("BYE") == []
    # the caller and the target talk until one hangs up: then the call (one CDR) ends
    assert bye(w, "1003", inv3, 80.0, cseq=1, my_tag="ct").status == 200
    assert len(ok_byes(w, "1001", 80.1)) == 1
    cdr = one_cdr(w)
    assert (cdr.caller, cdr.status, cdr.sip_call_id) == ("1001", 200, "c1")
    assert (cdr.transfer, cdr.transferred_by) == ("blind:1003", "1002")


def test_blind_transfer_by_the_caller_joins_the_callee_with_the_target() -> None:
    w = Switch()
    c = Call(w)
    resp = refer(w, "1001", c.ok, 5.0, cseq=3)
    assert resp.status == 202
    (trying,) = notifies(w, "1001", 5.1)
    assert frag(trying) == "SIP/2.0 100 Trying"
    assert trying.headers.get("event") == "refer;id=3"
    inv3 = w["1003"].take("INVITE")
    t_leg = w.leg_of(inv3)
    w["1003"].reply(inv3, 200, "OK", 6.0, to_tag="ct", body=offer(6100))
    w.pump()
    assert w.hearing.hears(c.b_leg) == {t_leg} and w.hearing.hears(t_leg) == {c.b_leg}
    assert w.hearing.hears(c.a_leg) == set()
    (done,) = notifies(w, "1001", 6.1)
    assert frag(done) == "SIP/2.0 200 OK"
    assert bye(w, "1001", c.ok, 7.0, cseq=4).status == 200
    assert w["1002"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert w.ended() == []
    assert bye(w, "1002", c.inv, 20.0, cseq=1, my_tag="bt").status == 200
    assert len(ok_byes(w, "1003", 20.1)) == 1
    one_cdr(w)


def test_the_target_sees_the_party_it_will_talk_to_as_the_caller() -> None:
    """A transfer by the caller: 1003 is rung on behalf of 1002, not of 1001 who is gone."""
    w = Switch()
    c = Call(w)
    assert refer(w, "1001", c.ok, 5.0, cseq=3).status == 202
    inv3 = w["1003"].take("INVITE")
    assert inv3.from_.uri.user == "1002"


def test_a_transferor_that_does_not_hang_up_is_sent_bye_after_the_grace() -> None:
    w = Switch()
    c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 200, "OK", 6.0, to_tag="ct", body=offer(6100))
    w.pump()
    notifies(w, "1002", 6.1)
    w.run_until(6.5)
    assert w["1002"].requests("BYE") == []
    w.run_until(20.0)
    (b,) = ok_byes(w, "1002", 20.0)
    assert b.call_id == c.inv.call_id
    assert DestroyLeg(c.b_leg) in w.commands()
    assert w["1001"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert w.ended() == []


def test_a_busy_target_is_reported_and_the_transferor_gets_the_caller_back() -> None:
    w = Switch(config=demo_config(NO_BOX_1003))  # (a user with a mailbox: below)
    c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    trying, failed = notifies(w, "1002", 6.1)
    assert frag(trying) == "SIP/2.0 100 Trying"
    assert frag(failed).startswith("SIP/2.0 486")
    assert (failed.headers.get("subscription-state") or "").startswith("terminated")
    assert w.hearing.hears(c.a_leg) == {c.b_leg} and w.hearing.hears(c.b_leg) == {c.a_leg}
    ringback = [p for p in w.commands(Play) if isinstance(p, Play)
                and p.source == PlayTone("ringback")]
    assert ringback  # and it was stopped before the recall
    assert w["1001"].requests("BYE") == [] and w["1002"].requests("BYE") == []
    assert w.ended() == []
    # the call goes on as before: the recalled transferor's BYE ends it
    assert bye(w, "1002", c.inv, 9.0, cseq=2, my_tag="bt").status == 200
    assert len(ok_byes(w, "1001", 9.1)) == 1
    cdr = one_cdr(w)
    assert cdr.ended_by == "callee"


def test_a_target_that_does_not_answer_is_cancelled_and_the_transferor_recalled() -> None:
    w = Switch(config=demo_config(NO_BOX_1003))  # (a user with a mailbox: below)
    c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 180, "Ringing", 5.5, to_tag="ct")
    w.pump()
    w.run_until(5.0 + 29.0)
    assert w["1003"].requests("CANCEL") == []
    w.run_until(5.0 + 31.0)  # [transfer] ring_timeout = 30
    assert len(answer_all(w, "1003", "CANCEL", 36.0)) == 1
    w["1003"].reply(inv3, 487, "Request Terminated", 36.0, to_tag="ct")
    w.pump()
    _, failed = notifies(w, "1002", 36.1)
    status = int(frag(failed).split()[1])
    assert status >= 300
    assert w.hearing.hears(c.a_leg) == {c.b_leg}
    assert w.ended() == []


def test_a_target_no_rtp_pair_is_left_for_is_503_and_the_transferor_gets_the_caller_back(
) -> None:
    w = Switch(ports=(30000, 30003))  # two pairs: the call's two legs take both
    c = Call(w)
    with capture_logs() as logs:
        resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                     extra="Referred-By: <sip:1002@ccswitch.local>\n")
        trying, failed = notifies(w, "1002", 5.1)
    assert resp.status == 202 and frag(trying) == "SIP/2.0 100 Trying"
    assert frag(failed).startswith("SIP/2.0 503")
    assert [e["event"] for e in logs].count("rtp_ports_exhausted") == 1
    assert w["1003"].requests("INVITE") == []
    # the call goes on between the caller and the recalled transferor
    assert w.hearing.hears(c.a_leg) == {c.b_leg} and w.hearing.hears(c.b_leg) == {c.a_leg}
    assert w["1001"].requests("BYE") == [] and w["1002"].requests("BYE") == []
    assert w.ended() == []


def test_the_call_ends_when_the_target_fails_after_the_transferor_hung_up() -> None:
    w = Switch(config=demo_config(NO_BOX_1003))  # (a user with a mailbox: below)
    c, inv3 = blind_by_callee(w)
    notifies(w, "1002", 5.1)
    assert bye(w, "1002", c.inv, 5.5, cseq=2, my_tag="bt").status == 200
    assert w.ended() == []
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    assert w["1002"].requests("NOTIFY") == []  # nobody to tell
    assert len(ok_byes(w, "1001", 6.1)) == 1
    cdr = one_cdr(w)
    assert cdr.sip_call_id == "c1"


def test_without_recall_a_failed_transfer_ends_the_call() -> None:
    w = Switch(config=demo_config(lambda cfg: no_recall(NO_BOX_1003(cfg))))
    _c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    _, failed = notifies(w, "1002", 6.1)
    assert frag(failed).startswith("SIP/2.0 486")
    assert len(ok_byes(w, "1001", 6.2)) == 1
    assert len(ok_byes(w, "1002", 6.2)) == 1  # the transferor's leg is released too
    one_cdr(w)


def test_refer_to_an_unknown_number_is_404_and_the_call_goes_on() -> None:
    w = Switch()
    c = Call(w)
    mark = w.mark()
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 refer_to="<sip:4711@ccswitch.local>")
    assert resp.status == 404
    assert w.since(mark) == [] and w["1002"].requests("NOTIFY") == []
    assert w.hearing.hears(c.a_leg) == {c.b_leg}


def test_a_refer_to_that_does_not_parse_is_400() -> None:
    w = Switch()
    c = Call(w)
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt", refer_to="<sip:1003@")
    assert resp.status == 400
    assert w.hearing.hears(c.a_leg) == {c.b_leg}


def test_a_user_without_transfer_rights_is_403() -> None:
    w = Switch(config=demo_config(no_transfer_for("1002")))
    c = Call(w)
    assert refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt").status == 403
    assert refer(w, "1001", c.ok, 5.0, cseq=3).status == 202  # 1001 may


# -- queue calls -----------------------------------------------------------------------------
def queue_call(w: Switch, agent: str = "2001", number: str = "800",
               now: float = 1.0) -> tuple[Response, Request]:
    ok = w.answered("1001", number, now, call_id="q1")
    inv = w.answer(agent, now + 2.0, tag="ag", port=6200)
    assert w[agent].take("ACK").method == "ACK"
    return ok, inv


def test_an_agent_transfers_a_queue_call_to_another_queue_keeping_its_place() -> None:
    w = Switch(("1001", "2001"))
    ok, inv = queue_call(w)
    router = w.sig.b2bua.router
    assert router is not None
    assert w.ended() == []
    assert refer(w, "2001", inv, 10.0, cseq=1, my_tag="ag",
                 refer_to="<sip:801@ccswitch.local>").status == 202
    (xfer,) = [e for e in w.events if isinstance(e, CallTransferred)]
    assert (xfer.agent, xfer.target, xfer.attended) == ("2001", "801", False)
    lines = format_events([xfer])
    assert "|BLINDTRANSFER|801|" in lines[0]
    rec = router._callers[xfer.call_id]
    assert rec.queue.settings.name == "sales"
    assert rec.place == 1.0  # its entry time in support, not 10.0
    notifies(w, "2001", 10.1)
    assert bye(w, "2001", inv, 10.5, cseq=2, my_tag="ag").status == 200
    assert w["1001"].requests("BYE") == []
    assert bye(w, "1001", ok, 20.0, cseq=3).status == 200
    cdr = one_cdr(w)
    assert cdr.queue == "sales"


def test_a_transferred_queue_caller_is_served_before_later_callers() -> None:
    w = Switch(("1001", "1005", "2001", "2005"))
    sales = w["2005"]
    sales.invite("*23", 0.5, call_id="f1", body=offer(7000), phones=[sales])  # paused
    w.pump()
    _ok, inv = queue_call(w)
    # nobody serves sales: a second caller starts waiting there first
    w.answered("1005", "801", 5.0, call_id="q2", port=4500)
    assert refer(w, "2001", inv, 10.0, cseq=1, my_tag="ag",
                 refer_to="<sip:801@ccswitch.local>").status == 202
    sales.inbox.clear()
    sales.invite("*24", 12.0, call_id="f2", body=offer(7002), phones=[sales])
    w.pump()
    (offered,) = [r for r in sales.requests("INVITE") if r.call_id != "f2"]
    assert offered.from_.uri.user == "1001"  # it entered support at 1.0, before 5.0


def test_attended_transfer_of_a_queue_call_is_attendedtransfer() -> None:
    w = Switch(("1001", "1003", "2001"))
    ok, inv = queue_call(w)
    consult_ok, consult_inv = w.call("2001", "1003", 5.0, call_id="k1", tag="k3",
                                     a_port=4300, b_port=6300)
    replaces = f"k1%3Bto-tag%3D{consult_ok.to.tag}%3Bfrom-tag%3Dft"
    assert refer(w, "2001", inv, 8.0, cseq=1, my_tag="ag",
                 refer_to=f"<sip:1003@ccswitch.local?Replaces={replaces}>").status == 202
    (xfer,) = [e for e in w.events if isinstance(e, CallTransferred)]
    assert xfer.attended and xfer.agent == "2001"
    assert "|ATTENDEDTRANSFER|BRIDGE|" in format_events([xfer])[0]
    caller_leg, target_leg = w.leg_of(ok), w.leg_of(consult_inv)
    assert w.hearing.hears(caller_leg) == {target_leg}


def test_a_queue_caller_may_not_transfer_the_agent() -> None:
    w = Switch(("1001", "1003", "2001"))
    ok, inv = queue_call(w)
    assert refer(w, "1001", ok, 10.0, cseq=3).status == 403
    assert not [e for e in w.events if isinstance(e, CallTransferred)]
    assert w["1003"].requests("INVITE") == []
    router = w.sig.b2bua.router
    assert router is not None and router.agent_state("2001").value == "on_call"
    assert w.hearing.hears(w.leg_of(ok)) == {w.leg_of(inv)}


# -- attended transfer -----------------------------------------------------------------------
def attended(w: Switch) -> tuple[Call, Response, Request, Response]:
    """1001 talks to 1002; 1002 calls 1003 (consultation) and refers 1001 to it."""
    c = Call(w)
    consult_ok, consult_inv = w.call("1002", "1003", 5.0, call_id="k1", tag="k3",
                                     a_port=4300, b_port=6300)
    replaces = f"k1%3Bto-tag%3D{consult_ok.to.tag}%3Bfrom-tag%3Dft"
    resp = refer(w, "1002", c.inv, 8.0, cseq=1, my_tag="bt",
                 refer_to=f"<sip:1003@ccswitch.local?Replaces={replaces}>")
    return c, consult_ok, consult_inv, resp


def test_attended_transfer_joins_the_caller_with_the_target_and_frees_the_transferor() -> None:
    w = Switch()
    c, consult_ok, consult_inv, resp = attended(w)
    assert resp.status == 202
    target_leg = w.leg_of(consult_inv)
    consult_a_leg = w.leg_of(consult_ok)
    assert w.hearing.hears(c.a_leg) == {target_leg}
    assert w.hearing.hears(target_leg) == {c.a_leg}
    assert DestroyLeg(consult_a_leg) in w.commands()
    # the transferor is told, then both of its legs are let go
    sent = notifies(w, "1002", 8.1)
    assert frag(sent[-1]) == "SIP/2.0 200 OK"
    byes = ok_byes(w, "1002", 8.2)
    assert [b.call_id for b in byes] == ["k1"]  # the consultation is hung up at once
    assert w["1003"].requests("BYE") == [] and w["1001"].requests("BYE") == []
    w.run_until(30.0)
    byes = ok_byes(w, "1002", 30.0)
    assert [b.call_id for b in byes] == [c.inv.call_id]  # the first call after the grace
    assert DestroyLeg(c.b_leg) in w.commands()
    assert w["1003"].requests("BYE") == [] and w["1001"].requests("BYE") == []
    # the target now talks in the first call: its BYE (on its own dialog) ends it
    assert bye(w, "1003", consult_inv, 40.0, cseq=1, my_tag="k3").status == 200
    assert len(ok_byes(w, "1001", 40.1)) == 1
    ended = w.ended()
    assert sorted(e.sip_call_id for e in ended) == ["c1", "k1"]  # one CDR per call


def test_refer_with_replaces_naming_no_dialog_fails_in_its_notify_and_the_call_goes_on() -> None:
    # the dialog to replace may just have ended (a BYE crossing the REFER): the REFER's own
    # dialog is fine, so it is not answered 481 (which would end it, RFC 3261 §12.2.1.2)
    w = Switch()
    c = Call(w)
    mark = w.mark()
    resp = refer(w, "1002", c.inv, 8.0, cseq=1, my_tag="bt",
                 refer_to="<sip:1003@ccswitch.local?Replaces=nope%3Bto-tag%3Dx%3Bfrom-tag%3Dy>")
    assert resp.status == 202
    (final,) = notifies(w, "1002", 8.1)
    assert frag(final) == "SIP/2.0 481 Call/Transaction Does Not Exist"
    assert (final.headers.get("subscription-state") or "").startswith("terminated")
    assert w.since(mark) == []  # nobody left the bridge
    assert w.hearing.hears(c.a_leg) == {c.b_leg}
    assert w["1001"].requests("BYE") == [] and w["1002"].requests("BYE") == []
    assert w.ended() == []


# -- INVITE with Replaces --------------------------------------------------------------------
def test_invite_with_replaces_takes_over_the_named_leg() -> None:
    w = Switch(("1001", "1002", "1003"))
    c = Call(w)
    # 1003 picks up 1002's side of the call: it names 1002's dialog (call-id, tags)
    rep = f"Replaces: {c.inv.call_id};to-tag=bt;from-tag={c.inv.from_.tag}\n"
    w["1003"].invite("1002", 10.0, call_id="r1", body=offer(6400), extra=rep,
                     phones=list(w.phones.values()))
    w.pump()
    ok3 = w["1003"].last_response()
    assert ok3.status == 200
    new_leg = w.leg_of(ok3)
    assert w.hearing.hears(c.a_leg) == {new_leg} and w.hearing.hears(new_leg) == {c.a_leg}
    assert DestroyLeg(c.b_leg) in w.commands()
    (b,) = ok_byes(w, "1002", 10.1)
    assert b.call_id == c.inv.call_id
    w.ack("1003", ok3, 10.2)
    assert w["1001"].requests("BYE") == []
    assert bye(w, "1003", ok3, 20.0, cseq=3).status == 200
    assert len(ok_byes(w, "1001", 20.1)) == 1
    cdr = one_cdr(w)  # the CDR names the replacing INVITE (side a is 1003's leg now)
    assert (cdr.caller, cdr.sip_call_id) == ("1003", "c1")  # the first INVITE's Call-ID


def test_invite_with_replaces_naming_nothing_is_481() -> None:
    w = Switch()
    Call(w)
    w["1003"].invite("1002", 10.0, call_id="r1", body=offer(6400),
                     extra="Replaces: nope;to-tag=a;from-tag=b\n")
    assert w["1003"].last_response().status == 481
    assert w["1002"].requests("BYE") == []


def test_invite_with_replaces_early_only_on_a_confirmed_dialog_is_486() -> None:
    w = Switch()
    c = Call(w)
    rep = f"Replaces: {c.inv.call_id};to-tag=bt;from-tag={c.inv.from_.tag};early-only\n"
    w["1003"].invite("1002", 10.0, call_id="r1", body=offer(6400), extra=rep)
    assert w["1003"].last_response().status == 486
    assert w["1002"].requests("BYE") == [] and w.hearing.hears(c.a_leg) == {c.b_leg}


def test_a_second_transfer_within_the_grace_lets_the_first_transferor_go() -> None:
    w = Switch(("1001", "1002", "1003", "1004"))
    c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 200, "OK", 6.0, to_tag="ct", body=offer(6100))
    w.pump()
    notifies(w, "1002", 6.1)
    t_leg = w.leg_of(inv3)
    # 1003 passes the caller on to 1004 before 1002 has hung up
    assert refer(w, "1003", inv3, 7.0, cseq=1, my_tag="ct",
                 refer_to="<sip:1004@ccswitch.local>").status == 202
    (b,) = ok_byes(w, "1002", 7.1)  # the first transferor is let go at once
    assert b.call_id == c.inv.call_id
    assert DestroyLeg(c.b_leg) in w.commands()
    inv4 = w["1004"].take("INVITE")
    w["1004"].reply(inv4, 200, "OK", 8.0, to_tag="dt", body=offer(6600))
    w.pump()
    assert frag(notifies(w, "1003", 8.1)[-1]) == "SIP/2.0 200 OK"
    assert DestroyLeg(t_leg) not in w.commands()
    assert bye(w, "1003", inv3, 9.0, cseq=2, my_tag="ct").status == 200
    assert DestroyLeg(t_leg) in w.commands()
    w.run_until(30.0)
    assert w["1002"].requests("BYE") == [] and w["1003"].requests("BYE") == []
    assert w.hearing.hears(c.a_leg) == {w.leg_of(inv4)}
    assert w.ended() == []


def test_attended_transfer_works_when_the_switch_has_several_media_workers() -> None:
    """The consultation is placed on the worker of the transferor's other call, so its
    target's leg can join the first call's bridge."""
    w = Switch(workers=2)
    c, _consult_ok, consult_inv, resp = attended(w)
    assert resp.status == 202
    assert w.hearing.hears(c.a_leg) == {w.leg_of(consult_inv)}
