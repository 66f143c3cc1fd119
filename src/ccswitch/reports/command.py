"""``ccswitch report [KIND]``: the arguments checked, the store opened, the report computed
and rendered.  ``run`` returns the exit status and the text; ``cli`` prints it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.schema import SwitchConfig
from ..config.store import check_dsn
from ..errors import ConfigError
from . import KINDS, compute, plain
from .output import FORMATS, render
from .reader import ReportReader
from .settings import from_config, from_started
from .timerange import INTERVALS, TimeError, default_range, parse_time

if TYPE_CHECKING:  # the store (and its database driver) is imported when a report runs
    from ..store.db import Db

EXIT_USAGE = 2
DEFAULT_INTERVAL = "day"
FORECAST_INTERVAL = "1h"
FORECAST_KINDS = ("forecast", "staffing")
ALL_KINDS = (*KINDS, *FORECAST_KINDS)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``report`` command: one parser for every kind (``docs/cli.md``); the forecast's
    own flags (``forecast_cli``) are on it too, used by ``forecast`` and ``staffing`` only."""
    from . import forecast_cli

    rep = sub.add_parser(
        "report", help="queue, agent, audit, forecast and staffing reports from the stored "
                       "events",
        description="Print a report computed from DATA_DIR's queue event log and CDRs: the "
                    "queue report (default), 'agents', 'agent-states', the availability "
                    "'audit' (docs/reports.md), or 'forecast' and 'staffing' "
                    "(docs/forecast.md).")
    rep.add_argument("kind", nargs="?", default="queues", choices=ALL_KINDS,
                     help="queues (default), agents, agent-states, audit, forecast or "
                          "staffing")
    rep.add_argument("--data-dir", metavar="DIR", default="./var",
                     help="the daemon's data dir (default ./var)")
    rep.add_argument("--store-dsn", metavar="DSN",
                     help="read the daemon's PostgreSQL store instead of DATA_DIR/ccswitch.db")
    rep.add_argument("--from", dest="from_", metavar="TIME",
                     help="ISO 8601 date or date-time (default: today 00:00)")
    rep.add_argument("--to", dest="to_", metavar="TIME",
                     help="ISO 8601 date (that day included) or date-time (excluded); "
                          "default: the end of today")
    rep.add_argument("--interval", metavar="15m|30m|1h|day|week",
                     help=f"rows per interval (default {DEFAULT_INTERVAL}; forecast and "
                          f"staffing: 15m, 30m or 1h, default {FORECAST_INTERVAL})")
    rep.add_argument("--queue", metavar="NAME", help="one queue (agents: those serving it; "
                                                     "audit: the calls that entered it)")
    rep.add_argument("--agent", metavar="NAME", help="agents, agent-states: one agent")
    rep.add_argument("--format", default="table", metavar="table|csv|json",
                     help="default table")
    rep.add_argument("--config", metavar="FILE",
                     help="take the time zone and thresholds from this configuration "
                          "(default: those the daemon last started with)")
    forecast_cli.add_own_arguments(rep, staffing=True)


def run(args: argparse.Namespace, load_config: Callable[[str], SwitchConfig]
        ) -> tuple[int, str]:
    """(exit status, text for stdout or, when the status is not 0, the one error line).
    ``forecast`` and ``staffing`` are not run here (``forecast_cli.run``)."""
    if args.interval is None:
        args.interval = DEFAULT_INTERVAL
    if args.interval not in INTERVALS:
        return EXIT_USAGE, (f"ccswitch report: --interval: {args.interval!r} is not one of "
                            f"{', '.join(INTERVALS)}")
    if args.kind == "audit" and args.agent is not None:
        return EXIT_USAGE, "ccswitch report: --agent: the audit has no agent rows (--queue)"
    if args.format not in FORMATS:
        return EXIT_USAGE, (f"ccswitch report: --format: {args.format!r} is not one of "
                            f"{', '.join(FORMATS)}")
    config = None
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            return EXIT_USAGE, str(exc)
    from ..store.db import DB_ERRORS

    try:
        db = _open(args.data_dir, args.store_dsn)
    except (LookupError, *DB_ERRORS) as exc:  # type: ignore[misc]
        return EXIT_USAGE, f"ccswitch report: {exc}"
    try:
        reader = ReportReader(db)
        settings = from_config(config) if config is not None else from_started(
            reader.last_start())
        now = time.time()
        try:
            start = None if args.from_ is None else parse_time(args.from_, settings.tz)
            end = None if args.to_ is None else parse_time(args.to_, settings.tz, end=True)
            start, end = default_range(start, end, now, settings.tz)
            rows = compute(reader, args.kind, start=start, end=end, interval=args.interval,
                           settings=settings, now=now, queue=args.queue, agent=args.agent)
        except TimeError as exc:
            return EXIT_USAGE, f"ccswitch report: {exc}"
    finally:
        db.close()
    return 0, render(plain(rows), args.format, args.kind)


def _open(data_dir: str, dsn: str | None) -> Db:
    """The store, its tables made current (as ``queue-log`` opens it)."""
    from ..store.cdr import CdrStore
    from ..store.db import Db
    from ..store.events import EventStore
    from ..store.queue_events import QueueEventStore

    if dsn is not None:
        fault = check_dsn(dsn)
        if fault:
            raise LookupError(f"--store-dsn: {fault}")
        db = Db.postgresql(dsn)
    else:
        path = Path(data_dir) / "ccswitch.db"
        if not path.exists():
            raise LookupError(f"no {path} (--data-dir: the daemon's data dir)")
        db = Db.sqlite(path)
    QueueEventStore(db)
    CdrStore(db)
    EventStore(db)  # the audit reads the event stream
    return db
