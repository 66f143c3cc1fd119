"""Inbound calls from carriers: which trunk a request comes from, and where its DID goes (pure).

- :class:`TrunkPeers` recognises a trunk by the source address of a request: each trunk lists
  :class:`Peer` entries, an IP address or CIDR network (``ipaddress``) with an optional port
  (``127.0.0.1:5070``: two carriers on one host, as in the demo, differ by port only).  The
  most specific entry wins when they overlap (the longer network, then the one with a port),
  then the trunk listed first.  A request from a trunk peer is not challenged: the address is
  its authentication (the carrier's calls; never a route to another trunk).
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

__all__ = ["DidMatch", "DidNotFound", "DidRouter", "DidSource", "Network", "Peer", "TrunkPeers",
           "parse_network", "parse_peer"]

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
DidSource: TypeAlias = Literal["request_uri", "to"]


def parse_network(text: str) -> Network:
    """An address (``192.0.2.10``, ``::1``) or a network (``192.0.2.0/24``); host bits set in a
    network are an error (``192.0.2.1/24``), raised as ``ValueError``."""
    return ipaddress.ip_network(text.strip().strip("[]"), strict=True)


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a trunk's requests come from: a network and, optionally, one source port."""

    network: Network
    port: int | None = None

    def __str__(self) -> str:
        net = str(self.network.network_address) if self.network.num_addresses == 1 else str(
            self.network)
        if self.port is None:
            return net
        return f"[{net}]:{self.port}" if self.network.version == 6 else f"{net}:{self.port}"


def parse_peer(text: str) -> Peer:
    """``IP``, ``IP/LEN``, ``IPv4:PORT`` or ``[IPv6]:PORT`` (``ValueError`` when it is none)."""
    text = text.strip()
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"unclosed '[' in {text!r}")
        if not rest:
            return Peer(parse_network(inner))
        if not rest.startswith(":"):
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        return Peer(parse_network(inner), _port(rest[1:]))
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return Peer(parse_network(host), _port(port))
    return Peer(parse_network(text))


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port must be a number 1-65535, got {text!r}")
    return int(text)


_SEEN_MAX = 4096  # sources whose trunk (or none) ``TrunkPeers.match`` remembers


class TrunkPeers:
    """Trunk name -> its peers; :meth:`match` names the trunk a source address belongs to."""

    def __init__(self, peers: Mapping[str, Sequence[Peer]]) -> None:
        entries: list[tuple[tuple[int, bool, int], Peer, str]] = []
        for order, (trunk, listed) in enumerate(peers.items()):
            entries.extend(((-p.network.prefixlen, p.port is None, order), p, trunk)
                           for p in listed)
        entries.sort(key=lambda e: e[0])
        self._entries = tuple((p.network, p.port, trunk) for _, p, trunk in entries)
        # answers by source (every INVITE asks; the peers never change): bounded, since
        # sources are whatever the network sends
        self._seen: dict[tuple[str, int | None], str | None] = {}

    def match(self, host: str, port: int | None = None) -> str | None:
        """The trunk one of whose peers holds ``host`` (an IP literal, IPv6 with or without
        brackets; an IPv4-mapped IPv6 address counts as its IPv4 address) and ``port`` (when
        the peer names one), else ``None``."""
        key = (host, port)
        try:
            return self._seen[key]
        except KeyError:
            pass
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        found = self._seen[key] = self._match(host, port)
        return found

    def _match(self, host: str, port: int | None) -> str | None:
        try:
            addr = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        for net, peer_port, trunk in self._entries:
            if (addr.version == net.version and addr in net
                    and (peer_port is None or peer_port == port)):
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
