"""What a UAS checks before it acts on a request (RFC 3261 §8.2), as one pure function.

``refusal(req, in_dialog=...)`` reads the headers every later step relies on (a fault raises
``SipParseError``, answered 400 naming the header) and returns the answer that refuses the
request, or ``None`` to go on: 420 for a ``Require``/``Proxy-Require`` we do not support, 483
for a request we would route with ``Max-Forwards: 0``, 415 and 406 for bodies we cannot read
or answers we could not write.  Method (405/501), authentication and routing come after it.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from ..errors import SipParseError
from ..sip.headers import is_sip_date
from ..sip.message import Request

# Option tags we support (what OPTIONS advertises in Supported); others in Require get 420.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({"path", "outbound", "replaces", "norefersub",
                                                     "100rel", "timer"})
# Bodies an INVITE may carry (a multipart body may hold the SDP).
INVITE_BODIES = ("application/sdp", "multipart/mixed", "multipart/alternative",
                 "multipart/related")
ACCEPT = "application/sdp"
_REQUIRES = frozenset({"require", "proxy-require"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer that refuses a request: status, reason and extra headers."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def refusal(req: Request, *, in_dialog: bool) -> Refusal | None:
    """The RFC 3261 §8.2 answer refusing ``req`` before any other processing, if any."""
    present = {k for k, _, _ in req.headers._items}  # one pass: absent headers not searched
    check_syntax(req, present)
    if req.method == "CANCEL":  # Require does not apply to CANCEL (§9.2)
        return None
    unsupported = unsupported_extensions(req) if not present.isdisjoint(_REQUIRES) else None
    if unsupported:
        return Refusal(420, "Bad Extension", (("Unsupported", ", ".join(unsupported)),))
    if in_dialog:
        return None
    if req.max_forwards == 0 and req.method != "REGISTER" and (
            req.method == "INVITE" or req.uri.user):
        return Refusal(483, "Too Many Hops")  # we would route it on (§16.3 step 3)
    if req.method == "INVITE":
        return _invite_content(req, present)
    return None


def check_syntax(req: Request, present: Set[str] | None = None) -> None:
    """Read every header a later step or an answer relies on; a fault raises SipParseError.
    ``present``: the normalized names of the request's headers, when known."""
    if req.uri.headers:
        raise SipParseError(400, "Bad Request-URI")  # headers are not allowed there (§19.1.5)
    req.vias  # noqa: B018 - every Via, not only the top one
    req.from_  # noqa: B018
    if present is None or "contact" in present:
        req.contacts  # noqa: B018
    if present is None or "expires" in present:
        req.expires  # noqa: B018
    date = req.headers.get("date") if present is None or "date" in present else None
    if date is not None and not is_sip_date(date):
        raise SipParseError(400, "Bad Date")


def unsupported_extensions(req: Request) -> list[str]:
    """The option tags of Require and Proxy-Require we do not support, each once, in order.

    We are the registrar and the proxy-like B2BUA the phone talks to, so Proxy-Require is
    ours to honour as well (RFC 4475 §3.3.5)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in ("require", "proxy-require"):
        for v in req.headers.get_all(name):
            tag = v.strip()
            low = tag.lower()
            if tag and low not in SUPPORTED_EXTENSIONS and low not in seen:
                seen.add(low)
                out.append(tag)
    return out


def _invite_content(req: Request, present: Set[str]) -> Refusal | None:
    """§8.2.3: a body we cannot read is 415 (with Accept), an Accept without SDP 406."""
    if req.body:
        ctype = req.content_type
        if ctype is None:
            raise SipParseError(400, "Missing Content-Type")
        if ctype not in INVITE_BODIES:
            return Refusal(415, "Unsupported Media Type", (("Accept", ACCEPT),))
        if "content-encoding" in present:
            encoding = (req.headers.get("content-encoding") or "identity").strip().lower()
            if encoding != "identity":
                return Refusal(415, "Unsupported Media Type",
                               (("Accept-Encoding", "identity"),))
    if "accept" not in present:
        return None
    accepted = [a.split(";")[0].strip().lower() for a in req.headers.get_all("accept")]
    if accepted and not {ACCEPT, "application/*", "*/*"} & set(accepted):
        return Refusal(406, "Not Acceptable", (
            ("Accept", ACCEPT), ("Warning", '399 ccswitch "answers carry application/sdp"')))
    return None
