"""One writer thread per database (the SQLite file, or the PostgreSQL server when a DSN is
configured: ``db.Location``): writes (and their fsyncs, WAL checkpoints, round trips) stay off
the event loop, and a burst of rows costs one commit, not one per row.

The loop hands over jobs (``submit``); the thread takes every job waiting, runs them in one
transaction, commits (SQLite ``synchronous=FULL``, PostgreSQL's default ``synchronous_commit``:
on disk), and only then hands each job's ``done``
callback back to the loop.  So whatever a callback reports ("call done", the ``cdr`` log line)
is durable by the time it is reported.  ``close`` drains the queue and commits before the thread
ends.  The stores (``cdr``, ``queue_events``, ``bindings``) are opened on the thread's own
connection with ``open``; their methods run inside jobs.

``linger``: once a job arrives the thread waits up to that long for more before it commits, so
a steady flow of rows (one CDR per call at hundreds of calls a second) costs one commit and
one fsync per ``linger`` instead of one per row, and wakes the loop once per commit for the
``done`` callbacks.  Reads (``call``) and ``close`` never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog

from .db import DB_ERRORS, Db, Location, transaction

__all__ = ["Db", "Location", "Writer", "connect", "transaction"]

log = structlog.get_logger()
T = TypeVar("T")

BATCH_MAX = 1000  # jobs per transaction at most


@dataclass(frozen=True, slots=True)
class _Job:
    work: Callable[[], object]
    done: Callable[[], None] | None
    what: str  # names the job in an error log
    alone: bool = False  # runs outside the batch transaction (opening a store, reads)


def connect(path: Path | str, *, synchronous: str = "NORMAL",
            check_same_thread: bool = True) -> Db:
    """An autocommit SQLite connection in WAL mode (what every store uses on SQLite)."""
    return Db.sqlite(path, synchronous=synchronous, check_same_thread=check_same_thread)


class Writer:
    """The thread that owns one database's connection and commits in batches."""

    def __init__(self, where: Path | Location, *, loop: asyncio.AbstractEventLoop,
                 batch_max: int = BATCH_MAX, linger: float = 0.0) -> None:
        self.location = where if isinstance(where, Location) else Location(where)
        self.path = self.location.path
        self._loop = loop
        self._batch_max = batch_max
        self._linger = linger
        self._urgent = threading.Event()  # ends a linger at once (close, call)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closing = False
        self.failed = 0  # jobs whose write failed (logged)
        self.commits = 0
        self.db: Db | None = None
        opened: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(opened,),
                                        name=f"db-writer:{self.location.kind}", daemon=True)
        self._thread.start()
        opened.result()  # raises what connecting raised

    # -- the loop's side ---------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """``close`` was called: nothing more may be submitted."""
        return self._closing

    def submit(self, work: Callable[[], object], done: Callable[[], None] | None = None, *,
               what: str = "write") -> None:
        """Run ``work`` on the writer thread; ``done`` runs on the loop after the commit."""
        assert not self._closing, "submit after close"
        self._jobs.put(_Job(work, done, what))

    def call(self, fn: Callable[[], T], *, timeout: float = 30.0) -> T:
        """Run ``fn`` on the writer thread after everything submitted before it, and wait
        for its result (start-up reads; never on a busy loop)."""
        fut: Future[T] = Future()

        def work() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the waiting caller
                fut.set_exception(e)

        assert not self._closing, "call after close"
        self._jobs.put(_Job(work, None, "call", alone=True))
        self._urgent.set()  # no linger: someone waits for it
        return fut.result(timeout)

    def open(self, factory: Callable[[Db], T]) -> T:
        """A store built on the writer's connection (its methods then run in jobs)."""
        return self.call(lambda: factory(self._conn()))

    def close(self, timeout: float = 3.0) -> bool:
        """Commit everything submitted, close the connection, end the thread (blocking, at
        most ``timeout`` s); False when the thread did not finish in time."""
        if not self._closing:
            self._closing = True
            self._jobs.put(None)
            self._urgent.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    async def aclose(self, timeout: float = 3.0) -> bool:
        """``close`` without blocking the loop (done callbacks still run meanwhile)."""
        return await asyncio.to_thread(self.close, timeout)

    # -- the thread --------------------------------------------------------------------
    def _conn(self) -> Db:
        assert self.db is not None
        return self.db

    def _run(self, opened: Future[None]) -> None:
        try:
            self.db = self.location.connect(writer=True)
        except DB_ERRORS as e:
            opened.set_exception(e)
            return
        opened.set_result(None)
        running = True
        while running:
            batch = self._gather()
            while len(batch) < self._batch_max:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            running = None not in batch
            jobs: list[_Job] = []
            for job in batch:
                if job is not None and not job.alone:
                    jobs.append(job)
                    continue
                if jobs:
                    self._commit(jobs)
                    jobs = []
                if job is not None:
                    job.work()  # a call(): it hands its own errors to the caller
            if jobs:
                self._commit(jobs)
        self.db.close()

    def _gather(self) -> list[_Job | None]:
        """The next job; with ``linger``, after waiting that long for others to queue behind it
        (one wake-up per linger, not per job; ``close`` and ``call`` end the wait)."""
        first = self._jobs.get()
        if first is None or first.alone:
            self._urgent.clear()  # its own signal, when it came already (else one wait is cut)
        elif self._linger:
            self._urgent.wait(self._linger)
            self._urgent.clear()
        return [first]

    def _commit(self, jobs: list[_Job]) -> None:
        db = self._conn()
        try:
            db.execute("BEGIN")
            for job in jobs:
                job.work()
            db.execute("COMMIT")
        except Exception as e:  # a bad row or a bug in one job must not lose the others
            if db.broken:  # PostgreSQL: the connection was lost; the batch was not committed
                self._reconnect(db)
            elif db.in_transaction:
                db.execute("ROLLBACK")
            log.warning("store_batch_failed", db=self.location.name, jobs=len(jobs), error=str(e))
            jobs = self._one_by_one(jobs)
        self.commits += 1
        dones = [j.done for j in jobs if j.done is not None]
        if dones:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to tell
                self._loop.call_soon_threadsafe(_run_all, dones)

    def _reconnect(self, db: Db) -> None:
        try:
            db.reconnect()
            log.warning("store_reconnected", db=self.location.name)
        except DB_ERRORS as e:  # the jobs then fail one by one, logged
            log.error("store_reconnect_failed", db=self.location.name, error=str(e))

    def _one_by_one(self, jobs: list[_Job]) -> list[_Job]:
        """After a failed batch: each job in its own transaction; returns those committed."""
        db = self._conn()
        ok = []
        for job in jobs:
            try:
                with transaction(db):
                    job.work()
                ok.append(job)
            except Exception as e:  # logged and counted; the thread goes on
                self.failed += 1
                if db.broken:
                    self._reconnect(db)
                log.error("store_write_failed", db=self.location.name, what=job.what, error=str(e))
        return ok


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for cb in callbacks:
        cb()
