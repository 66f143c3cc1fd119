"""The end-of-message silence detector (media/silence.py) and the cut of the WAV file."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ccswitch.media.silence import SilenceDetector
from ccswitch.mediaworker.wav import WavWriter

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz


def tone(seconds: float, amplitude: int) -> np.ndarray:
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def quiet(seconds: float, noise: int = 0) -> np.ndarray:
    n = round(seconds * RATE)
    rng = np.random.default_rng(1)
    return rng.integers(-noise, noise + 1, n).astype(np.int16)


def chunks(samples: np.ndarray, size: int) -> list[np.ndarray]:
    return [samples[i:i + size] for i in range(0, samples.size, size)]


def test_speech_then_silence_fires_once_after_the_silence_and_marks_the_speech_end() -> None:
    det = SilenceDetector(seconds=2.0, threshold=128)
    # 1.5 s of a 440 Hz tone at amplitude 8000 (mean |x| = 8000 * 2/pi ~ 5093 > 128), then
    # quiet with noise of at most 50 (mean |x| ~ 25 <= 128)
    audio = np.concatenate((tone(1.5, 8000), quiet(4.0, noise=50)))
    fired_at = [i for i, c in enumerate(chunks(audio, 4000)) if det.feed(c)]  # 0.5 s chunks
    # the quiet run begins at 1.5 s = 12000 samples and reaches 2 s at 3.5 s = 28000
    # samples, inside the 7th chunk (samples 24000..27999 are the 7th: index 6; 28000 is the
    # first sample of index 7, so the run is complete at the end of chunk index 6)
    assert fired_at == [6]
    assert det.speech_end == 12000
    assert det.fired


def test_odd_chunk_sizes_give_the_same_answer_as_whole_frames() -> None:
    audio = np.concatenate((tone(0.73, 3000), quiet(0.5), tone(0.3, 3000), quiet(3.0)))
    a = SilenceDetector(seconds=1.0)
    b = SilenceDetector(seconds=1.0)
    fired_a = any([a.feed(c) for c in chunks(audio, 333)])
    fired_b = any([b.feed(c) for c in chunks(audio, FRAME * 25)])
    # the last loud frame ends at the first frame boundary at or after 0.73 + 0.5 + 0.3 s =
    # 1.53 s = 12240 samples: 12240 / 160 = 76.5, so frame 76 (12160..12319) holds tone and
    # the speech ends at 77 * 160 = 12320
    assert fired_a and fired_b
    assert a.speech_end == b.speech_end == 12320


def test_a_pause_shorter_than_the_limit_does_not_end_the_message() -> None:
    det = SilenceDetector(seconds=2.0)
    audio = np.concatenate((tone(1.0, 5000), quiet(1.9), tone(1.0, 5000), quiet(1.0)))
    assert not any(det.feed(c) for c in chunks(audio, 4000))
    # the speech ends at 1.0 + 1.9 + 1.0 = 3.9 s = 31200 samples
    assert det.speech_end == 31200


def test_silence_from_the_start_counts() -> None:
    det = SilenceDetector(seconds=1.0)
    assert [det.feed(c) for c in chunks(quiet(1.5), 4000)] == [False, True, False]
    assert det.speech_end == 0


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        SilenceDetector(seconds=0.0)
    with pytest.raises(ValueError):
        SilenceDetector(seconds=1.0, threshold=40000)


def test_the_wav_file_is_cut_where_the_silence_began(tmp_path: Path) -> None:
    path = tmp_path / "m.wav"
    w = WavWriter(str(path), 1, RATE)
    audio = np.concatenate((tone(1.5, 8000), quiet(2.0)))  # 12000 + 16000 samples
    w.write(audio)
    w.truncate(12000)
    assert w.close() == 1.5  # 12000 / 8000
    with wave.open(str(path)) as f:
        assert f.getnframes() == 12000
        got = np.frombuffer(f.readframes(12000), dtype="<i2")
    assert np.array_equal(got, audio[:12000])
    assert path.stat().st_size == 44 + 2 * 12000  # the header and 12000 16-bit samples
