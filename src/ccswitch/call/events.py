"""Call events the B2BUA reports to the shell (logs, CDRs, the API later).

``call_id`` is the switch's own id for a call (see ``B2bua.new_call_id``): the CDR row, the
recording's file name and row, the queue event log and every log line about the call use it.
The caller's SIP Call-ID is kept beside it (``sip_call_id``) to find the call in a SIP trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..acd.events import CallHeld


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    caller: str
    callee: str
    at: float
    did: str | None = None  # the DID a carrier's call came in on
    inbound: bool = True  # False: the switch placed it (a callback, click-to-dial)


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    callee_contact: str
    at: float


@dataclass(frozen=True, slots=True)
class TransferEnded:
    """A transfer's outcome: ``status`` 200 when the target answered (the final NOTIFY
    200), else the failure (the target's final code, 481 for a vanished Replaces dialog,
    487 when the call ended before the target answered).  ``started``: the REFER (or the
    API's command) came in; ``at``: the outcome."""

    call_id: str
    kind: str  # "blind" | "attended"
    target: str
    by: str  # "refer" | "api"
    status: int
    started: float
    at: float


@dataclass(frozen=True, slots=True)
class LegRecord:
    """One SIP leg a call had, for its CDR (``cdr_legs``): every fork rung (answered or
    not), the caller's leg, transfer targets, third parties, trunk legs.

    ``role``: caller, callee, agent, transfer, party, supervisor, replaces or trunk;
    ``party``: the user, agent or ``trunk:number`` it reached (or came from); times on the
    core's clock (``answered`` None: never answered; a leg still up when the call ended
    ended then); ``status``: its final SIP status (the
    caller's leg: ours to it); ``ended_by``: ``party`` (its phone: BYE, a refusal),
    ``peer`` (the other party hung up), ``switch`` (a CANCEL, a timeout, a transfer) or
    ``media``; ``call_end``: ``caller``/``callee`` when it was one of the call's two ends
    when the call ended (its quality figures come then), else None.  The store reads it
    back as ``store.history.CdrLeg`` (the same fields, wall-clock times)."""

    leg_id: str
    role: str
    party: str
    started: float
    answered: float | None
    ended: float
    status: int | None
    reason: str
    ended_by: str
    codec: str | None = None
    call_end: str | None = None
    media: int | None = None  # its media leg (its quality figures come by it), not stored


@dataclass(frozen=True, slots=True)
class TransferStep:
    """One transfer of a call, in order: ``kind`` blind or attended, ``by`` the transferor
    (agent or user), ``target`` the number referred to, ``at`` on the core's clock, ``via``
    ``refer`` (a phone) or ``api`` (a command); ``result``: ``answered``, ``failed:STATUS``
    (the transferor got the call back, or the call ended), None while it was going on."""

    kind: str
    by: str
    target: str
    at: float
    via: str
    result: str | None = None


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A call attempt is over: ``status`` is the final answer (200 when it was answered).

    Refused attempts (404, 480, 403, 503…) are reported too, with ``started == ended``.
    ``ended_by`` names who ended it: the caller (BYE, CANCEL), the callee (BYE, a final
    failure), the switch (a refusal, a timeout, shutdown) or the media (RTP lost).
    """

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
    sip_call_id: str = ""  # the Call-ID of the caller's INVITE
    queue: str | None = None  # the (last) queue the caller waited in
    agent: str | None = None  # the queue agent who answered (the last one, after a transfer)
    transfer: str | None = None  # the last transfer: "blind:NUMBER" or "attended:NUMBER"
    transferred_by: str | None = None  # who transferred it (an agent, or a phone's user)
    # its media legs at the end, ("caller", leg) and ("callee", leg): the shell waits for
    # their final figures (``call/quality.py``); not streamed
    media_legs: tuple[tuple[str, int], ...] = ()
    legs: tuple[LegRecord, ...] = ()  # every leg it had (``cdr_legs``); not streamed
    transfers: tuple[TransferStep, ...] = ()  # every transfer, in order; not streamed


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """``call_id`` is being recorded into ``path`` (caller on channel 1, callee on 2)."""

    call_id: str
    path: str
    at: float


@dataclass(frozen=True, slots=True)
class RecordingPaused:
    """The recording ``path`` of ``call_id`` is paused (silence is written in its place) from
    ``offset`` seconds into the file; ``by``: api, desktop or ``ivr:MENU``; ``user``: the
    token's user (or role) for api and desktop."""

    call_id: str
    path: str
    at: float
    offset: float
    by: str
    user: str | None = None
    queue: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingResumed:
    """The recording ``path`` of ``call_id`` records again from ``offset`` seconds into the
    file; ``by``: who ended the pause."""

    call_id: str
    path: str
    at: float
    offset: float
    by: str
    queue: str | None = None
    agent: str | None = None


CallEvent = (CallStarted | CallAnswered | CallEnded | TransferEnded | RecordingStarted
             | RecordingPaused
             | RecordingResumed | CallHeld)
"""``CallHeld`` (a queue call's hold, ``acd/events.py``) is reported by the B2BUA too."""
