"""DTMF: RFC 4733 telephone events, SIP INFO bodies, and in-band detection over many legs.

* ``TelephoneEvent`` / ``parse_telephone_event``: the 4-byte RFC 4733 payload.
* ``DtmfEventReceiver``: RTP telephone-event packets → one ``DtmfDigit`` per key press
  (``DtmfBegin`` when it starts).  ``DtmfEventSender``: the packet schedule for one key.
* ``parse_info_dtmf``: ``application/dtmf-relay`` and ``application/dtmf`` INFO bodies.
* ``InbandDetector``: Goertzel-bank DTMF detection on 8 kHz int16 audio, all legs in one call.

Pure: time is passed in (``now``, seconds), nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CcswitchError
from .tones import DTMF_HIGH, DTMF_KEYS, DTMF_LOW, dbm0_to_power

__all__ = [
    "EVENT_KEYS",
    "DtmfBegin",
    "DtmfDigit",
    "DtmfEnd",
    "DtmfError",
    "DtmfEventReceiver",
    "DtmfEventSender",
    "EventPacket",
    "InbandDetector",
    "InbandDigit",
    "InfoDigit",
    "TelephoneEvent",
    "build_dtmf_relay",
    "event_of_key",
    "goertzel",
    "parse_dtmf",
    "parse_dtmf_relay",
    "parse_info_dtmf",
    "parse_telephone_event",
]

EVENT_KEYS = "0123456789*#ABCD"
"""RFC 4733 DTMF events 0-15 by code."""


class DtmfError(CcswitchError, ValueError):
    """A DTMF payload or body that cannot be read (drop it and count, or answer 400)."""


def event_of_key(key: str) -> int:
    """The RFC 4733 event code (0-15) of a key in ``0-9 * # A-D`` (case-insensitive)."""
    i = EVENT_KEYS.find(key.upper()) if len(key) == 1 else -1
    if i < 0:
        raise DtmfError(f"not a DTMF key: {key!r}")
    return i


# ------------------------------------------------------------------------- RFC 4733 payload
@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 §2.3 event block.

    ``event`` 0-255 (0-15 are DTMF), ``end`` the E bit, ``volume`` 0-63 (the power in -dBm0),
    ``duration`` 0-65535 in RTP timestamp units since the event's (segment's) timestamp.
    """

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.event <= 255 and 0 <= self.volume <= 63
                and 0 <= self.duration <= 0xFFFF):
            raise DtmfError(f"telephone event out of range: {self}")

    @property
    def key(self) -> str | None:
        """The DTMF key, or None for a non-DTMF event (16 and up)."""
        return EVENT_KEYS[self.event] if self.event < 16 else None

    def to_bytes(self) -> bytes:
        """The 4-byte payload (the reserved bit is sent as 0)."""
        return bytes((self.event, (0x80 if self.end else 0) | self.volume,
                      self.duration >> 8, self.duration & 0xFF))


def parse_telephone_event(payload: bytes | bytearray | memoryview) -> TelephoneEvent:
    """The first event block of an RFC 4733 payload (the R bit is ignored, as §2.3 says).

    Raises ``DtmfError`` for a payload shorter than 4 bytes.
    """
    if len(payload) < 4:
        raise DtmfError(f"telephone-event payload of {len(payload)} bytes (needs 4)")
    b = bytes(payload[:4])
    return TelephoneEvent(b[0], bool(b[1] & 0x80), b[1] & 0x3F, (b[2] << 8) | b[3])


# -------------------------------------------------------------------------- RFC 4733 receiver
class DtmfEnd(Enum):
    """How the receiver decided that a key press was over."""

    END_BIT = "end_bit"  # a packet with the E bit
    TIMEOUT = "timeout"  # no packet for ``end_timeout`` seconds (the end packets were lost)
    NEXT_EVENT = "next_event"  # a new event started before the end of this one arrived


@dataclass(frozen=True, slots=True)
class DtmfBegin:
    """A key press started (the first packet of a new event arrived); for barge-in."""

    key: str
    timestamp: int  # RTP timestamp of the event
    at: float  # arrival time of that packet


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One key press, reported once, when it is over."""

    key: str
    event: int
    timestamp: int  # RTP timestamp of the event's first segment
    duration: int  # in RTP timestamp units, the longest the sender reported
    duration_ms: float
    volume: int  # -dBm0, from the last packet
    started: float  # arrival of the first packet seen
    ended: float  # arrival of the end packet, or the time the timeout fired
    how: DtmfEnd


