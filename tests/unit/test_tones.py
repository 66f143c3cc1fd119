"""Tone generation: dBm0 levels, the digital milliwatt, frequencies, cadences, phase continuity."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from ccswitch.media import g711, tones
from ccswitch.media.tones import ToneGenerator, ToneSpec

RATE = tones.SAMPLE_RATE


def spectrum_peaks(x: np.ndarray, count: int) -> list[float]:
    """The ``count`` strongest spectral peaks of ``x`` in Hz, to 0.1 Hz (Hann, zero-padded)."""
    n = 10 * RATE
    mag = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)), n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    peaks: list[float] = []
    for _ in range(count):
        i = int(np.argmax(mag))
        peaks.append(round(float(freqs[i]), 1))
        mag[np.abs(freqs - freqs[i]) < 30.0] = 0.0
    return sorted(peaks)


def block_rms(x: np.ndarray, ms: int = 10) -> np.ndarray:
    n = RATE * ms // 1000
    blocks = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    rms: np.ndarray = np.sqrt(np.mean(blocks**2, axis=1))
    return rms


def test_dbm0_convention() -> None:
    assert tones.dbm0_to_peak(tones.DBM0_OF_FULL_SCALE_SINE) == pytest.approx(32768.0)
    assert tones.dbm0_to_peak(0.0) == pytest.approx(22748.4, abs=0.1)
    assert tones.dbm0_to_power(-10.0) * 10 == pytest.approx(tones.dbm0_to_power(0.0))
    for level in (-40.0, -13.0, 0.0, 3.0):
        assert tones.power_to_dbm0(tones.dbm0_to_power(level)) == pytest.approx(level)
    assert tones.power_to_dbm0(0.0) == -math.inf


@pytest.mark.parametrize(
    ("encode", "sequence"),
    [(g711.ulaw_encode, "1e0b0b1e9e8b8b9e"), (g711.alaw_encode, "34212134b4a1a1b4")],
    ids=["ulaw", "alaw"],
)
def test_zero_dbm0_at_1khz_is_the_g711_digital_milliwatt(
    encode: Callable[[np.ndarray], np.ndarray], sequence: str
) -> None:
    # G.711 Tables 5/6: the digital milliwatt is a 1 kHz sine at 0 dBm0 sampled at 22.5°+k·45°
    gen = ToneGenerator(tones.TEST_TONE, phase=math.pi + math.pi / 8)
    assert encode(gen.read(80)).tobytes().hex() == sequence * 10


def test_test_tone_level_and_frequency() -> None:
    x = ToneGenerator(tones.TEST_TONE).read(RATE)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert tones.power_to_dbm0(rms**2) == pytest.approx(0.0, abs=0.01)
    assert spectrum_peaks(x, 1) == [1000.0]


@pytest.mark.parametrize(
    ("spec", "freqs"),
    [(tones.DIAL_NA, [350.0, 440.0]), (tones.RINGBACK_NA, [440.0, 480.0]),
     (tones.BUSY_NA, [480.0, 620.0]), (tones.DIAL_EU, [425.0])],
)
def test_components(spec: ToneSpec, freqs: list[float]) -> None:
    x = ToneGenerator(spec).read(RATE // 2)  # within the first on period
    assert spectrum_peaks(x, len(freqs)) == freqs
    if len(spec.freqs) == 1:
        rms2 = float(np.mean(x.astype(np.float64) ** 2))
        assert tones.power_to_dbm0(rms2) == pytest.approx(spec.levels_dbm0[0], abs=0.05)


@pytest.mark.parametrize(
    ("spec", "on", "off"),
    [(tones.RINGBACK_NA, 2.0, 4.0), (tones.RINGBACK_EU, 1.0, 4.0), (tones.BUSY_NA, 0.5, 0.5),
     (tones.BUSY_EU, 0.5, 0.5), (tones.CONGESTION_NA, 0.25, 0.25),
     (tones.CONGESTION_EU, 0.25, 0.25)],
)
def test_cadences(spec: ToneSpec, on: float, off: float) -> None:
    gen = ToneGenerator(spec)
    cycle = on + off
    # two cycles, read in 20 ms frames as the media tick does
    x = np.concatenate([gen.read(160) for _ in range(int(2 * cycle / 0.02))])
    loud = block_rms(x) > 100
    t = np.arange(len(loud)) * 0.01
    assert np.array_equal(loud, (t % cycle) < on - 1e-9)
    assert not gen.done


def test_phase_continuity_across_frames() -> None:
    spec = tones.dtmf_spec("7")
    whole = ToneGenerator(spec).read(8000)
    gen = ToneGenerator(spec)
    rng = np.random.default_rng(3)
    parts: list[np.ndarray] = []
    while sum(len(p) for p in parts) < 8000:
        parts.append(gen.read(int(rng.integers(0, 400))))
    framed = np.concatenate(parts)[:8000]
    assert np.max(np.abs(framed.astype(np.int32) - whole)) <= 1
    # and no jump at frame joins: the largest sample-to-sample step is the sine's own
    steps = np.abs(np.diff(framed.astype(np.int32)))
    assert steps.max() <= np.abs(np.diff(whole.astype(np.int32))).max() + 1


def test_dtmf_table_and_spec() -> None:
    assert len(tones.DTMF_FREQS) == 16
    assert tones.DTMF_FREQS["1"] == (697.0, 1209.0)
    assert tones.DTMF_FREQS["0"] == (941.0, 1336.0)
    assert tones.DTMF_FREQS["*"] == (941.0, 1209.0)
    assert tones.DTMF_FREQS["#"] == (941.0, 1477.0)
    assert tones.DTMF_FREQS["D"] == (941.0, 1633.0)
    assert tones.DTMF_FREQS["A"] == (697.0, 1633.0)
    spec = tones.dtmf_spec("b", on=0.1, off=0.05)
    assert spec.freqs == (770.0, 1633.0) and spec.levels_dbm0 == (-8.0, -6.0)
    gen = ToneGenerator(spec)
    on = gen.read(800)
    assert spectrum_peaks(on, 2) == [770.0, 1633.0]
    assert not gen.done
    assert np.all(gen.read(400) == 0)
    assert gen.done
    assert np.all(gen.read(160) == 0)
    with pytest.raises(ValueError):
        tones.dtmf_spec("E")


def test_loud_tones_clip_instead_of_wrapping() -> None:
    x = ToneGenerator(tones.tone(1000.0, level_dbm0=10.0)).read(800)
    assert x.max() == 32767 and x.min() == -32768
    assert np.all(np.abs(np.diff(x.astype(np.int32))) < 40000)


def test_reset_and_position() -> None:
    gen = ToneGenerator(tones.BUSY_EU)
    first = gen.read(500)
    assert gen.position == 500
    gen.reset()
    assert gen.position == 0
    assert np.array_equal(gen.read(500), first)


def test_bad_specs() -> None:
    with pytest.raises(ValueError):
        ToneSpec((440.0,), (-10.0, -10.0))
    with pytest.raises(ValueError):
        ToneSpec((), ())
    with pytest.raises(ValueError):
        ToneSpec((-5.0,), (-10.0,))
    with pytest.raises(ValueError):
        tones.tone(440.0, level_dbm0=-10.0, cadence=(1.0,))
    with pytest.raises(ValueError):
        ToneGenerator(tones.DIAL_EU).read(-1)
