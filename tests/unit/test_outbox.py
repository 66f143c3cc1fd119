"""The webhook outbox (call/outbox) with a fake clock: in order, one at a time, retried after an
exponential back-off that is capped, and its position only moves past answered events."""

from __future__ import annotations

import pytest

from ccswitch.call.outbox import Backoff, Outbox, Pending, sign, verify


def test_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert verify("Jefe", b"x", sign("Jefe", b"x"))
    assert not verify("Jefe", b"y", sign("Jefe", b"x"))
    assert not verify("other", b"x", sign("Jefe", b"x"))


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    b = Backoff(first=1.0, factor=2.0, cap=30.0)
    assert [b.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert Backoff(cap=5).delay(10_000) == 5


def ev(seq: int) -> Pending:
    return Pending(seq, f"{{\"seq\":{seq}}}".encode())


def test_events_go_out_in_order_one_at_a_time_and_failures_wait_their_backoff() -> None:
    box = Outbox(delivered=10, backoff=Backoff(first=1.0, factor=2.0, cap=4.0))
    assert box.needs_page and box.due(0.0) is None
    box.load([ev(11), ev(12), ev(14)], scanned_to=20)
    now = 100.0
    first = box.due(now)
    assert first is not None and first.seq == 11
    assert box.due(now) is None  # one in flight: the next waits for its answer
    retry_times = []
    for _ in range(4):  # the receiver is down
        retry_times.append(box.failed(11, now) - now)
        assert box.due(now) is None
        assert box.next_deadline() == now + retry_times[-1]
        assert box.due(now + retry_times[-1] - 0.01) is None
        now += retry_times[-1]
        again = box.due(now)
        assert again is not None and again.seq == 11  # the same event, never the next one
    assert retry_times == [1.0, 2.0, 4.0, 4.0]
    assert box.delivered == 10 and box.backlog(20) == 10
    box.succeeded(11)
    assert box.delivered == 11 and box.attempts == 0 and box.next_deadline() is None
    got = []
    while (item := box.due(now)) is not None:
        got.append(item.seq)
        box.succeeded(item.seq)
    assert got == [12, 14]
    assert box.delivered == 20 and box.needs_page and box.backlog(20) == 0
    assert box.failures == 4 and box.sent == 3


def test_a_page_with_nothing_for_the_hook_moves_its_position() -> None:
    box = Outbox(delivered=0, backoff=Backoff())
    box.load([], scanned_to=500)
    assert box.delivered == 500 and box.needs_page
    box.load([ev(400), ev(501)], scanned_to=501)  # a seq already scanned is not sent twice
    item = box.due(0.0)
    assert item is not None and item.seq == 501


def test_answers_must_name_the_event_in_flight() -> None:
    box = Outbox(delivered=0, backoff=Backoff())
    box.load([ev(1), ev(2)], scanned_to=2)
    assert box.due(0.0) is not None
    with pytest.raises(AssertionError):
        box.succeeded(2)
