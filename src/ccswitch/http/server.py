"""Run the API with uvicorn inside the daemon's own event loop.

The socket is bound here (so a port in use is an ``OSError`` naming the address, like the SIP
listeners), and ``uvicorn.Server.serve`` runs as a task of the running loop.  uvicorn installs
no signal handler: the daemon owns SIGINT/SIGTERM/SIGHUP.  Its access log is off; its own
messages go through the root logger that ``logs.py`` formats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import structlog
import uvicorn
from fastapi import FastAPI

from .wsbatch import CoalescingWebSockets

log = structlog.get_logger()
STOP_GRACE = 1  # s given to open requests (and WebSockets) when the switch stops


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon's handlers stay in place


class HttpServer:
    """One HTTP listener serving ``app``: ``await start()``, ``await stop()``."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        """Bind the listening socket (before anything else starts, so that a port in use
        leaves nothing half-started); ``OSError`` naming the address."""
        if self._sock is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            raise OSError(f"cannot listen on http:{self.host}:{self.port}: "
                          f"{e.strerror or e}") from e
        self._sock = sock
        self.port = sock.getsockname()[1]  # the real port when 0 was asked

    async def start(self) -> None:
        """Serve (binding first if ``bind`` was not called)."""
        self.bind()
        sock = self._sock
        assert sock is not None
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=STOP_GRACE, server_header=False,
                                # no permessage-deflate: compressing each small event frame
                                # per client cost more CPU than the bytes it saves on a LAN;
                                # a client's frames of one loop turn leave in one send()
                                ws=CoalescingWebSockets, ws_per_message_deflate=False)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError(f"cannot serve http:{self.host}:{self.port}")
            await asyncio.sleep(0.01)

    async def stop(self, timeout: float = STOP_GRACE + 0.5) -> None:
        """Stop accepting, give open requests ``STOP_GRACE`` seconds, then cut them."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            log.warning("http_stop_forced")
        except Exception as e:  # the server task failed: log it, the switch still stops
            log.error("http_failed", error=repr(e))
        self._server = self._task = None

    def close(self) -> None:
        """Close a socket bound but never served (start-up failed later)."""
        if self._task is None and self._sock is not None:
            self._sock.close()
            self._sock = None
