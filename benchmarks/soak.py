#!/usr/bin/env python3
"""Soak: steady anchored calls through ccswitch for minutes; no call may fail, no loop stall.

A SIPp UAS registers as 1002 (digest) and answers; a SIPp UAC calls it as 1001 at ``--rate``
calls/s for ``--minutes``: INVITE -> 407 -> INVITE with credentials -> 180/200 -> ACK ->
``--hold`` s (2) -> BYE -> 200.  ccswitch relays every call as a B2BUA with its media anchored
in its media workers (SIPp sends no RTP; ``rtp_timeout`` is long enough for the hold).

The daemon runs at ``--log-level info`` (its default), so its per-call ``cdr`` lines are part of
the load, and logs ``loop_lag`` every 10 s: a 1 ms histogram of how late its 50 ms probe timer
ran.  The script merges those histograms into the run's loop-lag p50/p99/max, counts the
daemon's ``loop_stall``/``overload`` warnings, reads its RSS (main process and media workers)
at the start and end of the load, and takes failed calls from SIPp (both sides), per minute
from SIPp's statistics file.  Pass = 0 failed calls and loop-lag p99 < ``--p99-limit-ms`` (50).

    PYTHONPATH=src python3 benchmarks/soak.py --rate 200 --minutes 15 [--workdir DIR]
        [--py-spy FILE]    # also profile the daemon (py-spy record, --idle off)

The summary block at the end is ready to paste into RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from benchutil import machine
from sip_load import (
    HOST,
    ROOT,
    SippRun,
    finish_sipp,
    options_ping,
    proc_cpu,
    sipp_cmd,
    sipp_once,
    start_sipp,
    tree_pids,
    udp_drops,
)

from ccswitch.io.overload import hist_quantile, parse_hist


@dataclass
class DaemonLog:
    """What the soak reads from the daemon's JSON log while it runs."""

    hist: dict[int, int] = field(default_factory=dict)
    max_ms: float = 0.0
    windows: list[dict[str, float]] = field(default_factory=list)
    stalls: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, lag ms)
    overloads: int = 0
    gc_pauses_ms: list[float] = field(default_factory=list)  # with --watchdog-ms
    blocked: int = 0  # loop_blocked stacks (with --watchdog-ms)
    cdrs: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    measuring: bool = False


