"""RFC 4475 conformance against the daemon: every vector of tests/vectors, over UDP and TCP.

Each vector (``valid/``, ``invalid/`` and our own ``rfc4475/`` messages) is sent with a raw
socket to a real daemon on the demo configuration — one datagram, or one new TCP connection —
and the status of the first final answer must be the one ``tests/vectors/answers.toml`` gives
(``0``: no answer at all, as for a response that matches no transaction).  Afterwards the
daemon still runs and answers a plain OPTIONS with 200.  No vector leaves a call behind: the
INVITEs among them are refused or challenged (the demo authenticates every caller).
"""

from __future__ import annotations

import re
import socket
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from e2e_daemon import Daemon
from e2e_util import LOOPBACK, options_tcp, options_udp

pytestmark = pytest.mark.e2e

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ANSWERS: dict[str, dict[str, Any]] = tomllib.loads((VECTORS / "answers.toml").read_text())
STATUS = re.compile(rb"(?:^|\r\n)SIP/2\.0 (\d{3}) ([^\r\n]*)")
MAX_DATAGRAM = 65507  # a larger vector cannot travel over UDP/IPv4 at all (TCP only)
QUIET = 0.6  # how long a vector that must not be answered is watched
WAIT = 3.0  # how long an answer may take on a loaded machine


def _final(data: bytes) -> tuple[int, str] | None:
    """The first final status in what arrived (provisional 1xx skipped)."""
    for m in STATUS.finditer(data):
        code = int(m.group(1))
        if code >= 200:
            return code, m.group(2).decode("utf-8", "replace")
    return None


def _fresh(payload: bytes, n: int) -> bytes:
    """The vector as a new transaction: its first branch and Call-ID made unique."""
    payload = payload.replace(b"branch=z9hG4bK", b"branch=z9hG4bKretry%d" % n, 1)
    return re.sub(rb"(\r\n(?:Call-ID|i)[ \t]*:[ \t]*)", rb"\g<1>retry%d" % n, payload, count=1)


def _send(send: Any, port: int, payload: bytes, want: int) -> bytes:
    """Send a vector; while the overload guard sheds new work (503 while this shared machine
    is loaded) try again as a new transaction, up to a few times."""
    got = send(port, payload, WAIT if want else QUIET)
    for n in range(1, 6):
        final = _final(got)
        if want == 503 or final is None or final[0] != 503:
            break
        time.sleep(1.0)
        got = send(port, _fresh(payload, n), WAIT)
    return got


def _udp(port: int, payload: bytes, wait: float) -> bytes:
    got = b""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        s.sendto(payload, (LOOPBACK, port))
        deadline = time.monotonic() + wait
        while _final(got) is None and (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                got += s.recv(65535) + b"\r\n"
            except TimeoutError:
                break
    return got


def _tcp(port: int, payload: bytes, wait: float) -> bytes:
    got = b""
    with socket.create_connection((LOOPBACK, port), timeout=wait) as s:
        s.sendall(payload)
        deadline = time.monotonic() + wait
        while _final(got) is None and (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                chunk = s.recv(65535)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
    return got


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_every_vector_gets_the_rfc_answer_and_the_daemon_lives_on(
    daemon: Daemon, transport: str
) -> None:
    send = _udp if transport == "udp" else _tcp
    wrong: list[str] = []
    for name in sorted(ANSWERS):
        entry = ANSWERS[name]
        want = int(entry.get(transport, entry["answer"]))
        payload = (VECTORS / f"{name}.sip").read_bytes()
        if transport == "udp" and len(payload) > MAX_DATAGRAM:
            continue
        got = _send(send, daemon.sip_port, payload, want)
        final = _final(got)
        status = final[0] if final else 0
        if want == 0 and got.strip(b"\r\n"):  # a CRLF pong answers a CRLFCRLF ping
            wrong.append(f"{name}: expected no answer, got {got[:60]!r}")
        elif status != want:
            wrong.append(f"{name}: expected {want}, got {final or 'nothing'}")
        assert daemon.proc.poll() is None, f"daemon died at {name}"
    assert not wrong, "\n".join(wrong)
    assert (options_udp(daemon.sip_port) or "").startswith("SIP/2.0 200"), daemon.tail()
    assert (options_tcp(daemon.sip_port) or "").startswith("SIP/2.0 200"), daemon.tail()
    assert "Traceback" not in daemon.log.text(), daemon.tail()
