"""Anchored media with baresip phones: echo test 9196, tone test 9197, recorded calls.

Each phone plays a tone WAV as its microphone and records what it receives (see
e2e_baresip). That the audio really passes through the daemon is checked from the
phone's own log: the RTP it received came from a port of the daemon's --rtp-ports
range (baresip logs "receiving from IP:PORT"); for recorded calls the daemon's
2-channel recording is a second proof.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import spectrum, write_tone
from e2e_baresip import Baresip, PhoneFactory
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import (
    baresip_rtp_sources,
    channels,
    query,
    recording_config,
    rtp_ports,
    settle,
    wav_info,
)
from e2e_util import LOOPBACK, wait_until

pytestmark = pytest.mark.e2e

A_HZ, B_HZ, TONE_HZ = 440.0, 880.0, 1000.0
TALK_SECONDS = 2.5
MIN_AUDIO = 1.5  # seconds of non-silent audio out of TALK_SECONDS


@pytest.fixture
def daemon(module_daemon: Daemon) -> Daemon:
    """The module's daemon (demo configuration, media workers up): the service calls share it,
    each from a phone of its own, reading only that phone's audio."""
    return module_daemon


def account(daemon: Daemon, user: str, *, register: bool, auto: bool = False) -> str:
    return (
        f"<sip:{user}@{LOOPBACK}:{daemon.sip_port};transport=udp>;auth_pass=pw{user}"
        + (";regint=300" if register else ";regint=0")
        + (";answermode=auto" if auto else "")
    )


def assert_anchored(phone: Baresip, daemon: Daemon) -> None:
    """The phone received its RTP from the daemon's RTP port range, from nowhere else."""
    lo, hi = rtp_ports(daemon)
    sources = baresip_rtp_sources(phone.dir / "baresip.log")
    assert sources, f"{phone.dir.name} logged no incoming RTP\n{phone.output()}"
    outside = [s for s in sources if not (s[0] == LOOPBACK and lo <= s[1] <= hi)]
    assert not outside, (
        f"{phone.dir.name} received RTP from {outside}, outside the daemon's {lo}-{hi}: "
        "media is not anchored"
    )


def assert_hears(phone: Baresip, expected_hz: float, *, not_hz: float | None = None) -> None:
    _sent, received = phone.recordings()
    got = spectrum(received)
    assert got.seconds >= MIN_AUDIO, f"{phone.dir.name} received too little: {got.describe()}"
    share = got.share(expected_hz)
    assert share > 0.8, (
        f"{phone.dir.name} should hear {expected_hz:.0f} Hz: {got.describe()}, share {share:.2f}"
    )
    if not_hz is not None:
        assert got.share(not_hz) < 0.05, f"{phone.dir.name} hears {not_hz:.0f} Hz: {got.describe()}"


