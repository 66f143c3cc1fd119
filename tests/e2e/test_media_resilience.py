"""Media failures end calls cleanly, with SIPp on both sides: a media worker killed in the
middle of a call is restarted and its call is hung up with BYE on both legs; a call whose
RTP stops is hung up after the configured RTP timeout."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import settle
from e2e_sipp import Sipp, SippProcess, dial_args
from e2e_util import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0


def creds(sipp: Sipp, user: str) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(user, f"pw{user}")))


def call_waiting_for_bye(sipp: Sipp, d: Daemon, caller: str,
                         callee: str) -> tuple[SippProcess, SippProcess]:
    """A call from `caller` to `callee` (registered), both SIPp sides waiting for a BYE."""
    port = free_port()
    reg = sipp.run("register.xml", *creds(sipp, callee), remote=d.sip_port, local_port=port,
                   timeout=10)
    assert reg.ok, reg.describe()
    uas = sipp.start("uas_answer.xml", local_port=port, timeout=TIMEOUT)
    uac = sipp.start("uac_callee_bye.xml", *dial_args(callee, d.sip_port),
                     *creds(sipp, caller), remote=d.sip_port, timeout=TIMEOUT)
    return uac, uas


def wait_count(d: Daemon, event: str, n: int, timeout: float) -> bool:
    """Whether the daemon logged `event` at least `n` times within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for e in d.log.events() if e.get("event") == event) >= n:
            return True
        time.sleep(0.05)
    return False


def worker_pids(d: Daemon) -> list[int]:
    return [int(e["pid"]) for e in d.log.events()
            if e.get("event") == "media_worker_started" and "pid" in e]


def test_a_killed_media_worker_ends_its_call_with_bye_and_comes_back(
        sipp: Sipp, start_daemon: DaemonFactory) -> None:
    d = settle(start_daemon(extra_args=("--media-workers", "1")))
    (pid,) = worker_pids(d)
    uac, uas = call_waiting_for_bye(sipp, d, "1011", "1012")
    try:
        assert d.log.wait_for("call_answered", timeout=10), d.tail()
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        uac_result, uas_result = uac.wait(10), uas.wait(10)
    finally:
        uac.stop()
        uas.stop()
    assert uac_result.ok, uac_result.describe()
    assert uas_result.ok, uas_result.describe()
    assert uac_result.requests("BYE", "received") and uas_result.requests("BYE", "received")
    assert d.log.find("media_worker_died"), d.tail()
    ended = d.log.wait_for("cdr", timeout=5)
    assert ended is not None and ended.get("status") == 200
    deadline = time.monotonic() + 10
    while len(worker_pids(d)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(worker_pids(d)) == 2 and worker_pids(d)[1] != pid, d.tail()
    # the restarted worker carries the next call
    uac, uas = call_waiting_for_bye(sipp, d, "1013", "1014")
    try:
        assert wait_count(d, "call_answered", 2, timeout=10), d.tail()
        time.sleep(0.5)
        rc, _ = d.terminate()
        uac_result, uas_result = uac.wait(5), uas.wait(5)
    finally:
        uac.stop()
        uas.stop()
    assert rc == 0
    assert uac_result.ok and uas_result.ok, (uac_result.describe(), uas_result.describe())


def test_a_call_without_rtp_is_hung_up_after_the_rtp_timeout(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    config = tmp_path / "short-timeout.toml"
    text = (REPO / "configs" / "demo.toml").read_text()
    text, n = re.subn(r"(?m)^rtp_timeout\s*=\s*\d+", "rtp_timeout = 2", text)
    assert n == 1
    config.write_text(text)
    d = settle(start_daemon(extra_args=("--config", str(config))))
    uac, uas = call_waiting_for_bye(sipp, d, "1015", "1016")  # SIPp sends no RTP here
    try:
        assert d.log.wait_for("call_answered", timeout=10), d.tail()
        started = time.monotonic()
        uac_result, uas_result = uac.wait(10), uas.wait(10)
        took = time.monotonic() - started
    finally:
        uac.stop()
        uas.stop()
    assert uac_result.ok and uas_result.ok, (uac_result.describe(), uas_result.describe())
    assert 1.5 <= took <= 6.0, took
    lost = d.log.find("media_lost")
    assert lost is not None and lost.get("reason") == "RTP timeout", d.tail()
