"""Store writes off the event loop, seen from outside: SIPp calls through the daemon, then
SIGTERM; every call the daemon reported done (its ``cdr`` log line) has its committed row, the
daemon exits 0 within the CONTRACT's 5 s, and the loop's lateness is logged (``loop_lag``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_daemon import Daemon
from e2e_media import query
from e2e_sipp import Sipp, dial_args
from e2e_util import free_port
from test_sipp_calls import TIMEOUT, creds

from ccswitch.io.overload import parse_hist

pytestmark = pytest.mark.e2e

CALLS = 40
HELD = 12  # calls up at SIGTERM: 4 RTP ports each, the e2e daemon has 64
BENCH_SCENARIOS = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios"


def test_every_reported_call_is_committed_before_exit(sipp: Sipp, daemon: Daemon) -> None:
    port = free_port()
    reg = sipp.run("register.xml", *creds(sipp, "1002"), remote=daemon.sip_port,
                   local_port=port, timeout=10)
    assert reg.ok, reg.describe()
    uas = sipp.start("uas_answer.xml", "-m", str(CALLS), local_port=port, timeout=TIMEOUT + 10)
    try:
        uac = sipp.run("uac_call.xml", *dial_args("1002", daemon.sip_port), *creds(sipp, "1001"),
                       "-m", str(CALLS), "-r", "20", remote=daemon.sip_port,
                       timeout=TIMEOUT + 10)
        uas_result = uas.wait(TIMEOUT + 15)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    lag = daemon.log.wait_for("loop_lag", timeout=15)
    rc, took = daemon.terminate()
    assert rc == 0 and took < 5.0, (rc, took, daemon.tail())

    reported = [e["call_id"] for e in daemon.log.events() if e.get("event") == "cdr"]
    rows = query(daemon.data_dir, "SELECT call_id, status FROM cdr")
    assert len(reported) == CALLS, (len(reported), daemon.tail())
    assert sorted(reported) == sorted(r["call_id"] for r in rows)
    assert all(r["status"] == 200 for r in rows), rows

    assert lag is not None, daemon.tail()
    hist = parse_hist(lag["hist"])
    assert sum(hist.values()) == lag["samples"] > 50
    assert 0 <= lag["p50_ms"] <= lag["p99_ms"] <= lag["max_ms"]


def test_calls_ended_by_sigterm_are_committed_before_exit(sipp: Sipp, daemon: Daemon) -> None:
    """Calls still up at SIGTERM are ended with BYE; their rows are written through the writer
    during the stop and committed before the process exits."""
    port = free_port()
    reg = sipp.run("register.xml", *creds(sipp, "1002"), remote=daemon.sip_port,
                   local_port=port, timeout=10)
    assert reg.ok, reg.describe()
    uas = sipp.start("uas_answer.xml", "-m", str(HELD), local_port=port, timeout=60)
    # the benchmark's caller holds each call for -d ms (the e2e one for 0.5 s)
    uac = sipp.start(str(BENCH_SCENARIOS / "uac_call.xml"), *dial_args("1002", daemon.sip_port),
                     "-au", "1001", "-ap", "pw1001", "-m", str(HELD), "-r", "40",
                     "-d", "60000", remote=daemon.sip_port, timeout=60)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(
                e.get("event") == "call_answered" for e in daemon.log.events()) < HELD:
            time.sleep(0.2)
        rc, took = daemon.terminate()
    finally:
        uac.stop()
        uas.stop()
    assert rc == 0 and took < 5.0, (rc, took, daemon.tail())
    reported = [e["call_id"] for e in daemon.log.events() if e.get("event") == "cdr"]
    rows = query(daemon.data_dir, "SELECT call_id FROM cdr")
    assert len(reported) == HELD, (len(reported), daemon.tail())
    assert sorted(reported) == sorted(r["call_id"] for r in rows)
