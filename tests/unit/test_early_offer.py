"""Offer/answer before the 2xx (call/earlyoffer.py): UPDATE in the early dialog on both legs
(RFC 3311), SDP in PRACKs (RFC 3262 §5), through the signaling core with scripted phones and
carriers and a fake clock."""

from __future__ import annotations

from callworld import offer
from sipphone import Phone, header
from test_carrier_sip_calls import World, prack_text, resp_of

from ccswitch.media.commands import ConfigureLeg
from ccswitch.sip.message import Request, Response

REL = "Require: 100rel\nRSeq: {}\n"


def pcma(port: int, *, version: int = 1, pts: str = "8 101") -> str:
    """An SDP offering ``pts`` (PCMA 8, PCMU 0, telephone-event 101) on ``port``."""
    maps = {"8": "a=rtpmap:8 PCMA/8000\n", "0": "a=rtpmap:0 PCMU/8000\n",
            "101": "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n"}
    return (f"v=0\no=- {port} {version} IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {port} RTP/AVP {pts}\n" + "".join(maps[p] for p in pts.split())
            + "a=sendrecv\n")


def m_line(body: bytes) -> bytes:
    [line] = [ln for ln in body.split(b"\n") if ln.startswith(b"m=audio")]
    return line.strip()


def last_to(phone: Phone, method: str) -> Response:
    """The last response ``phone`` got to a request of ``method``."""
    got = [m for m in phone.inbox if isinstance(m, Response) and m.cseq.method == method]
    assert got, phone.inbox
    return got[-1]


def configured(w: World, port: int) -> list[ConfigureLeg]:
    return [c for c in w.commands(ConfigureLeg)
            if isinstance(c, ConfigureLeg) and c.remote_port == port]


def carrier_early(w: World, call_id: str) -> tuple[Request, str]:
    """1001 dials out; the carrier sends a reliable 183 with SDP (PCMU on 9000), gets our
    PRACK and answers it.  The carrier's INVITE and the 183's text."""
    w.dial("1001", "5550700123", 1.0, call_id=call_id)
    inv = w.carrier.take("INVITE")
    r183 = w.carrier.response(inv, 183, "Session Progress", to_tag="c1", body=offer(9000),
                              extra=REL.format(5))
    w.carrier.send(r183, 1.5)
    w.pump()
    prack = w.carrier.take("PRACK")
    w.carrier.reply(prack, 200, "OK", 1.6)
    w.pump()
    return inv, r183


def test_a_carrier_update_in_the_early_dialog_moves_its_media_and_changes_codec() -> None:
    w = World()
    inv, _ = carrier_early(w, "u1")
    [early] = resp_of(w["1001"], 183)
    assert configured(w, 9000)
    upd = w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9200), my_tag="c1")
    w.carrier.send(upd, 2.0)
    w.pump()
    ok = last_to(w.carrier, "UPDATE")
    assert ok.status == 200 and b"c=IN IP4 127.0.0.9" in ok.body
    assert header(ok, "Contact")
    # answered from the port our INVITE offered: the carrier's leg keeps its port of ours
    assert m_line(ok.body).split()[1] == m_line(inv.body).split()[1]
    assert m_line(ok.body).split()[3] == b"8"  # PCMA: all it offers (the worker transcodes)
    [moved] = configured(w, 9200)
    assert moved.codec == "PCMA" and moved.pt == 8
    assert not w["1001"].requests("UPDATE")  # the caller is not asked
    # the 2xx repeats the 183's SDP: it does not move the media back
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1", body=offer(9000, version=2))
    w.pump()
    okr = w["1001"].last_response()
    assert okr.status == 200 and okr.cseq.method == "INVITE"
    assert okr.body == early.body  # the caller's 2xx repeats its 183's answer
    assert len(configured(w, 9000)) == 1
    w.ack("1001", okr, 3.1)
    assert w.carrier.take("ACK").body == b""


def test_an_early_update_keeps_the_callers_codec_when_it_is_offered() -> None:
    w = World()
    inv, _ = carrier_early(w, "u2")
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9300, pts="8 0 101"),
                                       my_tag="c1"), 2.0)
    w.pump()
    ok = last_to(w.carrier, "UPDATE")
    assert m_line(ok.body).split()[3] == b"0"  # PCMU, the caller's: relayed, not transcoded
    [moved] = configured(w, 9300)
    assert moved.codec == "PCMU"


