"""A trunk named by a domain, found by RFC 3263 (NAPTR -> SRV -> A) from a DNS server on
loopback (``dnsserver.py``), with failover across its SRV records: the first server (SRV
priority 10) is down, so after the route's answer timeout the call goes to the second
(priority 20), a SIPp far end.  Also: the trunks API shows what the DNS gave, and on the
wire a carrier gets only its codecs and its number format (488 when no trunk shares a codec
with the phone), and a baresip phone's blind transfer (REFER) to an outside number reaches the
carrier."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dns.name as dnsname
import httpx
import pytest
from e2e_baresip import PhoneFactory
from e2e_calls import CALLER_HZ, THIRD_HZ, hang_up, phone, uri
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import Sipp, dial_args
from e2e_util import free_port

from dnsserver import DnsServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0
DOMAIN = "carrier.test"


def zone(down: int, up: int) -> dict[str, list[str]]:
    return {
        f"{DOMAIN}.": ['NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp.carrier.test.',
                       'NAPTR 20 50 "s" "SIP+D2T" "" _sip._tcp.carrier.test.'],
        "_sip._udp.carrier.test.": [f"SRV 10 100 {down} sip1.carrier.test.",
                                    f"SRV 20 100 {up} sip2.carrier.test."],
        "sip1.carrier.test.": ["A 127.0.0.1"],
        "sip2.carrier.test.": ["A 127.0.0.1"],
    }


class World:
    def __init__(self, dns: DnsServer, daemon: Daemon, down: int, up: int) -> None:
        self.dns, self.daemon, self.down, self.up = dns, daemon, down, up


@pytest.fixture
def world(start_daemon: DaemonFactory, tmp_path: Path) -> Iterator[World]:
    down, up = free_port(), free_port()
    with DnsServer(zone(down, up), ttl=300) as dns:
        demo = (ROOT / "configs" / "demo.toml").read_text()
        old = 'address = "udp:127.0.0.1:5070"'
        assert old in demo
        conf = tmp_path / "dns.toml"
        conf.write_text(demo.replace(old, f'address = "{DOMAIN}"', 1)
                        + f'\n[dns]\nservers = ["127.0.0.1:{dns.port}"]\ntimeout = 2\n')
        d = start_daemon(extra_args=["--config", str(conf)])
        yield World(dns, d, down, up)


def test_the_first_srv_target_down_and_the_second_takes_the_call(world: World,
                                                                  sipp: Sipp) -> None:
    d = world.daemon
    found = d.log.wait_for("trunk_located", 20.0, trunk="carrier")
    assert found is not None, d.tail()
    # NAPTR order 10 names the UDP SRV owner; its priorities give sip1 (10) before sip2 (20);
    # the TCP NAPTR (order 20) is not used: the demo listens on UDP and TCP, but no SRV
    # records exist under _sip._tcp, so only the two UDP targets remain
    assert found["addresses"] == [f"udp:127.0.0.1:{world.down}", f"udp:127.0.0.1:{world.up}"]
    assert found["ttl"] == 300
    assert {"NAPTR carrier.test.", "SRV _sip._udp.carrier.test.",
            "A sip1.carrier.test.", "A sip2.carrier.test."} <= set(world.dns.queries)
    far = sipp.start("uas_answer.xml", local_port=world.up, timeout=TIMEOUT + 10)
    try:
        uac = sipp.run("uac_call.xml", *dial_args("5550700131", d.sip_port), "-inf",
                       str(sipp.credentials("1001", "pw1001")), remote=d.sip_port,
                       timeout=TIMEOUT)
        got = far.wait(TIMEOUT + 10)
    finally:
        far.stop()
    assert uac.ok, uac.describe()
    assert got.ok, got.describe()
    invites = got.requests("INVITE", "received")
    assert invites and invites[0].first_line.startswith(
        f"INVITE sip:+15550700131@{DOMAIN} "), got.describe()
    moved = d.log.find("trunk_target_failover", trunk="carrier")
    assert moved is not None, d.tail()
    assert (moved["dest"], moved["next"]) == (f"udp:127.0.0.1:{world.down}",
                                              f"udp:127.0.0.1:{world.up}")
    # carrier2 was never needed: the same trunk's second server took the call
    assert d.log.find("trunk_failover") is None


def test_the_trunks_api_shows_the_addresses_the_dns_gave(world: World) -> None:
    d = world.daemon
    assert d.log.wait_for("trunk_located", 20.0, trunk="carrier") is not None, d.tail()
    r = httpx.get(f"http://127.0.0.1:{d.http_port}/api/v1/trunks",
                  headers={"Authorization": "Bearer demo-admin-token"}, timeout=10)
    assert r.status_code == 200, r.text
    carrier = next(t for t in r.json() if t["name"] == "carrier")
    assert carrier["domain"] == DOMAIN
    assert carrier["addresses"] == [f"udp:127.0.0.1:{world.down}",
                                    f"udp:127.0.0.1:{world.up}"]
    assert carrier["dns_ttl"] == 300


# -- per-trunk codecs and number format on the wire ------------------------------------------
def options_daemon(start_daemon: DaemonFactory, tmp_path: Path, port: int, extra: str) -> Daemon:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    old = 'address = "udp:127.0.0.1:5070"'
    conf = tmp_path / "options.toml"
    conf.write_text(demo.replace(old, f'address = "udp:127.0.0.1:{port}"\n{extra}', 1))
    return start_daemon(extra_args=["--config", str(conf)])


def test_the_carrier_gets_only_its_codec_and_its_number_format(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    port = free_port()
    d = options_daemon(start_daemon, tmp_path, port,
                       'codecs = ["PCMA"]\nnumber_format = "e164"')
    far = sipp.start("uas_answer_pcma.xml", local_port=port, timeout=TIMEOUT)
    try:
        uac = sipp.run("uac_call.xml", *dial_args("5550700132", d.sip_port), "-inf",
                       str(sipp.credentials("1002", "pw1002")), remote=d.sip_port,
                       timeout=TIMEOUT)
        got = far.wait(TIMEOUT + 5)
    finally:
        far.stop()
    assert uac.ok, uac.describe()
    assert got.ok, got.describe()
    (inv,) = got.requests("INVITE", "received")
    # e164 without "+": country code 1 + 5550700132; From: the trunk's +15550700000 likewise
    assert inv.first_line.startswith(f"INVITE sip:15550700132@127.0.0.1:{port} "), inv.text
    assert "sip:15550700000@" in (inv.header("From") or ""), inv.text
    m = [ln.strip() for ln in inv.text.splitlines() if ln.startswith("m=audio")]
    # the phone offered PCMU (0) and PCMA (8): the carrier sees PCMA and telephone-event only
    assert len(m) == 1 and m[0].split()[3:] == ["8", "101"], inv.text


def test_no_codec_in_common_with_any_trunk_is_488(sipp: Sipp, start_daemon: DaemonFactory,
                                                   tmp_path: Path) -> None:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    for addr in ('address = "udp:127.0.0.1:5070"', 'address = "udp:127.0.0.1:5072"'):
        assert addr in demo
        demo = demo.replace(addr, f'{addr}\ncodecs = ["G722"]', 1)
    conf = tmp_path / "g722.toml"
    conf.write_text(demo)
    d = start_daemon(extra_args=["--config", str(conf)])
    uac = sipp.run("uac_call_fail.xml", *dial_args("5550700133", d.sip_port), "-inf",
                   str(sipp.credentials("1003", "pw1003")), remote=d.sip_port, timeout=TIMEOUT)
    assert uac.ok, uac.describe()
    assert uac.received_statuses()[-1] == 488, uac.describe()
    final = next(m for m in uac.received() if m.status == 488)
    # the phone offered PCMU and PCMA; both trunks take G722 only (no transcoding to a trunk)
    assert "no codec in common" in (final.header("Warning") or ""), final.text
    assert d.log.find("trunk_leg") is None, d.tail()


# -- number: on the wire: a phone's blind transfer to an outside number ------------------------
def test_a_phones_blind_transfer_to_an_outside_number_reaches_the_carrier(
        sipp: Sipp, start_daemon: DaemonFactory, phones: PhoneFactory, tmp_path: Path) -> None:
    """baresip 1001 calls baresip 1002 (auto-answer); 1002 transfers the call with REFER to
    5550700134: the switch sends it out on trunk carrier (SIPp far end) as +15550700134 with
    1002's class (national), and 1001 ends up talking to the far end."""
    port = free_port()
    d = options_daemon(start_daemon, tmp_path, port, "")
    far = sipp.start("uas_answer.xml", local_port=port, timeout=TIMEOUT + 10)
    b = phone(phones, d, tmp_path, "callee-1002", "1002", THIRD_HZ, register=True, auto=True)
    a = phone(phones, d, tmp_path, "caller-1001", "1001", CALLER_HZ)
    try:
        a.dial(uri(d, "1002"))
        a.wait_event("CALL_ESTABLISHED", timeout=15)
        b.wait_event("CALL_ESTABLISHED", timeout=15)
        time.sleep(1.0)
        b.transfer(uri(d, "5550700134"))
        got = far.wait(TIMEOUT + 10)
    finally:
        far.stop()
        hang_up(a, b)
    assert got.ok, got.describe()
    (inv,) = got.requests("INVITE", "received")
    assert inv.first_line.startswith(f"INVITE sip:+15550700134@127.0.0.1:{port} "), inv.text
    call = d.log.find("outbound_call", number="+15550700134")
    assert call is not None and call["caller"] == "1002" and call["onward"], d.tail()


