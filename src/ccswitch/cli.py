"""The ``ccswitch`` command: ``serve``, ``check-config``, ``queue-log``, ``report``, ``store
copy`` and the admin commands that talk to a running daemon's HTTP API (``calls``, ``queue``,
``agent``,
``hangup``, ``events``, ``cdr``, ``reload``, ``erlang``: ``docs/cli.md``).

Reads configuration files (the pure parser never touches the disk), applies command-line
overrides, and hands a finished :class:`SwitchConfig` to the daemon.  A bad configuration is one
line on stderr and exit status 2, before anything is started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources

from . import __version__
from .config.schema import (
    DEMO_FILENAME,
    LOG_FORMATS,
    LOG_LEVELS,
    SwitchConfig,
    apply_overrides,
    parse_config,
)
from .errors import ConfigError

EXIT_CONFIG = 2


def demo_text() -> str:
    """The text of the demo configuration shipped as package data."""
    return resources.files("ccswitch.config").joinpath(DEMO_FILENAME).read_text(encoding="utf-8")


def demo_config() -> SwitchConfig:
    """The built-in demo configuration (what ``serve`` runs without ``--config``)."""
    from .prompts.resolve import resolve_config

    text = demo_text()
    return resolve_config(parse_config(text, DEMO_FILENAME), filename=DEMO_FILENAME, text=text,
                          base_dir=str(resources.files("ccswitch.config")), probe=False)


def load_config(path: str) -> SwitchConfig:
    """Read and parse the TOML file ``path``; every failure is a ConfigError naming it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, "(file)", "not UTF-8 text", line) from None
    from .prompts.resolve import resolve_config  # reads the disk and PyAV: shell only
    from .reports.settings import check_timezone

    config = parse_config(text, path)
    check_timezone(config, path, text)  # the zone database is on disk: checked here
    # every prompt and music file exists and decodes, as absolute paths from the file's dir
    return resolve_config(config, filename=path, text=text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ccswitch`` command."""
    parser = argparse.ArgumentParser(
        prog="ccswitch", description="A call-center softswitch: SIP registrar, B2BUA, IVR, ACD.")
    parser.add_argument("--version", action="version", version=f"ccswitch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the switch",
                           description="Run the switch (the built-in demo configuration unless "
                                       "--config is given; flags override the file).")
    serve.add_argument("--config", metavar="FILE", help="TOML configuration file")
    serve.add_argument("--listen", metavar="URI", action="append",
                       help="TRANSPORT:HOST:PORT to listen on (udp, tcp, tls, ws, wss); "
                            "repeat for several; replaces the configured list")
    serve.add_argument("--rtp-ports", metavar="LO-HI", help="RTP port range, e.g. 20000-20999")
    serve.add_argument("--media-workers", metavar="N", type=int,
                       help="media worker processes (default: one per CPU core)")
    serve.add_argument("--data-dir", metavar="DIR", help="where state and recordings are kept")
    serve.add_argument("--store-dsn", metavar="DSN",
                       help="keep CDRs, events and the other tables in this PostgreSQL "
                            "database (postgresql://user@host:port/db) instead of SQLite "
                            "in the data dir")
    serve.add_argument("--http", metavar="HOST:PORT",
                       help="address of the HTTP API and /metrics (default 127.0.0.1:8080)")
    serve.add_argument("--log-format", choices=LOG_FORMATS,
                       help="console or json (default: console on a terminal, else json)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, help="default: info")
    serve.add_argument("--sip-trace", metavar="WHERE", nargs="?", const="log",
                       help="trace every SIP message sent and received: 'log' (the default "
                            "when WHERE is left out), 'pcap:FILE' or 'log,pcap:FILE'; "
                            "'off' turns a configured trace off")

    qlog = sub.add_parser("queue-log", help="print the queue event log (Asterisk queue_log)",
                          description="Print DATA_DIR's queue events as Asterisk queue_log "
                                      "lines (epoch|callid|queue|agent|EVENT|data...).")
    qlog.add_argument("--data-dir", metavar="DIR", default="./var",
                      help="the daemon's data dir (default ./var)")
    qlog.add_argument("--store-dsn", metavar="DSN",
                      help="read the daemon's PostgreSQL store instead of DATA_DIR/ccswitch.db")
    qlog.add_argument("--extended", action="store_true",
                      help="also ccswitch's own events (RINGSTART, CALLBACK...)")

    store = sub.add_parser("store", help="store maintenance: copy a data dir to PostgreSQL",
                           description="Store maintenance (docs/storage.md).")
    copy = store.add_subparsers(dest="store_command", required=True).add_parser(
        "copy", help="copy DATA_DIR's tables into PostgreSQL (idempotent)",
        description="Copy DATA_DIR/ccswitch.db's CDRs, recordings, queue events, events, "
                    "webhook positions and voicemail rows into the PostgreSQL database DSN; "
                    "running it again adds only what is missing.")
    copy.add_argument("--from", dest="source", metavar="DATA_DIR", required=True)
    copy.add_argument("--to", dest="dsn", metavar="DSN", required=True)

    check = sub.add_parser("check-config", help="validate a configuration file",
                           description="Validate FILE; exit 0 if it is good, 2 if not.")
    check.add_argument("file", metavar="FILE")
    from .reports.command import add_parser as add_report

    add_report(sub)
    _admin_parsers(sub)
    return parser


def _admin_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that talk to a running daemon (``docs/cli.md``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the daemon's HTTP address, e.g. http://127.0.0.1:8080 "
                                      "(default: $CCSWITCH_URL, else the configuration's http)")
    common.add_argument("--token", help="API token (default: $CCSWITCH_TOKEN, else the "
                                        "configuration's first admin token)")
    common.add_argument("--config", metavar="FILE",
                        help="configuration to take the address and token from (default: "
                             "the demo)")
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                              parents=[common])

    add("calls", "list live calls")
    queue = add("queue", "show queues: waiting callers and agents by state")
    queue.add_argument("action", choices=["show"])
    queue.add_argument("name", nargs="?", help="one queue, with its callers in line")
    agent = add("agent", "list agents or change one's state")
    agent.add_argument("action", choices=["list", "login", "logout", "pause", "ready"])
    agent.add_argument("id", nargs="?", help="the agent (all but list)")
    agent.add_argument("--reason", default="break", help="pause reason (default break)")
    hangup = add("hangup", "hang up a live call")
    hangup.add_argument("call", metavar="CALL", help="the call id (ccswitch calls)")
    events = add("events", "print the event stream, one event per line")
    events.add_argument("--follow", "-f", action="store_true",
                        help="keep printing live events (WebSocket) until interrupted")
    events.add_argument("--since", type=int, help="start after this seq (default: the "
                                                  "stored events, or now with --follow)")
    events.add_argument("--types", help="comma-separated event types or families")
    events.add_argument("--queues", help="comma-separated queues")
    events.add_argument("--agents", help="comma-separated agents")
    cdr = add("cdr", "export call-detail records")
    cdr.add_argument("action", choices=["export"])
    cdr.add_argument("--format", choices=["csv", "json", "ndjson"], default="csv")
    for key in ("from", "to"):
        cdr.add_argument(f"--{key}", dest=f"{key}_", metavar="TIME",
                         help="ISO 8601 or epoch seconds")
    for key in ("queue", "agent", "caller"):
        cdr.add_argument(f"--{key}")
    cdr.add_argument("--queue-events", action="store_true",
                     help="export the queue event log instead")
    add("reload", "make the daemon re-read its configuration")
    erl = add("erlang", "Erlang C (or A) staffing for a call volume")
    erl.add_argument("--calls", type=float, required=True, help="calls per period")
    erl.add_argument("--aht", type=float, required=True, help="average handle time, s")
    erl.add_argument("--target", default="80/20", help="service level: %% within s")
    erl.add_argument("--period", type=float, help="period in s (default 3600)")
    erl.add_argument("--agents", type=int, help="the staffing to evaluate")
    erl.add_argument("--patience", type=float,
                     help="callers' mean patience, s: Erlang A instead of Erlang C")


def build_config(args: argparse.Namespace) -> SwitchConfig:
    """The configuration ``serve`` runs: the file (or the demo) with the flags applied."""
    config = load_config(args.config) if args.config is not None else demo_config()
    return apply_overrides(
        config,
        listen=args.listen,
        rtp_ports=args.rtp_ports,
        data_dir=args.data_dir,
        http=args.http,
        log_format=args.log_format,
        log_level=args.log_level,
        media_workers=args.media_workers,
        sip_trace=args.sip_trace,
        store_dsn=args.store_dsn,
    )


def _check_config(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: OK")
    print(config.summary())
    return 0


def _queue_log(data_dir: str, extended: bool, dsn: str | None = None) -> int:
    from pathlib import Path

    from .acd.queue_log import format_events
    from .config.store import check_dsn
    from .store.db import DB_ERRORS, Db
    from .store.queue_events import QueueEventStore

    db = Path(data_dir) / "ccswitch.db"
    if dsn is not None:
        fault = check_dsn(dsn)
        if fault:
            print(f"ccswitch: --store-dsn: {fault}", file=sys.stderr)
            return EXIT_CONFIG
        try:
            store = QueueEventStore(Db.postgresql(dsn))
        except DB_ERRORS as e:
            print(f"ccswitch: --store-dsn: {e}", file=sys.stderr)
            return EXIT_CONFIG
    elif not db.exists():
        print(f"ccswitch: no {db}", file=sys.stderr)
        return EXIT_CONFIG
    else:
        store = QueueEventStore(db)
    try:
        for line in format_events(store.events(), extended=extended):
            print(line)
    finally:
        store.close()
    return 0


def _store_copy(data_dir: str, dsn: str) -> int:
    """Copy ``data_dir``'s store into the PostgreSQL database ``dsn``; the exit status."""
    import sqlite3
    from pathlib import Path

    from .config.store import check_dsn
    from .store.copy import Copied, copy_store, open_source
    from .store.db import DB_ERRORS, Db, redact

    fault = check_dsn(dsn)
    if fault:
        print(f"ccswitch store copy: --to: {fault}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        src = open_source(Path(data_dir))
    except (FileNotFoundError, sqlite3.Error) as e:  # the source is a SQLite file
        print(f"ccswitch store copy: --from: {e}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        dst = Db.postgresql(dsn)
    except DB_ERRORS as e:
        src.close()
        print(f"ccswitch store copy: --to {redact(dsn)}: {e}", file=sys.stderr)
        return EXIT_CONFIG

    def show(c: Copied) -> None:
        print(f"{c.table}: {c.read} read, {c.added} added"
              f" ({c.read - c.added} already there)", flush=True)

    try:
        copy_store(src, dst, progress=show)
    except DB_ERRORS as e:
        print(f"ccswitch store copy: failed: {e} (run it again: what is there is kept)",
              file=sys.stderr)
        return 1
    finally:
        src.close()
        dst.close()
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    from .logs import configure_logging

    configure_logging(config.log_format, config.log_level)
    from .daemon import run  # the daemon pulls in asyncio and the whole shell: import late

    return run(config, lambda: build_config(args))


ADMIN_COMMANDS = frozenset({"calls", "queue", "agent", "hangup", "events", "cdr", "reload",
                            "erlang"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "queue-log":
        return _queue_log(args.data_dir, args.extended, args.store_dsn)
    if args.command == "report":
        from .reports.command import FORECAST_INTERVAL, FORECAST_KINDS
        from .reports.command import run as report

        if args.kind in FORECAST_KINDS:
            from .reports.forecast_cli import run as forecast

            args.interval = args.interval or FORECAST_INTERVAL
            return forecast(args)
        status, text = report(args, load_config)
        print(text, end="", file=sys.stdout if status == 0 else sys.stderr)
        if status:
            print(file=sys.stderr)
        return status
    if args.command == "store":
        return _store_copy(args.source, args.dsn)
    if args.command in ADMIN_COMMANDS:
        from .cliadmin import run_admin

        return run_admin(args)
    return _serve(args)
