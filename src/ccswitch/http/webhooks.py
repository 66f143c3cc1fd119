"""Webhooks: every event of the stream POSTed to the configured URLs (shell).

One task per hook, in the daemon's loop, drives the hook's pure :class:`Outbox`: it reads the
next page of stored events after the hook's position (``EventLog.after``, in a thread), POSTs
them one at a time in order with ``httpx.AsyncClient`` (each body the event's JSON object,
signed in ``X-Ccswitch-Signature``), retries a failure after the outbox's back-off, and records
how far it got in the ``webhook_delivered`` table through the writer.  It sleeps while there is
nothing to send and wakes when new events are committed.  Nothing here runs in the call path:
a receiver that is slow or down only grows the hook's backlog (``backlog()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import httpx
import structlog

from ..call.eventlog import EventFilter
from ..call.outbox import SIGNATURE_HEADER, Backoff, Outbox, Pending, sign
from ..config.webhooks import WebhookConfig
from ..store.db import DB_ERRORS
from ..store.events import PAGE, EventLog, StoredEvent

_READ_ERRORS: tuple[type[Exception], ...] = (OSError, *DB_ERRORS)

log = structlog.get_logger()

USER_AGENT = "ccswitch-webhook/1"


def body_of(ev: StoredEvent) -> bytes:
    """The POST body of an event: its wire object as compact JSON."""
    return ev.text().encode()


class Hook:
    """One configured URL and its outbox."""

    def __init__(self, config: WebhookConfig, *, delivered: int) -> None:
        self.config = config
        self.name = config.name or config.url
        self.filter = EventFilter.of(types=config.types, queues=config.queues)
        self.outbox = Outbox(delivered=delivered,
                             backoff=Backoff(cap=config.retry_max))
        self.wake = asyncio.Event()
        self.saving = False  # a ``webhook_delivered`` write is with the writer
        self.saved = delivered
        self.last_error = ""


class Webhooks:
    """The hooks of the configuration, each delivered by its own task."""

    def __init__(self, hooks: Sequence[WebhookConfig], *, events: EventLog,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._events = events
        self._clock = clock
        self._transport = transport
        self.hooks = self._hooks(hooks)
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._stopped = False

    def _hooks(self, configs: Sequence[WebhookConfig]) -> list[Hook]:
        stored = self._events.delivered() if configs else {}
        hooks = [Hook(h, delivered=stored.get(h.name or h.url, 0)) for h in configs]
        for hook in hooks:
            if hook.name not in stored:
                # a new hook starts with the events from now on, not the whole history
                hook.outbox.load((), self._events.committed)
                hook.saved = -1
        return hooks

    def start(self) -> None:
        self._unsubscribe = self._events.subscribe(self._on_events)
        for hook in self.hooks:
            self._start(hook)

    def _start(self, hook: Hook) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport,
                                             headers={"User-Agent": USER_AGENT})
        self._save(hook)
        self._tasks[hook.name] = asyncio.create_task(self._run(hook),
                                                     name=f"webhook:{hook.name}")

    async def _stop(self, hook: Hook) -> None:
        task = self._tasks.pop(hook.name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hook.outbox.delivered != hook.saved:  # whatever write is still pending
            self._events.mark_delivered(hook.name, hook.outbox.delivered, time.time())
            hook.saved = hook.outbox.delivered

    async def reload(self, configs: Sequence[WebhookConfig]) -> None:
        """Take a new configuration's hooks: an unchanged hook goes on undisturbed, a removed
        one stops (its stored position stays, should it come back), a changed or new one
        starts from its stored position (a new name: from the next event)."""
        wanted = {c.name or c.url: c for c in configs}
        kept: list[Hook] = []
        for hook in self.hooks:
            if wanted.get(hook.name) == hook.config:
                kept.append(hook)
            else:
                await self._stop(hook)
        have = {h.name for h in kept}
        fresh = self._hooks([c for name, c in wanted.items() if name not in have])
        self.hooks = [*kept, *fresh]
        self.hooks.sort(key=lambda h: list(wanted).index(h.name))
        for hook in fresh:
            self._start(hook)
        log.info("webhooks_reloaded", hooks=[h.name for h in self.hooks],
                 started=[h.name for h in fresh])

    def backlog(self) -> dict[str, int]:
        """Events not yet delivered, per hook (an upper bound; for the metrics)."""
        return {h.name: h.outbox.backlog(self._events.committed) for h in self.hooks}

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopped = True
        for hook in self.hooks:
            await self._stop(hook)
        if self._client is not None:
            await self._client.aclose()

    # -- the loop's side ---------------------------------------------------------------
    def _on_events(self, events: Sequence[StoredEvent]) -> None:
        for hook in self.hooks:
            hook.wake.set()

    def _save(self, hook: Hook) -> None:
        """Persist the hook's position, one write at a time (later positions coalesce)."""
        if self._stopped or hook.saving or hook.outbox.delivered == hook.saved:
            return
        hook.saving = True
        seq = hook.outbox.delivered

        def done() -> None:
            hook.saving = False
            hook.saved = seq
            self._save(hook)
        self._events.mark_delivered(hook.name, seq, time.time(), done)

    async def _run(self, hook: Hook) -> None:
        while True:
            try:
                await self._deliver(hook)
            except _READ_ERRORS as e:  # a failed read: try again in a moment
                log.error("webhook_read_failed", hook=hook.name, error=str(e))
                await asyncio.sleep(1.0)

    async def _deliver(self, hook: Hook) -> None:
        box = hook.outbox
        while True:
            if box.needs_page:
                hook.wake.clear()
                until = self._events.committed
                page = await self._events.after(box.scanned, limit=PAGE, until=until,
                                                flt=hook.filter)
                scanned = page[-1].seq if len(page) == PAGE else until
                box.load([Pending(e.seq, body_of(e)) for e in page], scanned)
                self._save(hook)
                if box.needs_page:
                    await hook.wake.wait()
                    continue
            item = box.due(self._clock())
            if item is None:
                deadline = box.next_deadline()
                delay = 0.0 if deadline is None else max(0.0, deadline - self._clock())
                await asyncio.sleep(delay)
                continue
            if await self._post(hook, item):
                box.succeeded(item.seq)
                self._save(hook)
            else:
                retry = box.failed(item.seq, self._clock())
                log.warning("webhook_failed", hook=hook.name, seq=item.seq,
                            attempt=box.attempts, error=hook.last_error,
                            retry_in=round(retry - self._clock(), 2))

    async def _post(self, hook: Hook, item: Pending) -> bool:
        assert self._client is not None
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: sign(hook.config.secret, item.body),
                   "X-Ccswitch-Seq": str(item.seq)}
        try:
            resp = await self._client.post(hook.config.url, content=item.body, headers=headers,
                                           timeout=hook.config.timeout)
        except httpx.HTTPError as e:
            hook.last_error = f"{type(e).__name__}: {e}"
            return False
        if 200 <= resp.status_code < 300:
            return True
        hook.last_error = f"HTTP {resp.status_code}"
        return False
