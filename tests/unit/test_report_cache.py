"""The report cache (``reports/cache.py``) and the range limit, on both stores (SQLite and
PostgreSQL) with the scripted day of test_reports.py: a closed range is given again whatever
is written later (until a retention delete), today's is read again as soon as a new row is
durable (and after the ttl), a forecast is read again when an outcome of its history's
callers is written, not for today's new callers; a range over ``MAX_INTERVALS`` is refused
before anything is read."""

from __future__ import annotations

from datetime import date

import pytest
from test_reports import DAY, NOW, T0, write_day

from ccswitch.acd import events as ev
from ccswitch.reports import ReportCache, ReportReader, cached, compute, forecast_cli, plain
from ccswitch.reports.reader import TAIL
from ccswitch.reports.settings import from_started
from ccswitch.reports.timerange import MAX_INTERVALS, TooManyIntervals
from ccswitch.store.db import Location
from ccswitch.store.queue_events import QueueEventStore

SUPPORT = (("support", 0),)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def reader(store_at: Location) -> ReportReader:
    return ReportReader(write_day(store_at.connect()))


def offered(reader: ReportReader, cache: ReportCache, now: float, start: float = DAY[0],
            end: float = DAY[1]) -> int:
    rows = cached(cache, reader, "queues", start=start, end=end, interval="day",
                  settings=from_started(reader.last_start()), now=now, queue="support")
    return int(plain(rows)[0]["offered"])


def enter(reader: ReportReader, t: float, call: str) -> None:
    QueueEventStore(reader.db).append([ev.CallerEntered(t, call, "support", 0, 1, ())],
                                      wall_offset=0.0)


def test_today_is_read_again_as_soon_as_a_new_caller_is_durable(reader: ReportReader) -> None:
    clock = Clock(NOW)
    cache = ReportCache(ttl=5.0, clock=clock)
    assert offered(reader, cache, NOW) == 6 and (cache.hits, cache.misses) == (0, 1)
    assert offered(reader, cache, NOW) == 6 and (cache.hits, cache.misses) == (1, 1)
    enter(reader, T0 + 5390, "c10")  # durable now: the next read shows it, ttl or not
    assert offered(reader, cache, NOW) == 7 and cache.misses == 2
    assert offered(reader, cache, NOW) == 7 and cache.hits == 2
    clock.t = NOW + 5.0  # nothing new, but the ttl is over (figures grow with the time)
    assert offered(reader, cache, NOW + 5.0) == 7 and cache.misses == 3


def test_a_closed_range_is_kept_until_a_retention_delete(reader: ReportReader) -> None:
    later = DAY[1] + TAIL + 3600  # every outcome the day's report reads is before this
    enter(reader, later, "c11")  # the newest durable row is after the read window
    cache = ReportCache(ttl=5.0, clock=Clock(later + 60))
    settings = from_started(reader.last_start())
    want = plain(compute(reader, "queues", start=DAY[0], end=DAY[1], interval="day",
                         settings=settings, now=later + 60, queue="support"))
    assert offered(reader, cache, later + 60) == 6
    enter(reader, later + 10, "c12")  # later rows cannot reach a closed range
    cache.clock = Clock(later + 3600)  # nor does the ttl
    assert offered(reader, cache, later + 3600) == 6 and (cache.hits, cache.misses) == (1, 1)
    got = cached(cache, reader, "queues", start=DAY[0], end=DAY[1], interval="day",
                 settings=settings, now=later + 3600, queue="support")
    assert plain(got) == want
    reader.db.execute("DELETE FROM queue_events WHERE id = (SELECT min(id) FROM queue_events)")
    offered(reader, cache, later + 3600)  # the oldest row went: read again
    assert cache.misses == 2


