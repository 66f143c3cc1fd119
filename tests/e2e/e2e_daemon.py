"""Run the ccswitch daemon as a child process and read its JSON log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from e2e_util import LOOPBACK, free_port, free_port_block

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
READY_TIMEOUT = 15.0  # s without progress (no CPU used, no log line) before giving up
READY_LIMIT = 120.0  # s in all, progress or not: a loaded machine is slow, not this slow
STOP_TIMEOUT = 5.0
_TICK = os.sysconf("SC_CLK_TCK")


def child_env() -> dict[str, str]:
    """The environment for `python -m ccswitch`: PYTHONPATH starts with the repo's src."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ccswitch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ccswitch", *args]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process `pid` and its live children (the
    media workers); 0.0 for a process that is gone."""
    def own(p: str) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime

    children: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += task.read_text().split()
        except OSError:
            continue
    return own(str(pid)) + sum(own(c) for c in children)


class LogReader:
    """Collects the daemon's stderr lines on a thread; JSON lines are parsed as events."""

    def __init__(self, stream: Any):
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def text(self) -> str:
        with self._cond:
            return "\n".join(self._lines)

    def count(self) -> int:
        """How many lines have arrived (a mark for `since`)."""
        with self._cond:
            return len(self._lines)

    def since(self, mark: int) -> str:
        """The lines that arrived after `mark` (a `count()` taken before), as text: what one
        test of several sharing a daemon made it log."""
        with self._cond:
            return "\n".join(self._lines[mark:])

    def events(self) -> list[dict[str, Any]]:
        """Every line that parses as a JSON object."""
        with self._cond:
            lines = list(self._lines)
        out: list[dict[str, Any]] = []
        for line in lines:
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
        return out

    def find(self, event: str, **fields: Any) -> dict[str, Any] | None:
        for e in self.events():
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                return e
        return None

    def wait_for(self, event: str, timeout: float, **fields: Any) -> dict[str, Any] | None:
        """The first event named `event` (with these field values), waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(event, **fields)
            if found is not None:
                return found
            with self._cond:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    closed = True
                else:
                    closed = False
                    self._cond.wait(min(left, 0.2))
            if closed:
                return self.find(event, **fields)

    def join(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)


class Progress:
    """Watches a starting process: whether it (or a child: the media workers) used CPU or
    logged a line since the last look.  On a loaded machine a start is slow but moving; a
    stuck one is neither."""

    def __init__(self, proc: subprocess.Popen[bytes], log: LogReader):
        self.proc, self.log = proc, log
        self.start = self.last = time.monotonic()
        self.cpu, self.lines = cpu_seconds(proc.pid), log.count()

    def idle(self) -> float:
        """Seconds since the last progress seen (looking now)."""
        now = time.monotonic()
        cpu, lines = cpu_seconds(self.proc.pid), self.log.count()
        if cpu > self.cpu or lines > self.lines:
            self.cpu, self.lines, self.last = cpu, lines, now
        return now - self.last

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def stuck(self, timeout: float, limit: float) -> str | None:
        """Why to give up waiting, or None: the process exited, made no progress for
        `timeout` s, or `limit` s have passed in all."""
        rc = self.proc.poll()
        if rc is not None:
            state = f"exited with status {rc}"
        elif (idle := self.idle()) >= timeout:
            state = f"no progress (no CPU used, no log line) for {idle:.1f} s"
        elif self.elapsed() >= limit:
            state = f"still going after {limit:.0f} s, though making progress"
        else:
            return None
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        return (f"{state} ({self.elapsed():.1f} s after the start, {self.cpu:.2f} s of CPU "
                f"used, load average {load})")


def await_ready(proc: subprocess.Popen[bytes], log: LogReader, *, timeout: float,
                limit: float) -> dict[str, Any] | str:
    """Wait for `proc`'s `ready` event (read by `log`): the event, or why it did not come.

    A loaded machine makes the start slow, so the wait goes on past `timeout` as long as the
    process lives and makes progress (`Progress`) within every `timeout` s, up to `limit` s
    in all.  It gives up at once when the process exits, after `timeout` s without
    progress, or at `limit`."""
    progress = Progress(proc, log)
    while True:
        ready = log.wait_for("ready", 0.25)
        if ready is not None:
            return ready
        why = progress.stuck(timeout, limit)
        if why is not None:
            if proc.poll() is not None:
                log.join()
            if (ready := log.find("ready")) is not None:  # logged just before it exited
                return ready
            return why


class DaemonError(RuntimeError):
    """The daemon did not become ready; the message carries its log."""


class Daemon:
    """A running `python -m ccswitch serve` with loopback UDP+TCP on one port."""

    def __init__(
        self,
        workdir: Path,
        *,
        sip_port: int | None = None,
        http_port: int | None = None,
        data_dir: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        self.workdir = workdir
        self.sip_port = sip_port if sip_port is not None else free_port()
        self.http_port = http_port if http_port is not None else free_port(udp=False)
        # a relative `data_dir` is passed as given: the daemon resolves it in its cwd (workdir)
        self.data_dir = workdir / (data_dir if data_dir is not None else "data")
        data_arg = str(data_dir) if data_dir is not None and not data_dir.is_absolute() \
            else str(self.data_dir)
        if data_dir is None or data_dir.is_absolute():
            self.data_dir.mkdir(parents=True, exist_ok=True)
        rtp = free_port_block(64)
        self.args = [
            "serve",
            "--listen", f"udp:{LOOPBACK}:{self.sip_port}",
            "--listen", f"tcp:{LOOPBACK}:{self.sip_port}",
            "--data-dir", data_arg,
            "--http", f"{LOOPBACK}:{self.http_port}",
            "--rtp-ports", f"{rtp}-{rtp + 63}",
            "--log-format", "json",
            *extra_args,
        ]  # fmt: skip
        self.stdout_path = workdir / f"daemon-{self.sip_port}.stdout"
        self._stdout = self.stdout_path.open("wb")
        self.proc = subprocess.Popen(
            ccswitch_command(*self.args),
            cwd=workdir,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.PIPE,
        )
        self.log = LogReader(self.proc.stderr)
        self.ready: dict[str, Any] = {}
        self.returncode: int | None = None

    def wait_ready(self, timeout: float = READY_TIMEOUT,
                   limit: float = READY_LIMIT) -> dict[str, Any]:
        """Block until the `ready` event (`await_ready`); raise DaemonError naming what went
        wrong, with the daemon's log, after killing it, otherwise."""
        ready = await_ready(self.proc, self.log, timeout=timeout, limit=limit)
        if isinstance(ready, str):
            self.kill()
            raise DaemonError(f"daemon not ready: {ready}; args: {' '.join(self.args)}\n"
                              f"--- stderr ---\n{self.log.text()[-4000:]}")
        self.ready = ready
        return ready

    def terminate(self, timeout: float = STOP_TIMEOUT) -> tuple[int | None, float]:
        """SIGTERM, then wait up to `timeout` s: (exit code or None if still running, seconds)."""
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            return self.returncode, 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - start
        finally:
            self.log.join()
        return self.returncode, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.join()
        self._stdout.close()

    def close(self) -> None:
        self.kill()

    def tail(self, n: int = 4000) -> str:
        return self.log.text()[-n:]


DaemonFactory = Callable[..., Daemon]
