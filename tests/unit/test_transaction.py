"""The SIP transaction layer driven with a fake clock (plain floats): every timer path."""

from __future__ import annotations

import pytest

from ccswitch.sip.addr import Address
from ccswitch.sip.message import Request, Response, make_response, parse_message
from ccswitch.sip.timers import SipTimers
from ccswitch.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionError,
    TransactionLayer,
    TransactionTimeout,
    TxnState,
)

UDP = Address("udp", "192.0.2.10", 5060)
TCP = Address("tcp", "192.0.2.10", 5060, conn=7)
BRANCH = "z9hG4bKabc123"


def request(
    method: str = "INVITE",
    *,
    branch: str = BRANCH,
    via: str = "SIP/2.0/UDP 192.0.2.10:5060",
    via_params: str = "",
    cseq: int = 1,
    to_tag: str | None = None,
    extra_via: str | None = None,
) -> Request:
    to = "Bob <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:bob@example.com SIP/2.0",
        f"Via: {via};branch={branch}{via_params}" + (f", {extra_via}" if extra_via else ""),
        "Max-Forwards: 70",
        "Route: <sip:p1.example.com;lr>",
        "Route: <sip:p2.example.com;lr>",
        "From: Alice <sip:alice@example.com>;tag=a1",
        f"To: {to}",
        "Call-ID: call-1@example.com",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:alice@192.0.2.10>",
        "Content-Length: 0",
    ]
    msg = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def response_to(req: Request, status: int, reason: str = "X", tag: str | None = "b1") -> Response:
    """A response as it arrives off the wire (serialized and parsed again)."""
    resp = make_response(req, status, reason, to_tag=tag if status > 100 else None)
    parsed = parse_message(resp.to_bytes())
    assert isinstance(parsed, Response)
    return parsed


def wire(data: bytes) -> Request | Response:
    return parse_message(data)


def new_txn(layer: TransactionLayer) -> str:
    """The id of the server transaction the single pending event announces."""
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    return ev.txn_id


def run_timers(layer: TransactionLayer, until: float) -> list[tuple[float, list[bytes]]]:
    """Fire every deadline up to ``until``; return (time, bytes sent) for each firing."""
    out: list[tuple[float, list[bytes]]] = []
    while (d := layer.next_deadline()) is not None and d <= until:
        layer.handle_timer(d)
        nd = layer.next_deadline()
        assert nd is None or nd > d
        out.append((d, [b for b, _ in layer.outbox()]))
    return out


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


def header(data: bytes, name: str) -> list[str]:
    out = []
    for line in data.decode().split("\r\n")[1:]:
        n, _, v = line.partition(":")
        if n.lower() == name.lower():
            out.append(v.strip())
    return out


# -- INVITE client ------------------------------------------------------------------------


def test_invite_client_timer_a_doubles_then_timer_b_times_out() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    [(data, dest)] = layer.outbox()
    assert data == req.to_bytes() and dest == UDP
    assert layer.state_of(tid) is TxnState.CALLING
    fired = run_timers(layer, 100.0)
    sends = [(t, b) for t, bs in fired for b in bs]
    # A: T1, 2T1, 4T1... no cap at T2 (RFC 3261 §17.1.1.2); B at 64*T1
    assert [t for t, _ in sends] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(b == data for _, b in sends)
    assert fired[-1][0] == 32.0
    assert layer.events() == [TransactionTimeout(tid, req)]
    assert layer.state_of(tid) is None and len(layer) == 0
    assert layer.counters["timeouts"] == 1 and layer.counters["retransmissions_sent"] == 6
    assert layer.next_deadline() is None


def test_invite_client_provisional_stops_retransmissions_and_timer_b() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    ringing = response_to(req, 180, "Ringing")
    layer.receive(ringing, UDP, 0.3)
    assert layer.state_of(tid) is TxnState.PROCEEDING
    assert layer.events() == [ResponseReceived(tid, ringing, UDP)]
    assert layer.next_deadline() is None  # no A, no B in Proceeding
    layer.handle_timer(1000.0)
    assert layer.outbox() == [] and layer.state_of(tid) is TxnState.PROCEEDING


