"""RFC 3263 lookups for domain trunks with dnspython's asyncio resolver (the shell).

:class:`SipLocator` asks NAPTR, SRV and A/AAAA as ``sip/locate.py`` directs and keeps each
result until the smallest TTL of its records runs out.  :class:`TrunkLocator` keeps every domain
trunk's list fresh in the background: it looks the domain up at start, again when the TTL
runs out, and after a failure retries with a growing delay while calls go on with the last
good list (a call never waits for the DNS).  Each new list is handed to the core
(``Signaling.trunk_located``) and logged (``trunk_located``; ``trunk_dns_failed`` at warning).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import structlog

from ..sip.addr import Address
from ..sip.locate import Located, Naptr, Srv, SrvTarget, default_port, naptr_services, srv_names

log = structlog.get_logger()

MIN_REFRESH = 5.0
"""Seconds at least between two lookups of one domain (a TTL of 0 is not a busy loop)."""
MAX_REFRESH = 3600.0
"""Seconds at most a list is kept without asking again."""
RETRY_FIRST, RETRY_MAX = 2.0, 60.0
"""A failed lookup is retried after 2 s, doubling up to 60 s."""


class SipLocator:
    """NAPTR -> SRV -> A/AAAA for a domain (RFC 3263 §4), cached for the records' TTL.
    ``servers``: (IP, port) of the resolvers to ask (empty: the system's);
    ``ipv6``: AAAA records too (when the switch can send over IPv6)."""

    def __init__(self, *, servers: Sequence[tuple[str, int]] = (), timeout: float = 2.0,
                 rng: random.Random, clock: Callable[[], float], ipv6: bool = False) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not servers)
        if servers:
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p)
                                          for h, p in servers]
        self._resolver.timeout = self._resolver.lifetime = timeout
        self._rng = rng
        self._clock = clock
        self._ipv6 = ipv6
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, Located]] = {}

    async def locate(self, domain: str, transports: Sequence[str]) -> Located:
        """The addresses of ``domain``'s SIP servers for ``transports``, in the order to try
        them; ``LookupError`` when the DNS gives none or does not answer."""
        key = (domain, tuple(transports))
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        found = await self._lookup(domain, transports)
        self._cache[key] = (self._clock() + found.ttl, found)
        return found

    async def _lookup(self, domain: str, transports: Sequence[str]) -> Located:
        records: list[str] = []
        ttls: list[int] = []
        naptrs = [Naptr(r.order, r.preference, r.flags.decode(), r.service.decode(),
                        r.replacement.to_text(), ttl)
                  for r, ttl in await self._query(domain, "NAPTR")]
        services = naptr_services(naptrs, transports)
        for n in naptrs:
            records.append(f"NAPTR {domain} {n.order} {n.preference} {n.flags} {n.service} "
                           f"{n.replacement}")
            ttls.append(n.ttl)
        if not services:
            services = srv_names(domain, transports)
        groups: list[tuple[SrvTarget, ...]] = []
        for transport, owner in services:
            srvs = [Srv(r.priority, r.weight, r.port, r.target.to_text().rstrip("."), ttl)
                    for r, ttl in await self._query(owner, "SRV")]
            group = []
            for s in srvs:
                records.append(f"SRV {owner} {s.priority} {s.weight} {s.port} {s.target}")
                ttls.append(s.ttl)
                ips = await self._hosts(s.target, records, ttls)
                group.append(SrvTarget(transport, s, tuple(Address(transport, ip, s.port)
                                                           for ip in ips)))
            if group:
                groups.append(tuple(group))
        fixed: list[Address] = []
        if not groups and not naptrs:  # §4.2: the domain itself on the default port
            transport = "udp" if "udp" in transports else transports[0]
            fixed = [Address(transport, ip, default_port(transport))
                     for ip in await self._hosts(domain, records, ttls)]
        found = Located(domain, tuple(dict.fromkeys(fixed)),
                        min(ttls, default=int(MIN_REFRESH)), tuple(records), tuple(groups))
        first = found.draw(self._rng)
        if not first:
            raise LookupError(f"{domain}: no SIP server found (NAPTR, SRV, A/AAAA)")
        return dataclasses.replace(found, addresses=first)

    async def _hosts(self, name: str, records: list[str], ttls: list[int]) -> list[str]:
        ips: list[str] = []
        for rdtype in ("A", "AAAA") if self._ipv6 else ("A",):
            for r, ttl in await self._query(name, rdtype):
                ips.append(r.address)
                records.append(f"{rdtype} {name} {r.address}")
                ttls.append(ttl)
        return ips

    async def _query(self, name: str, rdtype: str) -> list[tuple[Any, int]]:
        """The records of ``name`` with their TTL; none for NXDOMAIN or no answer; a timeout
        or a failing server raises ``LookupError``."""
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise LookupError(f"{rdtype} {name}: {exc}") from exc
        ttl = answer.rrset.ttl if answer.rrset is not None else 0
        return [(r, ttl) for r in answer]


class TrunkLocator:
    """Keeps each domain trunk's addresses fresh (see the module docstring).  ``domains``:
    trunk -> domain; ``found(trunk, located)`` is called with each new list."""

    def __init__(self, locator: SipLocator, domains: Mapping[str, str],
                 transports: Sequence[str], found: Callable[[str, Located], None]) -> None:
        self._locator = locator
        self._domains = dict(domains)
        self._transports = tuple(transports)
        self._found = found
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for trunk, domain in self._domains.items():
            self._tasks.append(asyncio.create_task(self._run(trunk, domain),
                                                   name=f"dns-{trunk}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, trunk: str, domain: str) -> None:
        retry = RETRY_FIRST
        last: tuple[Address, ...] | None = None
        while True:
            try:
                found = await self._locator.locate(domain, self._transports)
            except LookupError as exc:
                log.warning("trunk_dns_failed", trunk=trunk, domain=domain, error=str(exc),
                            retry_in=retry, kept=[str(a) for a in last or ()])
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX)
                continue
            retry = RETRY_FIRST
            if last is None or set(found.addresses) != set(last):
                log.info("trunk_located", trunk=trunk, domain=domain, ttl=found.ttl,
                         addresses=[str(a) for a in found.addresses],
                         records=list(found.records))
            last = found.addresses
            self._found(trunk, found)
            await asyncio.sleep(min(max(float(found.ttl), MIN_REFRESH), MAX_REFRESH))
