#!/usr/bin/env python3
"""RTP relay load: one ccswitch media worker against rtpengine (userspace, 1 thread) on 127.0.0.1.

A C generator (``rtpgen/rtpgen.c``, built here with gcc into the work directory) plays both
phones of N calls: 2N UDP sockets, each sending a 20 ms PCMU packet (172 octets) every 20 ms to
the relay's port for its side, start phases spread evenly over the 20 ms, send times and
sequence numbers inside the payload.  It measures, per direction and over a steady window after
a warm-up, the packets sent and received (loss), and the added jitter: for every packet
``transit - min(transit of its stream)``, transit = kernel arrival time - send time; p50/p99
pooled over all packets.  Its own CPU is its getrusage() over the window.

Relays (each started fresh for each load point, pinned to ``--relay-cpu``; the generator and
this driver run on ``--gen-cpu``):

* **ccswitch** - one media worker (``WorkerHandle.spawn``).  Per call CreateLeg x2,
  ConfigureLeg x2 (remote = the generator's sockets, PCMU/0), Connect(a,b) + Connect(b,a):
  packet relay.  Variants: ``relay``; ``record`` (the same plus StartRecord of both legs per
  call, WAV into a temporary directory, stopped and checked at the end); ``conf`` (P
  participants on conference buses of ``--conf-bus-size``: each hears the mix of the others;
  loss from the RTP sequence numbers of the mixes, jitter = spread of arrival - RTP timestamp).
* **rtpengine** - ``rtpengine-daemon`` with ``rtpengine/rtpengine.conf`` (table -1: no kernel
  forwarding; num-threads 1); per call an ng ``offer`` (phone A's SDP) and ``answer`` (phone
  B's), the ports it returns are the generator's targets.
* **pyrelay** - a trivial Python epoll relay (``rtpgen/peers.py``), to validate the
  generator; not a contender.  **direct** - no relay, the phones send to each other: the
  generator's own ceiling on its one core.  **ccswitch-shell** - the ccswitch worker with a
  stand-in engine that only forwards (``ShellOnlyEngine``): the shell's share of the cost.

Relay CPU is utime+stime from /proc/PID/stat (all threads) over the window; the rest of the
relay core's busy time (/proc/stat) is "others", and a point where others took 10 % or more
is marked disturbed (a disturbed failure is run once more).  A point passes when
the loss of every direction is below ``--max-loss`` (0.1 %).  The headline is each relay's
highest passing packet rate (calls x 100 packets/s) and the ccswitch/rtpengine ratio; after the
ladder the gap between the last pass and the first failure is bisected ``--refine`` times.

    PYTHONPATH=src python3 benchmarks/rtp_load.py                       # the full ladder
    PYTHONPATH=src python3 benchmarks/rtp_load.py --targets rtpengine,pyrelay --calls 100
    PYTHONPATH=src python3 benchmarks/rtp_load.py --targets ccswitch --variants relay,record,conf \
        --calls 100,300,1000,2000 --record-calls 100,300,500 --conf 100,500 --json rtp.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT / "src"))

import benchutil  # noqa: E402

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GEN_PORTS = (20000, 29999)  # below the ephemeral range (32768-60999)
GEN_BOUND_CPU = 90.0  # % of its core: above it a point says "generator-bound"
DISTURBED_PCT = 10.0  # % of the relay's core used by anything else: "disturbed"
CCS_PORTS = (30000, 39999)  # rtpengine uses 40000-49999 (rtpengine/rtpengine.conf)
GAUGES = {"late_max_ms", "writer_backlog", "audio_cache_bytes", "held_commands"}


# -- processes -------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_busy(cpu: int | None) -> float:
    """Busy seconds of one CPU (all processes, irq and softirq) from /proc/stat."""
    if cpu is None:
        return 0.0
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            f = [int(x) for x in line.split()[1:]]
            return (sum(f[:8]) - f[3] - f[4]) / CLK_TCK  # less idle and iowait
    return 0.0


def pin(pid: int, cpu: int | None) -> None:
    """Pin every thread of ``pid`` to ``cpu`` (threads started later inherit it)."""
    if cpu is None:
        return
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), {cpu})


def build_rtpgen(work: Path) -> Path:
    """Compile rtpgen.c into ``work`` (once per run)."""
    exe = work / "rtpgen"
    src = HERE / "rtpgen" / "rtpgen.c"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        cmd = ["gcc", "-O2", "-Wall", "-o", str(exe), str(src), "-lm"]
        subprocess.run(cmd, check=True)
    return exe


class LineReader:
    """Lines from a pipe, without blocking once select() said it is readable."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    def read_lines(self) -> list[str]:
        data = os.read(self.fd, 65536)
        if not data:
            self.eof = True
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [line.decode() for line in lines]


