"""RTP pairs another process holds (issue 8, point 3), with real peers: the test binds ports
of the daemon's small `--rtp-ports` range with its own sockets.

- Some pairs held: a baresip call to the echo test 9196 is answered on a free pair and hears
  itself for the whole call (before the fix it was answered on the held pair and hung up a
  few milliseconds later).
- Every pair held: a SIPp INVITE gets 503 with Retry-After and never a 200.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_audio import spectrum, write_tone
from e2e_baresip import PhoneFactory
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import baresip_rtp_sources, settle
from e2e_sipp import Sipp, dial_args
from e2e_util import LOOPBACK, free_port_block

pytestmark = pytest.mark.e2e

TONE_HZ = 440.0
TALK_SECONDS = 3.0
PAIRS = 4  # the daemon's range: 8 ports


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    """Sockets the test binds to hold ports (closed at teardown)."""
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def hold(socks: list[socket.socket], ports: list[int]) -> None:
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((LOOPBACK, port))
        socks.append(s)


def start(start_daemon: DaemonFactory, lo: int) -> Daemon:
    return settle(start_daemon(extra_args=("--rtp-ports", f"{lo}-{lo + 2 * PAIRS - 1}",
                                           "--media-workers", "1")))


def test_held_pairs_are_skipped_and_the_call_gets_audio_on_a_free_pair(
    phones: PhoneFactory, start_daemon: DaemonFactory, held: list[socket.socket],
    tmp_path: Path,
) -> None:
    lo = free_port_block(2 * PAIRS)
    # the first pair's RTP port and the second pair's RTCP port: both pairs are unusable
    hold(held, [lo, lo + 3])
    daemon = start(start_daemon, lo)
    tone = write_tone(tmp_path / "tone.wav", TONE_HZ, 20)
    phone = phones("echo", account=f"<sip:1003@{LOOPBACK}:{daemon.sip_port};transport=udp>"
                   ";auth_pass=pw1003;regint=0", source_wav=tone)
    phone.dial(f"sip:9196@{LOOPBACK}:{daemon.sip_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(TALK_SECONDS)
    assert daemon.log.find("media_lost") is None, daemon.tail()  # still up: we hang up
    phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    phone.stop()

    _sent, received = phone.recordings()
    got = spectrum(received)
    assert got.seconds >= TALK_SECONDS - 1 and got.share(TONE_HZ) > 0.8, got.describe()
    sources = set(baresip_rtp_sources(phone.dir / "baresip.log"))
    assert sources and all(ip == LOOPBACK and lo + 4 <= port < lo + 2 * PAIRS
                           for ip, port in sources), sources
    assert daemon.log.find("rtp_bind_failed") is None, daemon.tail()
    busy = {e.get("port") for e in daemon.log.events() if e.get("event") == "rtp_port_busy"}
    assert busy == {lo, lo + 2}, daemon.tail()
    cdr = daemon.log.wait_for("cdr", timeout=5)
    assert cdr is not None and cdr.get("status") == 200, cdr


def test_every_pair_held_is_503_with_retry_after_and_no_answer(
    sipp: Sipp, start_daemon: DaemonFactory, held: list[socket.socket]
) -> None:
    lo = free_port_block(2 * PAIRS)
    hold(held, [lo + 2 * i for i in range(PAIRS)])  # every RTP port
    daemon = start(start_daemon, lo)
    result = sipp.run("uac_call_fail.xml", *dial_args("9196", daemon.sip_port), "-inf",
                      str(sipp.credentials("1005", "pw1005")), remote=daemon.sip_port,
                      timeout=20)
    assert result.ok, result.describe()  # the scenario fails on any 2xx
    statuses = result.received_statuses()
    assert 200 not in statuses and statuses[-1] == 503, result.describe()
    final = [m for m in result.received() if m.status == 503][-1]
    retry = final.header("Retry-After")
    assert retry is not None and 1 <= int(retry) <= 60, final.text
    assert daemon.log.find("rtp_ports_exhausted") is not None, daemon.tail()
    assert daemon.log.find("rtp_bind_failed") is None, daemon.tail()
