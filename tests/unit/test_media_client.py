"""MediaClient on asyncio: real worker processes (the echo stand-in engine), their events on
the loop, leg bookkeeping, restart of a worker killed by SIGKILL, recordings repaired after."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from test_worker_process import LOCAL, echo_engine, free_port_pair

from ccswitch.media.commands import (
    CreateLeg,
    DestroyLeg,
    LegFailed,
    LegReady,
    LegStats,
    MediaEvent,
    RecordDone,
    StartRecord,
    WorkerDied,
    WorkerStats,
)
from ccswitch.mediaworker.client import MediaClient
from ccswitch.mediaworker.settings import WorkerSettings


class Sink:
    """Collects ``on_events`` calls and lets a test wait for one."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, MediaEvent]] = []
        self.changed = asyncio.Event()

    def __call__(self, worker: int, events: list[MediaEvent]) -> None:
        self.seen.extend((worker, e) for e in events)
        self.changed.set()

    async def wait(self, pred: Callable[[int, MediaEvent], bool],
                   timeout: float = 10.0) -> tuple[int, MediaEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for item in self.seen:
                if pred(*item):
                    self.seen.remove(item)
                    return item
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - loop.time()))


def make_client(tmp_path: Path, sink: Sink, workers: int = 2, header_interval: float = 0.05,
                **kw: float) -> MediaClient:
    def settings_for(i: int) -> WorkerSettings:
        return WorkerSettings(index=i, engine_factory=echo_engine, stats_interval=0.5,
                              recordings_dir=str(tmp_path), header_interval=header_interval)
    return MediaClient(settings_for, workers, sink, **kw)


async def create(client: MediaClient, sink: Sink, worker: int, leg: int,
                 port: int | None = None) -> int:
    port = port or free_port_pair()
    assert client.send(worker, [CreateLeg(leg, port, LOCAL)])
    w, ev = await sink.wait(lambda w, e: getattr(e, "leg", None) == leg
                            and isinstance(e, LegReady | LegFailed))
    assert (w, ev) == (worker, LegReady(leg, port))
    return port


async def test_events_arrive_per_worker_and_legs_are_tracked(tmp_path: Path) -> None:
    sink = Sink()
    client = make_client(tmp_path, sink)
    client.start(asyncio.get_running_loop())
    try:
        await create(client, sink, 0, 10)
        await create(client, sink, 1, 11)
        await create(client, sink, 1, 12)
        assert client.legs_of(0) == {10} and client.legs_of(1) == {11, 12}
        for w in (0, 1):
            await sink.wait(lambda wk, e, w=w: wk == w and isinstance(e, WorkerStats)
                            and e.worker == w and e.legs == len(client.legs_of(w)))
        client.send(1, [DestroyLeg(11)])
        assert await sink.wait(lambda w, e: isinstance(e, LegStats)) == (1, LegStats(11, 0, 0))
        assert client.legs_of(1) == {12}
        # a failed bind is not a leg of the worker
        port = free_port_pair()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind((LOCAL, port))
        client.send(0, [CreateLeg(13, port, LOCAL)])
        await sink.wait(lambda w, e: isinstance(e, LegFailed) and e.leg == 13)
        blocker.close()
        assert client.legs_of(0) == {10}
    finally:
        await client.stop()
    final = [e for _, e in sink.seen if isinstance(e, LegStats)]
    assert {e.leg for e in final} == {10, 12}  # the shutdown's final stats were delivered
    assert client.handle(0) is None and client.handle(1) is None


async def test_a_call_end_waits_for_the_next_batch(tmp_path: Path) -> None:
    sink = Sink()
    client = make_client(tmp_path, sink, workers=1, defer_destroy=1.0)
    client.start(asyncio.get_running_loop())

    def stats_of(leg: int) -> Callable[[int, MediaEvent], bool]:
        return lambda w, e: isinstance(e, LegStats) and e.leg == leg

    try:
        p20 = await create(client, sink, 0, 20)
        p21 = await create(client, sink, 0, 21)
        assert client.send(0, [DestroyLeg(20)])
        assert client.legs_of(0) == {21}  # over for the bookkeeping at once
        with pytest.raises(TimeoutError):  # but not sent yet: the pair is still bound
            await sink.wait(stats_of(20), timeout=0.2)
        with pytest.raises(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOCAL, p20))
        await create(client, sink, 0, 22)  # the next batch carries it, ahead of the new leg
        assert (0, LegStats(20, 0, 0)) in sink.seen  # in the same event batch as LegReady(22)
        # the port pool's probe asks for a pair whose destroy waits: it goes at once
        client.send(0, [DestroyLeg(21)])
        assert client.destroy_pending(p21)
        await sink.wait(stats_of(21))
        assert not client.destroy_pending(p21) and not client.destroy_pending(p20)
        client.send(0, [DestroyLeg(22)])  # nothing follows: the timer sends it
        await sink.wait(stats_of(22))
    finally:
        await client.stop()


