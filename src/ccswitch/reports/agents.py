"""The agent reports, per agent and interval.

``agents``: calls answered (counted in the interval the agent answered), transfers and
disposition codes (where they happened), and the agent's time in each state within the
interval (a span that crosses a boundary is split: talk (hold included), hold, wrap-up,
logged-in and pause seconds each fall where they were spent), occupancy and utilisation.
``agent-states``: the time per state and the pause time per reason.  Formulas: ``docs/reports.md``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .settings import ReportSettings
from .timeline import Timeline
from .timerange import bucket, iso, spread


@dataclass(slots=True)
class AgentTotals:
    """One row of the agent report (seconds, ratios 0-1)."""

    agent: str
    interval_start: str
    interval_end: str
    calls_answered: int = 0
    transfers: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    handle_s: float = 0.0
    aht_s: float = 0.0
    logged_in_s: float = 0.0
    paused_s: float = 0.0
    available_s: float = 0.0
    occupancy: float = 0.0
    utilisation: float = 0.0
    dispositions: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class AgentStates:
    """One row of the agent-state report: seconds per state, pauses per reason."""

    agent: str
    interval_start: str
    interval_end: str
    logged_in_s: float = 0.0
    talking_s: float = 0.0
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    paused_s: float = 0.0
    idle_s: float = 0.0
    logins: int = 0
    pauses: int = 0
    pause_reasons: dict[str, float] = field(default_factory=dict)


def _selected(tl: Timeline, queue: str | None, agent: str | None,
              agents: Iterable[str] | None) -> set[str]:
    names = {s.agent for s in tl.spans} | {m.agent for m in tl.marks}
    if agent is not None:
        names &= {agent}
    if agents is not None:
        names &= set(agents)
    if queue is not None:
        names = {a for a in names if queue in tl.agent_queues.get(a, ())
                 or any(m.agent == a and m.queue == queue for m in tl.marks)}
    return names


Seconds = defaultdict[str, float]


def _seconds(tl: Timeline, bounds: Sequence[float]) -> dict[tuple[str, int], Seconds]:
    """(agent, interval) -> seconds per state, per ``paused:REASON``, and (``#STATE``) how
    many log-ins and pauses began in it."""
    out: dict[tuple[str, int], Seconds] = defaultdict(lambda: defaultdict(float))
    for sp in tl.spans:
        for i, secs in spread(sp.start, sp.stop, bounds):
            c = out[(sp.agent, i)]
            c[sp.state] += secs
            if sp.state == "paused":
                c["paused:" + sp.reason] += secs
            if sp.start >= bounds[i] and sp.state in ("logged_in", "paused"):
                c["#" + sp.state] += 1  # begun in this interval
    return out


def agent_report(tl: Timeline, bounds: Sequence[float], settings: ReportSettings, *,
                 queue: str | None = None, agent: str | None = None,
                 agents: Iterable[str] | None = None) -> list[AgentTotals]:
    """Rows per agent and interval where the agent was logged in or counted something."""
    secs = _seconds(tl, bounds)
    counts: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    codes: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    for m in tl.marks:
        i = bucket(m.time, bounds)
        if i is not None:
            counts[(m.agent, i)][m.kind] += 1
            if m.kind == "disposition":
                codes[(m.agent, i)][m.code] += 1
    rows = []
    for name in sorted(_selected(tl, queue, agent, agents)):
        for i in range(len(bounds) - 1):
            s = secs.get((name, i), defaultdict(float))
            n = counts.get((name, i), Counter())
            if not s and not n:
                continue
            handle = s["talking"] + s["wrapup"]
            logged, paused = s["logged_in"], s["paused"]
            rows.append(AgentTotals(
                agent=name, interval_start=iso(bounds[i], settings.tz),
                interval_end=iso(bounds[i + 1], settings.tz),
                calls_answered=n["answered"], transfers=n["transfer"],
                talk_s=round(s["talking"], 3), hold_s=round(s["hold"], 3),
                wrapup_s=round(s["wrapup"], 3),
                handle_s=round(handle, 3),
                aht_s=round(handle / n["answered"], 3) if n["answered"] else 0.0,
                logged_in_s=round(logged, 3), paused_s=round(paused, 3),
                available_s=round(logged - paused, 3),
                occupancy=round(handle / (logged - paused), 4) if logged > paused else 0.0,
                utilisation=round(handle / logged, 4) if logged else 0.0,
                dispositions=dict(sorted(codes.get((name, i), Counter()).items()))))
    return rows


def agent_state_report(tl: Timeline, bounds: Sequence[float], settings: ReportSettings, *,
                       queue: str | None = None, agent: str | None = None,
                       agents: Iterable[str] | None = None) -> list[AgentStates]:
    """Rows per agent and interval where the agent was logged in."""
    secs = _seconds(tl, bounds)
    rows = []
    for name in sorted(_selected(tl, queue, agent, agents)):
        for i in range(len(bounds) - 1):
            s = secs.get((name, i))
            if not s:
                continue
            logged, paused = s["logged_in"], s["paused"]
            busy = s["talking"] + s["wrapup"]
            rows.append(AgentStates(
                agent=name, interval_start=iso(bounds[i], settings.tz),
                interval_end=iso(bounds[i + 1], settings.tz),
                logged_in_s=round(logged, 3), talking_s=round(s["talking"], 3),
                hold_s=round(s["hold"], 3),
                wrapup_s=round(s["wrapup"], 3), paused_s=round(paused, 3),
                idle_s=round(max(0.0, logged - paused - busy), 3),
                logins=int(s["#logged_in"]), pauses=int(s["#paused"]),
                pause_reasons={k.split(":", 1)[1]: round(v, 3)
                               for k, v in sorted(s.items()) if k.startswith("paused:")}))
    return rows
