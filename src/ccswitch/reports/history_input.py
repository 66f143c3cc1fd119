"""Interval history for forecasting and staffing, read from the queue event log.

One query, filtered by time on the indexed ``queue_events.time``, gives per queue and per
local interval (weekday x time of day in the time zone ``tz``) what the forecast needs:

* ``offered``: ``CallerEntered`` (a caller re-entering with ``rejoined`` is not offered twice);
* ``answered``: ``CallerConnected``; ``abandoned``: ``CallerAbandoned``;
* ``talk`` and ``wrapup``: from ``CallCompleted`` (``talk``, ``wrapup``) and
  ``CallTransferred`` (``talk``), counted in ``handled``;
* ``queue_time``: the ``wait`` of every caller who left the queue (connected, abandoned,
  taken out by overflow or by a key) - the exposure of the patience estimate.

A call belongs to the interval in which it entered the queue (its outcome events are matched
by call id, up to a day after the range ends); an outcome whose entry is outside the range is
not counted.  On the days clocks change, the intervals of the repeated local hour add up and
those of the skipped hour stay empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line builds its parser without loading the database drivers
    from ..store.db import Db

OUTCOME_MARGIN = 86_400.0  # s: outcomes are read this long after the range's end
EVENTS = ("CallerEntered", "CallerConnected", "CallerAbandoned", "CallerOverflowed",
          "CallerExitedWithKey", "CallCompleted", "CallTransferred")
_WAIT_EXITS = frozenset({"CallerConnected", "CallerAbandoned", "CallerOverflowed",
                         "CallerExitedWithKey"})


@dataclass(slots=True)
class IntervalLoad:
    """What one queue was offered in one local interval, and how it went (seconds)."""

    queue: str
    day: date
    slot: int  # interval of the day: local seconds since midnight // interval
    start: datetime  # local, aware
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    handled: int = 0  # completed or transferred calls, whose talk and wrap-up are known
    talk: float = 0.0
    wrapup: float = 0.0
    queue_time: float = 0.0


def day_bounds(day: date, tz: tzinfo) -> tuple[float, float]:
    """The epoch seconds of ``day``'s local midnight and of the next day's."""
    start = datetime.combine(day, time(), tzinfo=tz).timestamp()
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).timestamp()


def slot_start(day: date, slot: int, interval_s: int, tz: tzinfo) -> datetime:
    """The local start of ``slot`` on ``day`` (wall-clock time of day)."""
    secs = slot * interval_s
    return datetime.combine(day, time(secs // 3600, secs % 3600 // 60, secs % 60), tzinfo=tz)


def load_intervals(db: Db, *, first_day: date, days: int, interval_s: int, tz: tzinfo,
                   queue: str | None = None) -> list[IntervalLoad]:
    """Every interval of ``days`` local days from ``first_day``, for ``queue`` (or for each
    queue with events in the range), zeros included, in (queue, day, slot) order."""
    if 86_400 % interval_s:
        raise ValueError("the interval must divide a day")
    since = day_bounds(first_day, tz)[0]
    until = day_bounds(first_day + timedelta(days=days - 1), tz)[1]
    sql = (f"SELECT time, event, call_id, queue, data FROM queue_events WHERE time >= ?"
           f" AND time < ? AND event IN ({','.join('?' * len(EVENTS))})")
    args: list[Any] = [since, until + OUTCOME_MARGIN, *EVENTS]
    if queue is not None:
        sql += " AND queue = ?"
        args.append(queue)
    rows = db.execute(sql + " ORDER BY time, id", args).fetchall()
    per_slot = 86_400 // interval_s
    loads: dict[tuple[str, date, int], IntervalLoad] = {}
    queues = {queue} if queue is not None else set()
    entered: dict[str, IntervalLoad] = {}
    for t, event, call_id, q, data in rows:
        fields = json.loads(data)
        if event == "CallerEntered":
            if t >= until or q is None or call_id is None or fields.get("rejoined"):
                continue
            queues.add(q)
            local = datetime.fromtimestamp(t, tz)
            slot = (local.hour * 3600 + local.minute * 60 + local.second) // interval_s
            key = (q, local.date(), slot)
            load = loads.get(key)
            if load is None:
                load = loads[key] = IntervalLoad(q, local.date(), slot,
                                                 slot_start(local.date(), slot, interval_s, tz))
            load.offered += 1
            entered[call_id] = load
            continue
        load = entered.get(call_id)
        if load is None:
            continue
        if event in _WAIT_EXITS:
            load.queue_time += float(fields.get("wait", 0.0))
        if event == "CallerConnected":
            load.answered += 1
        elif event == "CallerAbandoned":
            load.abandoned += 1
        elif event in ("CallCompleted", "CallTransferred"):
            load.handled += 1
            load.talk += float(fields.get("talk", 0.0))
            load.wrapup += float(fields.get("wrapup", 0.0))
    out = []
    for q in sorted(queues):
        for d in range(days):
            day = first_day + timedelta(days=d)
            for slot in range(per_slot):
                got = loads.get((q, day, slot))
                out.append(got if got is not None
                           else IntervalLoad(q, day, slot, slot_start(day, slot, interval_s, tz)))
    return out


def first_event_day(db: Db, tz: tzinfo, queue: str | None = None) -> date | None:
    """The local day of the first caller that entered ``queue`` (any queue), or None."""
    sql = "SELECT time FROM queue_events WHERE event = 'CallerEntered'"
    args: tuple[str, ...] = ()
    if queue is not None:
        sql += " AND queue = ?"
        args = (queue,)
    # walks the time index from the start (min() over a filter would read the whole table)
    row = db.execute(sql + " ORDER BY time LIMIT 1", args).fetchone()
    return None if row is None else datetime.fromtimestamp(row[0], tz).date()
