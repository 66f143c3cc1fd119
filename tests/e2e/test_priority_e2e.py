"""A supervisor moves a waiting caller up (CONTRACT "HTTP", issue 10 item 1): two SIPp
callers wait in support, 1001 first; the supervisor raises 1002's priority through the API;
when the agent comes back it is offered 1002 first.  The change is a queue event and an
event of the stream."""

from __future__ import annotations

import json
import sqlite3

import pytest
from e2e_daemon import DaemonFactory
from e2e_media import settle
from e2e_queue import agent, caller, queue_call_id, queue_events, sip_call_id, wait_queue_event
from e2e_sipp import Sipp
from test_http_api import ADMIN, api, wait_waiting

pytestmark = pytest.mark.e2e

SUPERVISOR = {"Authorization": "Bearer demo-supervisor-token"}


def test_the_raised_second_caller_is_served_first(sipp: Sipp,
                                                  start_daemon: DaemonFactory) -> None:
    daemon = settle(start_daemon())
    with api(daemon) as client:
        answering = agent(sipp, daemon, "2001", "uas_bye.xml", timeout=90)
        r = client.post("/api/v1/agents/2001/pause", json={"reason": "meeting"}, headers=ADMIN)
        assert r.status_code == 200 and r.json()["detail"]["state"] == "paused", r.text
        first = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=90)
        wait_queue_event(daemon, "CallerEntered", 20, count=1)
        second = caller(sipp, daemon, "1002", "800", "queue_caller_held.xml", timeout=90)
        try:
            queue = wait_waiting(client, 2, timeout=20)
            line = [(c["caller"], c["position"], c["priority"]) for c in queue["callers"]]
            assert line == [("1001", 1, 0), ("1002", 2, 0)], queue
            by_caller = {c["caller"]: c["call_id"] for c in queue["callers"]}
            # the supervisor of support raises 1002: from position 2 to 1
            r = client.post(f"/api/v1/queues/support/callers/{by_caller['1002']}/priority",
                            json={"priority": 5}, headers=SUPERVISOR)
            assert r.status_code == 200, r.text
            assert r.json()["detail"] == {"queue": "support", "call_id": by_caller["1002"],
                                          "priority": 5, "old": 0, "position": 1}
            queue = wait_waiting(client, 2, timeout=0)
            assert [(c["caller"], c["position"]) for c in queue["callers"]] == [
                ("1002", 1), ("1001", 2)], queue
            (changed,) = wait_queue_event(daemon, "CallerPriorityChanged", 10)
            assert (changed.call_id, changed.data["old_position"],
                    changed.data["position"]) == (by_caller["1002"], 2, 1)
            # the agent comes back: its phone rings for 1002, who is connected first
            r = client.post("/api/v1/agents/2001/ready", headers=ADMIN)
            assert r.status_code == 200, r.text
            (connected,) = wait_queue_event(daemon, "CallerConnected", 30)
            assert connected.agent == "2001"
            served = second.wait(60)  # 2001 hangs up: 1002 gets the switch's BYE
            assert served.ok, served.describe()
            rows = queue_events(daemon.data_dir)
            assert connected.call_id == queue_call_id(daemon, rows, sip_call_id(served))
            assert answering.wait(30).ok
            # the stream stored the change for WebSocket clients and webhooks
            db = sqlite3.connect(daemon.data_dir / "ccswitch.db")
            try:
                stored = db.execute("SELECT call_id, data FROM events WHERE type ="
                                    " 'queue.caller_priority_changed'").fetchall()
            finally:
                db.close()
            assert [(c, json.loads(d)["priority"]) for c, d in stored] == [
                (by_caller["1002"], 5)]
            # 1001 still waits; the admin hangs it up
            assert wait_waiting(client, 1, timeout=0)["waiting"] == 1
            r = client.delete(f"/api/v1/calls/{by_caller['1001']}", headers=ADMIN)
            assert r.status_code == 200, r.text
            assert first.wait(30).ok
        finally:
            first.stop()
            second.stop()
            answering.stop()
