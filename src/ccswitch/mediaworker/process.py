"""A media worker process: RTP sockets and a fixed tick around one pure ``MediaEngine``.

The shell only moves bytes.  Each tick it drains every readable RTP/RTCP socket (epoll,
non-blocking) into ``engine.receive``, applies the command batches read from its pipe, calls
``engine.tick(now)``, sends the engine's outbox from the sending leg's socket, hands recorded
audio to the writer thread, and sends the engine's and the writer's events back in one batch.
``WorkerHandle`` is the parent's side: spawn, send command batches, drain events, stop.

Wake-up, measured on this machine (tick 10 ms): ``time.sleep`` to the deadline wakes
0.1 ms late (p50; p99 0.15 ms) where ``epoll.poll(timeout)`` wakes 0.6 ms late (p99 1.3 ms,
its timeout is rounded up to whole milliseconds), so the fixed tick sleeps and then polls
with a zero timeout.  Receiving: ``recvfrom`` into fresh bytes costs 1.02 us a datagram,
``recvfrom_into`` a reused buffer 1.05 us plus 0.11 us to copy the bytes out (the engine keeps
payloads in jitter buffers, so it needs its own copy): the worker uses ``recvfrom``.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Protocol

import numpy as np
import structlog

from ..media.commands import (
    Command,
    CreateLeg,
    DestroyLeg,
    LegFailed,
    LegStats,
    MediaEvent,
    Play,
    PlayDone,
    PlayFile,
    PlaySamples,
    RecordSilence,
    Shutdown,
    StartRecord,
    StopRecord,
    WorkerStats,
)
from ..media.silence import SilenceDetector
from .audiofile import AudioCache, AudioFileError, Samples, decode_audio
from .settings import WorkerSettings
from .sockets import bind_pair
from .writer import RecordingWriter

RTP_BUFSIZE = 2048  # RTP of G.711 is 172 bytes; anything longer than this is not ours
SHUTDOWN_WRITER_TIMEOUT = 30.0
Addr = tuple[str, int]


class Engine(Protocol):
    """What the shell needs of ``media.engine.MediaEngine`` (stand-ins in tests match it)."""

    def add_leg(self, leg: int, port: int) -> None: ...
    def command(self, cmd: Any, now: float) -> None: ...
    def receive(self, leg: int, data: bytes, src: Addr, now: float) -> None: ...
    def receive_rtcp(self, leg: int, data: bytes, src: Addr, now: float) -> None: ...
    def tick(self, now: float) -> None: ...
    def outbox(self) -> list[tuple[int, bytes, Addr]]: ...
    def rtcp_outbox(self) -> list[tuple[int, bytes, Addr]]: ...
    def events(self) -> list[Any]: ...
    def recorded(self) -> list[tuple[int, np.ndarray[Any, Any] | None]]: ...


def make_engine(settings: WorkerSettings) -> Engine:
    """The engine for ``settings``: its ``engine_factory``, else a ``MediaEngine``."""
    if settings.engine_factory is not None:
        engine: Engine = settings.engine_factory(settings)
        return engine
    from .codecs import make_codec_engine

    real: Engine = make_codec_engine(settings)  # G.711 by table, G.722 and Opus by PyAV
    return real


class _Counters:
    __slots__ = ("busy_s", "engine_errors", "late_max", "packets_in", "packets_out",
                 "recv_errors", "rtcp_in", "rtcp_out", "send_errors", "skipped_ticks",
                 "tick_overruns", "ticks")

    def __init__(self) -> None:
        self.packets_in = self.packets_out = self.rtcp_in = self.rtcp_out = 0
        self.send_errors = self.recv_errors = self.engine_errors = 0
        self.ticks = self.tick_overruns = self.skipped_ticks = 0
        self.busy_s = self.late_max = 0.0


class Worker:
    """The loop of one worker process (constructed in the child by ``worker_main``)."""

    def __init__(self, settings: WorkerSettings, conn: Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.log = structlog.get_logger().bind(worker=settings.index)
        self.engine = make_engine(settings)
        self.epoll = select.epoll()
        self.pipe_fd = conn.fileno()
        self.epoll.register(self.pipe_fd, select.EPOLLIN)
        # is a batch (or EOF) waiting?  ``Connection.poll`` builds a selector for each question
        self.pipe_ready = _ready_check(self.pipe_fd)
        self.legs: dict[int, tuple[socket.socket, socket.socket]] = {}
        self.by_fd: dict[int, tuple[int, bool, socket.socket, bool]] = {}
        self.out: list[MediaEvent] = []
        self.rate = 8000
        self.writer = RecordingWriter(rate=self.rate, header_interval=settings.header_interval,
                                      log=self.log)
        self.silence: dict[int, tuple[int, SilenceDetector]] = {}  # rec_id -> (leg, detector)
        self.cache = AudioCache(settings.audio_cache_bytes)
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-load")
        self.loading: tuple[Play, str, Future[Samples]] | None = None
        self.held: deque[Command] = deque()
        self.c = _Counters()
        self.running = True
        self.unreported = settings.unreported
        self.held_types = settings.held
        self.held_events: list[MediaEvent] = []
        if LegStats in self.unreported and hasattr(self.engine, "final_stats"):
            self.engine.final_stats = False  # not even built

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        tick = self.settings.tick
        self.writer.start()
        self.log.info("media_worker_started", pid=os.getpid(), tick=tick,
                      wake=self.settings.wake)
        self.out.append(self._stats())  # the first batch tells the switch this worker runs
        self._send_events(flush=True)
        deadline = time.monotonic() + tick
        next_stats = time.monotonic() + self.settings.stats_interval
        live = self.settings.live_interval
        next_live = time.monotonic() + live if live > 0 else math.inf
        live_stats = getattr(self.engine, "live_stats", None)
        while self.running:
            self._wait(deadline)
            now = time.monotonic()
            late = now - deadline
            self.c.ticks += 1
            self.c.late_max = max(self.c.late_max, late)
            if late > tick:
                self.c.tick_overruns += 1
            self._tick(now)
            stats_due = now >= next_stats
            if stats_due:
                self.out.append(self._stats())
                next_stats = now + self.settings.stats_interval
                if now >= next_live and live_stats is not None:
                    self.out.extend(live_stats())
                    next_live = now + live
            self._send_events(flush=stats_due)
            self.c.busy_s += time.monotonic() - now
            deadline += tick
            if deadline <= now:  # fell behind: skip the missed ticks, keep the phase
                missed = int((now - deadline) // tick) + 1
                self.c.skipped_ticks += missed
                deadline += missed * tick
        self.log.info("media_worker_stopped")

    def _wait(self, deadline: float) -> None:
        """Until ``deadline``: sleep ("tick"), or serve sockets as they become ready."""
        if self.settings.wake == "tick":
            # sleep until the tick, but take commands at once: a CreateLeg must bind its
            # port before the SDP naming it reaches the phone (select has µs resolution,
            # epoll.poll rounds up to whole ms)
            while self.running:
                delay = deadline - time.monotonic()
                if delay <= 0:
                    return
                readable, _, _ = select.select([self.pipe_fd], [], [], delay)
                if readable:
                    self._read_commands(time.monotonic())
                    self._flush()
                    self._send_events()
            return
        while self.running:
            delay = deadline - time.monotonic()
            if delay <= 0:
                return
            ready = self.epoll.poll(delay, len(self.by_fd) + 1)
            if ready:
                now = time.monotonic()
                self._serve(ready, now)
                self._flush()

    def _tick(self, now: float) -> None:
        # ``maxevents`` covers every socket: CPython's default of 1023 left the rest of
        # 2,000 ready legs for the next tick.
        self._serve(self.epoll.poll(0, len(self.by_fd) + 1), now)
        self._finish_load(now)
        self.engine.tick(now)
        self._flush()

    def _serve(self, ready: list[tuple[int, int]], now: float) -> None:
        """Apply the commands that came in, then drain every ready socket into the engine
        (a command written before a datagram was sent is applied before it is received)."""
        if any(fd == self.pipe_fd for fd, _mask in ready):
            self._read_commands(now)
        by_fd = self.by_fd
        for fd, _mask in ready:
            entry = by_fd.get(fd)
            if entry is not None:
                self._drain(*entry, now)

    def _drain(self, leg: int, rtcp: bool, sock: socket.socket, v6: bool, now: float) -> None:
        """Read a ready socket until it is empty (at most ``max_drain`` datagrams)."""
        n = 0
        for _ in range(self.settings.max_drain):
            try:
                data, src = sock.recvfrom(RTP_BUFSIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                self.c.recv_errors += 1
                self.log.debug("rtp_recv_error", leg=leg, error=str(exc))
                break
            try:
                if rtcp:
                    self.engine.receive_rtcp(leg, data, src[:2] if v6 else src, now)
                else:
                    self.engine.receive(leg, data, src[:2] if v6 else src, now)
            except Exception:  # an engine fault on one datagram must not end every call here
                self.c.engine_errors += 1
                self.log.exception("media_receive_failed", leg=leg, size=len(data))
            n += 1
        if rtcp:
            self.c.rtcp_in += n
        else:
            self.c.packets_in += n

    def _flush(self) -> None:
        """Send the engine's datagrams, hand recorded audio over."""
        self.c.packets_out += self._send(self.engine.outbox(), 0)
        self.c.rtcp_out += self._send(self.engine.rtcp_outbox(), 1)
        self._hand_recorded()

    def _hand_recorded(self) -> None:
        """Recorded audio to the writer thread; ``(rec_id, None)`` ends a recording."""
        for rec_id, chunk in self.engine.recorded():
            if chunk is None:
                self._close_recording(rec_id)
                continue
            self.writer.write(rec_id, chunk)
            watch = self.silence.get(rec_id)
            if watch is not None and watch[1].feed(chunk[:, 0]):
                speech_s = watch[1].speech_end / self.rate
                self.out.append(RecordSilence(rec_id, watch[0], speech_s))

    def _close_recording(self, rec_id: int) -> None:
        """Finish a file; one whose silence was reported ends where the silence began."""
        watch = self.silence.pop(rec_id, None)
        keep = watch[1].speech_end if watch is not None and watch[1].fired else None
        self.writer.close(rec_id, keep_frames=keep)

    def _send(self, datagrams: list[tuple[int, bytes, Addr]], which: int) -> int:
        sent = 0
        for leg, data, dest in datagrams:
            socks = self.legs.get(leg)
            if socks is None:
                self.c.send_errors += 1
                continue
            try:
                socks[which].sendto(data, dest)
                sent += 1
            except OSError as exc:  # full send buffer, unreachable, bad address: count
                self.c.send_errors += 1
                self.log.debug("rtp_send_error", leg=leg, dest=f"{dest[0]}:{dest[1]}",
                               error=str(exc))
        return sent

    def _send_events(self, *, flush: bool = False) -> None:
        """Send the events of the engine, the writer and the worker in one batch; a batch of
        nothing but ``held`` types waits (``flush``: goes now)."""
        events = self.engine.events()
        events.extend(self.writer.events())
        if self.out:
            events.extend(self.out)
            self.out = []
        if events and self.unreported:
            events = [e for e in events if type(e) not in self.unreported]
        if self.held_types:
            if not flush and all(type(e) in self.held_types for e in events):
                self.held_events.extend(events)
                return
            if self.held_events:
                events[:0] = self.held_events
                self.held_events = []
        if not events:
            return
        try:
            self.conn.send_bytes(_dumps(events))
        except OSError as exc:  # the parent is gone: nobody to serve
            self.log.warning("media_worker_parent_gone", error=str(exc))
            self._shutdown(time.monotonic(), report=False)

    def _stats(self) -> WorkerStats:
        c = self.c
        engine = getattr(self.engine, "stats", None)  # MediaEngine.stats: EngineStats
        engine_extra = {f"engine_{k}": float(v) for k, v in _fields(engine).items()}
        extra = {**engine_extra, "ticks": float(c.ticks), "skipped_ticks": float(c.skipped_ticks),
                 "late_max_ms": c.late_max * 1e3, "busy_s": c.busy_s,
                 "rtcp_in": float(c.rtcp_in), "rtcp_out": float(c.rtcp_out),
                 "send_errors": float(c.send_errors), "recv_errors": float(c.recv_errors),
                 "engine_errors": float(c.engine_errors),
                 "writer_backlog": float(self.writer.backlog),
                 "audio_cache_bytes": float(self.cache.nbytes),
                 "held_commands": float(len(self.held))}
        c.late_max = 0.0
        dropped = c.send_errors + c.recv_errors + int(engine_extra.get("engine_dropped", 0))
        return WorkerStats(worker=self.settings.index, legs=len(self.legs),
                           packets_in=c.packets_in, packets_out=c.packets_out, dropped=dropped,
                           tick_overruns=c.tick_overruns, cpu_s=time.process_time(),
                           extra=extra)

    # ------------------------------------------------------------------ commands
    def _read_commands(self, now: float) -> None:
        try:
            while self.pipe_ready():
                batch: Sequence[Command] = self.conn.recv()
                for cmd in batch:
                    self._submit(cmd, now)
        except (EOFError, OSError):
            self.log.warning("media_worker_parent_gone")
            self._shutdown(now, report=False)

    def _submit(self, cmd: Command, now: float) -> None:
        """Apply ``cmd`` now, or after the file being loaded (commands keep their order)."""
        if not self.running:
            return
        if (self.loading is not None or self.held) and not isinstance(cmd, Shutdown):
            self.held.append(cmd)
        else:
            self._apply(cmd, now)

    def _apply(self, cmd: Command, now: float) -> None:
        try:
            if isinstance(cmd, CreateLeg):
                self._create_leg(cmd)
            elif isinstance(cmd, DestroyLeg):
                self.engine.command(cmd, now)  # final LegStats (the engine sends nothing more)
                self._close_leg(cmd.leg)  # at once: the port may be bound again in this batch
            elif isinstance(cmd, Play) and isinstance(cmd.source, PlayFile):
                self._play_file(cmd, now)
            elif isinstance(cmd, StartRecord):
                path = self.settings.record_path(cmd.path)
                self.writer.open(cmd.rec_id, path, cmd.channels, cmd.fmt)
                if cmd.silence_s > 0 and cmd.legs:
                    self.silence[cmd.rec_id] = (cmd.legs[0], SilenceDetector(
                        seconds=cmd.silence_s, threshold=cmd.silence_level, rate=self.rate))
                self.engine.command(cmd, now)
            elif isinstance(cmd, StopRecord):
                self.engine.command(cmd, now)
                self._hand_recorded()  # the last audio (and the engine's end marker)
                self._close_recording(cmd.rec_id)
            elif isinstance(cmd, Shutdown):
                self._shutdown(now)
            else:
                self.engine.command(cmd, now)
        except Exception:  # a bad command must not take the worker (and its calls) down
            self.log.exception("media_command_failed", command=type(cmd).__name__,
                               leg=getattr(cmd, "leg", None))

    def _create_leg(self, cmd: CreateLeg) -> None:
        if cmd.leg in self.legs:
            self.out.append(LegFailed(cmd.leg, "leg exists"))
            return
        try:
            rtp, rtcp = self._bind(cmd.local_ip, cmd.port)
        except OSError as exc:
            self.log.warning("rtp_bind_failed", leg=cmd.leg, port=cmd.port, error=str(exc))
            self.out.append(LegFailed(cmd.leg, f"bind {cmd.local_ip}:{cmd.port}: {exc}",
                                      port_busy=True))
            return
        self.legs[cmd.leg] = (rtp, rtcp)
        v6 = rtp.family == socket.AF_INET6
        for sock, is_rtcp in ((rtp, False), (rtcp, True)):
            self.by_fd[sock.fileno()] = (cmd.leg, is_rtcp, sock, v6)
            self.epoll.register(sock.fileno(), select.EPOLLIN)
        self.engine.add_leg(cmd.leg, cmd.port)  # the engine reports LegReady

    def _bind(self, ip: str, port: int) -> tuple[socket.socket, socket.socket]:
        return bind_pair(ip, port, rcvbuf=self.settings.rcvbuf)

    def _close_leg(self, leg: int) -> None:
        socks = self.legs.pop(leg, None)
        if socks is None:
            return
        for sock in socks:
            self.by_fd.pop(sock.fileno(), None)
            with contextlib.suppress(OSError, ValueError):
                self.epoll.unregister(sock.fileno())
            sock.close()

    # ------------------------------------------------------------------ prompts
    def _play_file(self, cmd: Play, now: float) -> None:
        assert isinstance(cmd.source, PlayFile)
        path = cmd.source.path
        try:
            samples = self.cache.get(path, self.rate)
        except AudioFileError as exc:
            self._play_failed(cmd, exc)
            return
        if samples is not None:
            self._play_samples(cmd, samples, now)
            return
        # Decoding can take long (minutes of music): a thread does it while the tick goes on,
        # and the commands that follow wait for it so that their order is kept.
        self.loading = (cmd, path, self.loader.submit(decode_audio, path, self.rate))

    def _finish_load(self, now: float) -> None:
        if self.loading is None or not self.loading[2].done():
            return
        cmd, path, future = self.loading
        self.loading = None
        try:
            samples = future.result()
        except (AudioFileError, OSError) as exc:
            self._play_failed(cmd, exc)
        else:
            with contextlib.suppress(AudioFileError):  # gone since: play what we decoded
                self.cache.put(self.cache.key(path, self.rate), samples)
            self._play_samples(cmd, samples, now)
        while self.held and self.loading is None:
            self._apply(self.held.popleft(), now)

    def _play_samples(self, cmd: Play, samples: Samples, now: float) -> None:
        assert isinstance(cmd.source, PlayFile)
        self.engine.command(replace(cmd, source=PlaySamples(samples, name=cmd.source.path)), now)

    def _play_failed(self, cmd: Play, exc: Exception) -> None:
        self.log.warning("play_file_failed", leg=cmd.leg, play_id=cmd.play_id, error=str(exc))
        self.out.append(PlayDone(cmd.leg, cmd.play_id, reason="error"))

    # ------------------------------------------------------------------ the end
    def _shutdown(self, now: float, *, report: bool = True) -> None:
        """Destroy every leg (final stats), complete the recordings, report, stop the loop."""
        if not self.running:
            return
        self.running = False
        try:  # every leg's final stats, every recording's end marker
            self.engine.command(Shutdown(), now)
        finally:  # sockets and files are closed even if the engine failed (that is logged
            self._flush()  # by the caller's fault barrier)
            for leg in list(self.legs):
                self._close_leg(leg)
            if not self.writer.stop(SHUTDOWN_WRITER_TIMEOUT):
                self.log.error("recording_writer_stuck")
            self.loader.shutdown(wait=False, cancel_futures=True)
            if report:
                events = (self.held_events + self.engine.events() + self.writer.events()
                          + self.out)
                self.out, self.held_events = [], []
                with contextlib.suppress(OSError):
                    self.conn.send_bytes(_dumps(events))


