"""The CRM screen pop end to end: the real daemon, a fake CRM (http.server on a thread,
started by the test), a SIPp caller "Ann Caller" (1001) through the demo IVR 700 pressing 1
(sales), a SIPp agent 2005, and a WebSocket client recording `/api/v1/events`.

- a CRM that answers: the caller waits with no agent until `call.crm` brings the record;
  then the agent registers and the offer (`queue.caller_offered`) carries the record, the
  caller's number and name, the number dialled, the IVR's digits and variables, the queue,
  the wait, the call and recording ids and the filled-in script; the CRM got the URL filled
  in (encoded) and the bearer header;
- a CRM slower than `[crm] timeout`: the agent is ready, the offer goes out at once with
  `crm_status` "pending" and `call.crm` later says "timeout";
- a CRM that is down (nothing listens): `call.crm` says "error".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import settle
from e2e_queue import agent, caller, wait_queue_event, write_config
from e2e_sipp import Sipp
from e2e_util import LOOPBACK, free_port, wait_until
from test_events import TOKEN, Stream

pytestmark = pytest.mark.e2e

CRM_TOKEN = "crm-bearer-secret"
RECORD = {"name": "Ann Example", "account": "A-17", "open_tickets": 2}
SCRIPT = "Greet {caller_name} ({caller}), who dialled {dialled} and chose {digits}/{var.menu_demo}."


class FakeCrm:
    """A CRM on a thread: answers `RECORD` (mode "answers") or sleeps past the timeout
    ("slow"); records the path and Authorization header of every GET."""

    def __init__(self, port: int, mode: str) -> None:
        got = self.got = []  # type: list[tuple[str, str]]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                got.append((self.path, self.headers.get("Authorization", "")))
                if mode == "slow":
                    time.sleep(4.0)
                body = json.dumps(RECORD).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the switch gave up (slow)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(tmp_path: Path, crm_port: int) -> Path:
    return write_config(tmp_path / "crm.toml", f"""
        domains = ["ccswitch.local"]

        [[users]]
        range = "1001-1005"
        password = "pw{{user}}"

        [[users]]
        name = "2005"
        password = "pw2005"
        agent = {{ queues = ["sales"] }}

        [queues.support]

        [queues.sales]
        ring_timeout = 8
        wrapup = 0.5
        script = "{SCRIPT}"

        [dialplan.numbers]
        700 = "ivr:demo"

        [[api.tokens]]
        token = "{TOKEN}"
        role = "admin"

        [crm]
        url = "http://{LOOPBACK}:{crm_port}/lookup?phone={{caller}}&who={{caller_name}}&choice={{digits}}&q={{queue}}"
        timeout = 1.0
        headers = {{ Authorization = "Bearer {CRM_TOKEN}" }}
        """)  # fmt: skip


@pytest.fixture
def closers() -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for thing in reversed(opened):
        thing.close()


def first(stream: Stream, type_: str, timeout: float, daemon: Daemon) -> dict[str, Any]:
    """The first event of `type_` the client received (waiting for it)."""
    if not wait_until(lambda: any(e["type"] == type_ for e in stream.events), timeout):
        raise AssertionError(f"no {type_} within {timeout:.0f} s; got "
                             f"{[e['type'] for e in stream.events]}\n{daemon.tail()}")
    return next(e for e in stream.events if e["type"] == type_)


@pytest.mark.parametrize("mode", ["answers", "slow", "down"])
def test_the_offer_carries_the_screen_pop_and_the_crm_outcome_is_published(
    mode: str, sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path, closers: list[Any]
) -> None:
    crm_port = free_port(udp=False)
    crm = None
    if mode != "down":
        crm = FakeCrm(crm_port, mode)
        closers.append(crm)
    daemon = settle(start_daemon(extra_args=["--config", str(config(tmp_path, crm_port))]))
    stream = Stream(daemon, since=0)
    closers.append(stream)

    served = None
    if mode != "answers":  # the agent is ready first: the offer cannot wait for the CRM
        served = agent(sipp, daemon, "2005", "uas_bye.xml", calls=1, timeout=60)
        wait_queue_event(daemon, "AgentLoggedIn", 10, agent="2005")
    call = caller(sipp, daemon, "1001", "700", "crm_caller_ivr.xml", digit="1", timeout=60)
    try:
        entered = wait_queue_event(daemon, "CallerEntered", 15, queue="sales")[0]
        outcome = first(stream, "call.crm", 15, daemon)
        if served is None:
            served = agent(sipp, daemon, "2005", "uas_bye.xml", calls=1, timeout=60)
        offer = first(stream, "queue.caller_offered", 20, daemon)
        wait_queue_event(daemon, "CallCompleted", 30)
        caller_result = call.wait(20)
        agent_result = served.wait(20)
    finally:
        call.stop()
        if served is not None:
            served.stop()
    assert caller_result.ok, caller_result.describe()
    assert agent_result.ok, agent_result.describe()

    call_id = entered.call_id
    assert offer["call_id"] == call_id and offer["queue"] == "sales" and offer["agent"] == "2005"
    assert offer["caller"] == "1001" and offer["caller_name"] == "Ann Caller"
    assert offer["dialled"] == "700"
    assert offer["digits"] == "1" and offer["vars"] == {"menu_demo": "1"}
    assert offer["recording_id"] == call_id  # queues record by default
    assert offer["wait_s"] >= 0
    assert offer["script"] == (
        "Greet Ann Caller (1001), who dialled 700 and chose 1/1.")
    assert outcome["call_id"] == call_id and outcome["queue"] == "sales"
    if mode == "answers":
        assert outcome["crm_status"] == "ok" and outcome["crm"] == RECORD
        # the agent came after the answer: the offer carries the record
        assert offer["crm_status"] == "ok" and offer["crm"] == RECORD
        assert offer["seq"] > outcome["seq"]
        assert offer["wait_s"] > 0
    else:
        assert offer["crm_status"] == "pending" and offer["crm"] is None
        assert offer["seq"] < outcome["seq"]  # the offer did not wait for the CRM
        assert outcome["crm"] is None
        assert outcome["crm_status"] == ("timeout" if mode == "slow" else "error")
    if crm is not None:
        assert len(crm.got) == 1, crm.got  # one lookup per call
        path, auth = crm.got[0]
        assert auth == f"Bearer {CRM_TOKEN}"
        split = urlsplit(path)
        assert split.path == "/lookup"
        assert split.query == "phone=1001&who=Ann%20Caller&choice=1&q=sales"
        assert parse_qs(split.query) == {"phone": ["1001"], "who": ["Ann Caller"],
                                         "choice": ["1"], "q": ["sales"]}
    status = {"answers": "ok", "slow": "timeout", "down": "error"}[mode]
    metrics = httpx.get(f"http://{LOOPBACK}:{daemon.http_port}/metrics", timeout=10).text
    assert f'ccswitch_crm_lookups_total{{status="{status}"}} 1.0' in metrics, [
        line for line in metrics.splitlines() if "crm" in line]
    # the stream never shows the lookup's URL nor its credentials
    assert not any(CRM_TOKEN in str(e) or "/lookup" in str(e) for e in stream.events)
