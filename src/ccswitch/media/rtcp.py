"""RTCP compound packets (RFC 3550 §6.4-6.6, validity check of A.2), NTP time, RTT; sans-IO.

``parse_rtcp(data)`` gives the packets of a compound (SR, RR, SDES, BYE typed; any other
type, e.g. APP or feedback, passed through as ``RtcpUnknown``) or raises ``RtcpError``;
``build_rtcp(packets)`` is its inverse.  P-bit padding is accepted on the last packet and
dropped.  ``report_block`` turns an ``RtpReceiveStats`` snapshot into a report block and
``round_trip_time`` reads the RTT back from one.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import CcswitchError
from .rtp import BytesLike, ReceiveSnapshot

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_U32 = 0xFFFFFFFF
_MAX_LOST = 0x7FFFFF
_MIN_LOST = -0x800000
_HDR = struct.Struct("!BBH")
_SSRC = struct.Struct("!I")
_SENDER = struct.Struct("!IIIIII")  # ssrc + sender info
_BLOCK = struct.Struct("!IIIIII")


class RtcpType(enum.IntEnum):
    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SdesType(enum.IntEnum):
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


_SR, _RR, _SDES, _BYE = 200, 201, 202, 203  # RtcpType as plain ints for the parser


class RtcpError(CcswitchError):
    """Bytes that are not a valid RTCP compound packet; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_u32(*values: int) -> None:
    if values and (min(values) < 0 or max(values) > _U32):
        raise ValueError("RTCP field out of 32-bit unsigned range")


