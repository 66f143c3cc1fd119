"""The event stream's records (pure): what the core reports, as JSON-able objects with stable
type names, and the filters a client or a webhook applies to them.

Every call, recording, queue and agent event the core emits becomes one :class:`EventRecord`
by :func:`record_of`; the shell gives it a global sequence number, stores it (``store/events``)
and only then publishes it (WebSocket ``/api/v1/events``, webhooks).  On the wire a record is
one flat JSON object (:func:`wire`)::

    {"seq": 17, "type": "queue.caller_entered", "time": 1796000000.25,
     "call_id": "c-3f..", "queue": "support", "priority": 0, "position": 1, ...}

``time`` is wall-clock seconds since the Unix epoch (the shell passes the offset between its
loop clock and the wall clock).  The names in :data:`TYPES` are part of the outside contract
(``docs/events.md``); an event class without an entry still gets through, named after its class
(:func:`fallback_type`), so nothing the core reports is lost when a new event appears.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..acd import events as acd
from ..acd.model import Target
from . import events as call
from .crm import CrmLookup, CrmResult, OfferCard
from .quality import CallQuality

TYPES: Mapping[type, str] = {
    call.CallStarted: "call.started",
    call.CallAnswered: "call.answered",
    call.CallEnded: "call.ended",
    call.TransferEnded: "call.transfer_ended",
    call.RecordingStarted: "recording.started",
    CallQuality: "call.quality",
    call.RecordingPaused: "recording.paused",
    call.RecordingResumed: "recording.resumed",
    acd.CallerEntered: "queue.caller_entered",
    acd.CallerRefused: "queue.caller_refused",
    acd.CallerOffered: "queue.caller_offered",  # streamed as its OfferCard (NOT_STREAMED)
    OfferCard: "queue.caller_offered",
    CrmResult: "call.crm",
    acd.OfferFailed: "queue.offer_failed",
    acd.CallerConnected: "queue.caller_connected",
    acd.CallerAbandoned: "queue.caller_abandoned",
    acd.CallerOverflowed: "queue.caller_overflowed",
    acd.CallerExitedWithKey: "queue.caller_exited_with_key",
    acd.CallTransferred: "queue.call_transferred",
    acd.CallCompleted: "queue.call_completed",
    acd.CallDisposition: "queue.call_disposition",
    acd.CallHeld: "queue.call_held",
    acd.CallerPriorityChanged: "queue.caller_priority_changed",
    acd.CallbackRequested: "queue.callback_requested",
    acd.CallbackMade: "queue.callback_made",
    acd.CallbackFailed: "queue.callback_failed",
    acd.AgentLoggedIn: "agent.logged_in",
    acd.AgentLoggedOut: "agent.logged_out",
    acd.AgentPaused: "agent.paused",
    acd.AgentUnpaused: "agent.unpaused",
    acd.SwitchStarted: "switch.started",
}
"""Event class -> its stable type name (``docs/events.md``)."""

NOT_STREAMED: frozenset[type] = frozenset({acd.CallerOffered, CrmLookup})
"""Core events the stream leaves out: the router's ``CallerOffered`` (the switch follows each
with its ``OfferCard``, the same fields and the screen pop, streamed as
``queue.caller_offered``) and the CRM request (the shell's, it holds credentials)."""

RECORDING_DONE = "recording.done"
"""Reported by the shell when a media worker closed a recording (``record_done``)."""

# the field that holds when an event happened, by preference; else the shell's ``now``
_TIME_FIELDS = ("time", "at", "ended")
# fields kept out of the flat object: the envelope has them, or they are the shell's
_ENVELOPE = frozenset({"seq", "type", "time", "media_legs", "legs", "transfers"})
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event as the stream carries it, before it has a sequence number.

    ``time``: wall-clock seconds; ``call_id``/``agent``: the call and agent it is about (or
    ``None``); ``queues``: every queue it concerns (an agent's events name all its queues);
    ``fields``: the event's own fields, JSON-able (``call_id``, ``queue``, ``agent`` among
    them when the event has them)."""

    type: str
    time: float
    call_id: str | None
    agent: str | None
    queues: tuple[str, ...]
    fields: Mapping[str, Any]


def fallback_type(cls: type) -> str:
    """The type name of an event class :data:`TYPES` does not list: its package's family and
    its class name in snake case (``call.leg_held`` for ``call.events.LegHeld``)."""
    family = "queue" if cls.__module__.startswith("ccswitch.acd") else "call"
    return f"{family}.{_CAMEL.sub('_', cls.__name__).lower()}"


def plain(value: Any) -> Any:
    """``value`` as JSON: tuples as lists, sets sorted, targets and other objects as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Target):
        return str(value)
    return str(value)


def record_of(event: object, *, now: float, wall_offset: float) -> EventRecord | None:
    """The record of a core event (``None`` for what the stream does not carry: binding
    changes, which are registrations and not calls).  ``now`` (loop clock) stands in for an
    event that carries no time; ``wall_offset`` turns loop-clock times into wall-clock ones."""
    if not dataclasses.is_dataclass(event) or isinstance(event, type):
        return None
    cls = type(event)
    if cls in NOT_STREAMED:
        return None
    name = TYPES.get(cls)
    if name is None:
        if not cls.__module__.startswith(("ccswitch.call", "ccswitch.acd")):
            return None  # registrations (BindingsChanged) and anything foreign
        name = fallback_type(cls)
    fields: dict[str, Any] = {}
    at: float | None = None
    for name_ in _field_names(cls):
        value = getattr(event, name_)
        if (name_ in _TIME_FIELDS and at is None and isinstance(value, int | float)
                and not isinstance(value, bool)):
            at = float(value)
        if name_ not in _ENVELOPE:
            fields[name_] = _shift(name_, value, wall_offset)
    return _finish(name, (now if at is None else at) + wall_offset, fields)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


