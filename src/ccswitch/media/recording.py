"""Recordings of the media engine, pure: per-frame capture into interleaved int16 chunks.

Each recording has one channel per leg: the audio *received* from that leg (what the jitter
buffer played out, silence when nothing came), and optionally a last channel that is the mix of
a conference bus: the sum of the bus's talking members at each frame (a room recording is that
channel alone).  Every frame the engine hands ``capture`` the decoded frames of all its slots;
the ``Recorder`` copies the rows its channels read in one gather (a paused recording, or a leg
without audio, reads the silent row 0) — a bus channel reads several rows and adds them (one
``reduceat``, saturated to int16, only when some recording has a bus) — and every
``chunk_frames`` frames splits what it gathered into one ``(samples, channels)`` int16 array per
recording.  ``drain()`` returns those chunks, oldest first, as ``(rec_id, array)``; after
``stop`` the last chunk is followed by ``(rec_id, None)``: the recording is closed and the
writer may finish the file (the shell then reports ``RecordDone``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Chunk", "Recorder", "Recording"]

Chunk = tuple[int, NDArray[np.int16] | None]


class Recording:
    """One recording: its id, file, format, legs (channel order) and pause state."""

    __slots__ = ("bus", "fmt", "frames", "legs", "path", "paused", "rec_id")

    def __init__(self, rec_id: int, path: str, legs: tuple[int, ...], fmt: str,
                 bus: int | None = None) -> None:
        self.rec_id = rec_id
        self.path = path
        self.legs = legs
        self.fmt = fmt
        self.bus = bus  # a last channel: the mix of this bus's talkers
        self.paused = False
        self.frames = 0  # frames captured so far

    @property
    def channels(self) -> int:
        return len(self.legs) + (self.bus is not None)


class Recorder:
    """Every recording of one engine and the audio gathered for them since the last chunk."""

    __slots__ = ("_chunk_frames", "_gathered", "_out", "_recs", "_rows", "_starts")

    def __init__(self, *, chunk_frames: int = 25) -> None:
        if chunk_frames < 1:
            raise ValueError("chunk_frames must be >= 1")
        self._chunk_frames = chunk_frames
        self._recs: dict[int, Recording] = {}
        self._gathered: list[NDArray[np.int16]] = []  # one (channels, n) array per frame
        self._rows: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._starts: NDArray[np.intp] | None = None  # channel starts in _rows, when summed
        self._out: list[Chunk] = []

    def __contains__(self, rec_id: int) -> bool:
        return rec_id in self._recs

    def __len__(self) -> int:
        return len(self._recs)

    def get(self, rec_id: int) -> Recording | None:
        return self._recs.get(rec_id)

    def ids(self) -> list[int]:
        return list(self._recs)

    def legs(self) -> set[int]:
        """Every leg some recording listens to (bus members aside)."""
        return {leg for r in self._recs.values() for leg in r.legs}

    def buses(self) -> set[int]:
        """Every bus some recording mixes."""
        return {r.bus for r in self._recs.values() if r.bus is not None}

    def position(self, rec_id: int) -> int:
        """Frames of ``rec_id`` captured so far (chunked or still gathered)."""
        rec = self._recs.get(rec_id)
        return 0 if rec is None else rec.frames + len(self._gathered)

    def start(self, rec: Recording) -> None:
        """Add a recording (its first frame is the next one captured)."""
        self.flush()
        self._recs[rec.rec_id] = rec

    def stop(self, rec_id: int) -> bool:
        """Flush and close ``rec_id``: its last chunk, then ``(rec_id, None)``."""
        if rec_id not in self._recs:
            return False
        self.flush()
        del self._recs[rec_id]
        self._out.append((rec_id, None))
        return True

    def set_rows(self, slot_of: Callable[[int], int],
                 talkers: Callable[[int], Iterable[int]] = lambda bus: ()) -> None:
        """Which frame rows each channel reads now: ``slot_of(leg)`` (0 = silence) for a
        leg's channel, the slots of ``talkers(bus)`` for a bus channel."""
        groups: list[list[int]] = []
        for r in self._recs.values():
            groups.extend([0 if r.paused else max(0, slot_of(leg))] for leg in r.legs)
            if r.bus is not None:
                slots = [] if r.paused else [s for s in map(slot_of, talkers(r.bus)) if s > 0]
                groups.append(slots or [0])
        self._rows = np.array([s for g in groups for s in g], dtype=np.intp)
        if all(len(g) == 1 for g in groups):
            self._starts = None
        else:
            self._starts = np.cumsum([0] + [len(g) for g in groups[:-1]], dtype=np.intp)

    def capture(self, pcm: NDArray[np.int16]) -> None:
        """Gather this frame's channels from the decoded frames ``pcm`` (slots, n)."""
        if not self._recs:
            return
        if self._starts is None:
            self._gathered.append(pcm[self._rows])
        else:
            summed = np.add.reduceat(pcm[self._rows].astype(np.int32), self._starts, axis=0)
            self._gathered.append(np.clip(summed, -32768, 32767).astype(np.int16))
        if len(self._gathered) >= self._chunk_frames:
            self.flush()

    def pad(self, frames: int, n: int) -> None:
        """Silence for frames the engine skipped, so every channel keeps time."""
        if self._recs:
            channels = len(self._rows) if self._starts is None else len(self._starts)
            zero = np.zeros((channels, n), dtype=np.int16)
            for _ in range(frames):
                self._gathered.append(zero)
                if len(self._gathered) >= self._chunk_frames:
                    self.flush()

    def flush(self) -> None:
        """Turn what was gathered into one chunk per recording."""
        if not self._gathered:
            return
        frames = np.stack(self._gathered)  # (frames, channels, n)
        self._gathered = []
        f, _, n = frames.shape
        col = 0
        for rec in self._recs.values():
            ch = rec.channels
            block = frames[:, col:col + ch, :].transpose(0, 2, 1).reshape(f * n, ch)
            self._out.append((rec.rec_id, np.ascontiguousarray(block)))
            rec.frames += f
            col += ch

    def drain(self) -> list[Chunk]:
        """The chunks made since the last call, oldest first."""
        out, self._out = self._out, []
        return out
