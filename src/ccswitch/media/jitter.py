"""Receive jitter buffer for one RTP leg, sans-IO (fixed depth).

Design (deliberately simple, fixed depth):

* Packets are keyed by *extended* sequence number (16-bit wrap unfolded around the highest
  sequence seen); timestamps are unfolded the same way (32-bit wrap) and handed out with frames.
* Before playout starts ``pop`` returns ``"empty"`` frames.  Playout starts once ``depth`` worth
  of frames is buffered (counting from the oldest packet), or once ``depth`` has passed since the
  first packet arrived (so a lossy start does not stall).
* After that every ``pop`` (one per ``ptime`` tick) consumes exactly one playout slot: the packet
  of the next sequence number (``"audio"``) or, when it has not arrived, a ``"lost"`` frame for
  the caller to conceal (see ``conceal``).  A packet whose slot has passed is dropped as late.
  The delay is thus fixed by the fill level at start; it is never shrunk adaptively.
* The span from the next slot to the newest packet never exceeds ``max_depth``: the oldest
  slots are skipped (buffered packets among them counted as ``overflow``).  This also absorbs
  a forward sequence jump and a sender clock running fast.
* After ``max_depth`` worth of consecutive ``"lost"`` slots with nothing buffered (the sender
  stopped, or sends no packets in silence) the buffer goes idle and refills from the next packet.
* A packet far behind the playout point (more than ``MAX_MISORDER`` sequence numbers) followed by
  its successor is taken as a sequence restart: the buffer resets itself.  On an SSRC change
  the caller calls ``reset()``.

``stats``: ``received`` (every ``put``), ``duplicates``, ``late`` (dropped, slot passed),
``lost`` (``"lost"`` frames handed out), ``reordered`` (accepted after a newer packet),
``overflow`` (buffered packets dropped to stay within ``max_depth``).  ``reset`` keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_MISORDER", "Frame", "FrameKind", "JitterBuffer", "conceal"]

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
MAX_MISORDER = 100
"""A packet further behind the playout point than this is a restart candidate, not just late."""
CONCEAL_FRAMES = 3
"""Repetitions of the last frame before concealment goes silent."""
CONCEAL_STEP_DB = -6.0

FrameKind = Literal["audio", "lost", "empty"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One playout slot.

    ``seq`` is the 16-bit sequence number of the slot (``None`` for ``"empty"``); ``timestamp``
    is the *extended* RTP timestamp (monotonic across the 32-bit wrap; for ``"lost"`` it is
    predicted from the previous slot).  ``payload`` is ``None`` unless ``kind == "audio"``.
    """

    payload: bytes | None
    seq: int | None
    kind: FrameKind
    timestamp: int | None = None


_EMPTY = Frame(None, None, "empty")


def _unwrap(value: int, ref: int, mod: int) -> int:
    """``value`` (mod ``mod``) as the integer nearest the extended reference ``ref``."""
    half = mod >> 1
    return ref + ((value - ref + half) % mod) - half


