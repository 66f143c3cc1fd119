"""SIP requests and responses: parse from bytes, serialize to bytes (RFC 3261 §7).

Headers stay raw (name, value) pairs until read; typed views (Via, CSeq, From…) are parsed on
first use and cached.  Any bytes either parse or raise ``SipParseError`` carrying the answer.

What ``parse_message`` checks (what every consumer needs before it can answer): the start line,
the mandatory headers present and the single-valued ones not repeated, Content-Length, CSeq
(and its method), Max-Forwards, the top Via, To.  The From and the Request-URI of a request
are only shape-checked and parsed when first read (a fault then raises ``SipParseError``
naming the header, which the caller answers with a 400); see ``Message._check``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from ..errors import SipParseError
from .grammar import (
    TOKEN_CHARS,
    controls_escaped,
    is_digits,
    is_token,
    parse_uint,
    split_commas,
)
from .headers import MULTI_VALUE, SPELLINGS, CSeq, Via, canonical, normalize
from .uri import NameAddr, SipUri

MAX_MESSAGE_SIZE = 65535
MAX_CONTENT_LENGTH = 999_999_999
SIP_VERSION = "SIP/2.0"
MANDATORY = (("via", "Via"), ("call-id", "Call-ID"), ("cseq", "CSeq"), ("from", "From"),
             ("to", "To"))
# Headers that may appear once only (RFC 3261 §7.3.1; RFC 4475 §3.1.2.19).
SINGLE_VALUED = frozenset({"call-id", "cseq", "from", "to", "max-forwards"})
# Control characters never allowed in the header section (TAB, LF and CR are handled apart).
_CTL = bytes(range(0, 9)) + b"\x0b\x0c" + bytes(range(14, 32)) + b"\x7f"
_CTL_CR = _CTL + b"\r"
# Headers ``parse_message`` looks at: the mandatory and single-valued ones, Content-Length.
_CHECKED = frozenset({"via", "content-length"} | SINGLE_VALUED)
_MANDATORY_KEYS = frozenset(k for k, _ in MANDATORY)
_MAGIC_COOKIE = "z9hG4bK"


@functools.lru_cache(maxsize=512)
def _names(name: str) -> tuple[str, str]:
    """A header name as looked up and as written: ``(normalize(name), canonical(name))``
    (memoized: the names our code writes are a few dozen constants)."""
    return normalize(name), canonical(name)


class Headers:
    """Ordered raw headers; lookups by any spelling (long, compact, any case)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        # each item: [normalized name, name as written, raw value]
        self._items: list[tuple[str, str, str]] = [(normalize(n), n, v) for n, v in items]

    @classmethod
    def _from_parsed(cls, items: list[tuple[str, str, str]]) -> Headers:
        h = cls.__new__(cls)
        h._items = items
        return h

    def get(self, name: str, default: str | None = None) -> str | None:
        key = normalize(name)
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def _get(self, key: str) -> str | None:
        """``get`` for a name already normalized."""
        for k, _, v in self._items:
            if k == key:
                return v
        return None

    def get_raw_all(self, name: str) -> list[str]:
        key = normalize(name)
        return [v for k, _, v in self._items if k == key]

    def get_all(self, name: str) -> list[str]:
        """Every value, splitting comma-separated lists for multi-value headers."""
        key = normalize(name)
        raw = [v for k, _, v in self._items if k == key]
        if key not in MULTI_VALUE:
            return raw
        out: list[str] = []
        for v in raw:
            out.extend(split_commas(v))
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        key, written = _names(name)
        item = (key, written, value)
        if first:
            self._items.insert(0, item)
        else:
            self._items.append(item)

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with one, keeping the position of the first."""
        key = normalize(name)
        for i, (k, n, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (k, n, value)
                self._items = [it for j, it in enumerate(self._items) if j <= i or it[0] != key]
                return
        self._items.append((key, _names(name)[1], value))

    def remove(self, name: str) -> None:
        key = normalize(name)
        self._items = [it for it in self._items if it[0] != key]

    def pop_first(self, name: str) -> str | None:
        """Remove the first value of a (possibly comma-joined) multi-value header."""
        key = normalize(name)
        for i, (k, n, v) in enumerate(self._items):
            if k == key:
                vals = split_commas(v)
                if len(vals) > 1:
                    self._items[i] = (k, n, ", ".join(vals[1:]))
                else:
                    del self._items[i]
                return vals[0] if vals else v
        return None

    def items(self) -> Iterator[tuple[str, str]]:
        for _, n, v in self._items:
            yield n, v

    def copy(self) -> Headers:
        return Headers._from_parsed(list(self._items))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._items] == [(k, v) for k, _, v in other._items]

    def __len__(self) -> int:
        return len(self._items)


class Message:
    """What requests and responses share: headers, body and typed header views."""

    __slots__ = ("_cache", "body", "headers")

    def __init__(self, headers: Headers, body: bytes = b"") -> None:
        self.headers = headers
        self.body = body
        self._cache: dict[str, object] = {}

    # -- typed views (cached; call ``invalidate()`` after editing headers) --
    def invalidate(self, *views: str) -> None:
        """Forget cached typed views after editing headers: the named ones, or all."""
        if not views:
            self._cache.clear()
        for view in views:
            self._cache.pop(view, None)

    @property
    def call_id(self) -> str:
        v = self.headers._get("call-id")
        if not v:
            raise SipParseError(400, "Missing Call-ID")
        return v.strip()

    @property
    def cseq(self) -> CSeq:
        c = self._cache.get("cseq")
        if c is None:
            raw = self.headers._get("cseq")
            if raw is None:
                raise SipParseError(400, "Missing CSeq")
            c = self._cache["cseq"] = CSeq.parse(raw)
        assert isinstance(c, CSeq)
        return c

    @property
    def vias(self) -> list[Via]:
        v = self._cache.get("vias")
        if v is None:
            top = self._cache.get("top_via")
            raw = self.headers.get_all("via")
            try:
                # the one Via of most requests was parsed already (as the top one)
                v = [top] if top is not None and len(raw) == 1 else [Via.parse(x) for x in raw]
            except SipParseError:
                raise SipParseError(400, "Bad Via") from None
            self._cache["vias"] = v
        assert isinstance(v, list)
        return v

    @property
    def top_via(self) -> Via:
        """The first Via; parsed alone (the others wait for ``vias``)."""
        v = self._cache.get("top_via")
        if v is None:
            v = self._cache["top_via"] = self._parse_top_via()
        assert isinstance(v, Via)
        return v

    def _parse_top_via(self) -> Via:
        if "vias" not in self._cache:
            raw = self.headers._get("via")
            if raw is not None and "," not in raw:
                raw = raw.strip()
                if raw:
                    try:
                        return Via.parse(raw)
                    except SipParseError:
                        raise SipParseError(400, "Bad Via") from None
        vias = self.vias  # an empty first value, or a comma-separated list
        if not vias:
            raise SipParseError(400, "Missing Via")
        return vias[0]

    def _name_addr(self, key: str, label: str) -> NameAddr:
        v = self._cache.get(key)
        if v is None:
            raw = self.headers._get(key)
            if raw is None:
                raise SipParseError(400, f"Missing {label}")
            try:
                v = _name_addr_of(raw)
            except SipParseError:
                raise SipParseError(400, f"Bad {label}") from None
            if v.wildcard:
                raise SipParseError(400, f"Bad {label}")
            self._cache[key] = v
            self._cache[key + " raw"] = raw  # what it was parsed from (see make_response)
        assert isinstance(v, NameAddr)
        return v

    @property
    def from_(self) -> NameAddr:
        return self._name_addr("from", "From")

    @property
    def to(self) -> NameAddr:
        return self._name_addr("to", "To")

    @property
    def contacts(self) -> list[NameAddr]:
        v = self._cache.get("contacts")
        if v is None:
            v = [_parse_name_addr(x, "Contact") for x in self.headers.get_all("contact")]
            if len(v) > 1 and any(c.wildcard for c in v):
                raise SipParseError(400, "Bad Contact")  # "*" stands alone
            self._cache["contacts"] = v
        assert isinstance(v, list)
        return v

    @property
    def content_type(self) -> str | None:
        v = self.headers.get("content-type")
        return v.split(";")[0].strip().lower() if v else None

    def _int_header(self, name: str, max_value: int) -> int | None:
        raw = self.headers.get(name)
        if raw is None:
            return None
        return parse_uint(raw.strip(" \t"), max_value=max_value, reason=f"Bad {canonical(name)}")

    @property
    def expires(self) -> int | None:
        """The Expires header (0 to 2**32-1 seconds, RFC 3261 §20.19), ``None`` when absent."""
        return self._int_header("expires", 2**32 - 1)

    def validate(self) -> None:
        """Check the mandatory headers and their syntax, From and To included (raises
        ``SipParseError``)."""
        present: set[str] = set()
        for k, _, _ in self.headers._items:
            if k in present and k in SINGLE_VALUED:
                raise SipParseError(400, f"Multiple {canonical(k)}")
            present.add(k)
        for key, label in MANDATORY:
            if key not in present:
                raise SipParseError(400, f"Missing {label}")
        self.top_via  # noqa: B018 - parses Via
        self.cseq  # noqa: B018
        self.from_  # noqa: B018
        self.to  # noqa: B018
        if not self.call_id:
            raise SipParseError(400, "Missing Call-ID")

    def _check(self, first: dict[str, str], dup: str | None, method: str | None) -> None:
        """What ``parse_message`` checks (``first``: the first value of each header in
        ``_CHECKED``; ``dup``: the first single-valued header seen twice)."""
        if dup is not None:
            raise SipParseError(400, f"Multiple {canonical(dup)}")
        if not first.keys() >= _MANDATORY_KEYS:
            for key, label in MANDATORY:
                if key not in first:
                    raise SipParseError(400, f"Missing {label}")
        raw = first["via"]
        if raw and "," not in raw:  # the usual case: parse the first value alone
            try:
                via = self._cache["top_via"] = Via.parse(raw)
            except SipParseError:
                raise SipParseError(400, "Bad Via") from None
        else:
            via = self.top_via
        cseq = self._cache["cseq"] = CSeq.parse(first["cseq"])
        # Every consumer reads the To tag first (the B2BUA matches ACKs by it where no answer
        # can be sent): To is parsed now.  The From of a request with an RFC 3261 branch is read
        # only where a fault still gets its 400, so a usual-looking one waits for that read; a
        # response's (nobody can answer it) and an RFC 2543 request's (matched by its tag) are
        # parsed now.
        branch = via.params.get("branch")
        if (method is None or branch is None or not branch.startswith(_MAGIC_COOKIE)
                or not _plain_name_addr(first["from"])):
            self.from_  # noqa: B018
        self.to  # noqa: B018
        if not first["call-id"]:
            raise SipParseError(400, "Missing Call-ID")
        if method is not None:
            if cseq.method != method:
                raise SipParseError(400, "CSeq method does not match")
            mf = first.get("max-forwards")
            if mf is not None and not (0 < len(mf) < 4 and mf.isdigit() and mf.isascii()
                                       and int(mf) <= 255):
                parse_uint(mf, max_value=255, reason="Bad Max-Forwards")

    def _serialize(self, first_line: str) -> bytes:
        lines = [first_line]
        for key, name, value in self.headers._items:
            if key == "content-length":
                continue
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        text = "\r\n".join(lines)
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            # a CR or LF inside a value would inject header lines: write it as a space
            text = "\r\n".join(ln.replace("\r", " ").replace("\n", " ") for ln in lines)
        return (text + "\r\n\r\n").encode() + self.body


class Request(Message):
    __slots__ = ("method", "uri_text")

    def __init__(self, method: str, uri: str | SipUri, headers: Headers, body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri_text = str(uri)

    @property
    def uri(self) -> SipUri:
        """The Request-URI; a fault in it is ``SipParseError(400, "Bad Request-URI")`` (or 416
        for a scheme other than sip/sips)."""
        u = self._cache.get("uri")
        if u is None:
            try:
                u = _uri_of(self.uri_text)
            except SipParseError as e:
                reason = "Bad Request-URI" if e.status == 400 else e.reason
                raise SipParseError(e.status, reason) from None
            self._cache["uri"] = u
        assert isinstance(u, SipUri)
        return u

    @uri.setter
    def uri(self, value: SipUri) -> None:
        self.uri_text = str(value)
        self._cache["uri"] = value

    @property
    def max_forwards(self) -> int:
        """Max-Forwards (0-255), 70 when absent."""
        v = self._int_header("max-forwards", 255)
        return 70 if v is None else v

    def validate(self) -> None:
        super().validate()
        if self.cseq.method != self.method:
            raise SipParseError(400, "CSeq method does not match")
        self.max_forwards  # noqa: B018
        self.uri  # noqa: B018

    def to_bytes(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri_text} {SIP_VERSION}")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri_text}>"


class Response(Message):
    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str, headers: Headers, body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason

    def to_bytes(self) -> bytes:
        return self._serialize(f"{SIP_VERSION} {self.status} {self.reason}")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


# Parsed values by their text: a call's From is read in each of the caller's five requests,
# Contacts and Request-URIs repeat from call to call.  The objects are frozen and nothing
# edits their parameter dicts, so messages may share them.
_name_addr_of = functools.lru_cache(maxsize=2048)(NameAddr.parse)
_uri_of = functools.lru_cache(maxsize=1024)(SipUri.parse)


def _parse_name_addr(raw: str, label: str) -> NameAddr:
    """A header's name-addr; any fault inside it is a 400 that names the header."""
    try:
        return _name_addr_of(raw)
    except SipParseError:
        raise SipParseError(400, f"Bad {label}") from None