def _check_count(n: int, what: str) -> None:
    if n > 31:
        raise ValueError(f"at most 31 {what} in one RTCP packet")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportBlock:
    """Reception report about one source (RFC 3550 §6.4.1).

    ``cumulative_lost`` is 24-bit signed; ``lsr`` is the middle 32 bits of that source's last
    SR NTP timestamp (0: none yet) and ``dlsr`` the delay since, both in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_seq: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    def __post_init__(self) -> None:
        _check_u32(self.ssrc, self.highest_seq, self.jitter, self.lsr, self.dlsr)
        if not (0 <= self.fraction_lost <= 255 and _MIN_LOST <= self.cumulative_lost <= _MAX_LOST):
            raise ValueError("fraction_lost is 8-bit, cumulative_lost 24-bit signed")

    def to_bytes(self) -> bytes:
        lost = (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF)
        return _BLOCK.pack(self.ssrc, lost, self.highest_seq, self.jitter, self.lsr, self.dlsr)

    @classmethod
    def _parse(cls, data: BytesLike, off: int) -> ReportBlock:
        ssrc, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, off)
        cum = lost & 0xFFFFFF
        return cls(ssrc=ssrc, fraction_lost=lost >> 24,
                   cumulative_lost=cum - 0x1000000 if cum & 0x800000 else cum,
                   highest_seq=highest, jitter=jitter, lsr=lsr, dlsr=dlsr)


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderReport:
    """SR: the sender info of ``ssrc`` plus report blocks and any profile extension."""

    ssrc: int
    ntp_msw: int
    ntp_lsw: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __post_init__(self) -> None:
        _check_u32(self.ssrc, self.ntp_msw, self.ntp_lsw, self.rtp_timestamp,
                   self.packet_count, self.octet_count)
        _check_count(len(self.reports), "report blocks")
        if len(self.extension) % 4:
            raise ValueError("profile extension must be a multiple of 4 octets")

    def to_bytes(self) -> bytes:
        body = [_SENDER.pack(self.ssrc, self.ntp_msw, self.ntp_lsw, self.rtp_timestamp,
                             self.packet_count, self.octet_count)]
        body += [r.to_bytes() for r in self.reports]
        body.append(self.extension)
        return _packet(RtcpType.SR, len(self.reports), b"".join(body))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverReport:
    """RR: report blocks from ``ssrc`` (a receiver that sent no RTP lately)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __post_init__(self) -> None:
        _check_u32(self.ssrc)
        _check_count(len(self.reports), "report blocks")
        if len(self.extension) % 4:
            raise ValueError("profile extension must be a multiple of 4 octets")

    def to_bytes(self) -> bytes:
        body = [_SSRC.pack(self.ssrc), *(r.to_bytes() for r in self.reports), self.extension]
        return _packet(RtcpType.RR, len(self.reports), b"".join(body))


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item: a type 1-255 (``SdesType``) and up to 255 octets (UTF-8 text)."""

    type: int
    value: bytes

    def __post_init__(self) -> None:
        if not 1 <= self.type <= 255 or len(self.value) > 255:
            raise ValueError("SDES item type is 1-255, its value at most 255 octets")


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The SDES items of one source."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    def __post_init__(self) -> None:
        _check_u32(self.ssrc)

    @classmethod
    def with_cname(cls, ssrc: int, cname: str) -> SdesChunk:
        return cls(ssrc, (SdesItem(int(SdesType.CNAME), cname.encode()),))

    @property
    def cname(self) -> str | None:
        for item in self.items:
            if item.type == SdesType.CNAME:
                return item.value.decode("utf-8", "replace")
        return None

    def to_bytes(self) -> bytes:
        out = bytearray(_SSRC.pack(self.ssrc))
        for item in self.items:
            out += bytes((item.type, len(item.value)))
            out += item.value
        out += bytes(4 - len(out) % 4)  # the null item ending the list, then padding
        return bytes(out)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES: a chunk per source."""

    chunks: tuple[SdesChunk, ...] = ()

    def __post_init__(self) -> None:
        _check_count(len(self.chunks), "SDES chunks")

    def to_bytes(self) -> bytes:
        body = b"".join(c.to_bytes() for c in self.chunks)
        return _packet(RtcpType.SDES, len(self.chunks), body)


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE: these sources leave, with an optional reason (``None``: no reason field)."""

    ssrcs: tuple[int, ...] = ()
    reason: bytes | None = None

    def __post_init__(self) -> None:
        _check_u32(*self.ssrcs)
        _check_count(len(self.ssrcs), "BYE sources")
        if self.reason is not None and len(self.reason) > 255:
            raise ValueError("BYE reason is at most 255 octets")

    def to_bytes(self) -> bytes:
        body = bytearray(struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs))
        if self.reason is not None:
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + bytes(-len(reason) % 4)
        return _packet(RtcpType.BYE, len(self.ssrcs), bytes(body))


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    """A packet of another type (APP, feedback, XR...), passed through as it came."""

    packet_type: int
    count: int
    body: bytes

    def __post_init__(self) -> None:
        if not (0 <= self.packet_type <= 255 and 0 <= self.count <= 31):
            raise ValueError("packet type is 8-bit, count 5-bit")
        if len(self.body) % 4:
            raise ValueError("RTCP body must be a multiple of 4 octets")

    def to_bytes(self) -> bytes:
        return _packet(self.packet_type, self.count, self.body)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | RtcpUnknown


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    words = len(body) // 4
    if words > 0xFFFF:
        raise ValueError("too long for one RTCP packet")
    return _HDR.pack(0x80 | count, packet_type, words) + body


def build_rtcp(packets: Iterable[RtcpPacket]) -> bytes:
    """The bytes of a compound packet (an SR or RR should come first)."""
    return b"".join(p.to_bytes() for p in packets)


# ------------------------------------------------------------------------ parsing


def parse_rtcp(data: BytesLike, *, reduced_size: bool = False) -> tuple[RtcpPacket, ...]:
    """Parse a compound RTCP packet; raise ``RtcpError`` when it is not valid.

    Checked (RFC 3550 A.2): version 2 everywhere, each length field within the data and the
    lengths adding up to the whole, padding only on the last packet and a multiple of 4, the
    first packet an SR or RR (unless ``reduced_size``, RFC 5506), each typed packet's counts
    and items within its length.
    """
    n = len(data)
    if n < 4:
        raise RtcpError("too short for an RTCP header")
    out: list[RtcpPacket] = []
    off = 0
    while off < n:
        if n - off < 4:
            raise RtcpError("trailing octets after the last packet")
        b0, pt, length = _HDR.unpack_from(data, off)
        if b0 >> 6 != 2:
            raise RtcpError("version is not 2")
        end = off + 4 * (length + 1)
        if end > n:
            raise RtcpError("length field beyond the data")
        if not out and not reduced_size and pt != _SR and pt != _RR:
            raise RtcpError("first packet is not an SR or RR")
        body_end = end
        if b0 & 0x20:
            if end != n:
                raise RtcpError("padding before the last packet")
            pad = data[end - 1]
            if pad == 0 or pad % 4 or pad > end - off - 4:
                raise RtcpError("bad padding length")
            body_end = end - pad
        out.append(_parse_one(pt, b0 & 0x1F, bytes(data[off + 4:body_end])))
        off = end
    return tuple(out)


def _parse_one(pt: int, count: int, body: bytes) -> RtcpPacket:
    n = len(body)
    if pt == _SR:
        if n < 24 + 24 * count:
            raise RtcpError("SR shorter than its report count")
        ssrc, msw, lsw, ts, packets, octets = _SENDER.unpack_from(body)
        return SenderReport(ssrc=ssrc, ntp_msw=msw, ntp_lsw=lsw, rtp_timestamp=ts,
                            packet_count=packets, octet_count=octets,
                            reports=tuple(ReportBlock._parse(body, 24 + 24 * i)
                                          for i in range(count)),
                            extension=body[24 + 24 * count:])
    if pt == _RR:
        if n < 4 + 24 * count:
            raise RtcpError("RR shorter than its report count")
        return ReceiverReport(ssrc=_SSRC.unpack_from(body)[0],
                              reports=tuple(ReportBlock._parse(body, 4 + 24 * i)
                                            for i in range(count)),
                              extension=body[4 + 24 * count:])
    if pt == _SDES:
        return _parse_sdes(count, body)
    if pt == _BYE:
        return _parse_bye(count, body)
    return RtcpUnknown(pt, count, body)


def _parse_sdes(count: int, body: bytes) -> SourceDescription:
    n = len(body)
    pos = 0
    chunks = []
    for _ in range(count):
        if pos + 4 > n:
            raise RtcpError("SDES chunk beyond the packet")
        ssrc = _SSRC.unpack_from(body, pos)[0]
        pos += 4
        items = []
        while True:
            if pos >= n:
                raise RtcpError("SDES chunk without its null item")
            kind = body[pos]
            if kind == 0:
                pos = (pos + 4) & ~3  # past the null item and the padding after it
                break
            if pos + 2 > n or pos + 2 + body[pos + 1] > n:
                raise RtcpError("SDES item beyond the packet")
            size = body[pos + 1]
            items.append(SdesItem(kind, body[pos + 2:pos + 2 + size]))
            pos += 2 + size
        chunks.append(SdesChunk(ssrc, tuple(items)))
    if pos != n:
        raise RtcpError("octets after the SDES chunks")
    return SourceDescription(tuple(chunks))


def _parse_bye(count: int, body: bytes) -> Bye:
    n = len(body)
    pos = 4 * count
    if pos > n:
        raise RtcpError("BYE shorter than its source count")
    ssrcs = struct.unpack_from(f"!{count}I", body)
    if pos == n:
        return Bye(ssrcs, None)
    size = body[pos]
    if pos + 1 + size > n:
        raise RtcpError("BYE reason beyond the packet")
    if (pos + 1 + size + 3) & ~3 != n:
        raise RtcpError("octets after the BYE reason")
    return Bye(ssrcs, body[pos + 1:pos + 1 + size])


# --------------------------------------------------------- NTP time, report blocks, RTT


def ntp_from_unix(seconds: float) -> tuple[int, int]:
    """Unix time in seconds as a 64-bit NTP timestamp ``(msw, lsw)`` (msw wraps in 2036)."""
    whole = math.floor(seconds)
    lsw = round((seconds - whole) * 4294967296.0)
    if lsw > _U32:
        whole, lsw = whole + 1, 0
    return (whole + NTP_UNIX_OFFSET) & _U32, lsw


def unix_from_ntp(msw: int, lsw: int) -> float:
    """The inverse of ``ntp_from_unix`` (for timestamps of the current NTP era)."""
    return msw - NTP_UNIX_OFFSET + lsw / 4294967296.0


def ntp_middle(msw: int, lsw: int) -> int:
    """The middle 32 bits of an NTP timestamp: LSR, and RFC 3550's compact 16.16 time."""
    return ((msw & 0xFFFF) << 16) | (lsw >> 16)


