"""Answering a 401/407 as a client (RFC 3261 §22.2-22.3, RFC 7616, RFC 8760), sans-IO.

A trunk that registers to a carrier, or sends it an INVITE, is challenged like our phones are
challenged by :mod:`ccswitch.sip.auth`.  This module is the other side:

- :class:`DigestClient` holds one set of credentials (user, password, optionally the only
  realm they may be sent to) and, per realm, the last nonce and its nonce-count, so a later
  request (the next re-REGISTER) may carry credentials before it is asked (:meth:`preemptive`).
- :class:`AuthSession` is one request and its retries.  ``session.answer(response, method=…,
  uri=…)`` turns a 401/407 into an :class:`AuthAnswer`: the header lines to add to the
  retried request (the caller gives it a new CSeq and branch), or a refusal with a reason.

Policy, per realm challenged:

- Of the challenges of one realm, the first one whose algorithm (MD5, SHA-256 and their
  ``-sess`` forms) and qop (``auth``, or none: RFC 2069) are supported is answered: the server
  lists them in its order of preference (RFC 8760 §2.4).  ``qop="auth-int"`` alone is refused
  (``unsupported_qop``): integrity protection of bodies is not offered by this client.
- A realm outside ``DigestClient(realm=…)`` is not answered: the credentials are not sent to
  whoever asks for them.  When no challenge can be answered, the answer is a refusal.
- The same challenge (realm and nonce) is never answered twice in one session: a server that
  repeats it rejected the credentials (``rejected``).
- A second challenge without ``stale=true`` for a realm whose fresh challenge was already
  answered in this session means the password is wrong (``rejected``): no loop of retries.
- ``stale=true`` (the digest was right, the nonce old) is answered once per session; a second
  stale challenge is refused (``stale_again``).
- With ``qop=auth`` the cnonce is drawn from the injected :class:`~ccswitch.ids.Ids` and the
  nonce-count starts at 1 for each new nonce and grows by one for each use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ..errors import CcswitchError
from ..ids import Ids
from .auth import DigestError, build_authorization, normalize_algorithm, parse_auth_header
from .message import Response

__all__ = [
    "REFUSALS",
    "AuthAnswer",
    "AuthSession",
    "Challenge",
    "ClientAuthError",
    "DigestClient",
    "parse_challenges",
]

REFUSALS: Final = ("not_a_challenge", "no_usable_challenge", "unsupported_qop",
                   "unsupported_algorithm", "foreign_realm", "rejected", "stale_again")
"""``AuthAnswer.reason`` values of a refusal."""
_MAX_NC: Final = 2**32 - 1


class ClientAuthError(CcswitchError):
    """Misuse of the client (bad credentials given to it, not a peer's fault)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One Digest challenge value.  ``header``: where the answer goes (``Authorization`` for a
    WWW-Authenticate, ``Proxy-Authorization`` for a Proxy-Authenticate); ``value``: the raw
    challenge; ``algorithm``: canonical when supported, else as written; ``qops``: the qop
    options offered, lower case (empty: RFC 2069)."""

    header: str
    value: str
    realm: str
    nonce: str
    algorithm: str
    qops: tuple[str, ...]
    stale: bool

    @property
    def supported_algorithm(self) -> bool:
        return normalize_algorithm(self.algorithm) is not None

    @property
    def supported_qop(self) -> bool:
        return not self.qops or "auth" in self.qops


@dataclass(frozen=True, slots=True)
class AuthAnswer:
    """What to do with a challenge.  ``ok``: retry with ``headers`` added; else ``reason``
    (one of :data:`REFUSALS`) says why the request is given up, ``detail`` adds the realm or
    the unsupported value for the log."""

    ok: bool
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    detail: str = ""


def parse_challenges(response: Response) -> list[Challenge]:
    """The Digest challenges of ``response`` in order (WWW-Authenticate, then
    Proxy-Authenticate); values that are malformed or of another scheme are skipped."""
    out: list[Challenge] = []
    for name, answer_header in (("www-authenticate", "Authorization"),
                                ("proxy-authenticate", "Proxy-Authorization")):
        for value in response.headers.get_raw_all(name):
            try:
                scheme, p = parse_auth_header(value)
            except DigestError:
                continue
            if scheme.lower() != "digest" or "realm" not in p or not p.get("nonce"):
                continue
            algorithm = p.get("algorithm", "MD5")
            qops = tuple(q.strip().lower() for q in p.get("qop", "").split(",") if q.strip())
            out.append(Challenge(answer_header, value, p["realm"], p["nonce"],
                                 normalize_algorithm(algorithm) or algorithm, qops,
                                 p.get("stale", "").lower() == "true"))
    return out


@dataclass(slots=True)
class _Cached:
    """The last challenge answered for a realm, reused preemptively."""

    challenge: Challenge
    nc: int = 0


class DigestClient:
    """Credentials for one trunk: ``user``/``password``, sent only to ``realm`` when given
    (any realm otherwise), with cnonces from ``ids``.  See the module docstring."""

    def __init__(self, *, user: str, password: str, ids: Ids, realm: str | None = None) -> None:
        if not user:
            raise ClientAuthError("a digest user must not be empty")
        self.user = user
        self._password = password
        self._ids = ids
        self.realm = realm
        self._cache: dict[str, _Cached] = {}

    def session(self) -> AuthSession:
        """A new request flow (one request and its authenticated retries)."""
        return AuthSession(self)

    def preemptive(self, *, method: str, uri: str) -> tuple[tuple[str, str], ...]:
        """Credentials for a new request from the nonces already answered (nonce-count + 1);
        empty when no realm was answered yet or a nonce has no qop (no count to protect it)."""
        out: list[tuple[str, str]] = []
        for cached in self._cache.values():
            if cached.challenge.qops and cached.nc < _MAX_NC:
                out.append(self._sign(cached, method, uri))
        return tuple(out)

    def forget(self) -> None:
        """Drop every cached nonce (after a refusal, or when the trunk's address changes)."""
        self._cache.clear()

    def allows(self, realm: str) -> bool:
        return self.realm is None or realm == self.realm

    def _answer(self, challenge: Challenge, method: str, uri: str) -> tuple[str, str]:
        cached = self._cache.get(challenge.realm)
        if cached is None or cached.challenge.nonce != challenge.nonce:
            cached = self._cache[challenge.realm] = _Cached(challenge)
        return self._sign(cached, method, uri)

    def _sign(self, cached: _Cached, method: str, uri: str) -> tuple[str, str]:
        cached.nc += 1
        value = build_authorization(cached.challenge.value, method=method, uri=uri,
                                    user=self.user, password=self._password,
                                    cnonce=self._ids.token(16), nc=cached.nc)
        return cached.challenge.header, value


@dataclass(slots=True)
class AuthSession:
    """One request and its retries: answers challenges by the module's policy."""

    client: DigestClient
    answered: set[tuple[str, str]] = field(default_factory=set)  # (realm, nonce)
    fresh_realms: set[str] = field(default_factory=set)  # realms whose fresh challenge we answered
    stale_used: bool = False

    def answer(self, response: Response, *, method: str, uri: str) -> AuthAnswer:
        """Answer the 401/407 ``response`` to a request ``method uri`` (see the module
        docstring); the caller adds ``headers`` to the retried request."""
        if response.status not in (401, 407):
            return AuthAnswer(False, reason="not_a_challenge", detail=str(response.status))
        challenges = parse_challenges(response)
        if not challenges:
            return AuthAnswer(False, reason="no_usable_challenge")
        by_realm: dict[str, list[Challenge]] = {}
        for c in challenges:
            by_realm.setdefault(c.realm, []).append(c)
        chosen: list[Challenge] = []
        for realm, group in by_realm.items():
            if not self.client.allows(realm):
                continue
            pick = _choose(group)
            if isinstance(pick, AuthAnswer):
                return pick
            chosen.append(pick)
        if not chosen:
            return AuthAnswer(False, reason="foreign_realm", detail=", ".join(by_realm))
        refusal = self._check(chosen)
        if refusal is not None:
            return refusal
        headers: list[tuple[str, str]] = []
        for c in chosen:
            self.answered.add((c.realm, c.nonce))
            if c.stale:
                self.stale_used = True
            else:
                self.fresh_realms.add(c.realm)
            headers.append(self.client._answer(c, method, uri))
        return AuthAnswer(True, headers=tuple(headers))

    def _check(self, chosen: Iterable[Challenge]) -> AuthAnswer | None:
        stale_seen = False
        for c in chosen:
            if (c.realm, c.nonce) in self.answered:
                return AuthAnswer(False, reason="rejected", detail=c.realm)
            if c.stale:
                if self.stale_used or stale_seen:
                    return AuthAnswer(False, reason="stale_again", detail=c.realm)
                stale_seen = True
            elif c.realm in self.fresh_realms:
                return AuthAnswer(False, reason="rejected", detail=c.realm)
        return None


def _choose(group: list[Challenge]) -> Challenge | AuthAnswer:
    """The first challenge of one realm this client can answer, else why none."""
    for c in group:
        if c.supported_algorithm and c.supported_qop and (
                c.qops or not c.algorithm.endswith("-sess")):
            return c
    if not any(c.supported_qop for c in group):
        qops = ",".join(dict.fromkeys(q for c in group for q in c.qops))
        return AuthAnswer(False, reason="unsupported_qop", detail=qops)
    algs = ",".join(dict.fromkeys(c.algorithm for c in group))
    return AuthAnswer(False, reason="unsupported_algorithm", detail=algs)
