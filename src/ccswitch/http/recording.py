"""Recording compliance routes: pause and resume a live call's recording (card numbers), and
the access log of recordings read through the API (admin only).

``POST /api/v1/calls/{id}/recording/pause`` and ``…/resume`` carry out ``PauseRecording`` /
``ResumeRecording`` through ``Control.command``: the admin, a supervisor of the call's queue
or the agent on the call may; 409 when the call is not recorded, already paused, not paused,
or paused by a sensitive IVR menu.  ``GET /api/v1/recording-access`` pages the access rows
(``store/recordings.py``): every listing and download of a recording writes one per recording.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..call.commands import PauseRecording, ResumeRecording
from ..store.history import MAX_PAGE
from ..store.recordings import Access
from .access import Caller, Ctl, forbidden
from .actions import COMMAND_ERRORS, run
from .auth import Principal
from .history import COMPLIANCE_KEY, MAX_ID, history_of
from .models import Done
from .views import visible_call

EXTRA_KEY = COMPLIANCE_KEY  # Control.extras key of the switch's Compliance
router = APIRouter(prefix="/api/v1", responses=COMMAND_ERRORS)


class RecordingPauseIn(BaseModel):
    source: Literal["api", "desktop"] = Field(
        default="api", description="who asks: kept as the paused span's ``by``")


class AccessOut(BaseModel):
    """One recording read through the API."""

    id: int
    time: datetime
    recording_id: int
    call_id: str | None
    action: Literal["list", "download"]
    role: str
    user: str | None
    client: str = Field(description="the client's address")


class AccessPage(BaseModel):
    items: list[AccessOut]
    next_cursor: int | None


def _who(who: Principal) -> str:
    return who.user or who.role


@router.post("/calls/{call_id}/recording/pause", tags=["calls"])
async def pause_recording(call_id: str, who: Caller, ctl: Ctl,
                          body: RecordingPauseIn | None = None) -> Done:
    """Pause the call's recording: silence is recorded in place until resumed (for card
    numbers); the paused span is kept with the recording's row."""
    visible_call(who, ctl, call_id)
    return run(ctl, PauseRecording(call_id, (body or RecordingPauseIn()).source, _who(who)))


@router.post("/calls/{call_id}/recording/resume", tags=["calls"])
async def resume_recording(call_id: str, who: Caller, ctl: Ctl,
                           body: RecordingPauseIn | None = None) -> Done:
    """Record again.  A pause a sensitive IVR menu holds ends with the menu (409)."""
    visible_call(who, ctl, call_id)
    return run(ctl, ResumeRecording(call_id, (body or RecordingPauseIn()).source, _who(who)))


def _access_out(a: Access) -> AccessOut:
    return AccessOut(id=a.id, time=datetime.fromtimestamp(a.time, UTC),
                     recording_id=a.recording_id, call_id=a.call_id,
                     action=a.action,  # type: ignore[arg-type]
                     role=a.role, user=a.user, client=a.client)


@router.get("/recording-access", tags=["history"])
async def recording_access(
    who: Caller, ctl: Ctl,
    recording: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                           description="only this recording's reads")] = None,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AccessPage:
    """Who listed or downloaded recordings, oldest first (admin only)."""
    if not who.is_admin:
        raise forbidden()
    history = history_of(ctl)

    rows = await asyncio.to_thread(history.read, lambda r: r.recording_access(
        after=cursor, limit=limit + 1, recording_id=recording))
    more = len(rows) > limit
    rows = rows[:limit]
    return AccessPage(items=[_access_out(a) for a in rows],
                      next_cursor=rows[-1].id if more and rows else None)
