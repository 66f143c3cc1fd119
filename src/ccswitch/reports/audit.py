"""The availability audit: per interval, how fast the switch answers, how long the IVR takes
to reach a queue, how fast transfers complete, which calls failed with which SIP code, and
when media workers restarted or the switch shed load (``docs/reports.md``, "The audit").

Read from the durable event stream (``events``): ``call.started``, ``call.answered``,
``call.ended``, ``queue.caller_entered``, ``call.transfer_ended``,
``switch.worker_restarted`` and ``switch.overload``.  Percentiles are nearest-rank: the
value at rank ``ceil(p * n)`` of the ``n`` sorted values (a value that happened).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .reader import TAIL, ReportReader, Row
from .settings import ReportSettings
from .timerange import bucket, iso

TYPES = ("call.started", "call.answered", "call.ended", "queue.caller_entered",
         "call.transfer_ended", "switch.worker_restarted", "switch.overload")
IVR = "ivr"  # call.answered's callee_contact when the IVR answered


@dataclass(slots=True)
class AuditTotals:
    """One interval of the audit (times in seconds)."""

    interval_start: str
    interval_end: str
    answered: int = 0
    answer_mean_s: float = 0.0
    answer_p90_s: float = 0.0
    answer_p95_s: float = 0.0
    answer_max_s: float = 0.0
    failed: int = 0
    failed_codes: dict[str, int] = field(default_factory=dict)
    ivr_calls: int = 0
    ivr_to_queue: int = 0
    ivr_queue_mean_s: float = 0.0
    ivr_queue_p90_s: float = 0.0
    ivr_queue_p95_s: float = 0.0
    transfers: int = 0
    transfers_failed: int = 0
    transfer_mean_s: float = 0.0
    transfer_p90_s: float = 0.0
    transfer_p95_s: float = 0.0
    transfer_failed_codes: dict[str, int] = field(default_factory=dict)
    worker_restarts: int = 0
    worker_restart_times: list[str] = field(default_factory=list)
    overloads: int = 0
    shed_requests: int = 0
    overload_times: list[str] = field(default_factory=list)


def nearest_rank(values: Sequence[float], p: float) -> float:
    """The ``p`` quantile (0 < p ≤ 1) of ``values`` by nearest rank; 0 without values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def _figures(values: Sequence[float]) -> tuple[float, float, float, float]:
    """mean, p90, p95, max, rounded to ms."""
    if not values:
        return 0.0, 0.0, 0.0, 0.0
    return (round(sum(values) / len(values), 3), round(nearest_rank(values, 0.9), 3),
            round(nearest_rank(values, 0.95), 3), round(max(values), 3))


@dataclass(slots=True)
class _Bin:
    answers: list[float] = field(default_factory=list)
    failed: Counter[str] = field(default_factory=Counter)
    ivr_calls: int = 0
    ivr_waits: list[float] = field(default_factory=list)
    transfers: list[float] = field(default_factory=list)
    transfer_failed: Counter[str] = field(default_factory=Counter)
    restarts: list[float] = field(default_factory=list)
    overloads: list[float] = field(default_factory=list)
    shed: int = 0


