"""The crash-safe WAV writer, repair_wav and Opus/MP3 conversion, read back by ``wave`` and PyAV."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import av  # PyAV: a dependency of the media worker (decoding prompts, Opus/MP3)
import numpy as np
import pytest

from ccswitch.mediaworker.wav import (
    HEADER_LEN,
    ConversionError,
    WavError,
    WavWriter,
    convert,
    format_of,
    recover,
    repair_wav,
    wav_path_for,
)
from ccswitch.mediaworker.writer import RecordingWriter

RATE = 8000
SRC = str(Path(__file__).resolve().parents[2] / "src")


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def stereo(seconds: float, f0: float = 440.0, f1: float = 1000.0, start: int = 0) -> np.ndarray:
    t = (np.arange(int(seconds * RATE)) + start) / RATE
    left = 8000 * np.sin(2 * np.pi * f0 * t)
    right = 6000 * np.sin(2 * np.pi * f1 * t)
    return np.stack([left, right], axis=1).astype(np.int16)


def read_wave(path: str) -> tuple[int, np.ndarray]:
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2
        assert w.getframerate() == RATE
        ch = w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return ch, data.reshape(-1, ch)


def read_av(path: str) -> tuple[int, np.ndarray]:
    """Every sample PyAV decodes, as (rate, array of shape (n, channels)) in int16."""
    out = []
    with av.open(path) as c:
        st = c.streams.audio[0]
        ch = st.codec_context.channels
        rate = st.codec_context.sample_rate
        res = av.AudioResampler(format="s16", layout=st.codec_context.layout.name, rate=rate)
        for frame in c.decode(st):
            frame.pts = None
            out.extend(f.to_ndarray().reshape(-1, ch) for f in res.resample(frame))
        out.extend(f.to_ndarray().reshape(-1, ch) for f in res.resample(None))
    return rate, np.concatenate(out) if out else np.zeros((0, ch), np.int16)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    x = x.astype(np.float64) - x.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def test_write_close_reads_back_exactly(tmp_path: Path) -> None:
    path = str(tmp_path / "a.wav")
    audio = stereo(1.3)
    w = WavWriter(path, 2)
    for i in range(0, len(audio), 160):
        w.write(audio[i:i + 160])
    assert w.close() == pytest.approx(1.3)
    ch, got = read_wave(path)
    assert ch == 2
    np.testing.assert_array_equal(got, audio)
    rate, dec = read_av(path)
    assert rate == RATE
    np.testing.assert_array_equal(dec, audio)
    assert os.path.getsize(path) == HEADER_LEN + audio.nbytes


def test_mono_accepts_1d_and_shape_is_checked(tmp_path: Path) -> None:
    w = WavWriter(str(tmp_path / "m.wav"), 1)
    w.write(np.arange(100, dtype=np.int16))
    with pytest.raises(ValueError):
        w.write(np.zeros((10, 2), np.int16))
    w.close()
    ch, got = read_wave(str(tmp_path / "m.wav"))
    assert ch == 1
    np.testing.assert_array_equal(got[:, 0], np.arange(100))


def test_header_rewritten_at_most_every_interval(tmp_path: Path) -> None:
    """Not closed (as if killed): readers see what was written up to the last header rewrite."""
    clock = FakeClock()
    path = str(tmp_path / "k.wav")
    w = WavWriter(path, 2, header_interval=1.0, clock=clock, buffering=4096)
    a, b, c = stereo(0.5), stereo(0.5, start=4000), stereo(2.0, start=8000)
    w.write(a)
    clock.t += 0.9
    w.write(b)  # 0.9 s after the last rewrite: none yet
    assert read_wave(path)[1].shape == (0, 2)
    clock.t += 0.2
    w.write(b)  # 1.1 s: rewrite, counting a + b + b
    clock.t += 0.5
    w.write(c)  # no rewrite; part of c reaches the file through the 4 KiB buffer
    assert os.path.getsize(path) > HEADER_LEN + 3 * a.nbytes  # the file holds more ...
    synced = np.concatenate([a, b, b])
    _, got = read_wave(path)  # ... but the readers stop where the header says
    np.testing.assert_array_equal(got, synced)
    _, dec = read_av(path)
    np.testing.assert_array_equal(dec, synced)
    w.close()
    np.testing.assert_array_equal(read_wave(path)[1], np.concatenate([synced, c]))


def test_repair_after_a_real_kill(tmp_path: Path) -> None:
    """A process killed by SIGKILL mid-recording; repair_wav makes every sample on disk count."""
    path = str(tmp_path / "killed.wav")
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        import numpy as np
        from ccswitch.mediaworker.wav import WavWriter
        w = WavWriter({path!r}, 2, header_interval=3600.0, buffering=4096)
        t = np.arange(8000 * 3) / 8000
        x = np.stack([8000 * np.sin(2 * np.pi * 440 * t), 6000 * np.sin(2 * np.pi * 1000 * t)],
                     axis=1).astype(np.int16)
        for i in range(0, len(x), 160):
            w.write(x[i:i + 160])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    size = os.path.getsize(path)
    assert size > HEADER_LEN + 8000 * 4  # most of the 3 s reached the file unbuffered
    assert read_wave(path)[1].shape == (0, 2)  # the header never counted them
    assert repair_wav(path) is True
    _, got = read_wave(path)
    on_disk = (size - HEADER_LEN) // 4
    assert len(got) == on_disk
    np.testing.assert_array_equal(got, stereo(3.0)[:on_disk])
    _, dec = read_av(path)
    np.testing.assert_array_equal(dec, got)
    assert repair_wav(path) is False  # consistent now


def test_repair_cuts_a_partial_frame_and_leaves_good_files(tmp_path: Path) -> None:
    path = str(tmp_path / "p.wav")
    w = WavWriter(path, 2)
    w.write(stereo(0.25))
    w.close()
    before = Path(path).read_bytes()
    assert repair_wav(path) is False
    assert Path(path).read_bytes() == before
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")  # 3 bytes of a 4-byte frame
    assert repair_wav(path) is True
    assert Path(path).read_bytes() == before


def test_repair_rejects_what_is_not_a_wav(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"ID3\x03" + bytes(100))
    with pytest.raises(WavError):
        repair_wav(str(bad))
    with pytest.raises(FileNotFoundError):
        repair_wav(str(tmp_path / "missing.wav"))


@pytest.mark.parametrize("fmt, suffix", [("opus", ".opus"), ("mp3", ".mp3")])
def test_convert_keeps_duration_and_channels(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = str(tmp_path / "call.wav")
    w = WavWriter(path, 2)
    w.write(stereo(2.0))
    w.close()
    out = convert(path, fmt)
    assert out == str(tmp_path / ("call" + suffix))
    assert os.path.exists(path) and not os.path.exists(out + ".part")
    with av.open(out) as c:
        assert c.format.name == ("ogg" if fmt == "opus" else "mp3")
        assert c.streams.audio[0].codec_context.name in ("opus", "libopus", "mp3", "mp3float")
    rate, dec = read_av(out)
    assert dec.shape[1] == 2
    assert len(dec) / rate == pytest.approx(2.0, abs=0.1)
    mid = dec[len(dec) // 4: 3 * len(dec) // 4]  # clear of encoder delay and padding
    assert dominant_hz(mid[:, 0], rate) == pytest.approx(440, abs=10)
    assert dominant_hz(mid[:, 1], rate) == pytest.approx(1000, abs=10)


def test_convert_errors(tmp_path: Path) -> None:
    path = str(tmp_path / "four.wav")
    w = WavWriter(path, 4)
    w.write(np.zeros((800, 4), np.int16))
    w.close()
    with pytest.raises(ConversionError, match="2 channels"):
        convert(path, "mp3")
    assert not os.path.exists(str(tmp_path / "four.mp3.part"))
    with pytest.raises(ConversionError, match="unknown"):
        convert(path, "aiff")
    assert convert(path, "wav") == path
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(ConversionError):
        convert(str(bad), "opus")


def test_wav_path_for() -> None:
    assert wav_path_for("/r/a.wav", "wav") == "/r/a.wav"
    assert wav_path_for("/r/a.opus", "opus") == "/r/a.opus.wav"


def unclosed_wav(path: str, seconds: float) -> None:
    """A WAV whose writer stopped without closing it (its header counts no samples)."""
    w = WavWriter(path, 2, header_interval=1e9)
    w.write(stereo(seconds))
    w._file.flush()


def test_recover_repairs_a_wav_and_converts_what_was_to_be_opus(tmp_path: Path) -> None:
    wav = str(tmp_path / "a.wav")
    unclosed_wav(wav, 1.5)
    assert recover(wav, format_of(wav)) == pytest.approx(1.5)
    with wave.open(wav) as f:
        assert f.getnframes() == int(1.5 * RATE)
    opus = str(tmp_path / "b.opus")
    unclosed_wav(wav_path_for(opus, "opus"), 1.0)
    assert format_of(opus) == "opus" and format_of(str(tmp_path / "c.mp3")) == "mp3"
    assert recover(opus, "opus") == pytest.approx(1.0)
    assert os.path.exists(opus) and not os.path.exists(opus + ".wav")
    assert recover(opus, "opus") == 0.0  # converted already: nothing to do
    with pytest.raises(FileNotFoundError):
        recover(str(tmp_path / "missing.wav"), "wav")


def test_a_failed_conversion_reports_the_recordings_own_path_and_keeps_the_wav(
    tmp_path: Path,
) -> None:
    writer = RecordingWriter(rate=RATE)
    writer.start()
    path = str(tmp_path / "four.mp3")  # MP3 takes at most 2 channels: conversion fails
    writer.open(1, path, 4, "mp3")
    writer.write(1, np.zeros((800, 4), np.int16))
    writer.close(1)
    assert writer.stop(10)
    (done,) = writer.events()
    assert (done.rec_id, done.path, done.ok) == (1, path, False)
    assert os.path.exists(path + ".wav") and not os.path.exists(path)
