#!/usr/bin/env python3
"""SIP load: ccswitch and Kamailio driven by SIPp in the same run, on 127.0.0.1.

Two tests, each a ladder of SIPp call rates (``-r``) held for ``--duration`` seconds:

* **register** - digest registration, REGISTER -> 401 -> REGISTER with credentials -> 200, for
  users 1001-1020 and 2001-2010 taken in turn from ``scenarios/users.csv``;
* **calls** - a SIPp UAS registered as 1002 answers (180, 200, ACK, BYE) and a SIPp UAC
  calls it as 1001: INVITE -> 407 -> ACK -> INVITE with credentials -> 100/180/200 -> ACK ->
  BYE -> 200.  ccswitch relays the call as a B2BUA; Kamailio as a record-routing stateful
  proxy (``kamailio/proxy.cfg``).  Kamailio's registrar test uses ``kamailio/registrar.cfg``.
* **trunk** (ccswitch only) - the same SIPp UAC as 1001 dials the outside number 5550700123;
  ccswitch's trunk ``carrier`` points at Kamailio as the carrier (``tests/e2e/kamailio/
  carrier.cfg``: it registers our account, challenges every INVITE with 407, which ccswitch
  answers once, and relays the call to the SIPp UAS "PSTN" far end).  Run with ``calls`` in the
  same invocation (``--targets ccswitch --tests calls,trunk``) to compare a trunk call with a
  call between registered phones on the same machine at the same time.

A step passes when every SIPp call succeeded, no message was retransmitted by either side
(SIPp's Retrans column, sent and received), none timed out or was unexpected, and SIPp reached
at least ``--min-achieved`` of the asked rate.  A failed step is tried once more
(``--retries``), then the ladder stops and the gap to the last passing rate is bisected
(``--refine``).  The result of a test is its highest passing rate; when the top of the ladder
passes it is printed with a ``+`` (the server's limit was not reached).

Each server is started fresh for each test (new data directory for ccswitch), so the
registration load does not leave extra contacts for 1002.  Server CPU is read from
/proc/PID/stat (Kamailio: the main process and all its children), SIPp's CPU from wait4(),
and UDP receive-buffer drops of the server's socket from /proc/net/udp.

    PYTHONPATH=src python3 benchmarks/sip_load.py [--targets ccswitch,kamailio]
        [--tests register,calls] [--duration 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCEN = HERE / "scenarios"
KAMDIR = HERE / "kamailio"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

REG_RATES = [250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000]
CALL_RATES = [50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, 4800, 6400]


# -- /proc readings ------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(root: int) -> float:
    return sum(proc_cpu(p) for p in tree_pids(root))


def udp_drops(port: int) -> int:
    """Receive-buffer drops of the UDP socket(s) bound to 127.0.0.1:port."""
    want = f"0100007F:{port:04X}"
    total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 12 and cols[1] == want:
                total += int(cols[-1])
    return total


def machine() -> dict[str, Any]:
    model, mem_kb = "?", 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    sipp_v = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    kam_v = (subprocess.run(["kamailio", "-v"], capture_output=True, text=True).stdout
             if shutil.which("kamailio") else "kamailio not installed")
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": model,
        "nproc": os.cpu_count(),
        "mem_gib": round(mem_kb / 2**20, 1),
        "python": sys.version.split()[0],
        "sipp": (re.search(r"SIPp v[\w.\-]+", sipp_v) or [sipp_v.strip()])[0].rstrip("."),
        "kamailio": (re.search(r"kamailio [\d.]+", kam_v) or [kam_v.strip()[:40]])[0],
    }


# -- servers -----------------------------------------------------------------------------

def options_ping(port: int, timeout: float = 0.3) -> bool:
    """True when an OPTIONS to 127.0.0.1:port is answered with 200."""
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        lport = s.getsockname()[1]
        msg = (f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {HOST}:{lport};rport;branch={branch}\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:probe@{HOST}>;tag={branch[-8:]}\r\n"
               f"To: <sip:{HOST}:{port}>\r\nCall-ID: {branch}@{HOST}\r\nCSeq: 1 OPTIONS\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        s.settimeout(timeout)
        s.sendto(msg, (HOST, port))
        try:
            data = s.recv(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 200")


@dataclass
class Server:
    """A started server process and what is needed to read and stop it."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    tree: bool = False  # Kamailio forks workers: count the whole process tree
    ready_event: bool = False
    log_lines: list[str] = field(default_factory=list)
    gc_pauses: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, ms)

    def cpu(self) -> float:
        return tree_cpu(self.proc.pid) if self.tree else proc_cpu(self.proc.pid)

    def all_cpu(self) -> float:
        """CPU of the whole process tree (ccswitch: the daemon and its media workers)."""
        return tree_cpu(self.proc.pid)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _drain(server: Server, stream: Any) -> None:
    with server.log_path.open("w") as out:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            out.write(line)
            if len(server.log_lines) < 20000:
                server.log_lines.append(line)
            if '"event": "ready"' in line or '"event":"ready"' in line:
                server.ready_event = True
            elif line.startswith('{"event": "gc_pause"'):
                with contextlib.suppress(ValueError, KeyError):
                    ev = json.loads(line)
                    server.gc_pauses.append((float(ev["t"]), float(ev["ms"])))


