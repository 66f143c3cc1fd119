#!/usr/bin/env python3
"""Queue load end to end: SIPp callers through the IVR into a queue served by SIPp agents.

One run on 127.0.0.1 (issue 4, item 8, second half):

* ccswitch starts fresh on a temporary configuration: ``--agents`` agents (users 3001-...,
  password ``pw{user}``, members of queue ``support``), ``--callers`` callers (users
  1001-...), queue ``support`` (longest idle, ``--ring-timeout`` 10 s, ``--wrapup`` 1 s, no
  maximum wait), ``700`` = the built-in demo IVR (2 -> support), ``rtp_timeout = 0`` (SIPp
  sends no RTP) and the queue's default recording on (``--no-record`` turns it off);
* ``scenarios/register_many.xml`` registers every agent with its Contact on ONE SIPp port,
  then ``scenarios/queue_agent_uas.xml`` takes that port and is every agent's phone:
  INVITE -> 180 -> 200 -> ACK -> ``--talk`` seconds -> BYE (the agent hangs up) -> 200;
* ``scenarios/queue_caller_ivr.xml`` calls 700 ``--rate`` times a second until ``--callers``
  calls: INVITE -> 407 -> INVITE with credentials -> 200 -> ACK -> ``--key-delay`` s -> INFO
  ``Signal=2`` (application/dtmf-relay) -> 200 -> music on hold -> agent -> BYE -> 200.

The run passes when no call is lost: the ``queue_events`` table of the daemon's SQLite store
holds exactly ``--callers`` CallerEntered, CallerConnected and CallCompleted rows, one of
each per caller, and no CallerAbandoned / CallerOverflowed / CallerRefused /
CallerExitedWithKey; SIPp counts every caller and every agent call successful, with no
timeout or unexpected message.  Figures: the wait in queue (CallerConnected.wait: mean,
p50, p95, max), ring and talk times, the longest queue (the largest position a caller
entered at), offers and failed offers, calls per agent, the run time (first INVITE to last
CallCompleted), the daemon's CPU (``/proc/PID/stat`` of the main process and of its media
workers) and peak memory (RSS, sampled), SIPp's own CPU and retransmissions.

A lost call is reported with its queue_events rows and the daemon's log lines that name it.
Before a run of more than ``--quiet-above`` callers the script waits (polling every minute)
while an RTP benchmark (rtp_load / rtpgen / rtpengine) is running: that one needs a quiet
machine.

    PYTHONPATH=src python3 benchmarks/queue_load.py [--callers 200] [--agents 50]
        [--rate 20] [--talk 5] [--json FILE] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchutil import machine
from sip_load import (
    CLK_TCK,
    HOST,
    ROOT,
    Server,
    SippRun,
    _drain,
    finish_sipp,
    proc_cpu,
    sipp_cmd,
    sipp_once,
    start_sipp,
    tree_pids,
    udp_drops,
    wait_ready,
)

RTP_BENCH = re.compile(r"rtp_load|rtpgen|rtpengine")
LOST_EVENTS = ("CallerAbandoned", "CallerOverflowed", "CallerRefused", "CallerExitedWithKey",
               "CallbackRequested", "CallTransferred")


# -- the machine and its neighbours -------------------------------------------------------

def rtp_benchmarks() -> list[str]:
    """Command lines of running processes that look like the RTP benchmark (not us)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    mine = {os.getpid(), os.getppid()}
    found = []
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if pid.isdigit() and int(pid) not in mine and RTP_BENCH.search(args) \
                and "queue_load" not in args and "grep" not in args:
            found.append(line.strip()[:160])
    return found


def wait_quiet(poll: float, limit: float, log: Any) -> float:
    """Wait while an RTP benchmark runs (every ``poll`` s, at most ``limit`` s); seconds waited."""
    t0 = time.monotonic()
    while busy := rtp_benchmarks():
        waited = time.monotonic() - t0
        if waited > limit:
            raise RuntimeError(f"an RTP benchmark is still running after {waited:.0f} s: "
                               f"{busy[0]}")
        log(f"# waiting for the RTP benchmark to end ({len(busy)} process(es), "
            f"{waited:.0f} s so far): {busy[0]}")
        time.sleep(poll)
    return time.monotonic() - t0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def udp_ports_in_use(lo: int, hi: int) -> list[int]:
    """Local UDP ports in [lo, hi] bound by anyone (from /proc/net/udp)."""
    used = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            port = int(line.split()[1].split(":")[1], 16)
            if lo <= port <= hi:
                used.append(port)
    return sorted(used)


