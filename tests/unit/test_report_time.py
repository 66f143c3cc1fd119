"""Report time (``reports/timerange.py``), the ``[reports]`` keys and the start mark's
queue_log line.  Expected boundaries are worked out from the calendar by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from ccswitch.acd.events import SwitchStarted
from ccswitch.acd.queue_log import format_events
from ccswitch.config import parse_config
from ccswitch.config.reports import ReportsConfig
from ccswitch.errors import ConfigError
from ccswitch.reports.timerange import (
    TimeError,
    boundaries,
    bucket,
    default_range,
    floor,
    iso,
    parse_time,
    spread,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30 all year


def at(*args: int, tz: ZoneInfo = BERLIN) -> float:
    return datetime(*args, tzinfo=tz).timestamp()  # type: ignore[misc]


def test_parse_time() -> None:
    assert parse_time("2026-12-07", BERLIN) == at(2026, 12, 7)
    assert parse_time("2026-12-07", BERLIN, end=True) == at(2026, 12, 8)  # that day included
    assert parse_time("2026-12-07T09:30", BERLIN) == at(2026, 12, 7, 9, 30)
    # an offset is taken as written: 08:30 UTC is 09:30 in Berlin in winter
    assert parse_time("2026-12-07T08:30:00+00:00", BERLIN) == at(2026, 12, 7, 9, 30)
    assert parse_time("1796630400", BERLIN) == 1796630400.0  # epoch seconds as they are
    with pytest.raises(TimeError, match="not an ISO 8601 date"):
        parse_time("7.12.2026", BERLIN)


def test_quarter_hours_follow_the_local_clock() -> None:
    # Kolkata is UTC+05:30: a local quarter-hour starts at :00/:15/:30/:45 local
    t = at(2026, 12, 7, 10, 7, 30, tz=KOLKATA)
    assert floor(t, "15m", KOLKATA) == at(2026, 12, 7, 10, 0, tz=KOLKATA)
    assert floor(t, "1h", KOLKATA) == at(2026, 12, 7, 10, 0, tz=KOLKATA)
    assert iso(floor(t, "30m", KOLKATA), KOLKATA) == "2026-12-07T10:00:00+05:30"
    # Monday 2026-12-07; a week starts on Monday: Thursday the 10th belongs to it
    assert floor(at(2026, 12, 10, 15), "week", BERLIN) == at(2026, 12, 7)


def test_days_with_a_clock_change() -> None:
    # 2026-03-29: Berlin goes from 02:00 to 03:00: 23 hours = 92 quarter-hours
    spring = boundaries(at(2026, 3, 29), at(2026, 3, 30), "15m", BERLIN)
    assert len(spring) - 1 == 92 and spring[-1] == at(2026, 3, 30)
    # 2026-10-25: 03:00 back to 02:00: 25 hours = 100 quarter-hours
    autumn = boundaries(at(2026, 10, 25), at(2026, 10, 26), "15m", BERLIN)
    assert len(autumn) - 1 == 100 and autumn[-1] == at(2026, 10, 26)
    days = boundaries(at(2026, 10, 24), at(2026, 10, 27), "day", BERLIN)
    assert [b - a for a, b in pairwise(days)] == [86400, 90000, 86400]


def test_bucket_and_spread() -> None:
    bounds = [0.0, 900.0, 1800.0]
    assert (bucket(-1, bounds), bucket(0, bounds), bucket(899.9, bounds),
            bucket(900, bounds), bucket(1800, bounds)) == (None, 0, 0, 1, None)
    # 870 .. 960: 30 s in the first quarter-hour, 60 in the second
    assert spread(870, 960, bounds) == [(0, 30.0), (1, 60.0)]
    assert spread(1700, 2000, bounds) == [(1, 100.0)]  # cut at the last boundary


def test_default_range() -> None:
    now = at(2026, 12, 7, 15)
    assert default_range(None, None, now, BERLIN) == (at(2026, 12, 7), at(2026, 12, 8))
    assert default_range(at(2026, 12, 1), None, now, BERLIN) == (at(2026, 12, 1),
                                                                 at(2026, 12, 8))
    assert default_range(None, at(2026, 12, 3, 12), now, BERLIN) == (at(2026, 12, 3),
                                                                     at(2026, 12, 3, 12))
    with pytest.raises(TimeError, match="--to must be after --from"):
        boundaries(at(2026, 12, 3), at(2026, 12, 2), "day", BERLIN)


def test_reports_keys() -> None:
    cfg = parse_config('[reports]\ntimezone = "America/Argentina/Buenos_Aires"\n'
                       'short_abandon = 0\n', "r.toml")
    assert cfg.reports == ReportsConfig("America/Argentina/Buenos_Aires", 0.0)
    assert parse_config("", "r.toml").reports == ReportsConfig(None, 5.0)
    for text, fault in [
        ('[reports]\ntimezone = "not a zone"', r"reports\.timezone.*not a valid time-zone"),
        ('[reports]\ntimezone = "../etc/passwd"', r"reports\.timezone"),
        ("[reports]\nshort_abandon = -1", r"reports\.short_abandon"),
        ("[reports]\nshort_abandon = 7200", r"reports\.short_abandon.*at most 3600"),
        ("[reports]\nzone = 1", r"reports\.zone: unknown key"),
    ]:
        with pytest.raises(ConfigError, match=fault):
            parse_config(text, "r.toml")


def test_the_start_mark_is_queuestart_in_queue_log() -> None:
    t = datetime(2026, 12, 7, 8, tzinfo=UTC).timestamp()
    assert format_events([SwitchStarted(t, "1.0", (("support", 20.0),))]) == [
        f"{int(t)}|NONE|NONE|NONE|QUEUESTART|"]
