"""Header names (long and compact forms), the typed values the switch reads: Via, CSeq."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SipParseError
from .grammar import format_params, is_token, parse_params, parse_uint
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

# Precomputed answers of ``normalize`` for the spellings seen on every message (read-only).
_NORMALIZED: dict[str, str] = {
    **COMPACT, **{k.upper(): v for k, v in COMPACT.items()},
    **{n: n.lower() for n in (
        "Via", "From", "To", "Call-ID", "Call-Id", "CSeq", "Contact", "Max-Forwards",
        "Content-Length", "Content-Type", "Expires", "Route", "Record-Route", "Allow",
        "Supported", "User-Agent", "Server", "Authorization", "WWW-Authenticate",
        "Proxy-Authorization", "Proxy-Authenticate", "Require", "Event", "Subject")},
    **{n: n for n in ("via", "from", "to", "call-id", "cseq", "contact", "max-forwards",
                      "content-length", "content-type", "expires", "route", "record-route")},
}

# Headers whose value may be a comma-separated list (RFC 3261 §7.3.1).
MULTI_VALUE = frozenset({
    "via", "route", "record-route", "contact", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "allow-events", "content-encoding", "in-reply-to", "path", "service-route",
})


def normalize(name: str) -> str:
    """Lower-case long form of a header name."""
    known = _NORMALIZED.get(name)
    if known is not None:
        return known
    low = name.lower()
    return COMPACT.get(low, low) if len(low) == 1 else low


def canonical(name: str) -> str:
    low = normalize(name)
    return CANONICAL.get(low) or "-".join(p.capitalize() for p in low.split("-"))


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


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = [p for p in text.replace("\t", " ").split(" ") if p]
        if len(parts) != 2 or not is_token(parts[1]):
            raise SipParseError(400, "Bad CSeq")
        return cls(parse_uint(parts[0], max_value=2**31 - 1, reason="Bad CSeq"), parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
