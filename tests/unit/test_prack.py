"""RFC 3262 pieces (``sip/prack.py``) with a fake clock: the UAS table (RSeq, retransmission
at T1 doubling, give-up at 64·T1, PRACK matching, the queue, the held 2xx) and the UAC's
choice of what to PRACK."""

from __future__ import annotations

import pytest

from ccswitch.errors import SipParseError
from ccswitch.sip.message import Request, Response, make_response, parse_message
from ccswitch.sip.prack import (
    UAS_TABLE,
    Heard,
    ProvisionalAcks,
    RAck,
    ReliableProvisionals,
    UasInput,
    UasState,
    rack_for,
    refuses_required,
    rseq_of,
    wants_reliable,
)

T1 = 0.5


def invite(extra: str = "") -> Request:
    text = ("INVITE sip:1002@127.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKa\r\n"
            "From: <sip:1001@x>;tag=f\r\nTo: <sip:1002@x>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n"
            f"{extra}Content-Length: 0\r\n\r\n")
    msg = parse_message(text.encode())
    assert isinstance(msg, Request)
    return msg


def prov(status: int = 183, sdp: bool = True, tag: str = "t1") -> Response:
    resp = make_response(invite(), status, "Session Progress", to_tag=tag)
    if sdp:
        resp.body = b"v=0\r\n"
        resp.headers.set("Content-Type", "application/sdp")
    return resp


def ok() -> Response:
    return make_response(invite(), 200, "OK", to_tag="t1")


def uas(reliable_transport: bool = False) -> ReliableProvisionals:
    return ReliableProvisionals(invite_cseq=7, next_rseq=100, t1=T1,
                                reliable_transport=reliable_transport)


def run(rel: ReliableProvisionals, until: float) -> list[tuple[float, int]]:
    """Fire every deadline up to ``until``: (time, status) of what went out."""
    out = []
    while (d := rel.next_deadline()) is not None and d <= until:
        rel.handle_timer(d)
        out += [(d, r.status) for r in rel.outbox()]
    return out


# -- UAS -------------------------------------------------------------------------------------


def test_a_reliable_provisional_carries_require_and_rseq() -> None:
    rel = uas()
    rel.provisional(prov(), 0.0)
    [sent] = rel.outbox()
    assert sent.headers.get("require") == "100rel"
    assert sent.headers.get("rseq") == "100"
    assert rel.state is UasState.WAITING


def test_retransmitted_at_t1_doubling_then_given_up_at_64_t1() -> None:
    rel = uas()
    rel.provisional(prov(), 0.0)
    rel.outbox()
    # T1 = 0.5: intervals 0.5, 1, 2, 4, 8, 16 -> resent at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5;
    # the next would be at 31.5 + 32 = 63.5, after the give-up at 64 * 0.5 = 32.0
    sent = run(rel, 40.0)
    assert sent == [(0.5, 183), (1.5, 183), (3.5, 183), (7.5, 183), (15.5, 183), (31.5, 183)]
    assert rel.gave_up and rel.state is UasState.OVER
    assert rel.next_deadline() is None


def test_no_retransmission_over_tcp_but_the_give_up_stays() -> None:
    rel = uas(reliable_transport=True)
    rel.provisional(prov(), 10.0)
    rel.outbox()
    assert rel.next_deadline() == 10.0 + 64 * T1  # 42.0
    assert run(rel, 50.0) == []
    assert rel.gave_up


def test_the_matching_prack_stops_retransmissions() -> None:
    rel = uas()
    rel.provisional(prov(), 0.0)
    rel.outbox()
    assert run(rel, 0.6) == [(0.5, 183)]
    assert rel.prack(RAck(100, 7, "INVITE"), 0.8) == 200
    assert rel.state is UasState.IDLE and rel.next_deadline() is None
    assert run(rel, 100.0) == [] and not rel.gave_up


@pytest.mark.parametrize("rack", [RAck(101, 7, "INVITE"), RAck(100, 8, "INVITE"),
                                  RAck(100, 7, "BYE")])
def test_a_prack_naming_something_else_is_481_and_changes_nothing(rack: RAck) -> None:
    rel = uas()
    rel.provisional(prov(), 0.0)
    rel.outbox()
    assert rel.prack(rack, 0.1) == 481
    assert rel.state is UasState.WAITING and rel.next_deadline() == 0.5


def test_a_second_prack_for_the_same_provisional_is_481() -> None:
    rel = uas()
    rel.provisional(prov(), 0.0)
    assert rel.prack(RAck(100, 7, "INVITE"), 0.1) == 200
    assert rel.prack(RAck(100, 7, "INVITE"), 0.2) == 481


def test_a_later_provisional_waits_for_the_prack_and_takes_the_next_rseq() -> None:
    rel = uas()
    rel.provisional(prov(180, sdp=False), 0.0)
    rel.provisional(prov(183), 0.1)
    assert [r.status for r in rel.outbox()] == [180]  # the 183 waits
    assert rel.prack(RAck(100, 7, "INVITE"), 0.2) == 200
    [nxt] = rel.outbox()
    assert (nxt.status, nxt.headers.get("rseq")) == (183, "101")  # 100 + 1
    assert rel.next_deadline() == pytest.approx(0.2 + T1)


def test_a_2xx_waits_for_the_prack_of_a_provisional_with_sdp() -> None:
    rel = uas()
    rel.provisional(prov(183, sdp=True), 0.0)
    rel.outbox()
    rel.final(ok(), 1.0)
    assert rel.outbox() == [] and rel.holding
    assert rel.prack(RAck(100, 7, "INVITE"), 1.2) == 200
    assert [r.status for r in rel.outbox()] == [200]
    assert rel.state is UasState.OVER and not rel.holding


