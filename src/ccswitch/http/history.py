"""The call history: ``/api/v1/cdrs``, ``/api/v1/queue-events`` and ``/api/v1/recordings``.

Rows are read by ``store/history.py`` on a read-only connection in a worker thread.  Filters
``from``/``to`` (ISO 8601, or epoch seconds), ``queue``, ``agent``, ``caller``; ``format=json``
answers one page (``limit`` rows after ``cursor``, and ``next_cursor`` when more may follow),
``ndjson`` and ``csv`` stream every matching row after ``cursor`` (at most ``limit`` when it
is given), read a page at a time.  A token sees the rows of its scope: a supervisor its
queues and their agents, an agent its own calls.  A recording downloads with ``Range``
support (206 / 416); every download is logged (``recording_download``), and every recording
listed or downloaded gets a row in the access log (``store/recordings.py``).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..store.compliance import Compliance, Reader
from ..store.history import (
    MAX_PAGE,
    Cdr,
    History,
    HistoryFilter,
    HistoryReader,
    QueueEventRow,
    Recording,
    RowScope,
)
from .access import Caller, Ctl, forbidden
from .app import API
from .auth import Principal
from .control import Control, CoreUnavailable
from .views import NOT_FOUND, missing

log = structlog.get_logger()
router = APIRouter(prefix=API, responses=NOT_FOUND)
EXTRA_KEY = "history"  # Control.extras key of the switch's History
COMPLIANCE_KEY = "recording_compliance"  # ... of its recording Compliance (access log)
STREAM_PAGE = 500
Format = Literal["json", "ndjson", "csv"]
R = TypeVar("R", Cdr, QueueEventRow, Recording)
STREAMED: dict[int | str, dict[str, Any]] = {200: {"content": {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}}},
    "description": "format=json: one page; ndjson/csv: every matching row, streamed"}}


class CdrLegOut(BaseModel):
    """One leg of a call (``docs/storage.md``, ``cdr_legs``): every fork rung, the caller's
    leg, transfer targets, third parties, trunk legs, in the order they were made."""

    leg_id: str
    role: str = Field(description="caller, callee, agent, transfer, party, supervisor, "
                                  "replaces or trunk")
    party: str = Field(description="the user, agent or TRUNK:NUMBER")
    started: datetime
    answered: datetime | None
    ended: datetime
    status: int | None = Field(description="its final SIP status (the caller's: ours to it)")
    reason: str
    ended_by: str = Field(description="party, peer, switch or media")
    codec: str | None = Field(description="the negotiated codec (null: no media)")
    call_end: str | None = Field(description="caller/callee: one of the call's two ends when "
                                             "it ended (its quality figures are then set)")
    mos: float | None = None
    r: float | None = None
    loss: float | None = Field(default=None, description="packet loss, per cent")
    jitter: float | None = Field(default=None, description="interarrival jitter, ms")
    rtt: float | None = Field(default=None, description="RTCP round trip, ms")


class TransferOut(BaseModel):
    """One transfer of the call, in order."""

    kind: str = Field(description="blind or attended")
    by: str = Field(description="the transferor (agent or user)")
    target: str
    at: datetime
    via: str = Field(description="refer (a phone) or api")
    result: str | None = Field(description="answered, failed:STATUS; null: still going on "
                                           "when the call ended")


class CdrOut(BaseModel):
    """One call attempt: times are ISO 8601 (UTC); ``status`` the SIP final status."""

    id: int
    call_id: str
    caller: str
    callee: str
    started: datetime
    answered: datetime | None
    ended: datetime
    duration_s: float = Field(description="from start to end")
    talk_s: float = Field(description="from answer to end (0 if never answered)")
    status: int
    reason: str
    ended_by: str
    queue: str | None
    agent: str | None
    recording_id: int | None
    recording_state: str | None
    recording_seconds: float | None
    sip_call_id: str | None
    transfer: str | None
    transferred_by: str | None
    mos_caller: float | None = Field(default=None, description="E-model MOS of the caller's "
                                     "leg (null: not measured; docs/quality.md)")
    mos_callee: float | None = Field(default=None, description="E-model MOS of the answered "
                                     "leg")
    transfers: list[TransferOut] = Field(default_factory=list, description="every transfer, "
                                         "in order (csv: compact text)")
    legs: list[CdrLegOut] = Field(default_factory=list, description="every leg (csv: compact "
                                  "text)")


class QueueEventOut(BaseModel):
    """One queue event (``docs/events.md`` names them); ``data``: its fields."""

    id: int
    time: datetime
    event: str
    call_id: str | None
    queue: str | None
    agent: str | None
    data: dict[str, Any]


class PauseOut(BaseModel):
    """A paused span: silence in the file from ``start_s`` to ``end_s`` (seconds from the
    file's start; null: to the end)."""

    start_s: float
    end_s: float | None
    by: str = Field(description="api, desktop or ivr:MENU (who paused it)")
    user: str | None = Field(default=None, description="the token's user or role (api, "
                                                       "desktop)")


class RecordingOut(BaseModel):
    """A recording file; ``state``: recording, complete, failed or repaired; ``deleted``: when
    the retention policy deleted the file (the row stays)."""

    id: int
    call_id: str
    started: datetime
    state: str
    seconds: float | None
    queue: str | None
    agent: str | None
    caller: str | None
    callee: str | None
    file: str = Field(description="the file name")
    size: int | None = Field(description="bytes on disk (null when the file is missing)")
    deleted: datetime | None = None
    pauses: list[PauseOut] = Field(default_factory=list, description="paused spans, in order")


class CdrPage(BaseModel):
    items: list[CdrOut]
    next_cursor: int | None = Field(description="pass as cursor for the next page; null "
                                                "when this page is the last")


class QueueEventPage(BaseModel):
    items: list[QueueEventOut]
    next_cursor: int | None


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    next_cursor: int | None


def _when(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def cdr_out(c: Cdr) -> CdrOut:
    d = asdict(c)
    d.update(started=_when(c.started), answered=_when(c.answered), ended=_when(c.ended),
             duration_s=round(c.ended - c.started, 3),
             talk_s=round(c.ended - c.answered, 3) if c.answered is not None else 0.0,
             transfers=[{**t, "at": _when(t["at"])} for t in c.transfers],
             legs=[{**asdict(g), "started": _when(g.started), "answered": _when(g.answered),
                    "ended": _when(g.ended)} for g in c.legs])
    return CdrOut(**d)


def cdr_flat(d: dict[str, Any]) -> dict[str, Any]:
    """A CDR for a CSV line: ``legs`` as ``ROLE:PARTY:STATUS[:CODEC]`` and ``transfers`` as
    ``KIND:TARGET>BY>RESULT``, each list joined with ``;``."""
    legs = ";".join(":".join(str(x) for x in (g["role"], g["party"], g["status"], g["codec"])
                             if x is not None) for g in d["legs"])
    xfers = ";".join(f"{t['kind']}:{t['target']}>{t['by']}>{t['result'] or ''}"
                     for t in d["transfers"])
    return {**d, "transfers": xfers, "legs": legs}


def _as_is(d: dict[str, Any]) -> dict[str, Any]:
    return d


def event_out(e: QueueEventRow) -> QueueEventOut:
    return QueueEventOut(**{**asdict(e), "time": _when(e.time)})


def recording_out(r: Recording) -> RecordingOut:
    try:
        size: int | None = os.stat(r.path).st_size
    except OSError:
        size = None
    d = {f.name: getattr(r, f.name) for f in fields(r) if f.name != "path"}
    pauses = [PauseOut(start_s=p.start, end_s=p.end, by=p.by, user=p.who) for p in r.pauses]
    return RecordingOut(**{**d, "started": _when(r.started), "file": os.path.basename(r.path),
                           "size": size, "deleted": _when(r.deleted), "pauses": pauses})


def reader_of(who: Principal, request: Request) -> Reader:
    """Who reads, for the recording access log."""
    return Reader(role=who.role, user=who.user,
                  client=request.client.host if request.client is not None else "?")


def log_access(ctl: Control, action: str, recs: Sequence[tuple[int, str | None]],
               reader: Reader) -> None:
    """Write the access rows (when the switch keeps them: ``store/compliance.py``)."""
    c = ctl.extras.get(COMPLIANCE_KEY)
    if isinstance(c, Compliance):
        c.accessed(action, recs, reader)


def history_of(ctl: Control) -> History:
    h = ctl.extras.get(EXTRA_KEY)
    if not isinstance(h, History):
        raise CoreUnavailable
    return h


def row_scope(who: Principal, ctl: Control) -> RowScope | None:
    """``None`` (every row) for the admin and a supervisor of every queue."""
    if who.is_admin or (who.role == "supervisor" and who.queues is None):
        return None
    if who.role == "supervisor":
        queues = who.queues or frozenset()
        return RowScope(queues=queues, agents=frozenset(
            a for a, qs in ctl.agent_queues.items() if any(q in queues for q in qs)))
    return RowScope(users=frozenset({who.user}) if who.user else frozenset())


def _epoch(t: datetime | None) -> float | None:
    if t is None:
        return None
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp()


From = Annotated[datetime | None, Query(alias="from", description="ISO 8601 or epoch s; "
                                        "naive times are UTC")]
To = Annotated[datetime | None, Query(alias="to", description="before this time")]
MAX_ID = 2**63 - 1  # SQLite's largest integer
Cursor = Annotated[int, Query(ge=0, le=MAX_ID, description="next_cursor of the previous page")]
Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE, description="json: page size "
                                    "(default 100); ndjson/csv: at most this many rows")]


