"""Call-progress, test and DTMF tone generation (8 kHz int16 by default), phase-continuous.

Levels are in dBm0 per frequency component.  Convention used throughout the media code (the
G.711 µ-law one): a sine whose peak is the 16-bit full scale, 32,768, is +3.17 dBm0, so a 0 dBm0
sine has peak 32768·10^(-3.17/20) ≈ 22,748 and RMS ≈ 16,086; µ-law-encoding a 0 dBm0 1 kHz
sine sampled at 22.5° gives the G.711 digital milliwatt sequence (checked by the tests).

A ``ToneSpec`` is immutable (frequencies, levels, on/off cadence); a ``ToneGenerator`` holds
the oscillator phases and the position in the cadence, so successive ``read(n)`` calls join
without a discontinuity however the stream is cut into frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BUSY_EU",
    "BUSY_NA",
    "CONGESTION_EU",
    "CONGESTION_NA",
    "DBM0_OF_FULL_SCALE_SINE",
    "DIAL_EU",
    "DIAL_NA",
    "DTMF_FREQS",
    "DTMF_HIGH",
    "DTMF_KEYS",
    "DTMF_LOW",
    "RINGBACK_EU",
    "RINGBACK_NA",
    "SAMPLE_RATE",
    "TEST_TONE",
    "ToneGenerator",
    "ToneSpec",
    "dbm0_to_peak",
    "dbm0_to_power",
    "dtmf_spec",
    "power_to_dbm0",
    "tone",
]

SAMPLE_RATE = 8000
DBM0_OF_FULL_SCALE_SINE = 3.17
"""dBm0 of a sine with peak 32,768 (the µ-law load capacity of G.711, +3.17 dBm0)."""
_FULL_SCALE = 32768.0
_INT16_MIN, _INT16_MAX = -32768, 32767
_TWO_PI = 2.0 * math.pi


def dbm0_to_peak(level_dbm0: float) -> float:
    """Peak amplitude (16-bit scale) of a sine at ``level_dbm0``."""
    return _FULL_SCALE * math.pow(10.0, (level_dbm0 - DBM0_OF_FULL_SCALE_SINE) / 20.0)


def dbm0_to_power(level_dbm0: float) -> float:
    """Mean square (16-bit scale) of a sine at ``level_dbm0``."""
    return dbm0_to_peak(level_dbm0) ** 2 / 2.0


def power_to_dbm0(mean_square: float) -> float:
    """dBm0 of a signal with this mean square (16-bit scale); -inf for silence."""
    if mean_square <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_square / dbm0_to_power(0.0))


# ------------------------------------------------------------------------------------ DTMF
DTMF_LOW = (697.0, 770.0, 852.0, 941.0)
"""Row (low group) frequencies in Hz."""
DTMF_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
"""Column (high group) frequencies in Hz."""
DTMF_KEYS = "123A456B789C*0#D"
"""The keypad read row by row: key ``DTMF_KEYS[4*row + col]`` is DTMF_LOW[row]+DTMF_HIGH[col]."""
DTMF_FREQS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {key: (DTMF_LOW[i // 4], DTMF_HIGH[i % 4]) for i, key in enumerate(DTMF_KEYS)}
)
"""Key → (low Hz, high Hz), for 0-9 * # A-D."""


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """A tone: sine components and an optional on/off cadence.

    ``freqs`` in Hz, ``levels_dbm0`` one per frequency; ``cadence`` alternates on and off
    durations in seconds starting with on (empty = continuous); ``repeat`` loops the cadence,
    else the tone plays it once and then stays silent.
    """

    freqs: tuple[float, ...]
    levels_dbm0: tuple[float, ...]
    cadence: tuple[float, ...] = ()
    repeat: bool = True

    def __post_init__(self) -> None:
        if not self.freqs or len(self.freqs) != len(self.levels_dbm0):
            raise ValueError("a tone needs one level per frequency, and at least one frequency")
        if any(not f > 0.0 for f in self.freqs):
            raise ValueError(f"tone frequencies must be positive: {self.freqs}")
        if self.cadence and (
            len(self.cadence) % 2 or any(d < 0.0 for d in self.cadence) or sum(self.cadence) <= 0
        ):
            raise ValueError(f"a cadence is (on, off) pairs of durations >= 0: {self.cadence}")


def tone(
    *freqs: float, level_dbm0: float, cadence: tuple[float, ...] = (), repeat: bool = True
) -> ToneSpec:
    """A ``ToneSpec`` with every component at ``level_dbm0``."""
    return ToneSpec(tuple(freqs), (level_dbm0,) * len(freqs), cadence, repeat)


