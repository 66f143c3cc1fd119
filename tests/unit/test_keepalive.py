"""OPTIONS keep-alive: probes on a fake clock, N misses -> down, first answer -> up."""

from __future__ import annotations

import random

import pytest

from ccswitch.ids import Ids
from ccswitch.sip.dialog import LocalContact
from ccswitch.sip.keepalive import (
    TABLE,
    Keepalive,
    KeepaliveInput,
    KeepaliveState,
    TrunkDown,
    TrunkUp,
)
from ccswitch.sip.message import Request, make_response, parse_message

ME = LocalContact("udp", "127.0.0.1", 5060)


def keepalive(**kw: object) -> Keepalive:
    args: dict[str, object] = {"trunk": "carrier", "uri": "sip:127.0.0.1:5070",
                               "from_uri": "sip:ccswitch@127.0.0.1", "me": ME,
                               "ids": Ids(random.Random(1)), "now": 0.0, "interval": 30.0,
                               "timeout": 5.0, "down_after": 3}
    args.update(kw)
    return Keepalive(**args)  # type: ignore[arg-type]


def probe(k: Keepalive, now: float) -> Request:
    assert k.next_deadline() is not None
    k.handle_timer(now)
    out = k.outbox()
    assert len(out) == 1
    return out[0]


def test_the_probe_is_a_valid_options_request() -> None:
    k = keepalive(user_agent="ccswitch/0.1")
    req = probe(k, 0.0)
    parsed = parse_message(req.to_bytes())
    assert isinstance(parsed, Request)
    assert (parsed.method, parsed.uri_text) == ("OPTIONS", "sip:127.0.0.1:5070")
    assert parsed.top_via.branch.startswith("z9hG4bK")
    assert parsed.headers.get("User-Agent") == "ccswitch/0.1"
    assert k.next_deadline() == 5.0


def test_first_answer_up_then_probes_every_interval() -> None:
    k = keepalive()
    req = probe(k, 0.0)
    k.receive(make_response(req, 200, "OK"), 0.1)
    assert k.events() == [TrunkUp("carrier", 200, 0.1)]
    assert k.state is KeepaliveState.UP
    assert k.next_deadline() == pytest.approx(30.1)
    k.handle_timer(30.0)
    assert k.outbox() == []
    req2 = probe(k, 30.1)
    assert req2.cseq.seq == 2
    assert req2.call_id == req.call_id
    k.receive(make_response(req2, 200, "OK"), 30.2)
    assert k.events() == []


@pytest.mark.parametrize("status", [404, 405, 483, 500, 503, 603])
def test_any_final_answer_but_408_is_alive(status: int) -> None:
    k = keepalive()
    req = probe(k, 0.0)
    k.receive(make_response(req, status, "Whatever"), 1.0)
    assert k.state is KeepaliveState.UP


def test_three_misses_down_first_answer_up() -> None:
    k = keepalive()
    now = 0.0
    for i in range(3):
        req = probe(k, now)
        if i == 1:
            k.receive(make_response(req, 408, "Request Timeout"), now + 1)
            now += 1 + 30
        else:
            now += 5
            k.handle_timer(now)  # no answer within the timeout
            now += 30
    assert k.state is KeepaliveState.DOWN
    assert not k.up
    (down,) = k.events()
    assert isinstance(down, TrunkDown)
    assert down.misses == 3
    req = probe(k, now)
    k.timed_out(now + 1)
    assert k.events() == []  # already down: no new event
    req = probe(k, now + 31)
    k.receive(make_response(req, 200, "OK"), now + 32)
    assert k.events() == [TrunkUp("carrier", 200, now + 32)]
    assert k.misses == 0


def test_a_miss_between_answers_does_not_mark_down() -> None:
    k = keepalive(down_after=2)
    req = probe(k, 0.0)
    k.receive(make_response(req, 200, "OK"), 0.0)
    probe(k, 30.0)
    k.handle_timer(35.0)
    req = probe(k, 65.0)
    k.receive(make_response(req, 200, "OK"), 65.0)
    probe(k, 95.0)
    k.handle_timer(100.0)
    assert k.state is KeepaliveState.UP
    assert [type(e) for e in k.events()] == [TrunkUp]


def test_stale_provisional_and_foreign_answers_are_ignored() -> None:
    k = keepalive()
    old = probe(k, 0.0)
    k.handle_timer(5.0)  # miss
    req = probe(k, 35.0)
    k.receive(make_response(old, 200, "OK"), 36.0)  # answer to the old probe
    k.receive(make_response(req, 100, "Trying"), 36.0)
    other = make_response(req, 200, "OK")
    other.headers.set("Call-ID", "someone-else")
    k.receive(other, 36.0)
    assert k.state is KeepaliveState.UNKNOWN
    assert k.up  # unknown is usable


def test_stop() -> None:
    k = keepalive()
    probe(k, 0.0)
    k.stop()
    assert k.next_deadline() is None
    k.handle_timer(100.0)
    assert k.outbox() == []


def test_table_is_total() -> None:
    assert set(TABLE) == {(s, i) for s in KeepaliveState for i in KeepaliveInput}


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        keepalive(down_after=0)
