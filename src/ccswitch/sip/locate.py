"""Locating a SIP server from a domain, RFC 3263 §4 (pure: the records are handed in).

The shell (``io/dns.py``) asks the DNS; this module decides what to ask next and how the
answers become an ordered list of transport addresses:

1. NAPTR records of the domain (:func:`naptr_services`): those with flag ``s`` and a service
   this switch can use (``SIP+D2U`` udp, ``SIP+D2T`` tcp, ``SIPS+D2T`` tls), sorted by order
   then preference; each names an SRV owner (the replacement).
2. Without usable NAPTR records, the SRV owners of the configured transports
   (:func:`srv_names`): ``_sip._udp.DOMAIN``, ``_sip._tcp.DOMAIN``, ``_sips._tcp.DOMAIN``.
3. SRV records of an owner, ordered as RFC 2782 says (:func:`order_srv`): by priority, and
   within a priority by a weighted random draw (an injected ``random.Random``); a single
   record with target ``.`` means "no service here".
4. A/AAAA of each SRV target (or, without SRV, of the domain itself on 5060, 5061 for TLS).

:class:`Located` is the result: the addresses in the order to try them, the smallest TTL of
the records used (when to ask again) and a line per record for the logs and the API.  A call
moves to the next address on a transaction timeout, a 503 or a transport error (§4.3).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .addr import Address

__all__ = ["Located", "Naptr", "Srv", "SrvTarget", "default_port", "naptr_services",
           "order_srv", "srv_names"]

SERVICES: Final = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
"""NAPTR service field -> our transport (RFC 3263 §4.1)."""
SRV_PREFIX: Final = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}
"""Our transport -> the SRV owner's prefix (RFC 3263 §4.1, RFC 2782)."""


@dataclass(frozen=True, slots=True)
class Naptr:
    """A NAPTR record (RFC 3403) as the resolver returned it; ``ttl`` in seconds."""

    order: int
    preference: int
    flags: str
    service: str
    replacement: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Srv:
    """An SRV record (RFC 2782); ``target`` without its trailing dot."""

    priority: int
    weight: int
    port: int
    target: str
    ttl: int


@dataclass(frozen=True, slots=True)
class SrvTarget:
    """One SRV record of a service and the addresses of its target (on its port)."""

    transport: str
    srv: Srv
    addresses: tuple[Address, ...]


@dataclass(frozen=True, slots=True)
class Located:
    """Where a domain's SIP servers are: ``addresses`` in the order to try (one draw, for the
    logs and the API), ``ttl`` the smallest TTL of the records used, ``records`` one readable
    line per record used; ``services``: the SRV records of each service in NAPTR order, from
    which :meth:`draw` makes a new weighted order for each call (empty: ``addresses`` as
    they are, e.g. A records without SRV)."""

    domain: str
    addresses: tuple[Address, ...]
    ttl: int
    records: tuple[str, ...] = ()
    services: tuple[tuple[SrvTarget, ...], ...] = ()

    def draw(self, rng: random.Random) -> tuple[Address, ...]:
        """The addresses in an order drawn as RFC 2782 says, service by service."""
        if not self.services:
            return self.addresses
        out: list[Address] = []
        for group in self.services:
            by_record = {id(t.srv): t for t in group}
            for srv in order_srv([t.srv for t in group], rng):
                out.extend(by_record[id(srv)].addresses)
        return tuple(dict.fromkeys(out))


def default_port(transport: str) -> int:
    """5061 for TLS, else 5060 (RFC 3263 §4.2 without SRV records)."""
    return 5061 if transport == "tls" else 5060


def naptr_services(records: Iterable[Naptr], transports: Sequence[str],
                   ) -> list[tuple[str, str]]:
    """(transport, SRV owner) from ``records``: flag ``s``, a service of ``transports``,
    by order then preference (RFC 3403 §4.1, RFC 3263 §4.1)."""
    usable = [r for r in records
              if r.flags.lower() == "s" and SERVICES.get(r.service.upper()) in transports]
    usable.sort(key=lambda r: (r.order, r.preference))
    return [(SERVICES[r.service.upper()], r.replacement.rstrip(".")) for r in usable]


def srv_names(domain: str, transports: Sequence[str]) -> list[tuple[str, str]]:
    """(transport, SRV owner) for ``domain`` without NAPTR records, in the order of
    ``transports``."""
    return [(t, f"{SRV_PREFIX[t]}.{domain}") for t in transports if t in SRV_PREFIX]


def order_srv(records: Iterable[Srv], rng: random.Random) -> list[Srv]:
    """``records`` in the order to try them (RFC 2782): lowest priority first; within one
    priority, shuffled with zero weights first, repeatedly draw a number in
    ``[0, sum of weights]`` and take the first record whose running sum of weights reaches
    it.  A lone ``.`` target means the service is decidedly not available: no record."""
    recs = list(records)
    if len(recs) == 1 and recs[0].target in ("", "."):
        return []
    out: list[Srv] = []
    for prio in sorted({r.priority for r in recs}):
        group = [r for r in recs if r.priority == prio]
        rng.shuffle(group)  # "in any order", zero weights first (stable sort)
        group.sort(key=lambda r: r.weight != 0)
        while group:
            total = sum(r.weight for r in group)
            pick = rng.randint(0, total)
            running = 0
            for i, r in enumerate(group):
                running += r.weight
                if running >= pick:
                    out.append(group.pop(i))
                    break
    return out
