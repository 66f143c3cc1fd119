"""``ccswitch store copy --from DATA_DIR --to DSN`` on a real PostgreSQL server: a data dir
written by the stores is copied table by table; a second run adds nothing; a run after rows
went missing adds just those; the history API then reads the copy (the queue events'
``caller`` filter included); the webhooks' positions are not moved back."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccswitch.acd import events as acd
from ccswitch.call.eventlog import EventRecord
from ccswitch.call.events import CallEnded, LegRecord, TransferStep
from ccswitch.cli import main
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db
from ccswitch.store.events import EventStore, StoredEvent
from ccswitch.store.history import HistoryFilter, HistoryReader
from ccswitch.store.queue_events import QueueEventStore
from ccswitch.store.voicemail import VoicemailStore
from ccswitch.voicemail.actions import MessageKept

T0 = 1_800_000_000.0


LEGS = (LegRecord("a1", "caller", "1001", 0.0, 5.0, 30.0, 200, "OK", "party", "PCMU", "caller"),
        LegRecord("b1", "agent", "2001", 0.5, 5.0, 30.0, 200, "OK", "peer", "PCMU", "callee"))
XFERS = (TransferStep("blind", "2001", "1003", 20.0, "refer", "failed:486"),)


def data_dir(root: Path) -> Path:
    """A data dir as a daemon leaves it: 3 CDRs (one recorded, with 2 legs and a transfer),
    4 queue events (one with no
    call), 2 stream events, a webhook position, 1 voice message."""
    data = root / "var"
    data.mkdir()
    db = Db.sqlite(data / "ccswitch.db")
    cdr = CdrStore(db)
    cdr.recording_started("c1", str(data / "recordings" / "c1.wav"), at=T0)
    cdr.recording_done(str(data / "recordings" / "c1.wav"), state="complete", seconds=20.0)
    for i, caller in enumerate(("1001", "1002", "1001")):
        cdr.add(CallEnded(f"c{i + 1}", caller, "800", 200, "OK", 60.0 * i, 60.0 * i + 5,
                          60.0 * i + 30, "caller",
                          str(data / "recordings" / "c1.wav") if i == 0 else None,
                          f"s{i}@h", "support", "2001",
                          legs=LEGS if i == 0 else (),
                          transfers=XFERS if i == 0 else ()), wall_offset=T0)
    QueueEventStore(db).append([
        acd.AgentLoggedIn(0.0, "2001", (("support", 0),)),
        acd.CallerEntered(1.0, "c1", "support", 0, 1, (), "1001"),
        acd.CallerEntered(61.0, "c2", "support", 0, 1, (), "1002"),
        acd.CallerEntered(121.0, "c3", "support", 0, 1, (), "1001")], wall_offset=T0)
    events = EventStore(db)
    events.append([StoredEvent(seq, EventRecord("queue.caller_entered", T0 + seq, f"c{seq}",
                                                None, ("support",), {"queue": "support"}))
                   for seq in (1, 2)])
    events.set_delivered("crm", 2, T0 + 3)
    VoicemailStore(db, data / "voicemail").add(
        "m1", MessageKept("1001", "1002", T0 + 5, 7.5, "m1.wav"))
    db.close()
    return data


def counts(db: Db) -> dict[str, int]:
    return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("cdr", "cdr_legs", "recordings", "queue_events", "events",
                      "webhook_delivered", "voicemail")}


def test_a_data_dir_is_copied_once_and_again_only_what_is_missing(
        tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = data_dir(tmp_path)
    assert main(["store", "copy", "--from", str(data), "--to", pg_dsn]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["cdr: 3 read, 3 added (0 already there)",
                   "cdr_legs: 2 read, 2 added (0 already there)",
                   "recordings: 1 read, 1 added (0 already there)",
                   "queue_events: 4 read, 4 added (0 already there)",
                   "events: 2 read, 2 added (0 already there)",
                   "webhook_delivered: 1 read, 1 added (0 already there)",
                   "voicemail: 1 read, 1 added (0 already there)"]
    pg = Db.postgresql(pg_dsn)
    want = {"cdr": 3, "cdr_legs": 2, "recordings": 1, "queue_events": 4, "events": 2,
            "webhook_delivered": 1, "voicemail": 1}
    assert counts(pg) == want
    # the rows themselves, in the order they were written
    assert pg.execute("SELECT call_id, caller, started, recording_state FROM cdr"
                      " ORDER BY id").fetchall() == [
        ("c1", "1001", T0, "complete"), ("c2", "1002", T0 + 60, None),
        ("c3", "1001", T0 + 120, None)]
    assert [r[0] for r in pg.execute("SELECT event FROM queue_events ORDER BY id")] == [
        "AgentLoggedIn", "CallerEntered", "CallerEntered", "CallerEntered"]
    # a second run adds nothing
    assert main(["store", "copy", "--from", str(data), "--to", pg_dsn]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0] == "cdr: 3 read, 0 added (3 already there)"
    assert again[1] == "cdr_legs: 2 read, 0 added (2 already there)"
    assert again[3] == "queue_events: 4 read, 0 added (4 already there)"
    assert counts(pg) == want
    # an interrupted run (rows missing), and a webhook that went further on PostgreSQL
    pg.execute("DELETE FROM cdr WHERE call_id = 'c3'")
    pg.execute("DELETE FROM queue_events WHERE event = 'AgentLoggedIn'")
    pg.execute("UPDATE webhook_delivered SET seq = 9 WHERE hook = 'crm'")
    assert main(["store", "copy", "--from", str(data), "--to", pg_dsn]) == 0
    third = capsys.readouterr().out.splitlines()
    assert third[0] == "cdr: 3 read, 1 added (2 already there)"
    assert third[3] == "queue_events: 4 read, 1 added (3 already there)"
    assert counts(pg) == want
    assert pg.execute("SELECT seq FROM webhook_delivered").fetchall() == [(9,)]
    # the history API reads the copy: 1001's queue events by the JSON number (c1 and c3)
    reader = HistoryReader(pg)
    rows = reader.queue_events(HistoryFilter(caller="1001"), None)
    assert sorted(r.call_id for r in rows if r.call_id) == ["c1", "c3"]
    # c1's legs and transfer chain came along (times shifted to the wall clock by T0)
    (c1,) = [c for c in reader.cdrs(HistoryFilter(), None) if c.call_id == "c1"]
    assert [(g.role, g.party, g.started, g.codec) for g in c1.legs] == [
        ("caller", "1001", T0, "PCMU"), ("agent", "2001", T0 + 0.5, "PCMU")]
    assert c1.transfers == [{"kind": "blind", "by": "2001", "target": "1003", "at": T0 + 20,
                             "via": "refer", "result": "failed:486"}]
    recs = reader.recordings(HistoryFilter(), None)
    assert [(r.call_id, r.state) for r in recs] == [("c1", "complete")]
    pg.close()


def test_a_missing_data_dir_or_a_bad_dsn_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "copy", "--from", str(tmp_path), "--to",
                 "postgresql://u@127.0.0.1:1/db"]) == 2
    assert f"--from: no {tmp_path / 'ccswitch.db'}" in capsys.readouterr().err
    data = data_dir(tmp_path)
    assert main(["store", "copy", "--from", str(data), "--to", "mysql://x"]) == 2
    assert "is not a PostgreSQL URI" in capsys.readouterr().err
    # nothing listens on port 1: refused, named without its password
    assert main(["store", "copy", "--from", str(data), "--to",
                 "postgresql://u:secret@127.0.0.1:1/db"]) == 2
    err = capsys.readouterr().err
    assert "--to postgresql://u:***@127.0.0.1:1/db" in err and "secret" not in err