def test_an_update_before_the_carrier_answered_our_offer_is_491() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="u3")
    inv = w.carrier.take("INVITE")
    r180 = w.carrier.response(inv, 180, "Ringing", to_tag="c1", extra=REL.format(1))
    w.carrier.send(r180, 1.5)
    w.pump()
    w.carrier.take("PRACK")
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9200), my_tag="c1"),
                   2.0)
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 491
    assert not configured(w, 9200)
    # an UPDATE without SDP (a target refresh) is fine, and a stale CSeq is 500
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=2, my_tag="c1"), 2.1)
    w.pump()
    got = last_to(w.carrier, "UPDATE")
    assert got.status == 200 and got.body == b""
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=2, my_tag="c1"), 2.2)
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 500


def test_a_callers_update_while_its_offer_waits_for_our_answer_is_500_with_retry_after(
        ) -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="u4")
    inv = w.carrier.take("INVITE")
    w.carrier.reply(inv, 183, "Session Progress", 1.5, to_tag="c1", body=offer(9000))
    w.pump()
    [r183] = resp_of(w["1001"], 183)  # unreliable: its SDP is not yet the answer
    w["1001"].send(w["1001"].in_dialog("UPDATE", r183, cseq=3, body=offer(4100)), 2.0)
    w.pump()
    got = last_to(w["1001"], "UPDATE")
    assert got.status == 500
    assert 0 <= int(header(got, "Retry-After")) <= 10
    assert not configured(w, 4100)


def early_phone_call(w: World, call_id: str) -> tuple[Request, Response]:
    """1001 (Supported: 100rel) calls 1002, whose 183 with SDP goes to 1001 reliably and is
    PRACKed: both legs' offer/answer is done.  1002's INVITE and 1001's 183."""
    w["1001"].invite("1002", 1.0, call_id=call_id, body=offer(4000),
                     extra="Supported: 100rel\n", phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    w["1002"].reply(w["1002"].take("PRACK"), 200, "OK", 1.3)
    [r183] = resp_of(w["1001"], 183)
    w["1001"].send(prack_text(w["1001"], r183, f"{header(r183, 'RSeq')} 2 INVITE", cseq=3),
                   1.4)
    w.pump()
    assert last_to(w["1001"], "PRACK").status == 200
    return to_phone, r183


def test_a_callers_update_in_the_early_dialog_is_answered_and_reconfigures_its_leg() -> None:
    w = World()
    to_phone, r183 = early_phone_call(w, "u5")
    w["1001"].send(w["1001"].in_dialog("UPDATE", r183, cseq=4, body=offer(4200)), 2.0)
    w.pump()
    ok = last_to(w["1001"], "UPDATE")
    assert ok.status == 200 and m_line(ok.body) == m_line(r183.body)  # same port of ours
    assert configured(w, 4200)
    assert not w["1002"].requests("UPDATE")
    # 1002 answers: 1001's 200 repeats its SDP, the media stay where the UPDATE put them
    w["1002"].reply(to_phone, 200, "OK", 3.0, to_tag="p1", body=offer(6000))
    w.pump()
    okr = last_to(w["1001"], "INVITE")
    assert okr.status == 200 and m_line(okr.body) == m_line(r183.body)
    assert len(configured(w, 4000)) == 1


def test_a_callers_prack_with_an_offer_gets_our_answer_in_its_200() -> None:
    w = World()
    w["1001"].invite("1002", 1.0, call_id="u6", body=offer(4000),
                     extra="Supported: 100rel\n", phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    [r183] = resp_of(w["1001"], 183)
    w["1001"].send(w["1001"].in_dialog("PRACK", r183, cseq=3, body=offer(4300),
                                       extra=f"RAck: {header(r183, 'RSeq')} 2 INVITE\n"), 1.4)
    w.pump()
    ok = last_to(w["1001"], "PRACK")
    assert ok.status == 200 and m_line(ok.body) == m_line(r183.body)
    assert configured(w, 4300)


def test_a_callee_offer_in_a_reliable_183_is_answered_by_the_caller_in_our_prack() -> None:
    w = World()
    # delayed offer: neither INVITE has SDP; 1002 offers in a reliable 183
    w["1001"].invite("1002", 1.0, call_id="u7", extra="Supported: 100rel\n",
                     phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    assert to_phone.body == b""
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    assert not w["1002"].requests("PRACK")  # ours waits for the caller's answer
    [r183] = resp_of(w["1001"], 183)
    assert header(r183, "Require") == "100rel" and b"127.0.0.9" in r183.body  # our offer
    w["1001"].send(w["1001"].in_dialog("PRACK", r183, cseq=3, body=offer(4400),
                                       extra=f"RAck: {header(r183, 'RSeq')} 2 INVITE\n"), 1.4)
    w.pump()
    assert last_to(w["1001"], "PRACK").status == 200
    prack = w["1002"].take("PRACK")
    assert b"127.0.0.9" in prack.body and header(prack, "RAck") == "1 1 INVITE"
    assert configured(w, 4400) and configured(w, 6000)  # both legs set
    w["1002"].reply(prack, 200, "OK", 1.5)
    w["1002"].reply(to_phone, 200, "OK", 2.0, to_tag="p1", body=offer(6000))
    w.pump()
    okr = last_to(w["1001"], "INVITE")
    assert okr.status == 200 and okr.body == r183.body  # its offer repeated, no new one
    w.ack("1001", okr, 2.1, cseq=2)
    assert w["1002"].take("ACK").body == b""  # that exchange is over: no SDP in the ACK


def test_a_callee_offer_to_a_caller_without_100rel_is_answered_by_us_in_the_prack() -> None:
    w = World()
    w["1001"].invite("1002", 1.0, call_id="u8", phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    prack = w["1002"].take("PRACK")
    assert b"127.0.0.9" in prack.body  # answered here: RFC 3262 §5 wants it in the PRACK
    assert configured(w, 6000)
    w["1002"].reply(prack, 200, "OK", 1.3)
    w["1002"].reply(to_phone, 200, "OK", 2.0, to_tag="p1", body=offer(6000))
    w.pump()
    okr = last_to(w["1001"], "INVITE")
    assert okr.status == 200 and b"127.0.0.9" in okr.body  # our offer, its answer in the ACK
    w["1001"].send(w["1001"].in_dialog("ACK", okr, cseq=2, body=offer(4500)), 2.1)
    w.pump()
    assert w["1002"].take("ACK").body == b""  # the callee's exchange was over at the PRACK
    assert configured(w, 4500)  # the caller's leg set from its answer


def test_an_update_after_the_answer_is_still_relayed_to_the_caller() -> None:
    w = World()
    inv, _ = carrier_early(w, "u9")
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9200), my_tag="c1"),
                   2.0)
    w.pump()
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1", body=offer(9000))
    w.pump()
    okr = w["1001"].last_response()
    w.ack("1001", okr, 3.1)
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=2, body=offer(9400), my_tag="c1"),
                   4.0)
    w.pump()
    upd = w["1001"].take("UPDATE")  # confirmed dialog: relayed, SDP rewritten for our port
    assert b"127.0.0.9" in upd.body
    assert m_line(upd.body).split()[1] == m_line(okr.body).split()[1]
    w["1001"].reply(upd, 200, "OK", 4.1, body=offer(4000, version=2))
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 200
    assert configured(w, 9400)


