"""Log output: the one place that configures structlog (and routes stdlib ``logging`` through it).

Every event carries an ISO-8601 UTC ``timestamp``, its ``level`` and its ``event`` name, plus any
context bound with ``structlog.contextvars.bind_contextvars`` (``call_id``, ``leg``, ``queue``…).
Output goes to stderr: a readable console rendering on a terminal, one JSON object a line
otherwise.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our stdlib handler, recognised (and replaced) when logging is configured again."""


def _leading_fields(_logger: object, _name: str, event: EventDict) -> EventDict:
    """Put ``timestamp``, ``level`` and ``event`` first in each JSON line."""
    head = {k: event.pop(k) for k in ("timestamp", "level", "event") if k in event}
    return {**head, **event}


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(fmt: str | None, level: str = "info", *,
                      stream: TextIO | None = None) -> None:
    """Send logs at ``level`` and above to ``stream`` (default stderr) as ``fmt``.

    ``fmt`` is ``"console"``, ``"json"`` or ``None`` (console if the stream is a terminal, else
    JSON).  Safe to call again: the previous configuration is replaced.
    """
    out = sys.stderr if stream is None else stream
    if fmt is None:
        fmt = "console" if _isatty(out) else "json"
    if fmt not in ("console", "json"):
        raise ValueError(f"log format must be 'console' or 'json', got {fmt!r}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    levelno = LEVELS[level.lower()]

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        timestamper,
    ]
    renderer: list[Processor]
    if fmt == "console":
        renderer = [structlog.dev.ConsoleRenderer(colors=_isatty(out))]
    else:
        renderer = [structlog.processors.format_exc_info, _leading_fields,
                    structlog.processors.JSONRenderer(sort_keys=False)]

    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        context_class=dict,
        cache_logger_on_first_use=False,
    )

    # Records from the standard library (asyncio, third-party code) get the same rendering.
    handler = _Handler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)
