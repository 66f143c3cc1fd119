"""Per-trunk codecs and number format, and a domain trunk's RFC 3263 addresses with failover
across them, through the signaling core (scripted phones and carriers, fake clock)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import structlog
from callworld import demo_config, offer
from sipphone import header
from test_trunk_calls import World, invites, options

from ccswitch.config.schema import SwitchConfig
from ccswitch.config.trunks import TrunkConfig
from ccswitch.http.trunks import _trunks
from ccswitch.sdp.session import parse_sdp
from ccswitch.sip.addr import Address
from ccswitch.sip.locate import Located, Srv, SrvTarget
from ccswitch.sip.message import Request

# the phone offers PCMU (0), G722 (9) and PCMA (8), in that order, and telephone-event
THREE = ("v=0\no=- 4000 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
         "m=audio 4000 RTP/AVP 0 9 8 101\na=rtpmap:0 PCMU/8000\na=rtpmap:9 G722/8000\n"
         "a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n"
         "a=sendrecv\n")


def trunks(**changes: dict[str, object]) -> Callable[[SwitchConfig], SwitchConfig]:
    """A demo config change: ``changes[trunk]`` replaces fields of that trunk."""
    def change(cfg: SwitchConfig) -> SwitchConfig:
        t = cfg.trunking
        new: dict[str, TrunkConfig] = dict(t.trunks)
        for name, fields in changes.items():
            new[name] = dataclasses.replace(new[name], **fields)  # type: ignore[arg-type]
        return dataclasses.replace(cfg, trunking=dataclasses.replace(t, trunks=new))
    return change


def codecs_of(inv: Request) -> list[str]:
    sdp = parse_sdp(inv.body)
    m = sdp.media[0]
    maps = m.rtpmaps()
    return [maps[pt].encoding for pt in m.payload_types]


def dial(w: World, body: str, call_id: str) -> None:
    w["1001"].invite("5550700123", 1.0, call_id=call_id, body=body,
                     phones=list(w.phones.values()))
    w.pump()


# -- codecs ---------------------------------------------------------------------------------
def test_the_trunk_is_offered_only_its_codecs_in_its_order() -> None:
    w = World(demo_config(trunks(carrier={"codecs": ("PCMA", "PCMU")})))
    dial(w, THREE, "c-1")
    inv = w.carrier.take("INVITE")
    # the phone's order was PCMU, G722, PCMA; the trunk wants PCMA then PCMU and no G722
    assert codecs_of(inv) == ["PCMA", "PCMU", "telephone-event"]


def test_without_trunk_codecs_the_media_codecs_are_offered() -> None:
    w = World()
    dial(w, THREE, "c-2")
    # the caller's order, less G722 that this test's media plan does not decode
    assert codecs_of(w.carrier.take("INVITE")) == ["PCMU", "PCMA", "telephone-event"]


def test_a_trunk_without_a_common_codec_is_skipped_for_the_next() -> None:
    w = World(demo_config(trunks(carrier={"codecs": ("opus",)})))
    w.dial("1001", "5550700123", 1.0, call_id="c-3")  # offers PCMU only
    assert not invites(w.carrier)
    assert codecs_of(w.carrier2.take("INVITE"))[0] == "PCMU"


def test_no_trunk_with_a_common_codec_is_488_saying_why() -> None:
    w = World(demo_config(trunks(carrier={"codecs": ("opus",)},
                                 carrier2={"codecs": ("G722", "PCMA")})))
    w.dial("1001", "5550700123", 1.0, call_id="c-4")
    assert not invites(w.carrier) and not invites(w.carrier2)
    r = w["1001"].last_response()
    assert r.status == 488
    assert "no codec in common: the caller offers pcmu, the trunk takes opus" in header(
        r, "Warning")


# -- number format ------------------------------------------------------------------------------
def test_international_format_on_request_uri_to_from_and_pai() -> None:
    w = World(demo_config(trunks(carrier={"number_format": "international"})))
    w.dial("1001", "5550700123", 1.0, call_id="f-1")
    inv = w.carrier.take("INVITE")
    # "011" (the NANP international prefix) + "15550700123" (the E.164 number without "+")
    assert inv.uri.user == inv.to.uri.user == "01115550700123"
    # the trunk's caller ID +15550700000 in the same format: "011" + "15550700000"
    assert inv.from_.uri.user == "01115550700000"
    assert "sip:01115550700000@" in header(inv, "P-Asserted-Identity")


def test_e164_without_plus_and_the_default_with_plus() -> None:
    w = World(demo_config(trunks(carrier={"number_format": "e164"})))
    w.dial("1001", "5550700123", 1.0, call_id="f-2")
    inv = w.carrier.take("INVITE")
    assert (inv.uri.user, inv.from_.uri.user) == ("15550700123", "15550700000")
    w2 = World()
    w2.dial("1001", "5550700123", 1.0, call_id="f-3")
    inv2 = w2.carrier.take("INVITE")
    assert (inv2.uri.user, inv2.from_.uri.user) == ("+15550700123", "+15550700000")


# -- a domain trunk (RFC 3263 addresses handed in by the shell) ----------------------------
DOMAIN = trunks(carrier={"address": None, "domain": "carrier.test", "peers": ()})
# the first SRV target (port 5074) has nobody; the second is the scripted carrier on 5070
LOCATED = Located("carrier.test", (Address("udp", "127.0.0.1", 5074),
                                   Address("udp", "127.0.0.1", 5070)), ttl=300)


def test_an_unresolved_domain_trunk_is_skipped() -> None:
    w = World(demo_config(DOMAIN))
    w.dial("1001", "5550700123", 1.0, call_id="d-1")
    assert not invites(w.carrier)
    assert w.carrier2.take("INVITE").uri.port == 5072


def test_no_answer_from_the_first_address_moves_to_the_second_of_the_same_trunk() -> None:
    w = World(demo_config(DOMAIN))
    w.sig.trunk_located("carrier", LOCATED, 0.5)
    w.dial("1001", "5550700123", 1.0, call_id="d-2")
    assert not invites(w.carrier)  # sent to 5074, where nobody listens
    w.run_until(5.9)  # the route's answer_timeout is 5 s from 1.0
    assert not invites(w.carrier)
    w.run_until(6.1)
    inv = w.carrier.take("INVITE")
    assert (inv.uri.host, inv.uri.port, inv.uri.user) == ("carrier.test", None, "+15550700123")
    assert not invites(w.carrier2)  # still trunk carrier: its next address, not carrier2
    assert w.sig.trunk_legs is not None
    assert w.sig.trunk_legs.counters["target_failovers"] == 1
    w.carrier.reply(inv, 200, "OK", 6.5, to_tag="c1", body=offer(9000))
    w.pump()
    assert w["1001"].last_response().status == 200


def test_503_from_the_first_address_moves_to_the_second_then_the_next_trunk() -> None:
    w = World(demo_config(DOMAIN))
    # both addresses are the scripted carrier (5070): a 503 from each, then carrier2
    twice = Located("carrier.test", (Address("udp", "127.0.0.1", 5070),) * 2, ttl=300)
    w.sig.trunk_located("carrier", twice, 0.5)
    w.dial("1001", "5550700123", 1.0, call_id="d-3")
    w.carrier.reply(w.carrier.take("INVITE"), 503, "Service Unavailable", 1.2, to_tag="a")
    w.pump()
    w.carrier.take("ACK")
    w.carrier.reply(w.carrier.take("INVITE"), 503, "Service Unavailable", 1.4, to_tag="b")
    w.pump()
    assert w.carrier2.take("INVITE").uri.port == 5072


def test_a_486_from_the_first_address_is_final() -> None:
    w = World(demo_config(DOMAIN))
    w.sig.trunk_located("carrier", dataclasses.replace(
        LOCATED, addresses=tuple(reversed(LOCATED.addresses))), 0.5)
    w.dial("1001", "5550700123", 1.0, call_id="d-4")
    w.carrier.reply(w.carrier.take("INVITE"), 486, "Busy Here", 1.2, to_tag="a")
    w.pump()
    assert not invites(w.carrier2)
    assert w["1001"].last_response().status == 486


def test_a_domain_trunk_is_probed_at_its_first_address_once_found() -> None:
    w = World(demo_config(trunks(carrier={"address": None, "domain": "carrier.test",
                                          "peers": (), "keepalive": 30.0})))
    w.sig.start_trunks(0.0)
    w.run_until(10.0)
    assert not options(w.carrier)  # no address yet: no probe
    # the DNS answers: the scripted carrier on 5070 first this time
    w.sig.trunk_located("carrier", dataclasses.replace(
        LOCATED, addresses=tuple(reversed(LOCATED.addresses))), 10.0)
    w.pump()
    (probe,) = options(w.carrier)
    assert (probe.uri.host, probe.uri.port) == ("carrier.test", None)


def test_each_call_draws_its_own_weighted_srv_order() -> None:
    """Two SRV records of one priority, weights 75 and 25: over 400 calls about 300 go to the
    first first (75 / (75 + 25) = 3/4 of 400); the other is each call's second address."""
    w = World(demo_config(DOMAIN))
    heavy, light = Address("udp", "127.0.0.1", 5074), Address("udp", "127.0.0.1", 5076)
    group = (SrvTarget("udp", Srv(10, 75, 5074, "a.carrier.test", 60), (heavy,)),
             SrvTarget("udp", Srv(10, 25, 5076, "b.carrier.test", 60), (light,)))
    w.sig.trunk_located("carrier", Located("carrier.test", (heavy, light), 60,
                                           services=(group,)), 0.5)
    assert w.sig.trunk_legs is not None
    orders = [w.sig.trunk_legs.draw("carrier") for _ in range(400)]
    assert {frozenset(o) for o in orders} == {frozenset({heavy, light})}
    firsts = sum(o[0] == heavy for o in orders)
    # 300 expected; 40 either way is over 4 standard deviations: sqrt(400 * 3/4 * 1/4) = 8.7
    assert 260 < firsts < 340, firsts