def dtmf_spec(
    key: str,
    *,
    low_dbm0: float = -8.0,
    high_dbm0: float = -6.0,
    on: float | None = None,
    off: float = 0.0,
) -> ToneSpec:
    """The dual tone of a DTMF key (default levels -8/-6 dBm0: 2 dB high-group pre-emphasis).

    With ``on`` (seconds) the tone plays once for ``on`` then is silent (``off`` only extends
    the pass, e.g. for an inter-digit pause); without it the tone is continuous.
    """
    try:
        low, high = DTMF_FREQS[key.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF key: {key!r}") from None
    cadence = () if on is None else (on, off)
    return ToneSpec((low, high), (low_dbm0, high_dbm0), cadence, repeat=False)


TEST_TONE = tone(1000.0, level_dbm0=0.0)
"""1 kHz at 0 dBm0 (the digital milliwatt)."""
DIAL_NA = tone(350.0, 440.0, level_dbm0=-13.0)
"""North American precise dial tone: 350+440 Hz, continuous."""
RINGBACK_NA = tone(440.0, 480.0, level_dbm0=-19.0, cadence=(2.0, 4.0))
"""North American audible ringing: 440+480 Hz, 2 s on, 4 s off."""
BUSY_NA = tone(480.0, 620.0, level_dbm0=-24.0, cadence=(0.5, 0.5))
"""North American busy: 480+620 Hz, 0.5 s on, 0.5 s off."""
CONGESTION_NA = tone(480.0, 620.0, level_dbm0=-24.0, cadence=(0.25, 0.25))
"""North American reorder (congestion): 480+620 Hz, 0.25 s on, 0.25 s off."""
DIAL_EU = tone(425.0, level_dbm0=-13.0)
"""European (CEPT) dial tone: 425 Hz, continuous."""
RINGBACK_EU = tone(425.0, level_dbm0=-13.0, cadence=(1.0, 4.0))
"""European ringing tone: 425 Hz, 1 s on, 4 s off."""
BUSY_EU = tone(425.0, level_dbm0=-13.0, cadence=(0.5, 0.5))
"""European busy: 425 Hz, 0.5 s on, 0.5 s off."""
CONGESTION_EU = tone(425.0, level_dbm0=-13.0, cadence=(0.25, 0.25))
"""European congestion: 425 Hz, 0.25 s on, 0.25 s off."""


class ToneGenerator:
    """Plays a ``ToneSpec``: each ``read(n)`` returns the next ``n`` int16 samples.

    The oscillators keep running through the cadence's off periods, so a tone resumes at the
    phase it would have had; the sum is rounded and clipped to int16.  ``phase`` (radians) is
    the starting phase of every component, as a cosine... of a sine: sample k of a component
    is ``A·sin(phase + 2πfk/rate)``.
    """

    __slots__ = ("_amps", "_edges", "_omegas", "_phases", "_pos", "_rate", "_spec")

    def __init__(self, spec: ToneSpec, *, rate: int = SAMPLE_RATE, phase: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError(f"sample rate must be positive: {rate}")
        self._spec = spec
        self._rate = rate
        self._omegas = np.array([_TWO_PI * f / rate for f in spec.freqs], dtype=np.float64)
        self._amps = np.array([dbm0_to_peak(lv) for lv in spec.levels_dbm0], dtype=np.float64)
        self._phases = np.full(len(spec.freqs), phase % _TWO_PI, dtype=np.float64)
        # cumulative cadence boundaries in samples: on [0, e0), off [e0, e1), on [e1, e2) ...
        self._edges = np.cumsum([round(d * rate) for d in spec.cadence]).astype(np.int64)
        self._pos = 0

    @property
    def spec(self) -> ToneSpec:
        return self._spec

    @property
    def position(self) -> int:
        """Samples produced so far."""
        return self._pos

    @property
    def done(self) -> bool:
        """True once a non-repeating cadence has played out (only silence follows)."""
        return (
            not self._spec.repeat and len(self._edges) > 0 and self._pos >= int(self._edges[-1])
        )

    def reset(self, *, phase: float = 0.0) -> None:
        """Back to the start of the cadence, every component at ``phase``."""
        self._phases[:] = phase % _TWO_PI
        self._pos = 0

    def read(self, n: int) -> NDArray[np.int16]:
        """The next ``n`` samples."""
        if n < 0:
            raise ValueError(f"cannot read {n} samples")
        k = np.arange(n, dtype=np.float64)
        args = self._phases[:, None] + self._omegas[:, None] * k[None, :]
        out = self._amps @ np.sin(args)
        gate = self._gate(n)
        if gate is not None:
            out = out * gate
        self._phases = (self._phases + self._omegas * n) % _TWO_PI
        self._pos += n
        return np.clip(np.rint(out), _INT16_MIN, _INT16_MAX).astype(np.int16)

    def _gate(self, n: int) -> NDArray[np.bool_] | None:
        """True where the cadence is on, for the next ``n`` samples (None: always on)."""
        edges = self._edges
        if not len(edges):
            return None
        pos = np.arange(self._pos, self._pos + n, dtype=np.int64)
        cycle = int(edges[-1])
        if self._spec.repeat:
            pos %= cycle
        segment = np.searchsorted(edges, pos, side="right")
        on: NDArray[np.bool_] = (segment % 2 == 0) & (pos < cycle)
        return on
