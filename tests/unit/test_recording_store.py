"""Recording compliance rows on SQLite and PostgreSQL (``store_at``): paused spans closed with
the file, the access log, and which recordings the retention policy deletes (fake clock)."""

from __future__ import annotations

from ccswitch.call.events import CallEnded
from ccswitch.store.cdr import MIGRATIONS, CdrStore
from ccswitch.store.db import Location, migrate
from ccswitch.store.recordings import Kept, RecordingStore, Retention, Span, due

DAY = 86400.0
NOW = 1_800_000_000.0  # wall clock of the tests


def ended(call_id: str, recording: str, queue: str | None) -> CallEnded:
    return CallEnded(call_id, "1001", "1002", 200, "OK", 10.0, 12.0, 70.0, "caller", recording,
                     queue=queue)


def test_spans_open_close_and_an_open_one_ends_with_the_file(store_at: Location) -> None:
    db = store_at.connect()
    cdr, rec = CdrStore(db), RecordingStore(db)
    cdr.recording_started("c1", "/r/c1.wav", at=NOW)
    rec.paused("/r/c1.wav", 3.0, "desktop", "1002")
    rec.resumed("/r/c1.wav", 5.5)
    rec.paused("/r/c1.wav", 9.25, "ivr:cards", None)
    assert rec.spans(["/r/c1.wav"])["/r/c1.wav"][-1] == Span(9.25, None, "ivr:cards")
    cdr.recording_done("/r/c1.wav", state="complete", seconds=12.0)
    db.close()
    again = RecordingStore(store_at.connect())  # durable: read on a new connection
    assert again.spans(["/r/c1.wav", "/r/none.wav"]) == {
        "/r/c1.wav": [Span(3.0, 5.5, "desktop", "1002"), Span(9.25, 12.0, "ivr:cards")],
        "/r/none.wav": []}


def test_the_workers_marks_correct_the_last_span(store_at: Location) -> None:
    db = store_at.connect()
    CdrStore(db)
    rec = RecordingStore(db)
    rec.paused("/r/c1.wav", 3.0, "api", "admin")  # the switch's estimate
    rec.mark("/r/c1.wav", True, 2.92)  # the worker's count of frames
    rec.resumed("/r/c1.wav", 5.5)
    rec.paused("/r/c1.wav", 7.0, "api", "admin")  # a second span opens before...
    rec.mark("/r/c1.wav", False, 5.42)  # ...the first one's end mark arrives
    rec.mark("/r/c1.wav", True, 6.9)
    rec.paused("/r/other.wav", 1.0, "api", "admin")
    assert rec.spans(["/r/c1.wav"])["/r/c1.wav"] == [Span(2.92, 5.42, "api", "admin"),
                                                     Span(6.9, None, "api", "admin")]
    assert rec.spans(["/r/other.wav"])["/r/other.wav"] == [Span(1.0, None, "api", "admin")]


def test_access_rows_are_kept_in_order_and_filtered_by_recording(store_at: Location) -> None:
    db = store_at.connect()
    CdrStore(db)  # the schema
    rec = RecordingStore(db)
    rec.accessed([(NOW, 1, "c1", "list", "supervisor", "s1", "10.0.0.5"),
                  (NOW, 2, "c2", "list", "supervisor", "s1", "10.0.0.5")])
    rec.accessed([(NOW + 1, 2, "c2", "download", "admin", None, "127.0.0.1")])
    got = rec.access()
    assert [(a.id, a.recording_id, a.action, a.role, a.user) for a in got] == [
        (1, 1, "list", "supervisor", "s1"), (2, 2, "list", "supervisor", "s1"),
        (3, 2, "download", "admin", None)]
    assert [a.id for a in rec.access(recording_id=2)] == [2, 3]
    assert [a.id for a in rec.access(after=2)] == [3]


def test_migrating_an_older_cdr_schema_adds_the_tables(store_at: Location) -> None:
    db = store_at.connect()
    assert migrate(db, "cdr", MIGRATIONS[:4]) == 4  # a store of the previous version
    db.execute("INSERT INTO recordings (path, call_id, started, state) VALUES"
               " ('/r/old.wav', 'c0', 1.0, 'complete')")
    CdrStore(db)  # opens it: step 5 runs
    assert {"deleted"} <= db.columns("recordings")
    RecordingStore(db).paused("/r/old.wav", 1.0, "api", "admin")


def test_retention_picks_by_queue_and_default_and_keeps_open_files(store_at: Location) -> None:
    db = store_at.connect()
    cdr, rec = CdrStore(db), RecordingStore(db)
    # (call, queue, age in days); sales keeps 7 days, the default 30, support forever
    for call, queue, age in (("s-old", "sales", 8), ("s-new", "sales", 6),
                             ("d-old", None, 31), ("d-new", None, 29),
                             ("f-old", "support", 400), ("open", "sales", 9)):
        path = f"/r/{call}.wav"
        cdr.recording_started(call, path, at=NOW - age * DAY)
        cdr.add(ended(call, path, queue), wall_offset=0.0)
        if call != "open":
            cdr.recording_done(path, state="complete", seconds=60.0)
    policy = Retention(default=30.0, queues={"sales": 7.0, "support": 0.0})
    assert policy.shortest() == 7.0
    # candidates: closed and older than the shortest period (7 days): every closed one
    # but s-new (6 days); "open" is still 'recording'
    rows = rec.closed_before(NOW - 7 * DAY)
    assert sorted(r.path for r in rows) == ["/r/d-new.wav", "/r/d-old.wav", "/r/f-old.wav",
                                            "/r/s-old.wav"]
    # s-old: 8 > 7 days; d-old: 31 > 30; d-new 29 < 30 kept; f-old: support is forever
    assert sorted(r.path for r in due(rows, NOW, policy)) == ["/r/d-old.wav", "/r/s-old.wav"]
    rec.deleted("/r/s-old.wav", NOW)
    assert "/r/s-old.wav" not in [r.path for r in rec.closed_before(NOW)]
    assert len(cdr.recordings()) == 6  # the row stays, for audit


def test_due_never_selects_a_file_being_written_and_zero_keeps_forever() -> None:
    old = Kept(1, "/r/a.wav", NOW - 100 * DAY, frozenset({"sales"}))
    both = Kept(2, "/r/b.wav", NOW - 100 * DAY, frozenset({"sales", "vip"}))
    assert due([old], NOW, Retention(default=10.0), open_paths=["/r/a.wav"]) == []
    assert due([old], NOW, Retention(default=0.0)) == []
    assert Retention().shortest() == 0.0
    # a recording of two queues is kept for the longer period: vip's 200 days > 100 days old
    policy = Retention(default=10.0, queues={"vip": 200.0})
    assert due([old, both], NOW, policy) == [old]
    # exactly at the limit (100 days old, 100 days kept) it stays: older than, not as old
    assert due([old], NOW, Retention(default=100.0)) == []
