"""Forecast of a queue's calls and handle time per interval of a day, from the same weekday's
intervals of the last N weeks (``docs/forecast.md``).

Method: for the day D and each interval (wall-clock time of day in the report's zone) the
forecast is an exponentially weighted average over the N most recent same weekdays with
history, D - 7k (k = 1, 2, ...; a day on or after the end of history - today - is skipped, so
a forecast further ahead uses older weeks).  Week k back (in that list) weighs ``decay**(k-1)``:

* calls = sum w_k offered_k / sum w_k;
* AHT (talk + wrap-up per handled call) = sum w_k (talk + wrap-up)_k / sum w_k handled_k;
* line time per call (queue wait + talk, what a trunk is held) =
  sum w_k (queue time + talk)_k / sum w_k offered_k.

An interval whose weeks handled no call takes the queue's AHT (or line time) over all the
history read.  Weeks before the queue's first call are not history: they are not counted as
zeros.  Callers' patience is the queue's, over all that history: total queue time / abandons.

Accuracy: each of the ``holdout`` weeks just before the end of history is forecast, day by
day, from the N weeks before it, and compared with what happened.  MAPE = mean over the
held-out intervals that had calls of |actual - forecast| / actual, in percent; intervals with
no call are left out (their percentage error is undefined) and counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from ..acd.erlang import patience_estimate
from .history_input import IntervalLoad, first_event_day, load_intervals, slot_start

if TYPE_CHECKING:
    from ..store.db import Db

DEFAULT_WEEKS = 4
MAX_WEEKS = 52  # a year of history: the most a forecast reads (CLI and API)
DEFAULT_HOLDOUT = 1
DEFAULT_DECAY = 0.7
Key = tuple[date, int]  # (local day, interval of the day)


@dataclass(frozen=True, slots=True)
class SlotForecast:
    """One interval of the forecast day; times in seconds."""

    start: datetime
    calls: float
    aht: float
    line_time: float


@dataclass(frozen=True, slots=True)
class Accuracy:
    """The forecast's error on held-out days: ``mape`` in percent (None: no interval with
    calls was held out)."""

    mape: float | None
    intervals: int  # held-out intervals with calls: MAPE's terms
    skipped: int  # held-out intervals without calls, left out of MAPE
    days: int


@dataclass(frozen=True, slots=True)
class Forecast:
    queue: str
    day: date
    interval_s: int
    source_days: tuple[date, ...]  # the same weekdays it averages, most recent first
    patience: float  # s, callers' mean patience (inf: nobody abandoned)
    slots: tuple[SlotForecast, ...]
    accuracy: Accuracy


@dataclass(frozen=True, slots=True)
class _Totals:
    aht: float
    line_time: float
    patience: float


def source_days(day: date, weeks: int, history_end: date, first: date | None) -> list[date]:
    """The ``weeks`` most recent same weekdays before ``day`` inside [first, history_end)."""
    out: list[date] = []
    k = 1
    while len(out) < weeks:
        d = day - timedelta(days=7 * k)
        if first is None or d < first:
            break
        if d < history_end:
            out.append(d)
        k += 1
    return out


def _totals(loads: Iterable[IntervalLoad]) -> _Totals:
    handled = offered = abandoned = 0
    handle = line = wait = 0.0
    for x in loads:
        handled += x.handled
        offered += x.offered
        abandoned += x.abandoned
        handle += x.talk + x.wrapup
        line += x.queue_time + x.talk
        wait += x.queue_time
    return _Totals(handle / handled if handled else 0.0, line / offered if offered else 0.0,
                   patience_estimate(wait, abandoned))


def forecast_slots(history: Mapping[Key, IntervalLoad], day: date, days: list[date],
                   *, interval_s: int, tz: tzinfo, decay: float,
                   fallback: _Totals) -> list[SlotForecast]:
    """The weighted averages of ``days`` (most recent first) for each interval of ``day``."""
    out = []
    for slot in range(86_400 // interval_s):
        w_sum = calls = handled = handle = line = 0.0
        for k, d in enumerate(days):
            x = history.get((d, slot))
            w = decay ** k
            w_sum += w
            if x is None:
                continue
            calls += w * x.offered
            handled += w * x.handled
            handle += w * (x.talk + x.wrapup)
            line += w * (x.queue_time + x.talk)
        out.append(SlotForecast(
            start=slot_start(day, slot, interval_s, tz),
            calls=calls / w_sum if w_sum else 0.0,
            aht=handle / handled if handled else fallback.aht,
            line_time=line / calls if calls else fallback.line_time))
    return out


def mape(pairs: Iterable[tuple[float, float]]) -> tuple[float | None, int, int]:
    """(MAPE in percent over the pairs (actual, forecast) whose actual is not 0, how many
    such pairs, how many pairs were skipped for a zero actual)."""
    errors, skipped = [], 0
    for actual, predicted in pairs:
        if actual == 0:
            skipped += 1
        else:
            errors.append(abs(actual - predicted) / actual)
    return (100.0 * sum(errors) / len(errors) if errors else None), len(errors), skipped


def forecast(db: Db, *, day: date, today: date, tz: tzinfo, interval_s: int = 3600,
             weeks: int = DEFAULT_WEEKS, holdout: int = DEFAULT_HOLDOUT,
             decay: float = DEFAULT_DECAY, queue: str | None = None) -> list[Forecast]:
    """The forecast of ``day`` for ``queue`` (else for each queue with history), from the
    history before ``min(day, today)``, with its accuracy on ``holdout`` weeks."""
    if weeks < 1 or holdout < 0 or not 0 < decay <= 1:
        raise ValueError("weeks >= 1, holdout >= 0, 0 < decay <= 1")
    end = min(day, today)
    start = end - timedelta(days=7 * (weeks + holdout))
    first = first_event_day(db, tz, queue)
    if first is not None:
        start = max(start, first)
    loads = (load_intervals(db, first_day=start, days=(end - start).days, interval_s=interval_s,
                            tz=tz, queue=queue) if start < end else [])
    by_queue: dict[str, dict[Key, IntervalLoad]] = {}
    for x in loads:
        by_queue.setdefault(x.queue, {})[(x.day, x.slot)] = x
    if queue is not None:
        by_queue.setdefault(queue, {})
    return [_one(q, h, day=day, end=end, tz=tz, interval_s=interval_s, weeks=weeks,
                 holdout=holdout, decay=decay,
                 first=first if queue is not None else first_event_day(db, tz, q))
            for q, h in sorted(by_queue.items())]


def _one(queue: str, history: dict[Key, IntervalLoad], *, day: date, end: date,
         first: date | None, tz: tzinfo, interval_s: int, weeks: int, holdout: int,
         decay: float) -> Forecast:
    totals = _totals(history.values())
    days = source_days(day, weeks, end, first)
    slots = forecast_slots(history, day, days, interval_s=interval_s, tz=tz, decay=decay,
                           fallback=totals)
    pairs: list[tuple[float, float]] = []
    held = 0
    for offset in range(7 * holdout, 0, -1):
        d = end - timedelta(days=offset)
        before = source_days(d, weeks, d, first)
        if first is None or d < first or not before:
            continue
        held += 1
        for slot, f in enumerate(forecast_slots(history, d, before, interval_s=interval_s,
                                                tz=tz, decay=decay, fallback=totals)):
            actual = history.get((d, slot))
            pairs.append((actual.offered if actual else 0.0, f.calls))
    m, n, skipped = mape(pairs)
    return Forecast(queue, day, interval_s, tuple(days), totals.patience, tuple(slots),
                    Accuracy(m, n, skipped, held))
