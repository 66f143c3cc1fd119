"""The queue report: per queue and interval, what happened to the callers who entered it.

A caller belongs to the interval in which it entered the queue (as Asterisk's and
FreeSWITCH's queue reports count): a call that crosses an interval boundary is counted once,
with all its figures (wait, talk, wrap-up), in its entry interval.  Formulas:
``docs/reports.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .settings import ReportSettings
from .timeline import (
    ABANDONED,
    ANSWERED,
    CALLBACK_FAILED,
    EXITED,
    LOST,
    OVERFLOWED,
    Stay,
    Timeline,
)
from .timerange import bucket, iso


@dataclass(slots=True)
class QueueTotals:
    """One row of the queue report (times in seconds, ratios 0-1)."""

    queue: str
    interval_start: str
    interval_end: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    exited_with_key: int = 0
    lost: int = 0
    waiting: int = 0
    refused: int = 0
    answered_in_sl: int = 0
    service_level: float = 0.0
    service_level_answered: float = 0.0
    service_level_net: float = 0.0
    abandon_rate: float = 0.0
    asa_s: float = 0.0
    aht_s: float = 0.0
    avg_talk_s: float = 0.0
    avg_hold_s: float = 0.0
    avg_wrapup_s: float = 0.0
    longest_wait_s: float = 0.0
    handled: int = 0
    transfers: int = 0
    callbacks: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)
    sl_threshold_s: float = 0.0


def _ratio(a: float, b: float, digits: int = 4) -> float:
    return round(a / b, digits) if b else 0.0


def totals(queue: str, stays: Iterable[Stay], *, start: str, end: str, refused: int,
           settings: ReportSettings) -> QueueTotals:
    """The row of ``queue`` for the callers ``stays`` that entered it in one interval."""
    threshold = settings.threshold(queue)
    row = QueueTotals(queue=queue, interval_start=start, interval_end=end, refused=refused,
                      sl_threshold_s=threshold)
    waits_answered = talk = hold = wrapup = 0.0
    codes: Counter[str] = Counter()
    for s in stays:
        row.offered += 1
        if s.wait is not None:
            row.longest_wait_s = max(row.longest_wait_s, s.wait)
        if s.outcome == ANSWERED:
            assert s.wait is not None
            row.answered += 1
            waits_answered += s.wait
            row.answered_in_sl += s.wait <= threshold
            if s.talk is not None:
                row.handled += 1
                talk += s.talk
                hold += s.hold
                wrapup += s.wrapup
        elif s.outcome in (ABANDONED, CALLBACK_FAILED):
            row.abandoned += 1
            row.short_abandoned += (s.outcome == ABANDONED and s.wait is not None
                                    and s.wait < settings.short_abandon)
        elif s.outcome == OVERFLOWED:
            row.overflowed += 1
        elif s.outcome == EXITED:
            row.exited_with_key += 1
        elif s.outcome == LOST:
            row.lost += 1
        else:
            row.waiting += 1
        row.transfers += s.transferred
        row.callbacks += s.callback
        codes.update(s.dispositions)
    row.service_level = _ratio(row.answered_in_sl, row.offered)
    row.service_level_answered = _ratio(row.answered_in_sl, row.answered)
    row.service_level_net = _ratio(row.answered_in_sl, row.offered - row.short_abandoned)
    row.abandon_rate = _ratio(row.abandoned, row.offered)
    row.asa_s = _ratio(waits_answered, row.answered, 3)
    row.aht_s = _ratio(talk + wrapup, row.handled, 3)
    row.avg_talk_s = _ratio(talk, row.handled, 3)
    row.avg_hold_s = _ratio(hold, row.handled, 3)
    row.avg_wrapup_s = _ratio(wrapup, row.handled, 3)
    row.longest_wait_s = round(row.longest_wait_s, 3)
    row.dispositions = dict(sorted(codes.items()))
    return row


def queue_report(tl: Timeline, bounds: Sequence[float], settings: ReportSettings, *,
                 queues: Iterable[str], start: float, end: float,
                 only: str | None = None) -> list[QueueTotals]:
    """Rows per queue and interval (every interval of ``bounds``, empty ones included), for
    the callers who entered in [start, end); ``queues``: the queues known besides those seen."""
    names = set(queues) | {s.queue for s in tl.stays} | {q for q, _ in tl.refused}
    if only is not None:
        names = {only}
    by: dict[tuple[str, int], list[Stay]] = {}
    for s in tl.stays:
        i = bucket(s.entered, bounds) if start <= s.entered < end else None
        if i is not None:
            by.setdefault((s.queue, i), []).append(s)
    refused: Counter[tuple[str, int]] = Counter()
    for q, t in tl.refused:
        i = bucket(t, bounds) if start <= t < end else None
        if i is not None:
            refused[(q, i)] += 1
    tz = settings.tz
    return [totals(q, by.get((q, i), ()), start=iso(bounds[i], tz), end=iso(bounds[i + 1], tz),
                   refused=refused[(q, i)], settings=settings)
            for q in sorted(names) for i in range(len(bounds) - 1)]