# loop-clock instants inside an event (shifted to wall clock with the envelope's time)
_INSTANTS = frozenset({"at", "started", "answered", "ended"})


def _shift(name: str, value: Any, wall_offset: float) -> Any:
    if name in _INSTANTS and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) + wall_offset
    return plain(value)


def recording_done(*, path: str, call_id: str | None, seconds: float, ok: bool,
                   time: float) -> EventRecord:
    """The record of a closed recording (``time`` already wall clock)."""
    return _finish(RECORDING_DONE, time, {"call_id": call_id, "path": path,
                                          "seconds": round(seconds, 3), "ok": ok})


RECORDING_ACCESSED = "recording.accessed"
"""Reported by the shell when recordings were listed or downloaded through the API."""
RECORDING_DELETED = "recording.deleted"
"""Reported by the shell when the retention policy deleted a recording's file."""


WORKER_RESTARTED = "switch.worker_restarted"
"""Reported by the shell when a media worker died and was replaced (availability audit)."""
OVERLOAD = "switch.overload"
"""Reported by the shell for a window of overload shedding (rate-limited, ``io/overload``)."""


def worker_restarted(*, worker: int, legs: int, restarts: int, time: float) -> EventRecord:
    """A media worker died with ``legs`` media legs and is restarted (``time`` wall clock)."""
    return _finish(WORKER_RESTARTED, time, {"worker": worker, "legs": legs,
                                            "restarts": restarts})


def overload(*, since: float, until: float, shed: int, max_lag: float,
             time: float) -> EventRecord:
    """The switch shed ``shed`` new requests from ``since`` to ``until`` (wall clock)."""
    return _finish(OVERLOAD, time, {"since": round(since, 3), "until": round(until, 3),
                                    "shed": shed, "max_lag_ms": round(max_lag * 1e3)})


def shell_record(name: str, *, time: float, fields: Mapping[str, Any]) -> EventRecord:
    """The record of an event the shell reports itself (``time`` already wall clock)."""
    return _finish(name, time, dict(fields))


def _finish(name: str, time: float, fields: dict[str, Any]) -> EventRecord:
    queue = fields.get("queue")
    queues: tuple[str, ...]
    if isinstance(queue, str):
        queues = (queue,)
    else:
        listed = fields.get("queues") or ()
        # an agent's log-in names (queue, penalty) pairs, its other events plain names
        queues = tuple(str(q[0] if isinstance(q, list) else q) for q in listed)
    call_id = fields.get("call_id")
    agent = fields.get("agent")
    return EventRecord(type=name, time=time,
                       call_id=call_id if isinstance(call_id, str) else None,
                       agent=agent if isinstance(agent, str) else None,
                       queues=queues, fields=fields)


def wire(seq: int, record: EventRecord) -> dict[str, Any]:
    """The flat JSON object of a stored record: ``seq``, ``type``, ``time``, then its fields."""
    out: dict[str, Any] = {"seq": seq, "type": record.type, "time": record.time}
    out.update(record.fields)
    return out


# -- filters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a client or a hook wants; ``None`` for a dimension: all of it.

    ``types`` match a type exactly or a family with a trailing ``.*`` or a bare family name
    (``queue`` and ``queue.*`` both match every ``queue.…`` type).  ``queues``: events about
    one of these queues; ``agents``: events about one of these agents; the dimensions given
    must all match (a call event with no queue, such as ``call.started``, matches no queue
    filter)."""

    types: frozenset[str] | None = None
    queues: frozenset[str] | None = None
    agents: frozenset[str] | None = None

    @classmethod
    def of(cls, *, types: Iterable[str] | None = None, queues: Iterable[str] | None = None,
           agents: Iterable[str] | None = None) -> EventFilter:
        def norm(values: Iterable[str] | None) -> frozenset[str] | None:
            if values is None:
                return None
            return frozenset(v.strip() for v in values if v.strip())
        return cls(norm(types), norm(queues), norm(agents))

    def matches(self, record: EventRecord) -> bool:
        if self.types is not None and not type_matches(self.types, record.type):
            return False
        if self.queues is not None and not any(q in self.queues for q in record.queues):
            return False
        return self.agents is None or (record.agent is not None and record.agent in self.agents)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a token may see of the stream (as the REST API's scope): ``everything``, or the
    events about one of ``queues`` or naming one of ``users`` (as the agent, the caller or
    the callee).  A supervisor: its queues and their agents; an agent: itself."""

    everything: bool = False
    queues: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def allows(self, record: EventRecord) -> bool:
        if self.everything:
            return True
        if any(q in self.queues for q in record.queues):
            return True
        if not self.users:
            return False
        if record.agent is not None and record.agent in self.users:
            return True
        fields = record.fields
        return fields.get("caller") in self.users or fields.get("callee") in self.users


ALL = Scope(everything=True)


def type_matches(wanted: frozenset[str], name: str) -> bool:
    """``name`` is one of ``wanted`` or in one of its families (``queue``, ``queue.*``)."""
    if name in wanted:
        return True
    family = name.split(".", 1)[0]
    return family in wanted or f"{family}.*" in wanted
