"""The durable event stream (store/events), on SQLite and on PostgreSQL (``store_at``):
sequence numbers restored from the table, rows committed before anyone sees them, paged and
filtered reads; and the webhook sender (http/webhooks) delivering from it in order, signed,
retried, resuming after a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from callworld import Switch
from prometheus_client.parser import text_string_to_metric_families
from test_api import Api

from ccswitch.acd import events as acd
from ccswitch.call.eventlog import EventFilter, EventRecord, record_of
from ccswitch.call.outbox import SIGNATURE_HEADER, verify
from ccswitch.config.webhooks import WebhookConfig
from ccswitch.http.metrics import Metrics, SwitchStats
from ccswitch.http.webhooks import Webhooks
from ccswitch.store.db import DB_ERRORS, Location
from ccswitch.store.events import EventLog, StoredEvent
from ccswitch.store.writer import Writer


def entered(i: int, queue: str = "support") -> EventRecord:
    rec = record_of(acd.CallerEntered(time=float(i), call_id=f"c{i}", queue=queue, priority=0,
                                      position=1, skills=()), now=0.0, wall_offset=1000.0)
    assert rec is not None
    return rec


def paused(agent: str, queues: tuple[str, ...]) -> EventRecord:
    rec = record_of(acd.AgentPaused(time=1.0, agent=agent, queues=queues, reason="x"),
                    now=0.0, wall_offset=0.0)
    assert rec is not None
    return rec


def committed_seqs(db: Location) -> list[int]:
    """What another connection sees committed."""
    other = db.connect(read_only=True)
    try:
        return [r[0] for r in other.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        other.close()


async def settle(log: EventLog) -> None:
    for _ in range(400):
        if log.committed == log.last_seq:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not committed")


def test_events_are_published_only_after_their_commit_in_seq_order(store_at: Location) -> None:
    db = store_at
    seen: list[tuple[list[int], list[int]]] = []

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop(), linger=0.02)
        log = EventLog(writer, db)

        def on(events: Sequence[StoredEvent]) -> None:
            seen.append(([e.seq for e in events], committed_seqs(db)))

        log.subscribe(on)
        for i in range(30):
            log.append([entered(i), entered(i, "sales")])
            if i % 4 == 0:
                await asyncio.sleep(0)
        await settle(log)
        assert await writer.aclose()
        log.close()

    asyncio.run(main())
    published = [s for batch, _ in seen for s in batch]
    assert published == list(range(1, 61))
    for batch, visible in seen:
        assert set(batch) <= set(visible)  # on disk before anyone is told


def test_seq_restarts_after_the_largest_stored_and_reads_page_and_filter(
        store_at: Location) -> None:
    db = store_at

    async def session(n: int) -> EventLog:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        log.append([entered(i, "support" if i % 2 else "sales") for i in range(n)])
        log.append([paused("2008", ("support", "sales")), paused("2005", ("sales",))])
        await settle(log)
        assert await writer.aclose()
        return log

    async def main() -> None:
        first = await session(10)
        assert first.last_seq == 12
        first.close()
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        assert log.last_seq == log.committed == 12  # restored: the next event is 13
        log.append([entered(99)])
        await settle(log)
        assert log.last_seq == 13
        page = await log.after(0, limit=5)
        assert [e.seq for e in page] == [1, 2, 3, 4, 5]
        assert [e.seq for e in await log.after(11)] == [12, 13]
        assert await log.after(13) == []
        assert [e.seq for e in await log.after(0, until=3)] == [1, 2, 3]
        support = await log.after(0, flt=EventFilter.of(queues=["support"]))
        assert [e.seq for e in support] == [2, 4, 6, 8, 10, 11, 13]
        agent = await log.after(0, flt=EventFilter.of(agents=["2005"]))
        assert [e.seq for e in agent] == [12]
        typed = await log.after(0, limit=3, flt=EventFilter.of(types=["agent"]))
        assert [e.seq for e in typed] == [11, 12]
        few = await log.after(0, limit=2, flt=EventFilter.of(queues=["support"]))
        assert [e.seq for e in few] == [2, 4]
        assert await log.after(0, flt=EventFilter.of(queues=[])) == []
        log.append([entered(100, "tier_1"), entered(101, "tierx1"), entered(102, "tier")])
        await settle(log)
        odd = await log.after(13, flt=EventFilter.of(queues=["tier_1", "tier"]))
        assert [e.record.queues for e in odd] == [("tier_1",), ("tier",)]
        obj = page[0].wire()
        assert obj["seq"] == 1 and obj["type"] == "queue.caller_entered"
        assert obj["time"] == 1000.0 and obj["call_id"] == "c0"
        assert await writer.aclose()
        log.close()

    asyncio.run(main())


class Receiver:
    """An httpx transport standing in for a webhook receiver that is down for a while."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for  # requests refused before it comes up
        self.got: list[dict[str, object]] = []
        self.refused = 0
        self.bad_signatures = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down_for > 0:
            self.down_for -= 1
            self.refused += 1
            if self.refused % 2:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(503)
        body = request.content
        if not verify("k3y", body, request.headers[SIGNATURE_HEADER]):
            self.bad_signatures += 1
        self.got.append(json.loads(body))
        return httpx.Response(204)


