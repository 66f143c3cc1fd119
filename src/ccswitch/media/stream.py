"""The receive side of a frame, batched over legs: playout, G.711 decode, concealment and
in-band DTMF detection for every leg whose audio is needed, pure.

Legs of other codecs (G.722, Opus) are decoded packet by packet by the injected
``FrameCodec`` (``Leg.pull_pcm``) and their rows written after the table lookup.

``FrameBank.pcm`` is the frame array: one int16 row of ``spf`` samples per decode slot, row 0
always silent (a leg without a slot, a paused recording channel, read it).  Each frame
``decode`` pulls one frame from every decoding leg's jitter buffer, joins the payloads and
decodes them in one table lookup (µ-law and A-law rows together), then zeroes the rows that
got nothing and conceals the rows whose packet was lost (from each row's last good frame).
``detect`` runs one ``InbandDetector.process`` over the rows of the detecting legs; the
detector has a fixed number of slots, reused after ``reset`` and regrown by doubling (every
detecting leg's state restarts then; it happens once per doubling).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .dtmf import InbandDetector
from .jitter import conceal
from .leg import SILENCE_CODE, Leg
from .mixer import FrameCodec, decode_rows

__all__ = ["FrameBank"]


class FrameBank:
    """Decoded frames by slot, and the in-band detector's slots."""

    __slots__ = ("_det_legs", "_detector", "_good", "_silence", "codecs", "pcm", "spf")

    def __init__(self, spf: int, codecs: FrameCodec | None = None) -> None:
        self.spf = spf
        self.codecs = codecs
        self.pcm: NDArray[np.int16] = np.zeros((1, spf), dtype=np.int16)
        self._good: NDArray[np.int16] = np.zeros((1, spf), dtype=np.int16)
        self._silence = {alaw: bytes((SILENCE_CODE["PCMA" if alaw else "PCMU"],)) * spf
                         for alaw in (False, True)}
        self._detector: InbandDetector | None = None
        self._det_legs: list[Leg | None] = []

    def silence(self, alaw: bool, n: int) -> bytes:
        """``n`` codes of silence (n up to ``spf``)."""
        return self._silence[alaw][:n]

    def grow(self, rows: int) -> None:
        """Room for slots below ``rows`` (doubling; the last good frames are kept)."""
        if rows > len(self.pcm):
            size = max(rows, 2 * len(self.pcm))
            good = np.zeros((size, self.spf), dtype=np.int16)
            good[:len(self._good)] = self._good
            self.pcm = np.zeros((size, self.spf), dtype=np.int16)
            self._good = good

    def decode(self, now: float, legs: list[Leg], slots: NDArray[np.intp],
               alaw: NDArray[np.bool_]) -> None:
        """Fill the rows ``slots`` of ``legs`` (in that order) with this frame's audio."""
        spf = self.spf
        silence = self._silence
        payloads: list[bytes] = []
        quiet: list[int] = []
        lost: list[Leg] = []
        decoded: list[tuple[int, NDArray[np.int16]]] = []
        for L in legs:
            if L.g711:
                p = L.pull(now, spf)
            else:
                pcm_row = L.pull_pcm(now, spf, self.codecs)
                p = None
                if pcm_row is not None:
                    decoded.append((L.slot, pcm_row))
                    payloads.append(silence[False])
                    continue
            if p is None:
                payloads.append(silence[L.alaw])
                if L.lost_run:
                    lost.append(L)
                else:
                    quiet.append(L.slot)
            else:
                payloads.append(p)
        pcm = self.pcm
        codes = np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(-1, spf)
        pcm[slots] = decode_rows(codes, alaw)
        for slot, row in decoded:
            pcm[slot] = row
        if quiet:
            pcm[quiet] = 0
        if lost:
            for L in lost:
                pcm[L.slot] = conceal(self._good[L.slot], L.lost_run)
            slots = np.setdiff1d(slots, [L.slot for L in lost])
        self._good[slots] = pcm[slots]

    # ------------------------------------------------------------------ in-band detection

    def assign_detector(self, legs: list[Leg]) -> None:
        """Detector slots for exactly the legs of ``legs`` that detect in-band and decode."""
        for L in legs:
            if L.det_slot >= 0 and not (L.detect and L.inband and L.slot):
                self.free_detector(L)
        for L in legs:
            if L.det_slot < 0 and L.detect and L.inband and L.slot:
                try:
                    free = self._det_legs.index(None)
                except ValueError:
                    free = len(self._det_legs)
                    self._det_legs.append(None)
                L.det_slot = free
                self._det_legs[free] = L
                det = self._detector
                if det is None or free >= det.legs:
                    self._detector = InbandDetector(max(8, 2 * len(self._det_legs)))
                    self._det_legs += [None] * (self._detector.legs - len(self._det_legs))
                else:
                    det.reset([free])

    def free_detector(self, L: Leg) -> None:
        if L.det_slot >= 0:
            self._det_legs[L.det_slot] = None
            L.det_slot = -1

    def detector_map(self) -> NDArray[np.intp]:
        """The frame row of each detector slot (empty when nobody detects)."""
        if not any(L is not None for L in self._det_legs):
            return np.zeros(0, dtype=np.intp)
        return np.array([L.slot if L is not None else 0 for L in self._det_legs], dtype=np.intp)

    def detect(self, det_map: NDArray[np.intp]) -> list[tuple[Leg, str]]:
        """In-band keys detected in this frame, by leg."""
        det = self._detector
        if det is None or not len(det_map):
            return []
        out = []
        for d in det.process(self.pcm[det_map]):
            L = self._det_legs[d.leg]
            if L is not None:
                out.append((L, d.key))
        return out