def wait_ready(server: Server, timeout: float = 20.0) -> None:
    """Until the server answers OPTIONS (or logged ``ready`` and answers); raises on exit."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if server.proc.poll() is not None:
            tail = "".join(server.log_lines[-20:])
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{tail}")
        if options_ping(server.port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer OPTIONS on port {server.port} "
                       f"within {timeout:.0f} s")


def start_ccswitch(port: int, work: Path, tag: str, probe: list[str] | None = None,
                   rtp_ports: str = "", config: Path | None = None) -> Server:
    data = work / f"ccswitch-data-{tag}"
    shutil.rmtree(data, ignore_errors=True)
    # the daemon runs this tree's src, or the one CCSWITCH_SRC names (an A/B against another
    # tree: PYTHONPATH alone does not do it, this tree's src comes first)
    src = os.environ.get("CCSWITCH_SRC") or str(ROOT / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base = [sys.executable, "-m", "ccswitch", "serve", "--listen", f"udp:{HOST}:{port}",
            "--data-dir", str(data), "--log-format", "json"]
    # --http moves the API off its default port; --log-level keeps per-message logs out of the
    # measurement.  Both are dropped when this version of the daemon does not know them.
    help_text = subprocess.run([*base[:4], "--help"], capture_output=True, text=True, env=env,
                               cwd=ROOT).stdout
    cmd = list(base)
    if probe is not None:  # same daemon, started through the instrumentation wrapper
        cmd = [sys.executable, str(HERE / "daemon_probe.py"), *probe, "--", *base[3:]]
    if "--log-level" in help_text:
        cmd += ["--log-level", "warning"]
    if "--http" in help_text:
        cmd += ["--http", f"{HOST}:{port + 1}"]
    if rtp_ports:
        cmd += ["--rtp-ports", rtp_ports]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    server = Server("ccswitch", proc, port, work / f"ccswitch-{tag}.log")
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server)
    return server


def start_kamailio(cfg: Path, port: int, work: Path, tag: str, children: int,
                   shm_mb: int = 2048) -> Server:
    # 2 GiB of shared memory: tm keeps every transaction for its wait time, and at a few
    # thousand calls/s 512 MiB runs out ("build_cell(): could not allocate shared memory").
    cmd = ["kamailio", "-f", str(cfg), "-DD", "-E", "-m", str(shm_mb), "-M", "16",
           "-A", f"LISTEN=udp:{HOST}:{port}", "-A", f"CHILDREN={children}",
           "-Y", str(work)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=work)
    server = Server("kamailio", proc, port, work / f"kamailio-{tag}.log", tree=True)
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server)
    return server


# -- SIPp --------------------------------------------------------------------------------

@dataclass
class Screen:
    """What SIPp's final screen (-trace_screen) says."""

    successful: int = 0
    failed: int = 0
    retrans: int = 0
    timeouts: int = 0
    unexpected: int = 0
    total_time: float = 0.0
    calls: int = 0
    messages: list[tuple[str, list[int]]] = field(default_factory=list)
    last_error: str = ""


_ARROW = re.compile(r"(-{3,}>|<-{3,})")


