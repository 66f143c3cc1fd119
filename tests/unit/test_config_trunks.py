"""``[trunks]``, ``[[routes]]``, ``[dids]``, ``[outbound]`` and ``outbound_class``: parsed by
``config/trunks.py`` for the main loader (the demo additions of CONTRACT.md end to end through
the pure pieces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccswitch.config import parse_config
from ccswitch.config.trunks import parse_trunking
from ccswitch.dialplan.fraud import OutboundClass
from ccswitch.dialplan.inbound import DidMatch, DidNotFound, Peer, parse_network
from ccswitch.dialplan.outbound import OutboundCall, OutboundRefused
from ccswitch.dialplan.targets import NumberTarget, QueueTarget, RoomTarget
from ccswitch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "configs" / "demo.toml").read_text()
PACKAGED = (ROOT / "src" / "ccswitch" / "config" / "demo.toml").read_text()

BASE = """
[[users]]
range = "1001-1003"
password = "pw{user}"

[queues.support]

[rooms.850]
"""


def parse(extra: str, base: str = BASE) -> tuple[object, object]:
    return parse_trunking(base + extra, "t.toml")


def fault(extra: str, base: str = BASE) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_trunking(base + extra, "t.toml")
    return info.value


# -- the demo additions --------------------------------------------------------------------
def test_demo_additions_parse_and_behave_as_contract_says() -> None:
    config, trunking = parse_trunking(DEMO, "demo.toml")
    assert set(trunking.trunks) == {"carrier", "carrier2"}
    carrier = trunking.trunks["carrier"]
    assert str(carrier.address) == "udp:127.0.0.1:5070"
    assert carrier.peers == (Peer(parse_network("127.0.0.1"), 5070),)
    assert not carrier.register
    peers = trunking.peers()
    assert peers.match("127.0.0.1", 5070) == "carrier"
    assert peers.match("127.0.0.1", 5072) == "carrier2"
    assert peers.match("127.0.0.1", 5062) is None
    dids = trunking.dids_router("carrier")
    assert dids.route(request_user="5550700", to_user=None) == DidMatch(
        "5550700", NumberTarget("700"))
    assert dids.route(request_user="5550800", to_user=None) == DidMatch(
        "5550800", QueueTarget("support"))
    assert dids.route(request_user="5550850", to_user=None) == DidMatch(
        "5550850", RoomTarget("850"))
    assert isinstance(dids.route(request_user="5550999", to_user=None), DidNotFound)
    router = trunking.router()
    user = next(iter(config.users))
    call = router.decide(caller=user, dialled="5550700123", now=0.0)
    assert isinstance(call, OutboundCall)
    assert (call.number, call.trunks, call.answer_timeout) == (
        "+15550700123", ("carrier", "carrier2"), 5.0)
    assert call.failover().failed(503) == "carrier2"
    for dialled in ("011442079460000", "+442079460000"):
        for u in config.users:
            refused = router.decide(caller=u, dialled=dialled, now=0.0)
            assert isinstance(refused, OutboundRefused)
            assert refused.status == 403
            router.policy.clear(u, 0.0)
    unauth = router.decide(caller=None, dialled="5550700123", now=0.0)
    assert isinstance(unauth, OutboundRefused)
    assert unauth.status == 403


def test_the_packaged_demo_is_the_documented_one() -> None:
    assert PACKAGED == DEMO


@pytest.mark.parametrize("section", [
    '[trunks.carrier]\naddress = "udp:127.0.0.1:5070"\n',
    '[dids]\n5550700 = "echo"\n',
    '[outbound]\ncountry_code = "1"\n',
])
def test_the_main_loader_keeps_the_trunk_sections(section: str) -> None:
    config = parse_config(BASE + section, "t.toml")
    t = config.trunking
    assert (set(t.trunks), set(t.dids), t.outbound.plan.country_code) == (
        ({"carrier"} if "trunks" in section else set()),
        ({"5550700"} if "dids" in section else set()),
        "1")


def test_the_main_loader_keeps_outbound_class() -> None:
    text = '[[users]]\nname = "1001"\npassword = "x"\noutbound_class = "international"\n'
    config = parse_config(text, "t.toml")
    assert config.trunking.classes == {"1001": OutboundClass.INTERNATIONAL}
    assert config.users["1001"].password == "x"


def test_a_bad_outbound_class_is_named_with_its_key() -> None:
    text = '[[users]]\nname = "1001"\npassword = "x"\noutbound_class = "world"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    assert info.value.key == "users[0].outbound_class"


def test_the_demo_has_its_trunks() -> None:
    config = parse_config(DEMO, "demo.toml")
    assert set(config.trunking.trunks) == {"carrier", "carrier2"}


# -- trunks --------------------------------------------------------------------------------
def test_a_domain_or_codecs_are_not_supported_yet() -> None:
    err = fault('[trunks.sipco]\naddress = "sip.carrier.example"\n')
    assert (err.key, "not supported yet" in err.fault) == ("trunks.sipco.address", True)
    err = fault('[trunks.sipco]\naddress = "udp:192.0.2.1:5060"\ncodecs = ["PCMU"]\n')
    assert (err.key, "not supported yet" in err.fault) == ("trunks.sipco.codecs", True)


def test_a_registering_trunk() -> None:
    _, t = parse("""
