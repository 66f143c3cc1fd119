"""The RTP/RTCP socket pair of a media leg: bound by the worker, probed by the port pool."""

from __future__ import annotations

import socket
from collections.abc import Callable


def bind_pair(ip: str, port: int, *, rcvbuf: int = 0) -> tuple[socket.socket, socket.socket]:
    """Non-blocking UDP sockets bound to ``ip:port`` (RTP) and ``ip:port+1`` (RTCP);
    raises ``OSError`` (nothing left open) when either cannot be bound."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    socks: list[socket.socket] = []
    try:
        for p in (port, port + 1):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.setblocking(False)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((ip, p))
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks[0], socks[1]


def pair_probe(ip: str) -> Callable[[int], bool]:
    """The port pool's probe for media address ``ip``: whether the pair at a port can be
    bound right now (bound the way the worker binds it, then closed at once)."""

    def probe(port: int) -> bool:
        try:
            rtp, rtcp = bind_pair(ip, port)
        except OSError:
            return False
        rtp.close()
        rtcp.close()
        return True

    return probe
