"""Header names (long and compact forms), the typed values the switch reads: Via, CSeq."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SipParseError
from .grammar import TOKEN_CHARS, format_params, is_token, parse_params, parse_uint
from .uri import split_hostport

COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
    "v": "via", "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
    "x": "session-expires", "y": "identity", "a": "accept-contact", "j": "reject-contact",
    "d": "request-disposition",
}

# Canonical spelling used when we write a header.
CANONICAL = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version", "rack": "RAck", "rseq": "RSeq", "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}

# Long names of the headers seen in practice (lower case); their usual spellings are indexed.
_COMMON = (
    "via", "from", "to", "call-id", "cseq", "contact", "max-forwards", "content-length",
    "content-type", "expires", "route", "record-route", "allow", "supported", "require",
    "proxy-require", "unsupported", "user-agent", "server", "authorization", "www-authenticate",
    "proxy-authorization", "proxy-authenticate", "authentication-info", "event", "subject",
    "accept", "accept-encoding", "accept-language", "allow-events", "content-disposition",
    "content-encoding", "content-language", "date", "min-expires", "min-se", "session-expires",
    "organization", "priority", "privacy", "p-asserted-identity", "p-preferred-identity",
    "reason", "warning", "retry-after", "timestamp", "refer-to", "referred-by", "replaces",
    "rack", "rseq", "path", "service-route", "call-info", "alert-info", "error-info",
    "in-reply-to", "reply-to", "mime-version", "subscription-state", "diversion",
    "remote-party-id", "x-asterisk-hangupcause", "refer-sub",
)


def _title(low: str) -> str:
    return "-".join(p.capitalize() for p in low.split("-"))


# Every spelling the parser sees on almost every message, mapped to the answer of ``normalize``
# (read-only): one dict lookup of the name as written replaces lower-casing and token checks.
SPELLINGS: dict[str, str] = {
    **COMPACT, **{k.upper(): v for k, v in COMPACT.items()},
    **{n: n for n in _COMMON},
    **{_title(n): n for n in _COMMON},
    **{n.upper(): n for n in _COMMON},
    **{CANONICAL[n]: n for n in _COMMON if n in CANONICAL},
    "Call-Id": "call-id", "Cseq": "cseq", "CSEQ": "cseq", "Www-Authenticate": "www-authenticate",
}
# ``canonical`` of the long names above, precomputed (read-only).
_CANONICAL_OF: dict[str, str] = {
    n: CANONICAL.get(n) or _title(n) for n in (*_COMMON, *COMPACT.values())}

# Headers whose value may be a comma-separated list (RFC 3261 §7.3.1).
MULTI_VALUE = frozenset({
    "via", "route", "record-route", "contact", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "allow-events", "content-encoding", "in-reply-to", "path", "service-route",
})


def normalize(name: str) -> str:
    """Lower-case long form of a header name."""
    known = SPELLINGS.get(name)
    if known is not None:
        return known
    low = name.lower()
    return COMPACT.get(low, low) if len(low) == 1 else low


def canonical(name: str) -> str:
    """How we spell a header name when we write it (``call-id`` → ``Call-ID``)."""
    low = normalize(name)
    return _CANONICAL_OF.get(low) or CANONICAL.get(low) or _title(low)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=…;rport;received=…``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm; LWS is allowed around the slashes (``SIP / 2.0 / UDP``)."""
        if text.startswith("SIP/2.0/"):  # the common shape: no blanks around the slashes
            sp = text.find(" ", 8)
            transport = text[8:sp]
            if sp > 8 and TOKEN_CHARS.issuperset(transport) and text[sp + 1 : sp + 2] not in (
                    " ", "\t", ""):
                hostport, semi, ptext = text[sp + 1 :].partition(";")
                host, port = split_hostport(hostport)
                return _new_via(transport if transport.isupper() else transport.upper(), host,
                                port, parse_params(ptext) if semi else {})
        s1 = text.find("/")
        s2 = text.find("/", s1 + 1) if s1 >= 0 else -1
        if s2 < 0:
            raise SipParseError(400, "Bad Via")
        name = text[:s1].strip(" \t")
        version = text[s1 + 1 : s2].strip(" \t")
        rest = text[s2 + 1 :].lstrip(" \t")
        i = 0
        while i < len(rest) and rest[i] not in " \t":
            i += 1
        transport, sent_by = rest[:i], rest[i:].strip(" \t")
        if name.upper() != "SIP" or version != "2.0" or not is_token(transport) or not sent_by:
            raise SipParseError(400, "Bad Via")
        hostport, semi, ptext = sent_by.partition(";")
        host, port = split_hostport(hostport)
        params = parse_params(ptext) if semi else {}
        return cls(transport=transport.upper(), host=host, port=port, params=params)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def with_params(self, **params: str | None) -> Via:
        return replace(self, params={**self.params, **params})

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


_VIA_SLOTS = tuple(Via.__dict__[n].__set__ for n in ("transport", "host", "port", "params"))
_V_TRANSPORT, _V_HOST, _V_PORT, _V_PARAMS = _VIA_SLOTS


def _new_via(transport: str, host: str, port: int | None, params: dict[str, str | None]) -> Via:
    """``Via(transport, host, port, params)`` through the slot descriptors (skips the keyword
    handling of the frozen dataclass ``__init__`` on the parse path)."""
    v = object.__new__(Via)
    _V_TRANSPORT(v, transport)
    _V_HOST(v, host)
    _V_PORT(v, port)
    _V_PARAMS(v, params)
    return v


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        seq, sp, method = text.partition(" ")
        if (sp and 0 < len(seq) < 11 and seq.isdigit() and seq.isascii() and method
                and TOKEN_CHARS.issuperset(method)):
            n = int(seq)
            if n < 2**31:
                c = object.__new__(cls)
                _C_SEQ(c, n)
                _C_METHOD(c, method)
                return c
        parts = [p for p in text.replace("\t", " ").split(" ") if p]
        if len(parts) != 2 or not is_token(parts[1]):
            raise SipParseError(400, "Bad CSeq")
        return cls(parse_uint(parts[0], max_value=2**31 - 1, reason="Bad CSeq"), parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


_C_SEQ, _C_METHOD = (CSeq.__dict__[n].__set__ for n in ("seq", "method"))


_WEEKDAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})
_MONTHS = frozenset({"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                     "Dec"})


def is_sip_date(value: str) -> bool:
    """Whether a Date value is an RFC 1123 date in GMT, the only zone SIP allows
    (``Sat, 13 Nov 2010 23:29:00 GMT``; RFC 3261 §20.17, RFC 4475 §3.1.2.12)."""
    parts = value.split()
    if len(parts) != 6 or parts[0][-1:] != "," or parts[0][:-1] not in _WEEKDAYS:
        return False
    day, month, year, clock, zone = parts[1:]
    hms = clock.split(":")
    return (len(day) == 2 and day.isascii() and day.isdigit() and month in _MONTHS
            and len(year) == 4 and year.isascii() and year.isdigit() and zone == "GMT"
            and len(hms) == 3 and all(len(x) == 2 and x.isascii() and x.isdigit() for x in hms))
