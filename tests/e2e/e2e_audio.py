"""Test tones as WAV files and a spectrum check of recordings (numpy and the stdlib `wave`)."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000


def write_tone(path: Path, freq: float, seconds: float, *, rate: int = RATE) -> Path:
    """A mono S16LE sine at `freq` Hz, -10 dBFS (what baresip's aufile source reads)."""
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """Samples (float, first channel) and the sample rate of a 16-bit WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * w.getsampwidth()}-bit samples, expected 16")
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.reshape(-1, channels)[:, 0].astype(np.float64), rate


@dataclass(frozen=True, slots=True)
class Spectrum:
    """How a recording's energy splits between frequencies (after the silent parts)."""

    seconds: float  # duration of the non-silent part analysed
    rms: float  # of the non-silent part, in 16-bit units
    peak_hz: float
    _freqs: np.ndarray
    _power: np.ndarray

    def share(self, freq: float, width: float = 25.0) -> float:
        """Fraction of the total power within `width` Hz of `freq`."""
        total = float(self._power.sum())
        if total == 0.0:
            return 0.0
        band = np.abs(self._freqs - freq) <= width
        return float(self._power[band].sum()) / total

    def describe(self) -> str:
        return f"{self.seconds:.2f} s of signal, rms {self.rms:.0f}, peak at {self.peak_hz:.0f} Hz"


def spectrum(path: Path, *, silence: float = 100.0) -> Spectrum:
    """Spectrum of the 20 ms frames of `path` louder than `silence` (rms, 16-bit units)."""
    x, rate = read_mono(path)
    frame = rate // 50
    n = len(x) // frame
    frames = x[: n * frame].reshape(n, frame) if n else np.zeros((0, frame))
    loud = frames[np.sqrt((frames**2).mean(axis=1)) > silence] if n else frames
    signal = loud.reshape(-1)
    if len(signal) < frame:
        return Spectrum(0.0, 0.0, 0.0, np.zeros(1), np.zeros(1))
    windowed = signal * np.hanning(len(signal))
    power = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1.0 / rate)
    power[freqs < 50] = 0.0  # ignore DC and hum
    return Spectrum(
        seconds=len(signal) / rate,
        rms=float(np.sqrt((signal**2).mean())),
        peak_hz=float(freqs[int(power.argmax())]),
        _freqs=freqs,
        _power=power,
    )
