"""The durable event stream: every event record (``call/eventlog``) with its global sequence
number, in the store (SQLite or PostgreSQL, see ``db``), written by the database's writer
thread in its batched commits.

:class:`EventLog` is the loop's side.  ``append`` gives each record the next ``seq`` at once
(restored from the table's largest at start-up) and hands the rows to the writer; only when
the writer has committed them (its ``done`` callback, on the loop) are they *published* to the
subscribers (WebSocket clients, webhook senders).  So nobody ever sees a ``seq`` that a crash
could lose and a restarted daemon hand out again, and subscribers see events in ``seq`` order
(the writer commits jobs in the order they were submitted).

:class:`EventStore` is the table; its writes run on the writer's connection, its reads
(``after``: replay for ``?since=``, webhook pages) on a separate read-only connection
(``Location.connect``) from a worker thread (``EventLog.read``), so a replay never waits for,
or holds up, a commit.

The table ``webhook_delivered`` is the webhook outbox: per hook, the last ``seq`` delivered
(the events themselves stay in ``events``), so a restarted daemon resumes each hook where it
stopped.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ..call.eventlog import ALL, EventFilter, EventRecord, Scope, type_matches, wire
from .db import Db, Location, Step, like_escape, migrate
from .writer import Writer

log = structlog.get_logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  seq {int8} PRIMARY KEY, time DOUBLE PRECISION NOT NULL, type TEXT NOT NULL,
  call_id TEXT, agent TEXT, queues TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_call ON events (call_id);
CREATE TABLE IF NOT EXISTS webhook_delivered (
  hook TEXT PRIMARY KEY, seq {int8} NOT NULL, time DOUBLE PRECISION NOT NULL
);
"""
MIGRATIONS: tuple[Step, ...] = (
    SCHEMA,
    # 2: the availability audit reads events by type and time (``reports/audit``)
    "CREATE INDEX IF NOT EXISTS events_type_time ON events (type, time);",
)
PAGE = 500  # rows per read at most
PRUNE_BATCH = 5000  # rows deleted per writer job (a long delete would hold up the CDRs)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A committed record and its sequence number."""

    seq: int
    record: EventRecord
    _text: str | None = field(default=None, compare=False, repr=False)

    def wire(self) -> dict[str, Any]:
        return wire(self.seq, self.record)

    def text(self) -> str:
        """The wire object as compact JSON, made once however many clients and hooks send
        it (the WebSocket frame, the webhook body)."""
        if self._text is None:
            object.__setattr__(self, "_text", json.dumps(self.wire(), separators=(",", ":")))
            assert self._text is not None
        return self._text


def _queues_text(queues: Sequence[str]) -> str:
    # ",a,b," so that one queue is found as ",a," (queue names have no comma)
    return "," + ",".join(queues) + "," if queues else ""


