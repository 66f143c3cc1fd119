"""Inbound calls from carriers: which trunk a request comes from, and where its DID goes (pure).

- :class:`TrunkPeers` recognises a trunk by the source address of a request: each trunk lists
  IP addresses and CIDR networks (``ipaddress``); the most specific network wins when they
  overlap, then the trunk listed first.  A request from a trunk peer is not challenged: the
  address is its authentication (the carrier's calls; never a route to another trunk).
- :class:`DidRouter` maps the DID (the Request-URI user, or the To user for carriers that keep
  the DID there) to a dial-plan :data:`~ccswitch.dialplan.targets.Target`.  The exact DID is
  looked up first; then, when the router has a :class:`~ccswitch.dialplan.numbers.NumberPlan`,
  the E.164 forms of both the DID and the configured numbers (``+15550700123``,
  ``15550700123`` and ``5550700123`` are one DID).  An unknown DID is :class:`DidNotFound`
  (answered 404 and counted by the call layer).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .numbers import NumberPlan
from .targets import Target

__all__ = ["DidMatch", "DidNotFound", "DidRouter", "DidSource", "Network", "TrunkPeers",
           "parse_network"]

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
DidSource: TypeAlias = Literal["request_uri", "to"]


def parse_network(text: str) -> Network:
    """An address (``192.0.2.10``, ``::1``) or a network (``192.0.2.0/24``); host bits set in a
    network are an error (``192.0.2.1/24``), raised as ``ValueError``."""
    return ipaddress.ip_network(text.strip().strip("[]"), strict=True)


class TrunkPeers:
    """Trunk name -> its networks; :meth:`match` names the trunk a source host belongs to."""

    def __init__(self, peers: Mapping[str, Sequence[Network]]) -> None:
        entries: list[tuple[int, int, Network, str]] = []
        for order, (trunk, networks) in enumerate(peers.items()):
            entries.extend((-net.prefixlen, order, net, trunk) for net in networks)
        entries.sort(key=lambda e: (e[0], e[1]))
        self._entries = tuple((net, trunk) for _, _, net, trunk in entries)

    def match(self, host: str) -> str | None:
        """The trunk whose networks hold ``host`` (an IP literal, IPv6 with or without
        brackets; an IPv4-mapped IPv6 address counts as its IPv4 address), else ``None``."""
        try:
            addr = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        for net, trunk in self._entries:
            if addr.version == net.version and addr in net:
                return trunk
        return None


@dataclass(frozen=True, slots=True)
class DidMatch:
    """The call for ``did`` (as configured) goes to ``target``."""

    did: str
    target: Target


@dataclass(frozen=True, slots=True)
class DidNotFound:
    """No DID ``did`` (as received): answer 404."""

    did: str
    status: int = 404
    reason: str = "Not Found"


class DidRouter:
    """DIDs -> targets for one trunk (or all).  ``source``: where the DID is read."""

    def __init__(self, dids: Mapping[str, Target], *, source: DidSource = "request_uri",
                 plan: NumberPlan | None = None) -> None:
        self.source = source
        self._dids = dict(dids)
        self._plan = plan
        self._by_e164: dict[str, str] = {}
        if plan is not None:
            for did in self._dids:
                e164 = plan.normalize(did)
                if e164 is not None:
                    self._by_e164.setdefault(e164, did)

    def did_of(self, *, request_user: str | None, to_user: str | None) -> str:
        """The DID of a request: its Request-URI user or its To user, by ``source``."""
        return (request_user if self.source == "request_uri" else to_user) or ""

    def route(self, *, request_user: str | None, to_user: str | None,
              ) -> DidMatch | DidNotFound:
        did = self.did_of(request_user=request_user, to_user=to_user)
        target = self._dids.get(did)
        if target is not None:
            return DidMatch(did, target)
        if self._plan is not None:
            e164 = self._plan.normalize(did)
            configured = self._by_e164.get(e164) if e164 is not None else None
            if configured is not None:
                return DidMatch(configured, self._dids[configured])
        return DidNotFound(did)
