"""``/api/v1/events``: the event stream over a WebSocket (``docs/events.md``).

A client is subscribed to the committed events *before* its replay (``?since=SEQ``) reads the
store, and every event it is sent has a ``seq`` above the last one sent: an event committed
while the replay runs is either in what the replay reads (committed before the read) or in
the live buffer (published after the subscription), and the seq check drops the overlap.  So
the replay runs into the live stream with no gap and no duplicate.

The live buffer is bounded (``EVENT_QUEUE``): a client that cannot keep up is closed with
``SLOW_CLOSE`` (the switch never waits for it) and reconnects with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketState

from ..call.eventlog import ALL, EventFilter, Scope
from ..store.events import PAGE, EventLog, StoredEvent
from .access import Caller, Ctl
from .auth import Principal, bearer
from .control import Control, CoreUnavailable
from .views import ERRORS

log = structlog.get_logger()
router = APIRouter()

EVENT_QUEUE = 2000  # events buffered per client before it is dropped as too slow
SLOW_CLOSE = 4008  # close code for a client that fell behind
SLOW_REASON = "slow consumer: reconnect with since"
CLOSE_TIMEOUT = 2.0  # s to send the close frame to a client that does not read
EXTRA_KEY = "events"  # Control.extras key of the switch's EventLog


def scope_of(who: Principal, agent_queues: Mapping[str, Collection[str]]) -> Scope:
    """What a token may see, as in the REST API: everything (admin, or a supervisor of every
    queue), its queues and their agents' calls (supervisor), its own calls (agent)."""
    if who.role == "admin" or (who.role == "supervisor" and who.queues is None):
        return ALL
    if who.role == "supervisor":
        queues = who.queues or frozenset()
        return Scope(queues=queues, users=frozenset(
            a for a, qs in agent_queues.items() if any(q in queues for q in qs)))
    return Scope(users=frozenset({who.user}) if who.user else frozenset())


class EventsPage(BaseModel):
    """Stored events after ``since``, oldest first; ask again with ``since=next``."""

    events: list[dict[str, Any]] = Field(
        description="one object per event: seq, type, time (epoch seconds) and its fields "
                    "(docs/events.md)")
    next: int = Field(description="the seq to pass as since for the following page")


@router.get("/api/v1/events", tags=["events"], responses=ERRORS)
async def read_events(who: Caller, ctl: Ctl,
                      since: Annotated[int, Query(ge=0)] = 0,
                      limit: Annotated[int, Query(ge=1, le=PAGE)] = 100,
                      types: str | None = None, queues: str | None = None,
                      agents: str | None = None) -> EventsPage:
    """The stored event stream (the WebSocket's replay, as pages), within the token's
    scope; filters as the WebSocket's (comma-separated)."""
    event_log = ctl.extras.get(EXTRA_KEY)
    if not isinstance(event_log, EventLog):
        raise CoreUnavailable
    flt = EventFilter.of(types=_csv(types), queues=_csv(queues), agents=_csv(agents))
    until = event_log.committed
    page = await event_log.after(since, limit=limit, until=until, flt=flt,
                                 scope=scope_of(who, ctl.agent_queues))
    nxt = page[-1].seq if len(page) == limit else max(since, until)
    return EventsPage(events=[e.wire() for e in page], next=nxt)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v.strip()]


class _Client:
    """One connection's live buffer (filled by the EventLog's publication on the loop)."""

    def __init__(self, flt: EventFilter, scope: Scope, limit: int) -> None:
        self.flt = flt
        self.scope = scope
        self.wants_all = flt == EventFilter() and scope.everything  # no test per event
        self.limit = limit
        self.buffer: deque[StoredEvent] = deque()
        self.wake = asyncio.Event()
        self.dropped = asyncio.Event()  # the buffer overflowed: the client must go

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        if self.dropped.is_set():
            return
        if self.wants_all and len(self.buffer) + len(events) <= self.limit:
            self.buffer.extend(events)
            self.wake.set()
            return
        for ev in events:
            if self.flt.matches(ev.record) and self.scope.allows(ev.record):
                if len(self.buffer) >= self.limit:
                    self.buffer.clear()
                    self.dropped.set()
                    return
                self.buffer.append(ev)
        self.wake.set()


