"""The keep-alive of a trunk with several addresses: one probe per address, the trunk down only
when no address answers, DNS changes followed (fake clock, scripted answers)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.dialog import LocalContact
from ccswitch.sip.keepalive import KeepaliveState, TrunkDown, TrunkUp
from ccswitch.sip.message import Request, make_response
from ccswitch.sip.probes import AddressDown, AddressUp, TrunkProbes, trunk_state

A1, A2, A3 = (Address("udp", "192.0.2.1", 5060), Address("udp", "192.0.2.2", 5060),
              Address("tcp", "192.0.2.3", 5060))
S = KeepaliveState


def probes(*targets: Address, down_after: int = 2) -> TrunkProbes:
    p = TrunkProbes(trunk="carrier", uri="sip:carrier.example", from_uri="sip:ccswitch@x",
                    local=lambda t: LocalContact(t, "127.0.0.1", 5060),
                    ids=Ids(random.Random(1)), interval=30.0, timeout=5.0,
                    down_after=down_after)
    p.retarget(targets, 0.0)
    return p


def tick(p: TrunkProbes, now: float) -> dict[Address, Request]:
    p.handle_timer(now)
    return dict(p.outbox())


def answer(p: TrunkProbes, sent: dict[Address, Request], who: set[Address], now: float) -> None:
    for dest, req in sent.items():
        if dest in who:
            p.receive(dest, make_response(req, 200, "OK", to_tag="x"), now)


def test_each_address_is_probed_and_one_answer_keeps_the_trunk_up() -> None:
    p = probes(A1, A2)
    sent = tick(p, 0.0)
    assert set(sent) == {A1, A2}
    assert all(r.method == "OPTIONS" for r in sent.values())
    answer(p, sent, {A2}, 0.1)
    assert p.events() == [AddressUp("carrier", A2, 200, 0.1), TrunkUp("carrier", 200, 0.1)]
    # A1 never answers: down after two misses, the trunk stays up
    tick(p, 5.0)  # A1's answer-by: a miss; its next probe 30 s later
    sent = tick(p, 30.1)
    assert set(sent) == {A2}
    answer(p, sent, {A2}, 30.2)
    assert set(tick(p, 35.0)) == {A1}
    tick(p, 40.0)
    assert p.events() == [AddressDown("carrier", A1, 2, 40.0)]
    assert p.up and p.state is S.UP and p.down_addresses == {A1}


def test_the_trunk_is_down_only_when_no_address_answers_and_up_at_the_first_answer() -> None:
    p = probes(A1, A2)
    for now in (0.0, 5.0, 35.0, 40.0):  # probe, miss, probe, miss
        tick(p, now)
    now = 70.0
    evs = p.events()
    assert [type(e) for e in evs] == [AddressDown, AddressDown, TrunkDown]
    assert not p.up and p.down_addresses == {A1, A2}
    sent = tick(p, now)
    answer(p, sent, {A1}, now + 0.1)
    assert p.events() == [AddressUp("carrier", A1, 200, now + 0.1),
                          TrunkUp("carrier", 200, now + 0.1)]


def test_a_new_dns_answer_keeps_known_addresses_and_probes_new_ones_at_once() -> None:
    p = probes(A1, A2)
    sent = tick(p, 0.0)
    answer(p, sent, {A1, A2}, 0.1)
    p.events()
    p.retarget((A2, A3), 10.0)
    assert p.addresses == (A2, A3)
    sent = tick(p, 10.0)
    assert set(sent) == {A3}  # A2 keeps its schedule (next at 30.1); A3 is new
    assert sent[A3].headers.get("Via", "").startswith("SIP/2.0/TCP")
    # a late answer of A1 (gone) is ignored
    p.receive(A1, make_response(sent[A3], 200, "OK", to_tag="x"), 10.2)
    assert p.events() == [] and p.state is S.UP


def test_when_every_address_was_down_a_new_address_makes_the_trunk_usable_again() -> None:
    p = probes(A1, down_after=1)
    tick(p, 0.0)
    tick(p, 5.0)
    assert not p.up
    p.retarget((A1, A2), 6.0)
    assert p.up and p.state is S.UNKNOWN  # A2 not probed yet: calls may try it


STATES = st.lists(st.sampled_from(list(S)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(STATES)
def test_trunk_state_is_down_iff_every_address_is_down_and_up_iff_one_is_up(
        states: list[KeepaliveState]) -> None:
    got = trunk_state(states)
    assert (got is S.DOWN) == (bool(states) and all(s is S.DOWN for s in states))
    assert (got is S.UP) == (S.UP in states)


def test_the_late_timer_f_of_an_older_probe_is_not_a_second_miss() -> None:
    """The transaction layer gives up on a probe (Timer F, 32 s) long after the keep-alive
    counted it missed (5 s): that report must not count against the probe now out."""
    p = probes(A1, down_after=2)
    first = tick(p, 0.0)[A1]
    tick(p, 5.0)  # missed
    second = tick(p, 35.0)[A1]
    p.timed_out(A1, 36.0, first.cseq.seq)
    assert p.state is S.UNKNOWN and p.events() == []
    p.timed_out(A1, 37.0, second.cseq.seq)
    assert p.state is S.DOWN
