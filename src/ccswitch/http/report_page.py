"""The report page ``GET /reports``: plain HTML/JS/CSS shipped in the package under
``http/static/reports/`` (no build step, no outside resources; served by ``pages.py``).  It
signs in with an admin's or a supervisor's API token and draws, from ``/api/v1/reports/...``,
``/api/v1/forecast`` and ``/api/v1/staffing``, the queue, agent and agent-state reports and a
day's forecast and staffing as tables and SVG charts (``chart.js``, which the wallboard uses
too)."""

from __future__ import annotations

from fastapi import APIRouter

from .pages import Page, add_page

PAGE = Page("reports", "reports", "/reports/reports.css", "an admin or supervisor token",
            ("/reports/chart.js", "/reports/reports.js"),
            {"reports.js": "text/javascript", "reports.css": "text/css",
             "chart.js": "text/javascript"})

router = APIRouter()
add_page(router, "/reports", PAGE)
