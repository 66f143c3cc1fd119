"""The report's reads: queue events by time (the ``queue_events_time`` index), the agents'
states before the range and the CDRs of the calls in it (``cdr_started`` index).

A call belongs to the interval it entered the queue in, but its outcome may come later: the
events are read from ``LOOKBACK`` before the range (the calls and states that reach into it)
to ``TAIL`` after it (the outcomes of the calls that entered in it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line's parser imports this package: no database driver yet
    from ..store.db import Db

LOOKBACK = 12 * 3600.0  # s read before the range: calls and wrap-ups reaching into it
TAIL = 24 * 3600.0  # s read after it: the outcome of a call that entered before its end
AGENT_EVENTS = ("AgentLoggedIn", "AgentLoggedOut", "AgentPaused", "AgentUnpaused")
STARTED = "SwitchStarted"
COUNTED = (STARTED, *AGENT_EVENTS, "CallerEntered", "CallerRefused", "CallerConnected",
           "CallerAbandoned", "CallerOverflowed", "CallerExitedWithKey", "CallbackRequested",
           "CallbackFailed", "CallCompleted", "CallTransferred", "CallDisposition", "CallHeld")
"""The events a report reads (offers, failed offers and callback attempts are not counted)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One stored queue event: wall-clock ``time``, class name, its fields."""

    time: float
    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Talk:
    """A CDR's answer and end (wall clock), for a call whose end the queue log lacks."""

    answered: float
    ended: float


def _rows(got: list[Any]) -> list[Row]:
    return [Row(float(t), e, json.loads(d)) for t, e, d in got]


class ReportReader:
    """Read-only queries on one connection (SQLite or PostgreSQL)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def events(self, since: float, until: float) -> list[Row]:
        """The queue events the reports count (``COUNTED``) with ``since <= time < until``,
        in order."""
        marks = ",".join("?" * len(COUNTED))
        return _rows(self.db.execute(
            "SELECT time, event, data FROM queue_events WHERE time >= ? AND time < ?"
            f" AND event IN ({marks}) ORDER BY time, id", (since, until, *COUNTED)).fetchall())

    def states_before(self, before: float) -> list[Row]:
        """Each agent's last state event before ``before``, and the last start before it."""
        marks = ",".join("?" * len(AGENT_EVENTS))
        got = self.db.execute(
            "SELECT time, event, data FROM queue_events WHERE id IN (SELECT max(id) FROM"
            f" queue_events WHERE time < ? AND event IN ({marks}) GROUP BY agent)"
            " OR id = (SELECT max(id) FROM queue_events WHERE time < ? AND event = ?)"
            " ORDER BY time, id", (before, *AGENT_EVENTS, before, STARTED)).fetchall()
        return _rows(got)

    def last_start(self, before: float | None = None) -> dict[str, Any] | None:
        """The fields of the last ``SwitchStarted`` (before ``before``), or ``None``."""
        if before is None:
            row = self.db.execute("SELECT data FROM queue_events WHERE id = (SELECT max(id)"
                                  " FROM queue_events WHERE event = ?)", (STARTED,)).fetchone()
        else:
            row = self.db.execute(
                "SELECT data FROM queue_events WHERE id = (SELECT max(id) FROM queue_events"
                " WHERE event = ? AND time < ?)", (STARTED, before)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def stream(self, types: tuple[str, ...], since: float, until: float) -> list[Row]:
        """The event stream's records (``events``, ``docs/events.md``) of ``types`` with
        ``since <= time < until``, in order (the ``events_type_time`` index)."""
        marks = ",".join("?" * len(types))
        return _rows(self.db.execute(
            f"SELECT time, type, data FROM events WHERE type IN ({marks}) AND time >= ?"
            " AND time < ? ORDER BY time, seq", (*types, since, until)).fetchall())

    def talks(self, since: float, until: float) -> dict[str, Talk]:
        """Answered queue calls' CDRs started in [since, until): call id -> answer, end."""
        got = self.db.execute(
            "SELECT call_id, answered, ended FROM cdr WHERE started >= ? AND started < ?"
            " AND agent IS NOT NULL AND answered IS NOT NULL", (since, until)).fetchall()
        return {c: Talk(float(a), float(e)) for c, a, e in got}
