"""Inbound trunk calls: peers recognised by source address, DIDs routed to targets."""

from __future__ import annotations

import pytest

from ccswitch.dialplan.inbound import (
    DidMatch,
    DidNotFound,
    DidRouter,
    Peer,
    TrunkPeers,
    parse_network,
    parse_peer,
)
from ccswitch.dialplan.numbers import NumberPlan
from ccswitch.dialplan.targets import IvrTarget, QueueTarget, RoomTarget, parse_target

DEMO_DIDS = {"5550700": IvrTarget("700"), "5550800": QueueTarget("support"),
             "5550850": RoomTarget("850")}


def peers() -> TrunkPeers:
    return TrunkPeers({
        "carrier": [parse_peer("127.0.0.1/32")],
        "carrier2": [parse_peer("127.0.0.0/8"), parse_peer("2001:db8::/32")],
        "wide": [parse_peer("0.0.0.0/0")],
    })


@pytest.mark.parametrize(("host", "trunk"), [
    ("127.0.0.1", "carrier"), ("127.0.0.2", "carrier2"), ("[2001:db8::5]", "carrier2"),
    ("2001:db8::5", "carrier2"), ("::ffff:127.0.0.1", "carrier"), ("192.0.2.1", "wide"),
    ("2001:db9::1", None), ("carrier.example", None), ("", None)])
def test_most_specific_network_wins(host: str, trunk: str | None) -> None:
    assert peers().match(host) == trunk


def test_first_trunk_wins_on_equal_networks() -> None:
    p = TrunkPeers({"a": [parse_peer("10.0.0.0/8")], "b": [parse_peer("10.0.0.0/8")]})
    assert p.match("10.1.2.3") == "a"


def test_demo_carriers_differ_by_port_and_phones_on_loopback_are_no_carrier() -> None:
    p = TrunkPeers({"carrier": [parse_peer("127.0.0.1:5070")],
                    "carrier2": [parse_peer("127.0.0.1:5072")]})
    assert p.match("127.0.0.1", 5070) == "carrier"
    assert p.match("127.0.0.1", 5072) == "carrier2"
    assert p.match("127.0.0.1", 5062) is None  # a baresip phone on the same host
    assert p.match("127.0.0.1") is None


def test_a_port_is_more_specific_than_none() -> None:
    p = TrunkPeers({"any": [parse_peer("127.0.0.1")], "one": [parse_peer("127.0.0.1:5070")]})
    assert p.match("127.0.0.1", 5070) == "one"
    assert p.match("127.0.0.1", 5071) == "any"


def test_repeated_and_many_sources_keep_their_answers() -> None:
    """``match`` remembers answers by source (bounded): asking again, or after more distinct
    sources than it keeps, answers as the first time."""
    p = TrunkPeers({"carrier": [parse_peer("127.0.0.1:5070")],
                    "lan": [parse_peer("10.0.0.0/8")]})
    for _ in range(2):
        assert p.match("127.0.0.1", 5070) == "carrier"
        assert p.match("127.0.0.1", 5071) is None
        assert p.match("10.9.9.9", 5060) == "lan"
    # 10,000 distinct sources, all in 10/8 (i = 9,999 is 10.0.39.15: 39*256 + 15), more
    # than the 4,096 it keeps; then one in no network
    for i in range(10_000):
        assert p.match(f"10.0.{i // 256}.{i % 256}", 5060) == "lan"
    assert p.match("192.0.2.1", 5060) is None
    assert p.match("127.0.0.1", 5070) == "carrier"


@pytest.mark.parametrize(("text", "peer"), [
    ("127.0.0.1", Peer(parse_network("127.0.0.1"))),
    ("127.0.0.1:5070", Peer(parse_network("127.0.0.1"), 5070)),
    ("10.0.0.0/8", Peer(parse_network("10.0.0.0/8"))),
    ("[::1]:5070", Peer(parse_network("::1"), 5070)),
    ("[::1]", Peer(parse_network("::1"))),
    ("2001:db8::/32", Peer(parse_network("2001:db8::/32")))])
def test_parse_peer(text: str, peer: Peer) -> None:
    assert parse_peer(text) == peer
    assert parse_peer(str(peer)) == peer


@pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:x", "[::1", "[::1]5070",
                                  "10.0.0.1/8", "host:5060"])
def test_bad_peers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_peer(text)


def test_bad_networks() -> None:
    for text in ("192.0.2.1/24", "300.0.0.1", "host"):
        with pytest.raises(ValueError):
            parse_network(text)


def test_demo_dids() -> None:
    r = DidRouter(DEMO_DIDS)
    assert r.route(request_user="5550700", to_user="x") == DidMatch("5550700", IvrTarget("700"))
    assert r.route(request_user="5550800", to_user=None) == DidMatch(
        "5550800", parse_target("queue:support"))
    assert r.route(request_user="5550850", to_user=None).target == RoomTarget("850")  # type: ignore[union-attr]
    assert r.route(request_user="5550999", to_user="5550700") == DidNotFound("5550999")
    assert r.route(request_user=None, to_user=None) == DidNotFound("")


def test_did_from_the_to_header() -> None:
    r = DidRouter(DEMO_DIDS, source="to")
    assert r.route(request_user="trunk-gw", to_user="5550800") == DidMatch(
        "5550800", QueueTarget("support"))


@pytest.mark.parametrize("received", ["+15550800123", "15550800123", "5550800123"])
def test_e164_and_national_forms_of_one_did(received: str) -> None:
    r = DidRouter({"+15550800123": QueueTarget("support")}, plan=NumberPlan())
    assert r.route(request_user=received, to_user=None) == DidMatch(
        "+15550800123", QueueTarget("support"))
    assert isinstance(DidRouter({"+15550800123": QueueTarget("support")}).route(
        request_user="5550800123", to_user=None), DidNotFound)  # without a plan: exact only