# -- a domain trunk's keep-alive and registration use every address (issue 11) ---------------
NOBODY, CARRIER, CARRIER2 = (Address("udp", "127.0.0.1", 5074), Address("udp", "127.0.0.1", 5070),
                             Address("udp", "127.0.0.1", 5072))


def test_a_dead_first_address_is_down_alone_and_calls_try_the_live_one_first() -> None:
    """Probes go to both addresses; the first (nobody there) is marked down after its misses
    while the second answers: the trunk stays up, and a call goes to the live one first
    (no answer timeout spent on the dead one)."""
    w = World(demo_config(trunks(carrier={"address": None, "domain": "carrier.test",
                                          "peers": (), "keepalive": 30.0,
                                          "keepalive_misses": 2},
                                 carrier2={"keepalive": 0.0})))
    with structlog.testing.capture_logs() as logs:
        w.sig.start_trunks(0.0)
        w.sig.trunk_located("carrier", Located("carrier.test", (NOBODY, CARRIER), 300), 0.0)
        w.pump()
        for t in range(1, 70):
            w.run_until(float(t))
            for probe in options(w.carrier):
                w.carrier.reply(probe, 200, "OK", float(t))
            w.carrier.inbox.clear()
            w.pump()
    events = [(e["event"], e.get("dest")) for e in logs
              if e["event"].startswith("trunk_") and e.get("trunk") == "carrier"]
    assert ("trunk_address_down", "udp:127.0.0.1:5074") in events
    assert ("trunk_up", None) in events and ("trunk_down", None) not in events
    assert w.sig.trunk_driver is not None and w.sig.trunk_driver.up["carrier"] is True
    (shown,) = [t for t in _trunks(w.sig) if t.name == "carrier"]
    assert (shown.state, shown.up, shown.addresses_down) == (
        "available", True, ["udp:127.0.0.1:5074"])
    w.dial("1001", "5550700123", 70.0, call_id="live-first")
    inv = w.carrier.take("INVITE")  # at once: the dead address is tried last
    assert inv.uri.user == "+15550700123"


