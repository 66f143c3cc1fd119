"""The trunks' own signaling: OPTIONS keep-alive and outbound registration (pure).

One :class:`TrunkDriver` next to ``Signaling`` owns a :class:`~ccswitch.sip.keepalive.Keepalive`
for each trunk with ``keepalive > 0`` and a
:class:`~ccswitch.sip.registration_client.RegistrationClient` for each trunk with
``register = true``.  Their requests go to the transaction layer toward the trunk's address;
the answers and timeouts of those transactions come back through :meth:`on_response` /
:meth:`on_timeout` (matched by transaction id).  What they report becomes:

- logs: ``trunk_up``, ``trunk_down`` (warning), ``trunk_registered``,
  ``trunk_registration_failed`` (warning), ``trunk_registration_retry``;
- the set of trunks calls skip (``TrunkLegs.down``): a trunk whose keep-alive found it down,
  or that asks to register and is not registered;
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
from ..sip.keepalive import Keepalive, TrunkDown, TrunkUp
from ..sip.registration_client import (
    Registered,
    RegistrationClient,
    RegistrationFailed,
    Retrying,
    Unregistered,
)
from ..sip.transaction import ResponseReceived, TransactionLayer, TransactionTimeout
from ..sip.uri import SipUri

log = structlog.get_logger()


@dataclass(slots=True)
class _Trunk:
    name: str
    dest: Address
    keepalive: Keepalive | None = None
    registration: RegistrationClient | None = None


class TrunkDriver:
    """Keep-alive and registration of every trunk that asks for them."""

    def __init__(self, *, trunks: Mapping[str, TrunkConfig], txn: TransactionLayer, ids: Ids,
                 local: Callable[[str], LocalContact], domain: str, user_agent: str,
                 rng: random.Random, down: set[str],
                 addresses: Callable[[str], tuple[Address, ...]]) -> None:
        self._cfg = dict(trunks)
        self._txn = txn
        self._ids = ids
        self._local = local
        self._domain = domain
        self._ua = user_agent
        self._rng = rng
        self._down = down  # shared with TrunkLegs: trunks calls skip
        self._addresses = addresses  # TrunkLegs.addresses: configured or found by RFC 3263
        self._trunks: dict[str, _Trunk] = {}
        self._txns: dict[str, str] = {}  # our OPTIONS/REGISTER txn -> trunk
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
        registration go to the first one, and start with the first answer."""
        t = self._trunks.get(name)
        if t is None:
            if self.started and self._start_trunk(name, now):
                self.handle_timer(now)
            return
        where = self._addresses(name)
        if where:
            t.dest = where[0]

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
            t.keepalive = Keepalive(trunk=name, uri=uri,
                                    from_uri=f"sip:ccswitch@{self._domain}", me=me,
                                    ids=self._ids, now=now, interval=cfg.keepalive,
                                    down_after=cfg.keepalive_misses, user_agent=self._ua)
            self.up[name] = True
        if cfg.register and cfg.username is not None and cfg.password is not None:
            auth = DigestClient(user=cfg.username, password=cfg.password, ids=self._ids,
                                realm=cfg.realm)
            domain = cfg.realm or cfg.host
            t.registration = RegistrationClient(
                trunk=name, registrar=uri, aor=f"sip:{cfg.username}@{domain}", me=me,
                ids=self._ids, rng=self._rng, auth=auth, expires=cfg.expires,
                contact_user=cfg.username, user_agent=self._ua)
            self.registered[name] = False
            t.registration.start(now)
        self._trunks[name] = t
        return True

    def stop(self, now: float) -> None:
        """Unregister (the answers are not waited for) and stop probing."""
        for t in self._trunks.values():
            if t.keepalive is not None:
                t.keepalive.stop()
            if t.registration is not None and t.registration.registered:
                t.registration.stop(now)
        self._flush(now)

    # -- the transaction layer's reports -------------------------------------------------
    def on_response(self, ev: ResponseReceived, now: float) -> bool:
        name = self._txns.get(ev.txn_id)
        if name is None:
            return False
        if ev.response.status >= 200:
            del self._txns[ev.txn_id]
        t = self._trunks[name]
        method = ev.response.cseq.method
        if method == "OPTIONS" and t.keepalive is not None:
            t.keepalive.receive(ev.response, now)
        elif method == "REGISTER" and t.registration is not None:
            t.registration.receive(ev.response, now)
        self._flush(now)
        return True

    def on_timeout(self, ev: TransactionTimeout, now: float) -> bool:
        name = self._txns.pop(ev.txn_id, None)
        if name is None:
            return False
        t = self._trunks[name]
        method = ev.request.method
        if method == "OPTIONS" and t.keepalive is not None:
            t.keepalive.timed_out(now)
        elif method == "REGISTER" and t.registration is not None:
            t.registration.timed_out(now)
        self._flush(now)
        return True

    # -- time ----------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        ds = [d for t in self._trunks.values()
              for d in ((t.keepalive.next_deadline() if t.keepalive else None),
                        (t.registration.next_deadline() if t.registration else None))
              if d is not None]
        return min(ds) if ds else None

    def handle_timer(self, now: float) -> None:
        for t in self._trunks.values():
            if t.keepalive is not None:
                t.keepalive.handle_timer(now)
            if t.registration is not None:
                t.registration.handle_timer(now)
        self._flush(now)

    # -- internals -----------------------------------------------------------------------
    def _flush(self, now: float) -> None:
        for name, t in self._trunks.items():
            out = [*(t.keepalive.outbox() if t.keepalive else ()),
                   *(t.registration.outbox() if t.registration else ())]
            for req in out:
                self._txns[self._txn.send_request(req, t.dest, now)] = name
            if t.keepalive is not None:
                for kev in t.keepalive.events():
                    self._keepalive_event(kev)
            if t.registration is not None:
                for rev in t.registration.events():
                    self._registration_event(rev)

    def _keepalive_event(self, ev: TrunkUp | TrunkDown) -> None:
        if isinstance(ev, TrunkUp):
            self.up[ev.trunk] = True
            log.info("trunk_up", trunk=ev.trunk, status=ev.status)
        else:
            self.up[ev.trunk] = False
            log.warning("trunk_down", trunk=ev.trunk, misses=ev.misses)
        self._update(ev.trunk)

    def _registration_event(self, ev: Registered | RegistrationFailed | Retrying
                            | Unregistered) -> None:
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
