"""Call events the B2BUA reports to the shell (logs, CDRs, the API later)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    caller: str
    callee: str
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    callee_contact: str
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A call is over: ``status`` is the final answer (200 when it was answered)."""

    call_id: str
    caller: str
    callee: str
    status: int
    reason: str
    started: float
    answered: float | None
    ended: float
    ended_by: str  # "caller" | "callee" | "switch" | "media"
    recording: str | None = None  # the recording's file, when the call was recorded


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """``call_id`` is being recorded into ``path`` (caller on channel 1, callee on 2)."""

    call_id: str
    path: str
    at: float


CallEvent = CallStarted | CallAnswered | CallEnded | RecordingStarted
