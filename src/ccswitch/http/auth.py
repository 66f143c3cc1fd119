"""Bearer tokens, roles and the slowing of repeated failures (pure: no clock, no I/O).

A token belongs to one ``Principal``: the ``admin`` (everything), a ``supervisor`` (the queues
it supervises and the agents of those queues) or an ``agent`` (itself only).  Tokens are
compared in constant time (``hmac.compare_digest`` against every configured token, so the time
taken says nothing about which one came close).  ``FailureGate`` remembers failed attempts per
client address and makes it wait, longer each time, then refuses it for a while.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "supervisor", "agent"]
ROLES: tuple[Role, ...] = ("admin", "supervisor", "agent")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token speaks for.  ``user``: the supervisor's or agent's user name (``None`` for
    the admin); ``queues``: the queues a supervisor supervises (``None``: every queue)."""

    role: Role
    user: str | None = None
    queues: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TokenTable:
    """Configured tokens -> principals.  Tokens are kept as SHA-256 digests: the table holds
    no token in clear and every digest has the same length for ``compare_digest``."""

    def __init__(self, tokens: Iterable[tuple[str, Principal]]) -> None:
        self._entries = [(_digest(tok), who) for tok, who in tokens]

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """The principal of ``token``, or ``None``; looks at every entry whatever matches."""
        probe = _digest(token)
        found: Principal | None = None
        for digest, who in self._entries:
            if hmac.compare_digest(probe, digest):
                found = who
        return found


def principals(tokens: Iterable[tuple[str, str, str | None]],
               supervisors: Mapping[str, frozenset[str] | None]) -> TokenTable:
    """The table of configured ``(token, role, user)`` triples; a supervisor's queues come
    from ``supervisors`` (user -> its queues, ``None``: every queue)."""
    out: list[tuple[str, Principal]] = []
    for token, role, user in tokens:
        if role == "admin":
            out.append((token, Principal("admin")))
        elif role == "supervisor":
            out.append((token, Principal("supervisor", user, supervisors.get(user or "",
                                                                            frozenset()))))
        else:
            out.append((token, Principal("agent", user)))
    return TokenTable(out)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


# -- scope -------------------------------------------------------------------------------
def may_see_queue(who: Principal, queue: str) -> bool:
    """Command and supervise rights over a queue: admin every queue, a supervisor its
    queues, an agent none."""
    if who.role == "admin":
        return True
    if who.role == "supervisor":
        return who.queues is None or queue in who.queues
    return False


def may_read_queue(who: Principal, queue: str, agent_queues: Mapping[str, Collection[str]],
                   ) -> bool:
    """Read access to a queue's live state: as ``may_see_queue``, and an agent may read the
    queues it serves."""
    if may_see_queue(who, queue):
        return True
    return who.role == "agent" and who.user is not None \
        and queue in agent_queues.get(who.user, ())


def may_see_agent(who: Principal, agent: str, agent_queues: Mapping[str, Collection[str]],
                  ) -> bool:
    """Admin: every agent; supervisor: the agents of its queues; agent: itself."""
    if who.role == "admin":
        return True
    if who.role == "agent":
        return who.user == agent
    if who.queues is None:
        return agent in agent_queues
    return any(q in who.queues for q in agent_queues.get(agent, ()))


def may_see_call(who: Principal, *, queue: str | None, agent: str | None, caller: str,
                 callee: str, agent_queues: Mapping[str, Collection[str]]) -> bool:
    """Admin: every call; supervisor: calls of its queues or of its agents; agent: the calls
    it takes part in (as the queue's agent, the caller or the callee)."""
    if who.role == "admin":
        return True
    if who.role == "agent":
        return who.user is not None and who.user in (agent, caller, callee)
    if queue is not None and may_see_queue(who, queue):
        return True
    return any(u is not None and u in agent_queues and may_see_agent(who, u, agent_queues)
               for u in (agent, caller, callee))


# -- slowing repeated failures -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GateSettings:
    """``free`` failures within ``window`` seconds cost nothing; each further one delays the
    answer by ``base_delay`` doubled per failure up to ``max_delay``; ``ban_after`` failures
    refuse the address for ``ban`` seconds.  At most ``max_entries`` addresses are tracked
    (the oldest is forgotten first)."""

    free: int = 3
    window: float = 300.0
    base_delay: float = 0.25
    max_delay: float = 4.0
    ban_after: int = 20
    ban: float = 300.0
    max_entries: int = 10_000


@dataclass(slots=True)
class _Record:
    failures: int
    first: float
    banned_until: float = 0.0


class FailureGate:
    """Failed token attempts per client address (pure: ``now`` is passed in)."""

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._records: dict[str, _Record] = {}
        self.failures = 0  # every failure counted, for /metrics
        self.blocked = 0  # requests refused while their address was banned

    def banned(self, addr: str, now: float) -> bool:
        """Whether ``addr`` is refused outright at ``now`` (counted in ``blocked``)."""
        rec = self._records.get(addr)
        if rec is None or rec.banned_until <= now:
            return False
        self.blocked += 1
        return True

    def failed(self, addr: str, now: float) -> float:
        """Count a failure of ``addr``; returns the delay (s) to wait before answering it."""
        s = self.settings
        self.failures += 1
        rec = self._records.get(addr)
        if rec is None or (now - rec.first > s.window and rec.banned_until <= now):
            if rec is None and len(self._records) >= s.max_entries:
                del self._records[next(iter(self._records))]
            rec = self._records[addr] = _Record(0, now)
        rec.failures += 1
        if rec.failures >= s.ban_after:
            rec.banned_until = now + s.ban
        extra = rec.failures - s.free
        if extra <= 0:
            return 0.0
        return float(min(s.max_delay, s.base_delay * 2.0 ** (extra - 1)))

    def succeeded(self, addr: str) -> None:
        """A good token from ``addr``: its failures are forgotten (a ban is not lifted)."""
        rec = self._records.get(addr)
        if rec is not None and rec.banned_until == 0.0:
            del self._records[addr]

    def __len__(self) -> int:
        return len(self._records)
