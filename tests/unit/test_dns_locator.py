"""``io/dns.py`` against a DNS responder on loopback (``tests/dnsserver.py``): NAPTR -> SRV ->
A, SRV without NAPTR, A alone on the default port, the TTL cache, a silent server, and the
background refresher keeping the last good list."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from ccswitch.io.dns import SipLocator, TrunkLocator
from ccswitch.sip.addr import Address
from ccswitch.sip.locate import Located
from dnsserver import DnsServer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def locator(port: int, clock: Clock | None = None, timeout: float = 2.0) -> SipLocator:
    return SipLocator(servers=[("127.0.0.1", port)], timeout=timeout, rng=random.Random(1),
                      clock=clock or Clock())


def test_naptr_srv_a() -> None:
    zone = {"ex.test.": ['NAPTR 10 0 "s" "SIP+D2T" "" _sip._tcp.ex.test.',
                         'NAPTR 20 0 "s" "SIP+D2U" "" _sip._udp.ex.test.'],
            "_sip._tcp.ex.test.": ["SRV 1 0 5080 a.ex.test."],
            "_sip._udp.ex.test.": ["SRV 1 0 5090 b.ex.test."],
            "a.ex.test.": ["A 192.0.2.1", "A 192.0.2.2"], "b.ex.test.": ["A 192.0.2.3"]}
    with DnsServer(zone, ttl=120) as dns:
        found = asyncio.run(locator(dns.port).locate("ex.test", ["udp", "tcp"]))
    # NAPTR order: TCP (10) before UDP (20); both A records of a.ex.test on its SRV port
    # (the two A records of one name come in the resolver's order, which RFC 3263 leaves open)
    assert set(found.addresses[:2]) == {Address("tcp", "192.0.2.1", 5080),
                                        Address("tcp", "192.0.2.2", 5080)}
    assert found.addresses[2:] == (Address("udp", "192.0.2.3", 5090),)
    assert found.ttl == 120
    assert "SRV _sip._tcp.ex.test 1 0 5080 a.ex.test" in found.records


def test_srv_without_naptr_then_a_alone_on_5060() -> None:
    zone = {"_sip._udp.srv.test.": ["SRV 5 10 5070 h.srv.test."], "h.srv.test.": ["A 10.0.0.7"],
            "plain.test.": ["A 10.0.0.9"]}
    with DnsServer(zone) as dns:
        loc = locator(dns.port)
        srv = asyncio.run(loc.locate("srv.test", ["udp"]))
        plain = asyncio.run(loc.locate("plain.test", ["udp", "tcp"]))
        assert "NAPTR plain.test." in dns.queries and "SRV _sip._tcp.plain.test." in dns.queries
    assert srv.addresses == (Address("udp", "10.0.0.7", 5070),)
    assert plain.addresses == (Address("udp", "10.0.0.9", 5060),)  # RFC 3263 §4.2


def test_an_unknown_domain_is_a_lookup_error() -> None:
    with DnsServer({}) as dns, pytest.raises(LookupError, match="no SIP server"):
        asyncio.run(locator(dns.port).locate("nowhere.test", ["udp"]))


def test_answers_are_kept_for_their_ttl() -> None:
    zone = {"_sip._udp.c.test.": ["SRV 1 0 5060 h.c.test."], "h.c.test.": ["A 10.0.0.1"]}
    clock = Clock()
    with DnsServer(zone, ttl=30) as dns:
        loc = locator(dns.port, clock)
        asyncio.run(loc.locate("c.test", ["udp"]))
        asked = len(dns.queries)
        clock.now += 29.9  # within the 30 s TTL: from the cache
        asyncio.run(loc.locate("c.test", ["udp"]))
        assert len(dns.queries) == asked
        clock.now += 0.2  # 30.1 s after: asked again
        asyncio.run(loc.locate("c.test", ["udp"]))
        assert len(dns.queries) == 2 * asked


def test_a_silent_server_is_a_lookup_error_and_the_refresher_keeps_going() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        port = silent.getsockname()[1]
        with pytest.raises(LookupError):
            asyncio.run(locator(port, timeout=0.3).locate("x.test", ["udp"]))
        got: list[tuple[str, Located]] = []

        async def run() -> None:
            tl = TrunkLocator(locator(port, timeout=0.3), {"t": "x.test"}, ["udp"],
                              lambda n, f: got.append((n, f)))
            tl.start()
            await asyncio.sleep(0.5)
            await tl.stop()

        asyncio.run(run())
        assert got == []  # nothing found, nothing handed to the core, and no crash
    finally:
        silent.close()
