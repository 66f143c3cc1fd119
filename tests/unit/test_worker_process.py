"""The media worker shell in real processes with real UDP sockets on 127.0.0.1.

``EchoEngine`` stands in for ``MediaEngine`` with the same API so that the shell (binding,
draining, sending, commands, prompts, recordings, stats, shutdown) is tested on its own; the
tests at the end run the real engine when ``media/engine.py`` is there.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    LegFailed,
    LegReady,
    LegStats,
    MediaEvent,
    Play,
    PlayDone,
    PlayFile,
    PlaySamples,
    RecordDone,
    SetTimeout,
    Shutdown,
    StartRecord,
    StopRecord,
    WorkerStats,
)
from ccswitch.media.g711 import ulaw_decode, ulaw_encode
from ccswitch.media.rtp import build_rtp, is_rtcp, parse_rtp
from ccswitch.mediaworker.process import WorkerHandle
from ccswitch.mediaworker.settings import WorkerSettings
from ccswitch.mediaworker.sockets import pair_probe
from ccswitch.mediaworker.wav import WavWriter

LOCAL = "127.0.0.1"
SRC = str(Path(__file__).resolve().parents[2] / "src")


# --------------------------------------------------------------------------- the stand-in
class EchoEngine:
    """Same API as ``MediaEngine``; each datagram goes back to its source (or to the address a
    ``ConfigureLeg`` gave) from the leg it came in on.  A ``Play`` of samples sends
    ``PLAY <id> <n> <Hz>`` to the leg's last source; a recording gets 440 Hz in channel 0,
    1000 Hz in channel 1, 2000 Hz in channel 2 (then again) for every 20 ms of ``now``.
    ``SetTimeout(leg, -s)`` makes the next tick take ``s`` seconds and ``Connect(-1, x)``
    raises (to test the shell's resilience)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.legs: dict[int, dict[str, Any]] = {}
        self.recs: dict[int, list[int]] = {}
        self.out: list[tuple[int, bytes, tuple[str, int]]] = []
        self.rtcp: list[tuple[int, bytes, tuple[str, int]]] = []
        self.evs: list[MediaEvent] = []
        self.rec_out: list[tuple[int, np.ndarray | None]] = []
        self.next_frame: float | None = None
        self.slow = 0.0

    def add_leg(self, leg: int, port: int) -> None:
        self.legs[leg] = {"received": 0, "src": None, "dest": None}
        self.evs.append(LegReady(leg, port))

    def command(self, cmd: Any, now: float) -> None:
        if isinstance(cmd, DestroyLeg):
            st = self.legs.pop(cmd.leg)
            self.evs.append(LegStats(cmd.leg, received=st["received"], lost=0))
        elif isinstance(cmd, ConfigureLeg):
            self.legs[cmd.leg]["dest"] = (cmd.remote_ip, cmd.remote_port)
        elif isinstance(cmd, Play):
            assert isinstance(cmd.source, PlaySamples), "the shell must load PlayFile"
            x = np.asarray(cmd.source.samples, dtype=np.float64)
            hz = np.argmax(np.abs(np.fft.rfft(x))) * 8000 / len(x)
            msg = f"PLAY {cmd.play_id} {len(x)} {hz:.0f}".encode()
            self.out.append((cmd.leg, msg, self.legs[cmd.leg]["src"]))
            self.evs.append(PlayDone(cmd.leg, cmd.play_id, "end"))
        elif isinstance(cmd, StartRecord):
            self.recs[cmd.rec_id] = [len(cmd.legs), 0]
        elif isinstance(cmd, StopRecord):
            self.recs.pop(cmd.rec_id)
            self.rec_out.append((cmd.rec_id, None))
        elif isinstance(cmd, Shutdown):
            for leg in list(self.legs):
                self.command(DestroyLeg(leg), now)
            for rec_id in list(self.recs):
                self.command(StopRecord(rec_id), now)
        elif isinstance(cmd, SetTimeout) and cmd.seconds < 0:
            self.slow = -cmd.seconds
        elif isinstance(cmd, Connect) and cmd.src < 0:
            raise ValueError("no such leg")

    def receive(self, leg: int, data: bytes, src: tuple[str, int], now: float) -> None:
        st = self.legs[leg]
        st["received"] += 1
        st["src"] = src
        self.out.append((leg, bytes(data), st["dest"] or src))

    def receive_rtcp(self, leg: int, data: bytes, src: tuple[str, int], now: float) -> None:
        self.rtcp.append((leg, b"RTCP:" + bytes(data), src))

    def tick(self, now: float) -> None:
        if self.slow:
            time.sleep(self.slow)
            self.slow = 0.0
        if self.next_frame is None:
            self.next_frame = now
        while now >= self.next_frame:
            self.next_frame += 0.02
            for rec_id, rec in self.recs.items():
                t = (np.arange(160) + rec[1]) / 8000
                hz = [(440, 1000, 2000)[k % 3] for k in range(rec[0])]
                cols = [8000 * np.sin(2 * np.pi * f * t) for f in hz]
                self.rec_out.append((rec_id, np.stack(cols, axis=1).astype(np.int16)))
                rec[1] += 160

    def outbox(self) -> list[tuple[int, bytes, tuple[str, int]]]:
        out, self.out = self.out, []
        return out

    def rtcp_outbox(self) -> list[tuple[int, bytes, tuple[str, int]]]:
        out, self.rtcp = self.rtcp, []
        return out

    def events(self) -> list[MediaEvent]:
        out, self.evs = self.evs, []
        return out

    def recorded(self) -> list[tuple[int, np.ndarray | None]]:
        out, self.rec_out = self.rec_out, []
        return out


def echo_engine(settings: WorkerSettings) -> EchoEngine:
    return EchoEngine(settings)


# --------------------------------------------------------------------------- helpers
def free_port_pair() -> int:
    """An even port >= 40000 whose pair (port, port + 1) is free on 127.0.0.1 right now."""
    for _ in range(200):
        port = random.randrange(40000, 60000, 2)
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((LOCAL, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair")


class Collector:
    """Reads a worker's event batches and keeps them all."""

    def __init__(self, handle: WorkerHandle) -> None:
        self.h = handle
        self.events: list[MediaEvent] = []

    def wait(self, pred: Callable[[MediaEvent], bool], timeout: float = 5.0) -> MediaEvent:
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events[seen:]:
                if pred(ev):
                    self.events.remove(ev)
                    return ev
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event in {timeout}s: {self.events[-10:]}")
            if self.h.conn.poll(0.05):
                self.events.extend(self.h.recv_events())


def udp_client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOCAL, 0))
    s.settimeout(3.0)
    return s


def settings(tmp: Path, **kw: Any) -> WorkerSettings:
    base: dict[str, Any] = {"index": 3, "engine_factory": echo_engine,
                            "recordings_dir": str(tmp), "stats_interval": 0.2,
                            "header_interval": 0.05}
    base.update(kw)
    return WorkerSettings(**base)


@pytest.fixture(scope="module")
def rec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recordings")


@pytest.fixture(scope="module")
def worker(rec_dir: Path) -> Iterator[tuple[WorkerHandle, Collector]]:
    h = WorkerHandle.spawn(settings(rec_dir))
    yield h, Collector(h)
    h.stop(5.0)


def create_leg(h: WorkerHandle, ev: Collector, leg: int) -> int:
    port = free_port_pair()
    h.send([CreateLeg(leg, port, LOCAL)])
    ready = ev.wait(lambda e: isinstance(e, LegReady | LegFailed) and e.leg == leg)
    assert ready == LegReady(leg, port)
    return port


# --------------------------------------------------------------------------- the shell
def test_spawn_environment_and_signals(worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    assert h.alive and h.pid != os.getpid() and h.index == 3
    ev.wait(lambda e: isinstance(e, WorkerStats))  # running Python (past fork and exec)
    env = Path(f"/proc/{h.pid}/environ").read_bytes().split(b"\0")
    assert b"OPENBLAS_NUM_THREADS=1" in env
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # set for the child only
        assert "OPENBLAS_NUM_THREADS" not in os.environ
    os.kill(h.pid, signal.SIGINT)  # the parent owns shutdown: ^C does not stop the worker,
    os.kill(h.pid, signal.SIGTERM)  # nor a SIGTERM to the process group (systemd's stop)
    ev.wait(lambda e: isinstance(e, WorkerStats))
    assert h.alive


def test_rtp_and_rtcp_are_drained_and_sent_from_the_leg(
        worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    port = create_leg(h, ev, 101)
    phone = udp_client()
    for i in range(50):  # a burst: several datagrams per tick
        phone.sendto(b"rtp-%d" % i, (LOCAL, port))
    got = sorted(int(phone.recvfrom(2048)[0][4:]) for _ in range(50))
    assert got == list(range(50))
    phone.sendto(b"x", (LOCAL, port))
    data, src = phone.recvfrom(2048)
    assert src == (LOCAL, port)  # symmetric: sent from the leg's own RTP socket
    phone.sendto(b"report", (LOCAL, port + 1))
    data, src = phone.recvfrom(2048)
    assert (data, src) == (b"RTCP:report", (LOCAL, port + 1))
    h.send([DestroyLeg(101)])
    assert ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 101).received == 51
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the ports are closed: they bind again
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((LOCAL, port))
            s.close()
            break
        except OSError:
            s.close()
            time.sleep(0.02)
    else:
        raise AssertionError("port still bound after DestroyLeg")
    phone.close()


def test_the_pool_probe_binds_the_pair_as_the_worker_does() -> None:
    port = free_port_pair()
    probe = pair_probe(LOCAL)
    assert probe(port) and probe(port)  # and let it go again each time
    for taken_port in (port, port + 1):
        taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        taken.bind((LOCAL, taken_port))
        try:
            assert not probe(port)
        finally:
            taken.close()
    assert probe(port)


def test_bind_failure_is_reported(worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    port = free_port_pair()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind((LOCAL, port + 1))  # the RTCP port is taken
    try:
        h.send([CreateLeg(102, port, LOCAL)])
        failed = ev.wait(lambda e: getattr(e, "leg", None) == 102)
        assert isinstance(failed, LegFailed) and str(port) in failed.reason
        assert failed.port_busy  # the switch holds the pair instead of reusing it
    finally:
        taken.close()
    # the RTP socket it had bound was released: the leg can be created now
    h.send([CreateLeg(102, port, LOCAL)])
    assert ev.wait(lambda e: getattr(e, "leg", None) == 102) == LegReady(102, port)
    h.send([CreateLeg(102, port, LOCAL)])
    assert ev.wait(lambda e: getattr(e, "leg", None) == 102) == LegFailed(102, "leg exists")
    h.send([DestroyLeg(102)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 102)


def test_a_port_freed_by_destroy_binds_again_in_the_same_batch(
        worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    port = create_leg(h, ev, 108)
    h.send([DestroyLeg(108), CreateLeg(109, port, LOCAL)])
    assert ev.wait(lambda e: getattr(e, "leg", None) == 108) == LegStats(108, 0, 0)
    assert ev.wait(lambda e: getattr(e, "leg", None) == 109) == LegReady(109, port)
    h.send([DestroyLeg(109)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 109)


def test_unreported_events_stay_in_the_worker(tmp_path: Path) -> None:
    h = WorkerHandle.spawn(settings(tmp_path, unreported=frozenset({LegReady, LegStats})))
    ev = Collector(h)
    try:
        port = free_port_pair()
        h.send([CreateLeg(301, port, LOCAL)])
        h.send([CreateLeg(301, port, LOCAL)])  # a failure is still reported
        assert ev.wait(lambda e: getattr(e, "leg", None) == 301) == LegFailed(301, "leg exists")
        h.send([DestroyLeg(301), CreateLeg(302, port, LOCAL), DestroyLeg(302)])
        ev.wait(lambda e: isinstance(e, WorkerStats))  # a later batch has come
        ev.wait(lambda e: isinstance(e, WorkerStats))
        assert not [e for e in ev.events if isinstance(e, LegReady | LegStats)], ev.events
    finally:
        h.stop(5.0)


def test_send_errors_and_bad_commands_do_not_kill_the_worker(
        worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    port = create_leg(h, ev, 103)
    # an IPv6 destination on an IPv4 socket: sendto raises, the shell counts it
    h.send([ConfigureLeg(103, "::1", 9, 10, "PCMU", 0), Connect(-1, 103)])
    phone = udp_client()
    phone.sendto(b"lost", (LOCAL, port))
    before = ev.wait(lambda e: isinstance(e, WorkerStats))
    stats = ev.wait(lambda e: isinstance(e, WorkerStats) and e.extra["send_errors"] >= 1)
    assert stats.dropped >= 1 and stats.packets_in > before.packets_in - 1
    h.send([ConfigureLeg(103, LOCAL, phone.getsockname()[1], 0, "PCMU", 0)])
    time.sleep(0.05)
    phone.sendto(b"back", (LOCAL, port))
    assert phone.recvfrom(2048)[0] == b"back"
    assert h.alive
    h.send([DestroyLeg(103)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 103)
    phone.close()


def test_play_file_is_loaded_off_the_tick_in_order(
        worker: tuple[WorkerHandle, Collector], tmp_path: Path) -> None:
    h, ev = worker
    port = create_leg(h, ev, 104)
    phone = udp_client()
    phone.sendto(b"latch", (LOCAL, port))
    assert phone.recvfrom(2048)[0] == b"latch"
    prompt = tmp_path / "prompt.wav"
    w = WavWriter(str(prompt), 1)
    w.write((8000 * np.sin(2 * np.pi * 600 * np.arange(12000) / 8000)).astype(np.int16))
    w.close()
    h.send([Play(104, 1, PlayFile(str(prompt))), Play(104, 2, PlayFile(str(prompt))),
            Play(104, 3, PlaySamples(np.zeros(80, np.int16) + 1)),
            Play(104, 4, PlayFile(str(tmp_path / "missing.wav")))])
    msgs = [phone.recvfrom(2048)[0] for _ in range(3)]
    assert msgs == [b"PLAY 1 12000 600", b"PLAY 2 12000 600", b"PLAY 3 80 0"]
    assert ev.wait(lambda e: isinstance(e, PlayDone) and e.play_id == 4).reason == "error"
    h.send([DestroyLeg(104)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 104)
    phone.close()


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        ch = w.getnchannels()
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, ch)


def test_recording_wav_and_opus(worker: tuple[WorkerHandle, Collector], rec_dir: Path) -> None:
    h, ev = worker
    create_leg(h, ev, 105)
    create_leg(h, ev, 106)
    h.send([StartRecord(7, "calls/seven.wav", (105, 106)),
            StartRecord(8, str(rec_dir / "eight.opus"), (105, 106), fmt="opus")])
    time.sleep(0.5)
    h.send([StopRecord(7), StopRecord(8)])
    done7 = ev.wait(lambda e: isinstance(e, RecordDone) and e.rec_id == 7)
    done8 = ev.wait(lambda e: isinstance(e, RecordDone) and e.rec_id == 8)
    assert done7.ok and done7.path == str(rec_dir / "calls" / "seven.wav")
    assert 0.3 < done7.seconds < 1.0
    audio = read_wav(rec_dir / "calls" / "seven.wav")
    assert audio.shape == (round(done7.seconds * 8000), 2)
    t = np.arange(len(audio)) / 8000
    np.testing.assert_array_equal(audio[:, 1],
                                  (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16))
    assert done8.ok and done8.path == str(rec_dir / "eight.opus")
    assert os.path.getsize(done8.path) > 100
    assert not os.path.exists(str(rec_dir / "eight.opus.wav"))
    h.send([StartRecord(9, "/proc/forbidden/nine.wav", (105,))])
    failed = ev.wait(lambda e: isinstance(e, RecordDone) and e.rec_id == 9)
    assert not failed.ok
    h.send([StopRecord(9), DestroyLeg(105), DestroyLeg(106)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 106)
    time.sleep(0.1)
    ev.events.extend(h.recv_events())
    assert not any(isinstance(e, RecordDone) and e.rec_id == 9 for e in ev.events)


def test_stats_and_tick_overruns(worker: tuple[WorkerHandle, Collector]) -> None:
    h, ev = worker
    first = ev.wait(lambda e: isinstance(e, WorkerStats))
    assert first.worker == 3 and first.extra["ticks"] > 0
    create_leg(h, ev, 107)
    h.send([SetTimeout(107, -0.05)])  # the stand-in's next tick takes 50 ms: 5 ticks late
    # a loaded machine may make a tick late by itself first: wait for the 50 ms one
    later = ev.wait(lambda e: isinstance(e, WorkerStats)
                    and e.extra["skipped_ticks"] >= first.extra["skipped_ticks"] + 3)
    assert later.tick_overruns > first.tick_overruns
    assert later.cpu_s >= first.cpu_s > 0
    h.send([DestroyLeg(107)])
    ev.wait(lambda e: isinstance(e, LegStats) and e.leg == 107)


# --------------------------------------------------------------------------- lifecycle
def test_sigint_while_the_worker_starts_does_not_kill_it(tmp_path: Path) -> None:
    h = WorkerHandle.spawn(settings(tmp_path))
    try:
        for _ in range(20):  # from the first instant on (a ^C to the process group)
            os.kill(h.pid, signal.SIGINT)
            time.sleep(0.01)
        Collector(h).wait(lambda e: isinstance(e, WorkerStats))
        assert h.alive
    finally:
        h.stop(5.0)


def test_stop_reports_final_stats_and_closes_recordings(tmp_path: Path) -> None:
    h = WorkerHandle.spawn(settings(tmp_path))
    ev = Collector(h)
    create_leg(h, ev, 201)
    h.send([StartRecord(1, "open.wav", (201,))])
    time.sleep(0.3)
    final = h.stop(5.0)
    assert LegStats(201, received=0, lost=0) in final
    done = [e for e in final if isinstance(e, RecordDone)]
    assert len(done) == 1 and done[0].ok and done[0].seconds > 0.1
    assert read_wav(tmp_path / "open.wav").shape[0] == round(done[0].seconds * 8000)
    assert not h.alive and h.exitcode == 0


def test_killed_worker_leaves_a_readable_recording(tmp_path: Path) -> None:
    h = WorkerHandle.spawn(settings(tmp_path, header_interval=0.05))
    ev = Collector(h)
    create_leg(h, ev, 202)
    h.send([StartRecord(2, "killed.wav", (202,))])
    time.sleep(0.6)
    h.kill()
    h.process.join(5)
    assert h.exitcode == -signal.SIGKILL
    audio = read_wav(tmp_path / "killed.wav")
    assert len(audio) >= 8000 * 0.2  # the header counted what reached the file
    t = np.arange(len(audio)) / 8000
    np.testing.assert_array_equal(audio[:, 0],
                                  (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))
    h.close()


def test_worker_exits_when_its_parent_dies() -> None:
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{SRC!r}, {str(Path(__file__).parent)!r}]
        from ccswitch.mediaworker.process import WorkerHandle
        from ccswitch.mediaworker.settings import WorkerSettings
        from test_worker_process import echo_engine
        if __name__ == "__main__":
            h = WorkerHandle.spawn(WorkerSettings(engine_factory=echo_engine))
            while not h.conn.poll(0.1):  # up and ticking: its first stats
                pass
            print("WORKER", h.pid, flush=True)
            os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    pid = int(out.stdout.split("WORKER ")[1].split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the worker outlived its parent")


@pytest.mark.parametrize("wake", ["tick", "ready"])
def test_wake_modes_added_delay(tmp_path: Path, wake: str) -> None:
    """With a 40 ms tick, the fixed tick holds an echo up to one tick (mean ~20 ms); waking
    on readiness answers at once."""
    h = WorkerHandle.spawn(settings(tmp_path, tick=0.04, wake=wake, stats_interval=10.0))
    try:
        ev = Collector(h)
        port = create_leg(h, ev, 301)
        phone = udp_client()
        rtts = []
        for i in range(30):
            t0 = time.perf_counter()
            phone.sendto(b"%d" % i, (LOCAL, port))
            assert phone.recvfrom(2048)[0] == b"%d" % i
            rtts.append(time.perf_counter() - t0)
            time.sleep(random.uniform(0, 0.01))
        mean = statistics.mean(rtts)
        if wake == "tick":
            assert 0.008 < mean < 0.045
        else:
            assert mean < 0.008
        phone.close()
    finally:
        h.stop(5.0)


# --------------------------------------------------------------------------- the real engine
class Phone:
    """A UDP endpoint that sends a tone as 20 ms PCMU RTP and keeps the RTP it receives."""

    def __init__(self, hz: float, ssrc: int) -> None:
        self.sock = udp_client()
        self.sock.settimeout(0.05)
        self.hz = hz
        self.ssrc = ssrc
        self.got: list[Any] = []
        self._stop = threading.Event()
        self._rx = threading.Thread(target=self._receive, daemon=True)
        self._rx.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if not is_rtcp(data):
                self.got.append(parse_rtp(data))

    def send_tone(self, dest: int, packets: int) -> threading.Thread:
        def run() -> None:
            t = np.arange(packets * 160) / 8000
            pcm = (8000 * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)
            start = time.monotonic()
            for i in range(packets):
                payload = ulaw_encode(pcm[i * 160:(i + 1) * 160]).tobytes()
                pkt = build_rtp(payload_type=0, sequence=1000 + i, timestamp=i * 160,
                                ssrc=self.ssrc, payload=payload)
                self.sock.sendto(pkt, (LOCAL, dest))
                time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def heard(self) -> np.ndarray:
        """The audio received so far, and forget it."""
        got, self.got = self.got, []
        if not got:
            return np.zeros(0, np.int16)
        return ulaw_decode(b"".join(p.payload for p in got if p.payload_type == 0))

    def close(self) -> None:
        self._stop.set()
        self._rx.join(1)
        self.sock.close()


def dominant_hz(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    return float(np.argmax(spec) * 8000 / len(x))


def test_real_engine_call_recording_and_prompt(tmp_path: Path) -> None:
    """Two phones through the real ``MediaEngine``: each hears the other, the recording holds
    caller and callee on their own channels, and a prompt file replaces the callee's audio."""
    pytest.importorskip("ccswitch.media.engine")
    h = WorkerHandle.spawn(WorkerSettings(index=1, recordings_dir=str(tmp_path),
                                          header_interval=0.2))
    a, b = Phone(440, 0x1111), Phone(1000, 0x2222)
    try:
        ev = Collector(h)
        pa, pb = create_leg(h, ev, 1), create_leg(h, ev, 2)
        h.send([ConfigureLeg(1, LOCAL, a.port, a.port + 1, "PCMU", 0),
                ConfigureLeg(2, LOCAL, b.port, b.port + 1, "PCMU", 0),
                Connect(1, 2), Connect(2, 1), StartRecord(5, "call.wav", (1, 2))])
        for th in (a.send_tone(pa, 50), b.send_tone(pb, 50)):
            th.join()
        time.sleep(0.2)
        h.send([StopRecord(5)])
        done = ev.wait(lambda e: isinstance(e, RecordDone) and e.rec_id == 5)
        to_b, to_a = b.heard(), a.heard()
        assert len(to_b) >= 40 * 160 and len(to_a) >= 40 * 160
        assert dominant_hz(to_b) == pytest.approx(440, abs=10)
        assert dominant_hz(to_a) == pytest.approx(1000, abs=10)
        assert done.ok and done.path == str(tmp_path / "call.wav") and done.seconds > 0.8
        rec = read_wav(tmp_path / "call.wav")
        assert rec.shape[1] == 2 and len(rec) == round(done.seconds * 8000)
        for channel, hz in ((0, 440), (1, 1000)):  # caller, callee
            x = rec[:, channel]
            loud = np.flatnonzero(np.abs(x) > 1000)
            span = x[loud[0]:loud[-1] + 1]
            assert len(span) > 0.9 * 8000
            assert dominant_hz(span) == pytest.approx(hz, abs=5)

        prompt = tmp_path / "prompt.wav"
        w = WavWriter(str(prompt), 1)
        w.write((8000 * np.sin(2 * np.pi * 600 * np.arange(4000) / 8000)).astype(np.int16))
        w.close()
        h.send([Play(2, 9, PlayFile(str(prompt)))])
        assert ev.wait(lambda e: isinstance(e, PlayDone)) == PlayDone(2, 9, "end")
        time.sleep(0.1)
        prompt_heard = b.heard()
        assert len(prompt_heard) >= 3500
        assert dominant_hz(prompt_heard) == pytest.approx(600, abs=10)
        final = h.stop(5.0)
        stats = {e.leg: e for e in final if isinstance(e, LegStats)}
        assert stats[1].received == 50 and stats[2].received == 50
        assert stats[1].lost == 0
    finally:
        a.close()
        b.close()
        h.stop(1.0)


def test_final_leg_stats_wait_for_the_next_stats_batch_and_live_ones_are_sampled(
        tmp_path: Path) -> None:
    """``held``: a leg's final LegStats gets no batch of its own (it rides with the next
    WorkerStats); ``live_interval``: a live sample of each leg with traffic comes with it."""
    h = WorkerHandle.spawn(settings(tmp_path, engine_factory=None, stats_interval=0.5,
                                    live_interval=0.5, held=frozenset({LegStats})))
    batches: list[list[MediaEvent]] = []

    def until(pred: Callable[[MediaEvent], bool], timeout: float = 5.0) -> list[MediaEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if h.conn.poll(0.05):
                batch = h.recv_events()
                batches.append(batch)
                if any(pred(e) for e in batch):
                    return batch
        raise AssertionError(f"no matching event in {timeout}s: {batches[-5:]}")

    phone = udp_client()
    try:
        port = free_port_pair()
        h.send([CreateLeg(401, port, LOCAL),
                ConfigureLeg(401, LOCAL, phone.getsockname()[1], 0, "PCMU", 0)])
        until(lambda e: isinstance(e, LegReady))  # bound
        for i in range(5):
            phone.sendto(build_rtp(payload_type=0, sequence=10 + i, timestamp=160 * i,
                                   ssrc=9, payload=bytes(160)), (LOCAL, port))
        live = until(lambda e: isinstance(e, LegStats) and e.leg == 401)
        sample = next(e for e in live if isinstance(e, LegStats))
        assert not sample.final and sample.received == 5
        assert any(isinstance(e, WorkerStats) for e in live)
        h.send([DestroyLeg(401)])
        final = until(lambda e: isinstance(e, LegStats) and e.final)
        # the final stats came in the batch of a WorkerStats, not in one of their own
        assert any(isinstance(e, WorkerStats) for e in final), final
        st = next(e for e in final if isinstance(e, LegStats) and e.final)
        # packets 10..14: the first is A.1's probation, so 11..14 are expected, none lost
        assert (st.leg, st.received, st.expected, st.lost) == (401, 5, 4, 0)
    finally:
        phone.close()
        h.stop(5.0)


def test_a_term_to_a_worker_still_starting_does_not_stop_it(rec_dir: Path) -> None:
    """SIGTERM right after the spawn, while the child still imports (before ``worker_main``
    runs): it starts with SIGTERM ignored, as with SIGINT, so the process group's TERM
    (systemd's stop) leaves the switch to stop it."""
    h = WorkerHandle.spawn(settings(rec_dir))
    try:
        os.kill(h.pid, signal.SIGTERM)
        ev = Collector(h)
        ev.wait(lambda e: isinstance(e, WorkerStats))  # it runs
        assert h.alive
    finally:
        h.stop(5.0)