class Generator:
    """A running rtpgen: its ports, then targets and GO, then window marks and the result."""

    def __init__(self, exe: Path, mode: str, streams: int, args: argparse.Namespace) -> None:
        cmd = [str(exe), "--mode", mode, "--streams", str(streams), "--ip", HOST,
               "--port-base", str(GEN_PORTS[0]), "--port-max", str(GEN_PORTS[1]),
               "--warmup", str(args.warmup), "--duration", str(args.duration),
               "--grace", str(args.grace)]
        cpu = args.gen_cpu
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.reader = LineReader(self.proc.stdout.fileno())
        self.pending: list[str] = []
        first = self.next_line(10.0)
        if not first.startswith("PORTS"):
            raise RuntimeError(f"rtpgen: {first!r}")
        self.ports = [int(p) for p in first.split()[1:]]

    def next_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or self.reader.eof:
                raise RuntimeError(f"rtpgen: no output (exit {self.proc.poll()})")
            r, _, _ = select.select([self.reader.fd], [], [], left)
            if r:
                self.pending += self.reader.read_lines()
        return self.pending.pop(0)

    def go(self, targets: list[tuple[str, int]]) -> None:
        assert self.proc.stdin is not None
        text = "".join(f"{ip} {port}\n" for ip, port in targets) + "GO\n"
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                with contextlib.suppress(OSError):
                    f.close()


# -- relays ----------------------------------------------------------------------------------
class Relay(Protocol):
    name: str
    pid: int

    def setup_pairs(self, gen_ports: list[int]) -> list[tuple[str, int]]: ...
    def fileno(self) -> int | None: ...
    def poll(self) -> None: ...
    def stop(self) -> dict[str, object]: ...