def call_service(phone: Baresip, daemon: Daemon, number: str) -> None:
    """Call `number` on the daemon, listen TALK_SECONDS, hang up, stop the phone."""
    phone.dial(f"sip:{number}@{LOOPBACK}:{daemon.sip_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(TALK_SECONDS)
    phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    phone.stop()  # closes its recordings


@pytest.fixture
def tones(tmp_path: Path) -> tuple[Path, Path]:
    return write_tone(tmp_path / "a.wav", A_HZ, 20), write_tone(tmp_path / "b.wav", B_HZ, 20)


def test_echo_9196_phone_hears_itself(
    phones: PhoneFactory, tones: tuple[Path, Path], daemon: Daemon
) -> None:
    phone = phones("echo", account=account(daemon, "1003", register=False), source_wav=tones[0])
    call_service(phone, daemon, "9196")
    assert_hears(phone, A_HZ)
    assert_anchored(phone, daemon)


def test_tone_9197_phone_hears_1000_hz(
    phones: PhoneFactory, tones: tuple[Path, Path], daemon: Daemon
) -> None:
    phone = phones("tone", account=account(daemon, "1004", register=False), source_wav=tones[0])
    call_service(phone, daemon, "9197")
    assert_hears(phone, TONE_HZ, not_hz=A_HZ)  # the tone, not an echo of itself
    assert_anchored(phone, daemon)


def test_recorded_call_between_two_phones(
    phones: PhoneFactory,
    tones: tuple[Path, Path],
    start_daemon: DaemonFactory,
    tmp_path: Path,
) -> None:
    """`record_calls = true`: channel 1 holds the caller's tone, channel 2 the callee's."""
    config = recording_config(tmp_path / "rec.toml")
    daemon = settle(start_daemon(extra_args=["--config", str(config)]))
    a = phones("a", account=account(daemon, "1001", register=True), source_wav=tones[0])
    b = phones("b", account=account(daemon, "1002", register=True, auto=True), source_wav=tones[1])
    a.wait_registered(timeout=10)
    b.wait_registered(timeout=10)
    day_before = time.strftime("%Y-%m-%d")
    a.dial(f"sip:1002@{LOOPBACK}:{daemon.sip_port}")
    b.wait_event("CALL_ESTABLISHED", timeout=10)
    a.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(TALK_SECONDS)
    a.hangup()
    b.wait_event("CALL_CLOSED", timeout=10)
    a.stop()
    b.stop()

    cdr = daemon.log.wait_for("cdr", timeout=5)
    done = daemon.log.wait_for("recording_done", timeout=5)
    assert cdr is not None, f"no cdr event\n{daemon.tail()}"
    assert done is not None, f"no recording_done event\n{daemon.tail()}"
    path = Path(done["path"])
    assert cdr.get("recording") == done["path"], (cdr, done)
    assert done.get("ok") is True, done
    rec_dir = daemon.data_dir / "recordings"
    assert path.parent.parent == rec_dir, f"{path} not under {rec_dir}/YYYY-MM-DD/"
    assert path.parent.name in {day_before, time.strftime("%Y-%m-%d")}, path
    started = daemon.log.find("call_started", caller="1001", callee="1002")
    assert started is not None, daemon.tail()
    call_id = started["call_id"]  # the switch's call id: log, CDR and recording share it
    assert cdr.get("call_id") == call_id and started.get("sip_call_id"), (cdr, started)
    assert path.name == f"{call_id}.wav", (path.name, call_id)
    assert path.is_file(), f"{path} missing"

    info = wav_info(path)
    assert (info.channels, info.rate, info.sample_bits) == (2, 8000, 16), info
    assert TALK_SECONDS - 1.0 <= info.seconds <= TALK_SECONDS + 3.0, info
    caller, callee = (spectrum(p) for p in channels(path, tmp_path / "split"))
    assert caller.seconds >= MIN_AUDIO, f"channel 1: {caller.describe()}"
    assert callee.seconds >= MIN_AUDIO, f"channel 2: {callee.describe()}"
    assert caller.share(A_HZ) > 0.8 and caller.share(B_HZ) < 0.05, (
        f"channel 1 should hold the caller's {A_HZ:.0f} Hz: {caller.describe()}"
    )
    assert callee.share(B_HZ) > 0.8 and callee.share(A_HZ) < 0.05, (
        f"channel 2 should hold the callee's {B_HZ:.0f} Hz: {callee.describe()}"
    )

    sql = "SELECT path, call_id, state, seconds FROM recordings"
    assert wait_until(lambda: any(r["state"] != "recording" for r in query(daemon.data_dir, sql)),
                      timeout=5)  # fmt: skip
    (row,) = query(daemon.data_dir, sql)
    assert (row["path"], row["state"]) == (str(path), "complete"), row
    assert row["seconds"] is not None and abs(row["seconds"] - info.seconds) < 0.5, (row, info)
    cdrs = query(daemon.data_dir, "SELECT call_id, recording, recording_state FROM cdr")
    assert [(c["recording"], c["recording_state"]) for c in cdrs] == [(str(path), "complete")]
    assert cdrs[0]["call_id"] == row["call_id"], (cdrs, row)

    # both phones heard each other, through the daemon
    assert_hears(a, B_HZ, not_hz=A_HZ)
    assert_hears(b, A_HZ, not_hz=B_HZ)
    assert_anchored(a, daemon)
    assert_anchored(b, daemon)
