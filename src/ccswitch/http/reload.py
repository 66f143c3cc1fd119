"""``POST /api/v1/reload``: re-read the configuration file (admin only), as SIGHUP and
``ccswitch reload`` do.  A bad file is refused (400, the checker's file:line:key message) and
the running configuration stays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ..call.reload import Reloaded
from ..errors import ConfigError
from .access import Caller, Ctl, forbidden
from .app import API
from .control import CoreUnavailable
from .models import Problem
from .views import ERRORS

router = APIRouter(prefix=API, responses=ERRORS)
EXTRA_KEY = "reload"  # Control.extras key: an async () -> Reloaded (raises ConfigError)
Reloader = Callable[[], Awaitable[Reloaded]]


class ReloadOut(BaseModel):
    """What changed: ``changed`` the configuration sections applied live, ``needs_restart``
    the sections that differ but are bound at start-up (their running values stay),
    ``kept`` what could not change yet (one line each)."""

    changed: list[str]
    needs_restart: list[str] = Field(description="listen, rtp_ports, data_dir, http...")
    kept: list[str]

    @classmethod
    def of(cls, r: Reloaded) -> ReloadOut:
        return cls(changed=list(r.changed), needs_restart=list(r.restart), kept=list(r.kept))


@router.post("/reload", tags=["admin"],
             responses={400: {"model": Problem, "description": "the file is refused; the "
                                                              "running configuration stays"}})
async def reload_config(who: Caller, ctl: Ctl) -> ReloadOut:
    """Re-read the configuration file and apply it without dropping a call (admin)."""
    if not who.is_admin:
        raise forbidden()
    fn = ctl.extras.get(EXTRA_KEY)
    if fn is None:
        raise CoreUnavailable
    reloader: Reloader = fn  # type: ignore[assignment]
    try:
        done = await reloader()
    except ConfigError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return ReloadOut.of(done)
