"""SDP session descriptions (RFC 8866): parse from bytes, serialize to bytes.

``parse_sdp`` accepts any bytes or text and returns a ``SessionDescription`` or raises
``SdpError`` naming the fault.  It checks what every consumer needs: ``v=0`` first, one ``o=``,
``s=`` and at least one ``t=`` at session level, well-formed ``o=``, ``c=``, ``b=``, ``t=`` and
``m=`` lines (ports 0-65535).  It is tolerant of LF-only line endings, trailing whitespace, blank
lines and lines out of RFC order inside a section.  Attributes are kept in order as raw
``(name, value)`` pairs and interpreted on demand by the helpers (``rtpmap``, ``fmtp``, ``ptime``,
``direction``, ``rtcp``…); lines of unknown type travel in ``extra``.  ``to_bytes`` writes the
lines in RFC 8866 order with CRLF, so ``parse_sdp(d.to_bytes()) == d``.

Text is decoded as UTF-8 with ``surrogateescape``: bytes that are not UTF-8 (a legacy
``a=charset``) survive a parse/serialize round trip unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from ..errors import CcswitchError
from ..memo import text_memo

CRLF = "\r\n"
_MAX_DIGITS = 20  # uint64; also keeps int() away from huge digit strings
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class SdpError(CcswitchError):
    """A session description that cannot be accepted; ``reason`` names the fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Direction(Enum):
    """Media direction attributes (RFC 8866 §6.7), seen from the side that wrote them."""

    __hash__ = object.__hash__  # identity, in C (Enum's hashes the name in Python; singletons)

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, *, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reversed(self) -> Direction:
        """The same stream seen from the other side (sendonly <-> recvonly)."""
        return Direction.of(sends=self.receives, receives=self.sends)

    def __and__(self, other: Direction) -> Direction:
        """What both allow."""
        return Direction.of(sends=self.sends and other.sends,
                            receives=self.receives and other.receives)


DIRECTIONS: Mapping[str, Direction] = MappingProxyType({d.value: d for d in Direction})


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (f"{self.username} {self.sess_id} {self.sess_version} {self.nettype} "
                f"{self.addrtype} {self.address}")


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (address kept raw, ``/ttl`` included)."""

    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"

    @property
    def is_hold(self) -> bool:
        """The RFC 2543 hold address (``0.0.0.0``; ``::`` taken alike)."""
        return self.address in ("0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>``."""

    type: str
    value: int

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start-time> <stop-time>`` and its raw ``r=`` lines."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attribute:
    """``a=<name>`` (``value`` None) or ``a=<name>:<value>``."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]``."""

    pt: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    def to_attribute(self) -> Attribute:
        ch = "" if self.channels is None else f"/{self.channels}"
        return Attribute("rtpmap", f"{self.pt} {self.encoding}/{self.clock_rate}{ch}")


