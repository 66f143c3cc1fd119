"""SIP URIs (RFC 3261 §19.1) and name-addr / addr-spec header values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SipParseError
from .grammar import (
    format_params,
    parse_params,
    parse_uint,
    quote,
    split_outside_quotes,
    unquote,
)

# What a hostname or IPv4 address may hold (RFC 3261 §25.1 ``hostname``; ``_`` is seen in the
# field), and what may sit between the brackets of an IPv6 reference.
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
# Never inside a SIP URI (whitespace, delimiters of the enclosing header, controls).
_NOT_IN_URI = frozenset(' \t\r\n<>"\x00')


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:``/``sips:`` URI; ``params`` keep their order, names lower-cased."""

    host: str
    user: str | None = None
    port: int | None = None
    scheme: str = "sip"
    password: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip(" \t")
        scheme, colon, rest = text.partition(":")
        scheme = scheme.lower()
        if not colon or scheme not in ("sip", "sips"):
            if colon and scheme in ("tel", "urn", "http", "https", "mailto"):
                raise SipParseError(416, "Unsupported URI Scheme")
            raise SipParseError(400, "Bad URI")
        if not _NOT_IN_URI.isdisjoint(rest):
            raise SipParseError(400, "Bad URI")
        headers = ""
        if "?" in rest:
            rest, _, headers = rest.partition("?")
        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, _, pw = userinfo.partition(":")
            password = pw if _ else None
        hostport, semi, ptext = rest.partition(";")
        params = parse_params(ptext) if semi else {}
        host, port = split_hostport(hostport)
        return cls(host=host, user=user, port=port, scheme=scheme, password=password,
                   params=params, headers=headers)

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        if self.params:
            out.append(format_params(self.params))
        if self.headers:
            out.append("?" + self.headers)
        return "".join(out)

    def with_(self, **changes: object) -> SipUri:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def transport(self) -> str:
        t = self.params.get("transport")
        return (t or ("tls" if self.scheme == "sips" else "udp")).lower()


def split_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets); validates the host characters and the port.

    Whitespace around the colon is allowed (Via ``sent-by`` uses ``SWS ":" SWS``).
    """
    text = text.strip(" \t")
    if not text:
        raise SipParseError(400, "Missing host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(400, "Bad IPv6 reference")
        host, rest = text[: end + 1], text[end + 1 :].lstrip(" \t")
        if end < 3 or not _IPV6_CHARS.issuperset(host[1:-1]) or ":" not in host:
            raise SipParseError(400, "Bad IPv6 reference")
        if rest and not rest.startswith(":"):
            raise SipParseError(400, "Bad host")
        port_s = rest[1:] if rest else None
    else:
        host, colon, port_s_ = text.partition(":")
        host = host.rstrip(" \t")
        if not host or not _HOST_CHARS.issuperset(host):
            raise SipParseError(400, "Bad host")
        port_s = port_s_ if colon else None
    if port_s is None:
        return host.lower(), None
    port = parse_uint(port_s.strip(" \t"), max_value=65535, reason="Bad port")
    if port == 0:
        raise SipParseError(400, "Bad port")
    return host.lower(), port


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A ``"Display" <uri>;params`` or ``uri;params`` value (From, To, Contact, Route…)."""

    uri: SipUri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    wildcard: bool = False

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if text == "*":
            return cls(uri=SipUri(host="*"), wildcard=True)
        lt = _find_unquoted(text, "<")
        if lt >= 0:
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError(400, "Unterminated name-addr")
            display_raw = text[:lt].strip()
            display = unquote(display_raw) if display_raw else None
            uri = SipUri.parse(text[lt + 1 : gt])
            rest = text[gt + 1 :].strip()
            if rest and not rest.startswith(";"):
                raise SipParseError(400, "Bad name-addr")
            params = parse_params(rest) if rest else {}
            return cls(uri=uri, display=display, params=params)
        # addr-spec: parameters after the URI belong to the header, not the URI.
        parts = split_outside_quotes(text, ";")
        uri = SipUri.parse(parts[0])
        params = parse_params(";".join(parts[1:])) if len(parts) > 1 else {}
        return cls(uri=uri, params=params)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return replace(self, params={**self.params, "tag": tag})

    def __str__(self) -> str:
        if self.wildcard:
            return "*"
        head = f"{quote(self.display)} " if self.display else ""
        return f"{head}<{self.uri}>{format_params(self.params)}"


def _find_unquoted(text: str, ch: str) -> int:
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == ch:
            return i
        i += 1
    return -1