def quiet_logs() -> None:
    """The worker's ``log_setup``: warnings and errors only (the table stays readable)."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class ShellOnlyEngine:
    """Stand-in engine for ``ccswitch-shell``: forwards packets as they are, nothing else.

    It isolates the worker shell's own cost (epoll, recvfrom, sendto, the tick) from the
    engine's, for profiling; it is not a relay anyone should run.
    """

    def __init__(self, _settings: object = None) -> None:
        self.peer: dict[int, int] = {}
        self.remote: dict[int, tuple[str, int]] = {}
        self.out: list[tuple[int, bytes, tuple[str, int]]] = []
        self.ready: list[Any] = []

    def add_leg(self, leg: int, port: int) -> None:
        from ccswitch.media.commands import LegReady

        self.ready.append(LegReady(leg, port))  # as the real engine does

    def command(self, cmd: Any, now: float) -> None:
        from ccswitch.media.commands import ConfigureLeg, Connect

        if isinstance(cmd, ConfigureLeg) and cmd.remote_ip:
            self.remote[cmd.leg] = (cmd.remote_ip, cmd.remote_port)
        elif isinstance(cmd, Connect):
            self.peer[cmd.src] = cmd.sink

    def receive(self, leg: int, data: bytes, src: tuple[str, int], now: float) -> None:
        sink = self.peer.get(leg)
        if sink is not None:
            self.out.append((sink, data, self.remote[sink]))

    def receive_rtcp(self, leg: int, data: bytes, src: tuple[str, int], now: float) -> None:
        return None

    def tick(self, now: float) -> None:
        return None

    def outbox(self) -> list[tuple[int, bytes, tuple[str, int]]]:
        out, self.out = self.out, []
        return out

    def rtcp_outbox(self) -> list[tuple[int, bytes, tuple[str, int]]]:
        return []

    def events(self) -> list[Any]:
        out, self.ready = self.ready, []
        return out

    def recorded(self) -> list[tuple[int, Any]]:
        return []


class CcswitchRelay:
    """One ccswitch media worker process: legs, edges, recordings, conference buses."""

    name = "ccswitch"

    def __init__(self, work: Path, *, cpu: int | None, variant: str,
                 args: argparse.Namespace, shell_only: bool = False) -> None:
        from ccswitch.mediaworker.process import WorkerHandle
        from ccswitch.mediaworker.settings import WorkerSettings

        self.variant = variant
        self.cpu = cpu
        self.recdir = Path(tempfile.mkdtemp(prefix="rec-", dir=work))
        settings = WorkerSettings(index=0, local_ip=HOST, recordings_dir=str(self.recdir),
                                  tick=args.tick, wake=args.wake, rcvbuf=args.rcvbuf,
                                  stats_interval=args.stats_interval,
                                  engine_factory=ShellOnlyEngine if shell_only else None,
                                  log_setup=quiet_logs)
        self.handle = WorkerHandle.spawn(settings)
        self.pid = self.handle.pid
        pin(self.pid, cpu)
        self.next_port = CCS_PORTS[0]
        self.events: list[Any] = []
        self.stats: list[tuple[float, Any]] = []
        self.rec_ids: list[int] = []

    # -- command/event plumbing
    def fileno(self) -> int | None:
        return int(self.handle.fileno())

    def poll(self) -> None:
        if not self.handle.alive:
            raise RuntimeError("the ccswitch media worker died")
        r, _, _ = select.select([self.handle.fileno()], [], [], 0)
        if r:
            self._take(self.handle.recv_events())

    def _take(self, events: list[Any]) -> None:
        from ccswitch.media.commands import WorkerStats

        now = time.monotonic()
        for ev in events:
            if isinstance(ev, WorkerStats):
                self.stats.append((now, ev))
            else:
                self.events.append(ev)

    def _wait_for(self, pred: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise RuntimeError(f"ccswitch worker: timed out waiting for {what}")
            select.select([self.handle.fileno()], [], [], 0.1)
            self.poll()

    def _alloc_port(self) -> int:
        port = self.next_port
        if port + 1 > CCS_PORTS[1]:
            raise RuntimeError("ccswitch port range exhausted")
        self.next_port += 2
        return port

    def create_legs(self, legs: list[int]) -> dict[int, int]:
        """CreateLeg for ``legs``; a port that cannot be bound is replaced by the next one."""
        from ccswitch.media.commands import CreateLeg, LegFailed, LegReady

        ports: dict[int, int] = {}
        todo = legs
        for _round in range(5):
            self.events.clear()
            self.handle.send([CreateLeg(leg, self._alloc_port(), HOST) for leg in todo])
            want = set(todo)

            def done(want: set[int] = want) -> bool:
                return want <= {e.leg for e in self.events if isinstance(e, LegReady | LegFailed)}

            self._wait_for(done, 30 + len(todo) / 100, "LegReady")
            for ev in self.events:
                if isinstance(ev, LegReady) and ev.leg in want:
                    ports[ev.leg] = ev.port
            todo = [leg for leg in todo if leg not in ports]
            if not todo:
                return ports
        raise RuntimeError(f"ccswitch: {len(todo)} legs could not be bound")

    def _configure(self, leg: int, gen_port: int) -> list[Any]:
        from ccswitch.media.commands import ConfigureLeg, SetTimeout

        return [ConfigureLeg(leg, HOST, gen_port, gen_port + 1, "PCMU", 0), SetTimeout(leg, 0.0)]

    def setup_pairs(self, gen_ports: list[int]) -> list[tuple[str, int]]:
        """Legs 2i (phone A) and 2i+1 (phone B), connected both ways; recorded if asked."""
        from ccswitch.media.commands import Connect, StartRecord

        legs = list(range(len(gen_ports)))
        ports = self.create_legs(legs)
        cmds: list[Any] = []
        for a in range(0, len(legs), 2):
            b = a + 1
            cmds += self._configure(a, gen_ports[a]) + self._configure(b, gen_ports[b])
            cmds += [Connect(a, b), Connect(b, a)]
            if self.variant == "record":
                rec = a // 2 + 1
                cmds.append(StartRecord(rec, str(self.recdir / f"call{rec}.wav"), (a, b), "wav"))
                self.rec_ids.append(rec)
        self.handle.send(cmds)
        pin(self.pid, self.cpu)
        return [(HOST, ports[leg]) for leg in legs]

    def setup_conf(self, gen_ports: list[int], bus_size: int) -> list[tuple[str, int]]:
        from ccswitch.media.commands import JoinBus

        legs = list(range(len(gen_ports)))
        ports = self.create_legs(legs)
        size = bus_size or len(legs)
        cmds: list[Any] = []
        for leg in legs:
            cmds += [*self._configure(leg, gen_ports[leg]), JoinBus(1 + leg // size, leg)]
        self.handle.send(cmds)
        pin(self.pid, self.cpu)
        return [(HOST, ports[leg]) for leg in legs]

    def window_stats(self, t0: float, t1: float) -> dict[str, float]:
        """WorkerStats deltas between the reports nearest to the window's ends."""
        def near(t: float) -> tuple[float, Any] | None:
            return min(self.stats, key=lambda s: abs(s[0] - t)) if self.stats else None
        a, b = near(t0), near(t1)
        if not a or not b or b[0] <= a[0]:
            return {}
        dt = b[0] - a[0]
        out = {"interval_s": round(dt, 2)}
        for key in ("packets_in", "packets_out", "dropped", "tick_overruns"):
            out[key + "_per_s"] = round((getattr(b[1], key) - getattr(a[1], key)) / dt, 1)
        out["cpu_pct"] = round(100 * (b[1].cpu_s - a[1].cpu_s) / dt, 1)
        out["legs"] = b[1].legs
        before = a[1].extra or {}
        for key, val in (b[1].extra or {}).items():
            if key in GAUGES or key not in before:
                out[key] = round(val, 3)
            else:  # a counter: its rate over the window
                out[key + "_per_s"] = round((val - before[key]) / dt, 3)
        return out

    def stop(self) -> dict[str, object]:
        from ccswitch.media.commands import RecordDone, StopRecord

        out: dict[str, object] = {}
        if self.rec_ids and self.handle.alive:
            self.handle.send([StopRecord(r) for r in self.rec_ids])
            want = set(self.rec_ids)
            with contextlib.suppress(RuntimeError):
                self._wait_for(lambda: want <= {e.rec_id for e in self.events
                                                if isinstance(e, RecordDone)}, 60, "RecordDone")
            done = [e for e in self.events if isinstance(e, RecordDone)]
            files = list(self.recdir.glob("*.wav"))
            out["recordings"] = {"asked": len(want), "done": len(done),
                                 "ok": sum(e.ok for e in done),
                                 "seconds_avg": round(sum(e.seconds for e in done)
                                                      / max(1, len(done)), 2),
                                 "bytes": sum(f.stat().st_size for f in files)}
        with contextlib.suppress(Exception):
            self.handle.stop(10)
        shutil.rmtree(self.recdir, ignore_errors=True)
        return out