class _Audit:
    def __init__(self, bounds: Sequence[float], start: float, end: float,
                 calls: set[str] | None) -> None:
        self.bounds, self.start, self.end, self.calls = bounds, start, end, calls
        self.bins = [_Bin() for _ in range(len(bounds) - 1)]
        self.started: dict[str, tuple[int, float]] = {}  # inbound call -> its bin, start
        self.ivr: dict[str, tuple[int, float]] = {}  # call in the IVR -> its bin, answer

    def bin(self, t: float) -> _Bin | None:
        i = bucket(t, self.bounds) if self.start <= t < self.end else None
        return None if i is None else self.bins[i]

    def mine(self, call_id: object) -> bool:
        return self.calls is None or call_id in self.calls

    def add(self, r: Row) -> None:
        d, t, kind = r.data, r.time, r.event
        if kind == "switch.worker_restarted":
            b = self.bin(t)
            if b is not None:
                b.restarts.append(t)
        elif kind == "switch.overload":
            since = float(d.get("since", t))
            b = self.bin(since)
            if b is not None:
                b.overloads.append(since)
                b.shed += int(d.get("shed", 0))
        elif not self.mine(d.get("call_id")):
            return
        elif kind == "call.started":
            i = bucket(t, self.bounds) if self.start <= t < self.end else None
            if i is not None and d.get("inbound", True):
                self.started[str(d["call_id"])] = (i, t)
        elif kind == "call.answered":
            self.answered(str(d["call_id"]), t, d.get("callee_contact"))
        elif kind == "queue.caller_entered":
            got = self.ivr.pop(str(d["call_id"]), None)
            if got is not None:
                self.bins[got[0]].ivr_waits.append(t - got[1])
        elif kind == "call.ended":
            status, b = int(d["status"]), self.bin(float(d["started"]))
            if b is not None and status >= 400 and d.get("answered") is None:
                b.failed[str(status)] += 1
        elif kind == "call.transfer_ended":
            b = self.bin(float(d["started"]))
            if b is not None:
                status = int(d["status"])
                if status == 200:
                    b.transfers.append(t - float(d["started"]))
                else:
                    b.transfer_failed[str(status)] += 1

    def answered(self, call_id: str, t: float, contact: object) -> None:
        got = self.started.pop(call_id, None)  # its first answer only
        if got is None:
            return
        i, began = got
        self.bins[i].answers.append(t - began)
        if contact == IVR:
            self.bins[i].ivr_calls += 1
            self.ivr[call_id] = (i, t)

    def rows(self, settings: ReportSettings) -> list[AuditTotals]:
        tz, out = settings.tz, []
        for i, b in enumerate(self.bins):
            row = AuditTotals(iso(self.bounds[i], tz), iso(self.bounds[i + 1], tz))
            row.answered = len(b.answers)
            row.answer_mean_s, row.answer_p90_s, row.answer_p95_s, row.answer_max_s = (
                _figures(b.answers))
            row.failed = sum(b.failed.values())
            row.failed_codes = dict(sorted(b.failed.items()))
            row.ivr_calls, row.ivr_to_queue = b.ivr_calls, len(b.ivr_waits)
            row.ivr_queue_mean_s, row.ivr_queue_p90_s, row.ivr_queue_p95_s, _ = (
                _figures(b.ivr_waits))
            row.transfers_failed = sum(b.transfer_failed.values())
            row.transfers = len(b.transfers) + row.transfers_failed
            row.transfer_mean_s, row.transfer_p90_s, row.transfer_p95_s, _ = (
                _figures(b.transfers))
            row.transfer_failed_codes = dict(sorted(b.transfer_failed.items()))
            row.worker_restarts = len(b.restarts)
            row.worker_restart_times = [iso(t, tz) for t in b.restarts]
            row.overloads, row.shed_requests = len(b.overloads), b.shed
            row.overload_times = [iso(t, tz) for t in b.overloads]
            out.append(row)
        return out


def queue_calls(rows: Iterable[Row], queue: str) -> set[str]:
    """The calls that entered ``queue``."""
    return {str(r.data["call_id"]) for r in rows
            if r.event == "queue.caller_entered" and r.data.get("queue") == queue}


def audit_report(reader: ReportReader, bounds: Sequence[float], settings: ReportSettings, *,
                 start: float, end: float, queue: str | None = None) -> list[AuditTotals]:
    """A row per interval of ``bounds`` for what began in [start, end) (outcomes read up to
    ``TAIL`` after ``end``); ``queue``: only the calls that entered it (worker restarts and
    overloads are the switch's and always counted)."""
    rows = reader.stream(TYPES, bounds[0], end + TAIL)
    calls = None if queue is None else queue_calls(rows, queue)
    audit = _Audit(bounds, start, end, calls)
    for r in rows:
        audit.add(r)
    return audit.rows(settings)
