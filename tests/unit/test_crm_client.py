"""The CRM lookup's shell (``http/crm.py``) against in-memory HTTP answers: a JSON object is
the record, 404 is not_found, everything else an error, a slow CRM a timeout; the headers
are sent; every lookup delivers exactly one outcome, and close() stops those running."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from ccswitch.call.crm import CrmLookup
from ccswitch.http.crm import CrmClient, outcome


@pytest.mark.parametrize(("status", "body", "want"), [
    (200, b'{"name": "Ann"}', ({"name": "Ann"}, "ok")),
    (203, b'{}', ({}, "ok")),
    (404, b'{"name": "Ann"}', (None, "not_found")),
    (500, b'{"name": "Ann"}', (None, "error")),
    (302, b"", (None, "error")),
    (200, b"<html>", (None, "error")),
    (200, b"[1, 2]", (None, "error")),
    (200, b'"text"', (None, "error")),
    (200, b"\xff\xfe", (None, "error")),
])
def test_the_outcome_of_an_answer(status: int, body: bytes,
                                  want: tuple[dict[str, Any] | None, str]) -> None:
    assert outcome(status, body) == want


async def _run(handler: Any, lookups: list[CrmLookup], *,
               close_early: bool = False) -> list[tuple[str, Mapping[str, Any] | None, str]]:
    got: list[tuple[str, Mapping[str, Any] | None, str]] = []
    client = CrmClient(lambda cid, rec, st: got.append((cid, rec, st)),
                       client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    for lk in lookups:
        client.lookup(lk)
    if close_early:
        await asyncio.sleep(0.05)
        await client.close()
        return got
    for _ in range(400):
        if client.running == 0:
            break
        await asyncio.sleep(0.01)
    await client.close()
    return got


def test_lookups_deliver_their_record_or_status_and_send_the_headers() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        caller = request.url.params.get("c")
        if caller == "1001":
            return httpx.Response(200, json={"name": "Ann", "vip": True})
        if caller == "1002":
            return httpx.Response(404)
        if caller == "slow":
            await asyncio.sleep(5)
        if caller == "down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(500)

    def lk(cid: str, caller: str) -> CrmLookup:
        return CrmLookup(cid, f"http://crm.test/l?c={caller}", 0.2,
                         (("Authorization", "Bearer k"),))

    got = asyncio.run(_run(handler, [lk("a", "1001"), lk("b", "1002"), lk("c", "slow"),
                                     lk("d", "down"), lk("e", "1003")]))
    assert sorted(got, key=lambda g: g[0]) == [
        ("a", {"name": "Ann", "vip": True}, "ok"), ("b", None, "not_found"),
        ("c", None, "timeout"), ("d", None, "error"), ("e", None, "error")]
    assert all(r.headers["authorization"] == "Bearer k" and r.method == "GET" for r in seen)


def test_close_cancels_running_lookups_without_delivering() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    got = asyncio.run(_run(handler, [CrmLookup("a", "http://crm.test/", 3.0)],
                           close_early=True))
    assert got == []
