"""Staffing per interval from a forecast (``docs/forecast.md``).

For each interval of ``interval_s`` seconds with ``calls`` forecast calls of ``aht`` seconds:

* traffic A = calls x AHT / interval (Erlangs);
* agents needed for the service-level target (e.g. 80 % within 20 s) by Erlang C (nobody
  hangs up) and by Erlang A (callers' mean patience measured from the queue's abandons);
* agents scheduled = ceil(needed / (1 - shrinkage)): the agents on the roster of whom
  ``shrinkage`` (breaks, meetings, absence) are not taking calls;
* trunks by Erlang B for a blocking target, on the line traffic calls x (line time + IVR time)
  / interval, the line time being the queue wait plus talk per offered call (a line is not
  held during wrap-up) and the IVR time a parameter (the queue log does not see it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from ..acd import erlang
from .forecast import Forecast, SlotForecast

_TARGET = re.compile(r"^(\d{1,2}(?:\.\d+)?)/(\d+(?:\.\d+)?)$")


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """``fraction`` (0-1) of the calls answered within ``seconds``."""

    fraction: float
    seconds: float

    @classmethod
    def parse(cls, text: str) -> ServiceTarget:
        """``PERCENT/SECONDS``, e.g. ``80/20``; ValueError otherwise."""
        m = _TARGET.match(text)
        if m is None:
            raise ValueError(f"target {text!r}: PERCENT/SECONDS, e.g. 80/20")
        return cls(float(m.group(1)) / 100, float(m.group(2)))

    def __str__(self) -> str:
        return f"{self.fraction * 100:g}/{self.seconds:g}"


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    """What staffing for one interval asks."""

    target: ServiceTarget
    shrinkage: float = 0.3
    blocking: float = 0.01
    ivr_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.shrinkage < 1:
            raise ValueError("shrinkage must be in [0, 1)")
        if not 0 < self.blocking < 1:
            raise ValueError("blocking must be in (0, 1)")
        if self.ivr_s < 0:
            raise ValueError("IVR time must be >= 0")


@dataclass(frozen=True, slots=True)
class SlotStaffing:
    start: datetime
    calls: float
    aht_s: float
    erlangs: float
    agents_erlang_c: int
    agents_erlang_a: int
    scheduled_erlang_c: int
    scheduled_erlang_a: int
    service_level_erlang_a: float  # at agents_erlang_a
    abandon_erlang_a: float  # expected share of calls abandoned at agents_erlang_a
    line_erlangs: float
    trunks: int


def scheduled(needed: int, shrinkage: float) -> int:
    """Agents to schedule so that ``needed`` take calls: ceil(needed / (1 - shrinkage))."""
    return math.ceil(round(needed / (1.0 - shrinkage), 9))  # 7 / 0.7 is 10.000000000000002


def staff_slot(f: SlotForecast, plan: StaffingPlan, *, interval_s: int,
               patience: float) -> SlotStaffing:
    """The staffing of one forecast interval."""
    sl, secs = plan.target.fraction, plan.target.seconds
    a = erlang.traffic(f.calls, interval_s, f.aht)
    if a > 0:
        n_c = erlang.agents_needed(a, f.aht, sl, secs)
        n_a = erlang.agents_needed_a(a, f.aht, patience, sl, secs)
        got = erlang.erlang_a(a, n_a, f.aht, patience, secs)
        sl_a, ab_a = got.service_level, got.p_abandon
    else:
        n_c = n_a = 0
        sl_a, ab_a = 1.0, 0.0
    lines = erlang.traffic(f.calls, interval_s, f.line_time + plan.ivr_s)
    return SlotStaffing(
        start=f.start, calls=f.calls, aht_s=f.aht, erlangs=a,
        agents_erlang_c=n_c, agents_erlang_a=n_a,
        scheduled_erlang_c=scheduled(n_c, plan.shrinkage),
        scheduled_erlang_a=scheduled(n_a, plan.shrinkage),
        service_level_erlang_a=sl_a, abandon_erlang_a=ab_a, line_erlangs=lines,
        trunks=erlang.lines_needed(lines, plan.blocking) if lines > 0 else 0)


def staffing(fc: Forecast, plan: StaffingPlan) -> list[SlotStaffing]:
    """Every interval of the forecast ``fc`` staffed."""
    return [staff_slot(f, plan, interval_s=fc.interval_s, patience=fc.patience)
            for f in fc.slots]
