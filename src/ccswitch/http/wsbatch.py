"""uvicorn's sans-IO WebSocket protocol with its socket writes coalesced per loop turn.

The protocol writes every frame to its transport at once: one ``send()`` system call per event
per client, which profiling showed is most of what the event stream costs once each event is
serialised once.  Here the protocol's transport is wrapped so that what it writes during one
turn of the loop leaves in one ``send()`` at the end of that turn (``call_soon``).  The frames
are unchanged (one text frame per event, CONTRACT) and keep their order; closing the transport
writes what is pending first.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class CoalescingTransport:
    """A transport whose ``write``s within one loop turn are joined into one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._flush_at: asyncio.Handle | None = None
        self.flushes = 0  # writes made on the real transport (tests)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pending.append(bytes(data))
        if self._flush_at is None:
            self._flush_at = self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what is pending now (the end of the turn, or before a close)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():  # a lost connection: nobody to write to
            self._transport.write(data)
            self.flushes += 1

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # is_closing, get_extra_info, pause_reading...


class CoalescingWebSockets(WebSocketsSansIOProtocol):
    """The ``ws`` protocol class of the HTTP server (``http/server.py``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, wrapped))