class JitterBuffer:
    """Reorder, de-duplicate and pace one incoming RTP stream; time is passed in.

    ``put`` each received packet; call ``pop(now)`` once per ``ptime`` tick.  Sizes are in
    seconds and rounded to whole frames (at least one).
    """

    __slots__ = ("_buf", "_depth_frames", "_depth_s", "_first_arrival", "_floor", "_highest",
                 "_last_ts", "_max_frames", "_next", "_restart_seq", "_seen", "_spf", "_started",
                 "_ts_ref", "_underruns", "stats")

    def __init__(self, *, clock_rate: int = 8000, ptime: float = 0.02, depth: float = 0.06,
                 max_depth: float = 0.2) -> None:
        if clock_rate <= 0 or ptime <= 0 or depth < 0 or max_depth <= 0:
            raise ValueError("clock_rate and ptime must be positive, depths non-negative")
        if max_depth < depth:
            raise ValueError("max_depth must be at least depth")
        self._spf = round(clock_rate * ptime)
        self._depth_s = self._depth_frames_for(depth, ptime) * ptime
        self._depth_frames = self._depth_frames_for(depth, ptime)
        self._max_frames = max(self._depth_frames, round(max_depth / ptime))
        self.stats: dict[str, int] = dict.fromkeys(
            ("received", "duplicates", "late", "lost", "reordered", "overflow"), 0)
        self._buf: dict[int, tuple[int, bytes]] = {}
        self._seen: set[int] = set()
        self._highest: int | None = None
        self._ts_ref = 0
        self._next = 0
        self._floor: int | None = None
        self._started = False
        self._first_arrival: float | None = None
        self._underruns = 0
        self._last_ts: int | None = None
        self._restart_seq: int | None = None

    @staticmethod
    def _depth_frames_for(depth: float, ptime: float) -> int:
        return max(1, round(depth / ptime))

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget the stream (SSRC change or sequence restart); the statistics are kept."""
        self._buf.clear()
        self._seen.clear()
        self._highest = None
        self._ts_ref = 0
        self._next = 0
        self._floor = None
        self._started = False
        self._first_arrival = None
        self._underruns = 0
        self._last_ts = None
        self._restart_seq = None

    @property
    def started(self) -> bool:
        """True while playing out (``pop`` hands out "audio"/"lost" frames)."""
        return self._started

    @property
    def buffered(self) -> int:
        """Packets waiting for their slot."""
        return len(self._buf)

    @property
    def depth_frames(self) -> int:
        return self._depth_frames

    @property
    def max_frames(self) -> int:
        return self._max_frames

    # ------------------------------------------------------------------ input

    def put(self, seq: int, timestamp: int, payload: bytes, arrival: float) -> None:
        """Accept one packet of the current source (16-bit ``seq``, 32-bit ``timestamp``)."""
        st = self.stats
        st["received"] += 1
        seq &= SEQ_MOD - 1
        timestamp &= TS_MOD - 1
        if self._highest is None:
            ext = seq
            ext_ts = timestamp
        else:
            ext = _unwrap(seq, self._highest, SEQ_MOD)
            ext_ts = _unwrap(timestamp, self._ts_ref, TS_MOD)
        floor = self._next if self._started else self._floor
        if floor is not None and ext < floor:
            if ext in self._seen:
                st["duplicates"] += 1
                return
            if ext < floor - MAX_MISORDER:
                if self._restart_seq is not None and seq == self._restart_seq:
                    self.reset()
                    self._accept(seq, timestamp, payload, arrival)
                    return
                self._restart_seq = (seq + 1) & (SEQ_MOD - 1)
            st["late"] += 1
            return
        self._restart_seq = None
        if ext in self._buf:
            st["duplicates"] += 1
            return
        self._accept(ext, ext_ts, payload, arrival)

    def _accept(self, ext: int, ext_ts: int, payload: bytes, arrival: float) -> None:
        if self._first_arrival is None:
            self._first_arrival = arrival
        if self._highest is None or ext > self._highest:
            self._highest = ext
            self._ts_ref = ext_ts
        elif ext < self._highest:
            self.stats["reordered"] += 1
        self._buf[ext] = (ext_ts, payload)
        self._seen.add(ext)
        if not self._started:
            self._next = min(self._buf)
        oldest = self._highest - self._max_frames + 1
        if self._next < oldest:
            dropped = [k for k in self._buf if k < oldest]
            for k in dropped:
                del self._buf[k]
            self.stats["overflow"] += len(dropped)
            self._next = oldest
            self._last_ts = None

    # ------------------------------------------------------------------ output

    def pop(self, now: float) -> Frame:
        """The frame for this tick, in playout order."""
        if not self._started:
            if not self._buf or self._first_arrival is None:
                return _EMPTY
            assert self._highest is not None
            span = self._highest - self._next + 1
            if span < self._depth_frames and now - self._first_arrival < self._depth_s:
                return _EMPTY
            self._started = True
            self._underruns = 0
        ext = self._next
        self._next += 1
        self._prune_seen()
        item = self._buf.pop(ext, None)
        if item is not None:
            ts, payload = item
            self._underruns = 0
            self._last_ts = ts
            return Frame(payload, ext & (SEQ_MOD - 1), "audio", ts)
        self.stats["lost"] += 1
        ts_pred = self._last_ts + self._spf if self._last_ts is not None else None
        self._last_ts = ts_pred
        if self._buf:
            self._underruns = 0
        else:
            self._underruns += 1
            if self._underruns >= self._max_frames:
                self._go_idle()
        return Frame(None, ext & (SEQ_MOD - 1), "lost", ts_pred)

    def _go_idle(self) -> None:
        self._started = False
        self._floor = self._next
        self._first_arrival = None
        self._underruns = 0

    def _prune_seen(self) -> None:
        limit = self._next - 2 * self._max_frames - MAX_MISORDER
        if len(self._seen) > 4 * self._max_frames + 2 * MAX_MISORDER:
            self._seen = {k for k in self._seen if k >= limit}


def conceal(prev_pcm: NDArray[np.int16], n_lost: int) -> NDArray[np.int16]:
    """Concealment for the ``n_lost``-th consecutive lost frame (1-based), a new array.

    Repeats ``prev_pcm`` (the last good frame, linear PCM) at ``-6 dB * n_lost``; silence from
    the fourth repetition on.
    """
    if n_lost < 1:
        raise ValueError("n_lost counts from 1")
    if n_lost > CONCEAL_FRAMES:
        return np.zeros_like(prev_pcm)
    gain = 10.0 ** (CONCEAL_STEP_DB * n_lost / 20.0)
    out: NDArray[np.int16] = np.rint(prev_pcm.astype(np.float64) * gain).astype(prev_pcm.dtype)
    return out
