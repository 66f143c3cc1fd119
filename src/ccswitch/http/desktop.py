"""The agent desktop: the page ``GET /agent`` (plain HTML/JS/CSS shipped in the package under
``http/static/agent/``, no build step) and the API routes it uses beyond the common ones:

* ``GET /api/v1/desktop`` - who the token is and the configured menus (``[agent_desktop]``:
  pause reasons, disposition codes);
* ``GET /api/v1/agents/{id}/calls`` - the agent's last calls, from the CDR store;
* ``POST /api/v1/agents/{id}/disposition`` ``{"code": ..., "call_id": ...}`` - the code for
  its last ended queue call (ends a wrap-up early; goes to the CDR and the queue log);
* ``POST /api/v1/agents/{id}/dial`` ``{"number": ...}`` - click-to-dial: the agent's phone
  rings first, then the number.

The page reads the live state from ``GET /api/v1/agents/{id}`` and the WebSocket
``/api/v1/events?agents=ID&token=TOKEN`` (a browser cannot set a WebSocket's headers).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from ..call.commands import Dial, Disposition
from ..config.desktop import AgentDesktopConfig
from ..store.cdr import COLUMNS, CdrRow
from ..store.db import Location
from .access import Caller, Ctl, forbidden
from .actions import COMMAND_ERRORS, run
from .auth import Principal, may_see_agent
from .control import Control
from .models import Done
from .pages import Page, add_page
from .views import ERRORS

EXTRA_KEY = "desktop"
"""``Control.extras`` key of the switch's ``Desktop``."""
_NUMBER = r"^[A-Za-z0-9*#+._-]{1,64}$"

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Desktop:
    """What the desktop routes need from the switch: where the store is (CDRs, read on a
    connection of their own in a thread) and the ``[agent_desktop]`` menus."""

    db: Location
    config: AgentDesktopConfig

    def agent_calls(self, agent: str, limit: int) -> list[CdrRow]:
        """The agent's last ``limit`` calls, newest first (a blocking read: run in a thread)."""
        if self.db.dsn is None and not self.db.path.exists():
            return []
        con = self.db.connect(read_only=True)
        try:
            got = con.execute(f"SELECT {COLUMNS} FROM cdr WHERE agent = ? OR caller = ?"
                              " ORDER BY id DESC LIMIT ?", (agent, agent, limit)).fetchall()
        finally:
            con.close()
        return [CdrRow(*r) for r in got]


class DesktopOut(BaseModel):
    """The signed-in token and the desktop's menus."""

    role: str
    user: str | None = Field(description="the agent (or supervisor) the token speaks for")
    pause_reasons: list[str]
    dispositions: list[str]


class AgentCallOut(BaseModel):
    """One of an agent's calls, from the CDR store (times: Unix seconds)."""

    call_id: str
    caller: str
    callee: str
    queue: str | None
    started: float
    answered: float | None
    ended: float
    status: int
    reason: str
    disposition: str | None

    @classmethod
    def of(cls, r: CdrRow) -> AgentCallOut:
        return cls(call_id=r.call_id, caller=r.caller, callee=r.callee, queue=r.queue,
                   started=r.started, answered=r.answered, ended=r.ended, status=r.status,
                   reason=r.reason, disposition=r.disposition)


class DispositionIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    call_id: str | None = Field(default=None, max_length=200,
                                description="the call the card showed (refused if stale)")


class DialIn(BaseModel):
    number: str = Field(pattern=_NUMBER)


def desktop_of(ctl: Control) -> Desktop:
    desk = ctl.extras.get(EXTRA_KEY)
    if not isinstance(desk, Desktop):
        raise HTTPException(status_code=503, detail="the switch is not running")
    return desk


def _own(who: Principal, ctl: Control, agent: str) -> None:
    if not may_see_agent(who, agent, ctl.agent_queues):
        raise forbidden()


# -- the page (it signs in with the agent's API token) -------------------------------------
PAGE = Page("agent", "agent desktop", "/agent/desktop.css", "demo-agent-2001",
            ("/agent/app.js",), {"app.js": "text/javascript", "desktop.css": "text/css"})
add_page(router, "/agent", PAGE)


# -- its API -----------------------------------------------------------------------------
@router.get("/api/v1/desktop", tags=["desktop"], responses=ERRORS)
async def desktop(who: Caller, ctl: Ctl) -> DesktopOut:
    """Who the token is, and the pause reasons and disposition codes to offer."""
    cfg = desktop_of(ctl).config
    return DesktopOut(role=who.role, user=who.user, pause_reasons=list(cfg.pause_reasons),
                      dispositions=list(cfg.dispositions))


@router.get("/api/v1/agents/{agent}/calls", tags=["agents"], responses=ERRORS)
async def agent_calls(agent: str, who: Caller, ctl: Ctl,
                      limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[AgentCallOut]:
    """The agent's last calls (answered by it, or placed from its phone), newest first."""
    _own(who, ctl, agent)
    rows = await asyncio.to_thread(desktop_of(ctl).agent_calls, agent, limit)
    return [AgentCallOut.of(r) for r in rows]


@router.post("/api/v1/agents/{agent}/disposition", tags=["agents"], responses=COMMAND_ERRORS)
async def disposition(agent: str, body: DispositionIn, who: Caller, ctl: Ctl) -> Done:
    """Set a disposition code (one of ``[agent_desktop] dispositions``) on the agent's last
    ended queue call: stored on its CDR and in the queue log; a wrap-up ends early.  409
    when no call awaits a code (or ``call_id`` is not that call)."""
    _own(who, ctl, agent)
    if body.code not in desktop_of(ctl).config.dispositions:
        raise HTTPException(status_code=400, detail=f"unknown disposition code {body.code!r}")
    return run(ctl, Disposition(agent, body.code, body.call_id))


@router.post("/api/v1/agents/{agent}/dial", tags=["agents"], responses=COMMAND_ERRORS)
async def dial(agent: str, body: DialIn, who: Caller, ctl: Ctl) -> Done:
    """Click-to-dial: ring the agent's phone; when it answers, call ``number`` from it.
    404 when the number is not in the dial plan, 409 when the agent has no phone."""
    _own(who, ctl, agent)
    if who.role == "supervisor":
        raise forbidden()  # dialling spends the agent's phone: itself or the admin
    return run(ctl, Dial(agent, body.number))
