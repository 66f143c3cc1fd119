"""The report page ``GET /reports``: plain HTML/JS/CSS shipped in the package under
``http/static/reports/`` (no build step, no outside resources).  It signs in with an admin's
or a supervisor's API token and draws, from ``/api/v1/reports/...``, ``/api/v1/forecast``
and ``/api/v1/staffing``, the queue, agent and agent-state reports and a day's forecast and
staffing as tables and SVG charts (``chart.js``, which the wallboard uses too)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

_STATIC = {"reports.js": "text/javascript", "reports.css": "text/css",
           "chart.js": "text/javascript"}

router = APIRouter()


def _asset(name: str) -> bytes:
    return resources.files("ccswitch.http").joinpath("static", "reports", name).read_bytes()


@router.get("/reports", include_in_schema=False)
async def report_page() -> Response:
    """The page (it asks for the token itself)."""
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/reports/{name}", include_in_schema=False)
async def report_asset(name: str) -> Response:
    kind = _STATIC.get(name)
    if kind is None:
        raise HTTPException(status_code=404, detail="not found")
    return Response(_asset(name), media_type=f"{kind}; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})
