"""The HTTP API and /metrics on a real daemon (CONTRACT "HTTP"): SIPp callers wait in a
queue and the API shows them; an agent token pauses its agent and is refused another; DELETE
hangs up a live call (the phone gets BYE); /metrics parses as Prometheus text."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_daemon import Daemon, DaemonFactory, ccswitch_command, child_env
from e2e_media import settle
from e2e_queue import caller, register, wait_queue_event
from e2e_sipp import Sipp
from e2e_util import LOOPBACK, free_port
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer demo-admin-token"}
AGENT_2001 = {"Authorization": "Bearer demo-agent-2001"}


def api(daemon: Daemon) -> httpx.Client:
    return httpx.Client(base_url=f"http://{LOOPBACK}:{daemon.http_port}", timeout=5.0)


def support(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/api/v1/queues", headers=ADMIN)
    assert r.status_code == 200, r.text
    (queue,) = [q for q in r.json() if q["name"] == "support"]
    return queue


def wait_waiting(client: httpx.Client, n: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        queue = support(client)
        if queue["waiting"] >= n or time.monotonic() > deadline:
            return queue
        time.sleep(0.1)


def test_queue_view_agent_scope_hangup_and_metrics(sipp: Sipp,
                                                   start_daemon: DaemonFactory) -> None:
    daemon = settle(start_daemon())
    with api(daemon) as client:
        # no token, a wrong one: 401 with a Bearer challenge; /metrics needs none
        r = client.get("/api/v1/queues")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert client.get("/api/v1/queues", headers={"Authorization": "Bearer nope-nope-nope"}
                          ).status_code == 401
        assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.1")

        # agent 2001 registers (logged in, ready), pauses itself; it may not pause 2002
        register(sipp, daemon, "2001")
        r = client.get("/api/v1/agents/2001", headers=AGENT_2001)
        assert r.status_code == 200 and r.json()["state"] == "ready", r.text
        r = client.post("/api/v1/agents/2001/pause", json={"reason": "lunch"},
                        headers=AGENT_2001)
        assert r.status_code == 200 and r.json()["detail"]["state"] == "paused", r.text
        r = client.post("/api/v1/agents/2002/pause", json={"reason": "lunch"},
                        headers=AGENT_2001)
        assert r.status_code == 403, r.text
        agents = {a["id"]: a for a in client.get("/api/v1/agents", headers=ADMIN).json()}
        assert agents["2001"]["state"] == "paused" and agents["2002"]["state"] == "logged_out"

        # two SIPp callers wait in support (its only logged-in agent is paused)
        first = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=40)
        second = caller(sipp, daemon, "1002", "800", "queue_caller_held.xml", timeout=40)
        try:
            wait_queue_event(daemon, "CallerEntered", 10, count=2)
            queue = wait_waiting(client, 2)
            assert queue["waiting"] == 2, queue
            assert queue["agents"]["paused"] == 1 and queue["agents"]["logged_out"] == 6, queue
            assert sorted(c["caller"] for c in queue["callers"]) == ["1001", "1002"]
            assert [c["position"] for c in queue["callers"]] == [1, 2]
            assert queue["longest_wait_s"] > 0

            calls = client.get("/api/v1/calls", headers=ADMIN).json()
            by_caller = {c["caller"]: c for c in calls}
            assert set(by_caller) == {"1001", "1002"}, calls
            assert {c["state"] for c in calls} == {"queued"}
            assert {c["queue"] for c in calls} == {"support"}

            # DELETE hangs up 1001's call: its phone gets BYE and its scenario ends well
            r = client.delete(f"/api/v1/calls/{by_caller['1001']['id']}", headers=ADMIN)
            assert r.status_code == 200, r.text
            result = first.wait(15)
            assert result.ok, result.describe()
            assert result.requests("BYE", "received"), result.describe()
            assert wait_waiting(client, 0, timeout=0)["waiting"] == 1

            # /metrics: Prometheus text, the queue's gauge and the API's auth failures
            text = client.get("/metrics").text
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for fam in text_string_to_metric_families(text) for s in fam.samples}
            assert samples[("ccswitch_queue_waiting", (("queue", "support"),))] == 1
            assert samples[("ccswitch_api_auth_failures_total", ())] == 1  # the wrong token
            assert samples[("ccswitch_calls_total", (("disposition", "answered"),))] >= 1
            assert any(k[0] == "ccswitch_sip_messages_total"
                       and ("method_or_status", "INVITE") in k[1] for k in samples)
            assert ("ccswitch_event_loop_lag_seconds_count", ()) in samples
        finally:
            first.stop()
        rc, took = daemon.terminate()
        assert rc == 0, f"exit {rc} after {took:.1f} s\n{daemon.tail()}"
        held = second.wait(10)
        assert held.ok, held.describe()  # the caller still waiting got the switch's BYE


def test_serve_exits_2_naming_an_http_port_in_use(tmp_path: Path) -> None:
    """Like a SIP port: a busy --http port exits 2 naming it, and nothing is left running."""
    http_port = free_port(udp=False)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind((LOOPBACK, http_port))
        busy.listen()
        proc = subprocess.run(
            ccswitch_command("serve", "--listen", f"udp:{LOOPBACK}:{free_port()}",
                             "--data-dir", str(tmp_path / "data"),
                             "--http", f"{LOOPBACK}:{http_port}", "--log-format", "json"),
            cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=20)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"http:{LOOPBACK}:{http_port}" in out, out