[trunks.sipco]
address = "udp:192.0.2.10:5060"
register = true
username = "acct42"
password = "pw"
realm = "carrier.example"
expires = 600
keepalive = 0
max_calls = 30
calls_per_second = 5
caller_id = "+15550700000"
privacy = "id"
did_from = "to"
number_format = "national"
""")
    sipco = t.trunks["sipco"]  # type: ignore[attr-defined]
    assert str(sipco.address) == "udp:192.0.2.10:5060"
    assert sipco.peers == (Peer(parse_network("192.0.2.10")),)
    assert (sipco.register, sipco.username, sipco.expires) == (True, "acct42", 600)
    assert (sipco.privacy, sipco.did_from, sipco.number_format) == ("id", "to", "national")
    assert "pw" not in repr(sipco)
    policy = t.policy()  # type: ignore[attr-defined]
    for i in range(5):
        assert policy.trunk_has_room("sipco", 0.0)
        policy.call_started(f"c{i}", "1001", "sipco", 0.0)
    assert not policy.trunk_has_room("sipco", 0.5)  # 5 calls per second
    assert policy.trunk_has_room("sipco", 1.0)


def test_default_peer_is_the_address_ip() -> None:
    _, t = parse('[trunks.c]\naddress = "udp:192.0.2.7:5060"\n')
    assert t.trunks["c"].peers == (Peer(parse_network("192.0.2.7")),)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('[trunks.c]\nregister = true\n', "trunks.c.address", "missing"),
    ('[trunks.c]\naddress = "tls:1.2.3.4:5061"\n', "trunks.c.address", "not supported yet"),
    ('[trunks.c]\naddress = "nodots"\n', "trunks.c.address", "neither"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nregister = true\n', "trunks.c.register",
     "username"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nusername = "u"\n', "trunks.c.password",
     "together"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\npeers = ["1.2.3.4/8"]\n', "trunks.c.peers[0]",
     "not IP"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nkeepalive = 0.5\n', "trunks.c.keepalive",
     "at least 1"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nprivacy = "full"\n', "trunks.c.privacy",
     "privacy"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\ncaller_id = "5550700"\n',
     "trunks.c.caller_id", "E.164"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nregistr = true\n', "trunks.c.registr",
     "did you mean 'register'"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\n[trunks.d]\naddress = "udp:1.2.3.4:5070"\n',
     "trunks.d.peers", "already a peer"),
    ('[trunks."a b"]\naddress = "udp:1.2.3.4:5060"\n', 'trunks."a b"', "trunk name"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\n100rel = "yes"\n', "trunks.c.100rel",
     "not a 100rel setting (off, supported, required)"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\n100rel = true\n', "trunks.c.100rel",
     "string"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\ndiversion = "rfc5806"\n',
     "trunks.c.diversion", "not a diversion setting"),
    ('[trunks.c]\naddress = "udp:1.2.3.4:5060"\nrel100 = "off"\n', "trunks.c.rel100",
     "unknown key"),
])
def test_trunk_faults(extra: str, key: str, words: str) -> None:
    err = fault(extra)
    assert err.key == key
    assert words in err.fault
    assert err.file == "t.toml"
    assert err.line is not None


def test_100rel_and_diversion_per_trunk() -> None:
    _, t = parse('[trunks.c]\naddress = "udp:1.2.3.4:5060"\n100rel = "required"\n'
                 'diversion = "history-info"\n'
                 '[trunks.d]\naddress = "udp:1.2.3.5:5060"\n')
    c, d = t.trunks["c"], t.trunks["d"]  # type: ignore[attr-defined]
    assert (c.rel100, c.diversion) == ("required", "history-info")
    assert (d.rel100, d.diversion) == ("supported", "diversion")  # the defaults


# -- routes --------------------------------------------------------------------------------
TRUNKS = '[trunks.a]\naddress = "udp:192.0.2.1:5060"\n[trunks.b]\naddress = "udp:192.0.2.2:5060"\n'


def test_routes_as_a_table_of_tables_keep_their_order() -> None:
    _, t = parse(TRUNKS + """
[routes.nanp]
patterns = ['\\+1[2-9][0-9]{9}']
trunks = ["a", "b"]
failover_on = [403, 404]
caller_id = "+15550700000"

