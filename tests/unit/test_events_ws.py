"""The WebSocket /api/v1/events in process (uvicorn in this loop, a real `websockets` client):
a replay that runs while new events are committed goes on live without a gap or a duplicate;
a client that does not read is dropped with 4008 and its subscription ends; the scope of a
token narrows what it asked for."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import websockets

from ccswitch.acd import events as acd
from ccswitch.call.eventlog import ALL, EventFilter, EventRecord, Scope, record_of
from ccswitch.http import events as ws_events
from ccswitch.http.app import create_app
from ccswitch.http.auth import Principal, principals
from ccswitch.http.control import Control
from ccswitch.http.server import HttpServer
from ccswitch.store.events import EventLog, StoredEvent
from ccswitch.store.writer import Writer

TOKEN = "unit-admin-token"


def entered(i: int, queue: str = "support", pad: int = 0) -> EventRecord:
    rec = record_of(acd.CallerEntered(time=float(i), call_id=f"c{i}" + "x" * pad, queue=queue,
                                      priority=0, position=1, skills=()),
                    now=0.0, wall_offset=0.0)
    assert rec is not None
    return rec


async def serve(tmp_path: Path) -> tuple[HttpServer, EventLog, Writer]:
    db = tmp_path / "ccswitch.db"
    loop = asyncio.get_running_loop()
    writer = Writer(db, loop=loop, linger=0.005)
    log = EventLog(writer, db)
    ctl = Control(signaling=lambda: object(),  # type: ignore[arg-type,return-value]
                  clock=loop.time, flush=lambda: None,
                  tokens=principals([(TOKEN, "admin", None),
                                     ("unit-agent-2001", "agent", "2001"),
                                     ("unit-supervisor", "supervisor", "1020")],
                                    {"1020": frozenset({"support"})}),
                  agent_queues={"2001": ("support",)})
    ctl.extras[ws_events.EXTRA_KEY] = log
    server = HttpServer(create_app(ctl), "127.0.0.1", 0)
    await server.start()
    return server, log, writer


async def shutdown(server: HttpServer, log: EventLog, writer: Writer) -> None:
    await server.stop()
    assert await writer.aclose()
    log.close()


def test_replay_while_events_are_committed_runs_into_live_without_gap_or_duplicate(
        tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        for i in range(0, 1800, 300):  # history: several replay pages
            log.append([entered(j) for j in range(i, i + 300)])
        while log.committed < 1800:
            await asyncio.sleep(0.01)

        async def keep_appending() -> None:
            for i in range(1800, 2600, 20):
                log.append([entered(j) for j in range(i, i + 20)])
                await asyncio.sleep(0.002)

        producer = asyncio.create_task(keep_appending())
        url = f"ws://127.0.0.1:{server.port}/api/v1/events?since=0"
        async with websockets.connect(url, additional_headers={
                "Authorization": f"Bearer {TOKEN}"}) as ws:
            while len(got) < 2600:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        await producer
        await shutdown(server, log, writer)

    asyncio.run(main())
    assert [e["seq"] for e in got] == list(range(1, 2601))
    assert [e["call_id"] for e in got] == [f"c{i}" for i in range(2600)]


def test_a_client_that_does_not_read_is_dropped_and_never_holds_up_the_stream(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_events, "EVENT_QUEUE", 50)

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        # a raw client: the handshake, then it never reads again
        reader, wr = await asyncio.open_connection("127.0.0.1", server.port)
        wr.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                                         4096)
        wr.write((f"GET /api/v1/events?token={TOKEN} HTTP/1.1\r\nHost: x\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        status = await reader.readline()
        assert b" 101 " in status, status
        while await reader.readline() not in (b"\r\n", b""):
            pass
        while not log._subscribers:
            await asyncio.sleep(0.01)
        # a healthy client alongside it keeps receiving everything
        healthy: list[int] = []
        url = f"ws://127.0.0.1:{server.port}/api/v1/events"
        async with websockets.connect(url, additional_headers={
                "Authorization": f"Bearer {TOKEN}"}, max_size=None) as ws:

            async def read() -> None:
                async for msg in ws:
                    healthy.append(json.loads(msg)["seq"])

            reading = asyncio.create_task(read())
            n = 0
            while len(log._subscribers) > 1 and n < 4000:
                log.append([entered(n + k, pad=2000) for k in range(10)])
                n += 10
                while log.committed < n:  # at the pace of the commits
                    await asyncio.sleep(0.005)
            assert len(log._subscribers) == 1  # the silent one is gone
            for _ in range(1000):
                if len(healthy) >= n:
                    break
                await asyncio.sleep(0.01)
            reading.cancel()
        assert healthy == list(range(1, n + 1))
        wr.close()
        await shutdown(server, log, writer)

    asyncio.run(main())


def test_scope_of_each_role() -> None:
    agents = {"2001": ("support",), "2005": ("sales",), "2008": ("support", "sales")}
    assert ws_events.scope_of(Principal("admin"), agents) == ALL
    sup = ws_events.scope_of(Principal("supervisor", "1020", frozenset({"support"})), agents)
    assert sup == Scope(queues=frozenset({"support"}), users=frozenset({"2001", "2008"}))
    assert ws_events.scope_of(Principal("supervisor", "1020", None), agents) == ALL
    assert ws_events.scope_of(Principal("agent", "2001"), agents) == Scope(
        users=frozenset({"2001"}))


def test_an_agent_token_sees_only_its_own_events(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        for agent in ("2001", "2002", "2001"):
            rec = record_of(acd.AgentPaused(time=1.0, agent=agent, queues=("support",),
                                            reason="x"), now=0.0, wall_offset=0.0)
            assert rec is not None
            log.append([rec, entered(1)])
        while log.committed < 6:
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{server.port}/api/v1/events?since=0&agents=2002"
        async with websockets.connect(url + "&token=unit-agent-2001") as ws:
            with pytest.raises(TimeoutError):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
        async with websockets.connect(url.replace("agents=2002", "types=agent")
                                      + "&token=unit-agent-2001") as ws:
            for _ in range(2):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        await shutdown(server, log, writer)

    asyncio.run(main())
    assert [(e["seq"], e["agent"]) for e in got] == [(1, "2001"), (5, "2001")]


def test_the_paged_rest_read_of_the_stream(tmp_path: Path) -> None:
    import httpx

    pages: list[dict[str, Any]] = []

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        log.append([entered(i, "support" if i % 2 else "sales") for i in range(25)])
        while log.committed < 25:
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{server.port}/api/v1/events"
        async with httpx.AsyncClient() as http:
            assert (await http.get(base)).status_code == 401
            since = 0
            while True:
                r = await http.get(base, params={"since": since, "limit": 5,
                                                 "queues": "support"},
                                   headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == 200, r.text
                pages.append(r.json())
                if not r.json()["events"]:
                    break
                since = r.json()["next"]
            doc = (await http.get(f"http://127.0.0.1:{server.port}/api/v1/openapi.json")).json()
            assert "get" in doc["paths"]["/api/v1/events"]
        await shutdown(server, log, writer)

    asyncio.run(main())
    seqs = [e["seq"] for p in pages for e in p["events"]]
    assert seqs == list(range(2, 26, 2))
    assert pages[-1] == {"events": [], "next": 25}


def test_a_supervisor_sees_its_queues_and_its_agents_calls(tmp_path: Path) -> None:
    from ccswitch.call.events import CallStarted

    got: list[dict[str, Any]] = []

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        direct = [record_of(CallStarted(f"d{i}", "1001", callee, 1.0), now=0.0,
                            wall_offset=0.0) for i, callee in enumerate(("2001", "1002"))]
        assert None not in direct
        log.append([entered(1, "support"), entered(2, "sales"), *direct])  # type: ignore[list-item]
        while log.committed < 4:
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{server.port}/api/v1/events?since=0&token=unit-supervisor"
        async with websockets.connect(url) as ws:
            for _ in range(2):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            with pytest.raises(TimeoutError):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
        await shutdown(server, log, writer)

    asyncio.run(main())
    assert [(e["seq"], e["call_id"]) for e in got] == [(1, "c1"), (3, "d0")]


def test_two_clients_get_the_same_frames_made_once_and_no_compression(tmp_path: Path) -> None:
    """Each event is serialised once (the text the clients get is the one object both were
    sent), and the server turns down permessage-deflate (docs/http.md)."""
    got: list[list[str]] = [[], []]
    made: list[StoredEvent] = []

    async def main() -> None:
        server, log, writer = await serve(tmp_path)
        log.subscribe(made.extend)
        url = f"ws://127.0.0.1:{server.port}/api/v1/events"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with websockets.connect(url, additional_headers=headers) as a, \
                websockets.connect(url, additional_headers=headers) as b:
            for ws in (a, b):  # offered by the client, not taken by the server
                assert ws.response is not None
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
            log.append([entered(i) for i in range(3)])
            for i, ws in enumerate((a, b)):
                while len(got[i]) < 3:
                    got[i].append(str(await asyncio.wait_for(ws.recv(), 10)))
        await shutdown(server, log, writer)

    asyncio.run(main())
    assert got[0] == got[1]
    assert [json.loads(t)["seq"] for t in got[0]] == [1, 2, 3]
    assert all(ev.text() is ev.text() for ev in made)  # made once, kept
    assert [ev.text() for ev in made] == got[0]


def test_an_unfiltered_admin_client_buffers_batches_whole_and_still_overflows() -> None:
    async def main() -> None:
        client = ws_events._Client(EventFilter(), ALL, limit=5)
        assert client.wants_all
        batch = [StoredEvent(i + 1, entered(i)) for i in range(3)]
        client.on_events(batch)
        assert list(client.buffer) == batch and client.wake.is_set()
        client.on_events(batch)  # 3 + 3 > 5: the client is dropped
        assert client.dropped.is_set() and not client.buffer
        filtered = ws_events._Client(EventFilter.of(queues=["sales"]), ALL, limit=5)
        assert not filtered.wants_all
        filtered.on_events(batch)  # every one is about support
        assert not filtered.buffer

    asyncio.run(main())
