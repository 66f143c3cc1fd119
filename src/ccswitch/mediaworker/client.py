"""The signaling process's side of the media workers, on asyncio.

``MediaClient`` spawns the workers, sends them command batches, reads their event batches with
``loop.add_reader`` and hands them to ``on_events(worker, events)``.  It watches the legs and
recordings each worker holds as the commands and events pass by, so that when a worker dies
(its pipe reads EOF or its process sentinel fires) it can report ``WorkerDied(worker, legs)``
— the signaling side ends those calls with BYE — repair the WAV files the worker was writing
(each gets its ``RecordDone``), and spawn a new worker in its place.

With ``defer_destroy`` set, a batch of nothing but ``DestroyLeg`` (a call's end) waits up to
that long and goes out ahead of the worker's next batch (a call's start usually comes first):
one pipe write, one wake-up of the worker and one event batch back less per call.  A port
whose leg waits for its ``DestroyLeg`` is still bound in the worker: ``destroy_pending``
tells the port pool's probe (which then holds the pair out, and the destroy goes at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from ..media.commands import (
    Command,
    CreateLeg,
    DestroyLeg,
    LegFailed,
    MediaEvent,
    RecordDone,
    Shutdown,
    StartRecord,
    WorkerDied,
)
from .process import WorkerHandle
from .settings import WorkerSettings
from .wav import ConversionError, WavError, recover

log = structlog.get_logger()

OnEvents = Callable[[int, list[MediaEvent]], None]


@dataclass(frozen=True, slots=True)
class _Recording:
    path: str  # as the worker writes it (its row names it)
    fmt: str


def finish_recording(rec_id: int, rec: _Recording) -> RecordDone:
    """Repair (and convert) the recording a dead worker left for ``rec_id``; the event names
    the recording's own path, as its row does."""
    try:
        seconds = recover(rec.path, rec.fmt)
    except (OSError, WavError, ConversionError) as exc:
        log.warning("recording_lost", rec_id=rec_id, path=rec.path, error=str(exc))
        return RecordDone(rec_id, rec.path, 0.0, ok=False)
    return RecordDone(rec_id, rec.path, seconds, ok=True)