def find_head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """Where the header section ends: ``(end of the last header line, start of the body)``.

    The section ends at the first empty line; lines end in CRLF or (tolerated) a bare LF.
    ``(-1, -1)`` when no empty line has arrived yet.  On a growing buffer the answer for a
    prefix never changes once found, so stream framing gives the same cut however the bytes
    arrive.  ``start``: search from there (the caller knows no empty line ends before it).
    """
    crlf = data.find(b"\n\r\n", start)
    lf = data.find(b"\n\n", start, len(data) if crlf < 0 else crlf + 2)
    if lf >= 0:
        end, body = lf, lf + 2
    elif crlf >= 0:
        end, body = crlf, crlf + 3
    else:
        return -1, -1
    if end > 0 and data[end - 1] == 13:
        end -= 1
    return end, body


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str, str]]]:
    """Decode and unfold the header section; return (start line, headers).

    Each header is ``(normalized name, name as written, value stripped of SP/HTAB)``.
    """
    lines = _split_lines(_decode(head))
    return lines[0], _header_items(lines)


def _decode(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError(400, "Bad encoding") from None


def _crlf_lines(text: str) -> list[str] | None:
    """The lines of a head in which every line ends in CRLF; ``None`` on a bare LF or CR."""
    lines = text.split("\r\n")
    n = len(lines) - 1
    if text.count("\n") != n or text.count("\r") != n:
        return None
    return lines


def _split_lines(text: str) -> list[str]:
    """The lines of a head; bare LF line ends are tolerated, a stray CR is not."""
    lines = _crlf_lines(text)
    if lines is None:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise SipParseError(400, "Bad line ending")
        lines = text.split("\n")
    return lines


def _header_items(lines: list[str]) -> list[tuple[str, str, str]]:
    """The headers of ``lines[1:]``: names checked and normalized, folded lines joined."""
    spellings = SPELLINGS
    items: list[tuple[str, str, str]] = []
    append = items.append
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = spellings.get(name)
        if key is not None and colon:  # a usual spelling: a token by construction
            append((key, name, value.strip(" \t")))
            continue
        if not line:
            continue
        if line[0] in " \t":
            if not items:
                raise SipParseError(400, "Bad header folding")
            more = line.strip(" \t")
            if more:
                k, nm, v = items[-1]
                items[-1] = (k, nm, f"{v} {more}" if v else more)
            continue
        name = name.rstrip(" \t")
        if not colon or not is_token(name):
            raise SipParseError(400, "Bad header line")
        append((normalize(name), name, value.strip(" \t")))
    return items


def _uint(value: str, max_digits: int, max_value: int, reason: str) -> int:
    """``parse_uint`` with a fast path for a short plain number (``max_digits`` digits can
    never exceed ``max_value``)."""
    if 0 < len(value) <= max_digits and value.isdigit() and value.isascii():
        return int(value)
    return parse_uint(value, max_value=max_value, reason=reason)


def _controls_escaped(head: bytes) -> bool:
    """Whether the control characters of a header section are all escaped inside quoted
    strings (``"BEL:\\<07>"``): none in the start line, only quoted-pairs in the headers."""
    lines = head.split(b"\n")
    if len(lines[0].translate(None, _CTL)) != len(lines[0]):
        return False
    return all(controls_escaped(line) for line in lines[1:])


def _plain_name_addr(value: str) -> bool:
    """Whether a From value has the usual shape: a ``<sip:…>`` or ``<sips:…>`` closed by a
    ``>``, no IPv6 reference, no quote or one plain pair.  Such a value may wait for its first
    read; any other (``*``, an addr-spec, an unterminated quote…) is parsed at once."""
    lt = value.find("<sip:")
    if lt < 0:
        lt = value.find("<sips:")
    if lt < 0 or value.find(">", lt) < 0 or "[" in value:
        return False
    return '"' not in value or value.count('"') == 2


def _plain_uri(uri: str) -> bool:
    """Whether a Request-URI (``sip:``/``sips:`` already checked) may wait for its first read:
    one not ending where a host or port should follow, without an IPv6 reference."""
    return uri[-1] not in ":@;?" and "[" not in uri


def _crlf_head(data: bytes) -> tuple[list[str], int] | None:
    """The lines of the header section and where the body starts, when the head is the usual
    one: ended by the first CRLFCRLF, CRLF line ends only, valid UTF-8, no control character;
    else ``None``.  (Without a bare LF before that CRLFCRLF no empty line ends the head
    earlier, so ``find_head_end`` would cut the same.)"""
    end = data.find(b"\r\n\r\n")
    if end <= 0:
        return None
    head = data[:end]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    n = len(lines) - 1
    # no control character and no CR but those of the n CRLFs (there are at least n CRs),
    # no LF but theirs
    if end - len(head.translate(None, _CTL_CR)) != n or text.count("\n") != n:
        return None
    return lines, end + 4


def parse_message(
    data: bytes, *, max_size: int = MAX_MESSAGE_SIZE, stream: bool = False
) -> Request | Response:
    """Parse one whole message; any other bytes raise ``SipParseError`` (and nothing else).

    Content-Length decides the body: larger than the bytes after the header section is a 400,
    smaller truncates the body (RFC 3261 §18.3), absent means "the rest of the datagram" — or a
    400 when ``stream=True`` (a stream message must carry it; the framer already cut by it).
    """
    if len(data) > max_size:
        raise SipParseError(413, "Message Too Large")
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError(400, "Empty message")
    usual = _crlf_head(data)
    if usual is None:  # bare LF line ends, a fault, or no end: cut and check step by step
        end, body_at = find_head_end(data)
        if end < 0:
            raise SipParseError(400, "Incomplete header section")
        head = data[:end]
        if len(head.translate(None, _CTL)) != end and not _controls_escaped(head):
            raise SipParseError(400, "Bad character in header")
        lines = _split_lines(_decode(head))
    else:
        lines, body_at = usual
    start = lines[0]
    items = _header_items(lines)
    first, dup, lengths = _scan(items)
    if lengths:
        cl = _uint(lengths[0], 9, MAX_CONTENT_LENGTH, "Bad Content-Length")
        for more in lengths[1:]:
            if parse_uint(more, max_value=MAX_CONTENT_LENGTH, reason="Bad Content-Length") != cl:
                raise SipParseError(400, "Multiple Content-Length")
        if cl > len(data) - body_at:
            raise SipParseError(400, "Content-Length larger than body")
        body = data[body_at : body_at + cl]
    elif stream:
        raise SipParseError(400, "Missing Content-Length")
    else:
        body = data[body_at:]
    headers = Headers._from_parsed(items)
    if start.startswith("SIP/"):
        resp = _response(start, headers, body)
        resp._check(first, dup, None)
        return resp
    req = _request(start, headers, body)
    req._check(first, dup, req.method)
    if not _plain_uri(req.uri_text):
        req.uri  # noqa: B018 - an unusual Request-URI is parsed now
    return req


def _scan(items: list[tuple[str, str, str]]) -> tuple[dict[str, str], str | None, list[str]]:
    """One pass for what ``parse_message`` checks: the first value of each header in
    ``_CHECKED``, the first single-valued header seen twice, every Content-Length value."""
    first: dict[str, str] = {}
    dup: str | None = None
    lengths: list[str] = []
    checked = _CHECKED
    for k, _, v in items:
        if k in checked:
            if k == "content-length":
                lengths.append(v)
            if k not in first:
                first[k] = v
            elif dup is None and k in SINGLE_VALUED:
                dup = k
    return first, dup, lengths


def _response(start: str, headers: Headers, body: bytes) -> Response:
    parts = start.split(" ", 2)
    if len(parts) < 2:
        raise SipParseError(400, "Bad status line")
    if parts[0] != SIP_VERSION:
        raise SipParseError(505, "Version Not Supported")
    code = parts[1]
    if len(code) != 3 or not is_digits(code) or not 100 <= int(code) <= 699:
        raise SipParseError(400, "Bad status code")
    resp = Response.__new__(Response)  # what __init__ does, minus its calls
    resp.headers, resp.body, resp._cache = headers, body, {}
    resp.status, resp.reason = int(code), parts[2] if len(parts) > 2 else ""
    return resp


def _request(start: str, headers: Headers, body: bytes) -> Request:
    parts = start.split(" ")
    if len(parts) != 3:
        raise SipParseError(400, "Bad request line")
    method, uri, version = parts
    if not method or not TOKEN_CHARS.issuperset(method):
        raise SipParseError(400, "Bad method")
    if version != SIP_VERSION:
        if version.upper().startswith("SIP/"):
            raise SipParseError(505, "Version Not Supported")
        raise SipParseError(400, "Bad request line")
    if not (uri.startswith("sip:") or uri.startswith("sips:")):
        scheme = uri.partition(":")[0].lower()
        if scheme not in ("sip", "sips"):
            if ":" in uri and is_token(scheme):
                raise SipParseError(416, "Unsupported URI Scheme")
            raise SipParseError(400, "Bad Request-URI")
    req = Request.__new__(Request)  # what __init__ does, minus its calls
    req.headers, req.body, req._cache = headers, body, {}
    req.method, req.uri_text = method, uri
    return req


def _has_tag(req: Request, to_value: str) -> bool:
    """Whether the request's (first) To value carries a tag, read without parsing when the
    text cannot hold one or the To view is already parsed."""
    if "tag" not in to_value.lower():
        return False
    cached = req._cache.get("to")
    if isinstance(cached, NameAddr) and req._cache.get("to raw") is to_value:
        return cached.tag is not None
    try:
        return NameAddr.parse(to_value).tag is not None
    except SipParseError:  # a salvaged request's broken To: judge by its text
        return ";tag=" in to_value.replace(" ", "").lower()


def make_response(
    req: Request,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``req`` (RFC 3261 §8.2.6): copies Via, From, To (+ tag), Call-ID, CSeq."""
    items: list[tuple[str, str, str]] = []
    to_done = False
    for k, n, v in req.headers._items:
        if k in ("via", "from", "call-id", "cseq", "record-route"):
            if k == "record-route" and not 100 < status < 300:
                continue
            items.append((k, n, v))
        elif k == "to" and not to_done:
            to_done = True
            if to_tag is not None and not _has_tag(req, v):
                v = f"{v};tag={to_tag}"
            items.append((k, n, v))
    resp = Response(status, reason, Headers._from_parsed(items), body)
    for n, v in headers:
        resp.headers.add(n, v)
    return resp