def report_block(snapshot: ReceiveSnapshot, *, now: float) -> ReportBlock:
    """The report block for a snapshot taken by ``RtpReceiveStats.report()``.

    ``now`` is on the clock the SR arrival times were given on; DLSR is the delay since then.
    Raises ``ValueError`` when the snapshot has no valid source.
    """
    if snapshot.ssrc is None:
        raise ValueError("no valid source to report on")
    dlsr = 0
    if snapshot.sr_arrival is not None:
        dlsr = min(_U32, max(0, round((now - snapshot.sr_arrival) * 65536)))
    return ReportBlock(
        ssrc=snapshot.ssrc, fraction_lost=snapshot.fraction_lost,
        cumulative_lost=min(_MAX_LOST, max(_MIN_LOST, snapshot.lost)),
        highest_seq=snapshot.extended_highest_seq & _U32,
        jitter=min(_U32, int(snapshot.jitter)),
        lsr=snapshot.lsr, dlsr=dlsr)


def round_trip_time(lsr: int, dlsr: int, *, arrival: float) -> float | None:
    """RTT in seconds from a report block about our stream (RFC 3550 §6.4.1).

    ``arrival`` is the report's arrival in Unix seconds, on the clock our SR's NTP time came
    from.  ``None`` when the peer has had no SR from us (LSR 0); a negative result (clock
    trouble) gives 0.
    """
    if lsr == 0:
        return None
    a = ntp_middle(*ntp_from_unix(arrival))
    rtt = (a - lsr - dlsr) & _U32
    if rtt >= 0x80000000:
        return 0.0
    return rtt / 65536.0
