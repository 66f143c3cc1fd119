"""Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22), sans-IO.

Server side: ``DigestAuthenticator.check(req, source_host=…, now=…, proxy=…)`` answers one
request with an ``AuthResult``: OK (with the user), CHALLENGE (401/407 and one
WWW-Authenticate / Proxy-Authenticate value per algorithm) or FORBIDDEN (403, the pair
(source host, user) is blocked after repeated failures).  Time comes in as ``now``; nonces
and failure records expire in ``handle_timer(now)`` (and lazily in ``check``).

Policy, in the order it is applied:

- No credentials for our realm: a plain challenge with the global algorithms.
- (source host, username) blocked: 403, whatever the credentials.
- Malformed credentials, an unsupported algorithm or qop, a ``uri`` that is not the
  Request-URI, a wrong digest, an unknown user: a failure is recorded and a fresh challenge
  sent.  An unknown user is checked against a dummy secret, so its answers are those of a
  known user with a wrong password.
- A correct digest with an unknown or expired nonce, an algorithm this user is not offered, or
  a nonce-count not above the last accepted one (replay): a challenge with ``stale=true``,
  not a failure.
- Otherwise OK, and the user's failure record is cleared.

The authenticator does not log: each refusal carries ``failure`` (``wrong_password``,
``unknown_user``…), ``blocked`` and ``failures`` for the caller, which knows the full source
address, to log (``auth_failed`` / ``auth_blocked``).  They never change the answer sent.

Without ``qop`` (RFC 2069, MD5 only) there is no nonce-count, so such a nonce may be reused
until it expires.  Client side: ``build_authorization`` answers a challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from ..errors import CcswitchError, SipParseError
from ..ids import Ids
from .grammar import TOKEN_CHARS, quote
from .message import Request
from .uri import SipUri

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AuthOutcome",
    "AuthResult",
    "Credentials",
    "DigestAuthenticator",
    "DigestError",
    "build_authorization",
    "digest_response",
    "normalize_algorithm",
    "parse_auth_header",
]

SUPPORTED_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess")
_CANONICAL = {a.lower(): a for a in SUPPORTED_ALGORITHMS}
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_HEX = frozenset("0123456789abcdefABCDEF")
_WS = " \t\r\n"
# The usual shape of a credentials or challenge value, read by regular expressions (quoted
# values without backslashes); anything else is read by the scanner of parse_auth_header.
_TOKEN_RE = "[" + re.escape("".join(sorted(TOKEN_CHARS))) + "]+"
_WS_RE = "[ \t\r\n]"
_AUTH_SCHEME = re.compile(f"({_TOKEN_RE})(?:{_WS_RE}+|\\Z)")
_AUTH_PARAM = re.compile(
    f"[ \t\r\n,]*({_TOKEN_RE}){_WS_RE}*={_WS_RE}*"
    f"(?:\"([^\"\\\\]*)\"|([^ \t\r\n,\"]+)){_WS_RE}*(?:,[ \t\r\n,]*|\\Z)")
# Bounds on state an unauthenticated peer can make us keep; the oldest entry goes first.
MAX_NONCES = 100_000
MAX_FAILURE_RECORDS = 100_000
COUNTER_NAMES = ("ok", "challenge", "stale", "replay", "failure", "malformed", "forbidden",
                 "blocked", "evicted")


class DigestError(CcswitchError):
    """An Authorization/WWW-Authenticate value that cannot be parsed or answered."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``lookup`` returns for a known user."""

    password: str
    algorithms: tuple[str, ...] | None = None  # per-user override of the offered algorithms