# -- one load point ----------------------------------------------------------------------------
def make_relay(target: str, variant: str, work: Path, args: argparse.Namespace) -> Relay:
    if target in ("ccswitch", "ccswitch-shell"):
        return CcswitchRelay(work, cpu=args.relay_cpu, variant=variant, args=args,
                             shell_only=target == "ccswitch-shell")
    if target == "rtpengine":
        from rtpengine.relay import RtpengineRelay

        return RtpengineRelay(work, cpu=args.relay_cpu, ng_port=args.ng_port)
    if target == "pyrelay":
        from rtpgen.peers import PyRelay

        return PyRelay(cpu=args.relay_cpu)
    if target == "direct":
        from rtpgen.peers import DirectRelay

        return DirectRelay()
    raise ValueError(f"unknown target {target}")


def drive(gen: Generator, relay: Relay, args: argparse.Namespace,
          profile: Path | None) -> tuple[dict[str, Any], dict[str, tuple[float, ...]]]:
    """Wait for the window marks and the result line, sampling the relay's CPU at the marks."""
    marks: dict[str, tuple[float, ...]] = {}
    spy: subprocess.Popen[bytes] | None = None
    timeout = args.warmup + args.duration + args.grace + 30
    deadline = time.monotonic() + timeout
    try:
        while True:
            fds = [gen.reader.fd] + ([relay.fileno()] if relay.fileno() is not None else [])
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("rtpgen did not finish in time")
            if not gen.pending:
                r, _, _ = select.select(fds, [], [], min(left, 0.2))
                relay.poll()
                if gen.reader.fd not in r:
                    continue
                gen.pending += gen.reader.read_lines()
                if gen.reader.eof and not gen.pending:
                    raise RuntimeError(f"rtpgen exited ({gen.proc.wait(5)})")
                continue
            line = gen.pending.pop(0)
            if line in ("WINDOW_START", "WINDOW_END"):
                marks[line] = (time.monotonic(), proc_cpu(relay.pid), cpu_busy(args.relay_cpu))
                if line == "WINDOW_START" and profile is not None:
                    spy = start_py_spy(relay.pid, profile, args)
            elif line.startswith("{"):
                return json.loads(line), marks
    finally:
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(max(1.0, args.duration))
            if spy.poll() is None:
                spy.kill()
                spy.wait(5)


