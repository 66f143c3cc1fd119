"""The OPTIONS keep-alive of a trunk with several addresses (RFC 3263 targets), sans-IO.

A trunk named by a domain has as many servers as its SRV/A records give.  :class:`TrunkProbes`
runs one :class:`~ccswitch.sip.keepalive.Keepalive` per address, each with its own state
(unknown, up, down after ``down_after`` misses in a row, up again at the first answer), and
derives the trunk's state from them:

- **up** when at least one address answers;
- **down** only when every address is down (no address answers);
- **unknown** otherwise (no answer yet, none down everywhere); calls use an unknown trunk.

So a trunk whose first server dies stays up while another answers: calls and the registration
move past the dead one (:attr:`TrunkProbes.down_addresses`, tried last), and the trunk is
skipped only when none is left.  A trunk with one address behaves exactly like its single
``Keepalive``.

:meth:`retarget` follows a new DNS answer: addresses still listed keep their probe and state,
new ones are probed at once, gone ones stop (their late answers are ignored).  Requests leave
by :meth:`outbox` with the address each goes to; answers and transaction timeouts come back by
:meth:`receive` / :meth:`timed_out` with that address.  Events: :class:`AddressUp`,
:class:`AddressDown` per address and :class:`~ccswitch.sip.keepalive.TrunkUp`,
:class:`~ccswitch.sip.keepalive.TrunkDown` for the trunk (on changes of the derived state).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from ..ids import Ids
from .addr import Address
from .dialog import LocalContact
from .keepalive import Keepalive, KeepaliveState, TrunkDown, TrunkUp
from .message import Request, Response

__all__ = ["AddressDown", "AddressUp", "ProbeEvent", "TrunkProbes", "tried_order", "trunk_state"]


@dataclass(frozen=True, slots=True)
class AddressUp:
    """``dest`` of ``trunk`` answered (``status``) after being unknown or down."""

    trunk: str
    dest: Address
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class AddressDown:
    """``dest`` of ``trunk`` missed ``misses`` probes in a row."""

    trunk: str
    dest: Address
    misses: int
    at: float


ProbeEvent = AddressUp | AddressDown | TrunkUp | TrunkDown


def trunk_state(states: Sequence[KeepaliveState]) -> KeepaliveState:
    """The trunk's state from its addresses' (see the module docstring): up if any is up,
    down if all are down (and there is at least one), else unknown."""
    if any(s is KeepaliveState.UP for s in states):
        return KeepaliveState.UP
    if states and all(s is KeepaliveState.DOWN for s in states):
        return KeepaliveState.DOWN
    return KeepaliveState.UNKNOWN


def tried_order(addresses: Sequence[Address], down: Collection[Address]) -> tuple[Address, ...]:
    """``addresses`` in their order, those found ``down`` moved to the end (tried last rather
    than never: the probes may be behind)."""
    return (*(a for a in addresses if a not in down), *(a for a in addresses if a in down))


class TrunkProbes:
    """Keep-alive of every address of ``trunk`` (see the module docstring).  ``local``: our
    Contact/Via for a transport; the other arguments are each ``Keepalive``'s."""

    def __init__(self, *, trunk: str, uri: str, from_uri: str,
                 local: Callable[[str], LocalContact], ids: Ids, interval: float = 30.0,
                 timeout: float = 5.0, down_after: int = 3, user_agent: str = "") -> None:
        self.trunk = trunk
        self._uri = uri
        self._from = from_uri
        self._local = local
        self._ids = ids
        self._interval = interval
        self._timeout = timeout
        self._down_after = down_after
        self._ua = user_agent
        self._probes: dict[Address, Keepalive] = {}
        self.state = KeepaliveState.UNKNOWN
        self._last_misses = 0
        self._events: list[ProbeEvent] = []

    @property
    def up(self) -> bool:
        """Whether calls may use the trunk: not every address is down."""
        return self.state is not KeepaliveState.DOWN

    @property
    def addresses(self) -> tuple[Address, ...]:
        return tuple(self._probes)

    @property
    def down_addresses(self) -> frozenset[Address]:
        """The addresses whose probes found them down."""
        return frozenset(a for a, k in self._probes.items() if k.state is KeepaliveState.DOWN)

    def retarget(self, addresses: Sequence[Address], now: float) -> None:
        """Probe ``addresses`` from now on (kept ones keep their state; new ones at ``now``)."""
        wanted = dict.fromkeys(addresses)
        for gone in [a for a in self._probes if a not in wanted]:
            self._probes.pop(gone).stop()
        for a in wanted:
            if a not in self._probes:
                self._probes[a] = Keepalive(
                    trunk=self.trunk, uri=self._uri, from_uri=self._from,
                    me=self._local(a.transport), ids=self._ids, now=now,
                    interval=self._interval, timeout=self._timeout,
                    down_after=self._down_after, user_agent=self._ua)
        self._derive(now, 0)

    def stop(self) -> None:
        for k in self._probes.values():
            k.stop()

    # -- inputs ---------------------------------------------------------------------------
    def receive(self, dest: Address, response: Response, now: float) -> None:
        k = self._probes.get(dest)
        if k is not None:
            k.receive(response, now)
            self._collect(dest, k, now, response.status)

    def timed_out(self, dest: Address, now: float, cseq: int | None = None) -> None:
        k = self._probes.get(dest)
        if k is not None:
            k.timed_out(now, cseq)
            self._collect(dest, k, now, 408)

    def handle_timer(self, now: float) -> None:
        for dest, k in list(self._probes.items()):
            k.handle_timer(now)
            self._collect(dest, k, now, 408)

    def next_deadline(self) -> float | None:
        ds = [d for k in self._probes.values() if (d := k.next_deadline()) is not None]
        return min(ds) if ds else None

    def outbox(self) -> list[tuple[Address, Request]]:
        return [(dest, req) for dest, k in self._probes.items() for req in k.outbox()]

    def events(self) -> list[ProbeEvent]:
        out, self._events = self._events, []
        return out

    # -- internals ------------------------------------------------------------------------
    def _collect(self, dest: Address, k: Keepalive, now: float, status: int) -> None:
        for ev in k.events():
            if isinstance(ev, TrunkUp):
                self._events.append(AddressUp(self.trunk, dest, ev.status, ev.at))
            else:
                self._events.append(AddressDown(self.trunk, dest, ev.misses, ev.at))
                self._last_misses = ev.misses
        self._derive(now, status)

    def _derive(self, now: float, status: int) -> None:
        nxt = trunk_state([k.state for k in self._probes.values()])
        if nxt is self.state:
            return
        if nxt is KeepaliveState.UP:
            self._events.append(TrunkUp(self.trunk, status, now))
        elif nxt is KeepaliveState.DOWN:
            self._events.append(TrunkDown(self.trunk, self._last_misses, now))
        self.state = nxt
