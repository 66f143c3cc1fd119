"""Two baresip phones call each other and each hears the other: two-way audio, end to end.

Phone A plays 440 Hz, phone B 880 Hz (baresip's aufile source); each records what it
receives (sndfile). A's recording must hold B's tone and B's recording A's tone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import spectrum, write_tone
from e2e_baresip import Baresip, PhoneFactory
from e2e_daemon import Daemon

pytestmark = pytest.mark.e2e

A_HZ, B_HZ = 440.0, 880.0
TALK_SECONDS = 2.5


def assert_hears(phone: Baresip, expected_hz: float, own_hz: float) -> None:
    sent, received = phone.recordings()
    got = spectrum(received)
    assert got.seconds >= 1.0, f"{phone.dir.name} received too little audio: {got.describe()}"
    assert got.share(expected_hz) > 0.8, (
        f"{phone.dir.name} should hear {expected_hz:.0f} Hz: {got.describe()}, "
        f"share {got.share(expected_hz):.2f}"
    )
    assert got.share(own_hz) < 0.05, f"{phone.dir.name} hears itself: {got.describe()}"
    assert spectrum(sent).share(own_hz) > 0.8  # and it did send its own tone


def talk(caller: Baresip, callee: Baresip, uri: str) -> None:
    """Call `uri` from `caller`, let both talk, hang up from the caller."""
    caller.dial(uri)
    callee.wait_event("CALL_ESTABLISHED", timeout=10)
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(TALK_SECONDS)
    caller.hangup()
    callee.wait_event("CALL_CLOSED", timeout=10)


@pytest.fixture
def tones(tmp_path: Path) -> tuple[Path, Path]:
    return write_tone(tmp_path / "a.wav", A_HZ, 20), write_tone(tmp_path / "b.wav", B_HZ, 20)


def test_harness_direct_call_has_two_way_audio(
    phones: PhoneFactory, tones: tuple[Path, Path]
) -> None:
    """The harness itself, without the daemon: phone to phone over loopback."""
    a = phones("a", account="<sip:alice@127.0.0.1:{sip_port}>;regint=0", source_wav=tones[0])
    b = phones(
        "b",
        account="<sip:bob@127.0.0.1:{sip_port}>;regint=0;answermode=auto",
        source_wav=tones[1],
    )
    talk(a, b, f"sip:bob@127.0.0.1:{b.sip_port}")
    a.stop()
    b.stop()
    assert_hears(a, B_HZ, A_HZ)
    assert_hears(b, A_HZ, B_HZ)


def test_two_registered_phones_call_with_two_way_audio(
    phones: PhoneFactory, tones: tuple[Path, Path], daemon: Daemon
) -> None:
    port = daemon.sip_port
    a = phones(
        "a",
        account=f"<sip:1001@127.0.0.1:{port};transport=udp>;auth_pass=pw1001;regint=300",
        source_wav=tones[0],
    )
    b = phones(
        "b",
        account=(
            f"<sip:1002@127.0.0.1:{port};transport=udp>;auth_pass=pw1002;regint=300;answermode=auto"
        ),
        source_wav=tones[1],
    )
    a.wait_registered(timeout=10)
    b.wait_registered(timeout=10)
    talk(a, b, f"sip:1002@127.0.0.1:{port}")
    a.stop()
    b.stop()
    assert_hears(a, B_HZ, A_HZ)
    assert_hears(b, A_HZ, B_HZ)