def _fields(obj: object) -> dict[str, Any]:
    """The numeric fields of a stats dataclass (empty for None or anything else)."""
    names = getattr(obj, "__dataclass_fields__", None)
    if not names:
        return {}
    values = {name: getattr(obj, name) for name in names}
    return {k: v for k, v in values.items() if isinstance(v, int | float)}


def worker_main(settings: WorkerSettings, conn: Connection) -> None:
    """The child process: the parent owns shutdown (a ``Shutdown`` command, SIGKILL after a
    grace period; the pipe's EOF when the parent is gone), so SIGINT (a terminal's ^C) and
    SIGTERM (``kill`` of the process group, systemd's default stop) are ignored: the switch
    closes its calls and recordings first and then stops its workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if settings.log_setup is not None:
        settings.log_setup()
    log = structlog.get_logger().bind(worker=settings.index)
    try:
        Worker(settings, conn).run()
    except (OSError, EOFError):  # its sockets, epoll or the pipe to the switch failed
        log.exception("media_worker_crashed")
        raise SystemExit(1) from None
    finally:  # anything else is a bug: its traceback goes to stderr, the exit status is 1,
        conn.close()  # and the switch restarts the worker either way


def _ready_check(fd: int) -> Callable[[], bool]:
    """Whether ``fd`` (a pipe end) has data or EOF to read now: one ``poll`` system call on a
    poll object made once (``Connection.poll`` builds a selector for each question, ~3 µs)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)

    def ready() -> bool:
        return bool(poller.poll(0))

    return ready


