"""Reports computed from the durable stores (the queue event log and the CDRs): the queue
report, the agent report, the agent-state report and the availability audit (``audit``: the
event stream), per interval, for any time range (``docs/reports.md``).  Layer 4: reads the
stores, no asyncio.

``compute`` is what ``ccswitch report`` and ``/api/v1/reports/...`` call; ``today`` gives the
per-queue totals of the local day so far (for a wallboard).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .agents import AgentStates, AgentTotals, agent_report, agent_state_report
from .audit import AuditTotals, audit_report
from .cache import ReportCache, marks, report_stamp
from .queues import QueueTotals, queue_report
from .reader import LOOKBACK, TAIL, ReportReader
from .settings import ReportSettings
from .timeline import Timeline, replay
from .timerange import boundaries
from .timerange import today as today_range

if TYPE_CHECKING:  # ``ccswitch``'s parser imports this package: no database driver yet
    from ..store.db import Db

KINDS = ("queues", "agents", "agent-states", "audit")
Row = QueueTotals | AgentTotals | AgentStates | AuditTotals

__all__ = ["KINDS", "AgentStates", "AgentTotals", "AuditTotals", "QueueTotals", "ReportCache",
           "ReportReader", "ReportSettings", "cached", "compute", "plain", "timeline", "today"]


def timeline(reader: ReportReader, start: float, end: float, now: float) -> Timeline:
    """The replayed log around [start, end): ``LOOKBACK`` before, ``TAIL`` after."""
    read_from = start - LOOKBACK
    return replay(reader.events(read_from, end + TAIL), before=reader.states_before(read_from),
                  talks=reader.talks(read_from, end + TAIL), read_from=read_from, now=now)


def compute(reader: ReportReader, kind: str, *, start: float, end: float, interval: str,
            settings: ReportSettings, now: float, queue: str | None = None,
            agent: str | None = None, queues: Iterable[str] | None = None,
            agents: Iterable[str] | None = None) -> Sequence[Row]:
    """The rows of report ``kind`` for [start, end) in ``interval`` steps.  ``queue`` /
    ``agent``: one only; ``queues`` / ``agents``: the rows a token may see (``None``: all)."""
    bounds = boundaries(start, end, interval, settings.tz)
    if kind == "audit":
        return audit_report(reader, bounds, settings, start=start, end=end, queue=queue)
    tl = timeline(reader, bounds[0], end, now)
    if kind == "queues":
        rows = queue_report(tl, bounds, settings, queues=settings.thresholds, start=start,
                            end=end, only=queue)
        return [r for r in rows if queues is None or r.queue in set(queues)]
    if kind == "agents":
        return agent_report(tl, bounds, settings, queue=queue, agent=agent, agents=agents)
    if kind == "agent-states":
        return agent_state_report(tl, bounds, settings, queue=queue, agent=agent,
                                  agents=agents)
    raise ValueError(f"unknown report {kind!r}")


def cached(cache: ReportCache, reader: ReportReader, kind: str, *, start: float, end: float,
           interval: str, settings: ReportSettings, now: float, queue: str | None = None,
           agent: str | None = None, queues: Iterable[str] | None = None,
           agents: Iterable[str] | None = None) -> Sequence[Row]:
    """``compute``'s rows through ``cache`` (``reports/cache.py``): given again while the
    stores' marks say nothing the report reads has changed."""
    boundaries(start, end, interval, settings.tz)  # a bad range is refused before any read
    stamp, expires = report_stamp(marks(reader.db), kind=kind, window_end=end + TAIL, now=now)
    key = (kind, start, end, interval, str(settings.tz), settings.short_abandon,
           tuple(sorted(settings.thresholds.items())), queue, agent,
           None if queues is None else frozenset(queues),
           None if agents is None else frozenset(agents))
    return cache.get(key, stamp, lambda: compute(
        reader, kind, start=start, end=end, interval=interval, settings=settings, now=now,
        queue=queue, agent=agent, queues=queues, agents=agents), expires=expires)


def today(db: Db | ReportReader, settings: ReportSettings, now: float) -> dict[str, QueueTotals]:
    """Each queue's totals for the local day holding ``now`` (callers who entered today)."""
    reader = db if isinstance(db, ReportReader) else ReportReader(db)
    start, end = today_range(now, settings.tz)
    rows = compute(reader, "queues", start=start, end=end, interval="day", settings=settings,
                   now=now)
    return {r.queue: r for r in rows if isinstance(r, QueueTotals)}


def plain(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The rows as JSON objects (what ``--format json`` prints and the API returns)."""
    return [dataclasses.asdict(r) for r in rows]