def cpu_busy() -> float:
    """CPU seconds all cores have been busy (not idle or iowait), from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


def tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and its descendants, KiB."""
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# -- configuration and SIPp inputs -----------------------------------------------------

def users(first: int, count: int) -> list[str]:
    return [str(first + i) for i in range(count)]


def write_config(path: Path, a: argparse.Namespace) -> None:
    callers, agents = users(a.first_caller, a.callers), users(a.first_agent, a.agents)
    path.write_text(f"""\
# queue_load.py: {a.agents} agents of support, {a.callers} callers, 700 = the demo IVR.
domains = ["ccswitch.local"]

[[users]]
range = "{callers[0]}-{callers[-1]}"
password = "pw{{user}}"

[[users]]
range = "{agents[0]}-{agents[-1]}"
password = "pw{{user}}"
agent = {{ queues = ["support"] }}

[queues.support]
strategy = "longest_idle"
ring_timeout = {a.ring_timeout}
wrapup = {a.wrapup}
record = {"true" if a.record else "false"}

[queues.sales]
ring_timeout = {a.ring_timeout}
wrapup = {a.wrapup}

[dialplan.numbers]
700 = "ivr:demo"

[media]
rtp_timeout = 0
""")


def write_csv(path: Path, names: list[str]) -> Path:
    path.write_text("SEQUENTIAL\n" + "".join(
        f"{u};[authentication username={u} password=pw{u}]\n" for u in names))
    return path


# -- the daemon ---------------------------------------------------------------------------

def start_daemon(cfg: Path, port: int, work: Path, a: argparse.Namespace) -> Server:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "ccswitch", "serve", "--config", str(cfg),
           "--listen", f"udp:{HOST}:{port}", "--data-dir", str(data),
           "--http", f"{HOST}:{free_tcp_port()}", "--rtp-ports", a.rtp_ports,
           "--log-format", "json", "--log-level", a.log_level]
    if a.media_workers is not None:
        cmd += ["--media-workers", str(a.media_workers)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    server = Server("ccswitch", proc, port, work / "ccswitch.log")
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server, 30.0)
    return server


@dataclass
class Row:
    id: int
    time: float
    event: str
    call_id: str | None
    agent: str | None
    data: dict[str, Any]


def queue_rows(data_dir: Path) -> list[Row]:
    db = data_dir / "ccswitch.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        cur = con.execute("SELECT id, time, event, call_id, agent, data FROM queue_events "
                          "ORDER BY id")
        return [Row(i, t, e, c, ag, json.loads(d)) for i, t, e, c, ag, d in cur]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        con.close()


def count(rows: list[Row], event: str) -> int:
    return sum(1 for r in rows if r.event == event)


def wait_rows(data_dir: Path, event: str, n: int, timeout: float, server: Server) -> int:
    """Poll the queue event log until ``n`` rows of ``event`` (or timeout); how many seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = count(queue_rows(data_dir), event)
        if seen >= n or time.monotonic() > deadline or server.proc.poll() is not None:
            return seen
        time.sleep(0.2)


class Sampler(threading.Thread):
    """Samples the daemon's resident memory (with its media workers) every ``every`` s."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_kib = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            self.stop_flag.wait(self.every)


def cpu_split(server: Server) -> tuple[float, float]:
    """CPU seconds of the daemon's main process and of all its children (media workers)."""
    pids = tree_pids(server.proc.pid)
    main = proc_cpu(server.proc.pid)
    return main, sum(proc_cpu(p) for p in pids if p != server.proc.pid)


# -- SIPp ---------------------------------------------------------------------------------

