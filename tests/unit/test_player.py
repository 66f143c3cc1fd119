"""Players: tone names, sample conversion, frames, padding at the end, loops."""

from __future__ import annotations

import numpy as np
import pytest

from ccswitch.media.player import TONES, Player, PlayerError, samples_of, tone_spec
from ccswitch.media.tones import BUSY_EU, RINGBACK_NA, TEST_TONE, ToneGenerator, dtmf_spec


def test_tone_names() -> None:
    assert tone_spec("ringback") is RINGBACK_NA
    assert tone_spec(" Busy_EU ") is BUSY_EU
    assert tone_spec("1000hz") is TEST_TONE
    spec = tone_spec("425Hz")
    assert spec.freqs == (425.0,) and spec.levels_dbm0 == (0.0,) and not spec.cadence
    for bad in ("", "hz", "0hz", "-5hz", "5000hz", "abchz", "chime"):
        with pytest.raises(PlayerError):
            tone_spec(bad)
    assert {"dial", "ringback", "busy", "congestion", "1000hz"} <= set(TONES)


def test_samples_from_bytes_arrays_and_ints() -> None:
    x = np.array([0, 1, -1, 32767, -32768], np.int16)
    assert np.array_equal(samples_of(x.astype("<i2").tobytes()), x)
    assert np.array_equal(samples_of(bytearray(x.astype("<i2").tobytes())), x)
    assert samples_of(x) is not None and samples_of(x).dtype == np.int16
    assert np.array_equal(samples_of((0, 1, -1, 32767, -32768)), x)
    assert np.array_equal(samples_of(x.reshape(5, 1)), x)
    assert len(samples_of(())) == 0
    for bad in (b"\x00", [40000], np.zeros(3, np.float32), ["a"]):
        with pytest.raises(PlayerError):
            samples_of(bad)


def test_samples_play_once_padded_with_silence() -> None:
    data = np.arange(1, 401, dtype=np.int16)  # 2.5 frames
    p = Player(1, samples=data)
    a, b = p.read(160), p.read(160)
    assert not p.finished
    c = p.read(160)
    assert p.finished
    assert np.array_equal(np.concatenate([a, b, c[:80]]), data) and not c[80:].any()
    assert not p.read(160).any()
    exact = Player(2, samples=data[:320])
    exact.read(160)
    exact.read(160)
    assert exact.finished  # the frame with the last samples ends it


def test_samples_loop_forever() -> None:
    data = np.arange(1, 101, dtype=np.int16)
    p = Player(1, samples=data, loop=True)
    out = np.concatenate([p.read(160) for _ in range(10)])
    assert not p.finished
    assert np.array_equal(out, np.tile(data, 16))


def test_empty_samples_end_at_once() -> None:
    p = Player(1, samples=np.zeros(0, np.int16), loop=True)
    assert not p.read(160).any() and p.finished


def test_tones_continue_and_cadences_end_or_loop() -> None:
    p = Player(1, spec=tone_spec("dial"))
    first = np.concatenate([p.read(160) for _ in range(3)])
    assert np.array_equal(first, ToneGenerator(tone_spec("dial")).read(480))
    assert not p.finished
    once = dtmf_spec("5", on=0.05, off=0.05)  # 800 samples, then done
    q = Player(2, spec=once)
    for _ in range(5):
        q.read(160)
    assert q.finished
    looped = Player(3, spec=once, loop=True)
    out = np.concatenate([looped.read(160) for _ in range(10)])
    assert not looped.finished
    assert np.abs(out[800:1200]).max() > 1000  # the second pass sounds again


def test_player_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError):
        Player(1)
    with pytest.raises(ValueError):
        Player(1, samples=np.zeros(1, np.int16), spec=TEST_TONE)
