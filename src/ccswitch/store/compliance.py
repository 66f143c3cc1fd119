"""Recording compliance in the daemon: paused spans written as the core reports them, reads
through the API logged, and the retention policy run at start-up and then daily.

Every row goes through the switch's writer thread (durable before its ``done`` log line);
file deletions run in a worker thread.  The retention run deletes a file, then marks its
row (``recordings.deleted``): a run cut short between the two finds the file already gone
next time and marks the row then.  A recording a media worker still writes (``open_paths``)
or whose row is still ``recording`` is never deleted.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from ..call.eventlog import RECORDING_ACCESSED, RECORDING_DELETED, shell_record
from ..call.events import RecordingPaused, RecordingResumed
from ..config.schema import SwitchConfig
from ..media.commands import RecordPauseMark
from .events import EventLog
from .recordings import DAY, Kept, RecordingStore, Retention, due
from .writer import Writer

log = structlog.get_logger()

RETENTION_PERIOD = DAY  # the policy runs this often (and once at start-up)


def retention_of(config: SwitchConfig) -> Retention:
    """The policy of ``[recordings] keep_days`` and the queues' ``recording_retention_days``."""
    return Retention(default=config.recordings.keep_days, queues={
        q.name: q.recording_retention_days for q in config.queues.values()
        if q.recording_retention_days is not None})


@dataclass(frozen=True, slots=True)
class Reader:
    """Who read recordings through the API (for the access log)."""

    role: str
    user: str | None
    client: str


class Compliance:
    """The switch's side of ``store/recordings.py``."""

    def __init__(self, writer: Writer, events: EventLog | None, *,
                 policy: Callable[[], Retention],
                 open_paths: Callable[[], Iterable[str]] = lambda: (),
                 clock: Callable[[], float] = time.time) -> None:
        """``policy``: the retention configured now (re-read at each run, so a reload
        applies); ``open_paths``: the files media workers are writing; ``clock``: wall
        clock."""
        self._writer = writer
        self._events = events
        self.store: RecordingStore = writer.open(RecordingStore)
        self._policy = policy
        self._open_paths = open_paths
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[int] | None = None

    # -- paused spans ------------------------------------------------------------------
    def span(self, ev: RecordingPaused | RecordingResumed) -> None:
        """Write the start or the end of a paused span."""
        store = self.store
        if isinstance(ev, RecordingPaused):
            work = functools.partial(store.paused, ev.path, ev.offset, ev.by, ev.user)
        else:
            work = functools.partial(store.resumed, ev.path, ev.offset)
        done = functools.partial(log.info, "recording_" + ("paused" if isinstance(
            ev, RecordingPaused) else "resumed"), call_id=ev.call_id, path=ev.path,
            offset=ev.offset, by=ev.by)
        self._writer.submit(work, done, what="recording_pause")

    def mark(self, ev: RecordPauseMark) -> None:
        """A media worker says where in the file a span starts or ends (exact)."""
        self._writer.submit(functools.partial(self.store.mark, ev.path, ev.paused, ev.seconds),
                            None, what="recording_pause")

    # -- access log --------------------------------------------------------------------
    def accessed(self, action: str, recordings: Sequence[tuple[int, str | None]],
                 reader: Reader) -> None:
        """``reader`` listed or downloaded ``recordings`` (id, call id): one access row
        each, and one ``recording.accessed`` event."""
        if not recordings:
            return
        now = self._clock()
        rows = [(now, rid, call_id, action, reader.role, reader.user, reader.client)
                for rid, call_id in recordings]
        ids = [rid for rid, _ in recordings]
        self._writer.submit(functools.partial(self.store.accessed, rows),
                            functools.partial(log.info, "recording_accessed", action=action,
                                              recordings=ids, role=reader.role,
                                              user=reader.user, client=reader.client),
                            what="recording_access")
        if self._events is not None:
            self._events.append([shell_record(RECORDING_ACCESSED, time=now, fields={
                "action": action, "recordings": ids, "role": reader.role,
                "user": reader.user, "client": reader.client})])

    # -- retention ---------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the policy now, then every ``RETENTION_PERIOD``."""
        self._timer = loop.call_later(0.0, self._due, loop)

    def stop(self) -> None:
        """No more runs; one under way stops before its next deletion."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()

    def _due(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None or self._task.done():
            self._task = loop.create_task(self.run_retention())
        self._timer = loop.call_later(RETENTION_PERIOD, self._due, loop)

    async def run_retention(self) -> int:
        """Delete what the policy says is due; returns how many files went."""
        policy = self._policy()
        shortest = policy.shortest()
        if shortest <= 0 or self._writer.closing:
            return 0
        now = self._clock()
        candidates = await asyncio.to_thread(
            self._writer.call, functools.partial(self.store.closed_before, now - shortest * DAY))
        deleted = 0
        for rec in due(candidates, now, policy, self._open_paths()):
            if rec.path in set(self._open_paths()) or self._writer.closing:
                continue  # opened again meanwhile, or the switch stops
            if await asyncio.to_thread(_remove, rec.path):
                self._mark(rec, now)
                deleted += 1
        log.info("recording_retention", deleted=deleted, candidates=len(candidates),
                 keep_days=policy.default)
        return deleted

    def _mark(self, rec: Kept, now: float) -> None:
        self._writer.submit(functools.partial(self.store.deleted, rec.path, now),
                            functools.partial(log.info, "recording_deleted", recording=rec.id,
                                              path=rec.path, queues=sorted(rec.queues)),
                            what="recording_deleted")
        if self._events is not None:
            self._events.append([shell_record(RECORDING_DELETED, time=now, fields={
                "recording": rec.id, "path": rec.path, "queues": sorted(rec.queues),
                "started": rec.started})])


def _remove(path: str) -> bool:
    """Delete ``path`` (a file already gone counts as deleted); False when it cannot be."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("recording_delete_failed", path=path, error=str(e))
        return False
    return True
