"""Call-detail records (SQLite or PostgreSQL, see ``db``): one row per call attempt (refused
ones included), written (and committed) when the call ends, before the switch reports it done;
the recording's row is completed when its file is closed.

``call_id`` is the switch's call id (the one in logs, recordings and ``queue_events``);
``sip_call_id`` the Call-ID of the caller's INVITE.  A database made by an older version gets
the newer columns added on open (empty in old rows); from then on the schema is versioned
(``db.migrate``, component ``cdr``): a change is a new step appended to ``MIGRATIONS``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..call.events import CallEnded, TransferStep
from ..call.quality import CallQuality
from . import recordings
from .db import POSTGRESQL, Db, Step
from .db import migrate as migrate_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS cdr (
  id {serial},
  call_id TEXT NOT NULL, caller TEXT NOT NULL, callee TEXT NOT NULL,
  started DOUBLE PRECISION NOT NULL, answered DOUBLE PRECISION, ended DOUBLE PRECISION NOT NULL,
  status INTEGER NOT NULL, reason TEXT NOT NULL, ended_by TEXT NOT NULL,
  recording TEXT, recording_state TEXT, recording_seconds DOUBLE PRECISION,
  sip_call_id TEXT, queue TEXT, agent TEXT, transfer TEXT, transferred_by TEXT,
  disposition TEXT
);
CREATE INDEX IF NOT EXISTS cdr_recording ON cdr (recording);
CREATE TABLE IF NOT EXISTS recordings (
  path TEXT PRIMARY KEY, call_id TEXT NOT NULL, started DOUBLE PRECISION NOT NULL,
  state TEXT NOT NULL, seconds DOUBLE PRECISION
);
"""
ADDED_COLUMNS = (("sip_call_id", "TEXT"), ("queue", "TEXT"), ("agent", "TEXT"),
                 ("transfer", "TEXT"), ("transferred_by", "TEXT"), ("disposition", "TEXT"))
"""Columns added since the first schema: ``migrate`` adds those an existing table lacks."""
COLUMNS = ("call_id, caller, callee, started, answered, ended, status, reason, ended_by,"
           " recording, recording_state, recording_seconds, sip_call_id, queue, agent,"
           " transfer, transferred_by, disposition")


def add_missing_columns(db: Db) -> list[str]:
    """Add the columns of ``ADDED_COLUMNS`` missing from ``cdr`` (a SQLite file from before
    the versioned schema); returns their names."""
    have = db.columns("cdr")
    added = [name for name, _ in ADDED_COLUMNS if name not in have]
    for name, kind in ADDED_COLUMNS:
        if name in added:
            db.execute(f"ALTER TABLE cdr ADD COLUMN {name} {kind}")
    return added


def _adopt(db: Db) -> None:
    add_missing_columns(db)


def _recording_ids(db: Db) -> None:
    """Recordings get a stable number for the API: SQLite's ``rowid``; on PostgreSQL a
    ``rid`` column of its own (``store/history.py`` reads either)."""
    if db.kind == POSTGRESQL:
        db.execute("ALTER TABLE recordings ADD COLUMN IF NOT EXISTS rid BIGSERIAL")


def _dispositions(db: Db) -> None:
    """The agent desktop's disposition codes: a column a store of version 3 lacks."""
    add_missing_columns(db)


QUALITY_COLUMNS = tuple((f"{fig}_{leg}", "DOUBLE PRECISION")
                        for leg in ("caller", "callee")
                        for fig in ("mos", "r", "loss", "jitter", "rtt"))
"""Call quality of the caller's leg and the answered leg (``call/quality.py``): MOS, R,
loss in per cent, jitter and round trip in ms; NULL until measured (or never)."""


def _quality(db: Db) -> None:
    """Version 5: the quality columns, and an index on ``call_id`` for their update."""
    have = db.columns("cdr")
    for name, kind in QUALITY_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE cdr ADD COLUMN {name} {kind}")
    db.execute("CREATE INDEX IF NOT EXISTS cdr_call_id ON cdr (call_id)")


def _one_row_per_call_end(db: Db) -> None:
    """A call's record is written once: a batch whose COMMIT met a lost PostgreSQL connection
    is run again after the reconnection, and a ``store copy`` may be run twice.  Rows written
    twice before this step are dropped (the first kept), then the key is unique."""
    db.execute("DELETE FROM cdr WHERE id NOT IN"
               " (SELECT MIN(id) FROM cdr GROUP BY call_id, started, ended)")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS cdr_call_end ON cdr (call_id, started, ended)")


LEG_COLUMNS = ("call_id, n, leg_id, role, party, started, answered, ended, status, reason,"
               " ended_by, codec, call_end")
