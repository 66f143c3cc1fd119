"""The e2e harness itself: the daemon's readiness wait (e2e_daemon.await_ready) and the lock on
the demo trunk ports (e2e_util.DemoPortsLock), with small scripted child processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from e2e_daemon import LogReader, await_ready
from e2e_util import DemoPortsLock

READY = '{"event": "ready", "listen": []}'


def child(script: str) -> tuple[subprocess.Popen[bytes], LogReader]:
    """A Python child running `script`; its stderr is read as the daemon's is."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    return proc, LogReader(proc.stderr)


def finish(proc: subprocess.Popen[bytes], log: LogReader) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    log.join()


def test_a_slow_start_that_makes_progress_is_waited_for_past_the_timeout() -> None:
    proc, log = child(f"""
        import sys, time
        for i in range(20):  # 4 s of start-up, a line every 0.2 s
            print("starting", i, file=sys.stderr, flush=True)
            time.sleep(0.2)
        print('{READY}', file=sys.stderr, flush=True)
        time.sleep(30)
    """)
    try:
        start = time.monotonic()
        ready = await_ready(proc, log, timeout=2.0, limit=60.0)
        assert isinstance(ready, dict), ready
        assert ready["event"] == "ready"
        assert time.monotonic() - start > 2.0  # past the timeout without progress
    finally:
        finish(proc, log)


def test_a_start_without_progress_gives_up_after_the_timeout() -> None:
    proc, log = child("""
        import sys, time
        print("starting", file=sys.stderr, flush=True)
        time.sleep(60)  # no CPU, no line
    """)
    try:
        start = time.monotonic()
        why = await_ready(proc, log, timeout=1.5, limit=60.0)
        assert isinstance(why, str), why
        assert why.startswith("no progress (no CPU used, no log line) for "), why
        assert "load average" in why
        assert time.monotonic() - start < 30.0
    finally:
        finish(proc, log)


def test_a_start_that_goes_on_past_the_limit_gives_up_saying_so() -> None:
    proc, log = child("""
        import sys, time
        while True:
            print("starting", file=sys.stderr, flush=True)
            time.sleep(0.1)
    """)
    try:
        why = await_ready(proc, log, timeout=2.0, limit=3.0)
        assert isinstance(why, str), why
        assert why.startswith("still going after 3 s, though making progress"), why
    finally:
        finish(proc, log)


def test_an_exit_before_ready_is_reported_at_once_with_its_status() -> None:
    proc, log = child("""
        import sys
        print("ccswitch: address in use", file=sys.stderr)
        sys.exit(2)
    """)
    try:
        start = time.monotonic()
        why = await_ready(proc, log, timeout=30.0, limit=60.0)
        assert isinstance(why, str) and why.startswith("exited with status 2"), why
        assert time.monotonic() - start < 20.0
        assert "address in use" in log.text()
    finally:
        finish(proc, log)


def test_the_demo_ports_lock_makes_a_second_run_wait_and_names_the_holder(
        tmp_path: Path) -> None:
    path = tmp_path / "demo-ports.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from pathlib import Path
            from e2e_util import DemoPortsLock
            lock = DemoPortsLock(Path({str(path)!r}))
            lock.acquire("the other run")
            print("held", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        mine = DemoPortsLock(path)
        with pytest.raises(RuntimeError, match=r"held by pid \d+: the other run"):
            mine.acquire("this run", wait=0.5)
        assert not mine.held
        assert holder.stdin is not None
        holder.stdin.close()  # the other run ends: its lock goes with it
        holder.wait(10)
        mine.acquire("this run", wait=10.0)
        assert mine.held
        mine.acquire("this run again", wait=0.0)  # held already: no wait
        mine.release()
        assert not mine.held
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