def parse_screen(path: Path) -> Screen:
    sc = Screen()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return sc
    scenario = text.split("Statistics Screen", 1)[0]
    m = re.search(r"\)/[\d.]+s\s+\d+\s+([\d.]+) s\s+(\d+)", scenario)
    if m:
        sc.total_time, sc.calls = float(m.group(1)), int(m.group(2))
    for line in scenario.splitlines():
        arrow = _ARROW.search(line)
        if not arrow:
            continue
        # "INVITE ---------->  n retr tmo unexp" (sent first) or
        # "----------> INVITE [E-RTD1] n retr tmo unexp" (received first): the label is a
        # method or a status code, so it is split off before reading the counters.
        before, after = line[: arrow.start()].split(), line[arrow.end() :].split()
        short = "<-" if arrow.group(1).startswith("<") else "->"
        if not before and after:
            label, after = f"{short} {after[0]}", after[1:]
        else:
            label = f"{' '.join(before)} {short}"
        nums = [int(t) for t in after if t.isdigit()]
        if nums:
            sc.messages.append((label, nums))
            if len(nums) > 1:
                sc.retrans += nums[1]
            if len(nums) > 2:
                sc.timeouts += nums[2]
            if len(nums) > 3:
                sc.unexpected += nums[3]
    stats = text.split("Statistics Screen", 1)[-1]
    for key, attr in (("Successful call", "successful"), ("Failed call", "failed")):
        m = re.search(rf"{key}\s*\|\s*\d+\s*\|\s*(\d+)", stats)
        if m:
            setattr(sc, attr, int(m.group(1)))
    m = re.search(r"Last Error: (.*)", text)
    if m:
        sc.last_error = m.group(1).strip()
    return sc


@dataclass
class SippRun:
    rc: int | None
    cpu: float
    wall: float
    screen: Screen
    errors: str  # head of SIPp's -trace_err file


def sipp_cmd(scenario: str, remote_port: int, local_port: int, out: Path, *extra: str) -> list[str]:
    return ["sipp", f"{HOST}:{remote_port}", "-sf", str(SCEN / scenario), "-i", HOST,
            "-p", str(local_port), "-nostdin", "-buff_size", "4194304",
            "-trace_screen", "-screen_file", str(out.with_suffix(".screen")),
            "-trace_err", "-error_file", str(out.with_suffix(".err")), *extra]