async def test_killed_worker_is_reported_and_replaced(tmp_path: Path) -> None:
    sink = Sink()
    # No header rewrite before the kill: the WAV header counts no frame, while 8 channels
    # (128 kB/s) overflow the writer's 64 KiB buffer onto the disk within the second.
    client = make_client(tmp_path, sink, min_uptime=0.0, header_interval=3600.0)
    client.start(asyncio.get_running_loop())
    try:
        port = await create(client, sink, 1, 21)
        await create(client, sink, 1, 22)
        await create(client, sink, 0, 23)
        client.send(1, [StartRecord(4, "dying.wav", (21, 22) * 4)])
        await asyncio.sleep(1.0)
        old = client.handle(1)
        assert old is not None
        os.kill(old.pid, signal.SIGKILL)
        w, died = await sink.wait(lambda w, e: isinstance(e, WorkerDied))
        assert (w, died) == (1, WorkerDied(1, (21, 22)))
        w, rec = await sink.wait(lambda w, e: isinstance(e, RecordDone))
        assert w == 1 and isinstance(rec, RecordDone)
        assert rec.ok and rec.path == str(tmp_path / "dying.wav") and rec.seconds > 0.2
        with wave.open(rec.path) as f:  # repaired: the header counts every frame on disk
            assert f.getnchannels() == 8
            assert f.getnframes() == round(rec.seconds * 8000)
            assert os.path.getsize(rec.path) == 44 + 16 * f.getnframes()
        new = client.handle(1)
        assert new is not None and new.pid != old.pid and client.restarts == [0, 1]
        assert client.legs_of(1) == frozenset() and client.legs_of(0) == {23}
        # the dead worker's ports were freed and the new worker serves them
        await create(client, sink, 1, 21, port=port)
        assert client.legs_of(1) == {21}
        assert client.handle(0) is not None and client.handle(0).alive
    finally:
        await client.stop()


async def test_commands_to_a_worker_being_restarted_fail_cleanly(tmp_path: Path) -> None:
    sink = Sink()
    client = make_client(tmp_path, sink, workers=1, restart_delay=0.5, min_uptime=60.0)
    client.start(asyncio.get_running_loop())
    try:
        await create(client, sink, 0, 31)
        old = client.handle(0)
        assert old is not None
        old.kill()
        await sink.wait(lambda w, e: isinstance(e, WorkerDied))
        assert client.handle(0) is None  # it lived < min_uptime: restarted after a delay
        assert client.send(0, [CreateLeg(32, free_port_pair(), LOCAL)]) is False
        assert await sink.wait(lambda w, e: isinstance(e, LegFailed)) == (
            0, LegFailed(32, "media worker down"))
        for _ in range(100):
            if client.handle(0) is not None:
                break
            await asyncio.sleep(0.05)
        await create(client, sink, 0, 33)
    finally:
        await client.stop()


async def test_stop_kills_a_worker_that_does_not_exit(tmp_path: Path) -> None:
    sink = Sink()
    client = make_client(tmp_path, sink, workers=1)
    client.start(asyncio.get_running_loop())
    h = client.handle(0)
    assert h is not None
    await sink.wait(lambda w, e: isinstance(e, WorkerStats))
    os.kill(h.pid, signal.SIGSTOP)  # frozen: it cannot answer Shutdown
    try:
        await client.stop(timeout=0.5)
    finally:
        with pytest.raises(ProcessLookupError):
            os.kill(h.pid, signal.SIGCONT)
    assert h.exitcode == -signal.SIGKILL
    assert not any(isinstance(e, WorkerDied) for _, e in sink.seen)


async def test_running_waits_for_every_workers_first_batch(tmp_path: Path) -> None:
    """The switch says "ready" only once every worker runs: each sends a batch (its stats) as
    soon as its loop starts, long before its first ``stats_interval``."""
    sink = Sink()

    def settings_for(i: int) -> WorkerSettings:
        return WorkerSettings(index=i, engine_factory=echo_engine, stats_interval=3600.0,
                              recordings_dir=str(tmp_path))

    client = MediaClient(settings_for, 2, sink)
    client.start(asyncio.get_running_loop())
    try:
        assert not sink.seen  # nothing yet: the workers are still starting
        assert await client.running(60.0)
        assert sorted(w for w, e in sink.seen if isinstance(e, WorkerStats)) == [0, 1]
    finally:
        await client.stop()
