"""The store writer thread, on SQLite and on PostgreSQL (``store_at``): rows are committed
(another connection reads them) before the loop is told they are done; a failing job loses no
other; closing drains and commits everything."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ccswitch.call.events import CallEnded
from ccswitch.store.bindings import BindingStore
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location
from ccswitch.store.writer import Writer


def ended(call_id: str) -> CallEnded:
    return CallEnded(call_id, "1001", "1002", 200, "OK", 10.0, 12.0, 70.0, "caller", None)


def committed_cdrs(db: Location) -> list[str]:
    """Call ids as a separate connection sees them (only committed rows)."""
    other = db.connect(read_only=True)
    try:
        return [r[0] for r in other.execute("SELECT call_id FROM cdr ORDER BY id")]
    finally:
        other.close()


def test_a_row_is_committed_before_its_done_callback_runs_on_the_loop(store_at: Location) -> None:
    db = store_at
    seen: list[tuple[str, list[str], bool]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        writer = Writer(db, loop=loop)
        cdr = writer.open(CdrStore)
        done = asyncio.Event()
        for i in range(50):
            call_id = f"c{i}"

            def report(call_id: str = call_id) -> None:
                on_loop = threading.current_thread() is threading.main_thread()
                seen.append((call_id, committed_cdrs(db), on_loop))
                if len(seen) == 50:
                    done.set()

            writer.submit(lambda call_id=call_id: cdr.add(ended(call_id), wall_offset=0.0),
                          report, what="cdr")
            if i % 7 == 0:
                await asyncio.sleep(0)  # let some batches start while others are queued
        await asyncio.wait_for(done.wait(), 10)
        assert await writer.aclose()

    asyncio.run(main())
    assert [s[0] for s in seen] == [f"c{i}" for i in range(50)]  # in order
    for call_id, visible, on_loop in seen:
        assert call_id in visible and on_loop


def test_linger_gathers_the_rows_of_a_burst_into_one_commit(store_at: Location) -> None:
    db = store_at
    seen: list[list[str]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # a linger far longer than submitting five jobs takes, even on a loaded machine
        writer = Writer(db, loop=loop, linger=2.0)
        cdr = writer.open(CdrStore)
        commits = writer.commits
        done = asyncio.Event()
        for i in range(5):
            def report() -> None:
                seen.append(committed_cdrs(db))
                if len(seen) == 5:
                    done.set()

            writer.submit(lambda i=i: cdr.add(ended(f"c{i}"), wall_offset=0.0), report,
                          what="cdr")
        await asyncio.wait_for(done.wait(), 10)
        assert writer.commits == commits + 1
        assert await writer.aclose()

    asyncio.run(main())
    assert seen == [[f"c{i}" for i in range(5)]] * 5  # all committed before any was reported


def test_close_does_not_wait_for_the_linger(store_at: Location) -> None:
    db = store_at

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop(), linger=60.0)
        cdr = writer.open(CdrStore)
        writer.submit(lambda: cdr.add(ended("c1"), wall_offset=0.0), what="cdr")
        assert await writer.aclose(timeout=10.0)

    asyncio.run(main())
    assert committed_cdrs(db) == ["c1"]


def test_close_commits_everything_submitted(store_at: Location) -> None:
    db = store_at

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        cdr = writer.open(CdrStore)
        for i in range(2000):
            writer.submit(lambda i=i: cdr.add(ended(f"c{i}"), wall_offset=0.0))
        assert await writer.aclose(5.0)

    asyncio.run(main())
    assert committed_cdrs(db) == [f"c{i}" for i in range(2000)]


def test_a_failing_write_is_logged_and_loses_no_other_row(store_at: Location) -> None:
    db = store_at
    done: list[str] = []

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        cdr = writer.open(CdrStore)
        writer.submit(lambda: cdr.add(ended("a"), wall_offset=0.0), lambda: done.append("a"))
        writer.submit(lambda: writer.db.execute("INSERT INTO nowhere VALUES (1)"),  # type: ignore[union-attr]
                      lambda: done.append("bad"), what="bad")
        writer.submit(lambda: cdr.add(ended("b"), wall_offset=0.0), lambda: done.append("b"))
        assert await writer.aclose()
        await asyncio.sleep(0)
        assert writer.failed == 1

    asyncio.run(main())
    assert committed_cdrs(db) == ["a", "b"]
    assert done == ["a", "b"]


def test_stores_with_their_own_transactions_join_the_batch(store_at: Location) -> None:
    """``BindingStore.replace`` opens a transaction when it runs alone, and joins the
    writer's batch transaction when it runs inside one."""
    db = store_at

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        store = writer.open(BindingStore)
        assert writer.call(store.load) == []
        for _ in range(3):
            writer.submit(lambda: store.replace({"1001": ()}))
        assert await writer.aclose()

    asyncio.run(main())
    BindingStore(db.connect()).replace({"1002": ()})  # alone: its own transaction