def test_a_callee_offer_we_cannot_take_does_not_keep_our_prack_waiting() -> None:
    w = World()
    w["1001"].invite("1002", 1.0, call_id="u10", extra="Supported: 100rel\n",
                     phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    g729 = offer(6000).replace("RTP/AVP 0 101", "RTP/AVP 18").replace(
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000")
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=g729,
                    extra=REL.format(1))
    w.pump()
    prack = w["1002"].take("PRACK")  # sent at once, with no answer to give
    assert prack.body == b""
    [r183] = resp_of(w["1001"], 183)
    assert r183.body == b""


def test_a_refresh_after_an_early_update_repeats_the_answer_the_update_got() -> None:
    # RFC 3264 §8: our session-timer refresh re-INVITE repeats the SDP we last sent on the
    # leg (our answer to the carrier's early UPDATE), not our INVITE's offer
    w = World()
    inv, _ = carrier_early(w, "u11")
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9200), my_tag="c1"),
                   2.0)
    w.pump()
    ok = last_to(w.carrier, "UPDATE")
    assert m_line(ok.body) != m_line(inv.body)  # PCMA now, PCMU first in our INVITE
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1", body=pcma(9200),
                    extra="Session-Expires: 90;refresher=uac\nRequire: timer\n"
                          "Allow: INVITE, ACK, BYE, CANCEL\n")
    w.pump()
    w.ack("1001", w["1001"].last_response(), 3.1)
    w.carrier.take("ACK")
    w.run_until(49.0)
    refresh = w.carrier.requests("INVITE")[-1]
    assert refresh is not inv
    assert refresh.body == ok.body  # the same SDP, the same o= version


def test_a_carriers_refresh_repeating_its_update_sdp_is_answered_on_its_leg() -> None:
    # what the carrier last sent is its UPDATE's SDP: a re-INVITE repeating it changes nothing
    w = World()
    inv, _ = carrier_early(w, "u12")
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=1, body=pcma(9200), my_tag="c1"),
                   2.0)
    w.pump()
    ok = last_to(w.carrier, "UPDATE")
    # its 2xx without SDP (the early exchanges are over): what it last sent is the UPDATE's
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1",
                    extra="Session-Expires: 90;refresher=uas\nRequire: timer\n")
    w.pump()
    w.ack("1001", w["1001"].last_response(), 3.1)
    w.carrier.take("ACK")
    w["1001"].inbox.clear()
    w.carrier.send(w.carrier.in_dialog("INVITE", inv, cseq=2, body=pcma(9200), my_tag="c1",
                                       extra="Session-Expires: 90;refresher=uas\n"), 40.0)
    w.pump()
    got = last_to(w.carrier, "INVITE")
    assert got.status == 200 and got.body == ok.body
    assert not w["1001"].requests("INVITE")  # not relayed: nothing changed


