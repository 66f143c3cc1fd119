"""RTP packets and receive statistics (RFC 3550 §5, appendices A.1, A.3 and A.8), sans-IO.

- ``parse_rtp`` / ``RtpPacket.to_bytes`` / ``build_rtp``: the whole packet as a frozen value;
  any bytes either parse or raise ``RtpError``, and ``parse_rtp(b).to_bytes() == b``.
- ``rtp_header_fields`` / ``rewrite_header``: the relay's fast path, straight on the buffer.
- ``is_rtcp``: RTP/RTCP demultiplexing on one port (RFC 5761 §4).
- ``RtpReceiveStats``: per-stream sequence, loss and jitter accounting for RTCP reports.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

from ..errors import CcswitchError

RTP_VERSION = 2
RTP_HEADER_LEN = 12
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
MIN_SEQUENTIAL = 2
MAX_DROPOUT = 3000
MAX_MISORDER = 100

BytesLike = bytes | bytearray | memoryview

_HDR = struct.Struct("!BBHII")
_SEQ_TS_SSRC = struct.Struct("!HII")
_EXT_HDR = struct.Struct("!HH")
_CSRCS = tuple(struct.Struct(f"!{n}I") for n in range(16))
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


class RtpError(CcswitchError):
    """Bytes that are not a valid RTP packet; ``reason`` says why (drop and count it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """The header extension (RFC 3550 §5.3.1): a 16-bit profile value and 32-bit-aligned data."""

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.profile <= _U16:
            raise ValueError(f"extension profile {self.profile} out of range")
        if len(self.data) % 4 or len(self.data) > 4 * _U16:
            raise ValueError("extension data must be a multiple of 4 octets, at most 262140")


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1); ``version`` is always 2.

    ``padding`` holds the padding octets as sent, the last one being their count (empty when
    the P bit is clear), so a parsed packet serializes back to the very same bytes.
    """

    version: ClassVar[int] = RTP_VERSION
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} out of range")
        if not 0 <= self.sequence <= _U16:
            raise ValueError(f"sequence {self.sequence} out of range")
        if not (0 <= self.timestamp <= _U32 and 0 <= self.ssrc <= _U32):
            raise ValueError("timestamp and ssrc must be 32-bit unsigned")
        if len(self.csrcs) > 15 or not all(0 <= c <= _U32 for c in self.csrcs):
            raise ValueError("at most 15 CSRCs, each 32-bit unsigned")
        if self.padding and (len(self.padding) > 255 or self.padding[-1] != len(self.padding)):
            raise ValueError("the last padding octet must be the padding length (1-255)")

    def to_bytes(self) -> bytes:
        return _pack(self.payload_type, self.sequence, self.timestamp, self.ssrc, self.payload,
                     self.marker, self.csrcs, self.extension, self.padding)

    @property
    def header_len(self) -> int:
        ext = 4 + len(self.extension.data) if self.extension is not None else 0
        return RTP_HEADER_LEN + 4 * len(self.csrcs) + ext


# parse_rtp fills a packet through the slot descriptors: the values it read cannot be out of
# range, so the checks (and the frozen dataclass __init__, 3x slower) are skipped.
_new = object.__new__
(_set_pt, _set_seq, _set_ts, _set_ssrc, _set_payload, _set_marker, _set_csrcs, _set_ext,
 _set_padding) = (getattr(RtpPacket, f).__set__ for f in (
    "payload_type", "sequence", "timestamp", "ssrc", "payload", "marker", "csrcs", "extension",
    "padding"))


def _pack(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool,
          csrcs: tuple[int, ...], ext: RtpExtension | None, padding: bytes) -> bytes:
    b0 = 0x80 | len(csrcs)
    if padding:
        b0 |= 0x20
    if ext is not None:
        b0 |= 0x10
    parts = [_HDR.pack(b0, pt | 0x80 if marker else pt, seq, ts, ssrc)]
    if csrcs:
        parts.append(_CSRCS[len(csrcs)].pack(*csrcs))
    if ext is not None:
        parts.append(_EXT_HDR.pack(ext.profile, len(ext.data) // 4))
        parts.append(ext.data)
    parts.append(payload)
    parts.append(padding)
    return b"".join(parts)


def build_rtp(*, payload_type: int, sequence: int, timestamp: int, ssrc: int,
              payload: bytes = b"", marker: bool = False, csrcs: tuple[int, ...] = (),
              extension: RtpExtension | None = None, padding: int = 0) -> bytes:
    """The bytes of an RTP packet; ``padding`` octets (0-255) are zeros ending in their count.

    Out-of-range fields raise ``ValueError`` (a programmer error, not a peer fault).
    """
    if padding:
        if not 0 < padding <= 255:
            raise ValueError(f"padding {padding} out of range")
        pad = bytes(padding - 1) + bytes((padding,))
    else:
        pad = b""
    if (0 <= payload_type <= 127 and 0 <= sequence <= _U16 and 0 <= timestamp <= _U32
            and 0 <= ssrc <= _U32 and not csrcs):
        return _pack(payload_type, sequence, timestamp, ssrc, payload, marker, (), extension, pad)
    return RtpPacket(payload_type=payload_type, sequence=sequence, timestamp=timestamp, ssrc=ssrc,
                     payload=payload, marker=marker, csrcs=csrcs, extension=extension,
                     padding=pad).to_bytes()


def parse_rtp(data: BytesLike) -> RtpPacket:
    """Parse one RTP packet; raise ``RtpError`` when it is not valid.

    Checked: at least 12 octets, version 2, the CSRC list and the header extension within the
    data, a padding count that is not 0 and fits after the header.  The payload type is not
    judged here (RTCP on the same port is told apart by ``is_rtcp`` first).
    """
    n = len(data)
    if n < RTP_HEADER_LEN:
        raise RtpError("too short for an RTP header")
    b0, b1, seq, ts, ssrc = _HDR.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        raise RtpError("version is not 2")
    cc = b0 & 0x0F
    off = RTP_HEADER_LEN + 4 * cc
    if off > n:
        raise RtpError("CSRC list beyond the data")
    csrcs: tuple[int, ...] = _CSRCS[cc].unpack_from(data, RTP_HEADER_LEN) if cc else ()
    ext = None
    if b0 & 0x10:
        if off + 4 > n:
            raise RtpError("extension header beyond the data")
        profile, words = _EXT_HDR.unpack_from(data, off)
        end = off + 4 + 4 * words
        if end > n:
            raise RtpError("extension length beyond the data")
        ext = RtpExtension(profile, bytes(data[off + 4:end]))
        off = end
    end = n
    padding = b""
    if b0 & 0x20:
        count = data[n - 1]
        if count == 0:
            raise RtpError("padding length 0")
        if count > n - off:
            raise RtpError("padding length beyond the payload")
        end = n - count
        padding = bytes(data[end:])
    p: RtpPacket = _new(RtpPacket)
    _set_pt(p, b1 & 0x7F)
    _set_seq(p, seq)
    _set_ts(p, ts)
    _set_ssrc(p, ssrc)
    _set_payload(p, bytes(data[off:end]))
    _set_marker(p, b1 > 0x7F)
    _set_csrcs(p, csrcs)
    _set_ext(p, ext)
    _set_padding(p, padding)
    return p


def rtp_header_fields(buf: BytesLike) -> tuple[int, int, int, int, int]:
    """``(payload_type, sequence, timestamp, ssrc, header_len)`` without building objects.

    For the relay: checks the length, the version, the CSRC list and the extension (so
    ``buf[header_len:]`` is payload plus any padding) and raises ``RtpError`` like
    ``parse_rtp``; the padding itself is not checked.
    """
    n = len(buf)
    if n < RTP_HEADER_LEN:
        raise RtpError("too short for an RTP header")
    b0, b1, seq, ts, ssrc = _HDR.unpack_from(buf)
    if b0 & 0xC0 != 0x80:
        raise RtpError("version is not 2")
    hlen = RTP_HEADER_LEN + ((b0 & 0x0F) << 2)
    if b0 & 0x10:
        if hlen + 4 > n:
            raise RtpError("extension header beyond the data")
        hlen += 4 + (((buf[hlen + 2] << 8) | buf[hlen + 3]) << 2)
    if hlen > n:
        raise RtpError("header beyond the data")
    return b1 & 0x7F, seq, ts, ssrc, hlen


def rewrite_header(buf: bytearray | memoryview, *, seq: int, ts: int, ssrc: int) -> None:
    """Overwrite sequence, timestamp and SSRC in place (a relay leg's own numbering).

    ``seq`` and ``ts`` are taken modulo 2**16 and 2**32, so offsets may be added freely.
    """
    _SEQ_TS_SSRC.pack_into(buf, 2, seq & _U16, ts & _U32, ssrc)


def is_rtcp(buf: BytesLike) -> bool:
    """True when a packet on a muxed RTP/RTCP port is RTCP (RFC 5761 §4).

    The second octet of RTCP is its packet type, 192-223 (RTP payload types 64-95 with the
    marker bit, which a muxed session must not use for RTP).
    """
    return len(buf) >= 2 and 192 <= buf[1] <= 223


# ------------------------------------------------------------------ receive statistics


class SeqVerdict(enum.Enum):
    """What ``RtpReceiveStats.receive`` made of a packet."""

    IN_ORDER = "in_order"  # newest so far (gaps before it count as lost until they arrive)
    LATE = "late"  # older than the newest, not seen before (reordered)
    DUPLICATE = "duplicate"  # seen before
    PROBATION = "probation"  # its source is not yet valid (RFC 3550 A.1); not counted
    JUMP = "jump"  # a large sequence jump, dropped until the next packet confirms it


@dataclass(frozen=True, slots=True)
class ReceiveSnapshot:
    """The receive statistics of the current source at one moment.

    ``received`` counts duplicates too and ``lost = expected - received`` may thus be negative
    (RFC 3550 §6.4.1); ``fraction_lost`` (0-255, in 1/256) covers the interval since the last
    ``RtpReceiveStats.report()``.  ``ssrc`` is ``None`` until a source has become valid.
    """

    ssrc: int | None
    clock_rate: int
    extended_highest_seq: int
    received: int
    expected: int
    lost: int
    fraction_lost: int
    expected_interval: int
    received_interval: int
    jitter: float  # timestamp units
    duplicates: int
    reordered: int
    restarts: int  # sequence restarts of the same SSRC (A.1's bad_seq resync)
    ssrc_changes: int
    discarded: int  # packets not counted: probation, unconfirmed jumps
    lsr: int  # middle 32 bits of the last SR's NTP timestamp, 0 if none
    sr_arrival: float | None  # when that SR arrived

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000.0 / self.clock_rate


class _Source:
    """Per-SSRC sequence state (the ``source`` struct of RFC 3550 A.1)."""

    __slots__ = ("bad_seq", "base_seq", "cycles", "duplicates", "expected_prior", "jitter",
                 "lsr", "max_seq", "prev_arrival", "prev_ts", "probation", "received",
                 "received_prior", "reordered", "restarts", "sr_arrival", "ssrc", "window")

    def __init__(self, ssrc: int, seq: int, probation: int) -> None:
        self.ssrc = ssrc
        self.probation = probation
        self.jitter = 0.0
        self.prev_ts = 0
        self.prev_arrival: float | None = None
        self.duplicates = self.reordered = self.restarts = 0
        self.lsr = 0
        self.sr_arrival: float | None = None
        self.init_seq(seq)
        self.max_seq = (seq - 1) & _U16

    def init_seq(self, seq: int) -> None:
        self.base_seq = self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = self.received_prior = self.expected_prior = 0
        self.window = 1  # bit i set: extended seq (highest - i) has arrived


class RtpReceiveStats:
    """Sequence, loss and jitter accounting for one incoming RTP stream (RFC 3550 A.1/A.8).

    Feed every packet with ``receive(ssrc, seq, timestamp, arrival)``, ``arrival`` in seconds
    on any steady clock.  A source becomes valid after ``min_sequential`` packets in sequence;
    a packet of another SSRC starts a probation of its own and, once that passes, the new
    source replaces the old (statistics reset, ``ssrc_changes`` counted), so a stray packet
    does not disturb the stream.  Sequence numbers and timestamps wrap.
    """

    __slots__ = ("_candidate", "_clock_rate", "_current", "_discarded", "_max_dropout",
                 "_max_misorder", "_min_sequential", "_ssrc_changes", "_window_mask")

    def __init__(self, *, clock_rate: int, min_sequential: int = MIN_SEQUENTIAL,
                 max_dropout: int = MAX_DROPOUT, max_misorder: int = MAX_MISORDER) -> None:
        if clock_rate <= 0 or min_sequential < 1:
            raise ValueError("clock_rate and min_sequential must be positive")
        if not (max_misorder > 0 and max_dropout > 0 and max_dropout + max_misorder < SEQ_MOD):
            raise ValueError("max_dropout and max_misorder must be positive, sum below 65536")
        self._clock_rate = clock_rate
        self._min_sequential = min_sequential
        self._max_dropout = max_dropout
        self._max_misorder = max_misorder
        self._window_mask = (1 << (max_misorder + 1)) - 1
        self._current: _Source | None = None
        self._candidate: _Source | None = None
        self._ssrc_changes = 0
        self._discarded = 0

    @property
    def ssrc(self) -> int | None:
        """The current valid source, if any."""
        return self._current.ssrc if self._current is not None else None

    def receive(self, ssrc: int, seq: int, timestamp: int, arrival: float) -> SeqVerdict:
        """Account one packet (A.1 ``update_seq`` plus duplicate detection and A.8 jitter)."""
        src = self._current
        if src is None or src.ssrc != ssrc:
            return self._probe(ssrc, seq, timestamp, arrival)
        udelta = (seq - src.max_seq) & _U16
        if udelta == 0:
            src.received += 1
            src.duplicates += 1
            return SeqVerdict.DUPLICATE
        if udelta < self._max_dropout:
            if seq < src.max_seq:
                src.cycles += SEQ_MOD
            src.max_seq = seq
            src.window = ((src.window << udelta) | 1) & self._window_mask
            verdict = SeqVerdict.IN_ORDER
        elif udelta <= SEQ_MOD - self._max_misorder:
            if seq != src.bad_seq:
                src.bad_seq = (seq + 1) & _U16
                self._discarded += 1
                return SeqVerdict.JUMP
            # two packets in sequence after a jump: the sender restarted its numbering
            src.init_seq(seq)
            src.restarts += 1
            src.prev_arrival = None  # the timestamps restarted too, most likely
            verdict = SeqVerdict.IN_ORDER
        else:
            bit = 1 << (SEQ_MOD - udelta)
            src.received += 1
            if src.window & bit:
                src.duplicates += 1
                return SeqVerdict.DUPLICATE
            src.window |= bit
            src.reordered += 1
            self._jitter(src, timestamp, arrival)
            return SeqVerdict.LATE
        src.received += 1
        self._jitter(src, timestamp, arrival)
        return verdict

    def _probe(self, ssrc: int, seq: int, timestamp: int, arrival: float) -> SeqVerdict:
        cand = self._candidate
        if cand is None or cand.ssrc != ssrc:
            cand = self._candidate = _Source(ssrc, seq, self._min_sequential)
        if seq == (cand.max_seq + 1) & _U16:
            cand.probation -= 1
            cand.max_seq = seq
            if cand.probation == 0:
                cand.init_seq(seq)
                cand.received = 1
                cand.prev_ts, cand.prev_arrival = timestamp, arrival
                if self._current is not None:
                    self._ssrc_changes += 1
                self._current, self._candidate = cand, None
                return SeqVerdict.IN_ORDER
        else:
            cand.probation = max(1, self._min_sequential - 1)
            cand.max_seq = seq
        self._discarded += 1
        return SeqVerdict.PROBATION

    def _jitter(self, src: _Source, ts: int, arrival: float) -> None:
        if src.prev_arrival is not None:
            dts = ((ts - src.prev_ts + 0x80000000) & _U32) - 0x80000000
            d = (arrival - src.prev_arrival) * self._clock_rate - dts
            src.jitter += (abs(d) - src.jitter) * 0.0625
        src.prev_ts = ts
        src.prev_arrival = arrival

    def on_sender_report(self, ssrc: int, ntp_msw: int, ntp_lsw: int, arrival: float) -> bool:
        """Note an SR of the current source for the LSR/DLSR of our next report block.

        Returns False (and notes nothing) when ``ssrc`` is not the current source.
        """
        src = self._current
        if src is None or src.ssrc != ssrc:
            return False
        src.lsr = ((ntp_msw & _U16) << 16) | ((ntp_lsw >> 16) & _U16)
        src.sr_arrival = arrival
        return True

    def snapshot(self) -> ReceiveSnapshot:
        """The statistics now, leaving the report interval running."""
        return self._snapshot(mark=False)

    def report(self) -> ReceiveSnapshot:
        """The statistics for an RTCP report; starts a new interval for ``fraction_lost``."""
        return self._snapshot(mark=True)

    def _snapshot(self, *, mark: bool) -> ReceiveSnapshot:
        src = self._current
        if src is None:
            return ReceiveSnapshot(None, self._clock_rate, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0,
                                   self._ssrc_changes, self._discarded, 0, None)
        ext_max = src.cycles + src.max_seq
        expected = ext_max - src.base_seq + 1
        expected_interval = expected - src.expected_prior
        received_interval = src.received - src.received_prior
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        if mark:
            src.expected_prior = expected
            src.received_prior = src.received
        return ReceiveSnapshot(
            ssrc=src.ssrc, clock_rate=self._clock_rate, extended_highest_seq=ext_max,
            received=src.received, expected=expected, lost=expected - src.received,
            fraction_lost=fraction, expected_interval=expected_interval,
            received_interval=received_interval, jitter=src.jitter, duplicates=src.duplicates,
            reordered=src.reordered, restarts=src.restarts, ssrc_changes=self._ssrc_changes,
            discarded=self._discarded, lsr=src.lsr, sr_arrival=src.sr_arrival)