def drain(stream: object, out_path: Path, dlog: DaemonLog) -> None:
    with out_path.open("w") as out:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode("utf-8", "replace")
            out.write(line)
            if '"event": "cdr"' in line:
                dlog.cdrs += 1
                continue
            if ('"level": "debug"' in line or '"level": "info"' in line) \
                    and '"event": "loop_lag"' not in line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                dlog.errors.append(line.strip()[:300])
                continue
            name = ev.get("event")
            if name == "loop_lag":
                if dlog.measuring:
                    for ms, n in parse_hist(ev.get("hist", "")).items():
                        dlog.hist[ms] = dlog.hist.get(ms, 0) + n
                    dlog.max_ms = max(dlog.max_ms, float(ev.get("max_ms", 0)))
                    dlog.windows.append({k: ev[k] for k in ("p50_ms", "p99_ms", "max_ms")})
            elif name == "loop_stall":
                if dlog.measuring:
                    dlog.stalls.append((time.monotonic(), int(ev.get("lag_ms", 0))))
            elif name == "gc_pause":
                if dlog.measuring:
                    dlog.gc_pauses_ms.append(float(ev.get("ms", 0)))
            elif name == "loop_blocked":
                dlog.blocked += dlog.measuring
            elif name == "overload":
                dlog.overloads += dlog.measuring
            elif ev.get("level") == "error":
                dlog.errors.append(line.strip()[:300])
            elif ev.get("level") == "warning" and name not in ("ready", "stopping", "stopped",
                                                               "overload_cleared"):
                dlog.warnings.append(line.strip()[:300])


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` has exited, without reaping it (``finish_sipp`` reads its rusage)."""
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def start_daemon(args: argparse.Namespace, work: Path,
                 dlog: DaemonLog) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ,
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    prefix = [sys.executable, "-m", "ccswitch"]
    if args.watchdog_ms or args.probe_args:  # the same daemon through daemon_probe.py
        prefix = [sys.executable, str(ROOT / "benchmarks" / "daemon_probe.py"),
                  "--watchdog-ms", str(args.watchdog_ms), *args.probe_args.split(), "--"]
    cmd = [*prefix, "serve", "--listen", f"udp:{HOST}:{args.port}",
           "--data-dir", str(data), "--log-format", "json", "--log-level", args.log_level,
           "--http", f"{HOST}:{args.port + 1}", "--rtp-ports", args.rtp_ports]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    th = threading.Thread(target=drain, args=(proc.stderr, work / "ccswitch.log", dlog),
                          daemon=True)
    th.start()
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"ccswitch exited with {proc.returncode}; see {work}/ccswitch.log")
        if options_ping(args.port):
            return proc, th
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("ccswitch did not answer OPTIONS within 30 s")


def per_minute_failures(stat_csv: Path) -> list[int]:
    """Failed calls per minute from SIPp's -trace_stat file (periodic columns, every 10 s)."""
    rows: list[tuple[float, int]] = []
    with contextlib.suppress(OSError), stat_csv.open() as f:
        for row in csv.DictReader(f, delimiter=";"):
            try:
                elapsed = row["ElapsedTime(C)"].split(":")
                secs = int(elapsed[0]) * 3600 + int(elapsed[1]) * 60 + float(elapsed[2])
                rows.append((secs, int(row["FailedCall(P)"])))
            except (KeyError, ValueError, IndexError):
                continue
    minutes: dict[int, int] = {}
    for secs, failed in rows:
        minute = max(0, int((secs - 0.001) // 60))
        minutes[minute] = minutes.get(minute, 0) + failed
    return [minutes.get(m, 0) for m in range(max(minutes, default=-1) + 1)]


def sipp_version() -> str:
    out = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    m = re.search(r"SIPp v[\w.\-]+", out)
    return m.group(0).rstrip(".") if m else "SIPp ?"


def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    dlog = DaemonLog()
    proc, drainer = start_daemon(args, work, dlog)
    pid = proc.pid
    spy: subprocess.Popen[bytes] | None = None
    try:
        reg_out = work / "uas-register"
        reg = sipp_once(sipp_cmd("register_one.xml", args.port, args.sipp_port, reg_out,
                                 "-s", "1002", "-au", "1002", "-ap", "pw1002", "-m", "1",
                                 "-timeout", "10"), reg_out, 15)
        if reg.rc != 0 or reg.screen.successful != 1:
            raise RuntimeError(f"registering the UAS as 1002 failed: {reg.errors}")
        seconds = int(args.minutes * 60)
        n = max(1, int(args.rate * seconds))
        limit = str(int(args.rate * (args.hold + 10)) + 100)
        hold_ms = str(int(args.hold * 1000))
        uas_out, uac_out = work / "uas", work / "uac"
        uas_cmd = sipp_cmd("uas_answer.xml", args.port, args.sipp_port, uas_out,
                           "-m", str(n), "-recv_timeout", "10000", "-l", limit,
                           "-timeout", str(seconds + 40))
        uac_cmd = sipp_cmd("uac_call.xml", args.port, args.sipp_port + 2, uac_out,
                           "-s", "1002", "-au", "1001", "-ap", "pw1001",
                           "-auth_uri", f"1002@{HOST}:{args.port}",
                           "-r", str(args.rate), "-m", str(n), "-d", hold_ms, "-l", limit,
                           "-max_retrans", "5", "-recv_timeout", "10000",
                           "-trace_stat", "-stf", str(uac_out.with_suffix(".stat.csv")),
                           "-fd", "10", "-timeout", str(seconds + 40))
        dlog.measuring = True
        daemon_pids = tree_pids(pid)
        rss0 = rss_mib(daemon_pids)
        cpu0, drops0 = sum(proc_cpu(p) for p in daemon_pids), udp_drops(args.port)
        t0 = time.monotonic()
        uas = start_sipp(uas_cmd)
        time.sleep(0.3)
        if args.py_spy:
            spy = subprocess.Popen(["py-spy", "record", "-p", str(pid), "-o", args.py_spy,
                                    "-d", str(seconds), "-r", "100", "-f", "raw", "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.monotonic()
        rss_peak, rss_minutes = rss0, list[float]()
        uac_p = start_sipp(uac_cmd)
        while not exited(uac_p) and time.monotonic() < t1 + seconds + 45:
            time.sleep(1.0)
            rss = rss_mib(tree_pids(pid))
            rss_peak = max(rss_peak, rss)
            if time.monotonic() - t1 >= 60 * (len(rss_minutes) + 1):
                rss_minutes.append(rss)
            if proc.poll() is not None:
                break
        uac: SippRun = finish_sipp(uac_p, uac_out, t1 + seconds + 50, t1)
        uas_run: SippRun = finish_sipp(uas, uas_out, t0 + seconds + 55, t0)
        rss1 = rss_mib(tree_pids(pid))
        cpu = sum(proc_cpu(p) for p in tree_pids(pid)) - cpu0
        wall = time.monotonic() - t0
        time.sleep(11)  # one more loop_lag window covers the end of the load
        dlog.measuring = False
        drops = udp_drops(args.port) - drops0
    finally:
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(30)
        t_stop = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        stop_s = time.monotonic() - t_stop
        drainer.join(5)
    failed = uac.screen.failed + uas_run.screen.failed
    made = uac.screen.calls
    ok = uac.screen.successful
    p50 = hist_quantile(dlog.hist, 0.5)
    p99 = hist_quantile(dlog.hist, 0.99)
    return {
        "rate": args.rate, "minutes": args.minutes, "hold_s": args.hold,
        "calls_asked": n, "calls_made": made, "calls_ok": ok, "failed": failed,
        "uac_failed": uac.screen.failed, "uas_failed": uas_run.screen.failed,
        "retrans": uac.screen.retrans + uas_run.screen.retrans,
        "timeouts": uac.screen.timeouts + uas_run.screen.timeouts,
        "unexpected": uac.screen.unexpected + uas_run.screen.unexpected,
        "achieved_rate": round(made / uac.screen.total_time, 1) if uac.screen.total_time else 0,
        "failed_per_minute": per_minute_failures(uac_out.with_suffix(".stat.csv")),
        "lag_p50_ms": p50, "lag_p99_ms": p99, "lag_max_ms": dlog.max_ms,
        "lag_samples": sum(dlog.hist.values()), "lag_windows": dlog.windows,
        "stalls": [ms for _, ms in dlog.stalls], "overloads": dlog.overloads,
        "cdr_lines": dlog.cdrs, "gc_pauses_ms": sorted(dlog.gc_pauses_ms)[-10:],
        "loop_blocked_stacks": dlog.blocked, "rss_start_mib": rss0, "rss_end_mib": rss1,
        "rss_peak_mib": rss_peak, "rss_per_minute_mib": rss_minutes,
        "daemon_cpu_pct": round(100 * cpu / wall, 1),
        "udp_drops": drops, "daemon_exit": proc.returncode, "stop_s": round(stop_s, 2),
        "warnings": dlog.warnings[:5], "errors": dlog.errors[:5],
        "sipp_rc": [uac.rc, uas_run.rc], "first_error": (uac.errors or uas_run.errors)[:600],
        "passed": (failed == 0 and ok == n and p99 < args.p99_limit_ms
                   and proc.returncode == 0),
    }


def summary(res: dict[str, object], info: dict[str, object], args: argparse.Namespace) -> str:
    verdict = "PASS" if res["passed"] else "FAIL"
    stalls, rss_minutes = res["stalls"], res["rss_per_minute_mib"]
    assert isinstance(stalls, list) and isinstance(rss_minutes, list)
    lines = [
        f"### Soak {res['rate']} calls/s for {res['minutes']} min ({verdict})",
        f"- machine: {info['cpu']}, {info['nproc']} cores, Python {info['python']}, "
        f"{info['sipp']}; {info['date']}" + (f"; {args.note}" if args.note else ""),
        f"- command: `PYTHONPATH=src python3 benchmarks/soak.py --rate {args.rate} "
        f"--minutes {args.minutes}`",
        f"- calls: {res['calls_made']} made of {res['calls_asked']}, {res['calls_ok']} ok, "
        f"**{res['failed']} failed** (UAC per minute: {res['failed_per_minute']}); "
        f"retransmissions {res['retrans']}, timeouts {res['timeouts']}, "
        f"unexpected {res['unexpected']}; achieved {res['achieved_rate']}/s",
        f"- loop lag: p50 {res['lag_p50_ms']} ms, **p99 {res['lag_p99_ms']} ms**, "
        f"max {res['lag_max_ms']} ms ({res['lag_samples']} samples of the 50 ms probe); "
        f"stalls > 100 ms: {len(stalls)}"
        + (f" ({', '.join(str(s) for s in stalls[:10])} ms)" if stalls else "")
        + f"; overload shedding episodes: {res['overloads']}",
        f"- RSS (daemon + media workers): {res['rss_start_mib']} MiB at start, "
        f"{res['rss_end_mib']} MiB at end, peak {res['rss_peak_mib']} MiB (each minute: "
        f"{', '.join(str(round(float(r))) for r in rss_minutes)}); daemon CPU "
        f"{res['daemon_cpu_pct']} %; UDP drops {res['udp_drops']}; exit {res['daemon_exit']} "
        f"{res['stop_s']} s after SIGTERM",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200.0, help="calls per second")
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--hold", type=float, default=2.0, help="seconds between ACK and BYE")
    ap.add_argument("--port", type=int, default=25160, help="ccswitch's SIP port (+1: HTTP)")
    ap.add_argument("--sipp-port", type=int, default=25170, help="SIPp UAS port (+2: UAC)")
    ap.add_argument("--rtp-ports", default="30000-39999")
    ap.add_argument("--log-level", default="info", help="the daemon's (loop_lag is info)")
    ap.add_argument("--p99-limit-ms", type=float, default=50.0)
    ap.add_argument("--py-spy", metavar="FILE", help="py-spy record the daemon (raw format)")
    ap.add_argument("--watchdog-ms", type=float, default=0.0,
                    help="run through daemon_probe.py: log the daemon's stack (and GC passes "
                         "of 10 ms or more) whenever its loop is this late; see ccswitch.log")
    ap.add_argument("--probe-args", default="",
                    help="more daemon_probe.py options (what-ifs: not the daemon's own figures)")
    ap.add_argument("--note", default="", help="added to the summary's machine line")
    ap.add_argument("--workdir", help="keep the daemon's log, SIPp's screens and stats here")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian: sip-tester)", file=sys.stderr)
        return 2
    info = machine(sipp=sipp_version())
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ccswitch-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# work files in {work}; {args.rate}/s for {args.minutes} min", file=sys.stderr)
    res = run(args, work)
    print(json.dumps({k: v for k, v in res.items() if k != "lag_windows"}), file=sys.stderr)
    print(summary(res, info, args))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "args": vars(args),
                                               "result": res}, indent=2) + "\n")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
