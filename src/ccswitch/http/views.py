"""Read-only routes: queues, agents, calls, room members (``call/queries.py`` views, filtered
by the caller's scope).  Out of scope and "no such object" give the same 403 to anyone but
the admin, so a token cannot probe for names it may not see."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ..call import queries
from ..call.queries import CallView, QueueView
from .access import Caller, Ctl, forbidden
from .app import API
from .auth import Principal, may_read_queue, may_see_agent, may_see_call
from .control import Control
from .models import AgentOut, CallOut, Problem, QueueOut, RoomMemberOut

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "missing or unknown token"},
    403: {"model": Problem, "description": "out of the token's scope"},
    429: {"model": Problem, "description": "too many failed attempts from this address"},
    503: {"model": Problem, "description": "the switch is starting or stopping"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    **ERRORS, 404: {"model": Problem, "description": "no such object (admin token)"}}

router = APIRouter(prefix=API, responses=ERRORS)


def missing(who: Principal, what: str) -> HTTPException:
    """No such object: 404 for the admin, the same 403 as out-of-scope for anyone else."""
    if who.is_admin:
        return HTTPException(status_code=404, detail=f"no {what}")
    return forbidden()


@router.get("/queues", tags=["queues"])
async def list_queues(who: Caller, ctl: Ctl) -> list[QueueOut]:
    """Every queue the token may read, with its waiting callers and agents by state."""
    sig, now = ctl.core(), ctl.clock()
    views = [v for v in queries.queue_views(sig, now)
             if may_read_queue(who, v.name, ctl.agent_queues)]
    return await _with_today(ctl, views)


@router.get("/queues/{name}", tags=["queues"], responses=NOT_FOUND)
async def get_queue(name: str, who: Caller, ctl: Ctl) -> QueueOut:
    if not may_read_queue(who, name, ctl.agent_queues):
        raise forbidden()
    view = queries.queue_view(ctl.core(), name, ctl.clock())
    if view is None:
        raise missing(who, "queue")
    (out,) = await _with_today(ctl, [view])
    return out


async def _with_today(ctl: Control, views: list[QueueView]) -> list[QueueOut]:
    """The queues with today's durable figures (the wallboard's, cached a few seconds)."""
    from .wallboard import durable_today, today_of  # wallboard imports this module

    day = await durable_today(ctl)
    return [QueueOut.of(v).model_copy(update={"today": today_of(
        v, None if day is None else day.get(v.name))}) for v in views]


@router.get("/agents", tags=["agents"])
async def list_agents(who: Caller, ctl: Ctl) -> list[AgentOut]:
    """Every agent the token may see, with its state and how long it has been in it."""
    sig, now = ctl.core(), ctl.clock()
    return [AgentOut.of(v) for v in queries.agent_views(sig, now)
            if may_see_agent(who, v.id, ctl.agent_queues)]


@router.get("/agents/{agent}", tags=["agents"], responses=NOT_FOUND)
async def get_agent(agent: str, who: Caller, ctl: Ctl) -> AgentOut:
    if not may_see_agent(who, agent, ctl.agent_queues):
        raise forbidden()
    view = queries.agent_view(ctl.core(), agent, ctl.clock())
    if view is None:
        raise missing(who, "agent")
    return AgentOut.of(view)


def visible(who: Principal, ctl: Control, v: CallView) -> bool:
    return may_see_call(who, queue=v.queue, agent=v.agent, caller=v.caller, callee=v.callee,
                        agent_queues=ctl.agent_queues)


@router.get("/calls", tags=["calls"])
async def list_calls(who: Caller, ctl: Ctl) -> list[CallOut]:
    """Live calls the token may see, oldest first."""
    sig, now, off = ctl.core(), ctl.clock(), ctl.wall_offset()
    return [CallOut.of(v, off, ctl.live_mos(v.media_legs))
            for v in queries.call_views(sig, now) if visible(who, ctl, v)]


def visible_call(who: Principal, ctl: Control, call_id: str) -> CallView:
    """The live call ``call_id`` if the token may see it; else 403 (404 for the admin)."""
    view = queries.call_view(ctl.core(), call_id, ctl.clock())
    if view is None:
        raise missing(who, "call")
    if not visible(who, ctl, view):
        raise forbidden()
    return view


@router.get("/calls/{call_id}", tags=["calls"], responses=NOT_FOUND)
async def get_call(call_id: str, who: Caller, ctl: Ctl) -> CallOut:
    view = visible_call(who, ctl, call_id)
    return CallOut.of(view, ctl.wall_offset(), ctl.live_mos(view.media_legs))


@router.get("/rooms/{room}/members", tags=["rooms"], responses=NOT_FOUND)
async def room_members(room: str, who: Caller, ctl: Ctl) -> list[RoomMemberOut]:
    """The members of a conference room (admin only)."""
    if not who.is_admin:
        raise forbidden()
    members = queries.room_members(ctl.core(), room)
    if members is None:
        raise missing(who, "room")
    return [RoomMemberOut.of(m) for m in members]