async def _authenticate(ws: WebSocket, ctl: Control, token: str | None) -> Principal | None:
    """The token's principal, or ``None`` after refusing the handshake (401, or 429 for an
    address banned for repeated failures)."""
    addr = ws.client.host if ws.client is not None else "?"
    now = ctl.clock()
    if ctl.gate.banned(addr, now):
        await _deny(ws, 429, "too many failed attempts")
        return None
    given = bearer(ws.headers.get("authorization")) or token
    if not given:  # no guess made: refused, not counted (as the REST API)
        await _deny(ws, 401, "missing or invalid token")
        return None
    who = ctl.tokens.lookup(given)
    if who is None:
        delay = ctl.gate.failed(addr, now)
        log.info("api_auth_failed", client=addr, delay_s=delay, path="events")
        if delay > 0:
            await asyncio.sleep(delay)
        await _deny(ws, 401, "missing or invalid token")
        return None
    ctl.gate.succeeded(addr)
    return who


async def _deny(ws: WebSocket, status: int, detail: str) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await ws.send_denial_response(JSONResponse({"detail": detail}, status_code=status,
                                                   headers=headers))
    else:
        await ws.close(code=1008, reason=detail)


@router.websocket("/api/v1/events")
async def events(ws: WebSocket, since: int | None = None, types: str | None = None,
                 queues: str | None = None, agents: str | None = None,
                 token: str | None = None) -> None:
    """One JSON object per event (``seq``, ``type``, ``time``, fields); ``since`` replays the
    stored events after that ``seq`` first."""
    ctl = ws.app.state.control
    assert isinstance(ctl, Control)
    who = await _authenticate(ws, ctl, token)
    if who is None:
        return
    event_log = ctl.extras.get(EXTRA_KEY)
    if not isinstance(event_log, EventLog) or ctl.signaling() is None:
        await _deny(ws, 503, "the switch is not running")
        return
    flt = EventFilter.of(types=_csv(types), queues=_csv(queues), agents=_csv(agents))
    await ws.accept()
    client = _Client(flt, scope_of(who, ctl.agent_queues), EVENT_QUEUE)
    unsubscribe = event_log.subscribe(client.on_events)
    reader = asyncio.create_task(_drain_input(ws))
    sender = asyncio.create_task(_send(ws, event_log, client, since))
    dropped = asyncio.create_task(client.dropped.wait())
    tasks = (reader, sender, dropped)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if dropped in done:
            unsubscribe()
            sender.cancel()  # it may be stuck in a send the client does not read
            log.warning("events_client_dropped", user=who.user, role=who.role,
                        code=SLOW_CLOSE, buffered=EVENT_QUEUE)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, TimeoutError):
                await asyncio.wait_for(ws.close(code=SLOW_CLOSE, reason=SLOW_REASON),
                                       CLOSE_TIMEOUT)
    finally:
        unsubscribe()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError,
                                     OSError):
                await task


async def _drain_input(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    while ws.application_state == WebSocketState.CONNECTED:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return


async def _send(ws: WebSocket, event_log: EventLog, client: _Client,
                since: int | None) -> None:
    """Replay, then live, until cancelled (the client left or was dropped)."""
    last = event_log.committed if since is None else max(0, since)
    if since is not None:
        while True:
            page = await event_log.after(last, limit=PAGE, flt=client.flt,
                                         scope=client.scope)
            for ev in page:
                await ws.send_text(ev.text())
                last = ev.seq
            if len(page) < PAGE:
                break
    while True:
        while client.buffer:
            ev = client.buffer.popleft()
            if ev.seq > last:
                await ws.send_text(ev.text())
                last = ev.seq
        client.wake.clear()
        await client.wake.wait()