def _filter(from_: datetime | None, to: datetime | None, queue: str | None,
            agent: str | None, caller: str | None) -> HistoryFilter:
    return HistoryFilter(since=_epoch(from_), until=_epoch(to), queue=queue, agent=agent,
                         caller=caller)


Query_ = Callable[[HistoryReader, int, int], list[R]]


Seen = Callable[[Sequence[R]], None]
Flat = Callable[[dict[str, Any]], dict[str, Any]]  # a row as its CSV line shows it


def _unseen(rows: Sequence[Any]) -> None:
    pass


async def _answer(history: History, query: Query_[R], out: Callable[[R], BaseModel],
                  page_model: type[BaseModel], fmt: Format, cursor: int,
                  limit: int | None, seen: Seen[R] = _unseen,
                  flat: Flat = _as_is) -> Any:
    """``seen(rows)``: on the loop, the rows handed to the client (each page)."""
    if fmt == "json":
        size = limit or 100
        rows = await asyncio.to_thread(history.read, lambda r: query(r, cursor, size + 1))
        more = len(rows) > size
        rows = rows[:size]
        seen(rows)
        return page_model(items=[out(x) for x in rows],
                          next_cursor=rows[-1].id if more and rows else None)
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(_stream(history, query, out, fmt, cursor, limit, seen, flat),
                             media_type=media)