def test_every_address_silent_marks_the_trunk_down() -> None:
    w = World(demo_config(trunks(carrier={"address": None, "domain": "carrier.test",
                                          "peers": (), "keepalive": 30.0,
                                          "keepalive_misses": 2},
                                 carrier2={"keepalive": 0.0})))
    with structlog.testing.capture_logs() as logs:
        w.sig.start_trunks(0.0)
        w.sig.trunk_located("carrier", Located("carrier.test", (NOBODY, CARRIER), 300), 0.0)
        w.run_until(70.0)  # the scripted carrier on 5070 answers nothing either
    downs = [e for e in logs if e["event"] == "trunk_down" and e["trunk"] == "carrier"]
    assert len(downs) == 1
    assert w.sig.trunk_driver is not None and w.sig.trunk_driver.up["carrier"] is False
    w.dial("1001", "5550700123", 70.0, call_id="skip")
    assert not invites(w.carrier)
    assert w.carrier2.take("INVITE").uri.port == 5072


REGISTERING = trunks(carrier={"address": None, "domain": "carrier.test", "peers": (),
                              "keepalive": 0.0, "register": True, "username": "acct",
                              "password": "secret"},
                     carrier2={"keepalive": 0.0})


def test_a_register_that_times_out_moves_to_the_next_address() -> None:
    w = World(demo_config(REGISTERING))
    with structlog.testing.capture_logs() as logs:
        w.sig.start_trunks(0.0)
        w.sig.trunk_located("carrier", Located("carrier.test", (NOBODY, CARRIER), 300), 0.0)
        w.pump()
        assert not [m for m in w.carrier.inbox if isinstance(m, Request)]  # 5074 first
        w.run_until(31.0)
        assert not w.carrier.requests("REGISTER")
        w.run_until(33.0)  # Timer F (64 * T1 = 32 s) of the REGISTER to 5074
        reg = w.carrier.requests("REGISTER")[0]
        w.carrier.inbox.clear()
        w.carrier.reply(reg, 200, "OK", 40.1,
                        extra=f"Contact: {header(reg, 'Contact')};expires=600\n")
        w.pump()
    moved = next(e for e in logs if e["event"] == "trunk_registration_moved")
    assert (moved["dest"], moved["next"], moved["status"]) == (
        "udp:127.0.0.1:5074", "udp:127.0.0.1:5070", 408)
    assert not any(e["event"] == "trunk_registration_failed" for e in logs)
    assert w.sig.trunk_driver is not None and w.sig.trunk_driver.registered["carrier"]