def start_sipp(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def finish_sipp(proc: subprocess.Popen[bytes], out: Path, deadline: float, t0: float) -> SippRun:
    """Wait for a SIPp process until ``deadline`` (monotonic), then kill it."""
    status, usage = None, None
    while True:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = st, ru
            break
        if time.monotonic() > deadline:
            # This SIPp build dies on SIGUSR1/SIGUSR2/SIGINT without writing its screen, so
            # there is no gentler way; the step is then judged from what is missing.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    err = ""
    with contextlib.suppress(OSError):
        err = out.with_suffix(".err").read_text(errors="replace")[:4000]
    return SippRun(proc.returncode, cpu, wall, parse_screen(out.with_suffix(".screen")), err)


def sipp_once(cmd: list[str], out: Path, limit: float) -> SippRun:
    t0 = time.monotonic()
    return finish_sipp(start_sipp(cmd), out, t0 + limit, t0)


# -- one step of a ladder -----------------------------------------------------------------

@dataclass
class Step:
    target: str
    test: str
    rate: int
    calls: int
    passed: bool = False
    why: str = ""
    achieved: float = 0.0
    successful: int = 0
    failed: int = 0
    retrans: int = 0
    timeouts: int = 0
    unexpected: int = 0
    server_cpu_pct: float = 0.0
    tree_cpu_pct: float = 0.0  # the server's whole process tree (ccswitch: + media workers)
    cpu_ms_per_op: float = 0.0  # tree CPU-seconds / completed REGISTERs or calls, in ms
    sipp_cpu_pct: float = 0.0
    server_udp_drops: int = 0
    max_gc_pause_ms: float | None = None
    wall: float = 0.0
    first_error: str = ""


def judge(step: Step, runs: list[SippRun], min_achieved: float) -> None:
    uac = runs[-1]
    step.successful = uac.screen.successful
    step.failed = sum(r.screen.failed for r in runs)
    step.retrans = sum(r.screen.retrans for r in runs)
    step.timeouts = sum(r.screen.timeouts for r in runs)
    step.unexpected = sum(r.screen.unexpected for r in runs)
    sc = uac.screen
    step.achieved = round(sc.calls / sc.total_time, 1) if sc.total_time else 0.0
    reasons = []
    if any(r.rc != 0 for r in runs):
        reasons.append("sipp exit " + "/".join(str(r.rc) for r in runs))
    if step.failed or step.successful != step.calls:
        reasons.append(f"{step.failed} failed, {step.successful}/{step.calls} ok")
    if step.retrans:
        reasons.append(f"{step.retrans} retransmissions")
    if step.timeouts:
        reasons.append(f"{step.timeouts} timeouts")
    if step.unexpected:
        reasons.append(f"{step.unexpected} unexpected")
    if step.achieved < min_achieved * step.rate:
        reasons.append(f"reached {step.achieved:.0f}/s")
    step.passed = not reasons
    step.why = "; ".join(reasons)
    for r in runs:
        if r.errors and not step.first_error:
            step.first_error = r.errors
        if r.screen.last_error and not step.first_error:
            step.first_error = r.screen.last_error


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.steps: list[Step] = []
        self.t_start = time.monotonic()
        self.notes: list[str] = []

    def probe_args(self) -> list[str] | None:
        a = self.args
        if not a.probe:
            return None
        out = []
        if a.rcvbuf:
            out += ["--rcvbuf", str(a.rcvbuf)]
        if a.gc_freeze:
            out.append("--gc-freeze")
        if a.gc_threshold:
            out += ["--gc-threshold", a.gc_threshold]
        if a.watchdog_ms:
            out += ["--watchdog-ms", str(a.watchdog_ms)]
        return out

    def over_budget(self) -> bool:
        return time.monotonic() - self.t_start > float(self.args.budget)

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # -- steps -------------------------------------------------------------------------
    def register_step(self, server: Server, rate: int) -> Step:
        a = self.args
        n = max(1, rate * a.duration)
        step = Step(server.name, "register", rate, n)
        out = self.work / f"{server.name}-reg-{rate}-{len(self.steps)}"
        cmd = sipp_cmd("register_digest.xml", server.port, a.port_base + 10, out,
                       "-inf", str(SCEN / "users.csv"), "-r", str(rate), "-m", str(n),
                       "-max_retrans", "3", "-recv_timeout", "5000",
                       "-timeout", str(a.duration + 15))
        cpu0, drops0, t_step = server.cpu(), udp_drops(server.port), time.monotonic()
        all0 = server.all_cpu()
        run = sipp_once(cmd, out, a.duration + 25)
        step.server_cpu_pct = round(100 * (server.cpu() - cpu0) / run.wall, 1)
        used = server.all_cpu() - all0
        step.tree_cpu_pct = round(100 * used / run.wall, 1)
        step.cpu_ms_per_op = round(1000 * used / max(1, run.screen.successful), 3)
        step.sipp_cpu_pct = round(100 * run.cpu / run.wall, 1)
        step.server_udp_drops = udp_drops(server.port) - drops0
        step.max_gc_pause_ms = self.gc_pause(server, t_step)
        step.wall = round(run.wall, 2)
        judge(step, [run], a.min_achieved)
        return step

    def register_uas(self, server: Server) -> None:
        a = self.args
        out = self.work / f"{server.name}-uas-register"
        cmd = sipp_cmd("register_one.xml", server.port, a.port_base + 12, out,
                       "-s", "1002", "-au", "1002", "-ap", "pw1002", "-m", "1", "-timeout", "10")
        run = sipp_once(cmd, out, 15)
        if run.rc != 0 or run.screen.successful != 1:
            raise RuntimeError(f"{server.name}: registering the UAS as 1002 failed "
                               f"(sipp exit {run.rc}): {run.errors or run.screen.last_error}")

    def trunk_step(self, server: Server, rate: int) -> Step:
        return self.call_step(server, rate, number=TRUNK_NUMBER)

    def call_step(self, server: Server, rate: int, number: str = "1002") -> Step:
        a = self.args
        n = max(1, rate * a.duration)
        step = Step(server.name, "calls" if number == "1002" else "trunk", rate, n)
        tag = f"{server.name}-call-{rate}-{len(self.steps)}"
        uas_out, uac_out = self.work / f"{tag}-uas", self.work / f"{tag}-uac"
        # -recv_timeout makes every call end on its own, and then -timeout makes SIPp exit
        # with its screen written even when some calls never reached it.
        uas_cmd = sipp_cmd("uas_answer.xml", server.port, a.port_base + 12, uas_out,
                           "-m", str(n), "-recv_timeout", "5000",
                           "-timeout", str(a.duration + 15))
        # SIPp computes the digest over sip:REMOTE_IP:PORT unless told the Request-URI.
        uac_cmd = sipp_cmd("uac_call.xml", server.port, a.port_base + 14, uac_out,
                           "-s", number, "-au", "1001", "-ap", "pw1001",
                           "-auth_uri", f"{number}@{HOST}:{server.port}",
                           "-r", str(rate), "-m", str(n), "-d", str(a.call_hold_ms),
                           "-max_retrans", "3", "-recv_timeout", "5000",
                           "-timeout", str(a.duration + 15))
        cpu0, drops0, all0 = server.cpu(), udp_drops(server.port), server.all_cpu()
        t0 = time.monotonic()
        uas = start_sipp(uas_cmd)
        time.sleep(0.3)
        t1 = time.monotonic()
        uac_run = finish_sipp(start_sipp(uac_cmd), uac_out, t1 + a.duration + 25, t1)
        uas_run = finish_sipp(uas, uas_out, t0 + a.duration + 25, t0)
        wall = uac_run.wall
        step.server_cpu_pct = round(100 * (server.cpu() - cpu0) / (time.monotonic() - t0), 1)
        used = server.all_cpu() - all0
        step.tree_cpu_pct = round(100 * used / (time.monotonic() - t0), 1)
        step.cpu_ms_per_op = round(1000 * used / max(1, uac_run.screen.successful), 3)
        step.sipp_cpu_pct = round(100 * (uac_run.cpu + uas_run.cpu) / wall, 1)
        step.server_udp_drops = udp_drops(server.port) - drops0
        step.max_gc_pause_ms = self.gc_pause(server, t0)
        step.wall = round(wall, 2)
        judge(step, [uas_run, uac_run], a.min_achieved)
        if uas_run.screen.successful != n:
            step.passed = False
            step.why = (step.why + "; " if step.why else "") + \
                f"UAS completed {uas_run.screen.successful}/{n}"
        return step

    def gc_pause(self, server: Server, since: float) -> float | None:
        if not self.args.probe or server.name != "ccswitch":
            return None
        return max((ms for t, ms in server.gc_pauses if t >= since), default=0.0)

    # -- a ladder ----------------------------------------------------------------------
    def ladder(self, server: Server, test: str, rates: list[int]) -> None:
        run_step = {"register": self.register_step, "calls": self.call_step,
                    "trunk": self.trunk_step}[test]
        best: int | None = None
        failed_at: int | None = None
        for rate in rates:
            if self.over_budget():
                self.notes.append(f"{server.name} {test}: time budget reached before {rate}/s")
                break
            ok = self._try(run_step, server, rate)
            if ok:
                best = rate
            else:
                failed_at = rate
                break
        # bisect between the last pass and the first failure
        if failed_at is None:
            return
        lo, hi = best or 0, failed_at
        for _ in range(self.args.refine):
            mid = int(round((lo + hi) / 2, -1 if hi - lo > 40 else 0))
            if mid in (lo, hi) or self.over_budget():
                break
            if self._try(run_step, server, mid):
                lo = mid
            else:
                hi = mid

    def _try(self, run_step: Any, server: Server, rate: int) -> bool:
        for attempt in range(1 + self.args.retries):
            step = run_step(server, rate)
            self.steps.append(step)
            self.log(f"  {step.target:<8} {step.test:<8} {rate:>6}/s  "
                     f"{'pass' if step.passed else 'FAIL'}  achieved {step.achieved:>8.1f}/s  "
                     f"server cpu {step.server_cpu_pct:5.1f}% (tree {step.tree_cpu_pct:5.1f}%, "
                     f"{step.cpu_ms_per_op:.3f} ms/op)  sipp cpu {step.sipp_cpu_pct:5.1f}%  "
                     f"drops {step.server_udp_drops}"
                     + (f"  gc max {step.max_gc_pause_ms:.0f} ms"
                        if step.max_gc_pause_ms is not None else "")
                     + (f"  ({step.why})" if step.why else "")
                     + (f"  [retry {attempt}]" if attempt else ""))
            if step.passed:
                return True
            if server.proc.poll() is not None:
                self.notes.append(f"{server.name} exited ({server.proc.returncode}) "
                                  f"during {step.test} at {rate}/s")
                return False
            time.sleep(1.0)
        return False

    # -- targets -----------------------------------------------------------------------
    def run_target(self, target: str, test: str) -> None:
        a = self.args
        port = a.port_base if target == "ccswitch" else a.port_base + 5
        rates = parse_rates(a.reg_rates if test == "register" else a.call_rates)
        if test == "trunk":
            if target != "ccswitch":
                return  # a trunk is ccswitch's: Kamailio plays the carrier here
            self.run_trunk(port, rates)
            return
        self.log(f"[{target} / {test}] starting server on udp:{HOST}:{port}")
        if target == "ccswitch":
            server = start_ccswitch(port, self.work, test, self.probe_args(), a.rtp_ports)
        else:
            cfg = KAMDIR / ("registrar.cfg" if test == "register" else "proxy.cfg")
            server = start_kamailio(cfg, port, self.work, test, a.kamailio_children)
        try:
            if test == "calls":
                self.register_uas(server)
            self.ladder(server, test, rates)
        finally:
            time.sleep(0.5)
            rc = server.stop()
            warn = [ln.strip() for ln in server.log_lines
                    if '"level": "warning"' in ln or '"level": "error"' in ln
                    or "Traceback" in ln or " ERROR:" in ln or "CRITICAL" in ln]
            if warn:
                self.notes.append(f"{target} {test}: {len(warn)} warning/error log lines, "
                                  f"first: {warn[0][:300]}")
            if rc not in (0, -signal.SIGTERM, None):
                self.notes.append(f"{target} {test}: server exit status {rc} on SIGTERM")


    def run_trunk(self, port: int, rates: list[int]) -> None:
        """ccswitch with its trunk ``carrier`` at Kamailio (carrier.cfg), the SIPp UAS behind
        Kamailio as the far end (the UAS port of the calls test)."""
        a = self.args
        kport, far = a.port_base + 20, a.port_base + 12
        self.log(f"[ccswitch / trunk] Kamailio carrier on udp:{HOST}:{kport}, "
                 f"ccswitch on udp:{HOST}:{port}")
        carrier = start_kamailio_carrier(kport, far, port, self.work)
        try:
            conf = trunk_config(self.work, kport)
            server = start_ccswitch(port, self.work, "trunk", self.probe_args(), a.rtp_ports,
                                    config=conf)
            try:
                wait_trunk(port + 1)
                self.ladder(server, "trunk", rates)
            finally:
                time.sleep(0.5)
                rc = server.stop()
                warn = [ln.strip() for ln in server.log_lines
                        if '"level": "error"' in ln or "Traceback" in ln]
                if warn:
                    self.notes.append(f"ccswitch trunk: {len(warn)} error log lines, first: "
                                      f"{warn[0][:300]}")
                if rc not in (0, -signal.SIGTERM, None):
                    self.notes.append(f"ccswitch trunk: server exit status {rc} on SIGTERM")
        finally:
            carrier.stop()


TRUNK_NUMBER = "5550700123"
"""A 10-digit national number: the demo's route sends it to trunk ``carrier`` as E.164."""
CARRIER_CFG = ROOT / "tests" / "e2e" / "kamailio" / "carrier.cfg"


def start_kamailio_carrier(port: int, far: int, switch: int, work: Path) -> Server:
    """Kamailio as the carrier (registrar for account acct42, 407 on every INVITE from the
    switch, the calls relayed to the far end on ``far``), one worker as carrier.cfg says."""
    cmd = ["kamailio", "-f", str(CARRIER_CFG), "-DD", "-E", "-m", "1024", "-M", "16",
           "-A", f"LISTEN=udp:{HOST}:{port}", "-A", f'FAR="sip:{HOST}:{far}"',
           "-A", f'SWITCH="sip:{HOST}:{switch}"', "-A", f"SWITCH_PORT={switch}",
           "-A", 'ACCOUNT="acct42"', "-A", 'SECRET="s3cret"', "-Y", str(work)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=work)
    server = Server("kamailio", proc, port, work / "kamailio-carrier.log", tree=True)
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server)
    return server


