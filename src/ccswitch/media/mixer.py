"""The mixer: a directed graph of audio edges and conference buses, and its per-frame mix.

``MixGraph`` holds what the commands said: edges ``src -> sink`` with a gain (``sink``'s peer
hears ``src``'s peer) and buses (each listening member hears the talking members but itself).
The engine compiles it, with the legs' decode slots, into a ``MixPlan`` of index arrays, and each
frame ``MixPlan.mix`` turns the decoded frames of every slot — one int16 array of shape
``(slots, samples)``, row 0 always silent — into one float32 row per mixed sink:

* edges are grouped in *layers* (the k-th edge of every sink), so each layer is a gather, an
  optional multiply by the gains and an indexed add on distinct rows;
* a bus is one sum of its talkers (int32, exact) and each listener gets ``sum - itself``:
  O(members), not O(members²).

Codecs: G.711 is done here by table; G.722 and Opus by a ``FrameCodec`` the worker shell
injects into the engine (PyAV lives in the shell): ``decode`` one RTP payload into 8 kHz int16,
``encode`` one 8 kHz frame into a payload.  Without one, such legs can still be relayed, but
their audio reads as silence and nothing is encoded for them.  RTP clocks (RFC 3551, 7587):
PCMU, PCMA and G.722 count 8000 ticks a second (G.722 samples at 16 kHz), Opus 48000.
``Resampler`` is the FIR resampler the shell codecs use between a codec's rate and 8 kHz.

``saturate`` clips to int16 and ``encode_rows`` / ``decode_rows`` do G.711 for many rows of
mixed codecs in one table lookup.  Supervisor modes are edge sets: listen = ``Connect(caller,
sup)`` + ``Connect(agent, sup)``; whisper adds ``Connect(sup, agent)``; barge adds
``Connect(sup, caller)`` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .g711 import ALAW_DECODE, ALAW_ENCODE, ULAW_DECODE, ULAW_ENCODE

__all__ = ["G711", "RTP_CLOCK", "FrameCodec", "MixGraph", "MixPlan", "Resampler", "decode_rows",
           "encode_rows", "is_g711", "rtp_clock", "saturate"]

I16 = NDArray[np.int16]
F32 = NDArray[np.float32]
IDX = NDArray[np.intp]

_DECODE = np.concatenate([ULAW_DECODE, ALAW_DECODE])  # code + 256 * is_alaw -> linear
_ENCODE = np.concatenate([ULAW_ENCODE, ALAW_ENCODE])  # uint16 sample + 65536 * is_alaw -> code
_DECODE.flags.writeable = False
_ENCODE.flags.writeable = False


def decode_rows(codes: NDArray[np.uint8], alaw: NDArray[np.bool_]) -> I16:
    """G.711 codes ``(rows, n)`` → int16, row ``i`` A-law where ``alaw[i]`` else µ-law."""
    idx = codes.astype(np.intp)
    if alaw.any():
        idx += alaw.astype(np.intp)[:, None] << 8
    out: I16 = np.take(_DECODE, idx)
    return out


def encode_rows(samples: I16, alaw: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """int16 ``(rows, n)`` → G.711 codes, row ``i`` A-law where ``alaw[i]`` else µ-law."""
    idx = samples.view(np.uint16).astype(np.intp)
    if alaw.any():
        idx += alaw.astype(np.intp)[:, None] << 16
    out: NDArray[np.uint8] = np.take(_ENCODE, idx)
    return out


def saturate(mix: F32) -> I16:
    """Round and clip a float mix to int16 (overload saturates instead of wrapping)."""
    np.rint(mix, out=mix)
    np.clip(mix, -32768.0, 32767.0, out=mix)
    return mix.astype(np.int16)


class MixGraph:
    """Edges and buses by leg id (legs that do not exist are simply never found)."""

    __slots__ = ("_buses", "_edges", "_feeds", "_listening")

    def __init__(self) -> None:
        self._edges: dict[int, dict[int, float]] = {}  # sink -> {src: gain}
        self._feeds: dict[int, set[int]] = {}  # src -> sinks (removing a leg: O(its edges))
        self._buses: dict[int, dict[int, tuple[bool, bool]]] = {}  # bus -> {leg: (talk, listen)}
        self._listening: dict[int, set[int]] = {}  # leg -> buses it listens to

    def connect(self, src: int, sink: int, gain: float = 1.0) -> None:
        self._edges.setdefault(sink, {})[src] = float(gain)
        self._feeds.setdefault(src, set()).add(sink)

    def disconnect(self, src: int, sink: int) -> None:
        srcs = self._edges.get(sink)
        if srcs is not None:
            srcs.pop(src, None)
            if not srcs:
                del self._edges[sink]
        sinks = self._feeds.get(src)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._feeds[src]

    def join(self, bus: int, leg: int, *, talk: bool = True, listen: bool = True) -> None:
        self._buses.setdefault(bus, {})[leg] = (talk, listen)
        if listen:
            self._listening.setdefault(leg, set()).add(bus)
        else:
            self._drop_listener(bus, leg)

    def leave(self, bus: int, leg: int) -> None:
        members = self._buses.get(bus)
        if members is not None:
            members.pop(leg, None)
            if not members:
                del self._buses[bus]
        self._drop_listener(bus, leg)

    def _drop_listener(self, bus: int, leg: int) -> None:
        buses = self._listening.get(leg)
        if buses is not None:
            buses.discard(bus)
            if not buses:
                del self._listening[leg]

    def remove_leg(self, leg: int) -> None:
        """Forget every edge and bus membership of ``leg``."""
        for src in list(self._edges.get(leg, ())):
            self.disconnect(src, leg)
        for sink in list(self._feeds.get(leg, ())):
            self.disconnect(leg, sink)
        for bus in [b for b, m in self._buses.items() if leg in m]:
            self.leave(bus, leg)

    def sources(self, sink: int) -> dict[int, float]:
        """``{src: gain}`` of the edges into ``sink``."""
        return self._edges.get(sink, {})

    def feeds(self, src: int) -> set[int]:
        """The legs with an edge from ``src`` (whether or not ``src`` exists yet)."""
        return self._feeds.get(src, set())

    def listened(self, leg: int) -> set[int]:
        """The buses ``leg`` listens to."""
        return self._listening.get(leg, set())

    def members(self, bus: int) -> dict[int, tuple[bool, bool]]:
        """``{leg: (talk, listen)}`` of ``bus``."""
        return self._buses.get(bus, {})

    def sinks(self) -> Iterable[int]:
        """Legs with at least one edge or bus to hear."""
        return set(self._edges) | set(self._listening)


class MixPlan:
    """Index arrays for one graph state: build with ``add_row`` / ``add_edge`` /
    ``add_listener`` / ``add_talker``, then ``freeze()``; ``mix(pcm)`` per frame.

    Slots index the rows of the decoded frame array; slot 0 is the silent row.
    """

    __slots__ = ("_alaw_list", "_b_rows", "_bus_ix", "_edges", "_layers", "_listen", "_n_bus",
                 "_t_bus", "_t_slots", "_t_starts", "_talk_bus", "_talk_slot", "alaw", "rows")

    def __init__(self) -> None:
        self.rows = 0
        self._edges: list[list[tuple[int, float]]] = []  # per row: (slot, gain)
        self._listen: list[list[tuple[int, int]]] = []  # per row: (bus index, self slot)
        self._bus_ix: dict[int, int] = {}
        self._talk_slot: list[int] = []
        self._talk_bus: list[int] = []
        self.alaw: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._layers: list[tuple[IDX, IDX, F32 | None]] = []
        self._b_rows: list[tuple[IDX, IDX, IDX]] = []
        self._n_bus = 0
        self._t_slots: IDX = np.zeros(0, dtype=np.intp)
        self._t_bus: IDX = np.zeros(0, dtype=np.intp)
        self._t_starts: IDX = np.zeros(0, dtype=np.intp)
        self._alaw_list: list[bool] = []

    def add_row(self, *, alaw: bool) -> int:
        """A mixed sink; returns its row."""
        self._edges.append([])
        self._listen.append([])
        self._alaw_list.append(alaw)
        self.rows += 1
        return self.rows - 1

    def add_edge(self, row: int, slot: int, gain: float) -> None:
        if slot > 0 and gain != 0.0:
            self._edges[row].append((slot, gain))

    def bus_index(self, bus: int) -> int:
        ix = self._bus_ix.get(bus)
        if ix is None:
            ix = self._bus_ix[bus] = len(self._bus_ix)
        return ix

    def buses(self) -> list[int]:
        """The buses some row listens to, by index."""
        return list(self._bus_ix)

    def add_talker(self, bus: int, slot: int) -> None:
        if slot > 0:
            self._talk_slot.append(slot)
            self._talk_bus.append(self.bus_index(bus))

    def add_listener(self, row: int, bus: int, self_slot: int) -> None:
        """``row`` hears ``bus`` minus ``self_slot`` (0: it does not talk there)."""
        self._listen[row].append((self.bus_index(bus), max(self_slot, 0)))

    def freeze(self) -> MixPlan:
        """Build the index arrays; the plan is then ready for ``mix``."""
        if not self.rows and not self._talk_slot:
            # nothing mixed (every call relayed): the arrays __init__ made are the plan;
            # a worker recompiles on every leg change, so this is its common case
            self._layers = []
            self._b_rows = []
            self._n_bus = len(self._bus_ix)
            return self
        self.alaw = np.array(self._alaw_list, dtype=bool)
        depth = max((len(e) for e in self._edges), default=0)
        self._layers = []
        for k in range(depth):
            picked = [(r, e[k]) for r, e in enumerate(self._edges) if len(e) > k]
            rows = np.array([r for r, _ in picked], dtype=np.intp)
            slots = np.array([s for _, (s, _) in picked], dtype=np.intp)
            gains = np.array([g for _, (_, g) in picked], dtype=np.float32)
            self._layers.append((rows, slots, None if np.all(gains == 1.0) else gains[:, None]))
        self._n_bus = len(self._bus_ix)
        order = np.argsort(np.array(self._talk_bus, dtype=np.intp), kind="stable")
        self._t_slots = np.array(self._talk_slot, dtype=np.intp)[order]
        bus = np.array(self._talk_bus, dtype=np.intp)[order]
        starts = np.flatnonzero(np.r_[True, bus[1:] != bus[:-1]]) if len(bus) else bus
        self._t_starts = starts.astype(np.intp)
        self._t_bus = bus[starts]
        depth = max((len(x) for x in self._listen), default=0)
        self._b_rows = []
        for k in range(depth):
            picked_l = [(r, x[k]) for r, x in enumerate(self._listen) if len(x) > k]
            self._b_rows.append((
                np.array([r for r, _ in picked_l], dtype=np.intp),
                np.array([b for _, (b, _) in picked_l], dtype=np.intp),
                np.array([s for _, (_, s) in picked_l], dtype=np.intp)))
        return self

    def slots_used(self) -> set[int]:
        """Every slot the mix reads (for tests and sanity checks)."""
        used = {s for e in self._edges for s, _ in e} | set(self._talk_slot)
        return used | {s for x in self._listen for _, s in x if s > 0}

    def mix(self, pcm: I16) -> F32:
        """One float32 row per mixed sink, from the decoded frames ``pcm`` (slots, n)."""
        n = pcm.shape[1]
        out = np.zeros((self.rows, n), dtype=np.float32)
        for rows, slots, gains in self._layers:
            part = pcm[slots].astype(np.float32)
            if gains is not None:
                part *= gains
            out[rows] += part
        if self._b_rows:
            sums = self._bus_sums(pcm)
            for rows, buses, selves in self._b_rows:
                heard = sums[buses] - pcm[selves]
                out[rows] += heard.astype(np.float32)
        return out

    def _bus_sums(self, pcm: I16) -> NDArray[np.int32]:
        """(buses, n) int32: each bus's talkers summed (exact; 65,000 talkers fit)."""
        sums = np.zeros((self._n_bus, pcm.shape[1]), dtype=np.int32)
        if len(self._t_slots):
            talk = pcm[self._t_slots].astype(np.int32)
            sums[self._t_bus] = np.add.reduceat(talk, self._t_starts, axis=0)
        return sums


