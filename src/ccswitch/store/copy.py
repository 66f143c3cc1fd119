"""Copy a SQLite data dir's tables into another store (``ccswitch store copy``): how a switch
moves its history to PostgreSQL.

Every table a ccswitch store keeps is copied, a page at a time (one transaction per page),
in the order it was written: call-detail records (``cdr``) and their legs (``cdr_legs``),
recordings rows, the queue event log, the event stream (``events``, with its sequence
numbers) and the webhooks' positions in it (``webhook_delivered``: a hook does not send again
what it had sent), voicemail rows.  Registrations (``bindings``) are not copied: phones
register again within their expiry.

The copy is idempotent: running it again (or after an interrupted run) adds only what is
missing.  A row is "already there" by its table's key — a CDR by (call id, start, end), a leg
by (call id, leg id), a recording by its path, an event by its ``seq``, a voicemail message by
its id, a queue event by (time, event, call id, data); a webhook position is kept when the
destination's is further.  The destination's tables are created (and migrated) as the daemon
would; the source is only read (a file of an older ccswitch is read as it is: columns it lacks
stay empty).  Files stay where they are: ``recordings/`` and ``voicemail/`` under the data
dir, which the daemon started on the new store keeps using.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cdr, events, queue_events, voicemail
from .db import Db, migrate, transaction

PAGE = 1000  # rows read and written per transaction


@dataclass(frozen=True, slots=True)
class Table:
    """How one table is copied: ``key`` (its conflict target) or ``exists`` (a WHERE NOT
    EXISTS test over those columns, for a table without a natural key); ``order``: the
    source column that gives the writing order; ``update``: upsert instead of skip."""

    name: str
    order: str
    key: str | None = None
    exists: tuple[str, ...] = ()
    update: str | None = None
    skip: tuple[str, ...] = ("id",)  # the destination numbers these itself


TABLES = (
    Table("cdr", "id", key=cdr.CDR_KEY),
    Table("cdr_legs", "id", key=cdr.LEG_KEY),
    Table("recordings", "rowid", key="path", skip=("rid",)),
    Table("queue_events", "id", exists=("time", "event", "call_id", "data")),
    Table("events", "seq", key="seq", skip=()),
    Table("webhook_delivered", "hook", key="hook", skip=(),
          update="seq = excluded.seq, time = excluded.time"
                 " WHERE webhook_delivered.seq < excluded.seq"),
    Table("voicemail", "id", key="id", skip=()),
)
"""In this order (a recording's row before nothing depends on it; the events before the
webhooks' positions in them)."""

SCHEMAS: tuple[tuple[str, Any], ...] = (
    ("cdr", cdr.MIGRATIONS), ("queue_events", queue_events.MIGRATIONS),
    ("events", events.MIGRATIONS), ("voicemail", voicemail.MIGRATIONS))


@dataclass(frozen=True, slots=True)
class Copied:
    """One table's outcome: rows read from the source, rows added to the destination."""

    table: str
    read: int
    added: int


def prepare(dst: Db) -> None:
    """The destination's tables, at this version (as the daemon creates them)."""
    for component, steps in SCHEMAS:
        migrate(dst, component, steps)


def _insert(t: Table, dst: Db, cols: list[str]) -> str:
    names = ", ".join(cols)
    marks = ",".join("?" * len(cols))
    if t.exists:
        # a table without a key: the row is added unless the same one is there already
        cast = ", ".join("CAST(? AS DOUBLE PRECISION)" if c == "time" else "?" for c in cols)
        # "=" on the NOT NULL columns (the first, time, is indexed); call_id may be NULL
        same = " AND ".join(f"{c} IS NOT DISTINCT FROM ?" if c == "call_id" else f"{c} = ?"
                            for c in t.exists)
        return (f"INSERT INTO {t.name} ({names}) SELECT {cast}"
                f" WHERE NOT EXISTS (SELECT 1 FROM {t.name} WHERE {same})")
    action = f"DO UPDATE SET {t.update}" if t.update else "DO NOTHING"
    return f"INSERT INTO {t.name} ({names}) VALUES ({marks}) ON CONFLICT ({t.key}) {action}"


def _params(t: Table, cols: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    if not t.exists:
        return row
    by = dict(zip(cols, row, strict=True))
    return (*row, *(by[c] for c in t.exists))


def _pages(src: Db, t: Table, cols: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    """The source's rows in writing order, a page at a time (keyset on ``order``)."""
    select = ", ".join(cols)
    last: Any = None
    while True:
        where = "" if last is None else f" WHERE {t.order} > ?"
        rows = src.execute(f"SELECT {t.order}, {select} FROM {t.name}{where}"
                           f" ORDER BY {t.order} LIMIT {PAGE}",
                           () if last is None else (last,)).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [tuple(r[1:]) for r in rows]


def _count(db: Db, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def copy_table(src: Db, dst: Db, t: Table) -> Copied:
    """Copy one table (see the module docstring); a table the source lacks reads 0 rows."""
    have = src.columns(t.name)
    if not have:
        return Copied(t.name, 0, 0)
    want = dst.columns(t.name)
    cols = sorted(c for c in have & want if c not in t.skip)
    sql = _insert(t, dst, cols)
    before = _count(dst, t.name)
    read = 0
    for page in _pages(src, t, cols):
        read += len(page)
        with transaction(dst):
            dst.executemany(sql, [_params(t, cols, row) for row in page])
    return Copied(t.name, read, _count(dst, t.name) - before)


def copy_store(src: Db, dst: Db, *,
               progress: Callable[[Copied], None] = lambda c: None) -> list[Copied]:
    """Copy every table of ``src`` into ``dst`` (created if need be), idempotently."""
    prepare(dst)
    out = []
    for t in TABLES:
        done = copy_table(src, dst, t)
        progress(done)
        out.append(done)
    return out


def open_source(data_dir: Path) -> Db:
    """The data dir's SQLite store, read only; ``FileNotFoundError`` when it has none."""
    path = data_dir / "ccswitch.db"
    if not path.is_file():
        raise FileNotFoundError(f"no {path}")
    return Db.sqlite(path, query_only=True)
