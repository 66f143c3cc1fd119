#!/usr/bin/env python3
"""CPU per anchored call, per ccswitch process, at one steady SIPp call rate (optionally profiled).

Starts the daemon as ``sip_load.py`` does (fresh data directory, ``--log-level warning``),
registers a SIPp UAS as 1002, reads every process's CPU (/proc) over ``--idle`` seconds of no
load, then runs ``--rate`` calls/s for ``--duration`` seconds (the ``calls`` test of
``sip_load.py``: INVITE -> 407 -> ACK -> INVITE with digest -> 100/180/200 -> ACK -> BYE, media
anchored) and prints, for the signaling process and each media worker, the CPU used, the idle
share of it, and the CPU per completed call with the idle share taken off, in microseconds.

``--py-spy DIR`` records every process with py-spy meanwhile (``--format raw``, collapsed
stacks, one file per process; needs py-spy on PATH or beside the interpreter) and prints the
top self-time and inclusive frames of each in microseconds per call.

    PYTHONPATH=src python3 benchmarks/call_profile.py [--rate 200] [--duration 10]
        [--py-spy /tmp/prof] [--repeat 3]

The daemon runs this tree's ``src`` whatever PYTHONPATH says (``sip_load.start_ccswitch``
puts it first); to measure another tree with this script set ``CCSWITCH_SRC=TREE/src``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sip_load  # a sibling script, not a package

PORT = 26060


def pids_of(server: sip_load.Server) -> dict[str, int]:
    """name -> pid: ``signaling`` and ``worker0``... (children of the daemon, by pid order)."""
    tree = sip_load.tree_pids(server.proc.pid)
    kids = sorted(p for p in tree if p != server.proc.pid)
    out = {"signaling": server.proc.pid}
    for i, p in enumerate(kids):
        out[f"worker{i}"] = p
    return out


def cpu_all(pids: dict[str, int]) -> dict[str, float]:
    return {k: sip_load.proc_cpu(p) for k, p in pids.items()}


def thread_cpu(pid: int) -> dict[str, tuple[float, float, float]]:
    """thread name (+ tid) -> (user, system, run-queue wait) seconds, for every thread of
    ``pid`` (the wait: runnable but not running, from ``schedstat``; the machine's other load
    shows there)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            head, _, rest = (task / "stat").read_text().rpartition(")")
            fields = rest.split()
            name = head.split("(", 1)[1]
            wait = int((task / "schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
        out[f"{name}/{task.name}"] = (int(fields[11]) / sip_load.CLK_TCK,
                                      int(fields[12]) / sip_load.CLK_TCK, wait)
    return out


def py_spy_exe() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else None


def top_frames(path: Path, calls: int, n: int) -> tuple[list[tuple[str, float]],
                                                         list[tuple[str, float]], int]:
    """Self and inclusive sample counts per frame of a py-spy raw (collapsed) file."""
    selfc: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        selfc[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
    return selfc.most_common(n), incl.most_common(n), total


def one_run(args: argparse.Namespace, work: Path, run: int) -> None:
    bench_args = argparse.Namespace(port_base=PORT, duration=args.duration, call_hold_ms=50,
                                    probe=False, min_achieved=0.9)
    probe = None
    if args.cprofile:
        probe = ["--cprofile", f"{args.cprofile}.{run}",
                 "--cprofile-workers", f"{args.cprofile}.{run}.worker"]
    server = sip_load.start_ccswitch(PORT, work, f"prof{run}", probe)
    try:
        bench = sip_load.Bench(bench_args, work)
        bench.register_uas(server)
        time.sleep(1.0)
        pids = pids_of(server)
        c0, t0 = cpu_all(pids), time.monotonic()
        time.sleep(args.idle)
        c1, t1 = cpu_all(pids), time.monotonic()
        idle_rate = {k: (c1[k] - c0[k]) / (t1 - t0) for k in pids}
        spies: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        exe = py_spy_exe() if args.py_spy else None
        if args.py_spy and exe is None:
            print("py-spy not found", file=sys.stderr)
        if exe:
            outdir = Path(args.py_spy)
            outdir.mkdir(parents=True, exist_ok=True)
            for name, pid in pids.items():
                out = outdir / f"run{run}-{name}.txt"
                cmd = [exe, "record", "-p", str(pid), "-r", str(args.spy_rate), "-f", "raw",
                       "-o", str(out), "-d", str(args.duration + 2)]
                if args.native:
                    cmd.append("--native")
                if args.gil:
                    cmd.append("--gil")
                spies.append((name, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL), out))
            time.sleep(0.5)
        th0 = {k: thread_cpu(p) for k, p in pids.items()}
        c2, t2 = cpu_all(pids), time.monotonic()
        step = bench.call_step(server, args.rate)
        c3, t3 = cpu_all(pids), time.monotonic()
        th1 = {k: thread_cpu(p) for k, p in pids.items()}
        for _, proc, _ in spies:
            proc.wait()
        calls = step.successful
        print(f"run {run}: {args.rate} calls/s x {args.duration} s: {calls} ok, "
              f"{step.failed} failed, {step.retrans} retrans ({'pass' if step.passed else 'FAIL'}"
              f" {step.why}), {t3 - t2:.1f} s")
        total_net = 0.0
        for k in pids:
            used = c3[k] - c2[k]
            idle = idle_rate[k] * (t3 - t2)
            net = max(0.0, used - idle)
            total_net += net
            print(f"  {k:<10} cpu {used:6.2f} s (idle {idle:5.2f} s)  "
                  f"{1e6 * used / max(1, calls):7.0f} us/call gross  "
                  f"{1e6 * net / max(1, calls):7.0f} us/call net")
        for k in pids:
            for t, (u1, s1, w1) in th1[k].items():
                u0, s0, w0 = th0[k].get(t, (0.0, 0.0, 0.0))
                if u1 - u0 + s1 - s0 > 0.005:
                    print(f"    {k}: thread {t:<28} user {1e6 * (u1 - u0) / max(1, calls):6.0f}"
                          f"  sys {1e6 * (s1 - s0) / max(1, calls):6.0f} us/call;"
                          f" waited for a CPU {100 * (w1 - w0) / (t3 - t2):4.1f} % of the run")
        print(f"  {'all':<10} {1e6 * sum(c3[k] - c2[k] for k in pids) / max(1, calls):7.0f} "
              f"us/call gross, {1e6 * total_net / max(1, calls):7.0f} us/call net of idle")
        for name, _, out in spies:
            if not out.exists():
                continue
            used = c3[name] - c2[name]
            selfc, incl, total = top_frames(out, calls, args.top)
            if not total:
                continue
            us = 1e6 / args.spy_rate / max(1, calls)  # one sample = 1/rate s of a thread
            print(f"  -- {name}: {total} samples; self time, us/call:")
            for f, c in selfc:
                print(f"     {c * us:7.1f}  {f[:150]}")
            print(f"  -- {name}: inclusive, us/call:")
            for f, c in incl:
                print(f"     {c * us:7.1f}  {f[:150]}")
    finally:
        time.sleep(0.3)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of no load measured first")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--py-spy", metavar="DIR", help="record every process with py-spy into DIR")
    ap.add_argument("--spy-rate", type=int, default=200)
    ap.add_argument("--native", action="store_true", help="py-spy --native")
    ap.add_argument("--gil", action="store_true",
                    help="py-spy --gil: only the thread holding the GIL (Python CPU)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--cprofile", metavar="FILE",
                    help="run the daemon under cProfile (daemon_probe.py); stats to FILE.N")
    ap.add_argument("--workdir")
    args = ap.parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ccs-prof-"))
    work.mkdir(parents=True, exist_ok=True)
    for run in range(args.repeat):
        one_run(args, work, run)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