def test_a_2xx_does_not_wait_after_a_provisional_without_sdp() -> None:
    rel = uas()
    rel.provisional(prov(180, sdp=False), 0.0)
    rel.outbox()
    rel.final(ok(), 1.0)
    assert [r.status for r in rel.outbox()] == [200]
    assert rel.next_deadline() is None  # no more retransmissions of the 180


def test_a_held_2xx_never_goes_when_the_prack_never_comes() -> None:
    rel = uas()
    rel.provisional(prov(183), 0.0)
    rel.outbox()
    rel.final(ok(), 1.0)
    assert all(status == 183 for _, status in run(rel, 40.0))
    assert rel.gave_up


def test_a_failure_goes_at_once_and_ends_the_retransmissions() -> None:
    rel = uas()
    rel.provisional(prov(183), 0.0)
    rel.outbox()
    rel.final(make_response(invite(), 486, "Busy Here", to_tag="t1"), 0.3)
    assert [r.status for r in rel.outbox()] == [486]
    assert rel.next_deadline() is None and rel.state is UasState.OVER


def test_a_provisional_after_the_final_is_dropped() -> None:
    rel = uas()
    rel.final(ok(), 0.0)
    rel.outbox()
    rel.provisional(prov(180, sdp=False), 0.1)
    assert rel.outbox() == [] and rel.counters["dropped"] == 1


def test_the_table_has_no_timer_row_where_none_is_armed() -> None:
    timers = {UasInput.TIMER_RETX, UasInput.TIMER_GIVE_UP}
    armed_in = {s for (s, i) in UAS_TABLE if i in timers}
    assert armed_in == {UasState.WAITING, UasState.HOLDING}
    for state in UasState:  # every state answers PRACKs and provisionals
        assert (state, UasInput.STRAY_PRACK) in UAS_TABLE
        assert (state, UasInput.PROVISIONAL) in UAS_TABLE


@pytest.mark.parametrize(("headers", "mode", "with_sdp", "want"), [
    ("Require: 100rel\r\n", "supported", False, True),  # required by the caller: always
    ("Require: 100rel\r\n", "off", False, True),  # (an off trunk refuses it first: 420)
    ("Supported: 100rel\r\n", "supported", True, True),  # early media goes reliably
    ("Supported: 100rel\r\n", "supported", False, False),  # a plain 180 does not
    ("Supported: 100rel\r\n", "required", False, True),  # the trunk wants every one
    ("Supported: 100rel\r\n", "off", True, False),
    ("Supported: replaces\r\n", "required", True, False),  # the caller cannot PRACK
    ("", "supported", True, False),
])
def test_when_a_provisional_goes_reliably(headers: str, mode: str, with_sdp: bool,
                                          want: bool) -> None:
    assert wants_reliable(invite(headers), mode=mode, with_sdp=with_sdp) is want  # type: ignore[arg-type]


def test_an_off_trunk_refuses_require_100rel_only() -> None:
    assert refuses_required(invite("Require: 100rel\r\n"), "off")
    assert not refuses_required(invite("Supported: 100rel\r\n"), "off")
    assert not refuses_required(invite("Require: 100rel\r\n"), "supported")


@pytest.mark.parametrize("text", ["", "1 2", "x 2 INVITE", "0 2 INVITE", "1 2 INVITE extra",
                                  "4294967296 1 INVITE"])
def test_a_bad_rack_is_400(text: str) -> None:
    with pytest.raises(SipParseError) as err:
        RAck.parse(text)
    assert err.value.status == 400


def test_rack_round_trip() -> None:
    assert str(RAck.parse(" 4294967295 12 INVITE ")) == "4294967295 12 INVITE"  # 2**32 - 1


# -- UAC -------------------------------------------------------------------------------------


def reliable(rseq: str, tag: str = "t1") -> Response:
    resp = prov(183, tag=tag)
    resp.headers.add("Require", "100rel")
    resp.headers.add("RSeq", rseq)
    return resp


def test_the_uac_pracks_in_order_and_ignores_repeats_and_gaps() -> None:
    acks = ProvisionalAcks()
    heard = [acks.heard(reliable(n)) for n in ("7", "7", "9", "8", "8", "9")]
    assert heard == [Heard.NEW, Heard.REPEAT, Heard.OUT_OF_ORDER, Heard.NEW, Heard.REPEAT,
                     Heard.NEW]
    assert acks.counters == {"pracked": 3, "repeats": 2, "out_of_order": 1}


def test_each_early_dialog_has_its_own_rseq_space() -> None:
    acks = ProvisionalAcks()
    assert acks.heard(reliable("7", tag="a")) is Heard.NEW
    assert acks.heard(reliable("500", tag="b")) is Heard.NEW
    assert acks.heard(reliable("8", tag="a")) is Heard.NEW


@pytest.mark.parametrize("rseq", ["", "0", "x", "4294967296"])
def test_a_provisional_with_a_bad_rseq_is_unreliable(rseq: str) -> None:
    resp = prov(183)
    resp.headers.add("Require", "100rel")
    if rseq:
        resp.headers.add("RSeq", rseq)
    assert rseq_of(resp) is None
    assert ProvisionalAcks().heard(resp) is Heard.UNRELIABLE


def test_the_rack_names_rseq_cseq_and_method() -> None:
    assert str(rack_for(reliable("42"))) == "42 7 INVITE"  # RSeq 42, the INVITE's CSeq 7
