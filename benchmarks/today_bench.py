"""How long the wallboard's "today" read takes (``reports.today``, uncached) on a day of
about ``--events`` queue events: 5 per answered caller (entered, offered, connected,
completed, disposition) over 09:00-17:00 of today in UTC, in a fresh SQLite store.

    PYTHONPATH=src python benchmarks/today_bench.py --events 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ccswitch.acd import events as ev
from ccswitch.reports import ReportReader, ReportSettings, today
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db
from ccswitch.store.queue_events import QueueEventStore


def day(n_events: int, t0: float) -> list[ev.LoggedEvent]:
    out: list[ev.LoggedEvent] = [ev.SwitchStarted(t0 - 60, "bench", (("support", 20.0),),
                                                  "UTC", 5.0)]
    calls = n_events // 5
    step = 8 * 3600 / calls
    for i in range(calls):
        t, c, a = t0 + i * step, f"c{i}", f"a{i % 40}"
        out += [ev.CallerEntered(t, c, "support", 0, 1, ()),
                ev.CallerOffered(t + 1, c, "support", a),
                ev.CallerConnected(t + 5, c, "support", a, wait=5, ring_time=4,
                                   entry_position=1),
                ev.CallCompleted(t + 125, c, "support", a, wait=5, talk=120, wrapup=10,
                                 by="caller", entry_position=1),
                ev.CallDisposition(t + 130, c, "support", a, "sale", wrapup_left=5)]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    now = datetime.now(UTC)
    t0 = datetime(now.year, now.month, now.day, 9, tzinfo=UTC).timestamp()
    with tempfile.TemporaryDirectory() as tmp:
        db = Db.sqlite(Path(tmp) / "ccswitch.db")
        QueueEventStore(db).append(day(args.events, t0), wall_offset=0.0)
        CdrStore(db)
        reader, settings = ReportReader(db), ReportSettings()
        times = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            got = today(reader, settings, t0 + 9 * 3600)
            times.append(time.perf_counter() - began)
        row = got["support"]
        print(f"{args.events} events, {row.offered} callers: today() "
              f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