def _dumps(batch: list[Any]) -> bytes:
    """A command or event batch for the pipe: plain ``pickle`` (``Connection.send`` builds a
    ``ForkingPickler``, copying its dispatch table, for every batch; nothing in a batch needs
    its reducers), read back by ``Connection.recv``."""
    return pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` while a child is spawned (it inherits them), then back."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while a child is spawned: the child starts with them ignored
    (an ignored signal survives exec and Python keeps it so), so a ^C or a TERM to the process
    group cannot kill a worker still importing.  Only the main thread may change them;
    elsewhere nothing changes."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class WorkerHandle:
    """The parent's side of one worker process (synchronous; the asyncio client wraps it)."""

    def __init__(self, settings: WorkerSettings, process: Any, conn: Connection) -> None:
        self.settings = settings
        self.index = settings.index
        self.process = process
        self.conn = conn
        self.eof = False
        self.pid = int(process.pid)
        self.sentinel = int(process.sentinel)  # readable once the process has ended
        self._exitcode: int | None = None
        self._ready = _ready_check(conn.fileno())

    @classmethod
    def spawn(cls, settings: WorkerSettings) -> WorkerHandle:
        """Start worker ``settings.index`` in a fresh interpreter (``spawn``, OpenBLAS at 1)."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(target=worker_main, args=(settings, child),
                              name=f"media-worker-{settings.index}", daemon=True)
        with _environ(OPENBLAS_NUM_THREADS="1"), _signals_ignored():
            process.start()
        child.close()  # only the child holds its end now: its exit reads as EOF here
        return cls(settings, process, parent)

    @property
    def alive(self) -> bool:
        return not self.eof and self.process is not None and bool(self.process.is_alive())

    @property
    def exitcode(self) -> int | None:
        """The exit code once the process has ended (negative: killed by that signal)."""
        if self._exitcode is None and self.process is not None:
            code = self.process.exitcode
            self._exitcode = None if code is None else int(code)
        return self._exitcode

    def fileno(self) -> int:
        return self.conn.fileno()

    def send(self, cmds: Sequence[Command]) -> None:
        """Send one batch of commands (raises ``OSError`` if the worker is gone)."""
        try:
            self.conn.send_bytes(_dumps(list(cmds)))
        except OSError:
            self.eof = True
            raise

    def recv_events(self) -> list[MediaEvent]:
        """Every event batch already in the pipe, without blocking (EOF sets ``eof``)."""
        out: list[MediaEvent] = []
        if self.eof:
            return out
        try:
            while self._ready():
                out.extend(self.conn.recv())
        except (EOFError, OSError):
            self.eof = True
        return out

    def stop(self, timeout: float = 5.0) -> list[MediaEvent]:
        """Shut the worker down (killed after ``timeout``); returns its last events."""
        events: list[MediaEvent] = []
        if self.process is None:
            return events
        deadline = time.monotonic() + timeout
        if self.alive:
            with contextlib.suppress(OSError):
                self.send([Shutdown()])
        while not self.eof and self.process.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(OSError):
                if self.conn.poll(min(remaining, 0.1)):
                    events.extend(self.recv_events())
        events.extend(self.recv_events())
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.close()
        return events

    def kill(self) -> None:
        """SIGKILL the worker (tests; a stuck worker)."""
        if self.process is not None:
            self.process.kill()

    def close(self) -> None:
        """Release the pipe, and the process object once the process has ended."""
        self.eof = True
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process is not None and not self.process.is_alive():
            self.process.join()
            _ = self.exitcode
            self.process.close()
            self.process = None