def trunk_config(work: Path, carrier_port: int) -> Path:
    """The demo configuration with ``carrier`` at Kamailio, registering as acct42, without
    the per-user limit and the burst block (every benchmark call is 1001's)."""
    demo = (ROOT / "configs" / "demo.toml").read_text()
    changes = {
        'address = "udp:127.0.0.1:5070"':
            f'address = "udp:{HOST}:{carrier_port}"\nregister = true\nusername = "acct42"\n'
            'password = "s3cret"\nexpires = 600',
        'peers = ["127.0.0.1:5070"]': f'peers = ["{HOST}:{carrier_port}"]',
        "max_calls_per_user = 2": "max_calls_per_user = 0",
        # failed calls of an overloaded step would count as a toll-fraud burst and block
        # 1001 for the rest of the ladder
        "burst_attempts = 5 ": "burst_attempts = 10000 ",
    }
    for old, new in changes.items():
        if old not in demo:
            raise RuntimeError(f"configs/demo.toml changed: {old!r} not found")
        demo = demo.replace(old, new, 1)
    path = work / "trunk.toml"
    path.write_text(demo)
    return path


def wait_trunk(http_port: int, timeout: float = 20.0) -> None:
    """Until ``GET /api/v1/trunks`` says carrier is available (registered)."""
    import urllib.request

    req = urllib.request.Request(f"http://{HOST}:{http_port}/api/v1/trunks",
                                 headers={"Authorization": "Bearer demo-admin-token"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(req, timeout=2) as r:
                trunks = json.loads(r.read())
            if any(t["name"] == "carrier" and t["state"] == "available" for t in trunks):
                return
        time.sleep(0.2)
    raise RuntimeError("trunk carrier did not register with Kamailio")


def parse_rates(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def summarize(steps: list[Step], targets: list[str], tests: list[str],
              ladders: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for test in tests:
        out[test] = {}
        for target in targets:
            if test == "trunk" and target != "ccswitch":
                continue  # Kamailio is the carrier there, not a target
            mine = [s for s in steps if s.target == target and s.test == test]
            passed = [s for s in mine if s.passed]
            failed_rates = {s.rate for s in mine if not s.passed} - {s.rate for s in passed}
            best = max(passed, key=lambda s: s.rate) if passed else None
            capped = bool(best and best.rate == max(ladders[test])
                          and not any(r > best.rate for r in failed_rates))
            out[test][target] = {
                "best_rate": best.rate if best else 0,
                "achieved": best.achieved if best else 0.0,
                "server_cpu_pct": best.server_cpu_pct if best else None,
                "sipp_cpu_pct": best.sipp_cpu_pct if best else None,
                "ladder_top_reached": capped,
                "first_failure": min(failed_rates) if failed_rates else None,
            }
    return out


def print_report(info: dict[str, Any], steps: list[Step], summary: dict[str, dict[str, Any]],
                 targets: list[str], notes: list[str], duration: int,
                 probe: list[str] | None = None) -> None:
    print(f"# SIP load  {info['date']}  {info['cpu']}, {info['nproc']} cores, "
          f"{info['mem_gib']} GiB; {info['sipp']}, {info['kamailio']}, Python {info['python']}")
    print(f"# each step {duration} s of load on 127.0.0.1; pass = 0 failed calls, "
          "0 retransmissions, 0 timeouts, 0 unexpected")
    if probe is not None:
        print(f"# ccswitch run through benchmarks/daemon_probe.py {' '.join(probe)}"
              + ("  (WHAT-IF settings: not the daemon's own behaviour)" if probe else ""))
    print()
    print(f"{'target':<9} {'test':<9} {'rate/s':>7} {'result':<6} {'achieved':>9} "
          f"{'srv cpu%':>8} {'tree%':>6} {'ms/op':>6} {'sipp cpu%':>9} {'drops':>6} "
          f"{'gc ms':>6}  why")
    for s in steps:
        gcms = "" if s.max_gc_pause_ms is None else f"{s.max_gc_pause_ms:.0f}"
        print(f"{s.target:<9} {s.test:<9} {s.rate:>7} {'pass' if s.passed else 'FAIL':<6} "
              f"{s.achieved:>9.1f} {s.server_cpu_pct:>8.1f} {s.tree_cpu_pct:>6.1f} "
              f"{s.cpu_ms_per_op:>6.3f} {s.sipp_cpu_pct:>9.1f} "
              f"{s.server_udp_drops:>6} {gcms:>6}  {s.why}")
    print()
    goals = {"register": ("authenticated REGISTER/s", 2000),
             "calls": ("call setups+teardowns/s", 300),
             "trunk": ("calls/s through a trunk", 300)}
    header = f"{'test':<27} {'goal':>6}" + "".join(f" {t:>12}" for t in targets)
    if "ccswitch" in targets and "kamailio" in targets:
        header += f" {'ccswitch/kam':>13}"
    print(header)
    for test, per in summary.items():
        label, goal = goals[test]
        row = f"{label:<27} {goal:>6}"
        for t in targets:
            r = per.get(t)
            if r is None:
                row += f" {'-':>12}"
                continue
            row += f" {str(r['best_rate']) + ('+' if r['ladder_top_reached'] else ''):>12}"
        if "ccswitch" in per and "kamailio" in per:
            k = per["kamailio"]["best_rate"]
            ratio = per["ccswitch"]["best_rate"] / k if k else float("nan")
            capped = per["kamailio"]["ladder_top_reached"] or per["ccswitch"]["ladder_top_reached"]
            row += f" {ratio:>12.3f}" + ("*" if capped else " ")
        print(row)
    if any(r.get("ladder_top_reached") for per in summary.values() for r in per.values()):
        print("# + = the top of the ladder passed (the server's limit is higher);"
              " * = a bound, not a ratio of limits")
    for n in notes:
        print(f"# note: {n}")
    shown: set[tuple[str, str]] = set()
    for s in steps:
        if s.passed or not s.first_error or (s.target, s.test) in shown:
            continue
        shown.add((s.target, s.test))
        print(f"\n# first SIPp errors, {s.target} {s.test} at {s.rate}/s:")
        events = [e for e in re.split(r"(?=\d{4}-\d\d-\d\d\t)", s.first_error) if e.strip()]
        for ev in events[1:4] if len(events) > 1 else events:
            for ln in ev.strip().splitlines()[:12]:
                print("#   " + ln[:160])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="ccswitch,kamailio")
    ap.add_argument("--tests", default="register,calls")
    ap.add_argument("--duration", type=int, default=5, help="seconds of load per step")
    ap.add_argument("--reg-rates", default=",".join(map(str, REG_RATES)))
    ap.add_argument("--call-rates", default=",".join(map(str, CALL_RATES)))
    ap.add_argument("--retries", type=int, default=1, help="extra tries of a failed step")
    ap.add_argument("--refine", type=int, default=2, help="bisections after the first failure")
    ap.add_argument("--min-achieved", type=float, default=0.9,
                    help="fraction of the asked rate SIPp must reach")
    ap.add_argument("--call-hold-ms", type=int, default=50,
                    help="pause between ACK and BYE (keeps Kamailio's workers from reordering "
                         "ACK and BYE on their way to the UAS)")
    ap.add_argument("--kamailio-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--port-base", type=int, default=25060)
    ap.add_argument("--budget", type=float, default=540.0, help="stop new steps after N s")
    ap.add_argument("--workdir", help="keep SIPp screens, error files and server logs here")
    ap.add_argument("--probe", action="store_true",
                    help="start ccswitch through daemon_probe.py: log GC pauses per step")
    ap.add_argument("--rcvbuf", type=int, default=0,
                    help="what-if (needs --probe): SO_RCVBUF of ccswitch's UDP socket")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="what-if (needs --probe): gc.freeze() once ccswitch listens")
    ap.add_argument("--gc-threshold", default="", help="what-if (needs --probe): A,B,C")
    ap.add_argument("--watchdog-ms", type=float, default=0.0,
                    help="(needs --probe) log the loop's stack when it is this late")
    ap.add_argument("--rtp-ports", default="",
                    help="ccswitch's RTP port range, e.g. 20000-39999 (default: the daemon's "
                         "1,000 ports, which run out above ~400 calls/s)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if (args.rcvbuf or args.gc_freeze or args.gc_threshold) and not args.probe:
        ap.error("--rcvbuf, --gc-freeze and --gc-threshold need --probe")

    targets = [t for t in args.targets.split(",") if t]
    tests = [t for t in args.tests.split(",") if t]
    for tool in ("sipp",) + (("kamailio",) if "kamailio" in targets else ()):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian: sip-tester, kamailio)", file=sys.stderr)
            return 2
    info = machine()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ccswitch-load-"))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, work)
    print(f"# work files in {work}", file=sys.stderr)
    for test in tests:
        for target in targets:
            try:
                bench.run_target(target, test)
            except RuntimeError as e:
                bench.notes.append(f"{target} {test}: {e}")
                print(f"  {target} {test}: {e}", file=sys.stderr)
    ladders = {"register": parse_rates(args.reg_rates), "calls": parse_rates(args.call_rates),
               "trunk": parse_rates(args.call_rates)}
    summary = summarize(bench.steps, targets, tests, ladders)
    print_report(info, bench.steps, summary, targets, bench.notes, args.duration,
                 bench.probe_args())
    if args.json:
        doc = {"machine": info, "args": vars(args), "steps": [asdict(s) for s in bench.steps],
               "summary": summary, "notes": bench.notes, "workdir": str(work)}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