def test_call_returns_the_result_or_raises(store_at: Location) -> None:
    async def main() -> None:
        writer = Writer(store_at, loop=asyncio.get_running_loop())
        assert writer.call(lambda: 41 + 1) == 42
        with pytest.raises(ZeroDivisionError):
            writer.call(lambda: 1 // 0)
        assert await writer.aclose()

    asyncio.run(main())


def test_a_lost_postgresql_connection_is_opened_again(pg_dsn: str, tmp_path: Path) -> None:
    """The server ends the writer's session (a restart, a failover): the batch that meets the
    dead connection fails, the writer connects again, and the jobs go on being committed."""
    db = Location(tmp_path / "unused.db", dsn=pg_dsn)
    done: list[str] = []

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        cdr = writer.open(CdrStore)
        writer.submit(lambda: cdr.add(ended("a"), wall_offset=0.0), lambda: done.append("a"))
        assert writer.call(lambda: len(cdr.rows())) == 1
        killer = db.connect()
        pid = writer.call(lambda: writer.db.raw.info.backend_pid)  # type: ignore[union-attr]
        killer.execute("SELECT pg_terminate_backend(?)", (pid,))
        killer.close()
        writer.submit(lambda: cdr.add(ended("b"), wall_offset=0.0), lambda: done.append("b"))
        assert await writer.aclose()
        await asyncio.sleep(0)

    asyncio.run(main())
    assert committed_cdrs(db) == ["a", "b"]
    assert done == ["a", "b"]


def test_a_commit_whose_answer_is_lost_writes_the_record_once(pg_dsn: str,
                                                              tmp_path: Path) -> None:
    """The server commits the batch, then the session dies before the writer hears the
    answer (``pg_terminate_backend`` right after COMMIT): the writer cannot know, reconnects
    and runs the batch's jobs again one by one; the record is still there once."""
    db = Location(tmp_path / "unused.db", dsn=pg_dsn)
    done: list[str] = []

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        cdr = writer.open(CdrStore)
        conn = writer.db
        assert conn is not None
        pid = writer.call(lambda: conn.raw.info.backend_pid)  # type: ignore[union-attr]
        real, lost = conn.execute, []

        def execute(text: str, params: Sequence[Any] = ()) -> Any:
            cur = real(text, params)
            if text == "COMMIT" and not lost:
                lost.append(pid)
                killer = db.connect()
                killer.execute("SELECT pg_terminate_backend(?)", (pid,))
                killer.close()
                for _ in range(50):  # the session is gone: the connection learns it
                    try:
                        conn.raw.execute("SELECT 1")
                    except psycopg.OperationalError:
                        break
                    time.sleep(0.02)
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return cur

        conn.execute = execute  # type: ignore[method-assign]
        writer.submit(lambda: cdr.add(ended("a"), wall_offset=0.0), lambda: done.append("a"))
        writer.call(lambda: None)  # the batch ran
        assert lost == [pid]
        writer.submit(lambda: cdr.add(ended("b"), wall_offset=0.0), lambda: done.append("b"))
        assert await writer.aclose()
        await asyncio.sleep(0)

    asyncio.run(main())
    # "a" was committed by the first COMMIT and written again after the reconnection: once
    assert committed_cdrs(db) == ["a", "b"]
    assert done == ["a", "b"]


def test_old_duplicate_records_are_dropped_by_the_migration(store_at: Location) -> None:
    db = store_at.connect(writer=True)
    cdr = CdrStore(db)
    cdr.add(ended("a"), wall_offset=0.0)
    cdr.add(ended("a"), wall_offset=0.0)  # the same record again: nothing written
    cdr.add(ended("a"), wall_offset=5.0)  # the same call id, another time: its own row
    db.close()
    assert committed_cdrs(store_at) == ["a", "a"]
