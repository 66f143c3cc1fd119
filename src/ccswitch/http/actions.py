"""Command routes: each builds one ``call/commands.py`` command and carries it out through
``Control.command`` (the core's one entry; its outputs are flushed at once).  A refused command
answers by its ``CommandError.code``: not_found 404, forbidden 403, conflict 409, invalid 400.
Erlang C/A staffing (``/erlang``) is a pure calculation and needs a token like the rest."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from ..acd import erlang
from ..call.commands import (
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    Command,
    CommandError,
    Hangup,
    Hold,
    RoomKick,
    RoomMute,
    SetPriority,
    Supervise,
    SuperviseMode,
    Transfer,
)
from .access import Caller, Ctl, forbidden
from .auth import Principal, may_see_agent, may_see_queue
from .control import Control
from .models import (
    Done,
    ErlangOut,
    ModeIn,
    MuteIn,
    PauseIn,
    PriorityIn,
    Problem,
    SuperviseIn,
    TransferIn,
)
from .views import ERRORS, NOT_FOUND, visible_call

COMMAND_ERRORS: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    400: {"model": Problem, "description": "the command is not valid for this object"},
    409: {"model": Problem, "description": "the object is not in a state that allows it"},
}
MAX_ERLANGS = 1000.0  # larger traffic is refused (the staffing search grows with it)

router = APIRouter(prefix="/api/v1", responses=COMMAND_ERRORS)


def run(ctl: Control, cmd: Command) -> Done:
    done = ctl.command(cmd)
    return Done(command=done.command, detail=dict(done.detail))


# -- calls -------------------------------------------------------------------------------
@router.delete("/calls/{call_id}", tags=["calls"])
async def hang_up(call_id: str, who: Caller, ctl: Ctl) -> Done:
    """Hang up a live call: every leg gets BYE (or CANCEL / 480 while it rings)."""
    visible_call(who, ctl, call_id)
    return run(ctl, Hangup(call_id))


@router.post("/calls/{call_id}/transfer", tags=["calls"])
async def transfer(call_id: str, body: TransferIn, who: Caller, ctl: Ctl) -> Done:
    """Blind-transfer an answered call's caller to a number of the dial plan."""
    visible_call(who, ctl, call_id)
    return run(ctl, Transfer(call_id, body.number))


@router.post("/calls/{call_id}/hold", tags=["calls"])
async def hold(call_id: str, who: Caller, ctl: Ctl) -> Done:
    """The caller hears music on hold, the other side silence."""
    visible_call(who, ctl, call_id)
    return run(ctl, Hold(call_id, on=True))


@router.post("/calls/{call_id}/resume", tags=["calls"])
async def resume(call_id: str, who: Caller, ctl: Ctl) -> Done:
    visible_call(who, ctl, call_id)
    return run(ctl, Hold(call_id, on=False))


@router.post("/calls/{call_id}/supervise", tags=["supervision"])
async def supervise(call_id: str, body: SuperviseIn, who: Caller, ctl: Ctl) -> Done:
    """Ring the supervisor's phones; when one answers it joins the agent's side of this call
    in ``mode``.  A supervisor token may only name itself."""
    if who.role == "agent" or (who.role == "supervisor" and body.supervisor != who.user):
        raise forbidden()
    view = visible_call(who, ctl, call_id)
    if view.agent is None:
        raise HTTPException(status_code=409, detail="the call has no agent to supervise")
    return run(ctl, Supervise(body.supervisor, view.agent, body.mode))


@router.post("/calls/{call_id}/mode", tags=["supervision"])
async def supervise_mode(call_id: str, body: ModeIn, who: Caller, ctl: Ctl) -> Done:
    """Switch a supervisor's call (its id) to listen, whisper or barge."""
    if who.role == "agent":
        raise forbidden()
    visible_call(who, ctl, call_id)
    return run(ctl, SuperviseMode(call_id, body.mode))


# -- queues ------------------------------------------------------------------------------
@router.post("/queues/{name}/callers/{call_id}/priority", tags=["queues"])
async def caller_priority(name: str, call_id: str, body: PriorityIn, who: Caller,
                          ctl: Ctl) -> Done:
    """Change a waiting caller's priority (admin, or a supervisor of the queue); its place in
    line is recomputed (``detail.position``) and the event ``queue.caller_priority_changed``
    tells the stream.  A ringing offer goes on."""
    if not may_see_queue(who, name):
        raise forbidden()
    try:
        return run(ctl, SetPriority(name, call_id, body.priority))
    except CommandError as exc:
        if exc.code == "not_found" and not who.is_admin:
            raise forbidden() from None
        raise


