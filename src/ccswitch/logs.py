"""Log output: the one place that configures structlog (and routes stdlib ``logging`` through it).

Every event carries an ISO-8601 UTC ``timestamp``, its ``level`` and its ``event`` name, plus any
context bound with ``structlog.contextvars.bind_contextvars`` (``call_id``, ``leg``, ``queue``…).
Output goes to stderr: a readable console rendering on a terminal, one JSON object a line
otherwise.  Values are plain strings, numbers, booleans or None (lists of those stay lists):
call sites format their own values, and ``plain_values`` turns anything else (an enum, a
dataclass, a tuple, bytes) into a plain string as a safety net, never a Python repr.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import sys
from typing import Any, TextIO

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


_PLAIN = (str, int, float, bool, type(None))
_KEEP = frozenset({"exc_info", "stack_info", "exception"})  # rendered by their processors


def plain(value: Any) -> Any:
    """``value`` as a plain log value: str/int/float/bool/None as they are, a list of plain
    values as a list; an enum as its value, a dataclass as ``field=value`` pairs, bytes as
    text, a tuple or set as comma-joined items, anything else as ``str()``."""
    if isinstance(value, _PLAIN) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(f"{f.name}={_text(plain(getattr(value, f.name)))}"
                        for f in dataclasses.fields(value))
    if isinstance(value, tuple | set | frozenset):
        return ",".join(_text(plain(v)) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={_text(plain(v))}" for k, v in value.items())
    return str(value)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)


def plain_values(_logger: object, _name: str, event: EventDict) -> EventDict:
    """Processor: every value not already plain becomes a plain string (see ``plain``)."""
    for key, value in event.items():
        if type(value) in _PLAIN or key in _KEEP or key[:1] == "_":
            continue  # the common case: one type lookup (enum members are never _PLAIN)
        event[key] = plain(value)
    return event


def _leading_fields(_logger: object, _name: str, event: EventDict) -> EventDict:
    """Put ``timestamp``, ``level`` and ``event`` first in each JSON line."""
    head = {k: event.pop(k) for k in ("timestamp", "level", "event") if k in event}
    return {**head, **event}


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(fmt: str | None, level: str = "info", *,
                      stream: TextIO | None = None, cache: bool = False) -> None:
    """Send logs at ``level`` and above to ``stream`` (default stderr) as ``fmt``.

    ``fmt`` is ``"console"``, ``"json"`` or ``None`` (console if the stream is a terminal, else
    JSON).  Safe to call again: the previous configuration is replaced — except, with
    ``cache``, for the loggers already used: each module logger then builds its bound logger
    once, at its first call, instead of at every call (measured: ~5 µs per call, even for a
    line below the level, a few dozen per anchored call).  Only a process that configures
    logging once for its life (the daemon, a media worker) asks for it.
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
        plain_values,
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
        cache_logger_on_first_use=cache,
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
