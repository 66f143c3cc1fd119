"""SIP over UDP and TCP on asyncio: move bytes between sockets and the sans-IO core.

Every whole message is handed to ``on_message(data, source)``; stream framing errors go to
``on_bad_frame`` and the connection is closed (its framing is lost).  ``send`` writes to a
datagram peer, to a live stream connection, or opens a new connection when the one a phone
registered over has gone.

With a ``SipTrace`` set (``trace``), every whole message received and every message sent is
also handed to it with the local and remote addresses; without one, a single ``is None``
test per message is all the trace costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import structlog

from ..errors import SipParseError
from ..sip.addr import Address
from ..sip.framing import KEEPALIVE_PONG, FramingError, Ping, StreamFramer
from .trace import SipTrace

log = structlog.get_logger()

# A SIP UDP socket must hold the datagrams that arrive while the loop is busy: the kernel's
# default (~208 KiB, a few hundred requests) turns any pause into loss and retransmissions.
UDP_RCVBUF = 4 * 1024 * 1024

OnMessage = Callable[[bytes, Address], None]
OnBadFrame = Callable[[bytes, SipParseError, Address], None]


@dataclass(frozen=True, slots=True)
class Bound:
    """A listening socket's real address."""

    transport: str
    host: str
    port: int


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: Transports, sock_id: int) -> None:
        self.owner = owner
        self.sock_id = sock_id
        self.transport: asyncio.DatagramTransport | None = None
        self.family = "4"
        self.local = ("0.0.0.0", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop: not a subclass
        name = transport.get_extra_info("sockname")
        self.local = (str(name[0]), int(name[1]))
        self.family = _family(self.local[0])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        host, port = str(addr[0]), int(addr[1])
        trace = self.owner.trace
        if trace is not None:
            trace.message("in", "udp", (host, port), self.local, data)
        self.owner.on_message(data, Address("udp", host, port, self.sock_id))

    def error_received(self, exc: Exception) -> None:
        self.owner.counters["udp_errors"] += 1
        log.debug("udp_error", error=str(exc))


class _Stream(asyncio.Protocol):
    def __init__(self, owner: Transports, transport_name: str, conn_id: int) -> None:
        self.owner = owner
        self.name = transport_name
        self.conn_id = conn_id
        self.framer = StreamFramer(max_size=owner.max_size)
        self.transport: asyncio.Transport | None = None
        self.peer: Address | None = None
        self.local = ("0.0.0.0", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        name = transport.get_extra_info("sockname")
        self.local = (str(name[0]), int(name[1]))
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Address(self.name, str(host), int(port), self.conn_id)
        self.owner.conns[self.conn_id] = self
        self.owner.by_peer[(self.name, self.peer.host, self.peer.port)] = self.conn_id

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.transport is not None
        try:
            frames = self.framer.feed(data)
        except FramingError as err:
            self._deliver(err.frames)
            self.owner.on_bad_frame(err.pending, err, self.peer)
            self.owner.counters["stream_framing_errors"] += 1
            self.transport.close()
            return
        self._deliver(frames)

    def _deliver(self, frames: list[bytes | Ping]) -> None:
        assert self.peer is not None and self.transport is not None
        for f in frames:
            if isinstance(f, Ping):
                self.transport.write(KEEPALIVE_PONG)
            else:
                if self.owner.trace is not None:
                    self.trace_message("in", f)
                self.owner.on_message(f, self.peer)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        if self.owner.trace is not None:
            self.trace_message("out", data)
        self.transport.write(data)

    def trace_message(self, direction: str, data: bytes) -> None:
        trace, peer = self.owner.trace, self.peer
        if trace is None or peer is None:
            return
        remote = (peer.host, peer.port)
        src, dst = (remote, self.local) if direction == "in" else (self.local, remote)
        trace.message(direction, self.name, src, dst, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.conns.pop(self.conn_id, None)
        if self.peer is not None:
            key = (self.name, self.peer.host, self.peer.port)
            if self.owner.by_peer.get(key) == self.conn_id:
                del self.owner.by_peer[key]


class Transports:
    """The switch's SIP sockets."""

    def __init__(self, *, on_message: OnMessage, on_bad_frame: OnBadFrame,
                 max_size: int = 65535, rcvbuf: int = UDP_RCVBUF,
                 trace: SipTrace | None = None) -> None:
        self.on_message = on_message
        self.trace = trace
        self.rcvbuf = rcvbuf
        self.on_bad_frame = on_bad_frame
        self.max_size = max_size
        self.conns: dict[int, _Stream] = {}
        self.by_peer: dict[tuple[str, str, int], int] = {}
        self.bound: list[Bound] = []
        self.counters: dict[str, int] = {"udp_errors": 0, "stream_framing_errors": 0,
                                         "send_failures": 0}
        self._udp: dict[int, _Udp] = {}  # by socket id, carried in Address.conn for UDP
        self._servers: list[asyncio.AbstractServer] = []
        self._ids = itertools.count(1)
        self._connecting: dict[tuple[str, str, int], list[bytes]] = {}

    async def listen(self, transport: str, host: str, port: int) -> Bound:
        """Bind one listen address (raises OSError when it cannot be bound)."""
        loop = asyncio.get_running_loop()
        if transport == "udp":
            sock_id = next(self._ids)
            udp = _udp_socket(host, port, self.rcvbuf)
            _, proto = await loop.create_datagram_endpoint(lambda: _Udp(self, sock_id), sock=udp)
            self._udp[sock_id] = proto
            b = Bound("udp", host, int(udp.getsockname()[1]))
        elif transport == "tcp":
            server = await loop.create_server(
                lambda: _Stream(self, "tcp", next(self._ids)), host, port, reuse_address=True)
            self._servers.append(server)
            b = Bound("tcp", host, int(server.sockets[0].getsockname()[1]))
        else:
            raise OSError(f"transport {transport} is not available yet")
        self.bound.append(b)
        return b

    def send(self, data: bytes, dest: Address) -> None:
        if dest.transport == "udp":
            proto = self._udp.get(dest.conn) if dest.conn is not None else None
            if proto is None:  # e.g. a binding restored from disk: any socket of the family
                fam = _family(dest.host)
                proto = next((p for p in self._udp.values() if p.family == fam), None)
            if proto is None or proto.transport is None:
                self.counters["send_failures"] += 1
                return
            if self.trace is not None:
                self.trace.message("out", "udp", proto.local, (dest.host, dest.port), data)
            proto.transport.sendto(data, (dest.host, dest.port))
            return
        conn = self.conns.get(dest.conn) if dest.conn is not None else None
        if conn is None:
            cid = self.by_peer.get((dest.transport, dest.host, dest.port))
            conn = self.conns.get(cid) if cid is not None else None
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.write(data)
            return
        self._connect_and_send(data, dest)

    def _connect_and_send(self, data: bytes, dest: Address) -> None:
        key = (dest.transport, dest.host, dest.port)
        if key in self._connecting:
            self._connecting[key].append(data)
            return
        self._connecting[key] = [data]
        asyncio.get_running_loop().create_task(self._connect(key))

    async def _connect(self, key: tuple[str, str, int]) -> None:
        name, host, port = key
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(loop.create_connection(
                lambda: _Stream(self, name, next(self._ids)), host, port), 5.0)
        except (TimeoutError, OSError) as e:
            self.counters["send_failures"] += len(self._connecting.pop(key, []))
            log.info("connect_failed", peer=f"{name}:{host}:{port}", error=str(e))
            return
        for data in self._connecting.pop(key, []):
            proto.write(data)

    def close(self) -> None:
        for p in self._udp.values():
            if p.transport is not None:
                p.transport.close()
        for s in self._servers:
            s.close()
        for c in list(self.conns.values()):
            if c.transport is not None:
                c.transport.close()


def _udp_socket(host: str, port: int, rcvbuf: int) -> socket.socket:
    """A bound, non-blocking UDP socket with a receive buffer of ``rcvbuf`` (kernel-capped)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind(addr)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _family(host: str) -> str:
    return "6" if ":" in host else "4"
