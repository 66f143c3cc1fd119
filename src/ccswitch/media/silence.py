"""Silence at the end of a recording, pure: when the caller has said nothing for long enough.

``SilenceDetector(seconds=…, threshold=…)`` is fed a recording's samples (int16, one channel,
in chunks of any size) and cuts them into 20 ms frames.  A frame is quiet when the mean of
its absolute sample values is at most ``threshold`` (0 to 32767; 128, Asterisk's
``silencethreshold``, is well under speech and over a quiet line's noise).  ``feed`` answers
True once, for the chunk in which the quiet run that began after the last loud frame (or at
the start) reaches ``seconds``; ``speech_end`` is where that run began, in samples: what to
keep of the file.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_THRESHOLD", "SilenceDetector"]

DEFAULT_THRESHOLD = 128
"""Mean absolute amplitude of a 20 ms frame at or under which it counts as silence."""


class SilenceDetector:
    """The quiet run at the end of what was fed (see the module docstring)."""

    __slots__ = ("_carry", "_frame", "_need", "_pos", "_threshold", "fired", "speech_end")

    def __init__(self, *, seconds: float, threshold: int = DEFAULT_THRESHOLD,
                 rate: int = 8000, frame_ms: int = 20) -> None:
        if seconds <= 0 or not 0 <= threshold <= 32767 or rate < 1 or frame_ms < 1:
            raise ValueError("seconds must be positive, threshold within 0..32767")
        self._frame = rate * frame_ms // 1000
        self._need = round(seconds * rate)
        self._threshold = threshold
        self._carry: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._pos = 0  # samples judged so far (whole frames)
        self.speech_end = 0  # where the current quiet run began
        self.fired = False

    def feed(self, samples: NDArray[np.int16]) -> bool:
        """Judge ``samples``; True the first time the quiet run reaches ``seconds``."""
        data = np.concatenate((self._carry, samples)) if self._carry.size else samples
        whole = data.size - data.size % self._frame
        self._carry = data[whole:].copy()
        if whole == 0 or self.fired:
            self._pos += whole
            return False
        frames = data[:whole].reshape(-1, self._frame).astype(np.int32)
        loud = (np.abs(frames).mean(axis=1) > self._threshold).tolist()
        start, frame = self._pos, self._frame
        self._pos += whole
        for i, is_loud in enumerate(loud):
            end = start + (i + 1) * frame
            if is_loud:
                self.speech_end = end
            elif end - self.speech_end >= self._need:
                self.fired = True
                return True
        return False