# -- the keep-alive and the registration follow every address (issue 11) -------------------
def registrar_zone(*ports: int) -> dict[str, list[str]]:
    """carrier.test: UDP SRV records in priority order, one per port, all on 127.0.0.1."""
    return {
        f"{DOMAIN}.": ['NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp.carrier.test.'],
        "_sip._udp.carrier.test.": [f"SRV {10 * (i + 1)} 100 {p} sip{i}.carrier.test."
                                    for i, p in enumerate(ports)],
        **{f"sip{i}.carrier.test.": ["A 127.0.0.1"] for i in range(len(ports))},
    }


def test_registration_and_keepalive_fail_over_across_the_srv_targets_and_follow_the_dns(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """carrier.test has two SRV targets: the first (priority 10) has nobody, the second is a
    SIPp registrar.  The REGISTER to the first times out (T1 = 0.1 s: Timer F after 6.4 s) and
    goes to the second, which binds us; the keep-alive marks the first address down while the
    second answers, so the trunk is never down.  Then the DNS answer changes to a third SIPp
    registrar only (TTL 5 s): the registration and the probes follow it."""
    dead, live, later = free_port(), free_port(), free_port()
    second = sipp.start("uas_registrar.xml", "-m", "100", local_port=live, timeout=120)
    third = sipp.start("uas_registrar.xml", "-m", "100", local_port=later, timeout=120)
    with DnsServer(registrar_zone(dead, live), ttl=5) as dns:
        demo = (ROOT / "configs" / "demo.toml").read_text()
        old = 'address = "udp:127.0.0.1:5070"'
        marker = "keepalive = 0                # no OPTIONS probes"
        assert old in demo and marker in demo
        demo = demo.replace(old, f'address = "{DOMAIN}"\nregister = true\n'
                                 'username = "acct"\npassword = "secret"\nexpires = 60', 1)
        demo = demo.replace(marker, "keepalive = 1\nkeepalive_misses = 2\n#", 1)
        conf = tmp_path / "registrar.toml"
        conf.write_text(demo + f'\n[dns]\nservers = ["127.0.0.1:{dns.port}"]\ntimeout = 2\n'
                        "\n[sip]\nt1 = 0.1\n")
        d = start_daemon(extra_args=["--config", str(conf)])
        try:
            moved = d.log.wait_for("trunk_registration_moved", 30.0, trunk="carrier")
            assert moved is not None, d.tail()
            assert (moved["dest"], moved["next"], moved["status"]) == (
                f"udp:127.0.0.1:{dead}", f"udp:127.0.0.1:{live}", 408)
            assert d.log.wait_for("trunk_registered", 15.0, trunk="carrier") is not None, \
                d.tail()
            down = d.log.wait_for("trunk_address_down", 30.0, trunk="carrier")
            assert down is not None and down["dest"] == f"udp:127.0.0.1:{dead}", d.tail()
            assert d.log.find("trunk_up", trunk="carrier") is not None, d.tail()
            assert d.log.find("trunk_down", trunk="carrier") is None, d.tail()
            assert d.log.find("trunk_registration_failed", trunk="carrier") is None, d.tail()
            # the DNS now names only the third server: both follow within the TTL
            dns.zone = {dnsname.from_text(n): r for n, r in registrar_zone(later).items()}
            follow = d.log.wait_for("trunk_registration_moved", 30.0, trunk="carrier",
                                    next=f"udp:127.0.0.1:{later}")
            assert follow is not None and follow["status"] == 0, d.tail()
            deadline = time.monotonic() + 15.0
            while time.monotonic() < deadline and len(
                    [e for e in d.log.events() if e.get("event") == "trunk_registered"]) < 2:
                time.sleep(0.2)  # the binding at the third server (the second one logged)
            regs = [e for e in d.log.events() if e.get("event") == "trunk_registered"]
            assert len(regs) >= 2, d.tail()
            time.sleep(2.5)  # a few probes of the third server (one a second)
            metrics = httpx.get(f"http://127.0.0.1:{d.http_port}/metrics", timeout=10).text
            assert 'ccswitch_trunk_up{trunk="carrier"} 1.0' in metrics, metrics
        finally:
            got2, got3 = second.wait(0.1), third.wait(0.1)
    regs2 = got2.requests("REGISTER", "received")
    assert regs2 and got2.requests("OPTIONS", "received"), got2.describe()
    assert regs2[0].header("Contact") and "acct@" in (regs2[0].header("Contact") or "")
    assert got3.requests("REGISTER", "received"), got3.describe()
    assert got3.requests("OPTIONS", "received"), got3.describe()
