"""What the router reports: queue events (the durable log) and actions (what the switch does).

Events (``Router.events()``) are the record reports are computed from - one per fact, each
with the ``time`` it happened (the router's ``now``, seconds on the shell's clock).  Times
inside events (``wait``, ``talk``...) are seconds.  A caller's life in a queue is::

    CallerEntered -> (CallerOffered -> OfferFailed)* -> exactly one exit
    exits: CallerConnected | CallerAbandoned | CallerOverflowed | CallerExitedWithKey
           | CallbackFailed(final=True)
    after CallerConnected: CallTransferred | CallCompleted, CallHeld (held, resumed) between

``CallerPriorityChanged`` (a supervisor's command) may come at any time while a caller is in
line.  ``CallerRefused`` is a caller turned away at the door (never entered).  Agents:
``AgentLoggedIn``, ``AgentLoggedOut``, ``AgentPaused``, ``AgentUnpaused``.  ``SwitchStarted``
is written by the shell (not the router) when the daemon starts: whatever was open before it
(callers waiting, agents logged in) ended with the previous run.

Actions (``Router.actions()``) are what the switch must do: ``Offer`` (ring these agents),
``CancelOffer`` (stop ringing / stop a callback attempt), ``Callback`` (call the caller back
with this agent reserved), ``Overflow`` (take the caller out to ``target``), ``Announce``
(tell the caller its position and expected wait).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .model import Target

OfferFailure = Literal["noanswer", "busy", "rejected", "cancelled"]
OverflowReason = Literal["timeout", "leaveempty"]
RefuseReason = Literal["full", "joinempty"]
Hangup = Literal["caller", "agent"]


# -- caller events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerEntered:
    """A caller joined ``queue`` at ``position`` (1 = next); ``number`` is its caller id;
    ``rejoined``: it took back the place it had before hanging up."""

    time: float
    call_id: str
    queue: str
    priority: int
    position: int
    skills: tuple[tuple[str, int], ...]
    number: str | None = None
    rejoined: bool = False


@dataclass(frozen=True, slots=True)
class CallerRefused:
    """A caller was not let in (``full`` or ``joinempty``); it goes to ``target``."""

    time: float
    call_id: str
    queue: str
    reason: RefuseReason
    target: Target | None


@dataclass(frozen=True, slots=True)
class CallerOffered:
    """The call was offered to ``agent`` (ring-all: one event per agent rung)."""

    time: float
    call_id: str
    queue: str
    agent: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """An offer to ``agent`` ended unanswered after ``ring_time`` seconds: ``noanswer``
    (including the ring timeout), ``busy``, ``rejected``, or ``cancelled`` (the caller left
    or the agent logged out while ringing)."""

    time: float
    call_id: str
    queue: str
    agent: str
    reason: OfferFailure
    ring_time: float


@dataclass(frozen=True, slots=True)
class CallerConnected:
    """``agent`` answered; the caller waited ``wait`` seconds, the agent rang ``ring_time``.
    ``callback``: the connection is a virtual-hold callback."""

    time: float
    call_id: str
    queue: str
    agent: str
    wait: float
    ring_time: float
    entry_position: int
    callback: bool = False


@dataclass(frozen=True, slots=True)
class CallerAbandoned:
    """The caller hung up while waiting at ``position`` (entered at ``entry_position``)."""

    time: float
    call_id: str
    queue: str
    position: int
    entry_position: int
    wait: float


@dataclass(frozen=True, slots=True)
class CallerOverflowed:
    """The router took the caller out: ``timeout`` (max wait) or ``leaveempty``."""

    time: float
    call_id: str
    queue: str
    reason: OverflowReason
    target: Target | None
    position: int
    entry_position: int
    wait: float


@dataclass(frozen=True, slots=True)
class CallerExitedWithKey:
    """The caller left the queue by pressing ``key`` (e.g. 0 for voicemail)."""

    time: float
    call_id: str
    queue: str
    key: str
    position: int
    entry_position: int
    wait: float


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The agent transferred the connected call to ``target``."""

    time: float
    call_id: str
    queue: str
    agent: str
    target: str
    wait: float
    talk: float
    entry_position: int
    attended: bool = False  # an attended transfer (the agent talked to the target first)


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """The connected call ended (``by`` who hung up) after ``talk`` seconds; the agent is
    now in ``wrapup`` seconds of after-call work (0 if it had logged out meanwhile)."""

    time: float
    call_id: str
    queue: str
    agent: str
    wait: float
    talk: float
    wrapup: float
    by: Hangup
    entry_position: int