# -- agents ------------------------------------------------------------------------------
def _agent_scope(who: Principal, ctl: Control, agent: str) -> None:
    if not may_see_agent(who, agent, ctl.agent_queues):
        raise forbidden()


@router.post("/agents/{agent}/login", tags=["agents"])
async def agent_login(agent: str, who: Caller, ctl: Ctl) -> Done:
    _agent_scope(who, ctl, agent)
    return run(ctl, AgentLogin(agent))


@router.post("/agents/{agent}/logout", tags=["agents"])
async def agent_logout(agent: str, who: Caller, ctl: Ctl) -> Done:
    _agent_scope(who, ctl, agent)
    return run(ctl, AgentLogout(agent))


@router.post("/agents/{agent}/pause", tags=["agents"])
async def agent_pause(agent: str, who: Caller, ctl: Ctl, body: PauseIn | None = None) -> Done:
    """Pause with a reason (default ``break``): no new call is offered until ready."""
    _agent_scope(who, ctl, agent)
    return run(ctl, AgentPause(agent, (body or PauseIn()).reason))


@router.post("/agents/{agent}/ready", tags=["agents"])
async def agent_ready(agent: str, who: Caller, ctl: Ctl) -> Done:
    """End a pause."""
    _agent_scope(who, ctl, agent)
    return run(ctl, AgentReady(agent))


# -- rooms -------------------------------------------------------------------------------
@router.post("/rooms/{room}/members/{call_id}/mute", tags=["rooms"])
async def room_mute(room: str, call_id: str, who: Caller, ctl: Ctl,
                    body: MuteIn | None = None) -> Done:
    """Mute (``{"muted": false}``: unmute) a member of a conference room (admin only)."""
    if not who.is_admin:
        raise forbidden()
    return run(ctl, RoomMute(room, call_id, (body or MuteIn()).muted))


@router.delete("/rooms/{room}/members/{call_id}", tags=["rooms"])
async def room_kick(room: str, call_id: str, who: Caller, ctl: Ctl) -> Done:
    """Hang up a member of a conference room (admin only)."""
    if not who.is_admin:
        raise forbidden()
    return run(ctl, RoomKick(room, call_id))


# -- Erlang ------------------------------------------------------------------------------
@router.get("/erlang", tags=["planning"], responses=ERRORS)
async def erlang_staffing(
    _who: Caller,
    calls: Annotated[float, Query(ge=0, description="calls per period")],
    aht: Annotated[float, Query(gt=0, le=86400, description="average handle time, s")],
    target: Annotated[str, Query(pattern=r"^\d{1,2}(\.\d+)?/\d+(\.\d+)?$",
                                 description="PERCENT/SECONDS answered within, e.g. 80/20")
                      ] = "80/20",
    period: Annotated[float, Query(gt=0, le=86400 * 31, description="seconds")] = 3600.0,
    agents: Annotated[int | None, Query(ge=1, le=10_000,
                                        description="evaluate this staffing instead")] = None,
    patience: Annotated[float | None, Query(ge=1, le=86400, description=(
        "callers' mean patience, s: Erlang A (callers hang up) instead of Erlang C"))] = None,
) -> ErlangOut:
    """Erlang C (or, with ``patience``, Erlang A): agents needed for a service level, or the
    service level of ``agents``."""
    pct_text, secs_text = target.split("/")
    pct, secs = float(pct_text), float(secs_text)
    a = erlang.traffic(calls, period, aht)
    if a > MAX_ERLANGS:
        raise HTTPException(status_code=400,
                            detail=f"traffic {a:.0f} Erlangs is above {MAX_ERLANGS:.0f}")
    # up to ~50 ms of CPU at the cap: in a thread, so the loop's SIP work interleaves
    try:
        return await asyncio.to_thread(_staffing, a, aht, pct, secs, period, agents,
                                       math.inf if patience is None else patience)
    except erlang.QueueTooLong as e:
        raise HTTPException(status_code=400, detail=str(e)) from None


def _staffing(a: float, aht: float, pct: float, secs: float, period: float,
              agents: int | None, patience: float) -> ErlangOut:
    n = agents if agents is not None else erlang.agents_needed_a(a, aht, patience, pct / 100,
                                                                 secs)
    n = max(n, 1)
    r = erlang.erlang_a(a, n, aht, patience, secs)
    return ErlangOut(traffic_erlangs=round(a, 6), agents=n,
                     service_level=r.service_level, probability_of_waiting=r.p_wait,
                     asa_s=None if math.isinf(r.asa) else r.asa,
                     occupancy=r.occupancy, target_pct=pct, target_s=secs, period_s=period,
                     model="erlang_c" if math.isinf(patience) else "erlang_a",
                     patience_s=None if math.isinf(patience) else patience,
                     probability_of_abandon=r.p_abandon)
