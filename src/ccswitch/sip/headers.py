"""Header names (long and compact forms), the typed values the switch reads: Via, CSeq."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SipParseError
from .grammar import format_params, is_token, parse_params
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

# Headers whose value may be a comma-separated list (RFC 3261 §7.3.1).
MULTI_VALUE = frozenset({
    "via", "route", "record-route", "contact", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "allow-events", "content-encoding", "in-reply-to", "path", "service-route",
})


def normalize(name: str) -> str:
    """Lower-case long form of a header name."""
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
        text = text.strip()
        proto, _, rest = text.partition(" ")
        parts = [p.strip() for p in proto.split("/")]
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0" or not parts[2]:
            # tolerate "SIP / 2.0 / UDP" spacing
            if "/" in text:
                head, _, tail = _split_spaced_proto(text)
                if head is not None:
                    return cls.parse(head + " " + tail)
            raise SipParseError(400, "Bad Via")
        rest = rest.strip()
        if not rest:
            raise SipParseError(400, "Bad Via")
        hostport, semi, ptext = rest.partition(";")
        host, port = split_hostport(hostport)
        params = parse_params(ptext) if semi else {}
        return cls(transport=parts[2].upper(), host=host, port=port, params=params)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def with_params(self, **params: str | None) -> Via:
        return replace(self, params={**self.params, **params})

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


def _split_spaced_proto(text: str) -> tuple[str | None, str, str]:
    # "SIP / 2.0 / UDP host" -> ("SIP/2.0/UDP", "", "host")
    toks = text.replace("/", " / ").split()
    if len(toks) >= 6 and toks[1] == "/" and toks[3] == "/":
        return f"{toks[0]}/{toks[2]}/{toks[4]}", "", " ".join(toks[5:])
    return None, "", ""


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or not is_token(parts[1]):
            raise SipParseError(400, "Bad CSeq")
        seq = int(parts[0])
        if seq >= 2**31:
            raise SipParseError(400, "Bad CSeq")
        return cls(seq, parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