def sipp_quit(control_port: int) -> None:
    """Ask a SIPp to finish its open calls and exit (remote control 'q'), so it writes its
    screen; killing it would lose it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"q", (HOST, control_port))


def exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` s, without reaping it (finish_sipp does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            return True
        time.sleep(0.05)
    return False


@dataclass
class Run:
    """Everything one run measured."""

    passed: bool = False
    why: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    sipp: dict[str, Any] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sipp_summary(run: SippRun) -> dict[str, Any]:
    sc = run.screen
    return {"rc": run.rc, "successful": sc.successful, "failed": sc.failed,
            "retrans": sc.retrans, "timeouts": sc.timeouts, "unexpected": sc.unexpected,
            "cpu_s": round(run.cpu, 2), "wall_s": round(run.wall, 2),
            "last_error": sc.last_error[:300], "errors_head": run.errors[:1500]}


def register_agents(server: Server, a: argparse.Namespace, work: Path, port: int) -> None:
    csv = write_csv(work / "agents.csv", users(a.first_agent, a.agents))
    out = work / "agents-register"
    cmd = sipp_cmd("register_many.xml", server.port, port, out, "-inf", str(csv),
                   "-m", str(a.agents), "-r", "50", "-timeout", "30")
    run = sipp_once(cmd, out, 40)
    if run.rc != 0 or run.screen.successful != a.agents:
        raise RuntimeError(f"registering {a.agents} agents: {run.screen.successful} ok, "
                           f"sipp exit {run.rc}: {run.errors or run.screen.last_error}")
    seen = wait_rows(server_data(work), "AgentLoggedIn", a.agents, 15, server)
    if seen < a.agents:
        raise RuntimeError(f"only {seen}/{a.agents} AgentLoggedIn rows after registering")


def server_data(work: Path) -> Path:
    return work / "data"


def uas_command(server: Server, a: argparse.Namespace, work: Path, port: int,
                control: int) -> list[str]:
    return sipp_cmd("queue_agent_uas.xml", server.port, port, work / "agents-uas",
                    "-m", str(a.callers), "-l", str(10 * a.callers), "-d",
                    str(int(a.talk * 1000)), "-cp", str(control), "-mp", str(a.sipp_media[0]),
                    "-recv_timeout", str(int(a.max_wait * 1000)))


def uac_command(server: Server, a: argparse.Namespace, work: Path, port: int) -> list[str]:
    csv = write_csv(work / "callers.csv", users(a.first_caller, a.callers))
    return sipp_cmd("queue_caller_ivr.xml", server.port, port, work / "callers-uac",
                    "-inf", str(csv), "-s", "700", "-auth_uri", f"700@{HOST}:{server.port}",
                    "-key", "digit", a.digit, "-d", str(int(a.key_delay * 1000)),
                    "-r", str(a.rate), "-m", str(a.callers), "-l", str(10 * a.callers),
                    "-mp", str(a.sipp_media[1]), "-recv_timeout", str(int(a.max_wait * 1000)))


# -- one run ------------------------------------------------------------------------------

def drive(server: Server, a: argparse.Namespace, work: Path, res: Run) -> tuple[float, float]:
    """Register the agents, run the UAS and the callers; returns (t_start, t_end) monotonic."""
    agent_port, caller_port, control = free_udp_port(), free_udp_port(), free_udp_port()
    register_agents(server, a, work, agent_port)
    uas = start_sipp(uas_command(server, a, work, agent_port, control))
    time.sleep(0.5)
    if uas.poll() is not None:
        raise RuntimeError(f"the agents' SIPp UAS exited at once ({uas.returncode}); "
                           f"see {work / 'agents-uas.err'}")
    served = a.callers / a.agents * (a.talk + a.wrapup + 1.0)
    limit = a.callers / a.rate + served + a.max_wait + 30
    t0 = time.monotonic()
    uac_run = finish_sipp(start_sipp(uac_command(server, a, work, caller_port)),
                          work / "callers-uac", t0 + limit, t0)
    t1 = time.monotonic()
    # the UAS ends by itself after --callers calls; if some never came, ask it to quit
    if not exited(uas, a.talk + 5):
        res.notes.append("the agents' UAS had not ended after the last caller: asked it to quit")
        with contextlib.suppress(OSError):
            sipp_quit(control)
    uas_run = finish_sipp(uas, work / "agents-uas", time.monotonic() + a.talk + 10, t0)
    res.sipp = {"callers": sipp_summary(uac_run), "agents": sipp_summary(uas_run)}
    return t0, t1


def run_once(a: argparse.Namespace, work: Path, log: Any) -> Run:
    res = Run()
    cfg = work / "queue_load.toml"
    write_config(cfg, a)
    busy = udp_ports_in_use(*map(int, a.rtp_ports.split("-")))
    if busy:
        res.notes.append(f"{len(busy)} port(s) of {a.rtp_ports} already bound by someone: "
                         f"{busy[:5]}")
    server = start_daemon(cfg, free_udp_port(), work, a)
    sampler = Sampler(server.proc.pid)
    sampler.start()
    log(f"# ccswitch pid {server.proc.pid} on udp:{HOST}:{server.port}; work files in {work}")
    try:
        main0, kids0, busy0 = *cpu_split(server), cpu_busy()
        drops0 = udp_drops(server.port)
        t0, t1 = drive(server, a, work, res)
        main1, kids1, busy1 = *cpu_split(server), cpu_busy()
        # completions are written before BYE is relayed; a short grace for the last ones
        wait_rows(server_data(work), "CallCompleted", a.callers, 5, server)
        res.figures["uac_wall_s"] = round(t1 - t0, 2)
        res.figures["daemon_cpu_s"] = round(main1 - main0, 2)
        res.figures["workers_cpu_s"] = round(kids1 - kids0, 2)
        res.figures["daemon_cpu_pct"] = round(100 * (main1 - main0) / (t1 - t0), 1)
        res.figures["workers_cpu_pct"] = round(100 * (kids1 - kids0) / (t1 - t0), 1)
        res.figures["udp_drops"] = udp_drops(server.port) - drops0
        sipp_cpu = sum(x["cpu_s"] for x in res.sipp.values())
        others = busy1 - busy0 - (main1 - main0) - (kids1 - kids0) - sipp_cpu
        res.figures["others_cpu_pct"] = round(100 * max(0.0, others) / (t1 - t0), 1)
    finally:
        sampler.stop_flag.set()
        sampler.join()
        res.figures["peak_rss_mib"] = round(sampler.peak_kib / 1024, 1)
        alive = server.proc.poll() is None
        rc = server.stop()
        if not alive:
            res.why.append(f"the daemon exited during the run ({rc})")
        elif rc not in (0, -signal.SIGTERM):
            res.notes.append(f"daemon exit status {rc} on SIGTERM")
    rows = queue_rows(server_data(work))
    judge(res, rows, a, work)
    log_warnings(res, work / "ccswitch.log")
    return res


def log_warnings(res: Run, path: Path) -> None:
    """Count the daemon's warning/error lines (but its start/stop notices) into the notes."""
    quiet = ('"event": "ready"', '"event": "stopping"', '"event": "stopped"')
    bad = []
    with contextlib.suppress(OSError), path.open() as fh:
        for ln in fh:
            loud = any(f'"level": "{lv}"' in ln for lv in ("warning", "error", "critical"))
            if (loud and not any(q in ln for q in quiet)) or "Traceback" in ln:
                bad.append(ln.strip()[:300])
    res.figures["daemon_log_warnings"] = len(bad)
    if bad:
        res.notes.append(f"{len(bad)} warning/error lines in the daemon's log, first: {bad[0]}")


