"""The CRM lookup's I/O (shell): each ``CrmLookup`` the core emits becomes one GET on a shared
``httpx.AsyncClient``, run as a task in the daemon's loop; its outcome goes back into the core
(``deliver``, which the switch wires to ``Signaling.crm_result``).

Nothing waits for it: the core offers the call whatever the lookup is doing.  The request is
given up after the lookup's ``timeout`` (``crm_status`` ``timeout``).  A 2xx answer whose body
is a JSON object is the record (``ok``); 404 is ``not_found``; anything else (refused
connection, TLS failure, another status, a body that is not a JSON object) is ``error``.  The
URL's query and the headers may hold personal data and credentials: they are not logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import structlog

from ..call.crm import CrmLookup

log = structlog.get_logger()

Deliver = Callable[[str, Mapping[str, Any] | None, str], None]
"""(call id, record or None, crm_status)"""

MAX_BODY = 256 * 1024  # a larger answer is not a screen pop: error


def outcome(status: int, body: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record and ``crm_status`` of a CRM's answer."""
    if status == 404:
        return None, "not_found"
    if not 200 <= status < 300 or len(body) > MAX_BODY:
        return None, "error"
    try:
        record = json.loads(body)
    except ValueError:
        return None, "error"
    if not isinstance(record, dict):
        return None, "error"
    return record, "ok"


def _where(url: str) -> str:
    """The URL without its query (for logs)."""
    return url.split("?", 1)[0]


class CrmClient:
    """Runs the lookups; ``close`` cancels those still running."""

    def __init__(self, deliver: Deliver, *,
                 client: httpx.AsyncClient | None = None) -> None:
        self._deliver = deliver
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters: dict[str, int] = {}

    def lookup(self, req: CrmLookup) -> None:
        """Start ``req`` (the running loop's task)."""
        task = asyncio.get_running_loop().create_task(self._run(req))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def _run(self, req: CrmLookup) -> None:
        record: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(req.timeout):
                resp = await self._client.get(req.url, headers=dict(req.headers),
                                              timeout=req.timeout)
                body = await resp.aread()
            record, status = outcome(resp.status_code, body)
            if status == "error":
                log.warning("crm_answer_refused", call_id=req.call_id, url=_where(req.url),
                            status=resp.status_code)
        except TimeoutError:
            status = "timeout"
            log.warning("crm_timeout", call_id=req.call_id, url=_where(req.url),
                        timeout=req.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            status = "timeout" if isinstance(exc, httpx.TimeoutException) else "error"
            log.warning("crm_unreachable", call_id=req.call_id, url=_where(req.url),
                        error=type(exc).__name__)
        self.counters[status] = self.counters.get(status, 0) + 1
        self._deliver(req.call_id, record, status)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