class MediaClient:
    """``workers`` media worker processes, worker ``i`` spawned with ``settings_for(i)``.

    A dead worker is replaced at once, or after ``restart_delay`` if it had lived less than
    ``min_uptime`` (a worker that crashes at start does not spin).  While a worker is down its
    commands are dropped, and each ``CreateLeg`` among them is answered ``LegFailed``.
    """

    def __init__(self, settings_for: Callable[[int], WorkerSettings], workers: int,
                 on_events: OnEvents, *, restart_delay: float = 1.0,
                 min_uptime: float = 2.0, defer_destroy: float = 0.0) -> None:
        if workers < 1:
            raise ValueError("at least one media worker")
        self.settings_for = settings_for
        self.workers = workers
        self.on_events = on_events
        self.restart_delay = restart_delay
        self.min_uptime = min_uptime
        self.restarts = [0] * workers
        self._handles: list[WorkerHandle | None] = [None] * workers
        self._born = [0.0] * workers
        self._legs: list[set[int]] = [set() for _ in range(workers)]
        self._recs: list[dict[int, _Recording]] = [{} for _ in range(workers)]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self.defer_destroy = defer_destroy
        self._ports: list[dict[int, int]] = [{} for _ in range(workers)]  # leg -> RTP port
        self._deferred: list[list[DestroyLeg]] = [[] for _ in range(workers)]
        self._deferred_ports: dict[int, int] = {}  # port -> worker, its DestroyLeg waiting
        self._flush_timers: dict[int, asyncio.TimerHandle] = {}
        self._running: list[asyncio.Event] = []  # set by a worker's first event batch

    # ------------------------------------------------------------------ public
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Spawn every worker and read its events on ``loop``."""
        self._loop = loop
        self._running = [asyncio.Event() for _ in range(self.workers)]
        for i in range(self.workers):
            self._spawn(i)

    async def running(self, timeout: float) -> bool:
        """Wait until every worker has sent its first event batch (it sends one as soon as
        its loop runs, past the interpreter's start and its imports); False on ``timeout``."""
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._running)),
                                   timeout)
        except TimeoutError:
            return False
        return True

    def handle(self, worker: int) -> WorkerHandle | None:
        """The live handle of ``worker`` (None while it is being restarted)."""
        return self._handles[worker]

    def legs_of(self, worker: int) -> frozenset[int]:
        return frozenset(self._legs[worker])

    def send(self, worker: int, cmds: Sequence[Command]) -> bool:
        """Send a command batch to ``worker``; False if it is down (the batch is dropped)."""
        h = self._handles[worker]
        if h is not None and not self._stopping:
            if self.defer_destroy > 0 and self._defer(worker, cmds):
                return True
            if self._deferred[worker]:
                cmds = [*self._take_deferred(worker), *cmds]
            self._track(worker, cmds)
            try:
                h.send(cmds)
                return True
            except OSError:
                log.warning("media_worker_send_failed", worker=worker)
                # its legs (these included) are reported when the death is seen
                return False
        failed: list[MediaEvent] = [LegFailed(c.leg, "media worker down")
                                    for c in cmds if isinstance(c, CreateLeg)]
        if failed and self._loop is not None:
            self._loop.call_soon(self.on_events, worker, failed)
        return False

    def destroy_pending(self, port: int) -> bool:
        """Whether RTP ``port``'s leg waits for its deferred ``DestroyLeg`` (the worker still
        holds the pair); if so the destroy is sent now."""
        worker = self._deferred_ports.get(port)
        if worker is None:
            return False
        self.flush(worker)
        return True

    def flush(self, worker: int) -> None:
        """Send ``worker``'s deferred commands now."""
        if self._deferred[worker]:
            self.send(worker, [])

    def _defer(self, worker: int, cmds: Sequence[Command]) -> bool:
        """Keep a batch of only ``DestroyLeg`` for later; False for any other batch."""
        destroys = [c for c in cmds if isinstance(c, DestroyLeg)]
        if not cmds or self._loop is None or len(destroys) != len(cmds):
            return False
        self._deferred[worker].extend(destroys)
        ports, legs = self._ports[worker], self._legs[worker]
        for c in destroys:
            legs.discard(c.leg)  # its call is over: a death of the worker does not name it
            port = ports.get(c.leg)
            if port is not None:
                self._deferred_ports[port] = worker
        if worker not in self._flush_timers:
            self._flush_timers[worker] = self._loop.call_later(self.defer_destroy,
                                                               self.flush, worker)
        return True

    def _take_deferred(self, worker: int) -> list[DestroyLeg]:
        cmds, self._deferred[worker] = self._deferred[worker], []
        timer = self._flush_timers.pop(worker, None)
        if timer is not None:
            timer.cancel()
        ports = self._ports[worker]
        for c in cmds:
            port = ports.get(c.leg)
            if port is not None:
                self._deferred_ports.pop(port, None)
        return cmds

    async def stop(self, timeout: float = 5.0) -> None:
        """Shut every worker down (their last events are delivered), killing laggards."""
        for i in range(self.workers):
            self.flush(i)
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        live = [h for h in self._handles if h is not None]
        for h in live:
            with contextlib.suppress(OSError):
                h.send([Shutdown()])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(h.alive for h in live) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for i, left in enumerate(self._handles):
            if left is not None:
                self._readable(i, left)  # the last events, then retire it
                if self._handles[i] is left:
                    self._retire(i, left)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ workers
    def _spawn(self, i: int) -> None:
        self._timers.pop(i, None)
        if self._stopping or self._loop is None:
            return
        h = WorkerHandle.spawn(self.settings_for(i))
        self._handles[i] = h
        self._born[i] = self._loop.time()
        self._loop.add_reader(h.fileno(), self._readable, i, h, False)
        self._loop.add_reader(h.sentinel, self._readable, i, h)
        log.info("media_worker_spawned", worker=i, pid=h.pid)

    def _readable(self, i: int, h: WorkerHandle, sentinel: bool = True) -> None:
        """Worker ``i``'s pipe (``sentinel`` False) or process sentinel became readable.  Only
        the sentinel, or EOF on the pipe, asks whether the process lives: that is a
        ``waitpid`` system call, too dear for every event batch."""
        if self._handles[i] is not h:
            return
        events = h.recv_events()
        if events:
            self._running[i].set()
            self._seen(i, events)
            self.on_events(i, events)
        if (h.eof or sentinel) and not h.alive:
            self._died(i, h)

    def _retire(self, i: int, h: WorkerHandle) -> None:
        assert self._loop is not None
        with contextlib.suppress(OSError, ValueError):
            self._loop.remove_reader(h.fileno())
        self._loop.remove_reader(h.sentinel)
        h.stop(timeout=0.5)  # joins (kills it if still there) and closes
        self._handles[i] = None

    def _died(self, i: int, h: WorkerHandle) -> None:
        self._retire(i, h)
        if self._stopping:
            if h.exitcode not in (0, None):
                log.warning("media_worker_exit", worker=i, exitcode=h.exitcode)
            return
        legs = tuple(sorted(self._legs[i]))
        recs = self._recs[i]
        self._take_deferred(i)  # nothing left to destroy
        self._ports[i] = {}
        self._legs[i] = set()
        self._recs[i] = {}
        self.restarts[i] += 1
        log.error("media_worker_died", worker=i, pid=h.pid, exitcode=h.exitcode,
                  legs=len(legs), recordings=len(recs))
        assert self._loop is not None
        self.on_events(i, [WorkerDied(i, legs)])
        if recs:
            task = asyncio.ensure_future(self._finish_recordings(i, recs), loop=self._loop)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        lived = self._loop.time() - self._born[i]
        if lived < self.min_uptime:
            self._timers[i] = self._loop.call_later(self.restart_delay, self._spawn, i)
        else:
            self._spawn(i)

    async def _finish_recordings(self, i: int, recs: dict[int, _Recording]) -> None:
        assert self._loop is not None
        events: list[MediaEvent] = []
        for rec_id, rec in recs.items():  # repairs fsync: off the event loop
            events.append(await self._loop.run_in_executor(None, finish_recording, rec_id, rec))
        self.on_events(i, events)

    # ------------------------------------------------------------------ bookkeeping
    def _track(self, i: int, cmds: Sequence[Command]) -> None:
        legs, recs, ports = self._legs[i], self._recs[i], self._ports[i]
        for cmd in cmds:
            if isinstance(cmd, CreateLeg):
                legs.add(cmd.leg)
                ports[cmd.leg] = cmd.port
            elif isinstance(cmd, DestroyLeg):
                legs.discard(cmd.leg)
                ports.pop(cmd.leg, None)
            elif isinstance(cmd, StartRecord):
                h = self._handles[i]
                path = h.settings.record_path(cmd.path) if h is not None else cmd.path
                recs[cmd.rec_id] = _Recording(path, cmd.fmt)
            elif isinstance(cmd, Shutdown):
                legs.clear()
                ports.clear()

    def _seen(self, i: int, events: list[MediaEvent]) -> None:
        for ev in events:
            if isinstance(ev, LegFailed):
                self._legs[i].discard(ev.leg)
                self._ports[i].pop(ev.leg, None)
            elif isinstance(ev, RecordDone):
                self._recs[i].pop(ev.rec_id, None)
