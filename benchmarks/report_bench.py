"""What the report cache (``reports/cache.py``) saves the wallboard's chart, which reads today's
queue report in half-hours and today's forecast every 60 s per board: a fresh SQLite store
with ``--days`` days of history before today (``--events`` queue events a day, 5 per answered
caller over 09:00-17:00 UTC) and the same today up to 17:00; read at 17:00.

* uncached: ``compute`` + ``forecast_cli.compute`` (what every board's read cost before);
* cached, nothing new: the marks queries only;
* cached, a new caller of today durable: today's report read again, the forecast kept;
* a closed range (a day three days back, in quarter-hours): uncached, then cached.

Figures are CPU milliseconds of this process (SQLite runs in it), the least of ``--rounds``.

    PYTHONPATH=src python benchmarks/report_bench.py --events 20000 --days 35
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchutil import machine

from ccswitch.acd import events as ev
from ccswitch.reports import (
    ReportCache,
    ReportReader,
    ReportSettings,
    cached,
    compute,
    forecast_cli,
)
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db
from ccswitch.store.events import EventStore
from ccswitch.store.queue_events import QueueEventStore


def day(n_events: int, t0: float, tag: str) -> list[ev.LoggedEvent]:
    out: list[ev.LoggedEvent] = []
    calls = n_events // 5
    step = 8 * 3600 / calls
    for i in range(calls):
        t, c, a = t0 + i * step, f"{tag}-c{i}", f"a{i % 40}"
        out += [ev.CallerEntered(t, c, "support", 0, 1, ()),
                ev.CallerOffered(t + 1, c, "support", a),
                ev.CallerConnected(t + 5, c, "support", a, wait=5, ring_time=4,
                                   entry_position=1),
                ev.CallCompleted(t + 125, c, "support", a, wait=5, talk=120, wrapup=10,
                                 by="caller", entry_position=1),
                ev.CallDisposition(t + 130, c, "support", a, "sale", wrapup_left=5)]
    return out


def best(fn: Callable[[], object], rounds: int) -> float:
    """The least CPU time of ``rounds`` calls, in ms (this process's CPU, SQLite included:
    what the machine's other load does not change much)."""
    times = []
    for _ in range(rounds):
        began = time.process_time()
        fn()
        times.append(time.process_time() - began)
    return min(times) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=20000, help="queue events a day")
    p.add_argument("--days", type=int, default=35, help="days of history before today")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    now_dt = datetime.now(UTC)
    today = now_dt.date()
    t_today = datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp()
    now = t_today + 17 * 3600
    tz = UTC
    settings = ReportSettings()
    plan = forecast_cli.plan_of("80/20", 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        db = Db.sqlite(Path(tmp) / "ccswitch.db")
        store = QueueEventStore(db)
        store.append([ev.SwitchStarted(t_today - args.days * 86400 - 60, "bench",
                                       (("support", 20.0),), "UTC", 5.0)], wall_offset=0.0)
        for d in range(args.days, -1, -1):
            store.append(day(args.events, t_today - d * 86400 + 9 * 3600, f"d{d}"),
                         wall_offset=0.0)
        CdrStore(db)
        EventStore(db)
        reader = ReportReader(db)
        start, end = t_today, t_today + 86400

        def report() -> object:
            return compute(reader, "queues", start=start, end=end, interval="30m",
                           settings=settings, now=now)

        def fc() -> object:
            return forecast_cli.compute(db, kind="forecast", day=today, today=today, tz=tz,
                                        interval_s=1800, weeks=4, queue=None, plan=plan)

        cache = ReportCache(clock=lambda: now)

        def report_c() -> object:
            return cached(cache, reader, "queues", start=start, end=end, interval="30m",
                          settings=settings, now=now)

        def fc_c() -> object:
            return forecast_cli.cached(cache, db, kind="forecast", day=today, today=today,
                                       tz=tz, interval_s=1800, weeks=4, queue=None, plan=plan)

        calls = [0]

        def new_caller_then_read() -> None:
            calls[0] += 1
            store.append([ev.CallerEntered(now - 1, f"new{calls[0]}", "support", 0, 1, ())],
                         wall_offset=0.0)
            report_c()
            fc_c()

        closed_start = t_today - 3 * 86400

        def closed() -> object:
            return compute(reader, "queues", start=closed_start, end=closed_start + 86400,
                           interval="15m", settings=settings, now=now)

        def closed_c() -> object:
            return cached(cache, reader, "queues", start=closed_start,
                          end=closed_start + 86400, interval="15m", settings=settings, now=now)

        out = {
            "machine": machine(),
            "events_a_day": args.events, "history_days": args.days,
            "report_today_30m_ms": round(best(report, args.rounds), 1),
            "forecast_today_30m_ms": round(best(fc, args.rounds), 1),
        }
        report_c(), fc_c()
        out["cached_nothing_new_ms"] = round(best(lambda: (report_c(), fc_c()), args.rounds), 2)
        out["cached_after_a_new_caller_ms"] = round(best(new_caller_then_read, args.rounds), 1)
        out["closed_day_15m_ms"] = round(best(closed, args.rounds), 1)
        closed_c()
        out["closed_day_15m_cached_ms"] = round(best(closed_c, args.rounds), 2)
        out["cache_hits_misses"] = [cache.hits, cache.misses]
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
