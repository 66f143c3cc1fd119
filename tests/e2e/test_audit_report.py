"""``ccswitch report audit`` and ``/api/v1/reports/audit`` against what really happened: the
demo daemon with one media worker, a SIPp call (1011 -> 1012) whose media worker is killed
while it talks, then two SIPp calls that fail (404: no such number; 480: an agent without a
registered phone).  The audit must show the worker's restart (at the time it was killed), the
failed calls by code and the answered call.  Then a blind transfer between baresip phones,
timed by the audit within what the test saw.  And a SIPp INVITE flood against a daemon whose
overload guard is set low (``[sip] overload_lag``): the audit shows its overloads and the
INVITEs it shed.

The first two tests run on one daemon (``audit_daemon``, one media worker): neither makes a call
the other counts (the transfer fails nothing; the failed calls transfer nothing), and the
transfer's media goes through the worker the daemon restarted when it runs second.  The flood
has a daemon of its own (its configuration differs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_baresip import PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, THIRD_HZ, hang_up, phone, queue_call, uri
from e2e_daemon import Daemon, DaemonFactory, ccswitch_command, child_env
from e2e_media import settle
from e2e_sipp import Sipp, dial_args
from e2e_util import LOOPBACK, wait_until
from test_cdr_logs import failed_call
from test_media_resilience import call_waiting_for_bye, worker_pids

from peers import require_peer

pytestmark = pytest.mark.e2e

ADMIN = "demo-admin-token"


def audit_rows(daemon: Daemon, since: float) -> list[dict[str, Any]]:
    out = subprocess.run(
        ccswitch_command("report", "audit", "--data-dir", str(daemon.data_dir), "--from",
                         f"{since:.0f}", "--to", f"{time.time() + 3600:.0f}", "--interval",
                         "1h", "--format", "json"),
        capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


@pytest.fixture(scope="module")
def audit_daemon(module_start_daemon: DaemonFactory) -> Daemon:
    return settle(module_start_daemon(extra_args=("--media-workers", "1")))


def test_the_audit_shows_a_worker_restart_and_the_failed_calls_by_code(
        sipp: Sipp, audit_daemon: Daemon) -> None:
    require_peer("sipp")
    since = time.time() - 60
    d = audit_daemon
    (pid,) = worker_pids(d)
    uac, uas = call_waiting_for_bye(sipp, d, "1011", "1012")
    try:
        assert d.log.wait_for("call_answered", timeout=20), d.tail()
        time.sleep(0.5)
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        assert uac.wait(20).ok and uas.wait(20).ok
    finally:
        uac.stop()
        uas.stop()
    died = d.log.wait_for("media_worker_died", timeout=10)
    assert died is not None, d.tail()
    # failed attempts (a shed one, 503 under load, is tried again and counted as a 503)
    codes = [failed_call(sipp, d, "1001", number).received_statuses()[-1]
             for number in ("55555", "2003")]
    assert codes == [404, 480]
    shed = sum(1 for e in d.log.events() if e.get("event") == "call_refused"
               and e.get("reason") == "overloaded")

    def restart_stored() -> bool:
        return sum(r["worker_restarts"] for r in audit_rows(d, since)) == 1

    assert wait_until(restart_stored, timeout=10), d.tail()
    rows = audit_rows(d, since)
    failed: Counter[str] = Counter()
    for r in rows:
        failed.update(r["failed_codes"])
    assert failed == Counter({"404": 1, "480": 1, **({"503": shed} if shed else {})}), rows
    (row,) = [r for r in rows if r["worker_restarts"]]
    (restarted,) = row["worker_restart_times"]
    at = datetime.fromisoformat(str(restarted)).timestamp()
    assert killed <= at <= killed + 10, (killed, restarted)
    answered = [r for r in rows if r["answered"]]
    assert sum(r["answered"] for r in answered) >= 1
    # the API gives the same rows
    http = httpx.Client(base_url=f"http://{LOOPBACK}:{d.http_port}", timeout=10,
                        headers={"Authorization": f"Bearer {ADMIN}"})
    got = http.get("/api/v1/reports/audit", params={
        "from": f"{since:.0f}", "to": f"{time.time() + 3600:.0f}", "interval": "1h"})
    assert got.status_code == 200, got.text
    assert [r["worker_restarts"] for r in got.json()] == [r["worker_restarts"] for r in rows]


def test_the_audit_times_a_blind_transfer_between_baresip_phones(
        phones: PhoneFactory, audit_daemon: Daemon, tmp_path: Path) -> None:
    """Caller 1001 -> queue 800 -> agent 2002, who transfers it to 1002 (baresip's REFER):
    one transfer, not failed, timed from the REFER to 1002's answer: within what the test
    itself saw between asking baresip to transfer and 1002's phone being in the call."""
    require_peer("baresip")
    since = time.time() - 60
    d = audit_daemon
    agent = phone(phones, d, tmp_path, "agent-2002", "2002", AGENT_HZ, register=True,
                  auto=True)
    target = phone(phones, d, tmp_path, "target-1002", "1002", THIRD_HZ, register=True,
                   auto=True)
    caller = phone(phones, d, tmp_path, "caller-1001", "1001", CALLER_HZ)
    queue_call(caller, agent, d)
    time.sleep(1.0)
    asked = time.monotonic()
    agent.transfer(uri(d, "1002"))
    target.wait_event("CALL_ESTABLISHED", timeout=15)
    seen = time.monotonic() - asked  # an upper bound of REFER received -> 1002 answered
    agent.wait_event("CALL_CLOSED", timeout=10)
    hang_up(caller, target, agent)

    def transferred() -> bool:
        return sum(r["transfers"] for r in audit_rows(d, since)) == 1

    assert wait_until(transferred, timeout=10), (audit_rows(d, since), d.tail())
    (row,) = [r for r in audit_rows(d, since) if r["transfers"]]
    assert row["transfers_failed"] == 0 and row["transfer_failed_codes"] == {}, row
    assert 0.0 < row["transfer_mean_s"] <= seen, (row, seen)
    assert row["transfer_p95_s"] == row["transfer_mean_s"]  # one transfer: p95 is it


def test_the_audit_shows_the_overload_guard_shedding_a_sipp_flood(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """The demo with ``[sip] overload_lag = 0.001``: the loop 1 ms late at two probes in a
    row sheds new INVITEs with 503, which a flood of INVITEs (SIPp, 1,000 a second until the
    guard starts shedding; the daemon stalled by SIGSTOP for 0.4 s at a time, as a loop
    stuck behind its backlog is) gets.  The audit (CLI and API) shows the overload windows
    (``switch.overload``), every shed INVITE counted (as the daemon logged them,
    ``call_refused`` overloaded) and as a failed attempt with 503, and an overload that
    began during the flood."""
    require_peer("sipp")
    demo = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"
    conf = tmp_path / "overload.toml"
    conf.write_text(demo.read_text() + "\n[sip]\noverload_lag = 0.001\n")
    since = time.time() - 60
    d = start_daemon(extra_args=("--config", str(conf), "--media-workers", "1"))
    began = time.time()

    def shed_logged() -> int:
        return sum(1 for e in d.log.events() if e.get("event") == "call_refused"
                   and e.get("reason") == "overloaded")

    # 1,000 INVITEs a second (10 s at most) until the guard has shed one, then stopped
    flood = sipp.start("invite_flood.xml", *dial_args("55555", d.sip_port), "-r", "1000",
                       "-m", "10000", "-nr", remote=d.sip_port, timeout=30)
    try:
        # a quiet machine answers the flood without falling 1 ms behind; a stalled loop is
        # what overload looks like, so the daemon is stopped (SIGSTOP) for 0.4 s while the
        # flood's INVITEs queue up, then let go: the lag probe finds the loop late and the
        # backlog keeps it late, and the guard sheds
        refused = None
        for _ in range(10):
            os.kill(d.proc.pid, signal.SIGSTOP)
            try:
                time.sleep(0.4)
            finally:
                os.kill(d.proc.pid, signal.SIGCONT)
            refused = d.log.wait_for("call_refused", timeout=2, reason="overloaded")
            if refused is not None:
                break
        assert refused is not None, d.tail()
        time.sleep(1.0)  # the flood goes on a moment: SIPp gets the 503s sent meanwhile
    finally:
        flood.stop()
    ended = time.time()
    sent = flood.wait(5)
    assert "SIP/2.0 503 Service Unavailable" in sent.messages, sent.describe()[-3000:]

    http = httpx.Client(base_url=f"http://{LOOPBACK}:{d.http_port}", timeout=10,
                        headers={"Authorization": f"Bearer {ADMIN}"})

    def api_rows() -> list[dict[str, Any]]:
        got = http.get("/api/v1/reports/audit", params={
            "from": f"{since:.0f}", "to": f"{time.time() + 3600:.0f}", "interval": "1h"})
        assert got.status_code == 200, got.text
        return list(got.json())

    def all_shed_audited() -> bool:
        return sum(r["shed_requests"] for r in api_rows()) == shed_logged() > 0

    # a window is written when shedding stops, or after 60 s of it (a loaded machine)
    assert wait_until(all_shed_audited, timeout=75, interval=0.5), (api_rows(), shed_logged())
    shed = shed_logged()
    rows = audit_rows(d, since)  # the CLI's audit: the same figures
    assert sum(r["shed_requests"] for r in rows) == shed, rows
    assert sum(r["overloads"] for r in rows) >= 1
    assert sum(r["failed_codes"].get("503", 0) for r in rows) == shed, rows
    times = [datetime.fromisoformat(str(t)).timestamp() for r in rows
             for t in r["overload_times"]]
    assert any(began - 1 <= t <= ended + 1 for t in times), (began, ended, times)