def start_py_spy(pid: int, out: Path, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy")
    if not exe:
        print("# py-spy is not installed (pip install py-spy): no profile", file=sys.stderr)
        return None
    secs = max(1, int(args.duration) - 1)
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(secs), "--rate", "500",
           "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_point(target: str, variant: str, n: int, exe: Path, work: Path,
              args: argparse.Namespace) -> dict[str, Any]:
    """One relay, one load: n calls (or n conference participants) for the window."""
    conf = variant == "conf"
    point: dict[str, Any] = {"target": target, "variant": variant, "n": n,
                             "load1": round(os.getloadavg()[0], 2)}
    point["pkt_per_s"] = n * 50 if conf else n * 100
    gen = Generator(exe, "conf" if conf else "pairs", n if conf else 2 * n, args)
    relay: Relay | None = None
    profile = (Path(args.py_spy) / f"{target}-{variant}-{n}.txt"
               if args.py_spy and target.startswith("ccswitch") else None)
    try:
        relay = make_relay(target, variant, work, args)
        t0 = time.monotonic()
        if conf:
            assert isinstance(relay, CcswitchRelay)
            targets = relay.setup_conf(gen.ports, args.conf_bus_size)
        else:
            targets = relay.setup_pairs(gen.ports)
        point["setup_s"] = round(time.monotonic() - t0, 2)
        gen.go(targets)
        result, marks = drive(gen, relay, args, profile)
        (t_a, c_a, b_a), (t_b, c_b, b_b) = marks["WINDOW_START"], marks["WINDOW_END"]
        point["relay_cpu_pct"] = round(100 * (c_b - c_a) / (t_b - t_a), 1)
        # Whatever else ran on the relay's core (other processes, their interrupts).
        other = 100 * (b_b - b_a) / (t_b - t_a) - point["relay_cpu_pct"]
        point["relay_core_other_pct"] = round(max(0.0, other), 1) if target != "direct" else 0.0
        if isinstance(relay, CcswitchRelay):
            relay.poll()
            point["worker_stats"] = relay.window_stats(t_a, t_b)
        point["gen"] = result
    finally:
        if relay is not None:
            point["relay_stop"] = relay.stop()
        gen.stop()
    summarize(point, args.max_loss)
    if profile is not None and profile.exists():
        point["profile"] = str(profile)
        point["profile_top"] = top_frames(profile, 12)
    return point


def summarize(point: dict[str, Any], max_loss: float) -> None:
    dirs = point["gen"]["directions"]
    point["loss_pct"] = max(d["loss_pct"] for d in dirs.values())
    point["jitter_p50_ms"] = max(d["jitter_us"]["p50"] for d in dirs.values()) / 1000
    point["jitter_p99_ms"] = max(d["jitter_us"]["p99"] for d in dirs.values()) / 1000
    point["gen_cpu_pct"] = point["gen"]["gen_cpu"]["pct"]
    point["gen_late_p99_ms"] = point["gen"]["send"]["late_p99_us"] / 1000
    # Another process on the relay's core takes time from the relay: the point says so.
    point["disturbed"] = point.get("relay_core_other_pct", 0.0) >= DISTURBED_PCT
    # The generator has one core: near it, its own lateness (not the relay) shapes the figures.
    point["gen_bound"] = point["gen_cpu_pct"] >= GEN_BOUND_CPU or point["gen_late_p99_ms"] >= 20
    ok = point["loss_pct"] < max_loss and all(d["received"] > 0 for d in dirs.values())
    if point["variant"] == "conf":
        ok = ok and all(d.get("rate_pct", 100) >= 99 for d in dirs.values())
    rec = point.get("relay_stop", {}).get("recordings")
    if rec:
        ok = ok and rec["ok"] == rec["asked"]
    point["pass"] = ok