@dataclass(frozen=True, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605)."""

    port: int
    connection: Connection | None = None

    def to_attribute(self) -> Attribute:
        tail = "" if self.connection is None else f" {self.connection}"
        return Attribute("rtcp", f"{self.port}{tail}")


def _static(pt: int, name: str, rate: int, channels: int | None = None) -> tuple[int, RtpMap]:
    return pt, RtpMap(pt, name, rate, channels)


# RFC 3551 §6: payload types known without an a=rtpmap.
STATIC_PAYLOAD_TYPES: Mapping[int, RtpMap] = MappingProxyType(dict((
    _static(0, "PCMU", 8000), _static(3, "GSM", 8000), _static(4, "G723", 8000),
    _static(5, "DVI4", 8000), _static(6, "DVI4", 16000), _static(7, "LPC", 8000),
    _static(8, "PCMA", 8000), _static(9, "G722", 8000), _static(10, "L16", 44100, 2),
    _static(11, "L16", 44100), _static(12, "QCELP", 8000), _static(13, "CN", 8000),
    _static(14, "MPA", 90000), _static(15, "G728", 8000), _static(16, "DVI4", 11025),
    _static(17, "DVI4", 22050), _static(18, "G729", 8000), _static(25, "CelB", 90000),
    _static(26, "JPEG", 90000), _static(28, "nv", 90000), _static(31, "H261", 90000),
    _static(32, "MPV", 90000), _static(33, "MP2T", 90000), _static(34, "H263", 90000),
)))


def _uint(text: str, limit: int | None = None) -> int | None:
    """A decimal ASCII unsigned integer (at most ``limit``), else None."""
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    n = int(text)
    return None if limit is not None and n > limit else n


@text_memo(1024)
def parse_rtpmap(value: str) -> RtpMap | None:
    """The value of an ``a=rtpmap`` attribute, or None when malformed.

    Memoized (the result is immutable): the same few mappings (``0 PCMU/8000``…) come in every
    offer and answer, and negotiating one call reads them about twenty times."""
    pt_text, _, spec = value.partition(" ")
    pt = _uint(pt_text, 127)
    parts = spec.strip().split("/")
    if pt is None or len(parts) not in (2, 3) or not parts[0]:
        return None
    rate = _uint(parts[1])
    channels = _uint(parts[2]) if len(parts) == 3 else None
    if rate is None or (len(parts) == 3 and not channels):
        return None
    return RtpMap(pt, parts[0], rate, channels)


@text_memo(1024)
def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError(f"bad c= line: {value[:60]!r}")
    return Connection(parts[0], parts[1], parts[2])


def parse_rtcp(value: str) -> Rtcp | None:
    """The value of an ``a=rtcp`` attribute, or None when malformed."""
    parts = value.split()
    port = _uint(parts[0], 65535) if parts else None
    if port is None or len(parts) not in (1, 4):
        return None
    return Rtcp(port, Connection(*parts[1:]) if len(parts) == 4 else None)


def _parse_number_attr(value: str | None) -> int | None:
    """``a=ptime``/``a=maxptime`` in ms (``20`` or ``20.0``), or None."""
    if value is None:
        return None
    whole, _, frac = value.strip().partition(".")
    n = _uint(whole)
    if n is None or (frac and _uint(frac) is None):
        return None
    return n


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section: the media line, its connection, bandwidths and attributes in order."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...] = ()
    port_count: int | None = None
    info: str | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # lines of other types, passed through

    # -- attributes ------------------------------------------------------------------------
    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=name`` (``""`` for a property attribute), or None."""
        for a in self.attributes:
            if a.name == name:
                return "" if a.value is None else a.value
        return None

    def attribute_values(self, name: str) -> list[str]:
        return ["" if a.value is None else a.value for a in self.attributes if a.name == name]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The numeric formats (RTP payload types) in order of preference."""
        out = []
        for f in self.formats:
            pt = _uint(f, 127)
            if pt is not None:
                out.append(pt)
        return tuple(out)

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Every well-formed ``a=rtpmap``, by payload type (the first one wins)."""
        out: dict[int, RtpMap] = {}
        for v in self.attribute_values("rtpmap"):
            m = parse_rtpmap(v)
            if m is not None and m.pt not in out:
                out[m.pt] = m
        return out

    def rtpmap(self, pt: int) -> RtpMap | None:
        """The mapping of ``pt``: its ``a=rtpmap``, else the static RFC 3551 one, else None."""
        return self.rtpmaps().get(pt) or STATIC_PAYLOAD_TYPES.get(pt)

    def fmtp(self, pt: int) -> str | None:
        """The format parameters of ``pt`` (``a=fmtp:<pt> <params>``), or None."""
        for v in self.attribute_values("fmtp"):
            head, _, params = v.partition(" ")
            if _uint(head) == pt:
                return params.strip()
        return None

    @property
    def ptime(self) -> int | None:
        return _parse_number_attr(self.attribute("ptime"))

    @property
    def maxptime(self) -> int | None:
        return _parse_number_attr(self.attribute("maxptime"))

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute (the last one), or None."""
        found = None
        for a in self.attributes:
            if a.value is None and a.name in DIRECTIONS:
                found = DIRECTIONS[a.name]
        return found

    @property
    def rtcp(self) -> Rtcp | None:
        v = self.attribute("rtcp")
        return None if v is None else parse_rtcp(v)

    @property
    def rtcp_mux(self) -> bool:
        return self.has_attribute("rtcp-mux")

    # -- serialization ---------------------------------------------------------------------
    def media_line(self) -> str:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return " ".join((self.media, port, self.proto, *self.formats))

    def lines(self) -> Iterator[str]:
        yield "m=" + self.media_line()
        if self.info is not None:
            yield "i=" + self.info
        if self.connection is not None:
            yield f"c={self.connection}"
        for b in self.bandwidths:
            yield f"b={b}"
        if self.key is not None:
            yield "k=" + self.key
        for a in self.attributes:
            yield "a=" + a.name if a.value is None else f"a={a.name}:{a.value}"
        for t, v in self.extra:
            yield f"{t}={v}"


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP: the session-level lines and the media descriptions in order."""

    origin: Origin
    name: str = "-"
    connection: Connection | None = None
    timings: tuple[Timing, ...] = (Timing(),)
    bandwidths: tuple[Bandwidth, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    info: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    zone: str | None = None
    key: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())  # lines of other types

    def attribute(self, name: str) -> str | None:
        """The value of the first session-level ``a=name`` (``""`` if valueless), or None."""
        for a in self.attributes:
            if a.name == name:
                return "" if a.value is None else a.value
        return None

    @property
    def direction(self) -> Direction | None:
        """The session-level direction attribute (the last one), or None."""
        found = None
        for a in self.attributes:
            if a.value is None and a.name in DIRECTIONS:
                found = DIRECTIONS[a.name]
        return found

    def media_direction(self, m: MediaDescription) -> Direction:
        """The direction of ``m``: its own attribute, else the session's, else sendrecv."""
        return m.direction or self.direction or Direction.SENDRECV

    def media_connection(self, m: MediaDescription) -> Connection | None:
        """The connection of ``m``: its own ``c=``, else the session's."""
        return m.connection or self.connection

    def lines(self) -> Iterator[str]:
        yield "v=0"
        yield f"o={self.origin}"
        yield "s=" + (self.name or " ")
        if self.info is not None:
            yield "i=" + self.info
        if self.uri is not None:
            yield "u=" + self.uri
        for e in self.emails:
            yield "e=" + e
        for p in self.phones:
            yield "p=" + p
        if self.connection is not None:
            yield f"c={self.connection}"
        for b in self.bandwidths:
            yield f"b={b}"
        for timing in self.timings:
            yield f"t={timing.start} {timing.stop}"
            for r in timing.repeats:
                yield "r=" + r
        if self.zone is not None:
            yield "z=" + self.zone
        if self.key is not None:
            yield "k=" + self.key
        for a in self.attributes:
            yield f"a={a}"
        for t, v in self.extra:
            yield f"{t}={v}"
        for m in self.media:
            yield from m.lines()

    def to_bytes(self) -> bytes:
        """The description in RFC 8866 line order, CRLF after every line."""
        lines = list(self.lines())
        text = CRLF.join(lines)
        n = len(lines) - 1
        if text.count("\n") != n or text.count("\r") != n or "\0" in text:
            for line in lines:  # one check of the whole text; name the line at fault
                if "\n" in line or "\r" in line or "\0" in line:
                    raise ValueError(f"SDP line with a line break or NUL: {line[:60]!r}")
        return (text + CRLF).encode("utf-8", "surrogateescape")

    def __str__(self) -> str:
        return "".join(line + CRLF for line in self.lines())


