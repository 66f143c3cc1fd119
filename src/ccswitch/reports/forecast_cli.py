"""``ccswitch report forecast`` and ``ccswitch report staffing``: read the queue event log
(``--data-dir`` or ``--store-dsn``), forecast a day per interval and staff it; a table, CSV or
JSON (the same objects as ``/api/v1/forecast`` and ``/api/v1/staffing``)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.schema import SwitchConfig
from ..errors import ConfigError
from .cache import ReportCache, first_row, outcome_mark
from .forecast import DEFAULT_HOLDOUT, DEFAULT_WEEKS, MAX_WEEKS, Forecast, forecast
from .history_input import day_bounds
from .reader import ReportReader
from .settings import from_config, from_started
from .staffing import ServiceTarget, SlotStaffing, StaffingPlan, staffing

if TYPE_CHECKING:  # the parser is built for every ccswitch command: no database driver yet
    from ..store.db import Db

EXIT_USAGE = 2
INTERVALS = {"15m": 900, "30m": 1800, "1h": 3600}
DEFAULTS: dict[str, Any] = {"weeks": DEFAULT_WEEKS, "date": None, "target": "80/20",
                            "shrinkage": 0.3, "blocking": 0.01, "ivr_time": 0.0}


def add_own_arguments(p: argparse.ArgumentParser, *, staffing: bool) -> None:
    """The flags only forecast (and staffing) take; ``run`` reads each with its default when
    a parser shared with other kinds leaves one out."""
    p.add_argument("--weeks", type=int, default=DEFAULT_WEEKS,
                   help=f"weeks of history to average, 1-{MAX_WEEKS} (default {DEFAULT_WEEKS})")
    p.add_argument("--date", metavar="DAY", help="the day to forecast, YYYY-MM-DD "
                                                 "(default tomorrow)")
    if staffing:
        p.add_argument("--target", default=DEFAULTS["target"],
                       help="service level: PERCENT/SECONDS answered within (default 80/20)")
        p.add_argument("--shrinkage", type=float, default=DEFAULTS["shrinkage"],
                       help="share of scheduled time not on calls, 0-1 (default 0.3)")
        p.add_argument("--blocking", type=float, default=DEFAULTS["blocking"],
                       help="trunks: Erlang B blocking target (default 0.01)")
        p.add_argument("--ivr-time", type=float, default=DEFAULTS["ivr_time"], metavar="S",
                       help="seconds a call spends in the IVR before the queue (default 0)")


FIRST_DAY, LAST_DAY = date(1971, 1, 1), date(2199, 12, 31)


def check_day(day: date) -> date:
    """``day`` if it is a day a forecast can be asked for; ValueError otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"date {day.isoformat()} is out of range ({FIRST_DAY.year}-"
                         f"{LAST_DAY.year})")
    return day


def open_store(data_dir: str, dsn: str | None) -> Db:
    """A read-only connection to the daemon's store; ValueError when there is none."""
    from ..store.db import Location

    if dsn is not None:
        return Location(Path(data_dir), dsn).connect(read_only=True)
    path = Path(data_dir) / "ccswitch.db"
    if not path.exists():
        raise ValueError(f"no {path}")
    return Location(path).connect(read_only=True)


def plan_of(target: str, shrinkage: float, blocking: float = 0.01,
            ivr_s: float = 0.0) -> StaffingPlan:
    """The staffing plan of the flags (or query parameters); ValueError names the fault."""
    return StaffingPlan(ServiceTarget.parse(target), shrinkage, blocking, ivr_s)


def forecast_dict(fc: Forecast) -> dict[str, Any]:
    """The JSON object of one queue's forecast."""
    acc = fc.accuracy
    return {
        "queue": fc.queue, "date": fc.day.isoformat(), "interval_s": fc.interval_s,
        "source_days": [d.isoformat() for d in fc.source_days],
        "patience_s": None if math.isinf(fc.patience) else round(fc.patience, 3),
        "mape_pct": None if acc.mape is None else round(acc.mape, 3),
        "mape_intervals": acc.intervals, "mape_skipped_zero": acc.skipped,
        "holdout_days": acc.days,
        "intervals": [{"interval_start": f.start.isoformat(), "calls": round(f.calls, 3),
                       "aht_s": round(f.aht, 3), "line_time_s": round(f.line_time, 3)}
                      for f in fc.slots]}


def staffing_dict(fc: Forecast, plan: StaffingPlan,
                  rows: list[SlotStaffing]) -> dict[str, Any]:
    """The JSON object of one queue's staffing."""
    out = forecast_dict(fc)
    out.update(target=str(plan.target), shrinkage=plan.shrinkage, blocking=plan.blocking,
               ivr_time_s=plan.ivr_s)
    out["intervals"] = [
        {"interval_start": r.start.isoformat(),
         **{k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(r).items()
            if k != "start"}} for r in rows]
    return out


def compute(db: Db, *, kind: str, day: date, today: date, tz: tzinfo, interval_s: int,
            weeks: int, queue: str | None, plan: StaffingPlan) -> list[dict[str, Any]]:
    """The JSON objects of ``kind`` (forecast or staffing), one per queue."""
    fcs = forecast(db, day=day, today=today, tz=tz, interval_s=interval_s, weeks=weeks,
                   holdout=DEFAULT_HOLDOUT, queue=queue)
    if kind == "forecast":
        return [forecast_dict(fc) for fc in fcs]
    return [staffing_dict(fc, plan, staffing(fc, plan)) for fc in fcs]


