"""Peers that validate the generator without a real relay (``rtp_load.py --targets``).

* ``direct`` - no relay at all: each phone sends straight to the other phone of its call, so
  the figures are the generator's own (its ceiling on one core).
* ``pyrelay`` - this file run as a script: a few lines of Python epoll relay.  Stream j's
  packets arrive on relay socket j and leave from socket j^1 to generator port j^1.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

HOST = "127.0.0.1"


class DirectRelay:
    """No relay: each phone sends straight to the other (the generator's own ceiling)."""

    name = "direct"
    pid = 0

    def setup_pairs(self, gen_ports: list[int]) -> list[tuple[str, int]]:
        return [(HOST, gen_ports[j ^ 1]) for j in range(len(gen_ports))]

    def fileno(self) -> int | None:
        return None

    def poll(self) -> None:
        return None

    def stop(self) -> dict[str, object]:
        return {}


class PyRelay:
    """This file run as a script: the simplest possible Python relay, in a process of its own."""

    name = "pyrelay"

    def __init__(self, *, cpu: int | None) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve())]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
        self.pid = self.proc.pid

    def setup_pairs(self, gen_ports: list[int]) -> list[tuple[str, int]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((" ".join(map(str, gen_ports)) + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode().split()
        return [(HOST, int(p)) for p in line[1:]]

    def fileno(self) -> int | None:
        return None

    def poll(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError("pyrelay died")

    def stop(self) -> dict[str, object]:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        return {}


def serve_pyrelay() -> int:
    """Stream j's packets arrive on socket j and leave from socket j^1 to generator port j^1."""
    gen_ports = [int(p) for p in sys.stdin.readline().split()]
    socks = []
    for _ in gen_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((HOST, 0))
        s.setblocking(False)
        socks.append(s)
    print("PORTS " + " ".join(str(s.getsockname()[1]) for s in socks), flush=True)
    ep = select.epoll()
    by_fd = {s.fileno(): j for j, s in enumerate(socks)}
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)
    ep.register(sys.stdin.fileno(), select.EPOLLIN | select.EPOLLHUP)
    buf = bytearray(2048)
    while True:
        for fd, _ in ep.poll():
            j = by_fd.get(fd)
            if j is None:
                return 0  # the driver closed stdin
            with contextlib.suppress(BlockingIOError):
                while True:
                    n = socks[j].recv_into(buf)
                    socks[j ^ 1].sendto(memoryview(buf)[:n], (HOST, gen_ports[j ^ 1]))


if __name__ == "__main__":
    sys.exit(serve_pyrelay())
