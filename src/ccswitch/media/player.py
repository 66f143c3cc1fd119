"""Players of the media engine: 8 kHz int16 frames from a sample array or a tone, pure.

A ``Player`` hands out one frame per ``read(n)``; ``finished`` turns true with the frame that
holds the last samples (padded with silence), unless it loops.  ``tone_spec(name)`` names the
``media.tones`` presets (``dial``, ``ringback``, ``busy``, ``congestion``, with ``_na``/``_eu``
variants; the bare names are the North American ones), ``test`` and ``<f>hz`` (a 0 dBm0 sine,
``1000hz`` being the digital milliwatt).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from .tones import (
    BUSY_EU,
    BUSY_NA,
    CONGESTION_EU,
    CONGESTION_NA,
    DIAL_EU,
    DIAL_NA,
    DTMF_KEYS,
    RINGBACK_EU,
    RINGBACK_NA,
    TEST_TONE,
    ToneGenerator,
    ToneSpec,
    dtmf_spec,
    tone,
)

DTMF_TONE_ON = 0.1
"""Seconds an in-band digit (tone ``dtmf-KEY``) sounds: 100 ms, like a keypad's short press."""

__all__ = ["TONES", "Player", "PlayerError", "samples_of", "tone_spec"]

TONES: Mapping[str, ToneSpec] = MappingProxyType({
    "dial": DIAL_NA, "dial_na": DIAL_NA, "dial_eu": DIAL_EU,
    "ringback": RINGBACK_NA, "ringback_na": RINGBACK_NA, "ringback_eu": RINGBACK_EU,
    "busy": BUSY_NA, "busy_na": BUSY_NA, "busy_eu": BUSY_EU,
    "congestion": CONGESTION_NA, "congestion_na": CONGESTION_NA,
    "congestion_eu": CONGESTION_EU,
    "test": TEST_TONE, "1000hz": TEST_TONE,
    # conference rooms: someone joined (two short high beeps), someone left (one low beep)
    "join": tone(880.0, level_dbm0=-13.0, cadence=(0.09, 0.04, 0.09, 0.05), repeat=False),
    "leave": tone(523.0, level_dbm0=-13.0, cadence=(0.18, 0.05), repeat=False),
})
"""Tone names a ``PlayTone`` may use (besides ``<f>hz``)."""

_MAX_TONE_HZ = 3999.0


class PlayerError(ValueError):
    """A play source the engine cannot play (unknown tone, samples that are not int16)."""


def tone_spec(name: str) -> ToneSpec:
    """The tone called ``name`` (case-insensitive); ``PlayerError`` when there is none."""
    key = name.strip().lower()
    spec = TONES.get(key)
    if spec is not None:
        return spec
    if key.startswith("dtmf-") and len(key) == 6 and key[5].upper() in DTMF_KEYS:
        return dtmf_spec(key[5], on=DTMF_TONE_ON)  # an in-band digit played once
    if key.endswith("hz"):
        try:
            freq = float(key[:-2])
        except ValueError:
            freq = 0.0
        if 0.0 < freq <= _MAX_TONE_HZ:
            return tone(freq, level_dbm0=0.0)
    raise PlayerError(f"no tone called {name!r}")


def samples_of(samples: object) -> NDArray[np.int16]:
    """8 kHz mono samples as a 1-D int16 array: from bytes (little-endian int16), an int16
    array, or a sequence of ints (each within int16).  ``PlayerError`` otherwise."""
    if isinstance(samples, bytes | bytearray | memoryview):
        raw = bytes(samples)
        if len(raw) % 2:
            raise PlayerError("sample bytes must hold whole int16 values")
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    arr = np.asarray(samples)
    if arr.dtype == np.int16:
        return arr.reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int16)
    if arr.dtype.kind in "iu" and arr.min() >= -32768 and arr.max() <= 32767:
        return arr.astype(np.int16).reshape(-1)
    raise PlayerError(f"samples must be int16, not {arr.dtype}")


class Player:
    """One prompt or tone being played on a leg (``mix``: added to the leg's other sources,
    else it replaces them)."""

    __slots__ = ("_gen", "_pos", "_samples", "finished", "loop", "mix", "play_id")

    def __init__(self, play_id: int, *, samples: NDArray[np.int16] | None = None,
                 spec: ToneSpec | None = None, loop: bool = False, mix: bool = False) -> None:
        if (samples is None) == (spec is None):
            raise ValueError("a player plays either samples or a tone")
        self.play_id = play_id
        self.loop = loop
        self.mix = mix
        self.finished = False
        self._samples = samples
        self._gen = ToneGenerator(spec) if spec is not None else None
        self._pos = 0

    def read(self, n: int) -> NDArray[np.int16]:
        """The next ``n`` samples (silence once finished)."""
        if self.finished:
            return np.zeros(n, dtype=np.int16)
        gen = self._gen
        if gen is not None:
            frame = gen.read(n)
            if gen.done:
                if self.loop:
                    gen.reset()
                else:
                    self.finished = True
            return frame
        data = self._samples
        assert data is not None
        total = len(data)
        if total == 0:
            self.finished = True
            return np.zeros(n, dtype=np.int16)
        pos = self._pos
        if self.loop:
            idx = (np.arange(pos, pos + n) % total)
            self._pos = (pos + n) % total
            return data[idx]
        end = pos + n
        if end < total:
            self._pos = end
            return data[pos:end].copy()
        self.finished = True
        self._pos = total
        out = np.zeros(n, dtype=np.int16)
        out[:total - pos] = data[pos:]
        return out
