"""A small client for rtpengine's ng control protocol: bencoded dictionaries over UDP.

Each request is one datagram ``COOKIE SP bencode(dict)``; the answer echoes the cookie.  Only
what ``rtp_load.py`` needs: ``ping``, ``offer``, ``answer``, ``delete``, plus an SDP builder for
a PCMU phone and a reader for the ``c=``/``m=`` address rtpengine puts in the SDP it returns.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from typing import Any

Bencodable = int | bytes | str | list[Any] | dict[str, Any]


class NgError(Exception):
    """rtpengine answered ``result: error`` (or something we cannot read)."""


def bencode(value: Bencodable) -> bytes:
    """Encode ints, strings (UTF-8), bytes, lists and dicts with str keys (sorted)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Bencodable, out: list[bytes]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | bytes | str | list | dict):
        raise TypeError(f"cannot bencode {type(value).__name__}")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str | bytes):
        raw = value.encode() if isinstance(value, str) else value
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, list):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    else:
        out.append(b"d")
        for key in sorted(value):
            _encode(key, out)
            _encode(value[key], out)
        out.append(b"e")


def bdecode(data: bytes) -> Any:
    """Decode one bencoded value; strings come back as ``str`` when they are UTF-8."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError(f"trailing data at {end}")
    return value


def _decode(data: bytes, i: int) -> tuple[Any, int]:
    if i >= len(data):
        raise ValueError("truncated")
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        items: list[Any] = []
        i += 1
        while data[i:i + 1] != b"e":
            if i >= len(data):
                raise ValueError("truncated")
            item, i = _decode(data, i)
            items.append(item)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2], strict=True)), i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        raw = data[colon + 1:colon + 1 + n]
        if len(raw) != n:
            raise ValueError("truncated")
        try:
            return raw.decode(), colon + 1 + n
        except UnicodeDecodeError:
            return raw, colon + 1 + n
    raise ValueError(f"bad bencode at {i}: {c!r}")


def phone_sdp(ip: str, port: int, session: int) -> str:
    """A PCMU/8000, 20 ms, sendrecv audio offer or answer from ``ip:port``."""
    return (f"v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=rtp_load\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
            f"a=sendrecv\r\n")


_C_LINE = re.compile(r"^c=IN IP4 (\S+)", re.M)
_M_LINE = re.compile(r"^m=audio (\d+) ", re.M)


def sdp_media_address(sdp: str) -> tuple[str, int]:
    """The first audio stream's address and port (media-level ``c=`` wins over session-level)."""
    m = _M_LINE.search(sdp)
    if not m:
        raise NgError(f"no m=audio in SDP: {sdp!r}")
    conns = list(_C_LINE.finditer(sdp))
    media_c = [c for c in conns if c.start() > m.start()]
    chosen = media_c[0] if media_c else next((c for c in conns if c.start() < m.start()), None)
    if chosen is None:
        raise NgError(f"no c= line in SDP: {sdp!r}")
    return chosen.group(1), int(m.group(1))


class NgClient:
    """Blocking ng client on one UDP socket; one request in flight at a time."""

    def __init__(self, host: str, port: int, *, timeout: float = 2.0, retries: int = 3) -> None:
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.retries = retries
        self._cookies = itertools.count(1)
        self._prefix = os.urandom(4).hex()

    def close(self) -> None:
        self.sock.close()

    def request(self, command: str, **fields: Bencodable) -> dict[str, Any]:
        """Send ``command`` with ``fields`` (underscores become dashes); the answer dict."""
        cookie = f"{self._prefix}{next(self._cookies)}".encode()
        body = {"command": command, **{k.replace("_", "-"): v for k, v in fields.items()}}
        datagram = cookie + b" " + bencode(body)
        for _attempt in range(self.retries):
            self.sock.sendto(datagram, self.addr)
            try:
                while True:
                    data = self.sock.recv(65535)
                    got_cookie, _, payload = data.partition(b" ")
                    if got_cookie == cookie:
                        break
            except TimeoutError:
                continue
            answer = bdecode(payload)
            if not isinstance(answer, dict):
                raise NgError(f"not a dictionary: {answer!r}")
            if answer.get("result") == "error":
                raise NgError(f"{command}: {answer.get('error-reason', answer)}")
            return answer
        raise NgError(f"{command}: no answer from {self.addr} after {self.retries} tries")

    def ping(self) -> bool:
        return self.request("ping").get("result") == "pong"

    def offer(self, call_id: str, from_tag: str, sdp: str) -> str:
        """The SDP to give the callee (it names rtpengine's port facing the callee)."""
        ans = self.request("offer", call_id=call_id, from_tag=from_tag, sdp=sdp,
                           replace=["origin", "session-connection"], ICE="remove")
        return str(ans["sdp"])

    def answer(self, call_id: str, from_tag: str, to_tag: str, sdp: str) -> str:
        """The SDP to give the caller (it names rtpengine's port facing the caller)."""
        ans = self.request("answer", call_id=call_id, from_tag=from_tag, to_tag=to_tag, sdp=sdp,
                           replace=["origin", "session-connection"], ICE="remove")
        return str(ans["sdp"])

    def delete(self, call_id: str, from_tag: str) -> dict[str, Any]:
        return self.request("delete", call_id=call_id, from_tag=from_tag)
