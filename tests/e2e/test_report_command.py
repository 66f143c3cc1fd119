"""`ccswitch report` and `/api/v1/reports/queues` against what really happened: the demo
daemon, a SIPp agent (2002, support) and two SIPp callers into queue support (800): one
answered (and held for a second through the API), one who hangs up after 3 s while the agent
is in wrap-up.  What the report must say
is worked out from the queue event log those calls left (the durable record).

The module's tests share one data dir and its daemon (``switch``: the current one, as one test
kills it and starts another), each in its own queue: support for the first, sales for the
second."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from e2e_daemon import Daemon, DaemonFactory, ccswitch_command, child_env
from e2e_media import settle
from e2e_queue import agent, caller, describe, matching, queue_events, wait_queue_event
from e2e_sipp import Sipp
from e2e_util import LOOPBACK

pytestmark = pytest.mark.e2e

ADMIN = "demo-admin-token"
THRESHOLD = 20.0  # the demo's support queue: service_level left at its default
WRAPUP = 5.0  # the demo's support wrap-up
SHORT = 5.0  # [reports] short_abandon left at its default


@dataclass
class Switch:
    """The module's data dir and the daemon running on it now."""

    data_dir: Path
    start_daemon: DaemonFactory
    daemon: Daemon

    def start_again(self) -> Daemon:
        """A new daemon on the same data dir (the old one is dead or stopped)."""
        self.daemon = settle(self.start_daemon(data_dir=self.data_dir))
        return self.daemon


@pytest.fixture(scope="module")
def switch(module_start_daemon: DaemonFactory,
           tmp_path_factory: pytest.TempPathFactory) -> Switch:
    data = tmp_path_factory.mktemp("report-command") / "data"
    return Switch(data, module_start_daemon,
                  settle(module_start_daemon(data_dir=data)))


def test_report_and_api_agree_with_the_calls(sipp: Sipp, switch: Switch) -> None:
    daemon = switch.daemon
    answering = agent(sipp, daemon, "2002", "uas_answer.xml", calls=1, timeout=60)
    wait_queue_event(daemon, "AgentLoggedIn", 10, agent="2002")
    http = httpx.Client(base_url=f"http://{LOOPBACK}:{daemon.http_port}", timeout=10,
                        headers={"Authorization": f"Bearer {ADMIN}"})
    try:
        talking = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=5000)
        (connected,) = wait_queue_event(daemon, "CallerConnected", 20)
        assert http.post(f"/api/v1/calls/{connected.call_id}/hold").status_code == 200
        time.sleep(1.0)
        assert http.post(f"/api/v1/calls/{connected.call_id}/resume").status_code == 200
        first = talking.wait(30)
        assert first.ok, first.describe()
        (completed,) = wait_queue_event(daemon, "CallCompleted", 20)
        # the agent is in wrap-up (5 s): nobody is offered the second caller, who gives up
        second = caller(sipp, daemon, "1002", "800", "queue_caller.xml", hold_ms=3000).wait(30)
        assert second.ok, second.describe()
        (abandoned,) = wait_queue_event(daemon, "CallerAbandoned", 10)
    finally:
        answering.stop()
    rows = queue_events(daemon.data_dir)
    assert rows[0].event == "SwitchStarted", describe(rows)  # written first
    held, resumed = [r for r in rows if r.event == "CallHeld"]
    assert (held.data["held"], resumed.data["held"], held.data["by"]) == (
        True, False, "command"), describe(rows)
    time.sleep(max(0.0, completed.time + WRAPUP + 0.5 - time.time()))  # wrap-up is over

    wait, talk = connected.data["wait"], completed.data["talk"]
    expected = {
        "queue": "support", "offered": 2, "answered": 1, "abandoned": 1,
        "short_abandoned": int(abandoned.data["wait"] < SHORT),
        "answered_in_sl": int(wait <= THRESHOLD),
        "service_level": round(int(wait <= THRESHOLD) / 2, 4),  # in SL over 2 offered
        "asa_s": round(wait, 3),  # one answered call
        "aht_s": round(talk + WRAPUP, 3),  # its talk (hold included) and the whole wrap-up
        "avg_hold_s": round(resumed.time - held.time, 3),
        "longest_wait_s": round(max(wait, abandoned.data["wait"]), 3),
    }
    out = subprocess.run(
        ccswitch_command("report", "--data-dir", str(daemon.data_dir), "--format", "json"),
        capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    cli_rows = json.loads(out.stdout)
    assert sorted(r["queue"] for r in cli_rows) == ["sales", "support"]  # one per queue
    (support,) = [r for r in cli_rows if r["queue"] == "support"]
    assert {k: support[k] for k in expected} == expected, (support, describe(rows))
    day = datetime.fromisoformat(support["interval_start"])  # today, local midnight
    assert day.utcoffset() is not None and (day.hour, day.minute) == (0, 0), day

    try:
        got = http.get("/api/v1/reports/queues")
    finally:
        http.close()
    assert got.status_code == 200, got.text
    assert got.json() == cli_rows


def test_a_caller_waiting_when_the_daemon_dies_is_reported_lost(
        sipp: Sipp, switch: Switch) -> None:
    """No agent: a caller waits in sales; the daemon is SIGKILLed (no shutdown) and
    started again on the same data dir.  The new run's start mark ends the caller's stay:
    the report counts it offered and lost (not answered, not abandoned), with the wait it had
    when the second run started."""
    daemon, data = switch.daemon, switch.data_dir
    runs = len(matching(queue_events(data), "SwitchStarted"))
    waiting = caller(sipp, daemon, "1001", "801", "queue_caller_held.xml", timeout=60)
    try:
        (entered,) = wait_queue_event(daemon, "CallerEntered", 15, queue="sales")
        time.sleep(1.0)
        daemon.kill()
    finally:
        waiting.stop()
    again = switch.start_again()
    rows = queue_events(again.data_dir)
    starts = [r for r in rows if r.event == "SwitchStarted"][runs - 1:]
    assert len(starts) == 2 and starts[1].time > entered.time, describe(rows)
    out = subprocess.run(
        ccswitch_command("report", "--data-dir", str(data), "--format", "json", "--queue",
                         "sales"),
        capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert {k: row[k] for k in ("offered", "answered", "abandoned", "lost", "waiting")} == {
        "offered": 1, "answered": 0, "abandoned": 0, "lost": 1, "waiting": 0}, describe(rows)
    # its wait ended when the second run started
    assert row["longest_wait_s"] == round(starts[1].time - entered.time, 3), describe(rows)