# -- judging and figures --------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def figures(rows: list[Row], res: Run) -> None:
    conn = [r for r in rows if r.event == "CallerConnected"]
    done = [r for r in rows if r.event == "CallCompleted"]
    entered = [r for r in rows if r.event == "CallerEntered"]
    waits = [float(r.data["wait"]) for r in conn]
    rings = [float(r.data["ring_time"]) for r in conn]
    talks = [float(r.data["talk"]) for r in done]
    per_agent: dict[str, int] = {}
    for r in conn:
        per_agent[r.agent or "?"] = per_agent.get(r.agent or "?", 0) + 1
    f = res.figures
    f["wait_mean_s"] = round(statistics.fmean(waits), 3) if waits else None
    f["wait_p50_s"] = round(pct(waits, 0.5), 3) if waits else None
    f["wait_p95_s"] = round(pct(waits, 0.95), 3) if waits else None
    f["wait_max_s"] = round(max(waits), 3) if waits else None
    f["ring_mean_s"] = round(statistics.fmean(rings), 3) if rings else None
    f["ring_max_s"] = round(max(rings), 3) if rings else None
    f["talk_mean_s"] = round(statistics.fmean(talks), 3) if talks else None
    f["longest_queue"] = max((int(r.data["position"]) for r in entered), default=0)
    f["offers"] = sum(1 for r in rows if r.event == "CallerOffered")
    f["offers_failed"] = sum(1 for r in rows if r.event == "OfferFailed")
    f["agents_used"] = len(per_agent)
    f["calls_per_agent_min"] = min(per_agent.values(), default=0)
    f["calls_per_agent_max"] = max(per_agent.values(), default=0)
    if entered and done:
        f["queue_span_s"] = round(max(r.time for r in done) - min(r.time for r in entered), 2)
        f["completed_per_s"] = round(len(done) / f["queue_span_s"], 2) \
            if f["queue_span_s"] else None
    for ev in ("CallerEntered", "CallerConnected", "CallCompleted", *LOST_EVENTS):
        f[ev] = count(rows, ev)


