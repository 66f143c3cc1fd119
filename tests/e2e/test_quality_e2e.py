"""Call quality through a real daemon: SIPp plays Debian's g711a.pcap into the echo service
9196, once as it is and once with every tenth RTP packet taken out of the pcap; the daemon
measures the loss on the caller's leg, rates both calls by the E-model, shows the live MOS in
`GET /api/v1/calls`, and reports each call's quality in its CDR row, a `call.quality` event
and the `/metrics` histograms.  A baresip phone, which sends RTCP, gives the round trip and
its own receiver reports (docs/quality.md)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_audio import write_tone
from e2e_baresip import PhoneFactory
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import PCAP_DIR, query, raw_sockets_reason, settle
from e2e_sipp import Sipp, dial_args
from e2e_util import LOOPBACK
from prometheus_client.parser import text_string_to_metric_families

from peers import missing_peer, require_peer

pytestmark = pytest.mark.e2e

TIMEOUT = 40.0
ADMIN = {"Authorization": "Bearer demo-admin-token"}
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "uac_pcap_echo.xml"
G711A_PACKETS = 236  # RTP packets in g711a.pcap


def pcap_peers() -> None:
    require_peer("sipp-pcaps")
    reason = raw_sockets_reason()  # SIPp's play_pcap_audio sends through a raw socket
    if reason is not None:
        missing_peer(reason)


def lossy_pcap(src: Path, dst: Path) -> int:
    """`src` without its RTP packets number 4, 14, 24, ... (counting from 0); how many
    were left out."""
    data = src.read_bytes()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out = bytearray(data[:24])
    off, index, dropped = 24, 0, 0
    while off + 16 <= len(data):
        incl = struct.unpack(order + "I", data[off + 8:off + 12])[0]
        record = data[off:off + 16 + incl]
        off += 16 + incl
        if index % 10 == 4:
            dropped += 1
        else:
            out += record
        index += 1
    assert index == G711A_PACKETS, f"g711a.pcap has {index} packets"
    dst.write_bytes(bytes(out))
    return dropped


def scenario(tmp_path: Path, pcap: Path, name: str) -> Path:
    """uac_pcap_echo.xml playing only `pcap` (no digit afterwards: another SSRC would
    restart the stream's statistics), the call held 11 s (two live samples at least)."""
    text = SCENARIO.read_text()
    start = text.index("  <!-- Media:")
    end = text.index('  <send retrans="500">', start)
    media = (f'  <nop>\n    <action>\n      <exec play_pcap_audio="{pcap}"/>\n'
             '    </action>\n  </nop>\n  <pause milliseconds="11000"/>\n\n')
    path = tmp_path / f"{name}.xml"
    path.write_text(text[:start] + media + text[end:])
    return path


def wait_rows(daemon: Daemon, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The CDR rows of the calls of 1001 once `n` of them have their caller's MOS."""
    sql = "SELECT * FROM cdr WHERE caller = '1001' ORDER BY id"
    deadline = time.monotonic() + timeout
    while True:
        rows = query(daemon.data_dir, sql)
        if sum(r["mos_caller"] is not None for r in rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def live_mos(client: httpx.Client, seen: list[float], stop: float) -> None:
    """Poll `GET /api/v1/calls` until `stop`, keeping each live `mos` shown."""
    while time.monotonic() < stop:
        r = client.get("/api/v1/calls", headers=ADMIN)
        assert r.status_code == 200, r.text
        seen += [c["mos"] for c in r.json() if c.get("mos") is not None]
        if seen:
            return
        time.sleep(0.25)


def test_a_lossy_stream_gives_ten_percent_loss_and_a_lower_mos(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    pcap_peers()
    daemon: Daemon = settle(start_daemon())
    clean_pcap = PCAP_DIR / "g711a.pcap"
    dropped = lossy_pcap(clean_pcap, tmp_path / "lossy.pcap")
    assert dropped == 24  # packets 4, 14, ..., 234
    creds = ("-inf", str(sipp.credentials("1001", "pw1001")))
    client = httpx.Client(base_url=f"http://{LOOPBACK}:{daemon.http_port}", timeout=5.0)

    clean = sipp.run(str(scenario(tmp_path, clean_pcap, "clean")),
                     *dial_args("9196", daemon.sip_port), *creds,
                     remote=daemon.sip_port, timeout=TIMEOUT)
    assert clean.ok, clean.describe()
    lossy = sipp.start(str(scenario(tmp_path, tmp_path / "lossy.pcap", "lossy")),
                       *dial_args("9196", daemon.sip_port), *creds,
                       remote=daemon.sip_port, timeout=TIMEOUT)
    seen: list[float] = []
    try:
        live_mos(client, seen, time.monotonic() + 12.0)
        result = lossy.wait(TIMEOUT)
    finally:
        lossy.stop()
    assert result.ok, result.describe()

    rows = wait_rows(daemon, 2)
    assert len(rows) == 2 and all(r["mos_caller"] is not None for r in rows), rows
    first, second = rows
    # the clean pcap: its sequence numbers run without a gap, nothing lost
    assert first["loss_caller"] == 0.0, first
    # RFC 3550 A.1: the first packet is the source's probation, so packets 1..235 are
    # expected (235) and 24 of them never came: 100 * 24 / 235 = 10.21 %
    assert second["loss_caller"] == pytest.approx(10.21, abs=0.01), second
    # E-model (quality.md): the clean call R = 93.2 - Id(80 ms) = 91.28 at most -> MOS 4.37;
    # the lossy one loses Ie,eff = 95 * 10.21 / (10.21 + 25.1) = 27.47 more: MOS about 3.3
    assert first["mos_caller"] > 4.0, first
    assert second["mos_caller"] < 3.6 < first["mos_caller"], second
    assert first["mos_callee"] is None and first["rtt_caller"] is None  # no RTCP from SIPp

    # the live MOS of the lossy call, as the wallboard reads it, flagged under 3.6
    assert seen and seen[0] < 3.6, f"live mos seen during the lossy call: {seen}"

    # the call.quality events, after the call.ended of each call
    events = query(daemon.data_dir, "SELECT seq, type, call_id, data FROM events"
                                    " WHERE type IN ('call.ended', 'call.quality') ORDER BY seq")
    quality = {e["call_id"]: json.loads(e["data"]) for e in events
               if e["type"] == "call.quality"}
    assert set(quality) == {first["call_id"], second["call_id"]}, events
    assert quality[second["call_id"]]["loss_caller"] == second["loss_caller"]
    for call_id in quality:
        order = [e["type"] for e in events if e["call_id"] == call_id]
        assert order == ["call.ended", "call.quality"], order

    # the history API gives each CDR's two MOS columns
    r = client.get("/api/v1/cdrs", headers=ADMIN)
    assert r.status_code == 200, r.text
    mos = {c["call_id"]: (c["mos_caller"], c["mos_callee"]) for c in r.json()["items"]}
    assert mos[second["call_id"]] == (second["mos_caller"], None), mos

    # /metrics: the MOS histogram has both calls, the worker's loss histogram both legs
    text = client.get("/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("ccswitch_call_mos_count", (("leg", "caller"),))] == 2
    assert samples[("ccswitch_call_mos_bucket", (("le", "3.6"), ("leg", "caller")))] == 1
    loss = [v for (name, labels), v in samples.items()
            if name == "ccswitch_rtp_loss_percent_count"]
    assert sum(loss) == 2, loss


def test_a_phone_that_sends_rtcp_gives_the_round_trip(
        phones: PhoneFactory, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """baresip calls 9196 for 16 s: our SRs (every 5 s) come back in its reports as LSR and
    DLSR, so the CDR has the round trip (loopback: a few ms at most) and its loss report."""
    daemon: Daemon = settle(start_daemon())
    phone = phones("rtcp", source_wav=write_tone(tmp_path / "a.wav", 440.0, 30),
                   account=f"<sip:1003@{LOOPBACK}:{daemon.sip_port};transport=udp>"
                           ";auth_pass=pw1003;regint=0")
    phone.dial(f"sip:9196@{LOOPBACK}:{daemon.sip_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(16.0)
    phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    deadline = time.monotonic() + 20.0
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = query(daemon.data_dir, "SELECT * FROM cdr WHERE caller = '1003'")
        if rows and rows[0]["mos_caller"] is not None:
            break
        time.sleep(0.2)
    assert rows and rows[0]["mos_caller"] is not None, rows
    (row,) = rows
    assert row["rtt_caller"] is not None, f"no round trip from baresip's RTCP: {row}"
    assert 0.0 <= row["rtt_caller"] < 100.0, row  # loopback on a busy machine
    assert row["loss_caller"] == 0.0, row
    # no loss, d = rtt/2 + 60 + 20 < 130 ms: R > 93.2 - 0.024 * 130 = 90.08, MOS > 4.3
    assert row["mos_caller"] > 4.3, row
