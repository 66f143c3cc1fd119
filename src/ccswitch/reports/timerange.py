"""Report time: the range asked for (``--from``/``--to``, "today") and its intervals, in the
report's time zone.

An interval of 15m, 30m or 1h starts on a multiple of its length in local wall-clock time
(10:15, 10:30...); a day starts at local midnight; a week on Monday at local midnight.  Steps
are taken in absolute seconds for the short intervals (so a day with a daylight-saving change
has 92 or 100 quarter-hours) and in calendar days for days and weeks (23 or 25 hours long
when the clocks change).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo

INTERVALS: dict[str, float | None] = {"15m": 900.0, "30m": 1800.0, "1h": 3600.0,
                                      "day": None, "week": None}
"""Interval names -> length in seconds (``None``: calendar days)."""

MAX_INTERVALS = 1000
"""The longest range one report may ask for, in intervals (a week in quarter-hours is 672, a
month in hours 744; 1000 days, 1000 weeks): a longer one is refused before anything is read
or built, so a very old ``--from`` cannot make a request build millions of rows."""
_NOMINAL = {"15m": 900.0, "30m": 1800.0, "1h": 3600.0, "day": 86_400.0, "week": 604_800.0}


class TimeError(ValueError):
    """A TIME or interval the report cannot use; the message says why."""


class TooManyIntervals(TimeError):
    """A range that would give more than ``MAX_INTERVALS`` intervals (HTTP 422, exit 2)."""

    def __init__(self, count: int, interval: str) -> None:
        self.count = count
        super().__init__(f"the range is {count} intervals of {interval} long; a report spans "
                         f"at most {MAX_INTERVALS} intervals (ask for a shorter range or a "
                         "longer interval)")


def check_span(start: float, end: float, interval: str) -> None:
    """TooManyIntervals when [start, end) holds more than ``MAX_INTERVALS`` intervals."""
    count = math.floor((end - start) / _NOMINAL[interval])  # days: 24 h, whatever the clocks
    if count > MAX_INTERVALS:
        raise TooManyIntervals(count, interval)


def parse_time(text: str, tz: tzinfo, *, end: bool = False) -> float:
    """Epoch seconds of an ISO 8601 date or date-time (or epoch seconds).  A date is local
    midnight, or with ``end`` the midnight after it (``--to 2026-12-07`` covers that day); a
    date-time without an offset is local time in ``tz``."""
    text = text.strip()
    if re.fullmatch(r"[0-9]{9,11}(\.[0-9]*)?", text):  # epoch seconds, as `cdr export` takes
        return _in_range(float(text), text)
    try:
        if len(text) == 10 and "T" not in text and " " not in text:
            day = date.fromisoformat(text)
            t = midnight(day + timedelta(days=1) if end else day, tz)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            t = moment.timestamp()
    except OverflowError:  # 9999-12-31 as an end: the day after it
        raise TimeError(f"{text!r} is out of range (1970-01-02 to 9998-12-31)") from None
    except ValueError:
        raise TimeError(f"{text!r} is not an ISO 8601 date or date-time "
                        "(2026-12-07 or 2026-12-07T09:30)") from None
    return _in_range(t, text)


EARLIEST, LATEST = 86_400.0, 253_370_764_800.0  # 1970-01-02, 9999-01-01 (UTC)


def _in_range(t: float, text: str) -> float:
    """``t``, when it is a time the report's calendar can step through (years 1970-9998)."""
    if not EARLIEST <= t < LATEST:
        raise TimeError(f"{text!r} is out of range (1970-01-02 to 9998-12-31)")
    return t


def midnight(day: date, tz: tzinfo) -> float:
    """Epoch seconds of local midnight starting ``day``."""
    return datetime.combine(day, time(0), tz).timestamp()


def local_day(t: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(t, tz).date()


def today(now: float, tz: tzinfo) -> tuple[float, float]:
    """[start, end) of the local day holding ``now``."""
    day = local_day(now, tz)
    return midnight(day, tz), midnight(day + timedelta(days=1), tz)


def default_range(start: float | None, end: float | None, now: float,
                  tz: tzinfo) -> tuple[float, float]:
    """The range when ``--from`` or ``--to`` (or both) are left out: today; from ``start`` to
    the end of today; the local day before ``end``'s."""
    if start is None and end is None:
        return today(now, tz)
    if start is None:
        assert end is not None
        return midnight(local_day(end - 1e-6, tz), tz), end
    if end is None:
        return start, max(today(now, tz)[1], start)
    return start, end


def floor(t: float, interval: str, tz: tzinfo) -> float:
    """The start of the interval holding ``t``."""
    step = INTERVALS[interval]
    if step is not None:
        local = datetime.fromtimestamp(t, tz)
        offset = (local.utcoffset() or timedelta()).total_seconds()
        return math.floor((t + offset) / step) * step - offset
    day = local_day(t, tz)
    if interval == "week":
        day -= timedelta(days=day.weekday())
    return midnight(day, tz)


def _next(start: float, interval: str, tz: tzinfo) -> float:
    step = INTERVALS[interval]
    if step is not None:
        return start + step
    days = 7 if interval == "week" else 1
    return midnight(local_day(start, tz) + timedelta(days=days), tz)


def boundaries(start: float, end: float, interval: str, tz: tzinfo) -> list[float]:
    """The starts of the intervals meeting [start, end), then the end of the last one;
    TooManyIntervals past ``MAX_INTERVALS``."""
    if interval not in INTERVALS:
        raise TimeError(f"unknown interval {interval!r} (one of {', '.join(INTERVALS)})")
    if end <= start:
        raise TimeError("--to must be after --from")
    check_span(start, end, interval)
    bounds = [floor(start, interval, tz)]
    while bounds[-1] < end:
        bounds.append(_next(bounds[-1], interval, tz))
    return bounds


def bucket(t: float, bounds: Sequence[float]) -> int | None:
    """The index of the interval holding ``t`` (``None``: outside them all)."""
    i = bisect_right(bounds, t) - 1
    return i if 0 <= i < len(bounds) - 1 else None


def spread(start: float, stop: float, bounds: Sequence[float]) -> list[tuple[int, float]]:
    """The seconds of [start, stop) that fall in each interval: (index, seconds)."""
    out: list[tuple[int, float]] = []
    if stop <= start:
        return out
    first = max(0, bisect_right(bounds, start) - 1)
    for i in range(first, len(bounds) - 1):
        lo, hi = max(start, bounds[i]), min(stop, bounds[i + 1])
        if lo >= stop:
            break
        if hi > lo:
            out.append((i, hi - lo))
    return out


def iso(t: float, tz: tzinfo) -> str:
    """ISO 8601 with the zone's offset (``2026-12-07T09:15:00+01:00``)."""
    return datetime.fromtimestamp(t, tz).isoformat()