def test_a_503_moves_on_and_a_new_dns_answer_moves_the_registration() -> None:
    w = World(demo_config(REGISTERING))
    w.sig.start_trunks(0.0)
    w.sig.trunk_located("carrier", Located("carrier.test", (CARRIER, CARRIER2), 300), 0.0)
    w.pump()
    w.carrier.reply(w.carrier.take("REGISTER"), 503, "Service Unavailable", 0.1)
    w.pump()
    reg = w.carrier2.take("REGISTER")  # the second address, at once
    w.carrier2.reply(reg, 200, "OK", 0.2,
                     extra=f"Contact: {header(reg, 'Contact')};expires=600\n")
    w.pump()
    drv = w.sig.trunk_driver
    assert drv is not None and drv.registered["carrier"]
    (shown,) = [t for t in _trunks(w.sig) if t.name == "carrier"]
    assert (shown.registered, shown.registrar) == (True, "udp:127.0.0.1:5072")
    # a new answer that still lists the registrar: nothing is sent
    w.sig.trunk_located("carrier", Located("carrier.test", (CARRIER, CARRIER2), 300), 10.0)
    w.pump()
    assert not [m for m in w.carrier.inbox + w.carrier2.inbox if isinstance(m, Request)]
    # the registrar the binding is at is gone from the DNS: register at the new first now
    w.sig.trunk_located("carrier", Located("carrier.test", (CARRIER,), 300), 20.0)
    w.pump()
    reg = w.carrier.take("REGISTER")
    assert reg.uri.host == "carrier.test"