LEG_QUALITY = ("mos", "r", "loss", "jitter", "rtt")
"""A leg's quality figures (as the CDR's ``…_caller``/``…_callee``), on its ``call_end``."""
LEGS = """
CREATE TABLE IF NOT EXISTS cdr_legs (
  id {serial},
  call_id TEXT NOT NULL, n INTEGER NOT NULL, leg_id TEXT NOT NULL, role TEXT NOT NULL,
  party TEXT NOT NULL, started DOUBLE PRECISION NOT NULL, answered DOUBLE PRECISION,
  ended DOUBLE PRECISION NOT NULL, status INTEGER, reason TEXT NOT NULL,
  ended_by TEXT NOT NULL, codec TEXT, call_end TEXT,
  mos DOUBLE PRECISION, r DOUBLE PRECISION, loss DOUBLE PRECISION,
  jitter DOUBLE PRECISION, rtt DOUBLE PRECISION
);
CREATE UNIQUE INDEX IF NOT EXISTS cdr_legs_leg ON cdr_legs (call_id, leg_id);
"""
LEG_KEY = "call_id, leg_id"
"""What makes a leg row unique (leg ids are unique in a switch; call ids too)."""


def _legs(db: Db) -> None:
    """Version 9: every leg of a call (``cdr_legs``) and its transfer chain (``cdr.transfers``,
    JSON)."""
    db.script(LEGS)
    if "transfers" not in db.columns("cdr"):
        db.execute("ALTER TABLE cdr ADD COLUMN transfers TEXT")


REPORT_INDEX = "CREATE INDEX IF NOT EXISTS cdr_started ON cdr (started)"
"""Reports read the CDRs of a time range (``reports/reader.py``)."""

MIGRATIONS: tuple[Step, ...] = (SCHEMA, _adopt, _recording_ids, _dispositions, _quality,
                                recordings.STEP, REPORT_INDEX, _one_row_per_call_end, _legs)
"""Version 1: the tables (as an unversioned file may already hold them); 2: that file's
missing columns added; 3: recording ids; 4: disposition codes; 5: call quality; 6: recording
compliance (paused spans, access log, retention mark: ``store/recordings.py``); 7: the index
on ``started``; 8: one row per call end; 9: every leg and the transfer chain."""
CDR_KEY = "call_id, started, ended"
"""What makes a record unique: writing the same one again changes nothing."""


@dataclass(frozen=True, slots=True)
class CdrRow:
    call_id: str
    caller: str
    callee: str
    started: float
    answered: float | None
    ended: float
    status: int
    reason: str
    ended_by: str
    recording: str | None
    recording_state: str | None  # "recording" until closed, then "complete" or "failed"
    recording_seconds: float | None
    sip_call_id: str | None = None
    queue: str | None = None
    agent: str | None = None
    transfer: str | None = None
    transferred_by: str | None = None
    disposition: str | None = None  # the agent's code, set after the call (agent desktop)


def transfers_json(steps: Iterable[TransferStep], wall_offset: float) -> str | None:
    """The transfer chain as the ``transfers`` column holds it (None: no transfer): a JSON
    list of ``{kind, by, target, at, via, result}``, ``at`` in wall-clock seconds."""
    out = [{"kind": t.kind, "by": t.by, "target": t.target, "at": t.at + wall_offset,
            "via": t.via, "result": t.result} for t in steps]
    return json.dumps(out, separators=(",", ":")) if out else None