class EventStore:
    """The ``events`` and ``webhook_delivered`` tables on one connection."""

    def __init__(self, db: Path | str | Db | sqlite3.Connection) -> None:
        """Open the file (or DSN) ``db``, or use a connection (the writer thread's); the
        schema is migrated to this version."""
        self._db = Db.wrap(db)
        migrate(self._db, "events", MIGRATIONS)

    @classmethod
    def reader(cls, db: Db) -> EventStore:
        """Reads only, on ``db`` (no migration: the writer's connection did it)."""
        store = cls.__new__(cls)
        store._db = db
        return store

    # -- writes (on the writer thread, inside its batch) ---------------------------------
    def append(self, rows: Iterable[StoredEvent]) -> int:
        values = [(e.seq, e.record.time, e.record.type, e.record.call_id, e.record.agent,
                   _queues_text(e.record.queues),
                   json.dumps(dict(e.record.fields), separators=(",", ":")))
                  for e in rows]
        self._db.executemany(
            "INSERT INTO events (seq, time, type, call_id, agent, queues, data)"
            " VALUES (?,?,?,?,?,?,?)", values)
        return len(values)

    def prune(self, before: float, limit: int = PRUNE_BATCH) -> int:
        """Delete up to ``limit`` of the oldest events whose time is before ``before``
        (wall clock), oldest first; the newest event is always kept, so that the next
        sequence number survives a restart.  Returns how many were deleted."""
        rows = self._db.execute("SELECT seq, time FROM events ORDER BY seq LIMIT ?",
                                (limit,)).fetchall()
        cut = None
        for seq, time in rows:
            if time >= before:
                break
            cut = seq
        if cut is None:
            return 0
        newest = self.last_seq()
        return self._db.execute("DELETE FROM events WHERE seq <= ? AND seq < ?",
                                (cut, newest)).rowcount

    def set_delivered(self, hook: str, seq: int, time: float) -> None:
        self._db.execute(
            "INSERT INTO webhook_delivered (hook, seq, time) VALUES (?,?,?)"
            " ON CONFLICT (hook) DO UPDATE SET seq = CASE WHEN excluded.seq >"
            " webhook_delivered.seq THEN excluded.seq ELSE webhook_delivered.seq END,"
            " time = excluded.time", (hook, seq, time))

    # -- reads ---------------------------------------------------------------------------
    def last_seq(self) -> int:
        row = self._db.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def delivered(self) -> dict[str, int]:
        """The last ``seq`` delivered to each hook."""
        return {h: int(s) for h, s in
                self._db.execute("SELECT hook, seq FROM webhook_delivered")}

    def after(self, seq: int, *, limit: int = PAGE, until: int | None = None,
              flt: EventFilter | None = None, scope: Scope = ALL) -> list[StoredEvent]:
        """Up to ``limit`` events with ``seq`` above ``seq`` (and at most ``until``), in order,
        matching ``flt`` and allowed by ``scope``.  Queue and agent filters run in SQL; types
        (they may name families) and the scope are checked here."""
        where = ["seq > ?"]
        args: list[Any] = [seq]
        if until is not None:
            where.append("seq <= ?")
            args.append(until)
        if flt is not None and flt.queues is not None:
            if not flt.queues:
                return []
            where.append("(" + " OR ".join("queues LIKE ? ESCAPE '!'" for _ in flt.queues)
                         + ")")
            args.extend(f"%,{like_escape(q)},%" for q in sorted(flt.queues))
        if flt is not None and flt.agents is not None:
            if not flt.agents:
                return []
            where.append(f"agent IN ({','.join('?' * len(flt.agents))})")
            args.extend(sorted(flt.agents))
        out: list[StoredEvent] = []
        last = seq
        while len(out) < limit:
            rows = self._db.execute(
                f"SELECT seq, time, type, call_id, agent, queues, data FROM events"
                f" WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                (*args, limit)).fetchall()
            for row in rows:
                ev = _row(row)
                last = ev.seq
                if ((flt is None or flt.types is None
                     or type_matches(flt.types, ev.record.type)) and scope.allows(ev.record)):
                    out.append(ev)
                    if len(out) == limit:
                        break
            if len(rows) < limit:
                break
            args[0] = last
        return out

    def close(self) -> None:
        self._db.close()


def _row(row: tuple[Any, ...]) -> StoredEvent:
    seq, time, type_, call_id, agent, queues, data = row
    return StoredEvent(int(seq), EventRecord(
        type=type_, time=float(time), call_id=call_id, agent=agent,
        queues=tuple(q for q in queues.split(",") if q), fields=json.loads(data)))


Subscriber = Callable[[Sequence[StoredEvent]], None]


class EventLog:
    """Sequence numbers, durable appends through the writer, publication after commit."""

    def __init__(self, writer: Writer, where: Path | Location | None = None) -> None:
        """``where``: the database to read from (default: the writer's)."""
        self._writer = writer
        self.store: EventStore = writer.open(EventStore)
        self.last_seq = writer.call(self.store.last_seq)  # the last handed out
        self.committed = self.last_seq  # the last published (durable)
        self._subscribers: list[Subscriber] = []
        self._read_at = (writer.location if where is None
                         else where if isinstance(where, Location) else Location(where))
        self._reader: EventStore | None = None
        self._read_lock = threading.Lock()
        self.appended = 0

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """``fn`` gets every batch of committed events from now on; returns the unsubscribe."""
        self._subscribers.append(fn)

        def cancel() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)
        return cancel

    def append(self, records: Sequence[EventRecord]) -> None:
        """Number ``records`` and hand them to the writer; they are published once committed.
        Called on the loop."""
        if not records:
            return
        first = self.last_seq + 1
        rows = [StoredEvent(first + i, r) for i, r in enumerate(records)]
        self.last_seq = rows[-1].seq
        self.appended += len(rows)
        store = self.store
        self._writer.submit(lambda: store.append(rows), lambda: self._publish(rows),
                            what="events")

    def mark_delivered(self, hook: str, seq: int, time: float,
                       done: Callable[[], None] | None = None) -> None:
        """Record (through the writer) that ``hook`` has every event up to ``seq``."""
        store = self.store
        self._writer.submit(lambda: store.set_delivered(hook, seq, time), done,
                            what="webhook_delivered")

    def prune(self, before: float, done: Callable[[int], None] | None = None) -> None:
        """Delete events older than ``before`` (wall clock) through the writer, one batch per
        job until none is left; ``done(total)`` on the loop at the end."""
        store = self.store
        deleted: list[int] = []

        def work() -> None:
            deleted.append(store.prune(before))

        def after() -> None:
            if deleted and deleted[-1] == PRUNE_BATCH and not self._writer.closing:
                self._writer.submit(work, after, what="events_prune")
            else:
                total = sum(deleted)
                if total:
                    log.info("events_pruned", deleted=total, before=before)
                if done is not None:
                    done(total)
        self._writer.submit(work, after, what="events_prune")

    def delivered(self) -> dict[str, int]:
        """The last ``seq`` delivered per hook, as stored (start-up read)."""
        return self._writer.call(self.store.delivered)

    def _publish(self, rows: list[StoredEvent]) -> None:
        self.committed = max(self.committed, rows[-1].seq)
        for fn in list(self._subscribers):
            try:
                fn(rows)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("event_subscriber_failed")

    # -- reads, off the loop -------------------------------------------------------------
    def _read(self, fn: Callable[[EventStore], Any]) -> Any:
        with self._read_lock:
            if self._reader is None:
                self._reader = EventStore.reader(self._read_at.connect(read_only=True))
            elif self._reader._db.broken:  # PostgreSQL lost it: a failed read raised before
                self._reader._db.reconnect()
            return fn(self._reader)

    async def after(self, seq: int, *, limit: int = PAGE, until: int | None = None,
                    flt: EventFilter | None = None, scope: Scope = ALL) -> list[StoredEvent]:
        """Committed events after ``seq`` (see ``EventStore.after``), read in a thread."""
        until = self.committed if until is None else min(until, self.committed)
        if seq >= until:
            return []
        result: list[StoredEvent] = await asyncio.to_thread(
            self._read, lambda s: s.after(seq, limit=limit, until=until, flt=flt, scope=scope))
        return result

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
