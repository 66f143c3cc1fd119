"""Recording compliance rows (SQLite or PostgreSQL, see ``db``): the paused spans of each
recording, who read recordings through the API, and what the retention policy deleted.

- ``recording_pauses``: one row per paused span of a file, ``start_s``/``end_s`` seconds from
  the file's start (``end_s`` NULL while the pause goes on; set to the file's length when the
  file closes paused), ``paused_by`` (``api``, ``desktop``, ``ivr:MENU``) and ``who`` (the
  token's user or role for api/desktop).
- ``recording_access``: one row per recording listed or downloaded through the API: when,
  which, what (``list``/``download``), the token's role and user, the client's address.
- ``recordings.deleted``: when the retention policy deleted the file (the row stays, for
  audit).

The tables belong to the ``cdr`` component's schema (``store/cdr.py`` appends ``STEP``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .db import POSTGRESQL, Db

STEP = """
CREATE TABLE IF NOT EXISTS recording_pauses (
  id {serial}, path TEXT NOT NULL, start_s DOUBLE PRECISION NOT NULL,
  end_s DOUBLE PRECISION, paused_by TEXT NOT NULL, who TEXT
);
CREATE INDEX IF NOT EXISTS recording_pauses_path ON recording_pauses (path);
CREATE TABLE IF NOT EXISTS recording_access (
  id {serial}, time DOUBLE PRECISION NOT NULL, recording_id {int8} NOT NULL, call_id TEXT,
  action TEXT NOT NULL, role TEXT NOT NULL, token_user TEXT, client TEXT NOT NULL
);
ALTER TABLE recordings ADD COLUMN deleted DOUBLE PRECISION;
"""
"""Schema step (``cdr`` component): the spans, the access log, the retention mark."""

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Span:
    """A paused span of a recording, seconds from the file's start (``end`` None: still
    paused, or closed before its length was known)."""

    start: float
    end: float | None
    by: str
    who: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """One recording read through the API."""

    id: int
    time: float
    recording_id: int
    call_id: str | None
    action: str  # "list" or "download"
    role: str
    user: str | None
    client: str


@dataclass(frozen=True, slots=True)
class Kept:
    """A closed recording the retention policy looks at: its queues are those of the CDRs
    that name it (none: a call outside queues, a room)."""

    id: int
    path: str
    started: float
    queues: frozenset[str]


@dataclass(frozen=True, slots=True)
class Retention:
    """Days a recording is kept: ``days`` for a queue listed in ``queues`` (its
    ``recording_retention_days``), else ``default`` (``[recordings] keep_days``); 0 is
    forever."""

    default: float = 0.0
    queues: Mapping[str, float] | None = None

    def days_of(self, queues: Iterable[str]) -> float:
        """A recording of several queues is kept for the longest of their periods."""
        per = self.queues or {}
        days = [per.get(q, self.default) for q in queues] or [self.default]
        return 0.0 if any(d <= 0 for d in days) else max(days)

    def shortest(self) -> float:
        """The shortest period configured (0: nothing is ever deleted)."""
        days = [d for d in (self.default, *(self.queues or {}).values()) if d > 0]
        return min(days) if days else 0.0


def due(rows: Iterable[Kept], now: float, policy: Retention,
        open_paths: Iterable[str] = ()) -> list[Kept]:
    """The recordings of ``rows`` older than their retention at wall-clock ``now``, except
    those a worker is still writing (``open_paths``)."""
    writing = set(open_paths)
    out: list[Kept] = []
    for r in rows:
        days = policy.days_of(r.queues)
        if days > 0 and r.started < now - days * DAY and r.path not in writing:
            out.append(r)
    return out


class RecordingStore:
    """Writes (on the writer thread's connection) and reads of the compliance rows."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._rid = "rid" if db.kind == POSTGRESQL else "rowid"

    # -- paused spans ------------------------------------------------------------------
    def paused(self, path: str, start: float, by: str, who: str | None) -> None:
        self._db.execute("INSERT INTO recording_pauses (path, start_s, end_s, paused_by, who)"
                         " VALUES (?,?,NULL,?,?)", (path, start, by, who))

    def resumed(self, path: str, end: float) -> None:
        self._db.execute("UPDATE recording_pauses SET end_s = ? WHERE path = ? AND end_s IS NULL",
                         (end, path))

    def mark(self, path: str, paused: bool, seconds: float) -> None:
        """The worker's exact offset of the last span's start (``paused``) or end: what the
        file holds, whatever the delay between the switch's command and the worker."""
        column, which = ("start_s", "") if paused else ("end_s", " AND end_s IS NOT NULL")
        self._db.execute(f"UPDATE recording_pauses SET {column} = ? WHERE id = (SELECT max(id)"
                         f" FROM recording_pauses WHERE path = ?{which})", (seconds, path))

    def spans(self, paths: Sequence[str]) -> dict[str, list[Span]]:
        """The spans of each of ``paths``, in the order they were paused."""
        out: dict[str, list[Span]] = {p: [] for p in paths}
        if not paths:
            return out
        rows = self._db.execute(
            "SELECT path, start_s, end_s, paused_by, who FROM recording_pauses WHERE path IN"
            f" ({','.join('?' * len(paths))}) ORDER BY id", tuple(paths)).fetchall()
        for path, start, end, by, who in rows:
            out[path].append(Span(start, end, by, who))
        return out

    # -- access log --------------------------------------------------------------------
    def accessed(self, rows: Iterable[tuple[float, int, str | None, str, str, str | None,
                                            str]]) -> None:
        """(time, recording id, call id, action, role, user, client) rows."""
        self._db.executemany(
            "INSERT INTO recording_access (time, recording_id, call_id, action, role,"
            " token_user, client) VALUES (?,?,?,?,?,?,?)", rows)

    def access(self, *, after: int = 0, limit: int = 100,
               recording_id: int | None = None) -> list[Access]:
        where, args = "id > ?", [after]
        if recording_id is not None:
            where += " AND recording_id = ?"
            args.append(recording_id)
        rows = self._db.execute(
            "SELECT id, time, recording_id, call_id, action, role, token_user, client"
            f" FROM recording_access WHERE {where} ORDER BY id LIMIT ?",
            (*args, limit)).fetchall()
        return [Access(*r) for r in rows]

    # -- retention ---------------------------------------------------------------------
    def closed_before(self, before: float) -> list[Kept]:
        """Closed recordings (not deleted) started before wall-clock ``before``."""
        rows = self._db.execute(
            f"SELECT r.{self._rid}, r.path, r.started, c.queue FROM recordings r"
            " LEFT JOIN cdr c ON c.recording = r.path WHERE r.deleted IS NULL"
            f" AND r.state <> 'recording' AND r.started < ? ORDER BY r.{self._rid}",
            (before,)).fetchall()
        got: dict[int, Kept] = {}
        for rid, path, started, queue in rows:
            k = got.get(rid) or Kept(rid, path, started, frozenset())
            got[rid] = Kept(rid, path, started, k.queues | ({queue} if queue else set()))
        return list(got.values())

    def deleted(self, path: str, at: float) -> None:
        """The retention policy deleted ``path`` at ``at``: the row stays, marked."""
        self._db.execute("UPDATE recordings SET deleted = ? WHERE path = ?", (at, path))
