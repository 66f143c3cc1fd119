"""The FastAPI side of access control: ``caller`` resolves the bearer token of a request to
its ``Principal`` (401 / 429), and ``forbidden()`` is the one 403 every route raises, with the
same body whether or not the object exists."""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .auth import Principal
from .control import Control, control_of

log = structlog.get_logger()
_scheme = HTTPBearer(auto_error=False, description="A token from the configuration "
                     "([[api.tokens]]): admin, supervisor or agent.")
UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def forbidden() -> HTTPException:
    """Out of scope (or no such object for this token: the answer is the same)."""
    return HTTPException(status_code=403, detail="forbidden")


async def caller(request: Request,
                 creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
                 ctl: Annotated[Control, Depends(control_of)]) -> Principal:
    """The principal of the request's ``Authorization: Bearer`` token.

    Missing or unknown token: 401 with ``WWW-Authenticate: Bearer``; a wrong token is counted
    by the ``FailureGate`` and answered after the delay it sets for the client's address (a
    request without a token guesses nothing and is not counted); an address banned for
    repeated failures gets 429 at once, whatever it sends."""
    addr = request.client.host if request.client is not None else "?"
    now = ctl.clock()
    if ctl.gate.banned(addr, now):
        raise HTTPException(status_code=429, detail="too many failed attempts",
                            headers={"Retry-After": str(int(ctl.gate.settings.ban))})
    if creds is None:  # no guess made: refused, not counted
        raise HTTPException(status_code=401, detail="missing or invalid token",
                            headers=UNAUTHORIZED)
    who = ctl.tokens.lookup(creds.credentials)
    if who is None:
        delay = ctl.gate.failed(addr, now)
        log.info("api_auth_failed", client=addr, delay_s=delay)
        if delay > 0:
            await asyncio.sleep(delay)
        raise HTTPException(status_code=401, detail="missing or invalid token",
                            headers=UNAUTHORIZED)
    ctl.gate.succeeded(addr)
    return who


Caller = Annotated[Principal, Depends(caller)]
Ctl = Annotated[Control, Depends(control_of)]
