"""The queue event log, on SQLite and on PostgreSQL (``store_at``): events from a real router
run are stored, read back equal (times shifted to the wall clock) and printed as Asterisk
queue_log lines by the CLI."""

from __future__ import annotations

import dataclasses
import random
import socket
from pathlib import Path

import pytest

from ccswitch.acd.model import AgentSettings, QueueSettings
from ccswitch.acd.router import Router
from ccswitch.cli import main
from ccswitch.store.db import Location
from ccswitch.store.queue_events import QueueEventStore


def router_run() -> list[object]:
    r = Router(queues=[QueueSettings("support", ring_timeout=10, wrapup=0)],
               agents=[AgentSettings("2001", queues={"support": 0})],
               rng=random.Random(1))  # type: ignore[arg-type]
    r.agent_login("2001", 0.0)
    r.enqueue("c1", "support", 1.0, number="1001")
    r.offer_answered("c1", "2001", 3.0)
    r.call_ended("c1", "2001", 63.0)
    r.enqueue("c2", "support", 64.0, number="1002")
    r.abandon("c2", 70.0)
    r.agent_pause("2001", "lunch", 80.0)
    return list(r.events())


def test_events_read_back_equal_with_wall_clock_times(store_at: Location) -> None:
    events = router_run()
    assert len(events) >= 5
    store = QueueEventStore(store_at.connect())
    assert store.append(events, wall_offset=1_700_000_000.0) == len(events)  # type: ignore[arg-type]
    store.close()
    back = list(QueueEventStore(store_at.connect()).events())
    shifted = [dataclasses.replace(e, time=e.time + 1_700_000_000.0) for e in events]  # type: ignore[type-var]
    assert back == shifted


def test_cli_prints_asterisk_queue_log_lines(store_at: Location,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = QueueEventStore(store_at.connect())
    store.append(router_run(), wall_offset=1_700_000_000.0)  # type: ignore[arg-type]
    store.close()
    dsn = ["--store-dsn", store_at.dsn] if store_at.dsn else []
    assert main(["queue-log", "--data-dir", str(store_at.path.parent), *dsn]) == 0
    lines = capsys.readouterr().out.splitlines()
    verbs = [line.split("|")[4] for line in lines]
    assert "ENTERQUEUE" in verbs and "CONNECT" in verbs and "PAUSE" in verbs
    assert any(v.startswith("COMPLETE") for v in verbs)
    enter = next(line for line in lines if "|ENTERQUEUE|" in line).split("|")
    assert enter[0] == "1700000001" and enter[1] == "c1" and enter[2] == "support"


def test_cli_without_a_database_exits_2(tmp_path: Path) -> None:
    assert main(["queue-log", "--data-dir", str(tmp_path / "nothing")]) == 2


def test_cli_with_a_bad_or_unreachable_dsn_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue-log", "--store-dsn", "mysql://x"]) == 2
    assert "not a PostgreSQL URI" in capsys.readouterr().err
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["queue-log", "--store-dsn", f"postgresql://u:secret@127.0.0.1:{port}/x"]) == 2
    err = capsys.readouterr().err
    assert "--store-dsn" in err and "secret" not in err
