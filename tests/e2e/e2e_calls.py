"""Helpers shared by issue 9's tests (transfer, supervision, rooms, hold) with baresip phones
on the demo configuration (CONTRACT "Demo additions").

Each party plays its own tone as its microphone: `CALLER_HZ` (440), `AGENT_HZ` (1500),
`THIRD_HZ` (2200: the supervisor, the transfer target or a third room member). What a party
heard is told by `e2e_tones.presence` over its received recording.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from e2e_audio import write_tone
from e2e_baresip import Baresip, PhoneFactory
from e2e_daemon import Daemon
from e2e_tones import Presence, presence
from e2e_util import LOOPBACK

CALLER_HZ, AGENT_HZ, THIRD_HZ = 440.0, 1500.0, 2200.0
TONES = (CALLER_HZ, AGENT_HZ, THIRD_HZ)
SUPERVISOR = "1020"  # CONTRACT: user 1020 supervises both queues
SUPPORT = "800"  # queue support: agents 2001-2004 and 2008-2010
TONE_SECONDS = 90.0  # each source WAV; baresip's aufile stops at its end


def account(daemon: Daemon, user: str, *, register: bool, auto: bool = False) -> str:
    """A baresip account line for demo user `user` (password pw+user) on `daemon`."""
    return (
        f"<sip:{user}@{LOOPBACK}:{daemon.sip_port};transport=udp>;auth_pass=pw{user}"
        + (";regint=300" if register else ";regint=0")
        + (";answermode=auto" if auto else "")
    )


def uri(daemon: Daemon, number: str) -> str:
    return f"sip:{number}@{LOOPBACK}:{daemon.sip_port}"


def tone_file(tmp_path: Path, freq: float) -> Path:
    path = tmp_path / f"tone-{freq:.0f}.wav"
    return path if path.exists() else write_tone(path, freq, TONE_SECONDS)


def phone(
    phones: PhoneFactory,
    daemon: Daemon,
    tmp_path: Path,
    name: str,
    user: str,
    freq: float,
    *,
    register: bool = False,
    auto: bool = False,
) -> Baresip:
    """Start a baresip phone for `user` playing `freq`; registered ones wait for 200."""
    p = phones(name, account=account(daemon, user, register=register, auto=auto),
               source_wav=tone_file(tmp_path, freq))  # fmt: skip
    if register:
        p.wait_registered(timeout=10)
    return p


@dataclass(frozen=True, slots=True)
class Heard:
    """What one phone received over its whole call, tone by tone."""

    name: str
    presence: Presence

    def seconds(self, freq: float) -> float:
        return self.presence.seconds(freq)

    def __str__(self) -> str:
        return f"{self.name}: {self.presence.describe()}"


def heard(p: Baresip, *, start: float = 0.0) -> Heard:
    """The tones `p` received in its last call (after `start` s of its recording)."""
    _sent, received = p.recordings()
    return Heard(p.dir.name, presence(received, TONES, start=start))


def queue_call(caller: Baresip, agent: Baresip, daemon: Daemon, number: str = SUPPORT) -> None:
    """`caller` dials a queue; wait until the (auto-answering) `agent` has the call."""
    caller.dial(uri(daemon, number))
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    agent.wait_event("CALL_ESTABLISHED", timeout=25)


def hang_up(*phones: Baresip) -> None:
    """Hang up every phone that is still in a call and stop them all (closes recordings)."""
    for p in phones:
        if not p.closed():
            p.hangup()
    time.sleep(0.3)
    for p in phones:
        p.stop()
