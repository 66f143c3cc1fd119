#!/usr/bin/env python3
"""Blind transfers under load, then a leak check (issue 9): no RTP port and no worker leg left.

One run on 127.0.0.1, the daemon on its demo configuration with a SMALL RTP range
(``--rtp-pairs``, 32 pairs by default: the run peaks at 25 pairs in use at 5 transfers a
second, 2026-12-07) so that a leak shows long before the run ends:

* SIPp registers 1002 (the transferee) and 1003 (the target), then takes their ports with
  ``scenarios/transfer_transferee_uas.xml`` (answer, optional re-INVITE, BYE from the switch)
  and ``scenarios/transfer_target_uas.xml`` (answer, ``--talk`` s, hang up);
* ``scenarios/transfer_blind_uac.xml`` is 1001, the transferor: ``--transfers`` calls to 1002
  at ``--rate`` a second, at most ``--limit`` at once; each talks ``--talk`` s, sends REFER
  to 1003, waits for the final NOTIFY and hangs up.

Passes when every SIPp run counts all ``--transfers`` calls successful (a pool that loses
a pair per transfer runs dry within the first ten transfers; a transfer whose target finds
no pair fails, so SIPp counts it), the daemon never logged ``rtp_ports_exhausted``, every
port of the RTP range is unbound once the calls are over (a leg a media worker still holds
keeps its socket bound: read from /proc/net/udp), there is one ``cdr`` line per call leg
pair, and the daemon exits 0 on SIGTERM. Run time about ``transfers / rate + talk * 2`` s.

    PYTHONPATH=src python3 benchmarks/transfer_load.py [--transfers 200] [--rate 5]
        [--limit 10] [--talk 1] [--rtp-pairs 32] [--workdir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from queue_load import free_tcp_port, free_udp_port, udp_ports_in_use
from sip_load import HOST, ROOT, Server, _drain, finish_sipp, sipp_cmd, start_sipp, wait_ready

REGISTER = ROOT / "tests" / "e2e" / "scenarios" / "register.xml"  # user;[authentication ...]


def start_daemon(port: int, work: Path, rtp: tuple[int, int]) -> Server:
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "ccswitch", "serve", "--listen", f"udp:{HOST}:{port}",
           "--data-dir", str(work / "data"), "--http", f"{HOST}:{free_tcp_port()}",
           "--rtp-ports", f"{rtp[0]}-{rtp[1]}", "--log-format", "json"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    server = Server("ccswitch", proc, port, work / "ccswitch.log")
    threading.Thread(target=_drain, args=(server, proc.stderr), daemon=True).start()
    wait_ready(server, 30.0)
    return server


def free_range(pairs: int) -> tuple[int, int]:
    """An even-aligned block of 2 * pairs UDP ports nobody has bound."""
    for lo in range(40000, 60000 - 2 * pairs, 2 * pairs):
        if not udp_ports_in_use(lo, lo + 2 * pairs - 1):
            return lo, lo + 2 * pairs - 1
    raise RuntimeError("no free RTP port block")


def credentials(work: Path, user: str) -> Path:
    path = work / f"cred-{user}.csv"
    path.write_text(f"SEQUENTIAL\n{user};[authentication username={user} password=pw{user}]\n")
    return path


def register(server: Server, work: Path, user: str) -> int:
    port = free_udp_port()
    out = work / f"register-{user}"
    cmd = sipp_cmd(str(REGISTER), server.port, port, out, "-inf",
                   str(credentials(work, user)), "-m", "1", "-timeout", "10")
    run = finish_sipp(start_sipp(cmd), out, time.monotonic() + 15, time.monotonic())
    if run.rc != 0:
        raise RuntimeError(f"registering {user}: sipp exit {run.rc}: {run.errors}")
    return port


def events(server: Server, name: str) -> list[dict[str, Any]]:
    out = []
    for line in server.log_lines:
        if f'"{name}"' in line:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == name:
                out.append(ev)
    return out


def run(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    rtp = free_range(a.rtp_pairs)
    server = start_daemon(free_udp_port(), work, rtp)
    why: list[str] = []
    try:
        p1002, p1003 = register(server, work, "1002"), register(server, work, "1003")
        n = str(a.transfers)
        talk = str(int(a.talk * 1000))
        uas = [
            (start_sipp(sipp_cmd("transfer_transferee_uas.xml", server.port, p1002,
                                 work / "transferee", "-m", n, "-rtp_echo",
                                 "-mp", str(free_udp_port()))), work / "transferee"),
            (start_sipp(sipp_cmd("transfer_target_uas.xml", server.port, p1003, work / "target",
                                 "-m", n, "-d", talk, "-rtp_echo",
                                 "-mp", str(free_udp_port()))), work / "target"),
        ]
        time.sleep(0.5)
        t0 = time.monotonic()
        out = work / "transferor"
        uac = finish_sipp(start_sipp(sipp_cmd(
            "transfer_blind_uac.xml", server.port, free_udp_port(), out,
            "-inf", str(credentials(work, "1001")), "-s", "1002",
            "-auth_uri", f"1002@{HOST}:{server.port}", "-set", "target", "1003",
            "-d", talk, "-r", str(a.rate), "-l", str(a.limit), "-m", n,
            "-mp", str(free_udp_port()), "-recv_timeout", "20000")), out,
            t0 + a.transfers / a.rate + 60, t0)
        runs = {"transferor": uac}
        for (proc, path), name in zip(uas, ("transferee", "target"), strict=True):
            runs[name] = finish_sipp(proc, path, time.monotonic() + a.talk + 15, t0)
        wall = time.monotonic() - t0
        for name, r in runs.items():
            if r.rc != 0 or r.screen.successful != a.transfers:
                why.append(f"{name}: {r.screen.successful}/{a.transfers} successful, sipp exit "
                           f"{r.rc}: {r.errors[:300] or r.screen.last_error}")
        time.sleep(2.0)  # the last BYEs are answered and the workers close the legs
        bound = udp_ports_in_use(*rtp)
        if bound:
            why.append(f"{len(bound)} RTP port(s) still bound after every call ended: "
                       f"{bound[:10]} (a leg a media worker never destroyed)")
        if events(server, "rtp_ports_exhausted"):
            why.append(f"rtp_ports_exhausted logged {len(events(server, 'rtp_ports_exhausted'))}"
                       f" times: the pool lost pairs (range of {a.rtp_pairs} pairs)")
        cdrs = len(events(server, "cdr"))
    finally:
        rc = server.stop()
    if rc != 0:
        why.append(f"daemon exit status {rc} on SIGTERM")
    return {"transfers": a.transfers, "rate": a.rate, "rtp_pairs": a.rtp_pairs,
            "wall_s": round(wall, 1), "cdr_lines": cdrs, "daemon_rc": rc, "ok": not why,
            "why": why, "workdir": str(work)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--transfers", type=int, default=200)
    p.add_argument("--rate", type=float, default=5.0)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--talk", type=float, default=1.0)
    p.add_argument("--rtp-pairs", type=int, default=32)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    work = a.workdir or Path(tempfile.mkdtemp(prefix="transfer_load-"))
    work.mkdir(parents=True, exist_ok=True)
    res = run(a, work)
    print(json.dumps(res, indent=2))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
