"""Read-only views of the live switch for the HTTP API and wallboards (pure).

Each function takes the core (``Signaling``) and ``now`` (the core's clock) and returns
frozen dataclasses; nothing here changes the core or keeps state.  ``Call`` is read through a
few fields only (``key``, ``caller``, ``callee``, ``started``, ``answered``, ``state``,
``queue_name``, ``queue_agent``, ``room``), all in ``_call_view`` and ``room_members``, so the
call layer may change behind it.

Agent states are the six the API names (``ready``, ``ringing``, ``on_call``, ``wrap_up``,
``paused``, ``logged_out``): the router's short ``backoff`` after a missed offer counts as
``wrap_up`` (the agent is resting, no call is offered), and its own name stays in
``AgentView.detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..acd.model import AgentState, CallerState
from .recpause import recording_state
from .state import Call, Phase

if TYPE_CHECKING:
    from .signaling import Signaling

AGENT_STATES: Final = ("ready", "ringing", "on_call", "wrap_up", "paused", "logged_out")
"""The agent states of the API, in the order counts are listed."""
_API_STATE: Final = {AgentState.BACKOFF: "wrap_up"}
CALL_STATES: Final = tuple(p.value for p in Phase if p is not Phase.ENDED)
"""The states of a live call in the API: its phase (``call/state.py`` ``Phase``)."""


def api_state(state: AgentState) -> str:
    """The API's name of a router state (``backoff`` -> ``wrap_up``)."""
    return _API_STATE.get(state, state.value)


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """A caller in a queue: its call, number, 1-based position, seconds waited, priority and
    ``state`` (``waiting``, ``offered``: ringing an agent, ``reserved``/``retry``: a
    callback)."""

    call_id: str
    caller: str | None
    position: int
    wait_s: float
    priority: int
    state: str


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue's live state.  ``agents``: how many of its agents are in each of
    ``AGENT_STATES``; ``answered``, ``abandoned`` and ``service_level`` (answered within the
    queue's threshold over answered; ``None`` before the first answer) count since the switch
    started; ``expected_wait_s`` is for a caller joining now (``None``: unknown)."""

    name: str
    waiting: int
    longest_wait_s: float
    agents: Mapping[str, int]
    callers: tuple[WaitingCaller, ...]
    answered: int
    abandoned: int
    service_level: float | None
    average_handle_s: float | None
    expected_wait_s: float | None


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent: its state (one of ``AGENT_STATES``; ``detail``: the router's own name),
    queues, seconds in that state (``None``: unknown, e.g. never logged in since start), the
    pause reason and the live call it talks in."""

    id: str
    state: str
    detail: str
    queues: tuple[str, ...]
    time_in_state_s: float | None
    pause_reason: str | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class LegView:
    """One side of a call: ``role`` ``caller`` or ``callee``, the user (or number) on it and
    whether it is ``ringing`` or ``up``."""

    role: str
    party: str
    state: str


@dataclass(frozen=True, slots=True)
class CallView:
    """A live call.  ``state``: ``ringing`` (not answered), ``queued`` (waiting in a queue),
    ``answered`` (2xx sent, ACK awaited) or ``up``; ``queue`` the last queue it entered,
    ``agent`` the agent who answered it; ``duration_s`` since it started, ``talk_s`` since it
    was answered (``None``: not yet); ``started`` on the core's clock."""

    id: str
    state: str
    caller: str
    callee: str
    queue: str | None
    agent: str | None
    room: str | None
    started: float
    duration_s: float
    talk_s: float | None
    legs: tuple[LegView, ...]
    media_legs: tuple[int, ...] = ()  # its media legs (the live MOS is looked up by them)
    recording: str | None = None  # "recording", "paused", None: not recorded (recpause)


@dataclass(frozen=True, slots=True)
class RoomMember:
    """A member of a conference room: its call, the caller and whether it is muted."""

    call_id: str
    caller: str
    muted: bool


# -- agents ------------------------------------------------------------------------------
def agent_queues(sig: Signaling) -> dict[str, tuple[str, ...]]:
    """Every configured agent and its queues, in configuration order."""
    return {name: tuple(u.agent.queues) for name, u in sig.config.agents.items()
            if u.agent is not None}


def agent_view(sig: Signaling, agent: str, now: float) -> AgentView | None:
    """The agent ``agent``, or ``None`` when it is not a configured agent."""
    queues = agent_queues(sig).get(agent)
    if queues is None:
        return None
    return _agent_view(sig, agent, queues, _agent_calls(sig), now)


def agent_views(sig: Signaling, now: float) -> list[AgentView]:
    """Every configured agent, in configuration order (one pass over the calls)."""
    calls = _agent_calls(sig)
    return [_agent_view(sig, agent, queues, calls, now)
            for agent, queues in agent_queues(sig).items()]


def _agent_view(sig: Signaling, agent: str, queues: tuple[str, ...],
                calls: Mapping[str, str], now: float) -> AgentView:
    router = sig.b2bua.router
    state, since, reason = (router.agent_info(agent) if router is not None
                            else (AgentState.LOGGED_OUT, None, None))
    return AgentView(agent, api_state(state), state.value, queues,
                     None if since is None else max(0.0, now - since), reason,
                     calls.get(agent))


def _agent_calls(sig: Signaling) -> dict[str, str]:
    """Agent -> the live call it talks in: a queue call it answered, or an answered direct
    call to it (the oldest when there are several)."""
    out: dict[str, str] = {}
    for call in _live(sig):
        agent = call.queue_agent
        if agent is None and call.phase is not Phase.RINGING:
            agent = call.callee
        if agent is not None and agent not in out:
            out[agent] = call.key
    return out


# -- queues ------------------------------------------------------------------------------
def queue_view(sig: Signaling, name: str, now: float) -> QueueView | None:
    """The queue ``name``, or ``None`` when there is no such queue."""
    router = sig.b2bua.router
    if router is None or name not in sig.config.queues:
        return None
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent, queues in agent_queues(sig).items():
        if name in queues:
            counts[api_state(router.agent_info(agent)[0])] += 1
    calls = sig.b2bua._calls
    callers = []
    for i, (cid, arrived, priority, state) in enumerate(router.callers_in(name), 1):
        call = calls.get(cid)
        callers.append(WaitingCaller(cid, call.caller if call is not None else None, i,
                                     max(0.0, now - arrived), priority, _caller_state(state)))
    status = router.queue_status(name, now)
    return QueueView(
        name=name, waiting=len(callers),
        longest_wait_s=max((c.wait_s for c in callers), default=0.0),
        agents=counts, callers=tuple(callers),
        answered=_int(status.get("answered")), abandoned=_int(status.get("abandoned")),
        service_level=_opt_float(status.get("service_level")),
        average_handle_s=_opt_float(status.get("average_handle_s")),
        expected_wait_s=_opt_float(status.get("expected_wait_s")))


def queue_views(sig: Signaling, now: float) -> list[QueueView]:
    """Every queue, in configuration order."""
    out = []
    for name in sig.config.queues:
        view = queue_view(sig, name, now)
        if view is not None:
            out.append(view)
    return out


def _caller_state(state: CallerState) -> str:
    return state.value


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _opt_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# -- calls -------------------------------------------------------------------------------
def _live(sig: Signaling) -> list[Call]:
    return [c for c in sig.b2bua._calls.values() if c.phase is not Phase.ENDED]


def call_views(sig: Signaling, now: float) -> list[CallView]:
    """Every live call, oldest first."""
    router = sig.b2bua.router
    return sorted((_call_view(c, now, router is not None
                              and router.caller_state(c.key) is not None)
                   for c in _live(sig)), key=lambda v: (v.started, v.id))


def call_view(sig: Signaling, call_id: str, now: float) -> CallView | None:
    """The live call ``call_id``, or ``None``."""
    call = sig.b2bua._calls.get(call_id)
    if call is None or call.phase is Phase.ENDED:
        return None
    router = sig.b2bua.router
    return _call_view(call, now, router is not None and router.caller_state(call.key) is not None)


def _call_view(call: Call, now: float, queued: bool) -> CallView:
    state = "queued" if queued else call.phase.value
    answered = call.answered
    other = call.queue_agent or call.callee
    legs = [LegView("caller", call.caller, "ringing" if answered is None else "up")]
    if not queued and call.room is None:
        legs.append(LegView("callee", other,
                            "up" if call.phase is Phase.TALKING and answered is not None
                            else "ringing"))
    return CallView(
        id=call.key, state=state, caller=call.caller, callee=call.callee,
        queue=call.queue_name, agent=call.queue_agent, room=call.room, started=call.started,
        duration_s=max(0.0, now - call.started),
        talk_s=None if answered is None else max(0.0, now - answered), legs=tuple(legs),
        media_legs=() if call.media is None else tuple(lm.leg for lm in
                                                        call.media.legs.values()),
        recording=recording_state(call))


# -- rooms -------------------------------------------------------------------------------
def room_members(sig: Signaling, room: str) -> list[RoomMember] | None:
    """The members of conference room ``room`` (``[]`` when nobody is in it), ``None`` when
    no such room is configured."""
    rooms = sig.b2bua.rooms
    if room not in rooms:
        return None
    live = rooms.room(room)
    if live is None:
        return []
    calls = sig.b2bua._calls
    out = []
    for leg, cid in live.members.items():
        call = calls.get(cid)
        out.append(RoomMember(cid, call.caller if call is not None else "", leg in live.muted))
    return out
