"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3, keep-alives of RFC 5626 §3.5.1)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SipParseError
from .message import MAX_MESSAGE_SIZE

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"


@dataclass(frozen=True, slots=True)
class Ping:
    """A CRLFCRLF keep-alive ping; answer with ``KEEPALIVE_PONG``."""


class StreamFramer:
    """Cuts a byte stream into whole messages by Content-Length.

    ``feed(data)`` returns complete message byte strings and ``Ping`` markers.  A message
    without Content-Length or larger than ``max_size`` raises ``SipParseError``: the
    connection must then be answered (when possible) and closed, as its framing is lost.
    """

    __slots__ = ("_buf", "_max")

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_size

    def feed(self, data: bytes) -> list[bytes | Ping]:
        buf = self._buf
        buf += data
        out: list[bytes | Ping] = []
        while buf:
            # keep-alive and stray CRLFs between messages
            if buf[0] in (13, 10):
                if buf.startswith(KEEPALIVE_PING):
                    out.append(Ping())
                    del buf[:4]
                    continue
                if len(buf) < 4 and KEEPALIVE_PING.startswith(bytes(buf)):
                    break
                del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max:
                    raise SipParseError(413, "Message Too Large")
                break
            length = _content_length(bytes(buf[:end]))
            total = end + 4 + length
            if total > self._max:
                raise SipParseError(413, "Message Too Large")
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        n = name.strip().lower()
        if n in (b"content-length", b"l"):
            v = value.strip()
            if not v.isdigit() or len(v) > 9:
                raise SipParseError(400, "Bad Content-Length")
            return int(v)
    raise SipParseError(400, "Missing Content-Length")