# ----------------------------------------------------------------------------- codecs
G711 = frozenset({"PCMU", "PCMA"})
RTP_CLOCK = {"PCMU": 8000, "PCMA": 8000, "G722": 8000, "opus": 48000}
"""RTP timestamp ticks per second, by the engine's codec name."""

def is_g711(codec: str | None) -> bool:
    """Whether the engine decodes ``codec`` itself (by table); None counts as µ-law."""
    return codec is None or codec in G711


def rtp_clock(codec: str | None) -> int:
    """The RTP clock of ``codec`` (8000 for anything unknown)."""
    return RTP_CLOCK.get(codec or "PCMU", 8000)


class FrameCodec(Protocol):
    """Per-leg decoders and encoders at the engine's 8 kHz (the worker shell's PyAV object).

    State is kept per ``(leg, codec)``; ``drop(leg)`` forgets a leg's (the engine calls it when
    the leg goes or changes codec).  ``decode`` of an empty payload is not called.
    """

    def supports(self, codec: str) -> bool: ...
    def decode(self, leg: int, codec: str, payload: bytes) -> I16: ...
    def encode(self, leg: int, codec: str, pcm: I16) -> bytes: ...
    def drop(self, leg: int) -> None: ...


def _lowpass(taps: int, cutoff: float) -> NDArray[np.float64]:
    """A windowed-sinc low-pass, ``cutoff`` in cycles per sample, unity DC gain."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.blackman(taps)
    out: NDArray[np.float64] = h / h.sum()
    return out


class Resampler:
    """Integer-ratio FIR resampling (``up`` or ``down`` is 1) of a mono int16 stream.

    Downsampling low-passes at 3.6 kHz of the output's 8 kHz before keeping every ``down``-th
    sample; upsampling inserts zeros and low-passes the same way.  Input lengths must be
    multiples of ``down``.  The filter's history is kept, so a stream cut in frames is
    resampled as one.
    """

    __slots__ = ("_down", "_h", "_hist", "_up")

    def __init__(self, *, up: int = 1, down: int = 1, taps_per_phase: int = 16) -> None:
        if up < 1 or down < 1 or (up > 1 and down > 1):
            raise ValueError("one of up and down must be 1, both positive")
        self._up = up
        self._down = down
        high = max(up, down)
        taps = taps_per_phase * high + 1
        self._h = _lowpass(taps, 0.45 / high) * up
        self._hist = np.zeros(taps - 1, dtype=np.float64)

    def reset(self) -> None:
        self._hist[:] = 0.0

    def __call__(self, x: I16) -> I16:
        up, down = self._up, self._down
        if up == down == 1:
            return x.astype(np.int16, copy=True)
        if len(x) % down:
            raise ValueError(f"input length {len(x)} is not a multiple of {down}")
        if up > 1:
            z = np.zeros(len(x) * up, dtype=np.float64)
            z[::up] = x
        else:
            z = x.astype(np.float64)
        buf = np.concatenate([self._hist, z])
        k = len(self._hist)
        self._hist = buf[len(buf) - k:] if k else self._hist
        y = np.convolve(buf, self._h, mode="valid")[::down]
        np.rint(y, out=y)
        np.clip(y, -32768, 32767, out=y)
        out: I16 = y.astype(np.int16)
        return out
