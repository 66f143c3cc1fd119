"""The live wallboard: the page ``GET /`` (plain HTML/JS/CSS shipped in the package under
``http/static/wallboard/``, no build step) and the one API route it needs beyond the common
ones:

* ``GET /api/v1/wallboard`` - who the token is and what it may do (pause/ready agents,
  supervise calls and whose phone rings), each readable queue's display label, service-level
  threshold and *today's* figures, and each visible agent's display name.

The live state comes from ``GET /api/v1/queues``, ``/agents``, ``/calls`` and the WebSocket
``/api/v1/events?token=TOKEN`` (``?since=SEQ`` on reconnect), as for the agent desktop.

Today's figures (``WallboardQueueOut.today``) are the queue report's totals of the local day
in ``[reports] timezone`` (``reports.today``: from the durable queue event log, so a restart
loses nothing), read at most every ``TTL`` seconds (``reports/today_cache.py``).  Without a
store (the unit tests' switch) they are the router's counts since the start (``since``).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..call import queries
from ..call.queries import QueueView
from ..config.schema import SwitchConfig
from ..reports.queues import QueueTotals
from ..reports.service import Reports
from ..reports.today_cache import TodayCache
from .access import Caller, Ctl
from .auth import Principal, may_read_queue, may_see_agent
from .control import Control
from .models import TodayOut
from .pages import Page, add_page
from .reports import EXTRA_KEY as REPORTS_KEY
from .views import ERRORS

TODAY_KEY = "wallboard_today"  # Control.extras key of the shared TodayCache

router = APIRouter()


class WallboardQueueOut(BaseModel):
    name: str
    label: str = Field(description="the queue's display label ([queues.X] display), else "
                       "its name")
    service_level_s: float = Field(description="the queue's service-level threshold")
    today: TodayOut


class WallboardAgentOut(BaseModel):
    id: str
    name: str = Field(description="the user's display name, else its id")


class WallboardOut(BaseModel):
    """What the board shows around the live state, and which buttons it offers."""

    role: str
    user: str | None
    may_command: bool = Field(description="may pause an agent and make it ready")
    supervisors: list[str] = Field(
        description="whose phone a listen/whisper/barge rings: the supervisor token's own "
        "user, or for the admin every configured supervisor; empty: no supervise buttons")
    queues: list[WallboardQueueOut]
    agents: list[WallboardAgentOut]


def today_of(view: QueueView, day: QueueTotals | None = None) -> TodayOut:
    """A queue's figures: its row of the durable day when there is one (``day``), else
    the router's counts since the start."""
    if day is not None:
        seen = day.offered > 0
        return TodayOut(since="day", offered=day.offered, answered=day.answered,
                        abandoned=day.abandoned,
                        service_level=day.service_level if seen else None,
                        abandon_rate=day.abandon_rate if seen else None)
    ended = view.answered + view.abandoned
    return TodayOut(since="start", answered=view.answered, abandoned=view.abandoned,
                    service_level=view.service_level,
                    abandon_rate=view.abandoned / ended if ended else None)


async def durable_today(ctl: Control) -> dict[str, QueueTotals] | None:
    """Today's rows per queue from the store (cached), ``None`` when the switch has none."""
    reports = ctl.extras.get(REPORTS_KEY)
    if not isinstance(reports, Reports):
        return None
    cache = ctl.extras.get(TODAY_KEY)
    if not isinstance(cache, TodayCache) or cache.reports is not reports:
        cache = TodayCache(reports)
        ctl.extras[TODAY_KEY] = cache
    return await asyncio.to_thread(cache.get)


def supervisors_for(who: Principal, config: SwitchConfig) -> list[str]:
    """The users whose phones a supervise button may ring for this token."""
    if who.role == "supervisor":
        return [who.user] if who.user is not None and who.user in config.supervisors else []
    if who.is_admin:
        return list(config.supervisors)
    return []


def board(who: Principal, config: SwitchConfig, views: list[QueueView],
          agent_queues: dict[str, tuple[str, ...]],
          day: dict[str, QueueTotals] | None = None) -> WallboardOut:
    """The board's frame for ``who``: the queues and agents in its scope, in configuration
    order; ``day``: today's durable rows (``None``: the router's counts)."""
    def today(v: QueueView) -> TodayOut:
        if day is None:
            return today_of(v)
        return today_of(v, day.get(v.name) or QueueTotals(v.name, "", ""))

    queues = [WallboardQueueOut(name=v.name, label=config.queues[v.name].display or v.name,
                                service_level_s=config.queues[v.name].service_level,
                                today=today(v))
              for v in views if may_read_queue(who, v.name, agent_queues)]
    agents = [WallboardAgentOut(id=a, name=config.users[a].display or a)
              for a in agent_queues if may_see_agent(who, a, agent_queues)]
    return WallboardOut(role=who.role, user=who.user,
                        may_command=who.role in ("admin", "supervisor"),
                        supervisors=supervisors_for(who, config), queues=queues,
                        agents=agents)


# -- the page (it signs in with a supervisor's or the admin's API token) ------------------
PAGE = Page("wallboard", "wallboard", "/wallboard/board.css", "demo-supervisor-token",
            ("/reports/chart.js", "/wallboard/board.js"),
            {"board.js": "text/javascript", "board.css": "text/css"})
add_page(router, "/", PAGE)


# -- its API -----------------------------------------------------------------------------
@router.get("/api/v1/wallboard", tags=["wallboard"], responses=ERRORS)
async def wallboard(who: Caller, ctl: Ctl) -> WallboardOut:
    """The wallboard's frame: labels, names, today's figures per queue, and the token's
    rights (which buttons to show)."""
    day = await durable_today(ctl)
    sig = ctl.core()
    return board(who, sig.config, queries.queue_views(sig, ctl.clock()),
                 queries.agent_queues(sig), day)
