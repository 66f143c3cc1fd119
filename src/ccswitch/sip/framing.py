"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3, keep-alives of RFC 5626 §3.5.1)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SipParseError
from .grammar import parse_uint
from .message import MAX_CONTENT_LENGTH, MAX_MESSAGE_SIZE, find_head_end

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"


@dataclass(frozen=True, slots=True)
class Ping:
    """A CRLFCRLF keep-alive ping; answer with ``KEEPALIVE_PONG``."""


class FramingError(SipParseError):
    """The stream's framing is lost at a faulty message (a ``SipParseError``).

    ``frames`` are the whole messages and pings cut by the same ``feed`` call before the fault:
    deliver them, then answer the fault when possible and close.  ``pending`` holds the unframed
    bytes from the faulty message on, to build that answer from.
    """

    def __init__(
        self, status: int, reason: str, *, frames: list[bytes | Ping], pending: bytes
    ) -> None:
        super().__init__(status, reason)
        self.frames = frames
        self.pending = pending


class StreamFramer:
    """Cuts a byte stream into whole messages by Content-Length.

    ``feed(data)`` returns complete message byte strings and ``Ping`` markers, the same ones
    however the stream is split into chunks.  A message without a valid Content-Length, or
    whose header section or whole length exceeds ``max_size``, raises ``FramingError`` (a
    ``SipParseError``): the connection must then be answered (when possible) and closed, as its
    framing is lost.  Header lines may end in CRLF or a bare LF, as ``parse_message`` accepts.
    """

    __slots__ = ("_buf", "_max", "_scanned")

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_size
        self._scanned = 0  # no header section ends within _buf[:_scanned]

    def feed(self, data: bytes) -> list[bytes | Ping]:
        self._buf += data
        out: list[bytes | Ping] = []
        try:
            self._cut(out)
        except SipParseError as e:
            raise FramingError(e.status, e.reason, frames=out, pending=bytes(self._buf)) from None
        return out

    def _cut(self, out: list[bytes | Ping]) -> None:
        buf = self._buf
        while buf:
            # keep-alive and stray CRLFs between messages
            if buf[0] in (13, 10):
                if buf.startswith(KEEPALIVE_PING):
                    out.append(Ping())
                    del buf[:4]
                    continue
                if len(buf) < 4 and KEEPALIVE_PING.startswith(bytes(buf)):
                    return
                del buf[:1]
                continue
            # resume the search where the last one stopped (a slow peer costs linear time)
            end, body = find_head_end(buf, max(0, self._scanned - 2))
            self._scanned = len(buf) if end < 0 else end + 2
            # 413 exactly when the header section (with its empty line) needs more than
            # max_size bytes, whether or not its end has arrived yet
            if (end < 0 and len(buf) >= self._max) or body > self._max:
                raise SipParseError(413, "Message Too Large")
            if end < 0:
                return
            total = body + _content_length(bytes(buf[:end]))
            if total > self._max:
                raise SipParseError(413, "Message Too Large")
            if len(buf) < total:
                return
            out.append(bytes(buf[:total]))
            del buf[:total]
            self._scanned = 0

    @property
    def pending(self) -> int:
        return len(self._buf)


def _content_length(head: bytes) -> int:
    """The Content-Length of a header section, read as ``parse_message`` reads it."""
    values: list[bytes] = []
    current: bytes | None = None  # value of the Content-Length line being unfolded
    for line in head.split(b"\n")[1:]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                more = line.strip(b" \t")
                if more:
                    current = current + b" " + more if current else more
            continue
        if current is not None:
            values.append(current)
            current = None
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in (b"content-length", b"l"):
            current = value.strip(b" \t")
    if current is not None:
        values.append(current)
    if not values:
        raise SipParseError(400, "Missing Content-Length")
    lengths = set()
    for v in values:
        if not v.isdigit():  # bytes.isdigit: ASCII digits only
            raise SipParseError(400, "Bad Content-Length")
        lengths.add(parse_uint(v.decode(), max_value=MAX_CONTENT_LENGTH,
                               reason="Bad Content-Length"))
    if len(lengths) > 1:
        raise SipParseError(400, "Multiple Content-Length")
    return lengths.pop()