@dataclass(slots=True)
class _Press:
    event: int
    first_ts: int  # timestamp of the first segment
    ts: int  # timestamp of the current segment
    base: int  # units before the current segment (long events)
    duration: int  # within the current segment
    volume: int
    started: float
    last: float


_TS_MOD = 1 << 32
_SEGMENT = 0xFFFF


def _older(ts: int, ref: int) -> bool:
    """RTP timestamp ``ts`` is before ``ref`` (serial-number arithmetic, 32 bits)."""
    d = (ref - ts) % _TS_MOD
    return 0 < d < (1 << 31)


class DtmfEventReceiver:
    """RFC 4733 telephone-event packets of one stream → one ``DtmfDigit`` per key press.

    A press starts at the first packet of a new timestamp (marker or not: the first packet may
    be lost) and emits ``DtmfBegin``; it ends at the first packet with the E bit, and the usual
    retransmissions of that packet (same timestamp) are dropped, as are late packets of an
    older timestamp.  When the end packets are all lost the press ends ``end_timeout`` seconds
    after its last packet (``handle_timer``/``next_deadline``) or when the next event starts.
    A packet without marker whose timestamp is the current one plus 0xFFFF continues a long
    event (RFC 4733 §2.5.1.3).  Events 16 and up are not DTMF and are counted in ``ignored``.
    """

    __slots__ = ("_clock_rate", "_cur", "_events", "_last_ts", "_timeout", "ignored", "stale")

    def __init__(self, *, end_timeout: float = 0.5, clock_rate: int = 8000) -> None:
        self._timeout = end_timeout
        self._clock_rate = clock_rate
        self._cur: _Press | None = None
        self._last_ts: int | None = None  # timestamp of the last press that ended
        self._events: list[DtmfBegin | DtmfDigit] = []
        self.ignored = 0  # packets of non-DTMF events
        self.stale = 0  # retransmitted end packets and late packets of ended presses

    def receive(
        self, payload: bytes | TelephoneEvent, *, timestamp: int, marker: bool, now: float
    ) -> None:
        """One telephone-event packet (raises ``DtmfError`` for a malformed payload)."""
        ev = payload if isinstance(payload, TelephoneEvent) else parse_telephone_event(payload)
        if ev.event >= 16:
            self.ignored += 1
            return
        ts = timestamp % _TS_MOD
        cur = self._cur
        if cur is not None:
            if ts == cur.ts and ev.event == cur.event:
                self._update(cur, ev, now)
                return
            if (not marker and ev.event == cur.event
                    and ts == (cur.ts + _SEGMENT) % _TS_MOD):  # next segment of a long event
                cur.base += _SEGMENT
                cur.ts = ts
                cur.duration = 0
                self._update(cur, ev, now)
                return
            if _older(ts, cur.ts) or ts == cur.ts:
                self.stale += 1
                return
            self._finish(DtmfEnd.NEXT_EVENT, now)
        elif self._last_ts is not None and (ts == self._last_ts or _older(ts, self._last_ts)):
            self.stale += 1
            return
        self._cur = _Press(ev.event, ts, ts, 0, 0, ev.volume, now, now)
        self._events.append(DtmfBegin(EVENT_KEYS[ev.event], ts, now))
        self._update(self._cur, ev, now)

    def _update(self, cur: _Press, ev: TelephoneEvent, now: float) -> None:
        cur.duration = max(cur.duration, ev.duration)
        cur.volume = ev.volume
        cur.last = now
        if ev.end:
            self._finish(DtmfEnd.END_BIT, now)

    def _finish(self, how: DtmfEnd, now: float) -> None:
        cur = self._cur
        assert cur is not None
        total = cur.base + cur.duration
        self._events.append(DtmfDigit(
            EVENT_KEYS[cur.event], cur.event, cur.first_ts, total,
            1000.0 * total / self._clock_rate, cur.volume, cur.started, now, how))
        self._last_ts = cur.ts
        self._cur = None

    def reset(self, now: float) -> None:
        """A new RTP stream (SSRC change): end a press in progress (``NEXT_EVENT``) and forget
        the timestamps seen, which a new stream does not continue."""
        if self._cur is not None:
            self._finish(DtmfEnd.NEXT_EVENT, now)
        self._last_ts = None

    def handle_timer(self, now: float) -> None:
        """End a press whose end packets never came."""
        deadline = self.next_deadline()
        if deadline is not None and now >= deadline:
            self._finish(DtmfEnd.TIMEOUT, now)

    def next_deadline(self) -> float | None:
        return None if self._cur is None else self._cur.last + self._timeout

    @property
    def pressed(self) -> str | None:
        """The key held down now, if a press is in progress."""
        return None if self._cur is None else EVENT_KEYS[self._cur.event]

    def events(self) -> list[DtmfBegin | DtmfDigit]:
        """Events since the last call, oldest first."""
        out, self._events = self._events, []
        return out


