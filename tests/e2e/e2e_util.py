"""Small helpers for the end-to-end tests: free ports and raw SIP probes over loopback."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"
# The demo's carrier trunks (CONTRACT "Demo additions" -> "Trunks"): fixed ports, so the tests
# that play a carrier on them take DEMO_PORTS_LOCK first (e2e_sipp does it for them).
DEMO_TRUNK_PORTS = frozenset({5070, 5072})
DEMO_PORTS_LOCK = Path(tempfile.gettempdir()) / "ccswitch-e2e-demo-trunk-ports.lock"
DEMO_PORTS_WAIT = 600.0  # s: longer than any one test that holds it


def free_port(*, udp: bool = True, tcp: bool = True, attempts: int = 200) -> int:
    """Return a loopback port that is free for UDP and TCP at once (both by default).

    Ports come from a random draw in 21000-59999 rather than from the kernel's
    ephemeral range, so a port handed out here is not immediately reused by an
    outgoing connection of another process.
    """
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(attempts):
        port = rng.randrange(21000, 60000)
        if _bindable(port, udp=udp, tcp=tcp):
            return port
    raise RuntimeError("no free loopback port found")


def free_port_block(size: int, *, attempts: int = 50) -> int:
    """Return the first port of `size` consecutive UDP ports free on loopback (even)."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(attempts):
        first = rng.randrange(30000, 60000 - size) & ~1
        if all(_bindable(p, udp=True, tcp=False) for p in range(first, first + size)):
            return first
    raise RuntimeError(f"no block of {size} free UDP ports found")


def _bindable(port: int, *, udp: bool, tcp: bool) -> bool:
    kinds = ([socket.SOCK_DGRAM] if udp else []) + ([socket.SOCK_STREAM] if tcp else [])
    socks: list[socket.socket] = []
    try:
        for kind in kinds:
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


class DemoPortsLock:
    """An exclusive lock on the demo trunk ports for every test run on this machine (flock on
    DEMO_PORTS_LOCK, so runs in other checkouts respect it too).  Taken by the first SIPp run
    of a test on one of the ports, released when that test's teardown is over (conftest)."""

    def __init__(self, path: Path = DEMO_PORTS_LOCK):
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self, what: str, wait: float = DEMO_PORTS_WAIT) -> None:
        """Take the lock unless held already (`what` names the holder in the others' message),
        waiting up to `wait` s for another test run to release it; RuntimeError after."""
        if self._file is not None:
            return
        f = self.path.open("a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    f.seek(0)
                    holder = f.read().strip() or "unknown"
                    f.close()
                    raise RuntimeError(
                        f"demo trunk ports {sorted(DEMO_TRUNK_PORTS)} still in use after "
                        f"{wait:.0f} s (lock {self.path}, held by {holder})") from None
                time.sleep(0.2)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}: {what}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


demo_ports = DemoPortsLock()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def options_request(transport: str, local_port: int, remote_port: int, tag: str) -> bytes:
    """A minimal RFC 3261 OPTIONS request to 127.0.0.1:`remote_port`."""
    branch = f"z9hG4bK{tag}{random.randrange(1 << 30)}"
    lines = [
        f"OPTIONS sip:{LOOPBACK}:{remote_port} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {LOOPBACK}:{local_port};branch={branch};rport",
        f"From: <sip:probe@{LOOPBACK}>;tag={tag}",
        f"To: <sip:{LOOPBACK}:{remote_port}>",
        f"Call-ID: {tag}-{random.randrange(1 << 30)}@{LOOPBACK}",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def udp_exchange(port: int, payload: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one datagram to 127.0.0.1:`port`; return the first datagram back or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        s.settimeout(timeout)
        s.sendto(payload, (LOOPBACK, port))
        try:
            data, _ = s.recvfrom(65535)
        except TimeoutError:
            return None
        return data


def tcp_exchange(port: int, payload: bytes, timeout: float = 2.0) -> bytes:
    """Send `payload` on a new TCP connection; return what arrives before close or timeout."""
    chunks: list[bytes] = []
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(payload)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65535)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks):
                break
    return b"".join(chunks)


def options_udp(port: int, timeout: float = 2.0) -> str | None:
    """Send OPTIONS over UDP; return the status line of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        s.settimeout(timeout)
        local = s.getsockname()[1]
        s.sendto(options_request("udp", local, port, "u"), (LOOPBACK, port))
        try:
            data, _ = s.recvfrom(65535)
        except TimeoutError:
            return None
    return status_line(data)


def options_tcp(port: int, timeout: float = 2.0) -> str | None:
    """Send OPTIONS on a new TCP connection; return the status line of the answer, or None."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        local = s.getsockname()[1]
        s.sendall(options_request("tcp", local, port, "t"))
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in data and time.monotonic() < deadline:
            try:
                chunk = s.recv(65535)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    return status_line(data) if data else None


def status_line(data: bytes) -> str:
    """The first line of a SIP message, decoded leniently."""
    return data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
