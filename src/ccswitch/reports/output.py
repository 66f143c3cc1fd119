"""The report as text: ``json`` (an array of objects, the API's rows), ``csv`` (every field,
a header line; per-code and per-reason counts and lists of times as JSON) or ``table`` (the
main figures, aligned, ratios as percentages)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "csv", "json")
TABLE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "queues": ("queue", "interval_start", "offered", "answered", "abandoned",
               "short_abandoned", "lost", "service_level", "asa_s", "aht_s", "longest_wait_s"),
    "agents": ("agent", "interval_start", "calls_answered", "talk_s", "hold_s", "wrapup_s",
               "logged_in_s", "paused_s", "occupancy", "utilisation"),
    "agent-states": ("agent", "interval_start", "logged_in_s", "talking_s", "hold_s",
                     "wrapup_s", "paused_s", "idle_s", "pause_reasons"),
    "audit": ("interval_start", "answered", "answer_mean_s", "answer_p95_s", "failed",
              "failed_codes", "ivr_to_queue", "ivr_queue_mean_s", "transfers",
              "transfers_failed", "transfer_mean_s", "worker_restarts",
              "worker_restart_times", "overloads", "shed_requests", "overload_times"),
}
_PERCENT = frozenset({"service_level", "occupancy", "utilisation"})
_KEYS = frozenset({"queue", "agent", "interval_start"})  # left-aligned
_MS = frozenset({"answer_mean_s", "answer_p95_s"})  # the switch answers in milliseconds


def render(rows: Sequence[dict[str, Any]], fmt: str, kind: str) -> str:
    """``rows`` (``reports.plain``) as ``fmt`` text, ending with a newline."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2) + "\n"
    if fmt == "csv":
        return _csv(rows)
    return _table(rows, TABLE_COLUMNS[kind])


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "" if value is None else str(value)


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if rows:
        w.writerow(list(rows[0]))
    for r in rows:
        w.writerow([_cell(v) for v in r.values()])
    return buf.getvalue()


def _shown(key: str, value: Any) -> str:
    if key in _PERCENT:
        return f"{100 * value:.1f}%"
    if key == "interval_start":
        return str(value)[:16].replace("T", " ")
    if isinstance(value, dict):
        return " ".join(f"{k}={v:g}" for k, v in value.items()) or "-"
    if isinstance(value, list):  # instants: their local time of day
        return ",".join(str(v)[11:19] for v in value) or "-"
    if isinstance(value, float):
        return f"{value:.3f}" if key in _MS else f"{value:.1f}"
    return str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(no rows)\n"
    cells = [[_shown(c, r[c]) for c in columns] for r in rows]
    heads = [c.removesuffix("_s").replace("_", " ") for c in columns]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append("  ".join(v.ljust(w) if c in _KEYS else v.rjust(w)
                               for c, v, w in zip(columns, row, widths, strict=True)
                               ).rstrip())
    return "\n".join(lines) + "\n"
