"""Forecast and staffing: ``/api/v1/forecast`` and ``/api/v1/staffing`` (``docs/forecast.md``).

The same objects as ``ccswitch report forecast|staffing --format json``, computed from the
queue event log on the history's read-only connection in a worker thread.  Admin and
supervisor tokens; a supervisor sees the queues it supervises (another queue: 403)."""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..reports import forecast_cli
from ..reports.forecast import MAX_WEEKS
from ..reports.service import Reports
from ..reports.staffing import StaffingPlan
from ..reports.zone import local_zone
from ..store.history import HistoryReader
from .access import Caller, Ctl, forbidden
from .app import API
from .auth import Principal
from .history import history_of
from .models import Problem
from .reports import CSV, Format, csv_download
from .reports import EXTRA_KEY as REPORTS_KEY
from .views import ERRORS

router = APIRouter(prefix=API, responses={
    **ERRORS, 400: {"model": Problem, "description": "a value out of range (the date)"}})
Interval = Literal["15m", "30m", "1h"]
QueueName = Annotated[str | None, Query(min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                                        description="one queue (default: each with history)")]
Weeks = Annotated[int, Query(ge=1, le=MAX_WEEKS, description="weeks of history to average")]
Day = Annotated[date | None, Query(alias="date", description="the day to forecast "
                                   "(default tomorrow)")]


class ForecastInterval(BaseModel):
    interval_start: datetime
    calls: float = Field(description="calls offered")
    aht_s: float = Field(description="talk + wrap-up per handled call")
    line_time_s: float = Field(description="queue wait + talk per offered call")


class _ForecastHead(BaseModel):
    queue: str
    date: dt.date
    interval_s: int
    source_days: list[dt.date] = Field(description="the same weekdays averaged, newest first")
    patience_s: float | None = Field(description="callers' mean patience: total queue time "
                                     "/ abandons (null: nobody abandoned)")
    mape_pct: float | None = Field(description="forecast error on the held-out week, %")
    mape_intervals: int
    mape_skipped_zero: int = Field(description="held-out intervals without calls, left out")
    holdout_days: int


class ForecastOut(_ForecastHead):
    intervals: list[ForecastInterval]


class StaffingInterval(BaseModel):
    interval_start: datetime
    calls: float
    aht_s: float
    erlangs: float
    agents_erlang_c: int
    agents_erlang_a: int
    scheduled_erlang_c: int = Field(description="ceil(agents / (1 - shrinkage))")
    scheduled_erlang_a: int
    service_level_erlang_a: float
    abandon_erlang_a: float
    line_erlangs: float
    trunks: int = Field(description="Erlang B lines for the blocking target")


class StaffingOut(_ForecastHead):
    target: str
    shrinkage: float
    blocking: float
    ivr_time_s: float
    intervals: list[StaffingInterval]


def _in_scope(who: Principal, queue: str | None) -> None:
    if who.role == "agent" or (queue is not None and who.role == "supervisor"
                               and who.queues is not None and queue not in who.queues):
        raise forbidden()


async def _compute(ctl: Ctl, who: Principal, *, kind: str, queue: str | None,
                   day: date | None, interval: str, weeks: int,
                   plan: StaffingPlan) -> list[dict[str, Any]]:
    _in_scope(who, queue)
    reports = ctl.extras.get(REPORTS_KEY)
    zone = reports.settings().tz if isinstance(reports, Reports) else local_zone()
    today = datetime.now(zone).date()
    try:
        forecast_cli.check_day(day or today)
    except ValueError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None

    def run(r: HistoryReader) -> list[dict[str, Any]]:
        args: dict[str, Any] = dict(kind=kind, day=day or today + timedelta(days=1),
                                    today=today, tz=zone,
                                    interval_s=forecast_cli.INTERVALS[interval], weeks=weeks,
                                    queue=queue, plan=plan)
        if isinstance(reports, Reports):  # shared with the other boards and report pages
            return forecast_cli.cached(reports.cache, r.db, **args)
        return forecast_cli.compute(r.db, **args)

    out = await asyncio.to_thread(history_of(ctl).read, run)
    if who.role == "supervisor" and who.queues is not None:
        out = [o for o in out if o["queue"] in who.queues]
    return out


@router.get("/forecast", tags=["planning"], response_model=list[ForecastOut],
            responses=CSV)
async def get_forecast(who: Caller, ctl: Ctl, queue: QueueName = None, day: Day = None,
                       interval: Interval = "1h", weeks: Weeks = 4,
                       format: Format = "json") -> list[ForecastOut] | Response:
    """Calls and handle time per interval of a day, one object per queue."""
    out = await _compute(ctl, who, kind="forecast", queue=queue, day=day, interval=interval,
                         weeks=weeks, plan=forecast_cli.plan_of("80/20", 0.0))
    if format == "csv":
        return csv_download(forecast_cli.render(out, "csv"), "forecast.csv")
    return [ForecastOut.model_validate(o) for o in out]


@router.get("/staffing", tags=["planning"], response_model=list[StaffingOut],
            responses=CSV)
async def get_staffing(
    who: Caller, ctl: Ctl, queue: QueueName = None, day: Day = None,
    interval: Interval = "1h", weeks: Weeks = 4,
    target: Annotated[str, Query(pattern=r"^\d{1,2}(\.\d+)?/\d+(\.\d+)?$",
                                 description="PERCENT/SECONDS, e.g. 80/20")] = "80/20",
    shrinkage: Annotated[float, Query(ge=0, lt=1)] = 0.3,
    blocking: Annotated[float, Query(gt=0, lt=1)] = 0.01,
    ivr_time: Annotated[float, Query(ge=0, le=3600)] = 0.0,
    format: Format = "json",
) -> list[StaffingOut] | Response:
    """Agents (Erlang C, Erlang A, scheduled with shrinkage) and trunks (Erlang B) per
    interval of a day's forecast, one object per queue."""
    try:
        plan = forecast_cli.plan_of(target, shrinkage, blocking, ivr_time)
    except ValueError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    out = await _compute(ctl, who, kind="staffing", queue=queue, day=day, interval=interval,
                         weeks=weeks, plan=plan)
    if format == "csv":
        return csv_download(forecast_cli.render(out, "csv"), "staffing.csv")
    return [StaffingOut.model_validate(o) for o in out]