def judge(res: Run, rows: list[Row], a: argparse.Namespace, work: Path) -> None:
    figures(rows, res)
    f, n = res.figures, a.callers
    for ev in ("CallerEntered", "CallerConnected", "CallCompleted"):
        if f[ev] != n:
            res.why.append(f"{ev} {f[ev]}/{n}")
    for ev in LOST_EVENTS:
        if f[ev]:
            res.why.append(f"{f[ev]} {ev}")
    for side in ("callers", "agents"):
        s = res.sipp.get(side)
        if not s:
            continue
        if s["successful"] != n or s["failed"]:
            res.why.append(f"SIPp {side}: {s['successful']}/{n} successful, {s['failed']} failed")
        if s["timeouts"] or s["unexpected"]:
            res.why.append(f"SIPp {side}: {s['timeouts']} timeouts, {s['unexpected']} unexpected")
    lost_calls(res, rows, work)
    res.passed = not res.why


def lost_calls(res: Run, rows: list[Row], work: Path, limit: int = 5) -> None:
    """Each caller whose life in the queue is not entered -> connected -> completed, with its
    rows and the daemon's log lines naming its SIP Call-ID."""
    by_call: dict[str, list[Row]] = {}
    for r in rows:
        if r.call_id:
            by_call.setdefault(r.call_id, []).append(r)
    want = ["CallerEntered", "CallerConnected", "CallCompleted"]
    for call_id, mine in by_call.items():
        life = [r.event for r in mine if r.event not in ("CallerOffered", "OfferFailed")]
        if life == want:
            continue
        sip_id = call_id.split(";")[0]
        log_lines = []
        with contextlib.suppress(OSError), (work / "ccswitch.log").open() as fh:
            log_lines = [ln.rstrip()[:400] for ln in fh if sip_id in ln][:40]
        res.lost.append({"call_id": call_id, "events": life,
                         "rows": [f"#{r.id} {r.time:.3f} {r.event} agent={r.agent} "
                                  f"{json.dumps(r.data, sort_keys=True)}" for r in mine],
                         "log": log_lines})
        if len(res.lost) >= limit:
            res.notes.append("more lost calls than shown: see the JSON's rows and the log")
            break


# -- report -------------------------------------------------------------------------------

