"""Helpers for the queue end-to-end tests: configurations, the queue event log, SIPp agents
and callers, and finding a shipped prompt (or the music on hold) in a phone's recording.

* `write_config` writes a small TOML configuration for one test (short ring timeouts).
* `queue_events` / `wait_queue_event` read the daemon's `queue_events` table (SQLite):
  the durable record, polled rather than taken from the log lines.
* `register` / `agent` / `caller` drive SIPp: an agent registers from a port, then a UAS
  scenario takes that port; a caller dials a number with digest credentials.
* `find_prompt` locates a prompt file in a recording by normalized cross-correlation (the
  prompt passes G.711 and a jitter buffer, so its samples survive nearly unchanged);
  `tone_onset` finds where a steady tone starts (Goertzel power per 20 ms frame).
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from e2e_audio import read_mono
from e2e_daemon import REPO, Daemon
from e2e_media import query
from e2e_sipp import Sipp, SippProcess, SippResult, dial_args
from e2e_util import free_port

PROMPTS = REPO / "src" / "ccswitch" / "prompts"
MOH = PROMPTS / "moh" / "default.wav"


# -- configuration -----------------------------------------------------------------------
def write_config(path: Path, text: str) -> Path:
    """Write a configuration (dedented) and return its path."""
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- the queue event log -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueueRow:
    """One row of `queue_events`, `data` parsed from its JSON."""

    id: int
    time: float
    event: str
    call_id: str | None
    queue: str | None
    agent: str | None
    data: dict[str, Any]

    def __str__(self) -> str:
        return (f"#{self.id} {self.event} call={self.call_id} queue={self.queue} "
                f"agent={self.agent} {json.dumps(self.data, sort_keys=True)}")  # fmt: skip


def queue_events(data_dir: Path) -> list[QueueRow]:
    """Every row of the queue event log, in order (empty when the table is not there yet)."""
    if not (data_dir / "ccswitch.db").exists():
        return []
    try:
        rows = query(data_dir, "SELECT * FROM queue_events ORDER BY id")
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [
        QueueRow(r["id"], r["time"], r["event"], r["call_id"], r["queue"], r["agent"],
                 json.loads(r["data"]))
        for r in rows
    ]  # fmt: skip


def describe(rows: list[QueueRow]) -> str:
    return "\n".join(str(r) for r in rows) or "(no queue events)"


def matching(rows: list[QueueRow], event: str, **fields: Any) -> list[QueueRow]:
    """Rows of `event` whose columns or data fields equal `fields`."""

    def value(row: QueueRow, key: str) -> Any:
        if key in ("call_id", "queue", "agent"):
            return getattr(row, key)
        return row.data.get(key)

    return [
        r for r in rows if r.event == event and all(value(r, k) == v for k, v in fields.items())
    ]


def wait_queue_event(
    daemon: Daemon, event: str, timeout: float, *, count: int = 1, **fields: Any
) -> list[QueueRow]:
    """Wait until `count` rows of `event` (with these fields) are in the log; return them.

    Fails with the whole log and the daemon's tail when they do not come in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        rows = queue_events(daemon.data_dir)
        found = matching(rows, event, **fields)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline or daemon.proc.poll() is not None:
            raise AssertionError(
                f"{count} x {event} {fields} not in the queue event log within {timeout:.0f} s"
                f"\n--- queue_events ---\n{describe(rows)}\n--- daemon ---\n{daemon.tail()}"
            )
        time.sleep(0.05)


def call_rows(rows: list[QueueRow], call_id: str) -> list[str]:
    """The event names of one call, in order."""
    return [r.event for r in rows if r.call_id == call_id]


# -- SIPp agents and callers -------------------------------------------------------------
def credentials(sipp: Sipp, user: str) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(user, f"pw{user}")))


def register(sipp: Sipp, daemon: Daemon, user: str) -> int:
    """Register `user` (demo password) from a fresh port; return the port."""
    port = free_port()
    reg = sipp.run("register.xml", *credentials(sipp, user), remote=daemon.sip_port,
                   local_port=port, timeout=10, tag=user)  # fmt: skip
    assert reg.ok, reg.describe()
    return port


def agent(
    sipp: Sipp,
    daemon: Daemon,
    user: str,
    scenario: str,
    *,
    calls: int = 1,
    timeout: float = 30.0,
    args: tuple[str, ...] = (),
) -> SippProcess:
    """Register `user`, then run the UAS `scenario` on its port for up to `calls` calls."""
    port = register(sipp, daemon, user)
    return sipp.start(scenario, "-m", str(calls), *args, local_port=port, timeout=timeout,
                      tag=user)  # fmt: skip


