"""Carrier SIP the phones did not need, end to end (issue 11 point 5): SIPp plays a carrier
on 127.0.0.1:5070 (the demo's `carrier`) that requires 100rel and sends early media.

The caller is a SIPp phone whose SDP points at a UDP socket of this test: the test sees the
RTP the caller would hear, and when it arrived against the daemon's `call_answered`.

The carrier's port is fixed by the contract: run this file alone (not in parallel with
another run of it or of test_trunks.py)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import Sipp, dial_args
from e2e_util import free_port
from test_trunks import CarrierProxy
from test_trunks import carrier_proxy as carrier_proxy  # the fixture, for this module

from peers import require_peer

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
CARRIER = 5070
PCAP = Path("/usr/share/sip-tester/g711a.pcap")
ROOT = Path(__file__).resolve().parents[2]


class RtpSink:
    """A UDP socket on loopback that stamps (monotonic time, first two bytes) of every
    datagram."""

    def __init__(self) -> None:
        self.port = free_port(tcp=False)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.got: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), data[:2]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def stamp_when(daemon: Daemon, event: str, timeout: float) -> list[float]:
    """Start a thread that notes the monotonic time the daemon logs ``event``."""
    out: list[float] = []

    def wait() -> None:
        if daemon.log.wait_for(event, timeout) is not None:
            out.append(time.monotonic())

    threading.Thread(target=wait, daemon=True).start()
    return out


def test_carrier_requiring_100rel_gets_prack_and_its_early_media_reaches_the_caller(
        sipp: Sipp, daemon: Daemon) -> None:
    require_peer("sipp")
    if not PCAP.exists():
        pytest.fail(f"{PCAP} is missing (Debian's sip-tester ships it)")
    sink = RtpSink()
    carrier = sipp.start("uas_early_media_100rel.xml", local_port=CARRIER,
                         timeout=TIMEOUT)
    answered = stamp_when(daemon, "call_answered", TIMEOUT)
    try:
        uac = sipp.run("uac_call_early_media.xml", *dial_args("5550700123", daemon.sip_port),
                       "-inf", str(sipp.credentials("1001", "pw1001")),
                       "-key", "rtp_port", str(sink.port),
                       remote=daemon.sip_port, timeout=TIMEOUT)
        far = carrier.wait(TIMEOUT + 5)
    finally:
        carrier.stop()
        sink.close()
    assert far.ok, far.describe()
    assert uac.ok, uac.describe()
    # the carrier's checks passed: our INVITE supported 100rel, our PRACK named RSeq 1
    [prack] = far.requests("PRACK", "received")
    assert (prack.header("RAck") or "").startswith("1 "), far.describe()
    assert answered, daemon.tail()
    t_answer = answered[0]
    before = [t for t, _ in sink.got if t < t_answer]
    after = [t for t, _ in sink.got if t >= t_answer]
    counts = (len(before), len(after))
    # the carrier starts its RTP at its 200 to our PRACK and answers 2.5 s later: the caller
    # hears at least 1 s of it before the answer (1.5 s left for a loaded machine)...
    assert before and t_answer - before[0] >= 1.0, (counts, daemon.tail())
    # ...and it goes on after the answer: the caller stays 3 s, the pcap lasts 7.05 s
    assert after and after[-1] - t_answer >= 1.0, (counts, daemon.tail())
    assert min(counts) >= 30, counts  # 1 s is 33 packets of 30 ms, 50 of 20 ms
    # RTP version 2 carrying PCMA (payload type 8), as the caller's SDP asked
    assert {(b[0] >> 6, b[1] & 0x7F) for _, b in sink.got} == {(2, 8)}


def test_a_carrier_supporting_100rel_gets_our_early_media_reliably(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """DID 5550850 rings user 1017 (a SIPp phone sending 183 with SDP, then 200): the
    carrier, a SIPp UAC with `Supported: 100rel`, gets that 183 with `Require: 100rel` and an
    RSeq, PRACKs it, and only then the 200 (its scenario checks each)."""
    demo = (ROOT / "configs" / "demo.toml").read_text()
    marker = '5550850 = "room:850"'
    assert marker in demo
    conf = tmp_path / "did-to-user.toml"
    conf.write_text(demo.replace(marker, '5550850 = "user:1017"'))
    d = start_daemon(extra_args=["--config", str(conf)])
    port = free_port()
    reg = sipp.run("register.xml", "-inf", str(sipp.credentials("1017", "pw1017")),
                   remote=d.sip_port, local_port=port, timeout=10)
    assert reg.ok, reg.describe()
    phone = sipp.start("uas_early_answer.xml", local_port=port, timeout=TIMEOUT)
    try:
        far = sipp.run("uac_carrier_100rel.xml", "-s", "5550850", remote=d.sip_port,
                       local_port=CARRIER, timeout=TIMEOUT)
        callee = phone.wait(TIMEOUT + 5)
    finally:
        phone.stop()
    assert far.ok, far.describe()
    assert callee.ok, callee.describe()
    statuses = far.received_statuses()
    # the 183 (reliable), the 200 to the PRACK, then the 200 to the INVITE: never a 200
    # before the PRACK went out
    assert statuses.index(183) < statuses.index(200), statuses
    [r183] = [m for m in far.received() if m.status == 183][:1]
    assert r183.header("Require") == "100rel" and (r183.header("RSeq") or "").isdigit()


def test_prack_and_early_media_through_a_record_routing_carrier_proxy(
        sipp: Sipp, carrier_proxy: CarrierProxy) -> None:
    """Kamailio as the carrier (registers and challenges us, record-routes) in front of the
    SIPp far end that requires 100rel: our PRACK follows the 183's Record-Route through
    Kamailio (which answers 404 to an in-dialog request without its Route), and the far
    end's early RTP reaches the caller before the answer."""
    cp = carrier_proxy
    sink = RtpSink()
    far = sipp.start("uas_early_media_100rel.xml", local_port=cp.far_port, timeout=TIMEOUT)
    answered = stamp_when(cp.daemon, "call_answered", TIMEOUT)
    try:
        uac = sipp.run("uac_call_early_media.xml",
                       *dial_args("5550700129", cp.daemon.sip_port),
                       "-inf", str(sipp.credentials("1008", "pw1008")),
                       "-key", "rtp_port", str(sink.port),
                       remote=cp.daemon.sip_port, timeout=TIMEOUT)
        got = far.wait(TIMEOUT + 5)
    finally:
        far.stop()
        sink.close()
    assert got.ok, got.describe()
    assert uac.ok, uac.describe()
    [prack] = got.requests("PRACK", "received")
    # CSeq 1 was the INVITE Kamailio challenged, 2 the one with credentials, 3 the PRACK
    assert prack.header("RAck") == "1 2 INVITE", got.describe()
    assert answered, cp.daemon.tail()
    before = [t for t, _ in sink.got if t < answered[0]]
    assert before and answered[0] - before[0] >= 1.0, (len(sink.got), cp.daemon.tail())


