"""The composition root: wires the sans-IO signaling core to sockets, timers and stores."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from pathlib import Path

import structlog

from .call.events import CallEnded
from .call.signaling import Listener, Signaling
from .config.schema import SwitchConfig
from .errors import SipParseError
from .ids import Ids
from .io.transport import Transports
from .sip.addr import Address
from .sip.registrar import Binding, BindingsChanged
from .store.bindings import BindingStore

log = structlog.get_logger()

LAG_PERIOD = 0.05  # how often the loop's lateness is measured (s)
LAG_LIMIT = 0.1  # a timer this late means the switch is behind its input (s)
SHED_HOLD = 2.0  # keep shedding new work this long after the last late timer (s)


class Switch:
    """One switch process: SIP transports, the signaling core, its timer and its stores."""

    def __init__(self, config: SwitchConfig) -> None:
        self.config = config
        self.transports = Transports(on_message=self._on_message, on_bad_frame=self._on_bad,
                                     max_size=config.sip.max_message_size)
        self.signaling: Signaling | None = None
        self.store: BindingStore | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, tuple[Binding, ...]] = {}
        self._flush_scheduled = False
        self.stopping = False
        self._shed_until = 0.0
        self._lag_timer: asyncio.TimerHandle | None = None

    async def start(self) -> list[str]:
        """Open the data dir, bind every listen address, restore registrations.

        Raises OSError naming the address that could not be bound.
        """
        self._loop = asyncio.get_running_loop()
        data = Path(self.config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        for lst in self.config.listen:
            try:
                await self.transports.listen(lst.transport, lst.host, lst.port)
            except OSError as e:
                self.transports.close()
                raise OSError(f"cannot listen on {lst.transport}:{lst.host}:{lst.port}: "
                              f"{e.strerror or e}") from e
        listeners = [Listener(b.transport, b.host, b.port) for b in self.transports.bound]
        self.signaling = Signaling(config=self.config, listeners=listeners,
                                   ids=Ids(random.SystemRandom()))
        self.store = BindingStore(data / "ccswitch.db")
        now, wall = self._loop.time(), time.time()
        restored = [dataclasses.replace(b, expires_at=b.expires_at - wall + now)
                    for b in self.store.load()]
        self.signaling.restore_bindings(restored, now)
        self._after()
        self._lag_probe(self._loop.time())
        return [str(Address(b.transport, b.host, b.port)) for b in self.transports.bound]

    # -- the loop glue --------------------------------------------------------------
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _on_message(self, data: bytes, source: Address) -> None:
        if self.stopping:
            return
        assert self.signaling is not None
        self.signaling.receive(data, source, self._now())
        self._after()

    def _on_bad(self, data: bytes, err: SipParseError, source: Address) -> None:
        assert self.signaling is not None
        self.signaling.answer_bad(data, err, source)
        self._after()

    def _on_timer(self) -> None:
        self._timer = None
        self._armed = None
        assert self.signaling is not None
        self.signaling.handle_timer(self._now())
        self._after()

    def _after(self) -> None:
        """Send what the core queued, take its events, re-arm the one timer."""
        sig = self.signaling
        assert sig is not None and self._loop is not None
        for data, dest in sig.outbox():
            self.transports.send(data, dest)
        for ev in sig.events():
            if isinstance(ev, BindingsChanged):
                self._pending[ev.user] = ev.bindings
                if not self._flush_scheduled:
                    self._flush_scheduled = True
                    self._loop.call_soon(self._flush_store)
            elif isinstance(ev, CallEnded):
                log.info("cdr", call_id=ev.call_id, caller=ev.caller, callee=ev.callee,
                         status=ev.status, duration=round(ev.ended - (ev.answered or ev.ended), 3))
        deadline = sig.next_deadline()
        if deadline != self._armed:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._armed = deadline
            if deadline is not None:
                self._timer = self._loop.call_at(deadline, self._on_timer)

    def _lag_probe(self, expected: float) -> None:
        """Measure how late the loop runs a timer; past ``LAG_LIMIT`` the core sheds new work.

        Overload shows as lag before it shows as loss: the kernel queues datagrams while the
        loop is behind, and every late answer brings retransmissions that deepen the backlog.
        """
        assert self._loop is not None and self.signaling is not None
        now = self._loop.time()
        lag = now - expected
        if lag > LAG_LIMIT:
            self._shed_until = now + SHED_HOLD
        shedding = now < self._shed_until
        if shedding != self.signaling.overloaded:
            self.signaling.overloaded = shedding
            log.warning("overload" if shedding else "overload_cleared", lag_ms=round(lag * 1e3))
        self._lag_timer = self._loop.call_at(now + LAG_PERIOD, self._lag_probe, now + LAG_PERIOD)

    def _flush_store(self) -> None:
        self._flush_scheduled = False
        if not self._pending or self.store is None:
            return
        now, wall = self._now(), time.time()
        changes = {u: tuple(dataclasses.replace(b, expires_at=b.expires_at - now + wall)
                            for b in bs) for u, bs in self._pending.items()}
        self._pending.clear()
        self.store.replace(changes)

    async def stop(self) -> None:
        """End every call with BYE, keep registrations, close sockets."""
        if self.signaling is not None:
            self.signaling.shutdown(self._now())
            self._after()
            # give BYEs a moment to be answered (the peers' 200s are absorbed)
            await asyncio.sleep(0.3)
        self._flush_store()
        if self._timer is not None:
            self._timer.cancel()
        if self._lag_timer is not None:
            self._lag_timer.cancel()
        self.transports.close()
        if self.store is not None:
            self.store.close()