def two_forks_offering(w: World, call_id: str) -> tuple[Phone, Request, Request]:
    """1001 (Supported: 100rel, no SDP) calls 1002, registered twice; each fork offers in a
    reliable 183, the first at 1.2, the second at 1.3.  The second phone and the INVITEs."""
    second = Phone(w.sig, "1002", 7010)
    assert second.register(0.0).status == 200
    second.inbox.clear()
    w.phones["1002b"] = second
    w["1001"].invite("1002", 1.0, call_id=call_id, extra="Supported: 100rel\n",
                     phones=list(w.phones.values()))
    w.pump()
    inv1, inv2 = w["1002"].take("INVITE"), second.take("INVITE")
    w["1002"].reply(inv1, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    second.reply(inv2, 183, "Session Progress", 1.3, to_tag="p2", body=offer(6100),
                 extra=REL.format(1))
    w.pump()
    return second, inv1, inv2


def test_a_second_forks_offer_is_answered_by_us_while_the_caller_answers_the_first() -> None:
    # RFC 3262 §5: one offer at a time to the caller; its answer is for that fork only
    w = World()
    second, _, _ = two_forks_offering(w, "u13")
    assert not w["1002"].requests("PRACK")  # waits for the caller's answer
    prack2 = second.take("PRACK")  # the second fork's offer: answered by us, at once
    assert b"127.0.0.9" in prack2.body
    assert configured(w, 6100)
    # the second offer did not go to the caller: its 183 is unreliable, repeating our offer
    [r183] = [r for r in resp_of(w["1001"], 183) if r.headers.get("rseq")]
    assert all(r.body == r183.body for r in resp_of(w["1001"], 183))
    w["1001"].send(w["1001"].in_dialog("PRACK", r183, cseq=3, body=offer(4400),
                                       extra=f"RAck: {header(r183, 'RSeq')} 2 INVITE\n"), 1.4)
    w.pump()
    assert last_to(w["1001"], "PRACK").status == 200
    prack1 = w["1002"].take("PRACK")
    assert b"127.0.0.9" in prack1.body and configured(w, 4400)
    assert not second.requests("PRACK")  # no second PRACK with the caller's answer


def test_a_callers_prack_without_the_answer_does_not_keep_our_prack_waiting() -> None:
    w = World()
    w["1001"].invite("1002", 1.0, call_id="u14", extra="Supported: 100rel\n",
                     phones=list(w.phones.values()))
    w.pump()
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 183, "Session Progress", 1.2, to_tag="p1", body=offer(6000),
                    extra=REL.format(1))
    w.pump()
    assert not w["1002"].requests("PRACK")
    [r183] = resp_of(w["1001"], 183)
    # a broken caller: its PRACK carries no answer to our offer
    w["1001"].send(w["1001"].in_dialog("PRACK", r183, cseq=3,
                                       extra=f"RAck: {header(r183, 'RSeq')} 2 INVITE\n"), 1.4)
    w.pump()
    assert last_to(w["1001"], "PRACK").status == 200
    prack = w["1002"].take("PRACK")  # sent, with our own answer
    assert b"127.0.0.9" in prack.body and header(prack, "RAck") == "1 1 INVITE"
    assert configured(w, 6000)


def test_early_updates_from_two_early_dialogs_of_one_fork_have_their_own_cseq() -> None:
    # a forking proxy: 183 with To-tag c1, 180 with To-tag c2, each dialog its own CSeq space
    w = World()
    inv, _ = carrier_early(w, "u15")
    w.carrier.reply(inv, 180, "Ringing", 1.7, to_tag="c2")
    w.pump()
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=5, my_tag="c1"), 2.0)
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 200
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=2, my_tag="c2"), 2.1)
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 200  # not "500 Out of Order"
    w.carrier.send(w.carrier.in_dialog("UPDATE", inv, cseq=2, my_tag="c2"), 2.2)
    w.pump()
    assert last_to(w.carrier, "UPDATE").status == 500  # its own stale CSeq still is
    # c1 answers: its confirmed dialog goes on from its own CSeq
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1", body=offer(9000))
    w.pump()
    w.ack("1001", w["1001"].last_response(), 3.1)
    w.carrier.send(w.carrier.in_dialog("INFO", inv, cseq=5, my_tag="c1"), 4.0)
    w.pump()
    assert last_to(w.carrier, "INFO").status == 500