class AuthOutcome(Enum):
    OK = "ok"
    CHALLENGE = "challenge"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The verdict on one request; on CHALLENGE/FORBIDDEN, the response to send."""

    outcome: AuthOutcome
    user: str | None = None  # authenticated user on OK; the claimed one on a failure
    status: int = 0  # 401/407 on CHALLENGE, 403 on FORBIDDEN
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # one challenge per algorithm, in order
    # For the operator's log only (the answer on the wire is the same whatever it says):
    failure: str = ""  # why credentials were refused; see FAILURES
    blocked: bool = False  # this failure started a block of (source, user)
    failures: int = 0  # failures counted for (source, user) in the window


FAILURES = ("wrong_password", "unknown_user", "malformed", "wrong_uri", "blocked")
"""``AuthResult.failure`` values: credentials that were sent and refused.  A request without
credentials (the first challenge) and a stale or replayed nonce are not failures."""

FORBIDDEN = AuthResult(AuthOutcome.FORBIDDEN, status=403, reason="Forbidden",
                       failure="blocked")


def normalize_algorithm(name: str) -> str | None:
    """The canonical spelling of a supported algorithm name (any case), else None."""
    return _CANONICAL.get(name.strip().lower())


def _hash(algorithm: str, text: str) -> str:
    base = algorithm[:-5] if algorithm.endswith("-sess") else algorithm
    return _HASHES[base](text.encode("utf-8")).hexdigest()


def digest_response(*, algorithm: str, user: str, realm: str, password: str, method: str,
                    uri: str, nonce: str, qop: str | None = None, nc: str = "",
                    cnonce: str = "") -> str:
    """The ``response`` value (RFC 7616 §3.4.1); ``nc`` is the 8-hex-digit string as sent."""
    alg = normalize_algorithm(algorithm)
    if alg is None:
        raise DigestError(f"unsupported algorithm {algorithm!r}")
    ha1 = _hash(alg, f"{user}:{realm}:{password}")
    if alg.endswith("-sess"):
        ha1 = _hash(alg, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(alg, f"{method}:{uri}")
    if qop:
        return _hash(alg, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(alg, f"{ha1}:{nonce}:{ha2}")


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _read_quoted(s: str, i: int) -> tuple[str, int]:
    """Read a quoted-string starting at ``s[i] == '"'``; return (unescaped, index after)."""
    out: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                break
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise DigestError("unterminated quoted string")


def parse_auth_header(value: str) -> tuple[str, dict[str, str]]:
    """Parse ``Scheme k=v, k="v", …`` into (scheme, params with lower-case names).

    Quoted values are unescaped; unquoted ones run to the next comma or whitespace.  Empty
    list elements are skipped.  A repeated parameter or any syntax fault raises ``DigestError``.
    """
    s = value.strip()
    fast = _parse_auth_plain(s)
    return fast if fast is not None else _parse_auth_scan(s)


def _parse_auth_scan(s: str) -> tuple[str, dict[str, str]]:
    """``parse_auth_header`` of a stripped value, one character at a time."""
    i = 0
    while i < len(s) and s[i] in TOKEN_CHARS:
        i += 1
    scheme = s[:i]
    if not scheme or (i < len(s) and s[i] not in _WS):
        raise DigestError("bad auth scheme")
    params: dict[str, str] = {}
    while True:
        i = _skip_ws(s, i)
        while i < len(s) and s[i] == ",":
            i = _skip_ws(s, i + 1)
        if i >= len(s):
            return scheme, params
        start = i
        while i < len(s) and s[i] in TOKEN_CHARS:
            i += 1
        name = s[start:i].lower()
        i = _skip_ws(s, i)
        if not name or i >= len(s) or s[i] != "=":
            raise DigestError("bad auth parameter")
        i = _skip_ws(s, i + 1)
        if i < len(s) and s[i] == '"':
            val, i = _read_quoted(s, i)
        else:
            start = i
            while i < len(s) and s[i] not in _WS and s[i] not in ',"':
                i += 1
            val = s[start:i]
            if not val:
                raise DigestError("empty auth parameter")
        if name in params:
            raise DigestError(f"repeated auth parameter {name}")
        params[name] = val
        i = _skip_ws(s, i)
        if i < len(s) and s[i] != ",":
            raise DigestError("missing comma between auth parameters")


def _parse_auth_plain(s: str) -> tuple[str, dict[str, str]] | None:
    """``parse_auth_header`` of a stripped value of the usual shape, else None."""
    m = _AUTH_SCHEME.match(s)
    if m is None:
        return None
    params: dict[str, str] = {}
    pos, end = m.end(), len(s)
    match = _AUTH_PARAM.match
    while pos < end:
        p = match(s, pos)
        if p is None:
            return None
        name, quoted, plain = p.groups()
        name = name.lower()
        if name in params:
            return None
        params[name] = quoted if quoted is not None else plain
        pos = p.end()
    return m.group(1), params


def build_authorization(challenge_value: str, *, method: str, uri: str, user: str,
                        password: str, cnonce: str, nc: int = 1) -> str:
    """The Authorization / Proxy-Authorization value answering one Digest challenge.

    Uses ``qop=auth`` when the challenge offers it, else the RFC 2069 form.  Raises
    ``DigestError`` for a challenge that is not Digest, lacks realm/nonce, or asks for an
    algorithm or qop this module does not support.
    """
    scheme, p = parse_auth_header(challenge_value)
    if scheme.lower() != "digest":
        raise DigestError(f"not a Digest challenge: {scheme}")
    realm, nonce = p.get("realm"), p.get("nonce")
    if realm is None or not nonce:
        raise DigestError("challenge lacks realm or nonce")
    alg = normalize_algorithm(p.get("algorithm", "MD5"))
    if alg is None:
        raise DigestError(f"unsupported algorithm {p.get('algorithm')!r}")
    qops = [q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise DigestError("challenge offers no supported qop")
    qop = "auth" if qops else None
    if qop is None and alg.endswith("-sess"):
        raise DigestError("-sess algorithm without qop")
    if not 0 < nc < 2**32:
        raise DigestError("nonce-count out of range")
    nc_text = f"{nc:08x}"
    response = digest_response(algorithm=alg, user=user, realm=realm, password=password,
                               method=method, uri=uri, nonce=nonce, qop=qop, nc=nc_text,
                               cnonce=cnonce)
    parts = [f"username={quote(user)}", f"realm={quote(realm)}", f"nonce={quote(nonce)}",
             f"uri={quote(uri)}", f'response="{response}"', f"algorithm={alg}"]
    if qop:
        parts += [f"cnonce={quote(cnonce)}", f"qop={qop}", f"nc={nc_text}"]
    if "opaque" in p:
        parts.append(f"opaque={quote(p['opaque'])}")
    return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _Answer:
    """Validated credentials of one request."""

    user: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str | None
    nc: str
    cnonce: str


def _answer(params: dict[str, str]) -> _Answer | None:
    """Check that the credentials carry what the digest needs; None when they do not."""
    user = params.get("username", "")
    nonce, uri, response = params.get("nonce"), params.get("uri"), params.get("response")
    alg = normalize_algorithm(params.get("algorithm", "MD5"))
    if not user or not nonce or not uri or not response or alg is None:
        return None
    qop = params.get("qop")
    if qop is None:
        if alg != "MD5":  # RFC 2069 form, for old phones: plain MD5 only
            return None
        return _Answer(user, nonce, uri, response, alg, None, "", "")
    nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
    if qop.lower() != "auth" or not cnonce or not 0 < len(nc) <= 8 or not set(nc) <= _HEX:
        return None
    return _Answer(user, nonce, uri, response, alg, qop, nc, cnonce)


def _same_uri(cred_uri: str, request_uri: str) -> bool:
    """Whether the credentials' ``uri`` names what the request is addressed to.

    The same URI passes, and so does one that names the same host and port with another
    user part: SIPp 3.6 signs ``sip:HOST:PORT`` (the server it talks to) rather than the
    Request-URI, and Kamailio accepts that too.  The digest still binds that ``uri``.
    """
    a, b = cred_uri.strip(), request_uri.strip()
    if a == b:
        return True
    try:
        ua, ub = SipUri.parse(a), SipUri.parse(b)
    except SipParseError:
        return False
    return ua == ub or (ua.host == ub.host and ua.port == ub.port and ua.scheme == ub.scheme)


@dataclass(slots=True)
class _Nonce:
    expires: float
    last_nc: int = 0


@dataclass(slots=True)
class _Failures:
    expires: float  # end of the counting window, or of the block once blocked
    count: int = 0
    blocked: bool = False


class DigestAuthenticator:
    """Challenges and verifies Digest credentials for one realm (see the module docstring)."""

    def __init__(self, *, realm: str, lookup: Callable[[str], Credentials | None], ids: Ids,
                 algorithms: tuple[str, ...] = ("MD5",), nonce_ttl: float = 300.0,
                 max_failures: int = 5, failure_window: float = 300.0) -> None:
        norm = tuple(normalize_algorithm(a) for a in algorithms)
        if not norm or None in norm:
            raise ValueError(f"algorithms must be among {SUPPORTED_ALGORITHMS}: {algorithms}")
        if nonce_ttl <= 0 or failure_window <= 0 or max_failures < 1:
            raise ValueError("nonce_ttl, failure_window and max_failures must be positive")
        self._realm = realm
        self._lookup = lookup
        self._ids = ids
        self._algorithms: tuple[str, ...] = tuple(dict.fromkeys(a for a in norm if a))
        self._nonce_ttl = nonce_ttl
        self._max_failures = max_failures
        self._failure_window = failure_window
        self._dummy_secret = ids.token(32)
        # Both ordered by expiry: every insert or move-to-end carries now + a fixed span.
        self._nonces: OrderedDict[str, _Nonce] = OrderedDict()
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)

    @property
    def realm(self) -> str:
        return self._realm

    # -- the verdict --------------------------------------------------------------------
    def check(self, req: Request, *, source_host: str, now: float, proxy: bool) -> AuthResult:
        """Authenticate ``req`` (proxy=True: Proxy-Authorization and 407, else 401)."""
        self._prune(now)  # from here on, every stored nonce and failure record is live
        header = "proxy-authorization" if proxy else "authorization"
        params, malformed = self._pick(req.headers.get_raw_all(header))
        if params is None:
            if not malformed:
                return self._challenge(self._algorithms, proxy, now, stale=False)
            params = {}
        user = params.get("username", "")
        key = (source_host, user)
        if self._is_blocked(key):
            self.counters["forbidden"] += 1
            return replace(FORBIDDEN, user=user, failures=self._failures[key].count)
        creds = self._lookup(user) if user else None
        algs = self._algorithms_for(creds)
        ans = _answer(params)
        if ans is None or not _same_uri(ans.uri, req.uri_text):
            self.counters["malformed"] += 1
            return self._fail(key, algs, proxy, now,
                              "malformed" if ans is None else "wrong_uri")
        expected = digest_response(
            algorithm=ans.algorithm, user=ans.user, realm=self._realm,
            password=creds.password if creds is not None else self._dummy_secret,
            method=req.method, uri=ans.uri, nonce=ans.nonce, qop=ans.qop, nc=ans.nc,
            cnonce=ans.cnonce)
        matched = hmac.compare_digest(expected.encode(), ans.response.lower().encode())
        if creds is None or not matched:
            return self._fail(key, algs, proxy, now,
                              "unknown_user" if creds is None else "wrong_password")
        return self._accept(ans, key, algs, proxy, now)

    def _accept(self, ans: _Answer, key: tuple[str, str], algs: tuple[str, ...], proxy: bool,
                now: float) -> AuthResult:
        """The digest is right: check the nonce, the algorithm and the nonce-count."""
        state = self._nonces.get(ans.nonce)
        if state is None or ans.algorithm not in algs:
            self.counters["stale"] += 1
            return self._challenge(algs, proxy, now, stale=True)
        if ans.qop is not None:
            nc = int(ans.nc, 16)
            if nc <= state.last_nc:
                self.counters["replay"] += 1
                return self._challenge(algs, proxy, now, stale=True)
            state.last_nc = nc
        self._failures.pop(key, None)
        self.counters["ok"] += 1
        return AuthResult(AuthOutcome.OK, user=ans.user)

    def _pick(self, values: list[str]) -> tuple[dict[str, str] | None, bool]:
        """The Digest credentials for our realm, and whether any value was malformed."""
        malformed = False
        for value in values:
            try:
                scheme, params = parse_auth_header(value)
            except DigestError:
                malformed = True
                continue
            if scheme.lower() != "digest":
                continue
            realm = params.get("realm")
            if realm == self._realm:
                return params, False
            if realm is None:
                malformed = True
        return None, malformed

    def _algorithms_for(self, creds: Credentials | None) -> tuple[str, ...]:
        if creds is None or not creds.algorithms:
            return self._algorithms
        own = tuple(dict.fromkeys(a for a in map(normalize_algorithm, creds.algorithms) if a))
        return own or self._algorithms

    # -- answers ------------------------------------------------------------------------
    def _challenge(self, algs: tuple[str, ...], proxy: bool, now: float, *,
                   stale: bool) -> AuthResult:
        nonce = self._issue_nonce(now)
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        tail = ", stale=true" if stale else ""
        realm = quote(self._realm)
        headers = tuple(
            (name, f'Digest realm={realm}, nonce="{nonce}", algorithm={alg}, qop="auth"{tail}')
            for alg in algs)
        self.counters["challenge"] += 1
        if proxy:
            return AuthResult(AuthOutcome.CHALLENGE, status=407,
                              reason="Proxy Authentication Required", headers=headers)
        return AuthResult(AuthOutcome.CHALLENGE, status=401, reason="Unauthorized",
                          headers=headers)

    def _issue_nonce(self, now: float) -> str:
        nonce = self._ids.nonce()
        while nonce in self._nonces:
            nonce = self._ids.nonce()
        self._nonces[nonce] = _Nonce(expires=now + self._nonce_ttl)
        if len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)
            self.counters["evicted"] += 1
        return nonce

    def _fail(self, key: tuple[str, str], algs: tuple[str, ...], proxy: bool,
              now: float, why: str) -> AuthResult:
        """Record a failed attempt by ``key`` and challenge afresh (``why`` for the log)."""
        self.counters["failure"] += 1
        rec = self._failures.get(key)
        if rec is None:
            rec = self._failures[key] = _Failures(expires=now + self._failure_window)
            if len(self._failures) > MAX_FAILURE_RECORDS:
                self._failures.popitem(last=False)
                self.counters["evicted"] += 1
        rec.count += 1
        blocked = False
        if rec.count >= self._max_failures and not rec.blocked:
            rec.blocked = blocked = True
            rec.expires = now + self._failure_window
            self._failures.move_to_end(key)
            self.counters["blocked"] += 1
        return replace(self._challenge(algs, proxy, now, stale=False), user=key[1],
                       failure=why, blocked=blocked, failures=rec.count)

    def _is_blocked(self, key: tuple[str, str]) -> bool:
        rec = self._failures.get(key)
        return rec is not None and rec.blocked

    # -- time ---------------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        nonces, failures = self._nonces, self._failures
        while nonces and next(iter(nonces.values())).expires <= now:
            nonces.popitem(last=False)
        while failures and next(iter(failures.values())).expires <= now:
            failures.popitem(last=False)

    def handle_timer(self, now: float) -> None:
        """Forget expired nonces and failure records (ends blocks whose window passed)."""
        self._prune(now)

    def next_deadline(self) -> float | None:
        """When the oldest nonce or failure record expires; None when there is none."""
        first = next(iter(self._nonces.values())).expires if self._nonces else None
        if self._failures:
            other = next(iter(self._failures.values())).expires
            if first is None or other < first:
                return other
        return first
