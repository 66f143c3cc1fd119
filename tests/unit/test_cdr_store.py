"""The call-detail store: a CDR per call, recordings tracked from start to closed file; on
SQLite and on PostgreSQL (``store_at``), with versioned migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ccswitch.call.events import CallEnded
from ccswitch.store.cdr import MIGRATIONS, CdrStore, add_missing_columns
from ccswitch.store.db import Db, Location, migrate


def ended(call_id: str, recording: str | None = None) -> CallEnded:
    return CallEnded(call_id, "1001", "1002", 200, "OK", 10.0, 12.0, 70.0, "caller", recording)


def test_rows_survive_a_reopen_with_wall_clock_times(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(ended("c1"), wall_offset=1_700_000_000.25)
    store.close()
    (row,) = CdrStore(store_at.connect()).rows()
    assert (row.call_id, row.started, row.answered, row.ended) == (
        "c1", 1_700_000_010.25, 1_700_000_012.25, 1_700_000_070.25)  # 8-byte floats on both
    assert row.recording is None and row.recording_state is None


def test_a_recording_is_open_until_its_file_is_reported_closed(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.recording_started("c1", "/r/c1.wav", at=5.0)
    assert store.unfinished_recordings() == ["/r/c1.wav"]
    store.add(ended("c1", "/r/c1.wav"), wall_offset=0.0)
    assert store.rows()[0].recording_state == "recording"
    store.recording_done("/r/c1.wav", state="complete", seconds=58.0)
    assert store.unfinished_recordings() == []
    row = store.rows()[0]
    assert (row.recording, row.recording_state, row.recording_seconds) == \
        ("/r/c1.wav", "complete", 58.0)
    assert store.recordings() == [("/r/c1.wav", "c1", "complete", 58.0)]


def test_a_file_closed_before_the_cdr_is_written_is_complete_in_the_cdr(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.recording_started("c2", "/r/c2.wav", at=5.0)
    store.recording_done("/r/c2.wav", state="complete", seconds=3.0)
    store.add(ended("c2", "/r/c2.wav"), wall_offset=0.0)
    assert store.rows()[0].recording_state == "complete"


def test_refused_and_queue_calls_keep_their_status_queue_agent_and_sip_call_id(
        store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(CallEnded("r1", "1001", "5555", 404, "Not Found", 3.0, None, 3.0, "switch",
                        None, "abc@host"), wall_offset=0.0)
    store.add(CallEnded("q1", "1001", "queue:sales", 200, "OK", 4.0, 4.0, 9.0, "callee",
                        None, "def@host", "sales", "2005"), wall_offset=0.0)
    refused, queued = store.rows()
    assert (refused.status, refused.ended_by, refused.answered, refused.sip_call_id) == (
        404, "switch", None, "abc@host")
    assert (refused.queue, refused.agent) == (None, None)
    assert (queued.queue, queued.agent, queued.sip_call_id) == ("sales", "2005", "def@host")


OLD_SCHEMA = """
CREATE TABLE cdr (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  call_id TEXT NOT NULL, caller TEXT NOT NULL, callee TEXT NOT NULL,
  started REAL NOT NULL, answered REAL, ended REAL NOT NULL,
  status INTEGER NOT NULL, reason TEXT NOT NULL, ended_by TEXT NOT NULL,
  recording TEXT, recording_state TEXT, recording_seconds REAL
);
INSERT INTO cdr (call_id, caller, callee, started, answered, ended, status, reason, ended_by)
  VALUES ('old;tag', '1001', '1002', 1.0, 2.0, 3.0, 200, 'OK', 'caller');
"""


def test_a_database_from_before_the_new_columns_is_migrated_on_open(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    con = sqlite3.connect(db)
    con.executescript(OLD_SCHEMA)
    con.close()
    store = CdrStore(db)
    store.add(CallEnded("n1", "1001", "queue:support", 200, "OK", 4.0, 4.5, 9.0, "caller",
                        None, "x@h", "support", "2001"), wall_offset=0.0)
    old, new = store.rows()
    assert (old.call_id, old.status, old.sip_call_id, old.queue, old.agent) == (
        "old;tag", 200, None, None, None)
    assert (new.queue, new.agent, new.sip_call_id) == ("support", "2001", "x@h")
    store.close()
    again = Db.sqlite(db)
    assert add_missing_columns(again) == []  # nothing left to add
    assert migrate(again, "cdr", MIGRATIONS) == 0  # and no step runs twice
    again.close()


def test_migrations_are_versioned_and_applied_once(store_at: Location) -> None:
    db = store_at.connect()
    CdrStore(db).add(ended("c1"), wall_offset=0.0)
    assert db.execute("SELECT version FROM schema_version WHERE component = 'cdr'"
                      ).fetchone()[0] == len(MIGRATIONS)
    ran: list[str] = []
    steps = (*MIGRATIONS, lambda d: ran.append(d.kind) or d.execute(
        "ALTER TABLE cdr ADD COLUMN note TEXT"))
    assert migrate(db, "cdr", steps) == 1 and migrate(db, "cdr", steps) == 0
    assert ran == [store_at.kind] and "note" in db.columns("cdr")
    assert db.execute("SELECT COUNT(*) FROM cdr").fetchone()[0] == 1  # the row is still there


def test_a_database_newer_than_the_code_is_refused(store_at: Location) -> None:
    db = store_at.connect()
    CdrStore(db)
    db.execute("UPDATE schema_version SET version = 99 WHERE component = 'cdr'")
    with pytest.raises(RuntimeError, match="schema version 99"):
        CdrStore(db)


def test_a_disposition_code_is_set_on_the_agents_call_and_its_last_calls_listed(
        tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    con = sqlite3.connect(db)
    con.executescript(OLD_SCHEMA)
    con.close()
    store = CdrStore(db)  # the disposition column is added on open
    for i, agent in enumerate(("2001", "2002", "2001")):
        store.add(CallEnded(f"q{i}", "1001", "queue:support", 200, "OK", 4.0 + i, 4.5 + i,
                            9.0 + i, "caller", None, "x@h", "support", agent), wall_offset=0.0)
    store.add(ended("plain"), wall_offset=0.0)
    assert store.set_disposition("q0", "resolved") == 1
    assert store.set_disposition("plain", "resolved") == 0  # not an agent's call
    assert store.set_disposition("missing", "resolved") == 0
    last = store.agent_calls("2001")
    assert [(r.call_id, r.disposition) for r in last] == [("q2", None), ("q0", "resolved")]
    assert [r.call_id for r in store.agent_calls("2001", limit=1)] == ["q2"]
    assert store.rows()[0].disposition is None  # the old row
