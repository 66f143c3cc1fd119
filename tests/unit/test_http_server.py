"""The HTTP server inside a running loop: bound before serving (a port in use is an OSError
naming the address), no signal handler of its own, stopped cleanly."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from fastapi import FastAPI

from ccswitch.http.server import HttpServer


def test_a_port_in_use_is_an_oserror_naming_the_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = HttpServer(FastAPI(), "127.0.0.1", port)
        with pytest.raises(OSError, match=f"cannot listen on http:127.0.0.1:{port}"):
            server.bind()


def test_serves_in_the_loop_and_leaves_the_signal_handlers_alone() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    async def run() -> tuple[int, object, object]:
        before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        server = HttpServer(app, "127.0.0.1", 0)
        await server.start()
        during = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        async with httpx.AsyncClient(base_url=server.address) as client:
            r = await client.get("/ping")
        await server.stop()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=server.address) as client:
                await client.get("/ping")
        assert before == during
        return r.status_code, r.json(), signal.getsignal(signal.SIGTERM) == before[0]

    status, body, same = asyncio.run(run())
    assert (status, body, same) == (200, {"pong": "yes"}, True)
