"""Random input sequences over the RFC 3262 tables (hypothesis).

UAS (``ReliableProvisionals``), for any mix of provisionals (with or without SDP), PRACKs
(matching or not), finals and time passing:
- at most one reliable provisional is unacknowledged: a new RSeq goes out only after the PRACK
  of the one before, and RSeqs go out as consecutive numbers;
- a 2xx never goes out while a provisional with SDP is unacknowledged;
- nothing is retransmitted after its PRACK or after a final, and a retransmission repeats
  the unacknowledged provisional only;
- the give-up comes exactly 64·T1 after the unacknowledged provisional was first sent, and
  after it nothing more goes out;
- ``next_deadline`` is never in the past after ``handle_timer``.

UAC (``ProvisionalAcks``): for any sequence of RSeqs of one early dialog, the PRACKed ones
are the first one and then consecutive numbers, each PRACKed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.sip.message import Request, Response, make_response, parse_message
from ccswitch.sip.prack import (
    Heard,
    ProvisionalAcks,
    RAck,
    ReliableProvisionals,
    UasState,
)

T1 = 0.5
FIRST = 1000
_INVITE = parse_message(
    b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h:1;branch=z9hG4bKq\r\nFrom: <sip:a@x>;tag=f\r\n"
    b"To: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\n")
assert isinstance(_INVITE, Request)


def response(status: int, sdp: bool) -> Response:
    resp = make_response(_INVITE, status, "x", to_tag="t")
    if sdp:
        resp.body = b"v=0\r\n"
    return resp


@dataclass(frozen=True)
class Prov:
    status: int
    sdp: bool


@dataclass(frozen=True)
class Prack:
    offset: int  # 0: names the last RSeq sent; else another one


@dataclass(frozen=True)
class Final:
    status: int


@dataclass(frozen=True)
class Wait:
    seconds: float


steps = st.lists(st.one_of(
    st.builds(Prov, st.sampled_from([180, 181, 182, 183]), st.booleans()),
    st.builds(Prack, st.sampled_from([0, 0, 0, -1, 1])),
    st.builds(Final, st.sampled_from([200, 486, 500])),
    st.builds(Wait, st.sampled_from([0.1, 0.5, 1.0, 4.0, 20.0, 40.0])),
), max_size=30)


@settings(max_examples=300, deadline=None)
@given(steps, st.booleans())
def test_uas_invariants(script: list[object], tcp: bool) -> None:
    rel = ReliableProvisionals(invite_cseq=3, next_rseq=FIRST, t1=T1, reliable_transport=tcp)
    now = 0.0
    last_rseq = FIRST - 1  # the last RSeq that went out
    unacked: Response | None = None  # what went out and waits for its PRACK
    first_sent = 0.0
    final_out = False
    final_given = False  # the TU gives one final (the transaction layer refuses a second)
    gave_up = False

    def drain() -> None:
        nonlocal last_rseq, unacked, first_sent, final_out
        for out in rel.outbox():
            assert not final_out and not gave_up, "nothing after the final or the give-up"
            if out.status >= 200:
                if out.status < 300:
                    assert unacked is None or not unacked.body, "2xx before the SDP's PRACK"
                final_out = True
                unacked = None  # a final ends the provisionals: a late PRACK is 481
                continue
            rseq = int(out.headers.get("rseq") or "0")
            if out is unacked:  # a retransmission
                assert rseq == last_rseq
                continue
            assert unacked is None, "a second reliable provisional while one is unacked"
            assert rseq == last_rseq + 1, "RSeqs go out consecutively"
            last_rseq, unacked, first_sent = rseq, out, now

    for step in script:
        if isinstance(step, Prov):
            rel.provisional(response(step.status, step.sdp), now)
        elif isinstance(step, Prack):
            status = rel.prack(RAck(last_rseq + step.offset, 3, "INVITE"), now)
            if status == 200:
                assert step.offset == 0 and unacked is not None
                unacked = None
            else:
                assert step.offset != 0 or unacked is None
        elif isinstance(step, Final):
            if final_given or gave_up:
                continue
            final_given = True
            rel.final(response(step.status, False), now)
        else:
            assert isinstance(step, Wait)
            end = now + step.seconds
            while (d := rel.next_deadline()) is not None and d <= end:
                assert d >= now
                now = d
                rel.handle_timer(now)
                if rel.gave_up and not gave_up:
                    assert unacked is not None and now == first_sent + 64 * T1
                    drain()
                    gave_up, unacked = True, None
                    continue
                drain()
            now = end
        drain()
        if rel.gave_up:
            gave_up = True
        d = rel.next_deadline()
        assert d is None or d >= now
        if final_out or gave_up:
            assert rel.state is UasState.OVER
            assert d is None


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**31 - 1), st.lists(st.integers(-3, 3), max_size=30))
def test_uac_pracks_the_first_then_consecutive_rseqs_once(start: int,
                                                           moves: list[int]) -> None:
    acks = ProvisionalAcks()
    pracked: list[int] = []
    rseq = start
    for move in moves:
        rseq = max(1, rseq + move)
        resp = response(183, True)
        resp.headers.add("Require", "100rel")
        resp.headers.add("RSeq", str(rseq))
        if acks.heard(resp) is Heard.NEW:
            pracked.append(rseq)
    if moves:
        assert pracked and pracked[0] == max(1, start + moves[0])  # the first is PRACKed
        assert pracked == list(range(pracked[0], pracked[0] + len(pracked)))