[routes.world]
prefixes = ["+"]
trunks = ["b"]
answer_timeout = 8
""")
    nanp, world = t.routes  # type: ignore[attr-defined]
    assert (nanp.name, world.name) == ("nanp", "world")
    assert nanp.failover_on == frozenset({403, 404})
    assert nanp.matches("+12125550123") and not nanp.matches("+11125550123")
    assert world.answer_timeout == 8.0


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('[[routes]]\ntrunks = ["a"]\nprefixes = ["+"]\n', "routes[0].name", "missing"),
    ('[[routes]]\nname = "r"\nprefixes = ["+"]\n', "routes[0].trunks", "missing"),
    ('[[routes]]\nname = "r"\ntrunks = ["zz"]\nprefixes = ["+"]\n', "routes[0].trunks[0]",
     "does not exist"),
    ('[[routes]]\nname = "r"\ntrunks = ["a"]\n', "routes[0]", "prefixes or patterns"),
    ('[[routes]]\nname = "r"\ntrunks = ["a"]\nprefixes = ["1"]\n', "routes[0].prefixes[0]",
     "E.164 prefix"),
    ('[[routes]]\nname = "r"\ntrunks = ["a"]\npatterns = ["(+"]\n', "routes[0].patterns[0]",
     "regular expression"),
    ('[[routes]]\nname = "r"\ntrunks = ["a"]\nprefixes = ["+"]\nfailover_on = [486]\n',
     "routes[0].failover_on[0]", "only 403 and 404"),
    ('[[routes]]\nname = "r"\ntrunks = ["a"]\nprefixes = ["+"]\n'
     '[[routes]]\nname = "r"\ntrunks = ["b"]\nprefixes = ["+"]\n', "routes[1]", "twice"),
])
def test_route_faults(extra: str, key: str, words: str) -> None:
    err = fault(TRUNKS + extra)
    assert err.key == key
    assert words in err.fault


# -- dids, outbound, classes ---------------------------------------------------------------
@pytest.mark.parametrize(("extra", "key", "words"), [
    ('[dids]\n"555-0700" = "echo"\n', "dids.555-0700", "not a DID"),
    ('[dids]\n5550700 = "queue:nope"\n', "dids.5550700", "does not exist"),
    ('[dids]\n5550700 = "transfer:4242"\n', "dids.5550700", "not a number of this dial plan"),
    ('[dids]\n5550700 = "hangup"\n', "dids.5550700", "cannot be used here"),
    ('[outbound]\ndefault_class = "world"\n', "outbound.default_class", "outbound class"),
    ('[outbound]\nnational_prefix = "011"\n', "outbound", "bad number plan"),
    ('[outbound]\nblocked_prefixes = ["1900"]\n', "outbound.blocked_prefixes[0]", "prefix"),
    ('[outbound.caller_ids]\n9999 = "+15550700000"\n', "outbound.caller_ids.9999",
     "does not exist"),
])
def test_did_and_outbound_faults(extra: str, key: str, words: str) -> None:
    err = fault(extra)
    assert err.key == key
    assert words in err.fault


def test_outbound_classes_per_user_and_range() -> None:
    base = """
[[users]]
range = "1001-1003"
password = "pw"
outbound_class = "international"

[[users]]
name = "lobby"
password = "pw"
outbound_class = "internal"

[[users]]
name = "1020"
password = "pw"
"""
    _, t = parse_trunking(base + '[outbound]\ncountry_code = "44"\ninternational_prefix = "00"\n'
                          'national_prefix = "0"\nnational_lengths = [10]\n'
                          'blocked_prefixes = ["+449"]\n'
                          '[outbound.caller_ids]\n1020 = "+442079460000"\n', "t.toml")
    assert t.classes == {"1001": OutboundClass.INTERNATIONAL,
                         "1002": OutboundClass.INTERNATIONAL,
                         "1003": OutboundClass.INTERNATIONAL, "lobby": OutboundClass.INTERNAL}
    policy = t.policy()
    assert policy.class_of("1020") is OutboundClass.NATIONAL
    assert t.outbound.plan.normalize("02079460000") == "+442079460000"
    assert t.outbound.caller_ids == {"1020": "+442079460000"}


def test_bad_outbound_class() -> None:
    base = '[[users]]\nname = "1001"\npassword = "pw"\noutbound_class = "everything"\n'
    err = fault("", base=base)
    assert err.key == "users[0].outbound_class"
    assert "outbound class" in err.fault


def test_the_rest_of_the_file_is_still_checked() -> None:
    err = fault('[trunks.c]\naddress = "udp:1.2.3.4:5060"\n[registrar]\nmin_expire = 1\n')
    assert err.key == "registrar.min_expire"


def test_the_documented_carrier_example_parses() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    section = doc[doc.index("### Example: a typical carrier"):]
    start = section.index("```toml\n") + 8
    example = section[start:section.index("\n```", start)]
    config = parse_config("[queues.support]\n" + example, "example.toml")
    t = config.trunking
    assert t.trunks["acme"].register and t.trunks["acme"].number_format == "national"
    assert t.classes["1001"] is OutboundClass.INTERNATIONAL
    router = t.router()
    call = router.decide(caller="1001", dialled="2125550123", now=0.0)
    assert isinstance(call, OutboundCall) and call.trunks == ("acme", "backup")
    refused = router.decide(caller="1001", dialled="19005550123", now=0.0)
    assert isinstance(refused, OutboundRefused) and refused.why == "blocked_prefix"
    assert t.peers().match("203.0.113.7") == "acme"