def top_frames(raw: Path, k: int) -> list[tuple[str, float]]:
    """Self-time share of the hottest frames in a py-spy ``--format raw`` (collapsed) file."""
    counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, num = line.rpartition(" ")
        if not num.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + int(num)
        total += int(num)
    best = sorted(counts.items(), key=lambda kv: -kv[1])[:k]
    return [(name, round(100 * c / max(1, total), 1)) for name, c in best]


# -- ladders and the report --------------------------------------------------------------------
def ladder(target: str, variant: str, rungs: list[int], exe: Path, work: Path,
           args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every rung, then ``--refine`` bisections between the last pass and the next failure."""
    points: list[dict[str, Any]] = []

    def measure(n: int) -> None:
        point = run_point(target, variant, n, exe, work, args)
        print_row(point)
        if not point["pass"] and point["disturbed"] and args.retries:
            time.sleep(5)  # someone else had the relay's core: once more, and keep both
            point["retried"] = True
            points.append(point)
            point = run_point(target, variant, n, exe, work, args)
            print_row(point)
        points.append(point)

    for n in rungs:
        measure(n)
    for _ in range(args.refine):
        valid = [p for p in points if not p.get("retried")]
        passed = sorted(p["n"] for p in valid if p["pass"])
        failed = sorted(p["n"] for p in valid if not p["pass"] and (
            not passed or p["n"] > passed[-1]))
        if not passed or not failed:
            break
        lo, hi = passed[-1], failed[0]
        step = 10 if hi - lo > 20 else 1
        n = (lo + hi) // 2 // step * step
        if n <= lo or n >= hi:
            break
        measure(n)
    return [p for p in points if not p.get("retried")] + [p for p in points if p.get("retried")]


HEADER = (f"{'target':<10} {'variant':<7} {'n':>6} {'pkt/s in':>9} {'loss %':>8} "
          f"{'jit p50':>8} {'p99 ms':>7} {'relay CPU':>9} {'gen CPU':>8} {'gen late':>8} "
          f"{'load':>5}  verdict")


def print_row(p: dict[str, Any]) -> None:
    extra = ""
    ws = p.get("worker_stats") or {}
    if ws.get("tick_overruns_per_s"):
        extra += f" overruns/s={ws['tick_overruns_per_s']}"
    if ws.get("dropped_per_s"):
        extra += f" dropped/s={ws['dropped_per_s']}"
    rec = p.get("relay_stop", {}).get("recordings")
    if rec:
        extra += f" rec ok {rec['ok']}/{rec['asked']}"
    if p["gen_bound"]:
        extra += " (generator-bound)"
    if p["disturbed"]:
        extra += f" (disturbed: {p['relay_core_other_pct']}% of the relay core used by others)"
    print(f"{p['target']:<10} {p['variant']:<7} {p['n']:>6} {p['pkt_per_s']:>9,} "
          f"{p['loss_pct']:>8.3f} {p['jitter_p50_ms']:>8.2f} {p['jitter_p99_ms']:>7.2f} "
          f"{p['relay_cpu_pct']:>8.1f}% {p['gen_cpu_pct']:>7.1f}% "
          f"{p['gen_late_p99_ms']:>6.2f}ms {p['load1']:>5.2f}  "
          f"{'pass' if p['pass'] else 'FAIL'}{extra}", flush=True)


def headline(points: list[dict[str, Any]], jitter_limit_ms: float) -> dict[str, Any]:
    """Highest passing rate per (target, variant); '+' when the top rung passed.  Also the
    highest measured rate that passed with added jitter p99 under ``jitter_limit_ms``."""
    out: dict[str, Any] = {}
    for key in sorted({(p["target"], p["variant"]) for p in points}):
        mine = [p for p in points if (p["target"], p["variant"]) == key and not p.get("retried")]
        ok = [p for p in mine if p["pass"]]
        best = max(ok, key=lambda p: p["n"]) if ok else None
        top = max(p["n"] for p in mine)
        smooth = [p for p in ok if p["jitter_p99_ms"] < jitter_limit_ms]
        out[f"{key[0]}/{key[1]}"] = {
            "n": best["n"] if best else 0,
            "pkt_per_s": best["pkt_per_s"] if best else 0,
            "limit_found": best is None or best["n"] < top,
            "n_jitter_ok": max((p["n"] for p in smooth), default=0),
        }
    ours, peer = out.get("ccswitch/relay"), out.get("rtpengine/relay")
    if ours and peer and peer["pkt_per_s"]:
        out["ratio_ccswitch_rtpengine"] = round(ours["pkt_per_s"] / peer["pkt_per_s"], 2)
    return out


def print_headline(head: dict[str, Any], jitter_limit_ms: float) -> None:
    print("# highest rate with loss < max-loss ('+': the top rung passed, limit not reached);"
          f" in brackets the highest measured n whose jitter p99 was also < {jitter_limit_ms:g} ms")
    for key, h in head.items():
        if key.startswith("ratio"):
            continue
        unit = "participants" if key.endswith("/conf") else "calls"
        plus = "" if h["limit_found"] else "+"
        print(f"#   {key:<20} {h['n']:>6}{plus} {unit:<12} "
              f"{h['pkt_per_s']:>9,}{plus} packets/s in   ({h['n_jitter_ok']})")
    if "ratio_ccswitch_rtpengine" in head:
        ratio = head["ratio_ccswitch_rtpengine"]
        print(f"#   ccswitch / rtpengine zero-loss packet rate: {ratio}x")


def parse_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--targets", default="ccswitch,rtpengine",
                    help="ccswitch, rtpengine, pyrelay, direct, ccswitch-shell")
    ap.add_argument("--variants", default="relay,record,conf", help="ccswitch variants")
    ap.add_argument("--calls", type=parse_list, default=[100, 300, 1000, 2000])
    ap.add_argument("--record-calls", type=parse_list, default=[100, 300, 500, 1000])
    ap.add_argument("--conf", type=parse_list, default=[100, 500], help="participants")
    ap.add_argument("--conf-bus-size", type=int, default=0, help="members per bus (0: one bus)")
    ap.add_argument("--duration", type=float, default=10.0, help="measured window (s)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--grace", type=float, default=0.5, help="wait for late packets (s)")
    ap.add_argument("--max-loss", type=float, default=0.1, help="%% loss that fails a point")
    ap.add_argument("--jitter-limit-ms", type=float, default=10.0,
                    help="second headline: jitter p99 under this (default one 10 ms tick)")
    ap.add_argument("--refine", type=int, default=2, help="bisections after the ladder")
    ap.add_argument("--retries", type=int, default=1,
                    help="run a failed point again when others used the relay's core")
    ap.add_argument("--relay-cpu", type=int, default=0)
    ap.add_argument("--gen-cpu", type=int, default=1)
    ap.add_argument("--tick", type=float, default=0.01, help="ccswitch worker tick (s)")
    ap.add_argument("--wake", default="tick", choices=["tick", "ready"])
    ap.add_argument("--rcvbuf", type=int, default=0, help="ccswitch SO_RCVBUF (0: default)")
    ap.add_argument("--stats-interval", type=float, default=1.0)
    ap.add_argument("--ng-port", type=int, default=39222)
    ap.add_argument("--py-spy", metavar="DIR", help="py-spy record the worker in each window")
    ap.add_argument("--workdir", help="keep rtpgen, logs and profiles here")
    ap.add_argument("--json", metavar="FILE", help="write everything as JSON ('-' = stdout)")
    args = ap.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        args.relay_cpu = args.gen_cpu = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.gen_cpu is not None:
        os.sched_setaffinity(0, {args.gen_cpu})  # the driver stays off the relay's core
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rtp_load-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.py_spy:
        Path(args.py_spy).mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from rtpengine.relay import rtpengine_version

    info = benchutil.machine(rtpengine=rtpengine_version(), load_at_start=os.getloadavg())
    print(f"# RTP relay load  {info['date']}  {info['cpu']}, {info['nproc']} cores; "
          f"relay on cpu {args.relay_cpu}, generator on cpu {args.gen_cpu}; "
          f"{args.duration:g} s window after {args.warmup:g} s warm-up; "
          f"rtpengine {info['rtpengine'] or 'missing'}")
    print(HEADER, flush=True)
    points: list[dict[str, Any]] = []
    try:
        exe = build_rtpgen(work)
        for target in args.targets.split(","):
            variants = args.variants.split(",") if target == "ccswitch" else ["relay"]
            for variant in variants:
                rungs = {"record": args.record_calls, "conf": args.conf}.get(variant, args.calls)
                points += ladder(target, variant, rungs, exe, work, args)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    head = headline(points, args.jitter_limit_ms)
    print_headline(head, args.jitter_limit_ms)
    if args.json:
        doc = {"machine": info, "args": vars(args),
               "points": points, "headline": head}
        text = json.dumps(doc, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