# ---------------------------------------------------------------------------- RFC 4733 sender
@dataclass(frozen=True, slots=True)
class EventPacket:
    """One telephone-event RTP packet to send ``offset`` seconds after the key press began."""

    offset: float
    timestamp: int
    marker: bool
    event: TelephoneEvent

    @property
    def payload(self) -> bytes:
        return self.event.to_bytes()


class DtmfEventSender:
    """The RFC 4733 packet schedule of one key press (pure: the stream sends them).

    Every ``interval`` seconds an update whose duration grows by one interval, the first with
    the marker bit; then the end packet (E bit, final duration) ``end_repeats`` times, one
    interval apart, all with the event's timestamp (§2.5.1.2, §2.5.1.4).  Durations up to
    0xFFFF units (8.19 s at 8 kHz) — a single segment.
    """

    __slots__ = ("_clock_rate", "_interval", "_repeats", "_volume")

    def __init__(self, *, clock_rate: int = 8000, interval: float = 0.02, volume: int = 10,
                 end_repeats: int = 3) -> None:
        if not 0 <= volume <= 63 or end_repeats < 1 or interval <= 0:
            raise ValueError("volume is 0-63, end_repeats >= 1 and interval > 0")
        self._clock_rate = clock_rate
        self._interval = interval
        self._volume = volume
        self._repeats = end_repeats

    def packets(self, key: str, *, timestamp: int, duration: float = 0.1) -> list[EventPacket]:
        """Packets for ``key`` pressed for ``duration`` seconds from RTP time ``timestamp``."""
        event = event_of_key(key)
        total = round(duration * self._clock_rate)
        step = round(self._interval * self._clock_rate)
        if not 0 < total <= _SEGMENT:
            raise ValueError(f"duration {duration} s is not within one RFC 4733 segment")
        ts = timestamp % _TS_MOD
        out: list[EventPacket] = []
        k = 1
        while k * step < total:
            te = TelephoneEvent(event, False, self._volume, k * step)
            out.append(EventPacket(k * self._interval, ts, k == 1, te))
            k += 1
        end = TelephoneEvent(event, True, self._volume, total)
        t_end = total / self._clock_rate
        out.extend(EventPacket(t_end + i * self._interval, ts, k == 1 and i == 0, end)
                   for i in range(self._repeats))
        return out


# ------------------------------------------------------------------------------ SIP INFO
@dataclass(frozen=True, slots=True)
class InfoDigit:
    """A key from a SIP INFO body; ``duration`` in seconds when the body gives one."""

    key: str
    duration: float | None = None


def _key_of_signal(signal: str) -> str:
    s = signal.strip()
    if len(s) == 1:
        i = EVENT_KEYS.find(s.upper())
    elif s.isdigit() and len(s) <= 2:
        i = int(s) if int(s) < 16 else -1  # some devices send the event code: 10 is '*'
    else:
        i = -1
    if i < 0:
        raise DtmfError(f"not a DTMF signal: {signal!r}")
    return EVENT_KEYS[i]


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise DtmfError("DTMF body is not UTF-8 text") from None


def parse_dtmf_relay(body: bytes | str) -> InfoDigit:
    """An ``application/dtmf-relay`` body: ``Signal=5\\r\\nDuration=160\\r\\n`` (ms).

    Keys are case-insensitive, spaces around ``=`` and bare-LF lines are accepted, unknown
    lines are skipped; Signal is required, Duration optional.
    """
    fields: dict[str, str] = {}
    for line in _text(body).splitlines():
        name, sep, value = line.partition("=")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    if "signal" not in fields:
        raise DtmfError("dtmf-relay body without Signal")
    key = _key_of_signal(fields["signal"])
    duration: float | None = None
    if "duration" in fields:
        ms = fields["duration"]
        if not ms.isdigit() or len(ms) > 6:
            raise DtmfError(f"bad dtmf-relay Duration: {ms!r}")
        duration = int(ms) / 1000.0
    return InfoDigit(key, duration)


