"""``/api/v1/cdrs``, ``/queue-events`` and ``/recordings`` over a real SQLite file and a real
PostgreSQL database (``store_at``): filters (the queue events' ``caller`` reads the JSON number
in each dialect), cursor pages, CSV/NDJSON export, scope, and recording download with Range."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from callworld import Switch
from test_api import ADMIN, SUP, Api

from ccswitch.http.history import EXTRA_KEY
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location, transaction
from ccswitch.store.history import History
from ccswitch.store.queue_events import QueueEventStore

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@pytest.fixture
def api(store_at: Location, tmp_path: Path) -> Api:
    """The rows below in a SQLite file, then in a PostgreSQL database (``store_at``)."""
    db = store_at.connect(writer=True)
    CdrStore(db)
    QueueEventStore(db)  # the tables, as the daemon makes them
    rec = tmp_path / "rec1.wav"
    rec.write_bytes(bytes(range(256)) * 4)  # 1024 bytes
    rows = []
    for i in range(25):
        queue, agent = ("support", "2001") if i % 2 == 0 else ("sales", "2005")
        rows.append((f"call{i}", f"10{i % 5:02d}", "800", T0 + 60 * i, T0 + 60 * i + 5,
                     T0 + 60 * i + 30, 200, "OK", "caller",
                     str(rec) if i == 0 else None, queue, agent))
    with transaction(db):
        db.executemany("INSERT INTO cdr (call_id, caller, callee, started, answered, ended,"
                       " status, reason, ended_by, recording, queue, agent)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.execute("INSERT INTO recordings (path, call_id, started, state, seconds)"
                   " VALUES (?,?,?,?,?)", (str(rec), "call0", T0, "complete", 30.0))
        db.executemany("INSERT INTO queue_events (time, event, call_id, queue, agent, data)"
                       " VALUES (?,?,?,?,?,?)",
                       [(T0 + i, "CallerEntered", f"call{i}", "support", None,
                         json.dumps({"number": f"10{i % 5:02d}", "queue": "support"}))
                        for i in range(5)])
    db.close()
    a = Api(Switch(("1001",)))
    a.ctl.extras[EXTRA_KEY] = History(store_at)
    return a


def test_cdr_pages_follow_the_cursor_without_gaps(api: Api) -> None:
    seen: list[str] = []
    cursor = 0
    pages = 0
    while True:
        r = api("GET", f"/api/v1/cdrs?limit=10&cursor={cursor}")
        assert r.status_code == 200
        body = r.json()
        seen += [c["call_id"] for c in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert seen == [f"call{i}" for i in range(25)] and pages == 3
    first = api("GET", "/api/v1/cdrs?limit=1").json()["items"][0]
    assert first["duration_s"] == 30.0 and first["talk_s"] == 25.0
    assert first["started"].startswith("2027-01-15T") and first["recording_id"] == 1


def test_cdr_filters(api: Api) -> None:
    def ids(q: str) -> list[str]:
        r = api("GET", f"/api/v1/cdrs?limit=100&{q}")
        assert r.status_code == 200, r.text
        return [c["call_id"] for c in r.json()["items"]]

    assert ids("queue=sales") == [f"call{i}" for i in range(1, 25, 2)]
    assert ids("agent=2001&caller=1000") == ["call0", "call10", "call20"]
    assert ids("from=2027-01-15T08:02:00Z&to=2027-01-15T08:04:00Z") == ["call2", "call3"]
    assert ids(f"from={int(T0 + 60 * 23)}") == ["call23", "call24"]
    assert api("GET", "/api/v1/cdrs?from=yesterday").status_code == 422


def test_cdr_export_csv_and_ndjson_stream_every_row(api: Api) -> None:
    r = api("GET", "/api/v1/cdrs?format=csv&queue=support")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert len(table) == 13 and table[0]["call_id"] == "call0"
    assert table[1]["recording_id"] == ""
    r = api("GET", "/api/v1/cdrs?format=ndjson&limit=4")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["call_id"] for x in lines] == ["call0", "call1", "call2", "call3"]


def test_scope_a_supervisor_and_an_agent_see_their_rows(api: Api) -> None:
    agent = api("GET", "/api/v1/cdrs?limit=100", "demo-agent-2005").json()["items"]
    assert {c["agent"] for c in agent} == {"2005"} and len(agent) == 12
    assert len(api("GET", "/api/v1/cdrs?limit=100", SUP).json()["items"]) == 25
    assert api("GET", "/api/v1/cdrs", None).status_code == 401
    assert api("GET", "/api/v1/recordings", "demo-agent-2005").json()["items"] == []
    assert api("GET", "/api/v1/recordings/1", "demo-agent-2005").status_code == 403
    assert api("GET", "/api/v1/recordings/99", "demo-agent-2005").status_code == 403
    assert api("GET", "/api/v1/recordings/99", ADMIN).status_code == 404


def test_queue_events_filtered_by_caller(api: Api) -> None:
    r = api("GET", "/api/v1/queue-events?caller=1001")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [e["call_id"] for e in items] == ["call1"] and items[0]["event"] == "CallerEntered"
    assert items[0]["data"]["number"] == "1001"


def test_recording_list_and_download_with_range(api: Api) -> None:
    recs = api("GET", "/api/v1/recordings").json()["items"]
    assert [(r["id"], r["call_id"], r["size"], r["queue"]) for r in recs] == [
        (1, "call0", 1024, "support")]
    whole = api("GET", "/api/v1/recordings/1", "demo-agent-2001")
    assert whole.status_code == 200 and len(whole.content) == 1024
    assert whole.headers["accept-ranges"] == "bytes"

    def ranged(spec: str) -> tuple[int, bytes, str | None]:
        import asyncio

        import httpx

        async def go() -> httpx.Response:
            t = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                return await c.get("/api/v1/recordings/1", headers={
                    "Authorization": f"Bearer {ADMIN}", "Range": spec})
        r = asyncio.run(go())
        return r.status_code, r.content, r.headers.get("content-range")

    assert ranged("bytes=10-19") == (206, bytes(range(10, 20)), "bytes 10-19/1024")
    status, _, crange = ranged("bytes=5000-6000")
    assert status == 416 and crange == "bytes */1024"