class CdrStore:
    """Append call records; times are wall-clock seconds (the caller converts)."""

    def __init__(self, db: Path | str | Db | sqlite3.Connection) -> None:
        """Open the file (or DSN) ``db``, or use a connection (the writer thread's, see
        writer.py); the schema is migrated to this version."""
        self._db = Db.wrap(db)
        migrate_schema(self._db, "cdr", MIGRATIONS)

    def add(self, ev: CallEnded, *, wall_offset: float) -> None:
        """Write ``ev`` (its monotonic times shifted by ``wall_offset``) and commit."""
        answered = None if ev.answered is None else ev.answered + wall_offset
        state = None
        if ev.recording:
            row = self._db.execute("SELECT state FROM recordings WHERE path = ?",
                                   (ev.recording,)).fetchone()
            state = row[0] if row else "recording"
        self._db.execute(
            "INSERT INTO cdr (call_id, caller, callee, started, answered, ended, status, reason,"
            " ended_by, recording, recording_state, sip_call_id, queue, agent, transfer,"
            " transferred_by, transfers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            f" ON CONFLICT ({CDR_KEY}) DO NOTHING",
            (ev.call_id, ev.caller, ev.callee, ev.started + wall_offset, answered,
             ev.ended + wall_offset, ev.status, ev.reason, ev.ended_by, ev.recording,
             state, ev.sip_call_id, ev.queue, ev.agent, ev.transfer, ev.transferred_by,
             transfers_json(ev.transfers, wall_offset)))
        if ev.legs:  # one statement for all of them, in the same transaction
            self._db.executemany(
                f"INSERT INTO cdr_legs ({LEG_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                f" ON CONFLICT ({LEG_KEY}) DO NOTHING",
                [(ev.call_id, n, g.leg_id, g.role, g.party, g.started + wall_offset,
                  None if g.answered is None else g.answered + wall_offset,
                  g.ended + wall_offset, g.status, g.reason, g.ended_by, g.codec, g.call_end)
                 for n, g in enumerate(ev.legs)])

    def set_quality(self, calls: Iterable[CallQuality]) -> None:
        """The quality of ended calls (their rows are written first: the same writer)."""
        names = [name for name, _ in QUALITY_COLUMNS]
        sets = ", ".join(f"{n} = ?" for n in names)
        calls = list(calls)
        self._db.executemany(f"UPDATE cdr SET {sets} WHERE call_id = ?",
                             [(*(getattr(q, n) for n in names), q.call_id) for q in calls])
        leg_sets = ", ".join(f"{n} = ?" for n in LEG_QUALITY)
        self._db.executemany(
            f"UPDATE cdr_legs SET {leg_sets} WHERE call_id = ? AND call_end = ?",
            [(*(getattr(q, f"{n}_{end}") for n in LEG_QUALITY), q.call_id, end)
             for q in calls for end in ("caller", "callee")
             if getattr(q, f"mos_{end}") is not None])
        self._db.executemany(  # the legs that left the calls before their ends
            f"UPDATE cdr_legs SET {leg_sets} WHERE call_id = ? AND leg_id = ?",
            [(g.mos, g.r, g.loss_pct, g.jitter_ms, g.rtt_ms, q.call_id, leg_id)
             for q in calls for leg_id, g in q.legs])

    def quality(self, call_id: str) -> dict[str, float | None] | None:
        """The quality columns of ``call_id``'s row (its last), or None without a row."""
        names = [name for name, _ in QUALITY_COLUMNS]
        row = self._db.execute(f"SELECT {', '.join(names)} FROM cdr WHERE call_id = ?"
                               " ORDER BY id DESC", (call_id,)).fetchone()
        return None if row is None else dict(zip(names, row, strict=True))

    def set_disposition(self, call_id: str, code: str) -> int:
        """The agent's disposition ``code`` for ``call_id``: set on its rows answered by an
        agent (the call's row is written when it ends, before the agent can set a code);
        returns how many rows changed."""
        cur = self._db.execute(
            "UPDATE cdr SET disposition = ? WHERE call_id = ? AND agent IS NOT NULL",
            (code, call_id))
        return cur.rowcount

    def agent_calls(self, agent: str, limit: int = 20) -> list[CdrRow]:
        """The agent's last ``limit`` calls (answered by it), newest first."""
        got = self._db.execute(f"SELECT {COLUMNS} FROM cdr WHERE agent = ? ORDER BY id DESC"
                               " LIMIT ?", (agent, limit)).fetchall()
        return [CdrRow(*r) for r in got]

    def recording_started(self, call_id: str, path: str, *, at: float) -> None:
        """A recording file is open: its row exists before any audio is written to it."""
        self._db.execute(
            "INSERT INTO recordings (path, call_id, started, state, seconds)"
            " VALUES (?,?,?,'recording',NULL) ON CONFLICT (path) DO UPDATE SET"
            " call_id = excluded.call_id, started = excluded.started, state = 'recording',"
            " seconds = NULL", (path, call_id, at))

    def recording_done(self, path: str, *, state: str, seconds: float | None) -> None:
        """The recording ``path`` is closed: ``state`` complete, failed or repaired."""
        self._db.execute("UPDATE recordings SET state = ?, seconds = ? WHERE path = ?",
                         (state, seconds, path))
        self._db.execute(
            "UPDATE cdr SET recording_state = ?, recording_seconds = ? WHERE recording = ?",
            (state, seconds, path))
        if seconds is not None:  # a span still open when the file closed ends with it
            self._db.execute("UPDATE recording_pauses SET end_s = ? WHERE path = ?"
                             " AND end_s IS NULL", (seconds, path))

    def unfinished_recordings(self) -> list[str]:
        """Recordings never reported closed (the daemon or a worker stopped mid-call)."""
        rows = self._db.execute(
            "SELECT path FROM recordings WHERE state = 'recording'").fetchall()
        return [r[0] for r in rows]

    def recordings(self) -> list[tuple[str, str, str, float | None]]:
        """(path, call_id, state, seconds) of every recording."""
        rows = self._db.execute(
            "SELECT path, call_id, state, seconds FROM recordings ORDER BY started").fetchall()
        return [tuple(r) for r in rows]

    def legs(self, call_id: str) -> list[dict[str, object]]:
        """The leg rows of ``call_id`` in order (``n``), with their quality figures."""
        cols = [c.strip() for c in LEG_COLUMNS.split(",")] + list(LEG_QUALITY)
        got = self._db.execute(f"SELECT {', '.join(cols)} FROM cdr_legs WHERE call_id = ?"
                               " ORDER BY n", (call_id,)).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in got]

    def transfers(self, call_id: str) -> list[dict[str, object]]:
        """The transfer chain of ``call_id``'s (last) row."""
        row = self._db.execute("SELECT transfers FROM cdr WHERE call_id = ? ORDER BY id DESC",
                               (call_id,)).fetchone()
        return json.loads(row[0]) if row is not None and row[0] else []

    def rows(self) -> list[CdrRow]:
        got = self._db.execute(f"SELECT {COLUMNS} FROM cdr ORDER BY id").fetchall()
        return [CdrRow(*r) for r in got]

    def close(self) -> None:
        self._db.close()
