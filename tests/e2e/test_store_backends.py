"""The store on both backends, seen from outside: the daemon keeps its CDRs and its event
stream in SQLite (the default) or in PostgreSQL (``--store-dsn``, a private server:
tests/pgserver.py).  SIPp callers go through a queue to a SIPp agent while a WebSocket client
records ``/api/v1/events``; the daemon is killed with SIGKILL while a call is up, then started
again on the same store.  Every call the daemon reported finished (its ``cdr`` log line) has its
row, every event the client was sent is stored unchanged, the restarted daemon hands out no
sequence number twice, and its start-up migrated nothing again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import settle
from e2e_queue import agent, caller, write_config
from e2e_sipp import Sipp
from e2e_util import wait_until
from test_events import TOKEN, Stream, streams  # noqa: F401  (streams: a fixture)

from ccswitch.store.db import POSTGRESQL, SQLITE, Db, Location
from ccswitch.store.events import EventStore

pytestmark = pytest.mark.e2e

FINISHED = 3  # calls that end before the kill


def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "store.toml", f"""
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

        [dialplan.numbers]
        800 = "queue:support"

        [[api.tokens]]
        token = "{TOKEN}"
        role = "admin"
        """)  # fmt: skip


def logged(daemon: Daemon, event: str) -> list[dict[str, Any]]:
    return [e for e in daemon.log.events() if e.get("event") == event]


def plain(value: Any) -> Any:
    """As it looks after a JSON round trip (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture(params=[SQLITE, POSTGRESQL])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    data = tmp_path / "data"
    if request.param == POSTGRESQL:
        return Location(data / "ccswitch.db", dsn=request.getfixturevalue("pg_dsn"))
    return Location(data / "ccswitch.db")


def test_a_sigkill_mid_call_loses_no_cdr_and_no_event_of_a_finished_call(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path, where: Location,
    streams: list[Stream],  # noqa: F811
) -> None:
    conf = config(tmp_path)
    args = ["--config", str(conf), *(["--store-dsn", where.dsn] if where.dsn else [])]
    data = where.path.parent
    daemon = settle(start_daemon(data_dir=data, extra_args=args))
    (opened,) = logged(daemon, "store_opened")
    assert opened["backend"] == where.kind, opened
    seen = Stream(daemon, since=0)
    streams.append(seen)

    answering = agent(sipp, daemon, "2002", "uas_answer.xml", calls=FINISHED + 1, timeout=120)
    held = None
    try:
        for n in range(1, FINISHED + 1):
            result = caller(sipp, daemon, f"100{n}", "800", "queue_caller.xml",
                            hold_ms=1000).wait(40)
            assert result.ok, result.describe()
            assert wait_until(lambda n=n: len(logged(daemon, "cdr")) >= n, 20), daemon.tail()
        held = caller(sipp, daemon, "1004", "800", "queue_caller.xml", hold_ms=60000)
        assert wait_until(lambda: sum(e["type"] == "queue.caller_connected"
                                      for e in seen.events) == FINISHED + 1, 30), seen.events
        daemon.kill()  # SIGKILL: no shutdown, no last commit
    finally:
        if held is not None:
            held.stop()
        answering.stop()
    seen.close()
    finished = [e["call_id"] for e in logged(daemon, "cdr")]
    saw = list(seen.events)
    assert len(finished) == FINISHED, daemon.tail()
    assert saw and [e["seq"] for e in saw] == list(range(1, len(saw) + 1))
    assert sum(e["type"] == "call.ended" for e in saw) >= FINISHED, saw

    db = where.connect(read_only=True)
    try:
        rows = db.execute("SELECT call_id, status, queue, agent FROM cdr").fetchall()
        table = [plain(e.wire()) for e in EventStore.reader(db).after(0, limit=100_000)]
        versions = dict(db.execute("SELECT component, version FROM schema_version").fetchall())
        completed = db.execute("SELECT COUNT(*) FROM queue_events"
                               " WHERE event = 'CallCompleted'").fetchone()[0]
    finally:
        db.close()
    by_call = {r[0]: r for r in rows}
    for call_id in finished:  # reported done: committed before the report
        assert by_call[call_id][1:] == (200, "support", "2002"), rows
    assert table[: len(saw)] == saw  # every event sent was committed before it was sent
    assert completed >= FINISHED, completed
    assert {"cdr", "queue_events", "bindings", "events"} <= set(versions), versions

    daemon = settle(start_daemon(data_dir=data, extra_args=args))
    after = Stream(daemon, since=len(table))
    streams.append(after)
    agent(sipp, daemon, "2002", "uas_answer.xml", calls=1, timeout=20)  # logs in again
    assert wait_until(lambda: any(e["type"] == "agent.logged_in" for e in after.events), 15)
    assert all(e["seq"] > len(table) for e in after.events), after.events
    again = Db.wrap(where.dsn) if where.dsn else where.connect(read_only=True)
    try:
        assert dict(again.execute(
            "SELECT component, version FROM schema_version").fetchall()) == versions
        assert {r[0] for r in again.execute("SELECT call_id FROM cdr").fetchall()} >= set(
            finished)
    finally:
        again.close()


def test_serve_exits_2_naming_the_store_it_cannot_open(tmp_path: Path) -> None:
    """A PostgreSQL server that is not there: exit 2 with one message naming the store (the
    password left out), nothing left listening."""
    import subprocess
    import sys

    from e2e_daemon import child_env
    from e2e_util import LOOPBACK, free_port

    dead = free_port(udp=False)  # nobody listens there
    sip, http = free_port(), free_port(udp=False)
    done = subprocess.run(
        [sys.executable, "-m", "ccswitch", "serve", "--listen", f"udp:{LOOPBACK}:{sip}",
         "--http", f"{LOOPBACK}:{http}", "--data-dir", str(tmp_path / "data"),
         "--media-workers", "1", "--log-format", "json",
         "--store-dsn", f"postgresql://cc:secret@{LOOPBACK}:{dead}/cc"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ccswitch: cannot open the store postgresql://cc:***@"), last
    assert "secret" not in done.stderr
