"""Reading the call history: CDRs, queue events and recordings, filtered, in pages.

The API reads ``ccswitch.db`` on its own read-only connection from a worker thread (as
``store/events.py`` replays events), so a long export never waits for, or holds up, the
writer's commits.  Pages follow the rows' ``id`` (a recording's ``rowid``): a cursor is the
last id of a page, and the next page starts after it, so rows added meanwhile are neither
skipped nor repeated.

Filters: ``since``/``until`` (wall-clock seconds: a CDR's start, a queue event's time, a
recording's start), ``queue``, ``agent`` and ``caller`` (a CDR's caller; for a queue event
the number the caller entered with, or the caller of the CDR with the same call id).  The
``RowScope`` narrows it all to what a token may see.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from ..call.events import LegRecord
from .db import POSTGRESQL, Db, Location
from .recordings import Access, RecordingStore, Span

T = TypeVar("T")
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """What to select; ``None`` leaves a field free."""

    since: float | None = None
    until: float | None = None
    queue: str | None = None
    agent: str | None = None
    caller: str | None = None


@dataclass(frozen=True, slots=True)
class RowScope:
    """The rows a token may see: ``None`` everything (admin); else rows of one of ``queues``
    or taken by one of ``agents``, or (``users``) where a user is the caller, callee or agent."""

    queues: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CdrLeg(LegRecord):
    """One leg of a CDR read back (``cdr_legs``, ``docs/storage.md``): the core's record with
    wall-clock times (``media`` is not stored: None) and the quality figures measured after."""

    mos: float | None = None
    r: float | None = None
    loss: float | None = None
    jitter: float | None = None
    rtt: float | None = None


_LEG_FIELDS = tuple(f.name for f in fields(CdrLeg) if f.name != "media")  # its columns too
_LEG_SELECT = f"SELECT call_id, {', '.join(_LEG_FIELDS)} FROM cdr_legs"


@dataclass(frozen=True, slots=True)
class Cdr:
    id: int
    call_id: str
    caller: str
    callee: str
    started: float
    answered: float | None
    ended: float
    status: int
    reason: str
    ended_by: str
    recording_id: int | None
    recording_state: str | None
    recording_seconds: float | None
    sip_call_id: str | None
    queue: str | None
    agent: str | None
    transfer: str | None
    transferred_by: str | None
    mos_caller: float | None = None
    mos_callee: float | None = None
    transfers: list[dict[str, Any]] = field(default_factory=list)  # the chain (cdr.transfers)
    legs: tuple[CdrLeg, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueEventRow:
    id: int
    time: float
    event: str
    call_id: str | None
    queue: str | None
    agent: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    path: str
    call_id: str
    started: float
    state: str
    seconds: float | None
    queue: str | None
    agent: str | None
    caller: str | None
    callee: str | None
    deleted: float | None = None  # when the retention policy deleted the file
    pauses: tuple[Span, ...] = ()  # the paused spans (silence in the file)


def _in(column: str, values: frozenset[str], args: list[Any]) -> str:
    args.extend(sorted(values))
    # an empty set matches nothing: FALSE (1 = 0 in both dialects; PostgreSQL's OR refuses 0)
    return f"{column} IN ({','.join('?' * len(values))})" if values else "1 = 0"


def _scope_sql(scope: RowScope | None, *, queue: str, agent: str, users: Sequence[str],
               args: list[Any]) -> str | None:
    if scope is None:
        return None
    parts = [_in(queue, scope.queues, args), _in(agent, scope.agents, args)]
    parts += [_in(col, scope.users, args) for col in users]
    return "(" + " OR ".join(parts) + ")"


_CDR_SELECT = (
    "SELECT c.id, c.call_id, c.caller, c.callee, c.started, c.answered, c.ended, c.status,"
    " c.reason, c.ended_by, r.{rid}, c.recording_state, c.recording_seconds, c.sip_call_id,"
    " c.queue, c.agent, c.transfer, c.transferred_by, c.mos_caller, c.mos_callee,"
    " c.transfers"
    " FROM cdr c LEFT JOIN recordings r ON r.path = c.recording")
_QE_SELECT = "SELECT q.id, q.time, q.event, q.call_id, q.queue, q.agent, q.data FROM queue_events q"
_REC_SELECT = (
    "SELECT r.{rid}, r.path, r.call_id, r.started, r.state, r.seconds, c.queue, c.agent,"
    " c.caller, c.callee, r.deleted FROM recordings r LEFT JOIN cdr c ON c.recording = r.path")


def _matching(flt: HistoryFilter, time_col: str,
              equal: tuple[tuple[str, str | None], ...]) -> tuple[list[str], list[Any]]:
    """The WHERE terms and arguments of ``flt``'s time range on ``time_col`` and of each
    (column, value) of ``equal`` whose value is set."""
    where: list[str] = []
    args: list[Any] = []
    if flt.since is not None:
        where.append(f"{time_col} >= ?")
        args.append(flt.since)
    if flt.until is not None:
        where.append(f"{time_col} < ?")
        args.append(flt.until)
    for col, value in equal:
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    return where, args


def _by_call(flt: HistoryFilter, scope: RowScope | None,
             time_col: str) -> tuple[list[str], list[Any]]:
    """The WHERE terms and arguments of rows filtered and scoped by their CDR ``c``
    (a CDR's own, a recording's), timed by ``time_col``."""
    where, args = _matching(flt, time_col, (("c.queue", flt.queue), ("c.agent", flt.agent),
                                            ("c.caller", flt.caller)))
    sql = _scope_sql(scope, queue="c.queue", agent="c.agent",
                     users=("c.agent", "c.caller", "c.callee"), args=args)
    if sql is not None:
        where.append(sql)
    return where, args


class HistoryReader:
    """Read-only queries on one connection (the caller serialises use; see ``History``)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        pg = db.kind == POSTGRESQL
        self._rid = "rid" if pg else "rowid"
        # the caller's number a queue event's JSON carries, in each dialect
        self._number = "(q.data::json ->> 'number')" if pg else "json_extract(q.data, '$.number')"

    @property
    def db(self) -> Db:
        """The read-only connection, for reports that run their own queries."""
        return self._db

    def _page(self, select: str, where: list[str], args: list[Any], id_col: str,
              after: int, limit: int) -> list[tuple[Any, ...]]:
        where = [f"{id_col} > ?", *where]
        sql = f"{select} WHERE {' AND '.join(where)} ORDER BY {id_col} LIMIT ?"
        sql = sql.replace("{rid}", self._rid)
        return self._db.execute(sql, (after, *args, limit)).fetchall()

    def cdrs(self, flt: HistoryFilter, scope: RowScope | None, *, after: int = 0,
             limit: int = 100) -> list[Cdr]:
        where, args = _by_call(flt, scope, "c.started")
        rows = self._page(_CDR_SELECT, where, args, "c.id", after, limit)
        legs = self._legs(sorted({r[1] for r in rows}))
        return [replace(Cdr(*r[:-1]), transfers=json.loads(r[-1]) if r[-1] else [],
                        legs=tuple(legs.get(r[1], ()))) for r in rows]

    def _legs(self, call_ids: Sequence[str]) -> dict[str, list[CdrLeg]]:
        """The leg rows of ``call_ids`` (one query a page), each call's in order."""
        out: dict[str, list[CdrLeg]] = {}
        if not call_ids:
            return out
        marks = ",".join("?" * len(call_ids))
        for row in self._db.execute(f"{_LEG_SELECT} WHERE call_id IN ({marks})"
                                    " ORDER BY call_id, n", tuple(call_ids)):
            out.setdefault(row[0], []).append(CdrLeg(**dict(zip(_LEG_FIELDS, row[1:],
                                                                strict=True))))
        return out

    def queue_events(self, flt: HistoryFilter, scope: RowScope | None, *, after: int = 0,
                     limit: int = 100) -> list[QueueEventRow]:
        where, args = _matching(flt, "q.time", (("q.queue", flt.queue),
                                                ("q.agent", flt.agent)))
        if flt.caller is not None:
            where.append(f"({self._number} = ? OR q.call_id IN"
                         " (SELECT call_id FROM cdr WHERE caller = ?))")
            args += [flt.caller, flt.caller]
        sql = _scope_sql(scope, queue="q.queue", agent="q.agent", users=("q.agent",), args=args)
        if sql is not None:
            where.append(sql)
        rows = self._page(_QE_SELECT, where, args, "q.id", after, limit)
        return [QueueEventRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def recordings(self, flt: HistoryFilter, scope: RowScope | None, *, after: int = 0,
                   limit: int = 100) -> list[Recording]:
        where, args = _by_call(flt, scope, "r.started")
        rows = self._page(_REC_SELECT, where, args, "r.{rid}", after, limit)
        return self._with_pauses([Recording(*r) for r in rows])

    def recording(self, rec_id: int) -> Recording | None:
        sql = f"{_REC_SELECT} WHERE r.{{rid}} = ?".replace("{rid}", self._rid)
        row = self._db.execute(sql, (rec_id,)).fetchone()
        return None if row is None else self._with_pauses([Recording(*row)])[0]

    def _with_pauses(self, recs: list[Recording]) -> list[Recording]:
        spans = RecordingStore(self._db).spans(sorted({r.path for r in recs}))
        return [replace(r, pauses=tuple(spans[r.path])) if spans[r.path] else r for r in recs]

    def recording_access(self, *, after: int = 0, limit: int = 100,
                         recording_id: int | None = None) -> list[Access]:
        """The access log (``store/recordings.py``)."""
        return RecordingStore(self._db).access(after=after, limit=limit,
                                               recording_id=recording_id)


class History:
    """The loop's side: ``read(fn)`` runs ``fn(reader)`` on the read-only connection, opened
    on first use; call it through ``asyncio.to_thread``."""

    def __init__(self, where: Path | Location) -> None:
        self.location = where if isinstance(where, Location) else Location(where)
        self._reader: HistoryReader | None = None
        self._conn: Db | None = None
        self._lock = threading.Lock()

    def read(self, fn: Callable[[HistoryReader], T]) -> T:
        with self._lock:
            if self._reader is None:
                db = self.location.connect(read_only=True)
                self._conn, self._reader = db, HistoryReader(db)
            return fn(self._reader)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._reader = None