def test_webhooks_deliver_every_event_in_order_signed_after_the_receiver_was_down(
        store_at: Location) -> None:
    db = store_at
    receiver = Receiver(down_for=5)
    hook = WebhookConfig(url="http://crm.test/hook", secret="k3y", name="crm",
                         queues=("support",), retry_max=0.02)

    async def run(n: int, *, from_: int) -> tuple[int, dict[str, int]]:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        hooks = Webhooks([hook], events=log, transport=httpx.MockTransport(receiver.handle))
        hooks.start()
        log.append([entered(i, "support" if i % 3 else "sales") for i in range(from_, n)])
        await settle(log)
        for _ in range(500):
            if hooks.backlog()["crm"] == 0:
                break
            await asyncio.sleep(0.01)
        backlog = hooks.backlog()
        await hooks.stop()
        assert await writer.aclose()
        log.close()
        stored = dict(db.connect(read_only=True).execute(
            "SELECT hook, seq FROM webhook_delivered").fetchall())
        return log.last_seq, {**backlog, **{f"stored:{k}": v for k, v in stored.items()}}

    async def main() -> None:
        last, state = await run(40, from_=0)
        assert state == {"crm": 0, "stored:crm": last}
        # a restart: only the new events are sent, nothing twice
        last, state = await run(60, from_=40)
        assert state == {"crm": 0, "stored:crm": last}

    asyncio.run(main())
    want = [i for i in range(60) if i % 3]
    assert [e["call_id"] for e in receiver.got] == [f"c{i}" for i in want]
    seqs = [e["seq"] for e in receiver.got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert receiver.refused == 5 and receiver.bad_signatures == 0


def test_a_new_hook_starts_with_the_events_from_now_on(store_at: Location) -> None:
    db = store_at
    receiver = Receiver(down_for=0)

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        log.append([entered(i) for i in range(5)])
        await settle(log)
        hooks = Webhooks([WebhookConfig(url="http://x.test/", secret="k3y")], events=log,
                         transport=httpx.MockTransport(receiver.handle))
        hooks.start()
        log.append([entered(7)])
        await settle(log)
        for _ in range(300):
            if receiver.got:
                break
            await asyncio.sleep(0.01)
        await hooks.stop()
        assert await writer.aclose()
        log.close()

    asyncio.run(main())
    assert [e["seq"] for e in receiver.got] == [6]


def test_reload_keeps_unchanged_hooks_stops_removed_ones_and_starts_new_ones(
        store_at: Location) -> None:
    db = store_at
    got: dict[str, list[int]] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        got.setdefault(request.url.path, []).append(json.loads(request.content)["seq"])
        return httpx.Response(200)

    a = WebhookConfig(url="http://x.test/a", secret="k3y", name="a")
    b = WebhookConfig(url="http://x.test/b", secret="k3y", name="b")
    c = WebhookConfig(url="http://x.test/c", secret="k3y", name="c")

    async def delivered(hooks: Webhooks, log: EventLog) -> None:
        for _ in range(500):
            if all(v == 0 for v in hooks.backlog().values()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(hooks.backlog())

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        hooks = Webhooks([a, b], events=log, transport=httpx.MockTransport(handle))
        hooks.start()
        log.append([entered(i) for i in range(3)])
        await settle(log)
        await delivered(hooks, log)
        await hooks.reload([a, c])
        assert [h.name for h in hooks.hooks] == ["a", "c"]
        log.append([entered(i) for i in range(3, 5)])
        await settle(log)
        await delivered(hooks, log)
        await hooks.stop()
        assert await writer.aclose()
        log.close()

    asyncio.run(main())
    assert got == {"/a": [1, 2, 3, 4, 5], "/b": [1, 2, 3], "/c": [4, 5]}
    stored = dict(db.connect(read_only=True).execute(
            "SELECT hook, seq FROM webhook_delivered").fetchall())
    assert stored == {"a": 5, "b": 3, "c": 5}


def test_pruning_deletes_old_events_in_batches_and_keeps_the_newest_for_the_seq(
        store_at: Location, monkeypatch: pytest.MonkeyPatch) -> None:
    from ccswitch.store import events as store_events

    monkeypatch.setattr(store_events, "PRUNE_BATCH", 7)
    db = store_at
    totals: list[int] = []

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        # times 1000..1029 (entered(i) is at 1000 + i)
        log.append([entered(i) for i in range(30)])
        await settle(log)
        done = asyncio.Event()

        def finished(total: int) -> None:
            totals.append(total)
            done.set()

        log.prune(1020.0, finished)  # 20 old ones: three batches of 7, 7, 6
        await asyncio.wait_for(done.wait(), 10)
        assert [e.seq for e in await log.after(0)] == list(range(21, 31))
        done.clear()
        log.prune(1e12, finished)  # everything is old: the newest stays
        await asyncio.wait_for(done.wait(), 10)
        assert [e.seq for e in await log.after(0)] == [30]
        assert await writer.aclose()
        log.close()
        writer = Writer(db, loop=asyncio.get_running_loop())
        again = EventLog(writer, db)
        assert again.last_seq == 30  # no seq is handed out twice
        assert await writer.aclose()
        again.close()

    asyncio.run(main())
    assert totals == [20, 9]


def test_reads_go_on_after_the_server_ends_the_reader_session(pg_dsn: str,
                                                              tmp_path: Path) -> None:
    """PostgreSQL ends the replay connection (a restart): that read fails, the next one
    connects again."""
    db = Location(tmp_path / "unused.db", dsn=pg_dsn)

    async def main() -> None:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer)
        log.append([entered(1), entered(2)])
        await settle(log)
        assert [e.seq for e in await log.after(0)] == [1, 2]
        reader = log._reader
        assert reader is not None
        killer = db.connect()
        pid = reader._db.raw.info.backend_pid  # type: ignore[union-attr]
        killer.execute("SELECT pg_terminate_backend(?)", (pid,))
        killer.close()
        with pytest.raises(DB_ERRORS):
            await log.after(0)
        assert [e.seq for e in await log.after(0)] == [1, 2]
        assert await writer.aclose()
        log.close()

    asyncio.run(main())


def test_the_webhook_backlog_is_a_metrics_gauge_per_hook(tmp_path: Path) -> None:
    db = Location(tmp_path / "ccswitch.db")
    receiver = Receiver(down_for=10**6)  # down for the whole test
    hook = WebhookConfig(url="http://crm.test/hook", secret="k3y", name="crm",
                         queues=("support",), retry_max=0.02)

    async def main() -> dict[str, int]:
        writer = Writer(db, loop=asyncio.get_running_loop())
        log = EventLog(writer, db)
        hooks = Webhooks([hook], events=log, transport=httpx.MockTransport(receiver.handle))
        hooks.start()
        log.append([entered(i) for i in range(7)])
        await settle(log)
        await asyncio.sleep(0.05)  # a few refused attempts
        backlog = hooks.backlog()
        await hooks.stop()
        assert await writer.aclose()
        log.close()
        return backlog

    backlog = asyncio.run(main())
    assert receiver.refused >= 1
    w = Switch(("1001",))
    api = Api(w)
    api.ctl.metrics = Metrics(api.ctl, lambda: SwitchStats(webhook_backlog=backlog))
    text = api("GET", "/metrics", None).text
    samples = {s.name: (s.labels, s.value) for fam in text_string_to_metric_families(text)
               for s in fam.samples if s.name == "ccswitch_webhook_backlog"}
    # 7 events stored (seq 1..7), none delivered: 7 - 0 pending for the hook
    assert samples == {"ccswitch_webhook_backlog": ({"hook": "crm"}, 7.0)}
