"""Hold and resume with music on hold (issue 9), with real peers.

- The harness: baresip's `hold` / `resume` really send re-INVITEs with ``a=sendonly`` and
  then ``a=sendrecv`` (checked by a SIPp UAS, no switch involved).
- The feature: 1001 (440 Hz) calls 1002 (1500 Hz, auto-answer) through the switch and puts
  the call on hold for a few seconds: meanwhile 1002 hears music (sound, not silence, and not
  1001's tone); after resume 1002 hears 1001's tone again.

What 1002 hears is read from the wire, not from baresip's recording: baresip 1.0 restarts
its audio player on each re-INVITE (`stream: update 'audio'`) and its `sndfile` recorder
writes no more decoded audio after that, although RTP keeps arriving (its own bit-rate
line shows 64 kbit/s received throughout). tcpdump captures the switch's SIP port and RTP
range; the hold and resume moments are the re-INVITEs 1001 sent, found in the same
capture (one clock); the RTP the switch sent to 1002's ports is decoded (G.711) and each
phase is analysed like a recording.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import write_tone
from e2e_baresip import Baresip, PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, TONES, hang_up, phone, uri
from e2e_daemon import Daemon
from e2e_media import (
    Capture,
    Datagram,
    Rtp,
    pcm,
    read_pcap,
    require_capture,
    rtp,
    rtp_ports,
    write_wav,
)
from e2e_sipp import Sipp
from e2e_tones import Presence, presence
from e2e_util import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

BEFORE, HELD, AFTER = 2.0, 5.0, 3.0  # seconds talking, on hold, talking again
MARGIN = 0.5  # s after a re-INVITE left out of the analysis (the switch acting on it)


def test_harness_baresip_hold_and_resume_send_sendonly_then_sendrecv(
    phones: PhoneFactory, sipp: Sipp, tmp_path: Path
) -> None:
    port = free_port()
    uas = sipp.start("uas_hold.xml", local_port=port, timeout=20, tag="hold")
    a = phones("a", account="<sip:alice@127.0.0.1:{sip_port}>;regint=0",
               source_wav=write_tone(tmp_path / "a.wav", CALLER_HZ, 20))  # fmt: skip
    try:
        a.dial(f"sip:bob@{LOOPBACK}:{port}")
        a.wait_event("CALL_ESTABLISHED", timeout=10)
        time.sleep(0.5)
        a.hold()
        time.sleep(1.0)
        a.resume()
        time.sleep(1.0)
        a.hangup()
        result = uas.wait(10)
    finally:
        uas.stop()
    assert result.ok, result.describe()
    reinvites = result.requests("INVITE", "received")[1:]
    assert len(reinvites) == 2, result.describe()
    assert "a=sendonly" in reinvites[0].text and "a=sendrecv" in reinvites[1].text, (
        result.describe()
    )


def _sip(datagrams: list[Datagram], src_port: int, method: str) -> list[Datagram]:
    """The SIP requests `method` sent from `src_port`, in capture order."""
    return [
        d
        for d in datagrams
        if d.src[1] == src_port and d.payload.startswith(method.encode() + b" ")
    ]


def _hold_and_resume(datagrams: list[Datagram], phone_port: int) -> tuple[float, float]:
    """Capture times of the phone's first re-INVITE with a=sendonly and of the first
    INVITE with a=sendrecv after it."""
    invites = _sip(datagrams, phone_port, "INVITE")
    held = [d.time for d in invites if b"a=sendonly" in d.payload]
    assert held, f"no hold re-INVITE from port {phone_port} in the capture"
    resumed = [d.time for d in invites if d.time > held[0] and b"a=sendrecv" in d.payload]
    assert resumed, f"no resume re-INVITE from port {phone_port} in the capture"
    return held[0], resumed[0]


def _to(packets: list[Rtp], p: Baresip, lo: int, hi: int) -> list[Rtp]:
    """The RTP the switch (ports lo-hi) sent to phone `p`'s RTP ports."""
    first, last = p.rtp_ports
    return [r for r in packets if lo <= r.src[1] <= hi and first <= r.dst[1] <= last]


def _phase(packets: list[Rtp], start: float, end: float, path: Path) -> Presence:
    """The tones in the audio of the `packets` captured between `start` and `end`."""
    audio = pcm([r for r in packets if start <= r.time < end])
    return presence(write_wav(path, audio), TONES)


def test_hold_plays_music_to_the_other_side_and_resume_restores_the_call(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    require_capture()
    daemon = module_daemon
    lo, hi = rtp_ports(daemon)
    b = phone(phones, daemon, tmp_path, "held-1002", "1002", AGENT_HZ, register=True, auto=True)
    a = phone(phones, daemon, tmp_path, "holder-1001", "1001", CALLER_HZ)
    bpf = f"udp and (port {daemon.sip_port} or portrange {lo}-{hi})"
    with Capture(tmp_path / "hold.pcap", bpf) as cap:
        a.dial(uri(daemon, "1002"))
        a.wait_event("CALL_ESTABLISHED", timeout=10)
        b.wait_event("CALL_ESTABLISHED", timeout=10)
        time.sleep(BEFORE)
        a.hold()
        time.sleep(HELD)
        a.resume()
        time.sleep(AFTER)
        assert not a.closed() and not b.closed(), "the call ended during hold or resume"
        hang_up(a, b)

    datagrams = read_pcap(cap.path)
    held_at, resumed_at = _hold_and_resume(datagrams, a.sip_port)
    byes = [d.time for d in _sip(datagrams, a.sip_port, "BYE") if d.time > resumed_at]
    assert byes, "no BYE from 1001 after the resume in the capture"
    to_b = _to(rtp(datagrams), b, lo, hi)
    assert to_b, f"no RTP from the switch to 1002's ports {b.rtp_ports} in the capture"
    # a margin after each re-INVITE for the switch to act on it
    before = _phase(to_b, to_b[0].time, held_at, tmp_path / "1002-before.wav")
    during = _phase(to_b, held_at + MARGIN, resumed_at, tmp_path / "1002-held.wav")
    after = _phase(to_b, resumed_at + MARGIN, byes[0], tmp_path / "1002-after.wav")
    phases = f"before: {before.describe()}\nheld: {during.describe()}\nafter: {after.describe()}"

    assert before.seconds(CALLER_HZ) >= BEFORE - 1.0, f"1002 should hear 1001 first\n{phases}"
    # music, not silence and not 1001: sound that is none of the test tones, for the hold
    assert during.other_seconds() >= HELD - MARGIN - 1.0, (
        f"1002 should hear music on hold for ~{HELD - MARGIN:.1f} s\n{phases}"
    )
    assert during.seconds(CALLER_HZ) < 0.5, f"1002 should not hear 1001 while held\n{phases}"
    assert after.seconds(CALLER_HZ) >= AFTER - MARGIN - 1.0, (
        f"after resume 1002 should hear 1001 again\n{phases}"
    )
    assert after.other_seconds() < 0.5, f"the music should stop at resume\n{phases}"
