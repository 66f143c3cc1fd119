"""The queue event log: one append-only table (SQLite or PostgreSQL, see ``db``), written
(committed) as the router reports each event, before the switch acts on it being done.
Reports are computed from it; ``ccswitch queue-log`` prints it in Asterisk's ``queue_log`` format.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..acd import events as acd_events
from ..acd.events import LoggedEvent
from ..acd.model import Target
from .db import Db, Step, migrate, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_events (
  id {serial},
  time DOUBLE PRECISION NOT NULL, event TEXT NOT NULL,
  call_id TEXT, queue TEXT, agent TEXT, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_events_time ON queue_events (time);
"""
EVENT_INDEX = "CREATE INDEX IF NOT EXISTS queue_events_event ON queue_events (event, time)"
"""Reports find each agent's last state and the last daemon start before a time by event."""
MIGRATIONS: tuple[Step, ...] = (SCHEMA, EVENT_INDEX)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


class QueueEventStore:
    """Append queue events; times are wall-clock seconds (the caller shifts them)."""

    def __init__(self, db: Path | str | Db | sqlite3.Connection) -> None:
        """Open the file (or DSN) ``db``, or use a connection (the writer thread's, see
        writer.py); the schema is migrated to this version."""
        self._db = Db.wrap(db)
        migrate(self._db, "queue_events", MIGRATIONS)

    def append(self, events: Iterable[LoggedEvent], *, wall_offset: float) -> int:
        """Write ``events`` in one transaction; returns how many."""
        rows = []
        for ev in events:
            fields = {f.name: _plain(getattr(ev, f.name)) for f in dataclasses.fields(ev)}
            time = float(fields.pop("time")) + wall_offset
            rows.append((time, type(ev).__name__, fields.get("call_id"), fields.get("queue"),
                         fields.get("agent"), json.dumps(fields, sort_keys=True)))
        if rows:
            with transaction(self._db):
                self._db.executemany(
                    "INSERT INTO queue_events (time, event, call_id, queue, agent, data)"
                    " VALUES (?,?,?,?,?,?)", rows)
        return len(rows)

    def rows(self) -> Iterator[tuple[float, str, dict[str, Any]]]:
        """(wall time, event class name, fields) in order."""
        for time, event, data in self._db.execute(
                "SELECT time, event, data FROM queue_events ORDER BY id"):
            yield time, event, json.loads(data)

    def events(self) -> Iterator[LoggedEvent]:
        """The stored events rebuilt (``time`` is wall-clock seconds)."""
        for time, name, fields in self.rows():
            cls = getattr(acd_events, name, None)
            if cls is None:
                continue
            known = {f.name for f in dataclasses.fields(cls)}
            args = {k: _tuples(v) for k, v in fields.items() if k in known}
            if isinstance(args.get("target"), str):
                args["target"] = Target.parse(args["target"])
            yield cls(time=time, **args)

    def close(self) -> None:
        self._db.close()
