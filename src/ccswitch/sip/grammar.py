"""RFC 3261 lexical helpers: tokens, quoted strings, splitting on commas and semicolons."""

from __future__ import annotations

from ..errors import SipParseError

TOKEN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
)


def is_token(s: str) -> bool:
    return bool(s) and TOKEN_CHARS.issuperset(s)


def is_digits(s: str) -> bool:
    """A non-empty run of ASCII digits (``str.isdigit`` alone also accepts superscripts and
    non-Latin digits)."""
    return s.isascii() and s.isdigit()


def parse_uint(s: str, *, max_value: int, reason: str) -> int:
    """Parse ASCII ``1*DIGIT`` no larger than ``max_value``, else ``SipParseError(400, reason)``.

    Checks the length before calling ``int`` (which refuses more than 4300 digits).
    """
    if not is_digits(s):
        raise SipParseError(400, reason)
    digits = s.lstrip("0") or "0"
    if len(digits) > len(str(max_value)) or int(digits) > max_value:
        raise SipParseError(400, reason)
    return int(digits)


def split_outside_quotes(value: str, sep: str) -> list[str]:
    """Split ``value`` on ``sep`` where it is outside quotes and angle brackets."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth += 1
        elif c == ">":
            if depth:
                depth -= 1
        elif c == sep and depth == 0:
            parts.append(value[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise SipParseError(400, "Unterminated quoted string")
    parts.append(value[start:])
    return parts


def split_commas(value: str) -> list[str]:
    """Values of a comma-separated multi-value header, stripped, empties dropped."""
    if "," not in value:
        v = value.strip()
        return [v] if v else []
    return [p.strip() for p in split_outside_quotes(value, ",") if p.strip()]


def unquote(s: str) -> str:
    """Remove surrounding quotes and backslash escapes from a quoted-string."""
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        body = s[1:-1]
        if "\\" not in body:
            return body
        out = []
        i = 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                i += 1
            out.append(body[i])
            i += 1
        return "".join(out)
    return s


# What ``quote`` escapes: the backslash, the quote and the controls a quoted-pair may carry
# (RFC 3261 §25.1: every octet up to 0x7F but CR and LF).
# CR and LF cannot be escaped at all: they are written as a space (read-only).
_QUOTED_PAIR: dict[int, str] = {
    **{c: "\\" + chr(c) for c in (*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                                 ord("\\"), ord('"'))},
    0x0A: " ", 0x0D: " ",
}


def quote(s: str) -> str:
    """``s`` as a quoted-string, escaping what must be escaped."""
    return '"' + s.translate(_QUOTED_PAIR) + '"'


def is_display_name(s: str) -> bool:
    """Whether an unquoted display name is ``*(token LWS)`` (RFC 3261 §25.1)."""
    return all(TOKEN_CHARS.issuperset(w) for w in s.replace("\t", " ").split(" "))


def controls_escaped(line: bytes) -> bool:
    """Whether every control character of a header line (TAB aside) is the second octet of a
    quoted-pair inside a quoted string, the only place RFC 3261 lets one appear."""
    quoted = False
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if quoted and c == 0x5C:  # backslash: the next octet is escaped, whatever it is
            if i + 1 < n and line[i + 1] in (0x0A, 0x0D):
                return False
            i += 2
            continue
        if c == 0x22:
            quoted = not quoted
        elif (c < 0x20 and c not in (0x09, 0x0D)) or c == 0x7F:  # a stray CR is judged apart
            return False
        i += 1
    return True


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``;a=b;c`` (leading ``;`` optional) into an ordered dict; names lower-cased."""
    # without quotes or brackets a plain split cuts where split_outside_quotes would
    quoted = '"' in text or "<" in text
    parts = split_outside_quotes(text, ";") if quoted else text.split(";")
    params: dict[str, str | None] = {}
    for raw in parts:
        name, eq, val = raw.partition("=")
        name = name.strip()
        if not name:
            if eq:
                raise SipParseError(400, "Bad parameter")
            continue  # empty or blank between semicolons
        params[name.lower()] = val.strip() if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())
