"""Hold and resume with music on hold (issue 9), with real peers.

- The harness: baresip's `hold` / `resume` really send re-INVITEs with ``a=sendonly`` and
  then ``a=sendrecv`` (checked by a SIPp UAS, no switch involved).
- The feature: 1001 (440 Hz) calls 1002 (1500 Hz, auto-answer) through the switch and puts
  the call on hold for a few seconds: meanwhile 1002 hears music (sound, not silence, and not
  1001's tone); after resume 1002 hears 1001's tone again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import read_mono, write_tone
from e2e_baresip import PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, TONES, hang_up, phone, uri
from e2e_daemon import Daemon
from e2e_sipp import Sipp
from e2e_tones import presence
from e2e_util import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

BEFORE, HELD, AFTER = 2.0, 5.0, 3.0  # seconds talking, on hold, talking again


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


def test_hold_plays_music_to_the_other_side_and_resume_restores_the_call(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    b = phone(phones, daemon, tmp_path, "held-1002", "1002", AGENT_HZ, register=True, auto=True)
    a = phone(phones, daemon, tmp_path, "holder-1001", "1001", CALLER_HZ)
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

    _sent, received = b.recordings()
    whole = presence(received, TONES)
    # music, not silence: sound that is none of the test tones, for most of the hold
    assert whole.other_seconds() >= HELD - 2.0, (
        f"1002 should hear music on hold for ~{HELD:.0f} s: {whole.describe()}"
    )
    # 1001's tone before and after the hold, not during it
    assert BEFORE + AFTER - 2.0 <= whole.seconds(CALLER_HZ) <= BEFORE + AFTER + 1.5, (
        f"1002 should hear 1001 for ~{BEFORE + AFTER:.0f} s (not while held): {whole.describe()}"
    )
    x, rate = read_mono(received)
    tail = presence(received, TONES, start=len(x) / rate - (AFTER - 0.5))
    assert tail.seconds(CALLER_HZ) >= AFTER - 1.5, (
        f"after resume 1002 should hear 1001 again: last {AFTER - 0.5:.1f} s: {tail.describe()}"
    )