def print_report(info: dict[str, Any], a: argparse.Namespace, res: Run) -> None:
    f, s = res.figures, res.sipp
    print(f"# queue load  {info['date']}  {info['cpu']}, {info['nproc']} cores; "
          f"{info['sipp']}, Python {info['python']}")
    print(f"# {a.callers} callers at {a.rate}/s -> 700 (IVR, INFO '{a.digit}' after "
          f"{a.key_delay} s) -> queue support; {a.agents} agents (one SIPp UAS), talk "
          f"{a.talk} s, wrapup {a.wrapup} s, ring_timeout {a.ring_timeout} s, "
          f"record {'on' if a.record else 'off'}, media workers "
          f"{a.media_workers if a.media_workers is not None else 'default'}")
    print()
    table = [
        ("result", "PASS" if res.passed else "FAIL: " + "; ".join(res.why)),
        ("entered / connected / completed",
         f"{f.get('CallerEntered')} / {f.get('CallerConnected')} / {f.get('CallCompleted')}"),
        ("abandoned / overflowed / refused",
         f"{f.get('CallerAbandoned')} / {f.get('CallerOverflowed')} / {f.get('CallerRefused')}"),
        ("offers / failed offers", f"{f.get('offers')} / {f.get('offers_failed')}"),
        ("wait in queue mean / p50 / p95 / max s",
         f"{f.get('wait_mean_s')} / {f.get('wait_p50_s')} / {f.get('wait_p95_s')} / "
         f"{f.get('wait_max_s')}"),
        ("agent ring mean / max s", f"{f.get('ring_mean_s')} / {f.get('ring_max_s')}"),
        ("talk mean s", f"{f.get('talk_mean_s')}"),
        ("longest queue (callers)", f"{f.get('longest_queue')}"),
        ("agents used, calls per agent min-max",
         f"{f.get('agents_used')}, {f.get('calls_per_agent_min')}-"
         f"{f.get('calls_per_agent_max')}"),
        ("run time s (callers' SIPp)", f"{f.get('uac_wall_s')}"),
        ("first entered -> last completed s", f"{f.get('queue_span_s')}"),
        ("completed calls/s over that span", f"{f.get('completed_per_s')}"),
        ("daemon CPU s (% of run), main", f"{f.get('daemon_cpu_s')} ({f.get('daemon_cpu_pct')}%)"),
        ("daemon CPU s (% of run), media workers",
         f"{f.get('workers_cpu_s')} ({f.get('workers_cpu_pct')}%)"),
        ("daemon peak RSS MiB (with workers)", f"{f.get('peak_rss_mib')}"),
        ("daemon UDP receive drops", f"{f.get('udp_drops')}"),
        ("daemon log warnings/errors", f"{f.get('daemon_log_warnings')}"),
        ("CPU used by other processes (% of a core)", f"{f.get('others_cpu_pct')}"),
    ]
    for side in ("callers", "agents"):
        x = s.get(side)
        if x:
            table.append((f"SIPp {side}: ok / failed / retrans / timeouts / unexpected",
                          f"{x['successful']} / {x['failed']} / {x['retrans']} / "
                          f"{x['timeouts']} / {x['unexpected']}  (cpu {x['cpu_s']} s)"))
    width = max(len(k) for k, _ in table)
    for k, v in table:
        print(f"{k:<{width}}  {v}")
    for n in res.notes:
        print(f"# note: {n}")
    for lost in res.lost:
        print(f"\n# lost call {lost['call_id']}: {' -> '.join(lost['events']) or '(no rows)'}")
        for ln in lost["rows"]:
            print(f"#   {ln}")
        for ln in lost["log"]:
            print(f"#   log: {ln}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--callers", type=int, default=200)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0, help="new callers per second")
    ap.add_argument("--talk", type=float, default=5.0, help="seconds an agent talks")
    ap.add_argument("--wrapup", type=float, default=1.0)
    ap.add_argument("--ring-timeout", type=float, default=10.0)
    ap.add_argument("--key-delay", type=float, default=1.0,
                    help="seconds between the caller's ACK and its INFO digit")
    ap.add_argument("--digit", default="2", help="the IVR key (2 = support)")
    ap.add_argument("--max-wait", type=float, default=300.0,
                    help="SIPp's receive timeout: longest a caller waits for its BYE")
    ap.add_argument("--first-caller", type=int, default=1001)
    ap.add_argument("--first-agent", type=int, default=3001)
    ap.add_argument("--rtp-ports", default="12000-13999",
                    help="the daemon's RTP range (below the ephemeral ports, away from "
                         "rtp_load.py's 20000-49999)")
    ap.add_argument("--sipp-media", default="14000,14100",
                    help="SIPp media ports of the agents' UAS and of the callers")
    ap.add_argument("--media-workers", type=int)
    ap.add_argument("--no-record", dest="record", action="store_false",
                    help="queue record = false (default: the queue default, recording on)")
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--quiet-above", type=int, default=20,
                    help="runs with more callers wait until no RTP benchmark runs")
    ap.add_argument("--quiet-limit", type=float, default=3600.0,
                    help="give up waiting for a quiet machine after N s")
    ap.add_argument("--workdir", help="keep the config, SIPp files, log and database here")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    a.sipp_media = [int(x) for x in a.sipp_media.split(",")]
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian: sip-tester)", file=sys.stderr)
        return 2

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    waited = 0.0
    if a.callers > a.quiet_above:
        waited = wait_quiet(60.0, a.quiet_limit, log)
    sipp_v = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    info = machine(sipp=(re.search(r"SIPp v[\w.\-]+", sipp_v) or [sipp_v.strip()])[0])
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="ccswitch-queue-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        res = run_once(a, work, log)
    except RuntimeError as exc:
        res = Run(why=[str(exc)])
    if waited >= 1:
        res.notes.append(f"waited {waited:.0f} s for an RTP benchmark to end first")
    print_report(info, a, res)
    if a.json:
        doc = {"machine": info, "args": vars(a), "passed": res.passed, "why": res.why,
               "figures": res.figures, "sipp": res.sipp, "lost": res.lost, "notes": res.notes,
               "workdir": str(work) if a.workdir else None}
        Path(a.json).write_text(json.dumps(doc, indent=2) + "\n")
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if res.passed else 1


if __name__ == "__main__":
    sys.exit(main())