def test_invite_client_non_2xx_generates_ack_and_timer_d_absorbs() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    layer.receive(response_to(req, 100, "Trying"), UDP, 0.1)
    busy = response_to(req, 486, "Busy Here", tag="uas-tag")
    layer.receive(busy, UDP, 2.0)
    assert [type(e) for e in layer.events()] == [ResponseReceived, ResponseReceived]
    [(ack, dest)] = layer.outbox()
    assert dest == UDP
    assert first_line(ack) == "ACK sip:bob@example.com SIP/2.0"
    assert header(ack, "Via") == [f"SIP/2.0/UDP 192.0.2.10:5060;branch={BRANCH}"]
    assert header(ack, "To") == ["Bob <sip:bob@example.com>;tag=uas-tag"]
    assert header(ack, "From") == ["Alice <sip:alice@example.com>;tag=a1"]
    assert header(ack, "CSeq") == ["1 ACK"]
    assert header(ack, "Call-ID") == ["call-1@example.com"]
    assert header(ack, "Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert header(ack, "Contact") == []
    assert layer.state_of(tid) is TxnState.COMPLETED
    # retransmitted final: the ACK again, nothing for the TU
    layer.receive(wire(busy.to_bytes()), UDP, 3.0)
    assert layer.outbox() == [(ack, UDP)]
    assert layer.events() == []
    assert layer.counters["retransmissions_absorbed"] == 1
    assert layer.next_deadline() == 2.0 + 32.0
    assert run_timers(layer, 33.9) == []
    layer.handle_timer(34.0)
    assert layer.state_of(tid) is None


def test_invite_client_2xx_accepted_passes_every_2xx_up() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    ok = response_to(req, 200, "OK")
    layer.receive(ok, UDP, 1.0)
    assert layer.state_of(tid) is TxnState.ACCEPTED
    assert layer.outbox() == []  # the ACK for a 2xx is the TU's
    ok2 = wire(ok.to_bytes())
    assert isinstance(ok2, Response)
    layer.receive(ok2, UDP, 1.5)
    assert layer.events() == [ResponseReceived(tid, ok, UDP), ResponseReceived(tid, ok2, UDP)]
    layer.receive(response_to(req, 180), UDP, 1.6)  # late provisional: dropped, counted
    assert layer.events() == [] and layer.counters["unexpected_dropped"] == 1
    assert layer.next_deadline() == 1.0 + 32.0  # Timer M
    layer.handle_timer(33.0)
    assert layer.state_of(tid) is None
    ok3 = wire(ok.to_bytes())
    assert isinstance(ok3, Response)
    layer.receive(ok3, UDP, 40.0)  # after Timer M: stray, still reported so the TU can re-ACK
    assert layer.events() == [StrayResponse(ok3, UDP)]
    assert layer.counters["stray_responses"] == 1


# -- non-INVITE client --------------------------------------------------------------------


def test_non_invite_client_timer_e_caps_at_t2_and_timer_f_times_out() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS")
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    assert layer.state_of(tid) is TxnState.TRYING
    fired = run_timers(layer, 100.0)
    times = [t for t, bs in fired if bs]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert layer.events() == [TransactionTimeout(tid, req)]
    assert layer.state_of(tid) is None


def test_non_invite_client_proceeding_retransmits_at_t2() -> None:
    layer = TransactionLayer()
    req = request("BYE")
    tid = layer.send_request(req, UDP, 0.0)
    layer.handle_timer(0.5)  # first E in Trying
    assert len(layer.outbox()) == 2
    layer.receive(response_to(req, 100, "Trying"), UDP, 0.6)
    assert layer.state_of(tid) is TxnState.PROCEEDING
    fired = run_timers(layer, 12.0)
    # E armed at 0.5 for 1.0 fires at 1.5, then every T2
    assert [t for t, bs in fired if bs] == [1.5, 5.5, 9.5]
    layer.handle_timer(32.0)
    assert [type(e) for e in layer.events()] == [ResponseReceived, TransactionTimeout]


def test_non_invite_client_final_then_timer_k_absorbs() -> None:
    layer = TransactionLayer()
    req = request("REGISTER")
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    ok = response_to(req, 200, "OK")
    layer.receive(ok, UDP, 0.2)
    assert layer.state_of(tid) is TxnState.COMPLETED
    assert layer.events() == [ResponseReceived(tid, ok, UDP)]
    layer.receive(wire(ok.to_bytes()), UDP, 1.0)
    assert layer.events() == [] and layer.outbox() == []
    assert layer.counters["retransmissions_absorbed"] == 1
    assert layer.next_deadline() == pytest.approx(0.2 + 5.0)  # K = T4
    layer.handle_timer(5.2)
    assert layer.state_of(tid) is None and layer.next_deadline() is None


def test_response_with_other_cseq_method_is_stray() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS")
    layer.send_request(req, UDP, 0.0)
    other = request("INFO")  # same branch, other method
    resp = response_to(other, 200, "OK")
    layer.receive(resp, UDP, 0.1)
    assert layer.events() == [StrayResponse(resp, UDP)]
    assert layer.counters["stray_responses"] == 1


# -- INVITE server ------------------------------------------------------------------------


def test_invite_server_sends_100_trying_and_absorbs_retransmissions() -> None:
    layer = TransactionLayer()
    inv = request()
    layer.receive(inv, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived) and ev.request is inv and ev.source == UDP
    tid = ev.txn_id
    [(trying, dest)] = layer.outbox()
    assert dest == UDP
    assert first_line(trying) == "SIP/2.0 100 Trying"
    assert header(trying, "To") == ["Bob <sip:bob@example.com>"]  # no tag on 100
    assert header(trying, "Via") == [f"SIP/2.0/UDP 192.0.2.10:5060;branch={BRANCH}"]
    layer.receive(request(), UDP, 0.4)  # retransmission: the 100 again
    assert layer.outbox() == [(trying, UDP)] and layer.events() == []
    ringing = make_response(inv, 180, "Ringing", to_tag="t1")
    layer.send_response(tid, ringing, 1.0)
    assert layer.outbox() == [(ringing.to_bytes(), UDP)]
    layer.receive(request(), UDP, 1.5)
    assert layer.outbox() == [(ringing.to_bytes(), UDP)]
    assert layer.counters["retransmissions_absorbed"] == 2
    assert layer.next_deadline() is None  # the TU decides when to answer
    assert layer.state_of(tid) is TxnState.PROCEEDING


def test_invite_server_non_2xx_timer_g_caps_at_t2_and_timer_h_fires() -> None:
    layer = TransactionLayer()
    inv = request()
    layer.receive(inv, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    layer.outbox()
    busy = make_response(inv, 486, "Busy Here", to_tag="t1")
    layer.send_response(ev.txn_id, busy, 0.0)
    assert layer.outbox() == [(busy.to_bytes(), UDP)]
    assert layer.state_of(ev.txn_id) is TxnState.COMPLETED
    fired = run_timers(layer, 100.0)
    times = [t for t, bs in fired if bs]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert all(b == [busy.to_bytes()] for _, b in fired if b)
    assert fired[-1][0] == 32.0  # H
    assert layer.state_of(ev.txn_id) is None
    assert layer.counters["ack_timeouts"] == 1
    assert layer.events() == []


def test_invite_server_ack_confirms_then_timer_i() -> None:
    layer = TransactionLayer()
    inv = request()
    layer.receive(inv, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    tid = ev.txn_id
    layer.send_response(tid, make_response(inv, 404, "Not Found", to_tag="t1"), 0.0)
    layer.outbox()
    layer.receive(request(), UDP, 0.2)  # INVITE retransmission: the 404 again
    assert len(layer.outbox()) == 1
    layer.receive(request("ACK", to_tag="t1"), UDP, 0.7)
    assert layer.state_of(tid) is TxnState.CONFIRMED
    assert layer.events() == [] and layer.counters["acks_absorbed"] == 1
    assert layer.next_deadline() == pytest.approx(0.7 + 5.0)  # I = T4; G stopped
    layer.receive(request("ACK", to_tag="t1"), UDP, 1.0)  # ACK retransmission absorbed
    layer.receive(request(), UDP, 1.1)  # so is a late INVITE
    assert layer.outbox() == [] and layer.events() == []
    layer.handle_timer(5.7)
    assert layer.state_of(tid) is None and len(layer) == 0


def test_invite_server_2xx_accepted_no_retransmission_here() -> None:
    layer = TransactionLayer()
    inv = request()
    layer.receive(inv, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    tid = ev.txn_id
    layer.outbox()
    ok = make_response(inv, 200, "OK", to_tag="t1")
    layer.send_response(tid, ok, 0.0)
    assert layer.outbox() == [(ok.to_bytes(), UDP)]
    assert layer.state_of(tid) is TxnState.ACCEPTED
    layer.receive(request(), UDP, 0.5)  # INVITE retransmission: absorbed, TU not bothered
    assert layer.outbox() == [] and layer.events() == []
    assert layer.next_deadline() == 32.0  # Timer L only: no 2xx retransmission here
    layer.send_response(tid, ok, 1.0)  # the TU's own 2xx retransmission goes out
    assert layer.outbox() == [(ok.to_bytes(), UDP)]
    ack = request("ACK", branch="z9hG4bKother", to_tag="t1")  # the 2xx ACK: its own branch
    layer.receive(ack, UDP, 1.2)
    assert layer.events() == [AckReceived(ack, UDP)]
    with pytest.raises(TransactionError):
        layer.send_response(tid, make_response(inv, 486, "Busy Here", to_tag="t1"), 1.3)
    layer.handle_timer(32.0)
    assert layer.state_of(tid) is None and layer.outbox() == []


def test_invite_server_ack_with_invite_branch_in_accepted_goes_to_tu() -> None:
    layer = TransactionLayer()
    inv = request()
    layer.receive(inv, UDP, 0.0)
    tid = new_txn(layer)
    layer.send_response(tid, make_response(inv, 200, "OK", to_tag="t1"), 0.0)
    ack = request("ACK", to_tag="t1")
    layer.receive(ack, UDP, 0.1)
    assert layer.events() == [AckReceived(ack, UDP)]


def test_ack_matching_nothing_goes_to_tu() -> None:
    layer = TransactionLayer()
    ack = request("ACK", branch="z9hG4bKnew", to_tag="x")
    layer.receive(ack, UDP, 0.0)
    assert layer.events() == [AckReceived(ack, UDP)]
    assert layer.outbox() == [] and len(layer) == 0


def test_early_ack_is_dropped_and_counted() -> None:
    layer = TransactionLayer()
    layer.receive(request(), UDP, 0.0)
    layer.events()
    layer.outbox()
    layer.receive(request("ACK"), UDP, 0.1)
    assert layer.events() == [] and layer.outbox() == []
    assert layer.counters["unexpected_dropped"] == 1


# -- non-INVITE server --------------------------------------------------------------------


def test_non_invite_server_trying_absorbs_then_timer_j() -> None:
    layer = TransactionLayer()
    opt = request("OPTIONS")
    layer.receive(opt, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    assert layer.outbox() == []  # no 100 for non-INVITE
    layer.receive(request("OPTIONS"), UDP, 0.5)  # Trying: nothing to resend
    assert layer.outbox() == [] and layer.counters["retransmissions_absorbed"] == 1
    layer.send_response(ev.txn_id, make_response(opt, 100, "Trying"), 0.6)
    assert layer.state_of(ev.txn_id) is TxnState.PROCEEDING
    layer.outbox()
    ok = make_response(opt, 200, "OK", to_tag="t")
    layer.send_response(ev.txn_id, ok, 1.0)
    assert layer.outbox() == [(ok.to_bytes(), UDP)]
    assert layer.state_of(ev.txn_id) is TxnState.COMPLETED
    layer.receive(request("OPTIONS"), UDP, 2.0)
    assert layer.outbox() == [(ok.to_bytes(), UDP)]
    with pytest.raises(TransactionError):
        layer.send_response(ev.txn_id, ok, 2.0)
    assert layer.next_deadline() == 33.0  # J = 64*T1
    layer.handle_timer(33.0)
    assert layer.state_of(ev.txn_id) is None
    layer.receive(request("OPTIONS"), UDP, 34.0)  # after J: a new transaction
    assert [type(e) for e in layer.events()] == [RequestReceived]


# -- reliable transports ------------------------------------------------------------------


def test_reliable_invite_client_no_retransmits_and_zero_timer_d() -> None:
    layer = TransactionLayer()
    req = request(via="SIP/2.0/TCP 192.0.2.10:5060")
    tid = layer.send_request(req, TCP, 0.0)
    layer.outbox()
    assert layer.next_deadline() == 32.0  # B only, no A
    layer.receive(response_to(req, 603, "Decline"), TCP, 1.0)
    [(ack, dest)] = layer.outbox()
    assert first_line(ack).startswith("ACK ") and dest == TCP
    assert layer.state_of(tid) is None and layer.next_deadline() is None  # D = 0


def test_reliable_non_invite_client_times_out_without_retransmits() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS", via="SIP/2.0/TCP 192.0.2.10:5060")
    tid = layer.send_request(req, TCP, 0.0)
    layer.outbox()
    assert run_timers(layer, 100.0) == [(32.0, [])]
    assert layer.events() == [TransactionTimeout(tid, req)]
    tid = layer.send_request(request("OPTIONS", branch="z9hG4bK2"), TCP, 100.0)
    layer.receive(response_to(request("OPTIONS", branch="z9hG4bK2"), 200), TCP, 100.1)
    assert layer.state_of(tid) is None  # K = 0


def test_reliable_servers_zero_i_and_j_and_no_g() -> None:
    layer = TransactionLayer()
    inv = request(via="SIP/2.0/TCP 192.0.2.10:5060")
    layer.receive(inv, TCP, 0.0)
    tid = new_txn(layer)
    assert [d for _, d in layer.outbox()] == [TCP]  # 100 on the same connection
    layer.send_response(tid, make_response(inv, 480, "Unavailable", to_tag="t"), 0.0)
    assert layer.next_deadline() == 32.0  # H only, no G
    layer.receive(request("ACK", via="SIP/2.0/TCP 192.0.2.10:5060", to_tag="t"), TCP, 0.1)
    assert layer.state_of(tid) is None  # I = 0
    opt = request("OPTIONS", via="SIP/2.0/TCP 192.0.2.10:5060", branch="z9hG4bKo")
    layer.receive(opt, TCP, 1.0)
    tid = new_txn(layer)
    layer.send_response(tid, make_response(opt, 200, "OK"), 1.0)
    assert layer.state_of(tid) is None and len(layer) == 0  # J = 0
    assert layer.next_deadline() is None


# -- Via stamping (RFC 3581, §18.2.1) -----------------------------------------------------


def test_rport_and_received_are_stamped_into_responses() -> None:
    layer = TransactionLayer()
    nat = Address("udp", "203.0.113.7", 40000)
    req = request(via="SIP/2.0/UDP 10.0.0.5:5060", via_params=";rport;x=1",
                  extra_via="SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
    layer.receive(req, nat, 0.0)
    [(trying, dest)] = layer.outbox()
    assert dest == nat
    assert header(trying, "Via") == [
        f"SIP/2.0/UDP 10.0.0.5:5060;branch={BRANCH};rport=40000;x=1;received=203.0.113.7",
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp",
    ]
    assert req.top_via.params["rport"] == "40000"  # cache invalidated
    # the retransmission is stamped the same way and still matches
    layer.receive(request(via="SIP/2.0/UDP 10.0.0.5:5060", via_params=";rport;x=1"), nat, 0.5)
    assert len(layer) == 1 and layer.counters["retransmissions_absorbed"] == 1


def test_received_only_when_host_differs() -> None:
    same = request("OPTIONS")
    before = same.to_bytes()
    layer = TransactionLayer()
    layer.receive(same, UDP, 0.0)
    assert same.to_bytes() == before
    other = request("OPTIONS", branch="z9hG4bK2", via="SIP/2.0/UDP host.example.com:5060")
    layer.receive(other, UDP, 0.0)
    assert other.top_via.params["received"] == "192.0.2.10"
    assert "rport" not in other.top_via.params
    # rport asked, host equal: rport filled and received added (RFC 3581 §4)
    both = request("OPTIONS", branch="z9hG4bK3", via_params=";rport")
    layer.receive(both, UDP, 0.0)
    assert both.top_via.params == {"branch": "z9hG4bK3", "rport": "5060",
                                   "received": "192.0.2.10"}


# -- RFC 2543 matching --------------------------------------------------------------------


def test_rfc2543_matching_without_magic_cookie() -> None:
    layer = TransactionLayer()
    inv = request(branch="oldstyle1")
    layer.receive(inv, UDP, 0.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived)
    tid = ev.txn_id
    layer.outbox()
    layer.receive(request(branch="oldstyle1"), UDP, 0.3)  # same everything: retransmission
    assert layer.events() == [] and len(layer.outbox()) == 1
    layer.receive(request(branch="oldstyle1", cseq=2), UDP, 0.4)  # new CSeq: new txn
    [ev2] = layer.events()
    assert isinstance(ev2, RequestReceived) and ev2.txn_id != tid
    layer.outbox()
    layer.send_response(tid, make_response(inv, 486, "Busy Here", to_tag="t9"), 1.0)
    layer.outbox()
    wrong = request("ACK", branch="oldstyle1", to_tag="nope")
    layer.receive(wrong, UDP, 1.1)  # other To tag: not ours
    assert layer.events() == [AckReceived(wrong, UDP)]
    assert layer.state_of(tid) is TxnState.COMPLETED
    layer.receive(request("ACK", branch="oldstyle1", to_tag="t9"), UDP, 1.2)
    assert layer.state_of(tid) is TxnState.CONFIRMED and layer.events() == []
    # a CANCEL from the same peer matches the INVITE of CSeq 2 (To tag as in the INVITE)
    cancel = request("CANCEL", branch="oldstyle1", cseq=2)
    layer.receive(cancel, UDP, 1.3)
    [cev] = layer.events()
    assert isinstance(cev, RequestReceived) and cev.txn_id not in (tid, ev2.txn_id)
    assert layer.server_txn_for_cancel(cancel) == ev2.txn_id
    assert layer.server_txn_for_cancel(request("CANCEL", branch="oldstyle1", cseq=7)) is None


# -- CANCEL -------------------------------------------------------------------------------


def test_cancel_after_provisional_is_built_per_9_1() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    layer.receive(response_to(req, 180, "Ringing"), UDP, 0.2)
    cid = layer.cancel_request(tid, 1.0)
    assert cid is not None and cid != tid
    [(cancel, dest)] = layer.outbox()
    assert dest == UDP
    assert first_line(cancel) == "CANCEL sip:bob@example.com SIP/2.0"
    assert header(cancel, "Via") == [f"SIP/2.0/UDP 192.0.2.10:5060;branch={BRANCH}"]
    assert header(cancel, "CSeq") == ["1 CANCEL"]
    assert header(cancel, "To") == ["Bob <sip:bob@example.com>"]
    assert header(cancel, "From") == ["Alice <sip:alice@example.com>;tag=a1"]
    assert header(cancel, "Call-ID") == ["call-1@example.com"]
    assert header(cancel, "Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert layer.state_of(cid) is TxnState.TRYING
    assert layer.request_of(cid).method == "CANCEL"
    assert layer.cancel_request(tid, 1.1) == cid and layer.outbox() == []  # once only
    # the 200 to CANCEL and the 487 to INVITE land on their own transactions
    ok = response_to(layer.request_of(cid), 200, "OK")
    layer.receive(ok, UDP, 1.2)
    terminated = response_to(req, 487, "Request Terminated")
    layer.receive(terminated, UDP, 1.3)
    assert layer.events()[-2:] == [ResponseReceived(cid, ok, UDP),
                                   ResponseReceived(tid, terminated, UDP)]
    assert layer.state_of(tid) is TxnState.COMPLETED
    assert layer.cancel_request(tid, 1.4) is None  # already final


def test_cancel_before_provisional_waits_for_the_first_1xx() -> None:
    layer = TransactionLayer()
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.outbox()
    cid = layer.cancel_request(tid, 0.1)
    assert cid is not None and layer.state_of(cid) is None
    assert layer.request_of(cid).method == "CANCEL"
    assert layer.outbox() == []
    layer.handle_timer(0.5)  # Timer A still retransmits the INVITE
    assert [first_line(b) for b, _ in layer.outbox()] == ["INVITE sip:bob@example.com SIP/2.0"]
    layer.receive(response_to(req, 100, "Trying"), UDP, 0.7)
    assert [first_line(b) for b, _ in layer.outbox()] == ["CANCEL sip:bob@example.com SIP/2.0"]
    assert layer.state_of(cid) is TxnState.TRYING


def test_cancel_without_final_ends_invite_after_64_t1() -> None:
    layer = TransactionLayer(timers=SipTimers(t1=0.1, t2=0.4, t4=0.5, d=3.2))
    req = request()
    tid = layer.send_request(req, UDP, 0.0)
    layer.receive(response_to(req, 180, "Ringing"), UDP, 0.05)
    cid = layer.cancel_request(tid, 1.0)
    layer.events()
    run_timers(layer, 100.0)
    evs = layer.events()
    assert TransactionTimeout(tid, req) in evs
    assert any(isinstance(e, TransactionTimeout) and e.txn_id == cid for e in evs)
    assert len(layer) == 0


def test_server_txn_for_cancel_matches_the_invite() -> None:
    layer = TransactionLayer()
    layer.receive(request(), UDP, 0.0)
    inv_id = new_txn(layer)
    cancel = request("CANCEL")
    layer.receive(cancel, UDP, 1.0)
    [ev] = layer.events()
    assert isinstance(ev, RequestReceived) and ev.txn_id != inv_id
    assert layer.server_txn_for_cancel(cancel) == inv_id
    assert layer.server_txn_for_cancel(request("CANCEL", branch="z9hG4bKzz")) is None
    other_host = request("CANCEL", via="SIP/2.0/UDP 198.51.100.1:5060")
    assert layer.server_txn_for_cancel(other_host) is None  # sent-by must match too


def test_cancel_on_non_invite_is_an_error() -> None:
    layer = TransactionLayer()
    tid = layer.send_request(request("OPTIONS"), UDP, 0.0)
    with pytest.raises(TransactionError):
        layer.cancel_request(tid, 0.0)
    assert layer.cancel_request("c:INVITE:nothing", 0.0) is None


# -- misuse and strays --------------------------------------------------------------------


def test_stray_response_is_counted_and_reported() -> None:
    layer = TransactionLayer()
    resp = response_to(request(branch="z9hG4bKunknown"), 200, "OK")
    layer.receive(resp, UDP, 0.0)
    assert layer.events() == [StrayResponse(resp, UDP)]
    assert layer.counters["stray_responses"] == 1 and layer.outbox() == []


def test_api_misuse_raises_transaction_error() -> None:
    layer = TransactionLayer()
    inv = request()
    with pytest.raises(TransactionError):
        layer.send_response("s:nope", make_response(inv, 200, "OK"), 0.0)
    with pytest.raises(TransactionError):
        layer.send_request(request("ACK"), UDP, 0.0)
    with pytest.raises(TransactionError):
        layer.send_request(request(branch=""), UDP, 0.0)
    tid = layer.send_request(inv, UDP, 0.0)
    with pytest.raises(TransactionError):
        layer.send_request(request(), UDP, 0.0)  # same branch and method
    with pytest.raises(TransactionError):
        layer.send_response(tid, make_response(inv, 200, "OK"), 0.0)  # a client txn
    with pytest.raises(TransactionError):
        layer.request_of("c:OPTIONS:none")


def test_send_stateless_goes_straight_to_outbox() -> None:
    layer = TransactionLayer()
    ack = request("ACK", branch="z9hG4bKack", to_tag="t")
    layer.send_stateless(ack, UDP)
    assert layer.outbox() == [(ack.to_bytes(), UDP)]
    assert len(layer) == 0 and layer.next_deadline() is None


def test_timers_helpers() -> None:
    t = SipTimers()
    assert (t.timer_b, t.timer_f, t.timer_h, t.timer_l, t.timer_m) == (32.0,) * 5
    assert (t.timer_d(False), t.timer_i(False), t.timer_j(False), t.timer_k(False)) == (
        32.0, 5.0, 32.0, 5.0)
    assert (t.timer_d(True), t.timer_i(True), t.timer_j(True), t.timer_k(True)) == (0.0,) * 4
    assert [t.backoff(x) for x in (0.5, 1.0, 2.0, 4.0)] == [1.0, 2.0, 4.0, 4.0]
    with pytest.raises(ValueError):
        SipTimers(t1=1.0, t2=0.5)