async def _stream(history: History, query: Query_[R], out: Callable[[R], BaseModel],
                  fmt: Format, cursor: int, limit: int | None,
                  seen: Seen[R], flat: Flat) -> AsyncIterator[str]:
    left = limit
    header = True
    while left is None or left > 0:
        size = STREAM_PAGE if left is None else min(left, STREAM_PAGE)
        rows = await asyncio.to_thread(history.read, functools.partial(
            _call, query, cursor, size))
        if not rows:
            break
        seen(rows)
        dicts = [out(x).model_dump(mode="json") for x in rows]
        if fmt == "ndjson":
            yield "".join(json.dumps(d, separators=(",", ":")) + "\n" for d in dicts)
        else:
            yield _csv([flat(d) for d in dicts], header)
            header = False
        cursor = rows[-1].id
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            break


def _call(query: Query_[R], after: int, size: int, reader: HistoryReader) -> list[R]:
    return query(reader, after, size)


def _csv(rows: Sequence[dict[str, Any]], header: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow(list(rows[0]))
    for d in rows:
        w.writerow(["" if v is None else json.dumps(v, separators=(",", ":"))
                    if isinstance(v, dict | list) else v for v in d.values()])
    return buf.getvalue()


@router.get("/cdrs", tags=["history"], response_model=CdrPage, responses=STREAMED)
async def list_cdrs(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                    queue: str | None = None, agent: str | None = None,
                    caller: str | None = None, cursor: Cursor = 0, limit: Limit = None,
                    format: Format = "json") -> Any:
    """Call-detail records, oldest first, within the token's scope."""
    flt, scope = _filter(from_, to, queue, agent, caller), row_scope(who, ctl)
    return await _answer(history_of(ctl), lambda r, a, n: r.cdrs(flt, scope, after=a, limit=n),
                         cdr_out, CdrPage, format, cursor, limit, flat=cdr_flat)


@router.get("/queue-events", tags=["history"], response_model=QueueEventPage,
            responses=STREAMED)
async def list_queue_events(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                            queue: str | None = None, agent: str | None = None,
                            caller: str | None = None, cursor: Cursor = 0,
                            limit: Limit = None, format: Format = "json") -> Any:
    """The queue event log, oldest first, within the token's scope."""
    flt, scope = _filter(from_, to, queue, agent, caller), row_scope(who, ctl)
    return await _answer(history_of(ctl),
                         lambda r, a, n: r.queue_events(flt, scope, after=a, limit=n),
                         event_out, QueueEventPage, format, cursor, limit)


@router.get("/recordings", tags=["history"], response_model=RecordingPage,
            responses=STREAMED)
async def list_recordings(request: Request, who: Caller, ctl: Ctl, from_: From = None,
                          to: To = None, queue: str | None = None, agent: str | None = None,
                          caller: str | None = None, cursor: Cursor = 0,
                          limit: Limit = None, format: Format = "json") -> Any:
    """Recordings, oldest first, within the token's scope (download: ``/recordings/{id}``);
    each one listed is written to the access log."""
    flt, scope = _filter(from_, to, queue, agent, caller), row_scope(who, ctl)
    reader = reader_of(who, request)

    def seen(rows: Sequence[Recording]) -> None:
        log_access(ctl, "list", [(r.id, r.call_id) for r in rows], reader)

    return await _answer(history_of(ctl),
                         lambda r, a, n: r.recordings(flt, scope, after=a, limit=n),
                         recording_out, RecordingPage, format, cursor, limit, seen)


@router.get("/recordings/{rec_id}", tags=["history"], response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}, "application/octet-stream": {}},
                             "description": "the file"},
                       206: {"description": "the Range asked for"},
                       416: {"description": "the Range is outside the file"}})
async def download_recording(rec_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                             request: Request, who: Caller, ctl: Ctl) -> FileResponse:
    """The recording file; ``Range: bytes=A-B`` gives 206, a range outside it 416."""
    history = history_of(ctl)
    rec = await asyncio.to_thread(history.read, lambda r: r.recording(rec_id))
    scope = row_scope(who, ctl)
    if rec is None or not os.path.isfile(rec.path):
        raise missing(who, "recording")
    if scope is not None and not (rec.queue in scope.queues or rec.agent in scope.agents
                                  or scope.users & {rec.agent, rec.caller, rec.callee}):
        raise forbidden()
    reader = reader_of(who, request)
    log.info("recording_download", recording=rec_id, call_id=rec.call_id, role=who.role,
             user=who.user, client=reader.client, range=request.headers.get("range"))
    log_access(ctl, "download", [(rec_id, rec.call_id)], reader)
    media = mimetypes.guess_type(rec.path)[0] or "application/octet-stream"
    return FileResponse(rec.path, media_type=media, filename=os.path.basename(rec.path))
