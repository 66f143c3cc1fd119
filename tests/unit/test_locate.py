"""RFC 3263 server location, the pure part (``sip/locate.py``): NAPTR selection, SRV owners
without NAPTR, and the RFC 2782 order of SRV records."""

from __future__ import annotations

import random
from collections import Counter

from ccswitch.sip.locate import Naptr, Srv, default_port, naptr_services, order_srv, srv_names


def test_naptr_keeps_s_flag_and_our_services_by_order_then_preference() -> None:
    recs = [
        Naptr(20, 10, "s", "SIP+D2T", "_sip._tcp.example.com.", 60),
        Naptr(10, 20, "S", "SIP+D2U", "_sip._udp.b.example.com.", 60),
        Naptr(10, 10, "s", "SIP+D2U", "_sip._udp.a.example.com.", 60),
        Naptr(5, 10, "s", "SIPS+D2T", "_sips._tcp.example.com.", 60),  # tls: not wanted
        Naptr(1, 1, "u", "E2U+sip", "!^.*$!sip:x@y!", 60),  # not an s record
        Naptr(1, 1, "s", "SIP+D2S", "_sip._sctp.example.com.", 60),  # SCTP: unknown
    ]
    assert naptr_services(recs, ("udp", "tcp")) == [
        ("udp", "_sip._udp.a.example.com"),  # order 10, preference 10
        ("udp", "_sip._udp.b.example.com"),  # order 10, preference 20
        ("tcp", "_sip._tcp.example.com"),  # order 20
    ]


def test_without_naptr_the_srv_owners_of_our_transports() -> None:
    assert srv_names("example.com", ("udp", "tls", "ws")) == [
        ("udp", "_sip._udp.example.com"), ("tls", "_sips._tcp.example.com")]
    assert (default_port("udp"), default_port("tcp"), default_port("tls")) == (5060, 5060, 5061)


def test_srv_priority_first_then_weight() -> None:
    recs = [Srv(20, 0, 5060, "c.example.com", 60), Srv(10, 60, 5060, "a.example.com", 60),
            Srv(10, 20, 5062, "b.example.com", 60)]
    rng = random.Random(1)
    firsts: Counter[str] = Counter()
    for _ in range(4000):
        order = order_srv(recs, rng)
        assert order[-1].target == "c.example.com"  # priority 20 always after priority 10
        assert {r.target for r in order[:2]} == {"a.example.com", "b.example.com"}
        firsts[order[0].target] += 1
    # a is first with probability 60 / (60 + 20) = 0.75: 3000 of 4000 expected
    assert 2850 < firsts["a.example.com"] < 3150, firsts


def test_zero_weights_are_drawn_too_and_a_dot_target_means_no_service() -> None:
    recs = [Srv(1, 0, 5060, "a", 60), Srv(1, 0, 5060, "b", 60)]
    rng = random.Random(3)
    seen = {order_srv(recs, rng)[0].target for _ in range(200)}
    assert seen == {"a", "b"}  # all weights 0: the shuffled order decides
    assert order_srv([Srv(0, 0, 0, ".", 60)], rng) == []
    assert order_srv([], rng) == []