def cached(cache: ReportCache, db: Db, *, kind: str, day: date, today: date, tz: tzinfo,
           interval_s: int, weeks: int, queue: str | None,
           plan: StaffingPlan) -> list[dict[str, Any]]:
    """``compute`` through ``cache``: given again while no outcome of the history's callers
    has been written since (``reports/cache.py``)."""
    stamp = (first_row(db), *outcome_mark(db, day_bounds(min(day, today), tz)[0]))
    key = ("forecast", kind, day, today, str(tz), interval_s, weeks, queue, repr(plan))
    return cache.get(key, stamp, lambda: compute(
        db, kind=kind, day=day, today=today, tz=tz, interval_s=interval_s, weeks=weeks,
        queue=queue, plan=plan), expires=False)


def zone_of(db: Db, config_file: str | None,
            load_config: Callable[[str], SwitchConfig] | None) -> tzinfo:
    """The report's zone, as ``ccswitch report`` takes it: ``[reports] timezone`` of
    ``--config`` when given, else the one the daemon last started with (its start mark in
    the queue log), else the machine's.  ConfigError from a bad ``--config``."""
    if config_file is not None and load_config is not None:
        return from_config(load_config(config_file)).tz
    return from_started(ReportReader(db).last_start()).tz


def run(args: argparse.Namespace, tz: tzinfo | None = None,
        load_config: Callable[[str], SwitchConfig] | None = None) -> int:
    """Run ``report forecast`` / ``report staffing``; errors are one line and exit 2.
    ``tz``: the zone to use, else ``zone_of`` (``--config`` read with ``load_config``)."""
    from ..store.db import DB_ERRORS

    kind = args.kind
    opt = {k: getattr(args, k, v) for k, v in DEFAULTS.items()}
    try:
        db = open_store(args.data_dir or "./var", args.store_dsn)
    except ValueError as e:
        return _fail(kind, str(e))
    except DB_ERRORS as e:
        return _fail(kind, str(e))
    try:
        zone = tz or zone_of(db, getattr(args, "config", None), load_config)
    except ConfigError as e:
        db.close()
        sys.stderr.write(f"{e}\n")
        return EXIT_USAGE
    except DB_ERRORS as e:
        db.close()
        return _fail(kind, f"cannot read the queue events: {e}")
    today = datetime.now(zone).date()
    try:
        day = check_day(date.fromisoformat(opt["date"]) if opt["date"]
                        else today + timedelta(days=1))
        if not 1 <= opt["weeks"] <= MAX_WEEKS:
            raise ValueError(f"--weeks must be from 1 to {MAX_WEEKS}")
        if args.interval not in INTERVALS:
            raise ValueError(f"--interval must be one of {', '.join(INTERVALS)}")
        plan = (plan_of(opt["target"], opt["shrinkage"], opt["blocking"], opt["ivr_time"])
                if kind == "staffing" else plan_of("80/20", 0.0))
    except ValueError as e:
        db.close()
        return _fail(kind, str(e))
    try:
        out = compute(db, kind=kind, day=day, today=today, tz=zone,
                      interval_s=INTERVALS[args.interval], weeks=opt["weeks"], queue=args.queue,
                      plan=plan)
    except DB_ERRORS as e:
        return _fail(kind, f"cannot read the queue events: {e}")
    finally:
        db.close()
    try:
        sys.stdout.write(render(out, args.format))
        sys.stdout.flush()
    except BrokenPipeError:  # `ccswitch report staffing | head`
        pass
    return 0


def _fail(kind: str, message: str) -> int:
    sys.stderr.write(f"ccswitch report {kind}: {message}\n")
    return EXIT_USAGE


def render(objs: list[dict[str, Any]], fmt: str) -> str:
    """``objs`` as JSON, CSV (one row per queue and interval) or tables."""
    if fmt == "json":
        return json.dumps(objs, indent=2) + "\n"
    rows = [{"queue": o["queue"], **r} for o in objs for r in o["intervals"]]
    if fmt == "csv":
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()
    parts = []
    for o in objs:
        mape = ("-" if o["mape_pct"] is None else
                f"{o['mape_pct']:.1f} % over {o['mape_intervals']} intervals"
                f" ({o['mape_skipped_zero']} without calls skipped)")
        patience = "-" if o["patience_s"] is None else f"{o['patience_s']:.0f} s"
        parts.append(f"queue {o['queue']}  {o['date']}  from {', '.join(o['source_days']) or '-'}"
                     f"  patience {patience}  MAPE {mape}")
        cols = [k for k in o["intervals"][0] if k != "interval_start"] if o["intervals"] else []
        parts.append(_table(["start", *cols], [[r["interval_start"][11:16],
                                                 *(r[c] for c in cols)] for r in o["intervals"]]))
        parts.append("")
    return "\n".join(parts) + ("\n" if parts else "no history\n")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    """Right-aligned columns (numbers to 2 decimals), two spaces apart."""
    cells = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True))
                     for line in [headers, *cells])