def caller(
    sipp: Sipp,
    daemon: Daemon,
    user: str,
    number: str,
    scenario: str,
    *,
    hold_ms: int = 0,
    digit: str | None = None,
    timeout: float = 30.0,
) -> SippProcess:
    """Start a SIPp caller: `user` dials `number`; `hold_ms` is the scenario's <pause/>,
    `digit` the key it sends by SIP INFO (scenarios that send one)."""
    extra = ("-d", str(hold_ms)) + (("-key", "digit", digit) if digit is not None else ())
    return sipp.start(scenario, *dial_args(number, daemon.sip_port), *credentials(sipp, user),
                      *extra, remote=daemon.sip_port, timeout=timeout, tag=user)  # fmt: skip


def sip_call_id(result: SippResult) -> str:
    """The Call-ID of the (last) INVITE a SIPp caller sent."""
    invites = result.requests("INVITE")
    assert invites, result.describe()
    call_id = invites[-1].header("Call-ID")
    assert call_id, result.describe()
    return call_id


def queue_call_id(daemon: Daemon, rows: list[QueueRow], sip_id: str) -> str:
    """The switch's call id of the caller whose SIP Call-ID is `sip_id` (from its
    `service_started` log line), checked to be the id its queue events carry."""
    started = daemon.log.find("service_started", sip_call_id=sip_id)
    assert started is not None, f"no service_started for {sip_id}\n{daemon.tail()}"
    call_id = str(started["call_id"])
    assert any(r.call_id == call_id for r in rows), f"call {call_id}\n{describe(rows)}"
    return call_id


# -- audio -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Match:
    score: float  # normalized cross-correlation, 1.0 = identical up to gain
    at: float  # seconds into the recording where the template starts

    def __str__(self) -> str:
        return f"score {self.score:.2f} at {self.at:.2f} s"


def find_prompt(
    recording: Path, template: Path, *, start: float = 0.0, seconds: float | None = None
) -> Match:
    """Where the part of `template` from `start` (for `seconds`) best matches `recording`."""
    x, rate = read_mono(recording)
    t, t_rate = read_mono(template)
    assert rate == t_rate == 8000, (recording, rate, template, t_rate)
    t = t[int(start * rate) :]
    if seconds is not None:
        t = t[: int(seconds * rate)]
    n = len(t)
    if len(x) < n or n == 0:
        return Match(0.0, 0.0)
    t = t - t.mean()
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    spec = np.fft.rfft(x, size) * np.conj(np.fft.rfft(t, size))
    corr = np.fft.irfft(spec, size)[: len(x) - n + 1]
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    win_sum = c1[n:] - c1[:-n]
    win_energy = c2[n:] - c2[:-n] - win_sum**2 / n  # energy of the window minus its mean
    denom = np.sqrt(np.maximum(win_energy, 1e-9) * float((t * t).sum()))
    ncc = np.where(win_energy > n * 100.0, corr / denom, 0.0)  # silent windows never match
    best = int(np.argmax(ncc))
    return Match(float(ncc[best]), best / rate)


def tone_onset(recording: Path, freq: float, *, share: float = 0.6) -> float | None:
    """Seconds into `recording` of the first of five 20 ms frames in a row in which `freq`
    holds more than `share` of the frame's power; None if it never does."""
    x, rate = read_mono(recording)
    frame = rate // 50
    n = len(x) // frame
    if n < 5:
        return None
    frames = x[: n * frame].reshape(n, frame)
    k = np.arange(frame)
    probe = np.exp(-2j * np.pi * freq * k / rate)
    tone = np.abs(frames @ probe) ** 2 * 2 / frame
    total = (frames**2).sum(axis=1) + 1e-9
    hit = (tone / total > share) & (np.sqrt(total / frame) > 100.0)
    for i in range(n - 4):
        if hit[i : i + 5].all():
            return i * frame / rate
    return None


def cut(recording: Path, out: Path, start: float, end: float | None = None) -> Path:
    """`recording`'s first channel from `start` to `end` seconds, as a mono WAV."""
    x, rate = read_mono(recording)
    part = x[int(start * rate) : None if end is None else int(end * rate)]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(part.astype("<i2").tobytes())
    return out