def parse_dtmf(body: bytes | str) -> InfoDigit:
    """An ``application/dtmf`` body: the key alone (or its event code), whitespace ignored."""
    return InfoDigit(_key_of_signal(_text(body)))


def parse_info_dtmf(content_type: str, body: bytes | str) -> InfoDigit:
    """The key of an INFO body by its Content-Type (parameters ignored); ``DtmfError`` for a
    type that is not ``application/dtmf-relay`` or ``application/dtmf``."""
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/dtmf-relay":
        return parse_dtmf_relay(body)
    if media == "application/dtmf":
        return parse_dtmf(body)
    raise DtmfError(f"not a DTMF content type: {content_type!r}")


def build_dtmf_relay(key: str, duration: float = 0.16) -> bytes:
    """An ``application/dtmf-relay`` body for ``key`` pressed ``duration`` seconds."""
    return f"Signal={EVENT_KEYS[event_of_key(key)]}\r\nDuration={round(duration * 1000)}\r\n" \
        .encode("ascii")


# --------------------------------------------------------------------------- in-band detection
def goertzel(x: ArrayLike, freq: float, rate: int = 8000) -> NDArray[np.complex128]:
    """The Goertzel recursion at ``freq`` over the last axis of ``x`` (any leading shape).

    Returns the complex DFT value sum(x[n]·e^(-iωn)), the quantity the detector's filter bank
    computes as a matrix product; kept as the reference the tests compare the bank with.
    """
    a = np.asarray(x, dtype=np.float64)
    w = 2.0 * math.pi * freq / rate
    coeff = 2.0 * math.cos(w)
    s1 = np.zeros(a.shape[:-1])
    s2 = np.zeros(a.shape[:-1])
    for n in range(a.shape[-1]):
        s1, s2 = a[..., n] + coeff * s1 - s2, s1
    n_last = a.shape[-1] - 1
    # y[N-1] = s1 - e^(-iω) s2 is the DFT sum shifted by N-1 samples: undo the shift
    y: NDArray[np.complex128] = (s1 - np.exp(-1j * w) * s2) * np.exp(-1j * w * n_last)
    return y


@dataclass(frozen=True, slots=True)
class InbandDigit:
    """A key detected in-band on ``leg``; ``offset`` (1..n) counts the samples, of the n
    passed to that ``process`` call, up to the end of the window that completed it."""

    leg: int
    key: str
    offset: int


_FREQS = np.array(DTMF_LOW + DTMF_HIGH)
_FREQS32 = _FREQS.astype(np.float32)
_CORRECT_UP_TO = 0.015  # scalloping is undone up to the offset Q.24 asks to accept
_HARMONICS = 2.0 * np.array(DTMF_HIGH)  # 2nd harmonics of the high group (low group's fall
# within a bin of high-group tones, so they cannot be told from the other tone's leakage)


