"""The wallboard's today figures from the durable queue log (``reports.today`` through
``TodayCache``) on the scripted day of test_reports.py (a restart at 10:00 in the middle),
and the cache: one read per ``ttl`` whoever asks (fake clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from callworld import Switch
from test_api import ADMIN, Api
from test_reports import NOW, T0, write_day

from ccswitch.acd import events as ev
from ccswitch.http.reports import EXTRA_KEY
from ccswitch.http.wallboard import TODAY_KEY
from ccswitch.reports.reader import ReportReader
from ccswitch.reports.service import Reports
from ccswitch.reports.settings import from_started
from ccswitch.reports.today_cache import TodayCache
from ccswitch.store.db import Db, Location
from ccswitch.store.queue_events import QueueEventStore


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def where(tmp_path: Path) -> Location:
    write_day(Db.sqlite(tmp_path / "ccswitch.db")).close()
    return Location(tmp_path / "ccswitch.db")


def reports_of(where: Location) -> Reports:
    start = ReportReader(where.connect()).last_start()
    return Reports(where, lambda: from_started(start))


def test_the_board_shows_the_durable_day_across_the_restart(where: Location) -> None:
    api = Api(Switch(("1001",)))
    reports = reports_of(where)
    api.ctl.extras[EXTRA_KEY] = reports
    api.ctl.extras[TODAY_KEY] = TodayCache(reports, clock=Clock(NOW))  # read at 10:30
    got = {q["name"]: q["today"] for q in api("GET", "/api/v1/wallboard", ADMIN).json()["queues"]}
    # support: c1 c2 c3 c4 c7 c9 entered (6; c1-c4 and c7 before the 10:00 restart);
    # answered c1 (10 s) c3 (30 s) c9 (5 s): 3, within 20 s: c1, c9 -> 2 / 6 = 0.3333;
    # abandoned c2, c4: 2 / 6 = 0.3333
    assert got["support"] == {"since": "day", "offered": 6, "answered": 3, "abandoned": 2,
                              "service_level": 0.3333, "abandon_rate": 0.3333}
    # sales: c5 c6 c8 (3); answered c5 (15 s) c8 (10 s), both within 30 s: 2 / 3; c6
    # overflowed, the refused caller never entered: no abandon
    assert got["sales"] == {"since": "day", "offered": 3, "answered": 2, "abandoned": 0,
                            "service_level": 0.6667, "abandon_rate": 0.0}


def test_the_queues_api_gives_the_same_durable_day(where: Location) -> None:
    """GET /api/v1/queues (issue 10: "service level today") shows the board's figures."""
    api = Api(Switch(("1001",)))
    reports = reports_of(where)
    api.ctl.extras[EXTRA_KEY] = reports
    api.ctl.extras[TODAY_KEY] = TodayCache(reports, clock=Clock(NOW))  # read at 10:30
    got = {q["name"]: q["today"] for q in api("GET", "/api/v1/queues", ADMIN).json()}
    # the same day as above: support 6 offered, 3 answered (2 within 20 s), 2 abandoned
    assert got["support"] == {"since": "day", "offered": 6, "answered": 3, "abandoned": 2,
                              "service_level": 0.3333, "abandon_rate": 0.3333}
    one = api("GET", "/api/v1/queues/sales", ADMIN).json()["today"]
    assert (one["offered"], one["answered"], one["service_level"]) == (3, 2, 0.6667)


def test_a_queue_without_callers_today_has_no_rates(where: Location) -> None:
    api = Api(Switch(("1001",)))
    reports = reports_of(where)
    api.ctl.extras[EXTRA_KEY] = reports
    api.ctl.extras[TODAY_KEY] = TodayCache(reports, clock=Clock(NOW + 86400))  # the next day
    got = api("GET", "/api/v1/wallboard", ADMIN).json()["queues"][0]["today"]
    assert got == {"since": "day", "offered": 0, "answered": 0, "abandoned": 0,
                   "service_level": None, "abandon_rate": None}


def test_the_cache_reads_again_for_a_new_row_or_once_per_ttl(where: Location) -> None:
    clock = Clock(NOW)
    cache = TodayCache(reports_of(where), ttl=5.0, clock=clock)
    assert cache.get()["support"].offered == 6 and cache.computed == 1
    clock.t = NOW + 4.9  # within the ttl, nothing written: the same figures, no read
    assert cache.get()["support"].offered == 6 and cache.computed == 1
    store = QueueEventStore(where.connect())
    store.append([ev.CallerEntered(T0 + 5401, "c10", "support", 0, 1, ())], wall_offset=0.0)
    store.close()
    # within the ttl, but a row is durable since: read again, the new caller counts (6 + 1)
    assert cache.get()["support"].offered == 7 and cache.computed == 2
    clock.t = NOW + 9.8  # nothing new: kept
    assert cache.get()["support"].offered == 7 and cache.computed == 2
    clock.t = NOW + 9.9  # the ttl is over: read again (open figures grow with the time)
    cache.get()
    assert cache.computed == 3
    clock.t = NOW + 1.0  # the clock stepped back: read again rather than trust the old
    cache.get()
    assert cache.computed == 4