# -- parsing -------------------------------------------------------------------------------

# A description whose every line is ``<letter>=<no CR, LF or NUL>`` ended by CRLF (what
# phones send): ``_split_lines`` then needs no per-line checks.
_PLAIN = re.compile(r"(?:[A-Za-z]=[^\r\n\0]*\r\n)+")


def _split_lines(text: str) -> list[tuple[str, str]]:
    if _PLAIN.fullmatch(text):
        return [(line[0], line[2:].rstrip(" \t")) for line in text.split("\r\n")[:-1]]
    return _split_lines_checked(text)


def _split_lines_checked(text: str) -> list[tuple[str, str]]:
    out = []
    for raw in text.split("\n"):
        line = raw.rstrip(" \t\r")
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or line[0] not in _ASCII_LETTERS:
            raise SdpError(f"bad line: {line[:60]!r}")
        if "\r" in line or "\0" in line:
            raise SdpError(f"control character in line: {line[:60]!r}")
        out.append((line[0], line[2:]))
    return out


@text_memo(1024)
def _parse_origin(value: str) -> Origin:
    parts = value.split()
    version = _uint(parts[2]) if len(parts) == 6 else None
    if version is None:
        raise SdpError(f"bad o= line: {value[:60]!r}")
    return Origin(parts[0], parts[1], version, parts[3], parts[4], parts[5])


def _parse_bandwidth(value: str) -> Bandwidth:
    kind, sep, amount = value.partition(":")
    n = _uint(amount.strip())
    if not sep or not kind or n is None:
        raise SdpError(f"bad b= line: {value[:60]!r}")
    return Bandwidth(kind, n)


@text_memo(64)
def _parse_timing(value: str) -> Timing:
    parts = value.split()
    times = [_uint(p) for p in parts]
    if len(times) != 2 or times[0] is None or times[1] is None:
        raise SdpError(f"bad t= line: {value[:60]!r}")
    return Timing(times[0], times[1])