class InbandDetector:
    """DTMF detection on ``legs`` 8 kHz int16 streams at once (input shape (legs, samples)).

    Each 20 ms Hann window, every 5 ms, is projected on the 8 DTMF frequencies and the high
    group's 2nd harmonics (a Goertzel bank evaluated as one matrix product).  A window is a
    *hit* for a key when, for the strongest tone of each group:

    * the frequency, measured from the phase turn since the previous window, is within
      ``freq_tolerance`` (2.5 %: Q.24 asks to accept ±1.5 % and reject ±3.5 %);
    * each tone is at least ``min_level_dbm0`` (levels corrected for the window's scalloping
      at the measured frequency, up to the 1.5 % offset that must be accepted);
    * the twist is within ``normal_twist_db`` (high group louder) / ``reverse_twist_db`` (low
      group louder): 9 and 5 dB, i.e. the Q.24/Bellcore 8 and 4 dB with 1 dB for measurement;
    * the two tones hold at least ``min_energy_ratio`` of the window's energy and the high
      tone's 2nd harmonic is ``max_harmonic_db`` below it;
    * the window's two halves differ by at most ``max_half_ratio_db``.  This is what times a
      tone: a window counts only when the tone covers >= 70 % of it, whatever the level.

    A window is *steady* when it is the third or later in a row of hits of the key whose
    halves are within ``steady_half_db`` (the tone fills them, so the mean of the last two
    phase turns — the lag-2 phase difference — is an unbiased frequency reading) and the two
    tones hold ``steady_energy_ratio`` of the energy (pure DTMF: ~99 % at 20 dB SNR, ~90 % at
    10 dB; the most tonal voices tried, espeak-ng at its highest pitch, reach ~82 %).

    ``hits_to_detect`` consecutive hits (6: a tone of >= 40 ms; 30 ms never gets there)
    including ``steady_windows`` (3) steady ones whose frequencies stay within ``max_drift``
    of each other (talk-off: a voice glides, a generator does not) emit one ``InbandDigit``.
    The key is then held until ``misses_to_release`` windows in a row are not hits for it (6:
    a pause of ~25 ms, so a 40 ms pause separates presses and a 10 ms drop-out does not split
    one).  State is per leg, in arrays; ``reset`` clears legs for reuse.

    Measured (tests and a sweep over all keys and alignments): every key found at 20 and
    15 dB SNR with ±1.5 % deviation, 40 ms tones; at 10 dB SNR a few % of 40 ms tones are
    missed, 100 ms tones still found.  Tuned for ``rate`` 8000 (other rates scale the 20 ms
    window and 5 ms hop but are untested).  Cost: ~3 ms of one core per 20 ms tick of 1000
    legs with single-threaded BLAS (``benchmarks/dsp_bench.py``); run media workers with
    ``OPENBLAS_NUM_THREADS=1``, BLAS threads fight the other workers for the cores.
    """

    __slots__ = (
        "_advance", "_basis", "_cand", "_chain", "_detect", "_drift", "_emitted", "_h",
        "_has_prev", "_hi", "_hits", "_key", "_legs", "_lo", "_max_half", "_max_harm",
        "_min_power", "_min_ratio", "_misses", "_n", "_normal", "_prev", "_prev_rel", "_rate",
        "_release", "_reverse", "_scale", "_steady", "_steady_half", "_steady_need",
        "_steady_ratio", "_tail", "_tol", "_win_norm", "_wsq",
    )

    def __init__(
        self,
        legs: int,
        *,
        rate: int = 8000,
        freq_tolerance: float = 0.025,
        min_level_dbm0: float = -30.0,
        normal_twist_db: float = 9.0,
        reverse_twist_db: float = 5.0,
        min_energy_ratio: float = 0.6,
        max_harmonic_db: float = -12.0,
        max_half_ratio_db: float = 4.0,
        steady_half_db: float = 2.0,
        steady_energy_ratio: float = 0.85,
        steady_windows: int = 3,
        max_drift: float = 0.005,
        hits_to_detect: int = 6,
        misses_to_release: int = 6,
    ) -> None:
        if legs < 0:
            raise ValueError("legs must be >= 0")
        self._legs = legs
        self._rate = rate
        self._n = n = round(0.02 * rate)  # window
        self._h = h = n // 4  # hop
        t = np.arange(n)
        window = 0.5 - 0.5 * np.cos(2.0 * math.pi * (t + 0.5) / n)
        omega = 2.0 * math.pi * np.concatenate([_FREQS, _HARMONICS]) / rate
        basis = window[:, None] * np.exp(-1j * omega[None, :] * t[:, None])
        self._basis = np.concatenate([basis.real, basis.imag], axis=1).astype(np.float32)
        self._wsq = (window**2).astype(np.float32)
        # a tone of amplitude A gives |X| = A/2·sum(w): its mean square A²/2 is 2|X|²/sum(w)²;
        # sum((w·x)²)/sum(w²) is the window's mean square
        self._scale = 2.0 / float(window.sum()) ** 2
        self._win_norm = 1.0 / float((window**2).sum())
        self._advance = np.exp(-1j * omega[:8] * h).astype(np.complex64)  # turn per hop at f0
        self._tol = freq_tolerance
        self._min_power = dbm0_to_power(min_level_dbm0)
        self._normal = 10.0 ** (normal_twist_db / 10.0)
        self._reverse = 10.0 ** (reverse_twist_db / 10.0)
        self._min_ratio = min_energy_ratio
        self._max_harm = 10.0 ** (max_harmonic_db / 10.0)
        self._max_half = 10.0 ** (max_half_ratio_db / 10.0)
        self._steady_half = 10.0 ** (steady_half_db / 10.0)
        self._steady_ratio = steady_energy_ratio
        self._steady_need = steady_windows
        self._drift = max_drift
        self._detect = hits_to_detect
        self._release = misses_to_release
        # per-leg state
        self._tail = np.zeros((legs, n - h), dtype=np.float32)  # samples of the next window
        self._prev = np.zeros((legs, 8), dtype=np.complex64)  # last window's tone bins
        self._has_prev = np.zeros(legs, dtype=bool)
        self._cand = np.full(legs, -1, dtype=np.int8)  # last window's key if it was full
        self._chain = np.zeros(legs, dtype=np.int32)  # full windows of that key in a row
        self._prev_rel = np.zeros((legs, 2), dtype=np.float32)  # last window's offsets
        self._key = np.full(legs, -1, dtype=np.int8)  # key of the run, or the held key
        self._hits = np.zeros(legs, dtype=np.int32)
        self._steady = np.zeros(legs, dtype=np.int32)
        self._lo = np.zeros((legs, 2), dtype=np.float32)  # run's frequency range (row, col)
        self._hi = np.zeros((legs, 2), dtype=np.float32)
        self._misses = np.zeros(legs, dtype=np.int32)
        self._emitted = np.zeros(legs, dtype=bool)

    @property
    def legs(self) -> int:
        return self._legs

    def reset(self, legs: ArrayLike | None = None) -> None:
        """Forget the audio and state of ``legs`` (indices or a mask; all when None)."""
        sel = slice(None) if legs is None else np.asarray(legs)
        self._tail[sel] = 0.0
        self._prev[sel] = 0.0
        self._has_prev[sel] = False
        self._cand[sel] = -1
        self._chain[sel] = 0
        self._prev_rel[sel] = 0.0
        self._key[sel] = -1
        self._hits[sel] = 0
        self._steady[sel] = 0
        self._misses[sel] = 0
        self._emitted[sel] = False

    def process(self, frames: ArrayLike) -> list[InbandDigit]:
        """Feed the next samples of every leg (int16, shape (legs, n), any n) → new digits."""
        x = np.asarray(frames)
        if x.ndim != 2 or x.shape[0] != self._legs:
            raise ValueError(f"frames must be shaped ({self._legs}, samples), not {x.shape}")
        n, h = self._n, self._h
        tail_len = self._tail.shape[1]
        data = np.concatenate([self._tail, x.astype(np.float32)], axis=1)
        windows = (data.shape[1] - n) // h + 1 if data.shape[1] >= n else 0
        self._tail = data[:, windows * h:].copy()
        if windows == 0 or self._legs == 0:
            return []
        view = np.lib.stride_tricks.sliding_window_view(data, n, axis=1)[:, ::h][:, :windows]
        hit, ratio_ok, full, rel = self._classify(view.reshape(self._legs * windows, n))
        out: list[InbandDigit] = []
        for w in range(windows):
            detected = self._step(hit[:, w], ratio_ok[:, w], full[:, w], rel[:, w])
            for leg in np.flatnonzero(detected):
                out.append(InbandDigit(int(leg), DTMF_KEYS[int(hit[leg, w])],
                                       w * h + n - tail_len))
        return out

    def _classify(self, frames: NDArray[np.float32]) -> tuple[
        NDArray[np.int8], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float32]
    ]:
        """Per (leg, window): the key index (row*4+col) of a hit, else -1; whether the two
        tones hold ``steady_energy_ratio``; whether the halves are within ``steady_half_db``;
        the two tones' relative frequency offsets (legs, windows, 2).  Updates the phases."""
        legs = self._legs
        windows = frames.shape[0] // legs
        nf = self._basis.shape[1] // 2
        proj = (frames @ self._basis).reshape(legs, windows, 2 * nf)
        sq = frames * frames
        mean_square = (sq @ self._wsq).reshape(legs, windows) * self._win_norm
        halves = sq.reshape(legs, windows, 2, -1).sum(axis=3)
        re, im = proj[..., :nf], proj[..., nf:]
        power = (re * re + im * im) * np.float32(self._scale)  # a tone's mean square
        # the strongest tone of each group, and its bins in this and the previous window
        row = np.argmax(power[..., :4], axis=2)
        col = 4 + np.argmax(power[..., 4:8], axis=2)
        pick = np.stack([row, col], axis=2)  # (legs, windows, 2)
        take = np.take_along_axis
        tones = (re[..., :8] + 1j * im[..., :8]).astype(np.complex64)
        chain = np.concatenate([self._prev[:, None, :], tones], axis=1)
        self._prev = tones[:, -1, :].copy()
        has_prev = np.ones((legs, windows), dtype=bool)
        has_prev[:, 0] = self._has_prev
        self._has_prev[:] = True
        now = take(tones, pick, axis=2)
        before = take(chain[:, :-1, :], pick, axis=2)
        # frequency offset from the phase turn since the previous window, against f0's
        turn = np.angle(now * np.conj(before) * self._advance[pick])
        f0 = _FREQS32[pick]
        rel = turn * np.float32(self._rate / (2.0 * math.pi * self._h)) / f0
        # level at the measured frequency: undo the Hann window's scalloping (up to 1.5 %)
        bins = np.minimum(np.abs(rel), np.float32(_CORRECT_UP_TO)) * f0 * np.float32(
            self._n / self._rate)
        gain = np.sinc(bins) / (1.0 - bins * bins)
        level = take(power, pick, axis=2) / (gain * gain)
        p_row, p_col = level[..., 0], level[..., 1]
        harm = take(power, (col + 4)[..., None], axis=2)[..., 0]  # the 2nd harmonic of col
        e1, e2 = halves[..., 0], halves[..., 1]
        tones_power = p_row + p_col
        ok = (
            has_prev
            & np.all(np.abs(rel) <= self._tol, axis=2)
            & (p_row >= self._min_power)
            & (p_col >= self._min_power)
            & (p_col <= p_row * self._normal)
            & (p_row <= p_col * self._reverse)
            & (tones_power >= self._min_ratio * mean_square)
            & (harm <= p_col * self._max_harm)
            & (e1 <= e2 * self._max_half)
            & (e2 <= e1 * self._max_half)
        )
        key = np.where(ok, row * 4 + col - 4, -1).astype(np.int8)
        ratio_ok = tones_power >= self._steady_ratio * mean_square
        full = (e1 <= e2 * self._steady_half) & (e2 <= e1 * self._steady_half)
        return key, ratio_ok, full, rel.astype(np.float32)

    def _step(self, hit: NDArray[np.int8], ratio_ok: NDArray[np.bool_],
              full: NDArray[np.bool_], rel: NDArray[np.float32]) -> NDArray[np.bool_]:
        """Advance every leg's press state by one window; True where a digit is detected."""
        key, emitted = self._key, self._emitted
        is_hit = hit >= 0
        same = is_hit & (hit == key)
        # steady: the 3rd or later full window in a row of the key, so the two phase turns
        # since two windows ago are unbiased; their mean is the frequency reading (the lag-2
        # phase difference: half the noise of one turn)
        full_hit = is_hit & full
        self._chain = np.where(full_hit & (self._cand == hit), self._chain + 1,
                               np.where(full_hit, 1, 0))
        self._cand = np.where(full_hit, hit, -1).astype(np.int8)
        steady = (self._chain >= 3) & ratio_ok
        reading = 0.5 * (rel + self._prev_rel)
        self._prev_rel = rel
        # a held key: count the windows without it, release it after enough in a row
        self._misses = np.where(emitted & ~same, self._misses + 1, 0)
        released = emitted & (self._misses >= self._release)  # implies ~same
        emitted &= ~released
        key[released] = -1
        # a run: consecutive hits of one key whose frequencies in its steady windows stay
        # within max_drift; a hit that breaks that starts a new run
        idle = ~emitted
        st = steady[:, None]
        lo = np.where(st, np.minimum(self._lo, reading), self._lo)
        hi = np.where(st, np.maximum(self._hi, reading), self._hi)
        growing = idle & same & np.all(hi - lo <= self._drift, axis=1)
        fresh = idle & is_hit & ~growing
        g, f = growing[:, None], fresh[:, None]
        self._lo = np.where(f, np.where(st, reading, np.inf), np.where(g, lo, self._lo))
        self._hi = np.where(f, np.where(st, reading, -np.inf), np.where(g, hi, self._hi))
        self._hits = np.where(growing, self._hits + 1, np.where(fresh, 1, 0))
        self._steady = np.where(growing, self._steady + steady, np.where(fresh, steady, 0))
        key[idle] = np.where(is_hit[idle], hit[idle], -1)
        detected = idle & (self._hits >= self._detect) & (self._steady >= self._steady_need)
        emitted |= detected
        self._hits[detected] = 0
        self._steady[detected] = 0
        return detected