class RtpPeer:
    """The carrier's new early-media address: a UDP socket on loopback that notes every
    datagram (time, payload type, first payload byte) and, once started, sends PCMU silence
    (payload 0xFF) every 20 ms from the same socket to a given port."""

    def __init__(self) -> None:
        self.port = free_port(tcp=False)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.02)
        self.got: list[tuple[float, int, int]] = []
        self.sent = 0
        self.target: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq, ts, next_send = 1, 0, time.monotonic()
        while not self._stop.is_set():
            if self.target is not None and time.monotonic() >= next_send:
                head = bytes([0x80, 0]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big")
                self.sock.sendto(head + (0x1234ABCD).to_bytes(4, "big") + b"\xff" * 160,
                                 ("127.0.0.1", self.target))
                seq, ts, next_send = seq + 1, ts + 160, next_send + 0.02
                self.sent += 1
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12:
                self.got.append((time.monotonic(), data[1] & 0x7F, data[12]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class PayloadSink(RtpSink):
    """An RtpSink that also keeps the first payload byte of each packet."""

    def __init__(self) -> None:
        self.payloads: list[tuple[float, int, int]] = []
        super().__init__()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12:
                self.payloads.append((time.monotonic(), data[1] & 0x7F, data[12]))


def test_a_carrier_moving_its_early_media_with_update_is_answered_and_heard_there(
        sipp: Sipp, daemon: Daemon) -> None:
    """The carrier (requiring 100rel) sends a reliable 183 with PCMA, then an UPDATE in the
    early dialog moving its early media to this test's socket with PCMU only, then a 200
    repeating the 183's SDP.  The switch answers the UPDATE itself (PCMU, from the port our
    INVITE offered); what the new address sends (PCMU silence, 0xFF) reaches the caller
    transcoded to PCMA (0xD5), before the answer and after it (the 200's repeat of the old
    SDP moves nothing back)."""
    early_update_call(sipp, daemon, CARRIER, "5550700124", "1001")


def test_an_early_update_through_a_record_routing_carrier_proxy(
        sipp: Sipp, carrier_proxy: CarrierProxy) -> None:
    """The same with Kamailio as the carrier in front of the SIPp far end: the far end's
    UPDATE follows the INVITE's Record-Route through Kamailio to us."""
    cp = carrier_proxy
    early_update_call(sipp, cp.daemon, cp.far_port, "5550700125", "1008")


def early_update_call(sipp: Sipp, daemon: Daemon, far_port: int, number: str,
                      user: str) -> None:
    require_peer("sipp")
    # the media workers start after `ready`: early media sent before then is lost
    spawned = 0
    while daemon.log.find("media_worker_spawned", worker=spawned) is not None:
        spawned += 1
    for worker in range(spawned):
        assert daemon.log.wait_for("media_worker_started", TIMEOUT, worker=worker), \
            daemon.tail()
    sink = PayloadSink()
    moved = RtpPeer()
    carrier = sipp.start("uas_early_update_100rel.xml", "-key", "new_rtp_port",
                         str(moved.port), local_port=far_port, timeout=TIMEOUT)
    answered = stamp_when(daemon, "call_answered", TIMEOUT)
    started: list[float] = []

    def start_sending() -> None:
        ev = daemon.log.wait_for("early_offer_answered", TIMEOUT)
        if ev is not None:
            moved.target = int(ev["port"])  # our port for the carrier's leg
            started.append(time.monotonic())

    threading.Thread(target=start_sending, daemon=True).start()
    try:
        uac = sipp.run("uac_call_early_media.xml", *dial_args(number, daemon.sip_port),
                       "-inf", str(sipp.credentials(user, f"pw{user}")),
                       "-key", "rtp_port", str(sink.port),
                       remote=daemon.sip_port, timeout=TIMEOUT)
        far = carrier.wait(TIMEOUT + 5)
    finally:
        carrier.stop()
        sink.close()
        moved.close()
    assert far.ok, far.describe()
    assert uac.ok, uac.describe()
    [upd] = [m for m in far.received() if m.status == 200 and "UPDATE" in m.text][:1]
    assert "m=audio" in upd.text, far.describe()
    assert daemon.log.find("early_offer_answered", leg="b") is not None, daemon.tail()
    assert moved.sent and answered, (moved.sent, daemon.tail())
    t_answer = answered[0]
    heard = sink.payloads
    before = [h for h in heard if h[0] < t_answer]
    after = [h for h in heard if h[0] >= t_answer]
    # PCMU silence from the new address, transcoded for the caller (PCMA, as it offered)
    assert {(pt, first) for _, pt, first in heard} == {(8, 0xD5)}, set(heard[:5])
    # heard before the answer (how long depends on the machine's load: the carrier answers
    # 2.5 s after its UPDATE) and after it, the caller staying 3 s
    assert before and len(after) >= 20, (
        len(before), len(after), started and started[0] - t_answer,
        [ln for ln in daemon.tail().splitlines() if "answered" in ln])
