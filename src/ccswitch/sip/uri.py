"""SIP URIs (RFC 3261 §19.1) and name-addr / addr-spec header values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SipParseError
from .grammar import (
    format_params,
    is_display_name,
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
# What the usual ``user@host[:port][;params]`` may hold (no blanks, brackets, ``?``, non-ASCII);
# a URI of only these characters takes the short path of ``SipUri.parse``.
_PLAIN_URI = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()%&=+$,;:@/")


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
        if text.startswith("sip:"):
            scheme, rest = "sip", text[4:]
        elif text.startswith("sips:"):
            scheme, rest = "sips", text[5:]
        else:
            scheme = rest = ""
        if rest and _PLAIN_URI.issuperset(rest):  # the usual shape: user@host[:port][;params]
            at = rest.rfind("@")
            user: str | None = None
            password: str | None = None
            if at >= 0:
                user, hostport = rest[:at], rest[at + 1 :]
                if ":" in user:
                    user, _, password = user.partition(":")
            else:
                hostport = rest
            semi = hostport.find(";")
            params: dict[str, str | None] = {}
            if semi >= 0:
                params = parse_params(hostport[semi + 1 :])
                hostport = hostport[:semi]
            host, port = split_hostport(hostport)
            return _new_uri(host, user, port, scheme, password, params, "")
        return _parse_uri(text)

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


def _parse_uri(text: str) -> SipUri:
    """``SipUri.parse`` for every shape (blanks around, any scheme case, ``?headers``…)."""
    text = text.strip(" \t")
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips"):
        if colon and scheme in ("tel", "urn", "http", "https", "mailto"):
            raise SipParseError(416, "Unsupported URI Scheme")
        raise SipParseError(400, "Bad URI")
    if not _NOT_IN_URI.isdisjoint(rest):
        raise SipParseError(400, "Bad URI")
    # The user part may hold "?" and ";" (RFC 3261 §25.1 user-unreserved) but never "@", which
    # neither parameters nor headers may hold: the last "@" ends the userinfo.
    user: str | None = None
    password: str | None = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    headers = ""
    if "?" in rest:
        rest, _, headers = rest.partition("?")
    hostport, semi, ptext = rest.partition(";")
    params = parse_params(ptext) if semi else {}
    host, port = split_hostport(hostport)
    return _new_uri(host, user, port, scheme, password, params, headers)


def split_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets); validates the host characters and the port.

    Whitespace around the colon is allowed (Via ``sent-by`` uses ``SWS ":" SWS``).
    """
    h, colon, digits = text.partition(":")  # the common shapes first: "host", "host:port"
    if _HOST_CHARS.issuperset(h) and h:
        if not colon:
            return h.lower(), None
        if 0 < len(digits) < 6 and digits.isdigit() and digits.isascii():
            n = int(digits)
            if 0 < n <= 65535:
                return h.lower(), n
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
        lt = text.find("<")
        if lt > 0 and text.find('"', 0, lt) >= 0:  # a quoted display name may hold a "<"
            q = text.find('"', 1) if text[0] == '"' else -1
            if q > 0 and text.find("\\", 1, q) < 0:  # one plain quoted string first
                lt = text.find("<", q)
                if lt >= 0 and text.find('"', q + 1, lt) >= 0:
                    lt = _find_unquoted(text, "<")
            else:
                lt = _find_unquoted(text, "<")
        if lt >= 0:
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError(400, "Unterminated name-addr")
            display: str | None = None
            if lt:
                display = text[:lt].strip()
                if not display:
                    display = None
                elif display[0] == '"':
                    q = display.find('"', 1)
                    if q == len(display) - 1 and display.find("\\", 1) < 0:
                        display = display[1:q]  # a plain quoted string
                    else:
                        display = unquote(display)
                elif not is_display_name(display):  # RFC 4475 §3.1.2.15: "Bell, Alexander"
                    raise SipParseError(400, "Bad display name")
            inner = text[lt + 1 : gt]
            if inner[:1] in (" ", "\t") or inner[-1:] in (" ", "\t"):
                raise SipParseError(400, "Bad name-addr")  # no LWS inside <> (§3.1.2.14)
            uri = SipUri.parse(inner)
            rest = text[gt + 1 :]
            if not rest:
                return _new_name_addr(uri, display, {}, False)
            rest = rest.strip()
            if rest and not rest.startswith(";"):
                raise SipParseError(400, "Bad name-addr")
            return _new_name_addr(uri, display, parse_params(rest) if rest else {}, False)
        if text == "*":
            return cls(uri=SipUri(host="*"), wildcard=True)
        # addr-spec: parameters after the URI belong to the header, not the URI.
        if '"' in text:
            parts = split_outside_quotes(text, ";")
            uri_text, ptext = parts[0], ";".join(parts[1:])
        else:
            uri_text, _, ptext = text.partition(";")
        if "?" in uri_text or "," in uri_text:
            # such a URI must be in <> (RFC 3261 §20.10; RFC 4475 §3.1.2.13)
            raise SipParseError(400, "Bad addr-spec")
        uri = SipUri.parse(uri_text)
        return _new_name_addr(uri, None, parse_params(ptext) if ptext else {}, False)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        # what ``replace(self, params=…)`` builds, without its field-by-field keywords
        return _new_name_addr(self.uri, self.display, {**self.params, "tag": tag},
                              self.wildcard)

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


# Building the frozen, slotted dataclasses above through their slot descriptors skips the
# keyword handling of the generated ``__init__`` (about half its cost on the parse path).
_URI_SLOTS = tuple(SipUri.__dict__[n].__set__ for n in (
    "host", "user", "port", "scheme", "password", "params", "headers"))
_NA_SLOTS = tuple(NameAddr.__dict__[n].__set__ for n in ("uri", "display", "params", "wildcard"))
_U_HOST, _U_USER, _U_PORT, _U_SCHEME, _U_PASSWORD, _U_PARAMS, _U_HEADERS = _URI_SLOTS
_NA_URI, _NA_DISPLAY, _NA_PARAMS, _NA_WILDCARD = _NA_SLOTS


def _new_uri(host: str, user: str | None, port: int | None, scheme: str, password: str | None,
             params: dict[str, str | None], headers: str) -> SipUri:
    """``SipUri(host, user, port, scheme, password, params, headers)``, faster."""
    u = object.__new__(SipUri)
    _U_HOST(u, host)
    _U_USER(u, user)
    _U_PORT(u, port)
    _U_SCHEME(u, scheme)
    _U_PASSWORD(u, password)
    _U_PARAMS(u, params)
    _U_HEADERS(u, headers)
    return u


def _new_name_addr(uri: SipUri, display: str | None, params: dict[str, str | None],
                   wildcard: bool) -> NameAddr:
    """``NameAddr(uri, display, params, wildcard)``, faster."""
    na = object.__new__(NameAddr)
    _NA_URI(na, uri)
    _NA_DISPLAY(na, display)
    _NA_PARAMS(na, params)
    _NA_WILDCARD(na, wildcard)
    return na
