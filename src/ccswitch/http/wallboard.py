"""The live wallboard: the page ``GET /`` (plain HTML/JS/CSS shipped in the package under
``http/static/wallboard/``, no build step) and the one API route it needs beyond the common
ones:

* ``GET /api/v1/wallboard`` - who the token is and what it may do (pause/ready agents,
  supervise calls and whose phone rings), each readable queue's display label, service-level
  threshold and *today's* figures, and each visible agent's display name.

The live state comes from ``GET /api/v1/queues``, ``/agents``, ``/calls`` and the WebSocket
``/api/v1/events?token=TOKEN`` (``?since=SEQ`` on reconnect), as for the agent desktop.

Today's figures are ``today_of`` (one function, one field: ``WallboardQueueOut.today``): for
now the router's counts since the switch started (``call/queries.py`` ``QueueView``); the
durable per-day totals replace them here when the reports are built.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..call import queries
from ..call.queries import QueueView
from ..config.schema import SwitchConfig
from .access import Caller, Ctl
from .auth import Principal, may_read_queue, may_see_agent
from .views import ERRORS

_STATIC = {"board.js": "text/javascript", "board.css": "text/css"}

router = APIRouter()


class TodayOut(BaseModel):
    """A queue's figures for today.  ``since``: what "today" counts from - ``start`` (the
    switch's start: the router's counters, lost on restart) until the reports give the
    durable day.  ``abandon_rate``: abandoned / (answered + abandoned); ``service_level``:
    answered within the queue's threshold / answered; both 0-1, null before the first call."""

    since: Literal["start"]
    answered: int
    abandoned: int
    service_level: float | None
    abandon_rate: float | None


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


def today_of(view: QueueView) -> TodayOut:
    """Today's figures of a queue (for now: since the switch started)."""
    ended = view.answered + view.abandoned
    return TodayOut(since="start", answered=view.answered, abandoned=view.abandoned,
                    service_level=view.service_level,
                    abandon_rate=view.abandoned / ended if ended else None)


def supervisors_for(who: Principal, config: SwitchConfig) -> list[str]:
    """The users whose phones a supervise button may ring for this token."""
    if who.role == "supervisor":
        return [who.user] if who.user is not None and who.user in config.supervisors else []
    if who.is_admin:
        return list(config.supervisors)
    return []


def board(who: Principal, config: SwitchConfig, views: list[QueueView],
          agent_queues: dict[str, tuple[str, ...]]) -> WallboardOut:
    """The board's frame for ``who``: the queues and agents in its scope, in configuration
    order."""
    queues = [WallboardQueueOut(name=v.name, label=config.queues[v.name].display or v.name,
                                service_level_s=config.queues[v.name].service_level,
                                today=today_of(v))
              for v in views if may_read_queue(who, v.name, agent_queues)]
    agents = [WallboardAgentOut(id=a, name=config.users[a].display or a)
              for a in agent_queues if may_see_agent(who, a, agent_queues)]
    return WallboardOut(role=who.role, user=who.user,
                        may_command=who.role in ("admin", "supervisor"),
                        supervisors=supervisors_for(who, config), queues=queues,
                        agents=agents)


# -- the page ----------------------------------------------------------------------------
def _asset(name: str) -> bytes:
    return resources.files("ccswitch.http").joinpath("static", "wallboard", name).read_bytes()


@router.get("/", include_in_schema=False)
async def wallboard_page() -> Response:
    """The wallboard (it signs in with a supervisor's or the admin's API token)."""
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/wallboard/{name}", include_in_schema=False)
async def wallboard_asset(name: str) -> Response:
    kind = _STATIC.get(name)
    if kind is None:
        raise HTTPException(status_code=404, detail="not found")
    return Response(_asset(name), media_type=f"{kind}; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


# -- its API -----------------------------------------------------------------------------
@router.get("/api/v1/wallboard", tags=["wallboard"], responses=ERRORS)
async def wallboard(who: Caller, ctl: Ctl) -> WallboardOut:
    """The wallboard's frame: labels, names, today's figures per queue, and the token's
    rights (which buttons to show)."""
    sig = ctl.core()
    return board(who, sig.config, queries.queue_views(sig, ctl.clock()),
                 queries.agent_queues(sig))
