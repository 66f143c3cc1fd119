"""The event stream end to end: SIPp callers through a queue to a SIPp agent while WebSocket
clients (the `websockets` library) record `/api/v1/events`; a webhook receiver that is down
for the first half gets every event afterwards, in order, signed.

What is checked against what: the stored `events` table is the whole stream; the clients'
recordings, joined at their `since` reconnections (one of them across a SIGTERM and restart on
the same data dir), must be exactly that table; the queue and agent events of the stream must
tell the same story as the queue event log (`queue_events`); the receiver must get exactly the
table's events that match its hook's filter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import query, settle
from e2e_queue import agent, caller, describe, queue_events, wait_queue_event, write_config
from e2e_sipp import Sipp
from e2e_util import LOOPBACK, free_port, wait_until

from ccswitch.acd import events as acd_events
from ccswitch.call.eventlog import TYPES

websockets = pytest.importorskip("websockets")

pytestmark = pytest.mark.e2e

TOKEN = "events-admin-token"
SECRET = "hook-secret"
QUEUE_TYPES = {cls.__name__: name for cls, name in TYPES.items()
               if cls.__module__ == acd_events.__name__}


class Stream:
    """A WebSocket client on its own thread recording every object it receives."""

    def __init__(self, daemon: Daemon, *, since: int | None, query_token: bool = False,
                 params: str = "") -> None:
        q = [] if since is None else [f"since={since}"]
        if query_token:
            q.append(f"token={TOKEN}")
        if params:
            q.append(params)
        self.url = f"ws://{LOOPBACK}:{daemon.http_port}/api/v1/events?{'&'.join(q)}"
        self.headers = {} if query_token else {"Authorization": f"Bearer {TOKEN}"}
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.close_code: int | None = None
        self.connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: Any = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), f"no connection to {self.url}: {self.error!r}"

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            async with websockets.connect(self.url, additional_headers=self.headers,
                                          open_timeout=5) as ws:
                self._ws = ws
                self.connected.set()
                async for msg in ws:
                    self.events.append(json.loads(msg))
        except websockets.ConnectionClosed as e:
            self.close_code = e.rcvd.code if e.rcvd is not None else None
        except Exception as e:  # reported by the test
            self.error = e
            self.connected.set()
        if self._ws is not None and self._ws.close_code is not None:
            self.close_code = self._ws.close_code

    @property
    def last(self) -> int:
        return int(self.events[-1]["seq"]) if self.events else 0

    def close(self) -> None:
        if self._loop is not None and self._ws is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)
        self._thread.join(5)


class Receiver:
    """A webhook receiver (http.server on a thread) recording (signature, body) per POST."""

    def __init__(self, port: int) -> None:
        got = self.got = []  # type: list[tuple[str, bytes]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((self.headers.get("X-Ccswitch-Signature", ""), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(tmp_path: Path, hook_port: int) -> Path:
    return write_config(tmp_path / "events.toml", f"""
        domains = ["ccswitch.local"]

        [[users]]
        range = "1001-1005"
        password = "pw{{user}}"

        [[users]]
        name = "2002"
        password = "pw2002"
        agent = {{ queues = ["support"] }}

        [queues.support]
        ring_timeout = 5
        wrapup = 0.5

        [queues.sales]

        [dialplan.numbers]
        800 = "queue:support"

        [[api.tokens]]
        token = "{TOKEN}"
        role = "admin"

        [[webhooks]]
        name = "crm"
        url = "http://{LOOPBACK}:{hook_port}/hook"
        secret = "{SECRET}"
        queues = ["support"]
        retry_max = 2
        """)  # fmt: skip


def stored(daemon: Daemon) -> list[dict[str, Any]]:
    """The `events` table as wire objects, in order."""
    rows = query(daemon.data_dir, "SELECT seq, time, type, queues, data FROM events ORDER BY seq")
    return [{"seq": r["seq"], "type": r["type"], "time": r["time"], "_queues": r["queues"],
             **json.loads(r["data"])} for r in rows]


def one_call(sipp: Sipp, daemon: Daemon, user: str, completed: int) -> None:
    """`user` calls 800; the agent (registered before) answers; both hang up."""
    result = caller(sipp, daemon, user, "800", "queue_caller.xml", hold_ms=1500).wait(30)
    assert result.ok, result.describe()
    wait_queue_event(daemon, "CallCompleted", 20, count=completed)


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for s in opened:
        s.close()


def test_stream_and_webhook_tell_the_queue_log_story_without_loss_across_a_restart(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path, streams: list[Stream]
) -> None:
    hook_port = free_port(udp=False)
    conf = config(tmp_path, hook_port)
    data = tmp_path / "data"
    daemon = settle(start_daemon(data_dir=data, extra_args=["--config", str(conf)]))

    # A records from the start (query-string token, as a browser would); the hook is down
    first = Stream(daemon, since=0, query_token=True)
    streams.append(first)
    agents = agent(sipp, daemon, "2002", "uas_answer.xml", calls=2, timeout=60)
    wait_queue_event(daemon, "AgentLoggedIn", 10, agent="2002")
    one_call(sipp, daemon, "1001", 1)
    assert wait_until(lambda: any(e["type"] == "call.ended" for e in first.events), 10)
    first.close()  # A goes away; B comes back with since = what A saw last
    one_call(sipp, daemon, "1002", 2)
    second = Stream(daemon, since=first.last)
    streams.append(second)
    assert agents.wait(15).ok
    assert wait_until(lambda: second.last >= stored(daemon)[-1]["seq"], 10)

    # SIGTERM and start again on the same data dir: C resumes from what B saw
    rc, _ = daemon.terminate()
    assert rc == 0, daemon.tail()
    second.close()
    before = stored(daemon)
    receiver = Receiver(hook_port)  # the hook's receiver comes up only now
    try:
        daemon = settle(start_daemon(data_dir=data, extra_args=["--config", str(conf)]))
        third = Stream(daemon, since=second.last)
        streams.append(third)
        again = agent(sipp, daemon, "2002", "uas_answer.xml", calls=1, timeout=60)
        one_call(sipp, daemon, "1003", 3)
        assert again.wait(15).ok
        table = stored(daemon)
        assert table[: len(before)] == before
        assert wait_until(lambda: third.last >= table[-1]["seq"], 10), describe(
            queue_events(daemon.data_dir))
        wanted = [e for e in table if ",support," in e["_queues"]]
        assert wait_until(lambda: len(receiver.got) >= len(wanted), 30), (
            len(receiver.got), len(wanted))
    finally:
        receiver.close()

    # 1. the clients together saw exactly the stored stream, each in order, nothing twice
    for s in (first, second, third):
        assert s.error is None, s.error
        seqs = [e["seq"] for e in s.events]
        assert seqs == sorted(set(seqs))
    joined = first.events + second.events + third.events
    assert [e["seq"] for e in joined] == [e["seq"] for e in table]
    assert joined == [{k: v for k, v in e.items() if k != "_queues"} for e in table]
    assert all(isinstance(e["time"], float) and e["time"] > 1.7e9 for e in joined)

    # 2. the queue and agent events are the queue event log, one for one
    log = queue_events(daemon.data_dir)
    ours = [e for e in joined if e["type"].split(".")[0] in ("queue", "agent", "switch")]
    assert [(QUEUE_TYPES[r.event], r.call_id, r.agent) for r in log] == [
        (e["type"], e.get("call_id"), e.get("agent")) for e in ours], describe(log)
    # each call's story: started, entered, offered, connected, completed, ended
    calls = [r.call_id for r in log if r.event == "CallerEntered"]
    assert len(calls) == 3
    for call_id in calls:
        story = [e["type"] for e in joined if e.get("call_id") == call_id]
        assert story.index("call.started") < story.index("queue.caller_entered") \
            < story.index("queue.caller_offered") < story.index("queue.caller_connected") \
            < story.index("queue.call_completed"), story
        assert "call.ended" in story, story

    # 3. the webhook: every event of its queue, in order, each signed, nothing else
    bodies = [json.loads(body) for _, body in receiver.got]
    assert [b["seq"] for b in bodies] == [e["seq"] for e in wanted]
    assert bodies == [{k: v for k, v in e.items() if k != "_queues"} for e in wanted]
    for signature, body in receiver.got:
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, f"sha256={mac}")
    assert any(e["type"] == "queue.caller_connected" for e in bodies)
    webhook_failed = [e for e in daemon.log.events() if e.get("event") == "webhook_failed"]
    assert not webhook_failed or all(e["hook"] == "crm" for e in webhook_failed)


def test_tokens_and_filters_of_the_websocket(
    start_daemon: DaemonFactory, sipp: Sipp, tmp_path: Path, streams: list[Stream]
) -> None:
    """No token or a wrong one: the handshake is refused with 401. An agent token sees only
    its own events, whatever filter it asks for; a type filter selects families."""
    conf = write_config(tmp_path / "tokens.toml", f"""
        [[users]]
        name = "2002"
        password = "pw2002"
        agent = {{ queues = ["support"] }}

        [[users]]
        name = "2003"
        password = "pw2003"
        agent = {{ queues = ["support"] }}

        [queues.support]

        [[api.tokens]]
        token = "{TOKEN}"
        role = "admin"

        [[api.tokens]]
        token = "agent-token-2003"
        role = "agent"
        user = "2003"
        """)  # fmt: skip
    daemon = settle(start_daemon(extra_args=["--config", str(conf)]))
    url = f"ws://{LOOPBACK}:{daemon.http_port}/api/v1/events"

    async def refused(headers: dict[str, str], suffix: str = "") -> int:
        try:
            async with websockets.connect(url + suffix, additional_headers=headers,
                                          open_timeout=5):
                return 101
        except websockets.InvalidStatus as e:
            return int(e.response.status_code)

    assert asyncio.run(refused({})) == 401
    assert asyncio.run(refused({"Authorization": "Bearer wrong-token-123"})) == 401
    assert asyncio.run(refused({}, "?token=wrong-token-123")) == 401

    everything = Stream(daemon, since=0)
    streams.append(everything)
    agents_only = Stream(daemon, since=0, params="types=agent")
    streams.append(agents_only)
    own: list[dict[str, Any]] = []

    async def as_agent() -> None:
        async with websockets.connect(url + "?since=0&agents=2002,2003",
                                      additional_headers={
                                          "Authorization": "Bearer agent-token-2003"}) as ws:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    own.append(json.loads(await asyncio.wait_for(ws.recv(), 1)))
                except TimeoutError:
                    if len(everything.events) >= 2 and len(own) >= 1:
                        return

    for user in ("2002", "2003"):
        sipp.run("register.xml", "-inf", str(sipp.credentials(user, f"pw{user}")),
                 remote=daemon.sip_port, local_port=free_port(), timeout=10, tag=user)
    wait_queue_event(daemon, "AgentLoggedIn", 10, count=2)
    asyncio.run(as_agent())
    assert {e["agent"] for e in everything.events if e["type"] == "agent.logged_in"} == {
        "2002", "2003"}
    assert own and {e.get("agent") for e in own} == {"2003"}
    assert wait_until(lambda: len(agents_only.events) >= 2, 5)
    assert {e["type"].split(".")[0] for e in agents_only.events} == {"agent"}


def test_every_event_a_client_saw_survives_a_sigkill_and_no_seq_is_reused(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path, streams: list[Stream]
) -> None:
    """A client records the stream while a queue call is up; the daemon is killed with
    SIGKILL mid-call. After a restart on the same data dir every event the client saw is in
    the store unchanged (it was committed before it was sent), and the next events get
    sequence numbers above all of them."""
    conf = config(tmp_path, free_port(udp=False))
    data = tmp_path / "data"
    daemon = settle(start_daemon(data_dir=data, extra_args=["--config", str(conf)]))
    seen = Stream(daemon, since=0)
    streams.append(seen)
    answering = agent(sipp, daemon, "2002", "uas_answer.xml", calls=1, timeout=60)
    call = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=20000)
    try:
        assert wait_until(lambda: any(e["type"] == "queue.caller_connected"
                                      for e in seen.events), 20), seen.events
        daemon.kill()  # SIGKILL: no shutdown, no last commit
    finally:
        call.stop()
        answering.stop()
    seen.close()
    saw = list(seen.events)
    assert saw and [e["seq"] for e in saw] == list(range(1, len(saw) + 1))

    daemon = settle(start_daemon(data_dir=data, extra_args=["--config", str(conf)]))
    table = stored(daemon)
    assert [{k: v for k, v in e.items() if k != "_queues"} for e in table[: len(saw)]] == saw
    after = Stream(daemon, since=seen.last)
    streams.append(after)
    agent(sipp, daemon, "2002", "uas_answer.xml", calls=1, timeout=20)  # logs in again
    assert wait_until(lambda: any(e["type"] == "agent.logged_in" for e in after.events), 10)
    assert all(e["seq"] > seen.last for e in after.events)
