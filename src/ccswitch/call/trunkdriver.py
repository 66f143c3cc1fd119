"""The trunks' own signaling: OPTIONS keep-alive and outbound registration (pure).

One :class:`TrunkDriver` next to ``Signaling`` owns a :class:`~ccswitch.sip.probes.TrunkProbes`
(an OPTIONS keep-alive per address) for each trunk with ``keepalive > 0`` and a
:class:`~ccswitch.sip.registration_client.RegistrationClient` for each trunk with
``register = true``.  Both follow the trunk's addresses (``TrunkLegs.addresses``: the configured
one, or a domain's RFC 3263 targets in order) and every new DNS answer (:meth:`located`):

- each address is probed; the trunk is down only when no address answers (an address that
  stops answering is logged, ``trunk_address_down``, and tried last by calls and by the
  registration: ``TrunkLegs.down_addresses``);
- a REGISTER that times out or gets 503 goes to the next address at once (RFC 3263 §4.3,
  ``trunk_registration_moved``); the attempt fails and backs off only when every address
  failed; a new DNS answer without the registrar the binding is at registers at the new first
  address at once.

Their requests go to the transaction layer toward the address each is for; the answers and
timeouts of those transactions come back through :meth:`on_response` / :meth:`on_timeout`
(matched by transaction id).  What they report becomes:

- logs: ``trunk_up``, ``trunk_down`` (warning), ``trunk_address_up``, ``trunk_address_down``
  (warning), ``trunk_registered``, ``trunk_registration_failed`` (warning),
  ``trunk_registration_moved``, ``trunk_registration_retry``;
- the set of trunks calls skip (``TrunkLegs.down``): a trunk whose keep-alive found every
  address down, or that asks to register and is not registered;
- :attr:`TrunkDriver.up` and :attr:`TrunkDriver.registered`, read for ``/metrics``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from ..config.trunks import TrunkConfig
from ..ids import Ids
from ..sip.addr import Address
from ..sip.client_auth import DigestClient
from ..sip.dialog import LocalContact
from ..sip.keepalive import TrunkUp
from ..sip.probes import AddressDown, AddressUp, ProbeEvent, TrunkProbes, tried_order
from ..sip.registration_client import (
    RegEvent,
    Registered,
    RegistrationClient,
    RegistrationFailed,
    RegistrationMoved,
    Retrying,
)
from ..sip.transaction import ResponseReceived, TransactionLayer, TransactionTimeout
from ..sip.uri import SipUri

log = structlog.get_logger()


@dataclass(slots=True)
class _Trunk:
    name: str
    dest: Address  # the first address: where requests go when no machine chose one
    probes: TrunkProbes | None = None
    registration: RegistrationClient | None = None


class TrunkDriver:
    """Keep-alive and registration of every trunk that asks for them."""

    def __init__(self, *, trunks: Mapping[str, TrunkConfig], txn: TransactionLayer, ids: Ids,
                 local: Callable[[str], LocalContact], domain: str, user_agent: str,
                 rng: random.Random, down: set[str],
                 addresses: Callable[[str], tuple[Address, ...]],
                 down_addresses: dict[str, frozenset[Address]] | None = None) -> None:
        self._cfg = dict(trunks)
        self._txn = txn
        self._ids = ids
        self._local = local
        self._domain = domain
        self._ua = user_agent
        self._rng = rng
        self._down = down  # shared with TrunkLegs: trunks calls skip
        self._addresses = addresses  # TrunkLegs.addresses: configured or found by RFC 3263
        # shared with TrunkLegs: each trunk's addresses the keep-alive found down
        self.down_addresses = down_addresses if down_addresses is not None else {}
        self._trunks: dict[str, _Trunk] = {}
        self._txns: dict[str, tuple[str, Address]] = {}  # our OPTIONS/REGISTER txn -> trunk
        self.up: dict[str, bool] = {}  # by trunk with a keep-alive
        self.registered: dict[str, bool] = {}  # by trunk that registers
        self.started = False
        for name, cfg in self._cfg.items():
            if cfg.register:
                self._down.add(name)  # no calls through it until it is registered

    def start(self, now: float) -> None:
        """Start the probes and registrations (the first ones go out at ``now``)."""
        if self.started:
            return
        self.started = True
        for name in self._cfg:
            self._start_trunk(name, now)
        self.handle_timer(now)  # the first probes are due now

    def located(self, name: str, now: float) -> None:
        """``name``'s addresses changed (a domain trunk's DNS answer): its probes and
        registration follow them (they start with the first answer)."""
        t = self._trunks.get(name)
        if t is None:
            if self.started and self._start_trunk(name, now):
                self.handle_timer(now)
            return
        where = self._addresses(name)
        if not where:
            return
        t.dest = where[0]
        if t.probes is not None:
            t.probes.retarget(where, now)
            self.down_addresses[name] = t.probes.down_addresses
        if t.registration is not None:
            t.registration.retarget(self._order(name), now)
        self._flush(now)

    def _order(self, name: str) -> tuple[Address, ...]:
        return tried_order(self._addresses(name), self.down_addresses.get(name, frozenset()))

    def registrar(self, name: str) -> Address | None:
        """Where ``name``'s REGISTERs go now (None: it does not register or has no address)."""
        t = self._trunks.get(name)
        if t is None or t.registration is None:
            return None
        return t.registration.dest or t.dest

    def _start_trunk(self, name: str, now: float) -> bool:
        cfg = self._cfg[name]
        where = self._addresses(name)
        if not where:
            return False  # a domain not resolved yet: started by located()
        dest = where[0]
        me = self._local(dest.transport)
        port = cfg.address.port if cfg.address is not None else None
        uri = str(SipUri(host=cfg.host, port=port,
                         params={} if dest.transport == "udp" else {
                             "transport": dest.transport}))
        t = _Trunk(name, dest)
        if cfg.keepalive > 0:
            t.probes = TrunkProbes(trunk=name, uri=uri, from_uri=f"sip:ccswitch@{self._domain}",
                                   local=self._local, ids=self._ids, interval=cfg.keepalive,
                                   down_after=cfg.keepalive_misses, user_agent=self._ua)
            t.probes.retarget(where, now)
            self.up[name] = True
        if cfg.register and cfg.username is not None and cfg.password is not None:
            auth = DigestClient(user=cfg.username, password=cfg.password, ids=self._ids,
                                realm=cfg.realm)
            domain = cfg.realm or cfg.host
            t.registration = RegistrationClient(
                trunk=name, registrar=uri, aor=f"sip:{cfg.username}@{domain}", me=me,
                ids=self._ids, rng=self._rng, auth=auth, expires=cfg.expires,
                contact_user=cfg.username, user_agent=self._ua, targets=self._order(name))
            self.registered[name] = False
            t.registration.start(now)
        self._trunks[name] = t
        return True

    def stop(self, now: float) -> None:
        """Unregister (the answers are not waited for) and stop probing."""
        for t in self._trunks.values():
            if t.probes is not None:
                t.probes.stop()
            if t.registration is not None and t.registration.registered:
                t.registration.stop(now)
        self._flush(now)

    # -- the transaction layer's reports -------------------------------------------------
    def on_response(self, ev: ResponseReceived, now: float) -> bool:
        found = self._txns.get(ev.txn_id)
        if found is None:
            return False
        if ev.response.status >= 200:
            del self._txns[ev.txn_id]
        name, dest = found
        t = self._trunks[name]
        method = ev.response.cseq.method
        if method == "OPTIONS" and t.probes is not None:
            t.probes.receive(dest, ev.response, now)
        elif method == "REGISTER" and t.registration is not None:
            t.registration.receive(ev.response, now)
        self._flush(now)
        return True

    def on_timeout(self, ev: TransactionTimeout, now: float) -> bool:
        found = self._txns.pop(ev.txn_id, None)
        if found is None:
            return False
        name, dest = found
        t = self._trunks[name]
        method = ev.request.method
        if method == "OPTIONS" and t.probes is not None:
            t.probes.timed_out(dest, now, ev.request.cseq.seq)
        elif method == "REGISTER" and t.registration is not None:
            t.registration.timed_out(now, ev.request.cseq.seq)
        self._flush(now)
        return True

    # -- time ----------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        ds = [d for t in self._trunks.values()
              for d in ((t.probes.next_deadline() if t.probes else None),
                        (t.registration.next_deadline() if t.registration else None))
              if d is not None]
        return min(ds) if ds else None

    def handle_timer(self, now: float) -> None:
        for t in self._trunks.values():
            if t.probes is not None:
                t.probes.handle_timer(now)
            if t.registration is not None:
                t.registration.handle_timer(now)
        self._flush(now)

    # -- internals -----------------------------------------------------------------------
    def _flush(self, now: float) -> None:
        for name, t in self._trunks.items():
            if t.probes is not None:
                for dest, req in t.probes.outbox():
                    self._txns[self._txn.send_request(req, dest, now)] = (name, dest)
                for kev in t.probes.events():
                    self._keepalive_event(t, kev, now)
                if self.up.get(name) != t.probes.up:  # e.g. a new address while all were down
                    self.up[name] = t.probes.up
                    self._update(name)
            if t.registration is not None:
                for rev in t.registration.events():
                    self._registration_event(rev)
                for req in t.registration.outbox():
                    dest = t.registration.dest or t.dest
                    self._txns[self._txn.send_request(req, dest, now)] = (name, dest)

    def _keepalive_event(self, t: _Trunk, ev: ProbeEvent, now: float) -> None:
        if isinstance(ev, AddressUp | AddressDown):
            assert t.probes is not None
            self.down_addresses[t.name] = t.probes.down_addresses
            if isinstance(ev, AddressUp):
                log.info("trunk_address_up", trunk=ev.trunk, dest=str(ev.dest),
                         status=ev.status)
            else:
                log.warning("trunk_address_down", trunk=ev.trunk, dest=str(ev.dest),
                            misses=ev.misses)
            if t.registration is not None:  # later attempts try the answering ones first
                t.registration.retarget(self._order(t.name), now)
            return
        if isinstance(ev, TrunkUp):
            self.up[ev.trunk] = True
            log.info("trunk_up", trunk=ev.trunk, status=ev.status)
        else:
            self.up[ev.trunk] = False
            log.warning("trunk_down", trunk=ev.trunk, misses=ev.misses)
        self._update(ev.trunk)

    def _registration_event(self, ev: RegEvent) -> None:
        if isinstance(ev, RegistrationMoved):
            log.info("trunk_registration_moved", trunk=ev.trunk, dest=str(ev.dest),
                     next=str(ev.next), status=ev.status)
            return
        if isinstance(ev, Registered):
            self.registered[ev.trunk] = True
            log.info("trunk_registered", trunk=ev.trunk, expires=ev.expires)
        elif isinstance(ev, RegistrationFailed):
            self.registered[ev.trunk] = False
            log.warning("trunk_registration_failed", trunk=ev.trunk, status=ev.status,
                        why=ev.why)
        elif isinstance(ev, Retrying):
            log.info("trunk_registration_retry", trunk=ev.trunk, attempt=ev.attempt,
                     delay=round(ev.delay, 1))
        else:
            self.registered[ev.trunk] = False
            log.info("trunk_unregistered", trunk=ev.trunk)
        self._update(ev.trunk)

    def _update(self, trunk: str) -> None:
        if self.up.get(trunk, True) and self.registered.get(trunk, True):
            self._down.discard(trunk)
        else:
            self._down.add(trunk)
