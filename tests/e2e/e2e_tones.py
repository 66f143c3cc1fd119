"""Which test tones a phone heard, and for how long: the tone analysis of issue 9's tests.

Every phone of a multi-party test plays its own sine (440 Hz the caller, 1500 Hz the agent,
2200 Hz the supervisor or a third party...) and records what it receives (`e2e_baresip`).
A mixer adds the tones of several parties, so a frame can hold two or three of them at once;
`presence` looks at each 40 ms frame's spectrum (Hann window) and says, per tone, whether it
holds at least `share` of the frame's power. `heard_seconds` turns that into seconds, which
needs no clock shared between the phones and the test: "the caller heard the supervisor for
about as long as the barge lasted" is checked without knowing where in the recording the
barge began.

`music_seconds` counts frames that carry sound that is none of the test tones (the music on
hold, a prompt): energy, not silence, and no test tone dominating.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from e2e_audio import read_mono

FRAME = 0.04  # s per analysed frame: 25 Hz bins, room for tones 200 Hz apart
SILENCE = 100.0  # rms (16-bit units) under which a frame is silence
BAND = 30.0  # Hz either side of a tone counted as that tone


@dataclass(frozen=True, slots=True)
class Presence:
    """Per frame of one recording: which tones were in it, and whether it was silent."""

    frame: float  # seconds per frame
    loud: np.ndarray  # bool per frame: louder than SILENCE
    shares: dict[float, np.ndarray]  # tone (Hz) -> fraction of each frame's power

    def seconds(self, freq: float, share: float = 0.1) -> float:
        """Seconds of loud frames in which `freq` holds at least `share` of the power."""
        hit = self.loud & (self.shares[freq] >= share)
        return float(hit.sum()) * self.frame

    def other_seconds(self, share: float = 0.5) -> float:
        """Seconds of loud frames that no listed tone dominates (music, speech, noise)."""
        tones = np.zeros(len(self.loud))
        for s in self.shares.values():
            tones = tones + s
        return float((self.loud & (tones < share)).sum()) * self.frame

    @property
    def loud_seconds(self) -> float:
        return float(self.loud.sum()) * self.frame

    def describe(self) -> str:
        parts = [f"{f:.0f} Hz {self.seconds(f):.2f} s" for f in sorted(self.shares)]
        return (f"{len(self.loud) * self.frame:.2f} s recorded, {self.loud_seconds:.2f} s loud; "
                + ", ".join(parts) + f"; other sound {self.other_seconds():.2f} s")  # fmt: skip


def presence(path: Path, freqs: tuple[float, ...], *, start: float = 0.0,
             end: float | None = None) -> Presence:  # fmt: skip
    """The `Presence` of each tone of `freqs` in `path` (first channel), from `start` to `end`
    seconds."""
    x, rate = read_mono(path)
    x = x[int(start * rate) : None if end is None else int(end * rate)]
    size = int(FRAME * rate)
    n = len(x) // size
    frames = x[: n * size].reshape(n, size)
    rms = np.sqrt((frames**2).mean(axis=1)) if n else np.zeros(0)
    spec = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2 if n else np.zeros((0, 1))
    bins = np.fft.rfftfreq(size, 1.0 / rate)
    spec[:, bins < 50] = 0.0
    total = spec.sum(axis=1) + 1e-9
    shares = {
        f: spec[:, np.abs(bins - f) <= BAND].sum(axis=1) / total if n else np.zeros(0)
        for f in freqs
    }
    return Presence(FRAME, rms > SILENCE, shares)


def heard_seconds(path: Path, freq: float, others: tuple[float, ...] = (), *,
                  share: float = 0.1) -> float:  # fmt: skip
    """Seconds of `path` in which `freq` holds at least `share` of a loud frame's power."""
    return presence(path, (freq, *others)).seconds(freq, share)


def music_seconds(path: Path, tones: tuple[float, ...], *, start: float = 0.0,
                  end: float | None = None) -> float:  # fmt: skip
    """Seconds of sound in `path` that none of the test `tones` dominates."""
    return presence(path, tones, start=start, end=end).other_seconds()


def mixed_tone(path: Path, freqs: tuple[float, ...], seconds: float, *, rate: int = 8000) -> Path:
    """A mono S16LE WAV of the sines `freqs` added (each -16 dBFS): a 'mixed' source."""
    t = np.arange(int(rate * seconds)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    samples = (0.15 * 32767 * np.asarray(x)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path
