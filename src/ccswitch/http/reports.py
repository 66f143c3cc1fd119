"""The reports API: ``/api/v1/reports/queues``, ``/reports/agents``,
``/reports/agent-states`` and ``/reports/audit`` return exactly the rows ``ccswitch report
--format json`` prints (``docs/reports.md``), computed in a worker thread on the reports'
read-only connection.

Query: ``from``/``to`` (ISO 8601 date or date-time, as the CLI's ``--from``/``--to``; default
today), ``interval`` (15m, 30m, 1h, day, week; default day), ``queue``, ``agent``, ``format``
(``json``, or ``csv``: the CLI's CSV as a download).  The admin sees everything, a supervisor
its queues and their agents (the audit, switch-wide: the admin and a supervisor of every
queue); an agent token gets 403.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ..reports import AgentStates, AgentTotals, AuditTotals, QueueTotals, Row, cached, plain
from ..reports.output import render
from ..reports.service import Reports
from ..reports.timerange import (
    INTERVALS,
    MAX_INTERVALS,
    TimeError,
    TooManyIntervals,
    default_range,
    parse_time,
)
from .access import Caller, Ctl, forbidden
from .app import API
from .auth import Principal
from .control import Control, CoreUnavailable
from .models import Problem, Refusal
from .views import ERRORS

_OFFSET = re.compile(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")
EXTRA_KEY = "reports"  # Control.extras key of the switch's Reports
TOO_LONG: dict[int | str, dict[str, Any]] = {422: {
    "model": Refusal, "description": f"the range is longer than {MAX_INTERVALS} intervals "
    "(detail names the limit), or a parameter could not be read"}}
"""The 422 answer of a report route (a range too long, or FastAPI's own refusal)."""
router = APIRouter(prefix=f"{API}/reports", tags=["reports"], responses={
    **ERRORS, 400: {"model": Problem, "description": "a bad from, to or interval"},
    **TOO_LONG})

From = Annotated[str | None, Query(alias="from", description="ISO 8601 date or date-time "
                                   "(local time of the report's zone without an offset); "
                                   "default: today 00:00; the range may be at most "
                                   f"{MAX_INTERVALS} intervals long (else 422)")]
To = Annotated[str | None, Query(description="a date: that day included; a date-time: "
                                 "excluded; default: the end of today")]
Interval = Annotated[str, Query(description="15m, 30m, 1h, day or week")]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv: the "
                                                 "CLI's --format csv, as a download")]


CSV: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}}},
    "description": "format=json: the rows; format=csv: the CLI's CSV, as a download"}}
"""The 200 answer of a route with ``format=csv`` (the OpenAPI document names both types)."""


def too_long(message: str) -> HTTPException:
    """422 with ``message`` (a range over the limit), for JSON and CSV alike."""
    return HTTPException(422, message)


def csv_download(text: str, name: str) -> Response:
    """``text`` as a CSV attachment named ``name``."""
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _answer(rows: Sequence[Row], kind: str, fmt: str) -> Response | None:
    """The CSV download of ``rows``, or ``None`` for JSON."""
    return csv_download(render(plain(rows), "csv", kind), f"{kind}.csv") if fmt == "csv" \
        else None


def _scope(who: Principal, ctl: Control) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """(queues, agents) the token may see (``None``: all)."""
    if who.is_admin or (who.role == "supervisor" and who.queues is None):
        return None, None
    if who.role != "supervisor":
        raise forbidden()
    queues = who.queues or frozenset()
    return queues, frozenset(a for a, qs in ctl.agent_queues.items()
                             if any(q in queues for q in qs))


def _plus(time: str) -> str:
    """``…T09:00:00 01:00`` back to ``+01:00``: an unencoded ``+`` in a query is a space."""
    return _OFFSET.sub(r"\1+\2", time)


async def _rows(ctl: Control, who: Principal, kind: str, from_: str | None, to: str | None,
                interval: str, queue: str | None, agent: str | None) -> Sequence[Row]:
    reports = ctl.extras.get(EXTRA_KEY)
    if not isinstance(reports, Reports):
        raise CoreUnavailable
    queues, agents = _scope(who, ctl)
    if interval not in INTERVALS:
        raise HTTPException(400, f"interval: {interval!r} is not one of {', '.join(INTERVALS)}")
    settings = reports.settings()
    now = time.time()
    try:
        start = None if from_ is None else parse_time(_plus(from_), settings.tz)
        end = None if to is None else parse_time(_plus(to), settings.tz, end=True)
        start, end = default_range(start, end, now, settings.tz)
        return await asyncio.to_thread(reports.read, lambda r: cached(
            reports.cache, r, kind, start=start, end=end, interval=interval,
            settings=settings, now=now, queue=queue, agent=agent, queues=queues,
            agents=agents))
    except TooManyIntervals as exc:
        raise too_long(str(exc)) from None
    except TimeError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/queues", response_model=list[QueueTotals], responses=CSV)
async def queue_report(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                       interval: Interval = "day", queue: str | None = None,
                       format: Format = "json") -> list[QueueTotals] | Response:
    """Per queue and interval: offered, answered, abandoned, service level, ASA, AHT..."""
    got = await _rows(ctl, who, "queues", from_, to, interval, queue, None)
    return _answer(got, "queues", format) or [r for r in got if isinstance(r, QueueTotals)]


@router.get("/agents", response_model=list[AgentTotals], responses=CSV)
async def agent_report(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                       interval: Interval = "day", queue: str | None = None,
                       agent: str | None = None, format: Format = "json"
                       ) -> list[AgentTotals] | Response:
    """Per agent and interval: calls, talk, wrap-up, logged-in and pause time, occupancy."""
    got = await _rows(ctl, who, "agents", from_, to, interval, queue, agent)
    return _answer(got, "agents", format) or [r for r in got if isinstance(r, AgentTotals)]


@router.get("/agent-states", response_model=list[AgentStates], responses=CSV)
async def agent_state_report(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                             interval: Interval = "day", queue: str | None = None,
                             agent: str | None = None, format: Format = "json"
                             ) -> list[AgentStates] | Response:
    """Per agent and interval: seconds logged in, talking, in wrap-up, paused (by reason)."""
    got = await _rows(ctl, who, "agent-states", from_, to, interval, queue, agent)
    return _answer(got, "agent-states", format) or [r for r in got
                                                    if isinstance(r, AgentStates)]


@router.get("/audit", response_model=list[AuditTotals], responses=CSV)
async def audit_report(who: Caller, ctl: Ctl, from_: From = None, to: To = None,
                       interval: Interval = "day", queue: str | None = None,
                       format: Format = "json") -> list[AuditTotals] | Response:
    """Per interval: time to answer, IVR time to queue, transfer speed and failures, failed
    calls by SIP code, media worker restarts and overloads (the availability audit)."""
    if _scope(who, ctl) != (None, None):  # its figures are the switch's, not a queue's
        raise forbidden()
    got = await _rows(ctl, who, "audit", from_, to, interval, queue, None)
    return _answer(got, "audit", format) or [r for r in got if isinstance(r, AuditTotals)]
