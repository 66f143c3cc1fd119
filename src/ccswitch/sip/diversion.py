"""Who a call was first for: Diversion (RFC 5806) and History-Info (RFC 7044), pure.

* :func:`diverted_from` reads a received INVITE: the number the call was first meant for
  (the last Diversion entry, the oldest diversion; else the first History-Info entry whose
  target is not the Request-URI) and why, or None.
* :func:`diversion_headers` writes the headers that tell a carrier a call was forwarded from
  ``number`` (``style``: a trunk's ``diversion`` setting): ``Diversion: <sip:N@host>;
  reason=…;counter=1``, and/or History-Info with two entries, the original target carrying
  the Reason (``SIP;cause=C``, C from RFC 4458 as RFC 7544 maps Diversion reasons) and the new
  one (``index=1.1;mp=1``: the target changed by mapping, RFC 7044 §4.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..errors import SipParseError
from .grammar import split_outside_quotes
from .message import Request
from .uri import NameAddr, SipUri

DiversionStyle = Literal["diversion", "history-info", "both", "none"]
STYLES: Final[tuple[DiversionStyle, ...]] = ("diversion", "history-info", "both", "none")
# RFC 5806 reasons -> RFC 4458 causes (as RFC 7544 §4 maps them)
CAUSES: Final = {"unconditional": 302, "user-busy": 486, "no-answer": 408,
                 "deflection": 480, "unavailable": 503, "unknown": 404,
                 "time-of-day": 404, "do-not-disturb": 404, "follow-me": 404,
                 "out-of-service": 503, "away": 404}
REASONS: Final = {302: "unconditional", 486: "user-busy", 408: "no-answer", 480: "deflection",
                  487: "deflection", 503: "unavailable", 404: "unknown"}


@dataclass(frozen=True, slots=True)
class Diverted:
    """A call forwarded from ``number`` (a user or E.164 number) for ``reason``."""

    number: str
    reason: str = "unknown"


def diverted_from(req: Request) -> Diverted | None:
    """The original called number of a received INVITE (see the module docstring); a
    malformed entry is skipped, never an error."""
    entries = _entries(req, "diversion")
    if entries:
        na, params = entries[-1]
        if na.uri.user:
            return Diverted(na.uri.user, (params.get("reason") or "unknown").lower())
    for na, _ in _entries(req, "history-info"):
        user = na.uri.user
        if user and user != req.uri.user:
            return Diverted(user, REASONS.get(_cause(na), "unknown"))
    return None


def diversion_headers(d: Diverted, *, host: str, target: SipUri,
                      style: DiversionStyle) -> list[tuple[str, str]]:
    """The headers naming ``d`` on a forwarded INVITE to ``target`` (``host``: the domain
    the original number is written in)."""
    out: list[tuple[str, str]] = []
    original = SipUri(host=host, user=d.number)
    cause = CAUSES.get(d.reason, 404)
    if style in ("diversion", "both"):
        out.append(("Diversion", f"<{original}>;reason={d.reason};counter=1"))
    if style in ("history-info", "both"):
        reason = f"SIP%3Bcause%3D{cause}"
        new = SipUri(host=target.host, user=target.user, port=target.port,
                     params={**target.params, "cause": str(cause)})
        out.append(("History-Info", f"<{original}?Reason={reason}>;index=1, "
                                    f"<{new}>;index=1.1;mp=1"))
    return out


def _entries(req: Request, header: str) -> list[tuple[NameAddr, dict[str, str]]]:
    out = []
    for raw in req.headers.get_all(header):
        try:
            na = NameAddr.parse(raw.strip())
        except SipParseError:
            continue
        params = {k.lower(): (v or "") for k, v in na.params.items()}
        out.append((na, params))
    return out


def _unquote(text: str) -> str:
    """Undo the %XX escapes of a URI header value (RFC 3261 §19.1.1)."""
    out, i = [], 0
    while i < len(text):
        hexa = text[i + 1:i + 3]
        if text[i] == "%" and len(hexa) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexa):
            out.append(chr(int(hexa, 16)))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _cause(na: NameAddr) -> int:
    """The cause of a History-Info entry: its URI's ``cause`` or its Reason header's."""
    cause = na.uri.params.get("cause")
    if cause and cause.isdigit():
        return int(cause)
    for header in na.uri.headers.split("&"):
        name, _, value = header.partition("=")
        if name.lower() == "reason":
            for part in split_outside_quotes(_unquote(value), ";"):
                key, _, val = part.partition("=")
                if key.strip().lower() == "cause" and val.strip().isdigit():
                    return int(val.strip())
    return 0