def _parse_media_line(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"bad m= line: {value[:60]!r}")
    port_text, slash, count_text = parts[1].partition("/")
    port = _uint(port_text, 65535)
    if port is None:
        raise SdpError(f"bad port in m= line: {value[:60]!r}")
    count = None
    if slash:
        count = _uint(count_text)
        if not count:
            raise SdpError(f"bad port count in m= line: {value[:60]!r}")
    return MediaDescription(parts[0], port, parts[2], tuple(parts[3:]), count)


@text_memo(2048)
def _attribute(value: str) -> Attribute:
    name, sep, rest = value.partition(":")
    return Attribute(name, rest if sep else None)


class _MediaBuilder:
    __slots__ = ("attributes", "bandwidths", "connection", "extra", "info", "key", "line")

    def __init__(self, line: MediaDescription) -> None:
        self.line = line
        self.info: str | None = None
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.key: str | None = None
        self.attributes: list[Attribute] = []
        self.extra: list[tuple[str, str]] = []

    def add(self, kind: str, value: str) -> None:
        if kind == "a":
            self.attributes.append(_attribute(value))
        elif kind == "c" and self.connection is None:
            self.connection = _parse_connection(value)
        elif kind == "b":
            self.bandwidths.append(_parse_bandwidth(value))
        elif kind == "i" and self.info is None:
            self.info = value
        elif kind == "k" and self.key is None:
            self.key = value
        else:  # further c= lines (multicast), unknown types: passed through
            if kind == "c":
                _parse_connection(value)
            self.extra.append((kind, value))

    def build(self) -> MediaDescription:
        m = self.line
        return MediaDescription(m.media, m.port, m.proto, m.formats, m.port_count, self.info,
                                self.connection, tuple(self.bandwidths), self.key,
                                tuple(self.attributes), tuple(self.extra))


class _SessionBuilder:
    __slots__ = ("attributes", "bandwidths", "connection", "emails", "extra", "info", "key",
                 "name", "origin", "phones", "timings", "uri", "zone")

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.name: str | None = None
        self.info: str | None = None
        self.uri: str | None = None
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.timings: list[Timing] = []
        self.zone: str | None = None
        self.key: str | None = None
        self.attributes: list[Attribute] = []
        self.extra: list[tuple[str, str]] = []

    def add(self, kind: str, value: str) -> None:
        if kind == "v":
            raise SdpError("v= is not the first line")
        if kind in "osc" and self._seen(kind):
            raise SdpError(f"more than one {kind}= line at session level")
        match kind:
            case "a":
                self.attributes.append(_attribute(value))
            case "o":
                self.origin = _parse_origin(value)
            case "s":
                self.name = value
            case "c":
                self.connection = _parse_connection(value)
            case "b":
                self.bandwidths.append(_parse_bandwidth(value))
            case "t":
                self.timings.append(_parse_timing(value))
            case "r":
                if not self.timings:
                    raise SdpError("r= line before any t= line")
                t = self.timings[-1]
                self.timings[-1] = Timing(t.start, t.stop, (*t.repeats, value))
            case "e":
                self.emails.append(value)
            case "p":
                self.phones.append(value)
            case "i" if self.info is None:
                self.info = value
            case "u" if self.uri is None:
                self.uri = value
            case "z" if self.zone is None:
                self.zone = value
            case "k" if self.key is None:
                self.key = value
            case _:
                self.extra.append((kind, value))

    def _seen(self, kind: str) -> bool:
        if kind == "o":
            return self.origin is not None
        if kind == "s":
            return self.name is not None
        return self.connection is not None

    def build(self, media: tuple[MediaDescription, ...]) -> SessionDescription:
        if self.origin is None:
            raise SdpError("missing o= line")
        if self.name is None:
            raise SdpError("missing s= line")
        if not self.timings:
            raise SdpError("missing t= line")
        return SessionDescription(
            self.origin, self.name, self.connection, tuple(self.timings),
            tuple(self.bandwidths), tuple(self.attributes), media, self.info, self.uri,
            tuple(self.emails), tuple(self.phones), self.zone, self.key, tuple(self.extra))


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse a session description; raises ``SdpError`` (with ``reason``) when malformed."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    lines = _split_lines(text)
    if not lines:
        raise SdpError("empty session description")
    if lines[0][0] != "v":
        raise SdpError("missing v= line")
    if lines[0][1].strip() != "0":
        raise SdpError(f"unsupported SDP version {lines[0][1][:20]!r}")
    session = _SessionBuilder()
    media: list[_MediaBuilder] = []
    for kind, value in lines[1:]:
        if kind == "m":
            media.append(_MediaBuilder(_parse_media_line(value)))
        elif media:
            media[-1].add(kind, value)
        else:
            session.add(kind, value)
    return session.build(tuple(m.build() for m in media))