@dataclass(frozen=True, slots=True)
class CallHeld:
    """The connected queue call was put on hold (``held``) or resumed: ``by`` the caller's
    phone (``caller``), the agent's (``agent``), an API ``command``, or ``transfer`` (the
    holder left the call).  Written by the switch, not the router: reports count hold time
    from it."""

    time: float
    call_id: str
    queue: str
    agent: str
    held: bool
    by: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller asked to be called back at ``number``; it keeps its place in line."""

    time: float
    call_id: str
    queue: str
    number: str
    position: int
    wait: float


@dataclass(frozen=True, slots=True)
class CallbackMade:
    """The caller's turn came: ``agent`` is reserved and the caller is being called back."""

    time: float
    call_id: str
    queue: str
    agent: str
    number: str
    wait: float


@dataclass(frozen=True, slots=True)
class CallbackFailed:
    """A callback attempt did not reach the caller; ``final``: no attempt is left and the
    caller leaves the queue (else it keeps its place and is tried again later)."""

    time: float
    call_id: str
    queue: str
    agent: str
    number: str
    attempts: int
    final: bool
    wait: float
    entry_position: int


@dataclass(frozen=True, slots=True)
class CallerPriorityChanged:
    """A supervisor changed a waiting caller's ``priority`` (from ``old``); its place in line
    went from ``old_position`` to ``position`` (1 = next), as the line's ordering says."""

    time: float
    call_id: str
    queue: str
    old: int
    priority: int
    old_position: int
    position: int


@dataclass(frozen=True, slots=True)
class CallDisposition:
    """The agent set disposition ``code`` on its last queue call (after it ended); if the
    agent was in wrap-up, the wrap-up ends now (``wrapup_left`` seconds were left)."""

    time: float
    call_id: str
    queue: str
    agent: str
    code: str
    wrapup_left: float


# -- agent events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    """The agent logged in to ``queues`` (queue name, penalty)."""

    time: float
    agent: str
    queues: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    """The agent logged out after ``session`` seconds logged in."""

    time: float
    agent: str
    queues: tuple[str, ...]
    session: float


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """The agent paused for ``reason`` (``auto``: paused by the router after missed offers)."""

    time: float
    agent: str
    queues: tuple[str, ...]
    reason: str
    auto: bool = False


@dataclass(frozen=True, slots=True)
class AgentUnpaused:
    """The agent is back after ``paused_for`` seconds of pause for ``reason``."""

    time: float
    agent: str
    queues: tuple[str, ...]
    reason: str
    paused_for: float


@dataclass(frozen=True, slots=True)
class SwitchStarted:
    """The daemon started (the shell writes it first, before any event of this run).
    ``thresholds``: each queue's service-level threshold (seconds) in this run's
    configuration; ``timezone`` (``None``: the machine's) and ``short_abandon`` (seconds):
    the ``[reports]`` settings, so that a report read later without the configuration
    computes with the figures the daemon ran with."""

    time: float
    version: str
    thresholds: tuple[tuple[str, float], ...] = ()
    timezone: str | None = None
    short_abandon: float = 5.0


QueueEvent = (CallerEntered | CallerRefused | CallerOffered | OfferFailed | CallerConnected
              | CallerAbandoned | CallerOverflowed | CallerExitedWithKey | CallTransferred
              | CallCompleted | CallDisposition | CallHeld | CallerPriorityChanged
              | CallbackRequested | CallbackMade | CallbackFailed | AgentLoggedIn | AgentLoggedOut
              | AgentPaused | AgentUnpaused)

LoggedEvent = QueueEvent | SwitchStarted
"""What the queue event log holds: the router's events and the shell's start marks."""

CALLER_EXITS = (CallerConnected, CallerAbandoned, CallerOverflowed, CallerExitedWithKey)
"""Events that end a caller's time in the queue (plus ``CallbackFailed`` with ``final``)."""


# -- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agents`` (several for ring-all) with the call for up to ``timeout`` seconds;
    answer with ``offer_answered`` / ``offer_failed``."""

    call_id: str
    queue: str
    agents: tuple[str, ...]
    timeout: float


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``agent`` (or stop the callback attempt with it) for this call."""

    call_id: str
    agent: str


@dataclass(frozen=True, slots=True)
class Callback:
    """Call ``number`` back, ``agent`` reserved for it; report with ``callback_result``."""

    call_id: str
    queue: str
    agent: str
    number: str


@dataclass(frozen=True, slots=True)
class Overflow:
    """Take the caller out of ``queue`` to ``target`` (``None``: the dial plan goes on)."""

    call_id: str
    queue: str
    reason: str  # "timeout", "leaveempty", "full", "joinempty"
    target: Target | None


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the waiting caller its ``position`` and ``expected_wait`` (``None``: unknown)."""

    call_id: str
    queue: str
    position: int
    expected_wait: float | None


Action = Offer | CancelOffer | Callback | Overflow | Announce