def test_every_kind_is_cached_apart(reader: ReportReader) -> None:
    cache = ReportCache(clock=Clock(NOW))
    settings = from_started(reader.last_start())
    for kind in ("queues", "agents", "agent-states", "audit"):
        for _ in range(2):
            got = cached(cache, reader, kind, start=DAY[0], end=DAY[1], interval="1h",
                         settings=settings, now=NOW)
            assert plain(got) == plain(compute(reader, kind, start=DAY[0], end=DAY[1],
                                               interval="1h", settings=settings, now=NOW))
    assert (cache.hits, cache.misses) == (4, 4)
    # a supervisor's scope is its own entry
    cached(cache, reader, "queues", start=DAY[0], end=DAY[1], interval="1h",
           settings=settings, now=NOW, queues=["sales"])
    assert cache.misses == 5


def test_a_forecast_is_read_again_for_an_outcome_of_its_history_only(
        reader: ReportReader) -> None:
    """Forecast of Tue 2026-12-08 on that day: its history ends at its midnight."""
    cache = ReportCache(clock=Clock(NOW))
    settings = from_started(reader.last_start())
    day = date(2026, 12, 8)
    plan = forecast_cli.plan_of("80/20", 0.0)

    def read() -> list[dict[str, object]]:
        return forecast_cli.cached(cache, reader.db, kind="forecast", day=day, today=day,
                                   tz=settings.tz, interval_s=3600, weeks=1, queue=None,
                                   plan=plan)

    first = read()
    assert read() == first and (cache.hits, cache.misses) == (1, 1)
    enter(reader, T0 + 86400, "c20")  # a caller of the 8th: not the forecast's history
    assert read() == first and cache.hits == 2
    # c7 (entered the 7th, lost at the restart) is connected on the 8th: an outcome of the
    # history's callers, read again
    QueueEventStore(reader.db).append([ev.CallerConnected(
        T0 + 86400 + 5, "c7", "support", "a1", wait=5, ring_time=1, entry_position=1)],
        wall_offset=0.0)
    read()
    assert cache.misses == 2


@pytest.mark.parametrize("interval,days", [("15m", 11), ("30m", 21), ("1h", 42),
                                           ("day", 1001), ("week", 7 * 1001)])
def test_a_range_over_the_limit_is_refused_before_any_read(
        reader: ReportReader, interval: str, days: int) -> None:
    settings = from_started(reader.last_start())
    cache = ReportCache(clock=Clock(NOW))
    for kind in ("queues", "audit"):
        with pytest.raises(TooManyIntervals, match=f"at most {MAX_INTERVALS} intervals"):
            cached(cache, reader, kind, start=DAY[1] - days * 86400, end=DAY[1],
                   interval=interval, settings=settings, now=NOW)
    assert cache.misses == 0
    # the longest range allowed is served
    step = {"15m": 900, "30m": 1800, "1h": 3600, "day": 86400, "week": 7 * 86400}[interval]
    got = compute(reader, "queues", start=DAY[1] - MAX_INTERVALS * step, end=DAY[1],
                  interval=interval, settings=settings, now=NOW, queue="support")
    assert MAX_INTERVALS <= len(got) <= MAX_INTERVALS + 1


def test_the_cache_keeps_at_most_its_rows_and_entries() -> None:
    cache = ReportCache(size=3, rows=10, clock=Clock(NOW))
    for key in "abc":
        cache.get(key, (), lambda: [1, 2, 3], expires=False)
    cache.get("d", (), lambda: [1, 2, 3], expires=False)  # 4 entries > 3: "a" goes
    assert cache.get("a", (), lambda: [9], expires=False) == [9]  # read again: "b" goes
    assert cache.get("c", (), lambda: [0], expires=False) == [1, 2, 3]  # kept
    cache.get("e", (), lambda: list(range(11)), expires=False)  # 11 rows > 10: not kept
    assert cache.get("e", (), lambda: [], expires=False) == []
    cache.get("f", (), lambda: list(range(8)), expires=False)  # 8 + others > 10: old ones go
    assert cache.get("f", (), lambda: [], expires=False) == list(range(8))
    assert cache.get("c", (), lambda: [0], expires=False) == [0]
