"""Commands: everything a person or a program asks of the calls, through one entry (pure).

The HTTP API, a supervisor's desk or a library user builds one of these frozen dataclasses and
hands it to ``Signaling.command(cmd, now)``; it returns a ``Done`` with what changed, or raises
``CommandError`` whose ``code`` says why not (``not_found``, ``forbidden``, ``conflict``,
``invalid``), so an API maps it to 404/403/409/400 without reading a message.  Phones reach the
same operations with SIP (REFER, feature codes, DTMF): both end in the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import structlog

from ..dialplan import NumberTarget, UserTarget
from ..errors import CcswitchError
from ..media.ports import PortsExhausted
from . import recpause
from .anchor import CallMedia
from .events import RecordingPaused, RecordingResumed
from .originate import originate
from .party import join_party
from .state import Call, Phase
from .supervise import Mode
from .targets import route

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

ErrorCode = Literal["not_found", "forbidden", "conflict", "invalid"]


class CommandError(CcswitchError):
    """A command that cannot be carried out; ``code`` is the kind of refusal."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Done:
    """A command carried out; ``detail`` says what it changed."""

    command: str
    detail: dict[str, str | int | bool] = field(default_factory=dict)


# -- calls -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hangup:
    """End a call: every leg of it is hung up (BYE, or 480/CANCEL while it rings)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind-transfer an answered call's caller to a dial-plan ``number`` (the agent's or
    callee's leg is released, as with a REFER from its phone)."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold (``on``) or resume a call: the caller hears music, the other side silence."""

    call_id: str
    on: bool = True


@dataclass(frozen=True, slots=True)
class AddParty:
    """Three-way: ring dial-plan user ``number`` and, when it answers, join it to the call
    (all three hear each other; when it hangs up the call is two-party again)."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class Supervise:
    """Ring ``supervisor``'s phones; when one answers it joins ``agent``'s call in ``mode``."""

    supervisor: str
    agent: str
    mode: Mode = "listen"


@dataclass(frozen=True, slots=True)
class SuperviseMode:
    """Switch a supervisor's call (its call id) to listen, whisper or barge."""

    call_id: str
    mode: Mode


@dataclass(frozen=True, slots=True)
class PauseRecording:
    """Pause a live call's recording (card numbers): silence is recorded until
    ``ResumeRecording``.  ``by``: ``api`` or ``desktop``; ``user``: who asked."""

    call_id: str
    by: str = "api"
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ResumeRecording:
    """Resume a recording ``PauseRecording`` paused (not one a sensitive IVR menu holds)."""

    call_id: str
    by: str = "api"
    user: str | None = None


@dataclass(frozen=True, slots=True)
class SetPriority:
    """Change the priority of ``call_id``, a caller in ``queue`` (higher is served first);
    its place in line is recomputed by the router's ordering."""

    queue: str
    call_id: str
    priority: int


# -- rooms -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RoomMute:
    room: str
    call_id: str
    muted: bool = True


@dataclass(frozen=True, slots=True)
class RoomKick:
    room: str
    call_id: str


# -- agents ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent: str


@dataclass(frozen=True, slots=True)
class AgentLogout:
    agent: str


@dataclass(frozen=True, slots=True)
class AgentPause:
    agent: str
    reason: str = "break"


@dataclass(frozen=True, slots=True)
class AgentReady:
    agent: str


@dataclass(frozen=True, slots=True)
class Disposition:
    """Set disposition ``code`` on the agent's last ended queue call (once per call; it goes
    to the queue log and the call's CDR); a wrap-up in progress ends early.  ``call_id``,
    when given, must name that call (a desktop showing a stale card is refused)."""

    agent: str
    code: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Dial:
    """Click-to-dial: ring ``agent``'s phones (any user's); when one answers, the switch calls
    dial-plan ``number`` from it, as if that phone had dialled it (the CDR names the agent
    as caller and ``number`` as callee)."""

    agent: str
    number: str


Command = (Hangup | Transfer | Hold | AddParty | Supervise | SuperviseMode | RoomMute
           | RoomKick | AgentLogin | AgentLogout | AgentPause | AgentReady | Disposition
           | Dial | PauseRecording | ResumeRecording | SetPriority)
PRIORITY_RANGE = (-1000, 1000)
"""The priorities a command may set (the dial plan's ``;priority=N`` is any integer)."""
RING_S = 30.0  # how long a phone the switch calls (supervisor, third party) rings


def execute(sw: B2bua, cmd: Command, now: float) -> Done:
    """Carry out ``cmd``; ``CommandError`` when it cannot be."""
    name = type(cmd).__name__
    if isinstance(cmd, AgentLogin | AgentLogout | AgentPause | AgentReady):
        return _agent(sw, cmd, now, name)
    if isinstance(cmd, Disposition):
        return _disposition(sw, cmd, now, name)
    if isinstance(cmd, Dial):
        return _dial(sw, cmd, now, name)
    if isinstance(cmd, RoomMute | RoomKick):
        return _room(sw, cmd, now, name)
    if isinstance(cmd, Supervise):
        return _supervise(sw, cmd, now, name)
    if isinstance(cmd, SetPriority):
        return _set_priority(sw, cmd, now, name)
    call = _live_call(sw, cmd.call_id)
    if isinstance(cmd, PauseRecording | ResumeRecording):
        return _pause_recording(sw, call, cmd, now, name)
    if isinstance(cmd, Hangup):
        if call.phase is Phase.RINGING:
            sw.cancel_call(call, now)
        else:
            sw._hangup_both(call, now)
            sw._end(call, 200, "hung up by command", now, "switch")
        return Done(name, {"call_id": call.key})
    if isinstance(cmd, SuperviseMode):
        if call.supervising is None:
            raise CommandError("invalid", f"call {call.key} is not a supervisor's call")
        sw.services.supervise_mode(call, cmd.mode)
        return Done(name, {"call_id": call.key, "mode": cmd.mode})
    if not call.confirmed or call.answered_id is None or call.media is None:
        raise CommandError("conflict", f"call {call.key} is not a two-party call in progress")
    if isinstance(cmd, Hold):
        sw.hold_call(call, cmd.on, now)
        return Done(name, {"call_id": call.key, "on": cmd.on})
    if isinstance(cmd, AddParty):
        return _add_party(sw, call, cmd.number, now, name)
    if call.transfer is not None and not call.transfer.done:
        raise CommandError("conflict", f"call {call.key} is being transferred")
    if not sw.can_route(cmd.number, call.caller):
        raise CommandError("not_found", f"number {cmd.number!r} is not in the dial plan")
    sw.transfer_by_command(call, cmd.number, now)
    return Done(name, {"call_id": call.key, "to": cmd.number})


def _supervise(sw: B2bua, cmd: Supervise, now: float, name: str) -> Done:
    if not sw.may_supervise(cmd.supervisor, cmd.agent):
        raise CommandError("forbidden", f"{cmd.supervisor} may not supervise {cmd.agent}")
    found = sw.services.agent_call(cmd.agent)
    if found is None or found[0].media is None:
        raise CommandError("conflict", f"agent {cmd.agent} is not on a call")
    agent, mode = cmd.agent, cmd.mode

    def join(call: Call, t: float) -> None:
        sw.services._supervise(call, agent, mode, t)

    _ring(sw, cmd.supervisor, found[0].media.worker, callee=f"{mode}:{agent}", from_user=agent,
          display=f"{mode.capitalize()} {agent}", on_answer=join, now=now, name=name)
    return Done(name, {"supervisor": cmd.supervisor, "agent": agent, "mode": mode})


def _add_party(sw: B2bua, call: Call, number: str, now: float, name: str) -> Done:
    target = sw.resolve(number, call.caller) if sw.resolve else None
    if not isinstance(target, UserTarget):
        raise CommandError("not_found", f"{number!r} is not a user to add")
    assert call.media is not None and call.answered_id is not None
    key, b_leg = call.key, call.media.leg("b")

    def join(third: Call, t: float) -> None:
        join_party(sw, key, b_leg, third, t)

    _ring(sw, target.user, call.media.worker, callee=f"party:{key}", from_user=call.caller,
          display=None, on_answer=join, now=now, name=name)
    return Done(name, {"call_id": key, "to": target.user})


def _dial(sw: B2bua, cmd: Dial, now: float, name: str) -> Done:
    if not sw.can_route(cmd.number, cmd.agent):
        raise CommandError("not_found", f"number {cmd.number!r} is not in the dial plan")
    number = cmd.number

    def call_number(call: Call, t: float) -> None:
        outcome = route(sw, call, NumberTarget(number), t)
        if outcome.startswith("failed:"):
            log.info("dial_failed", call_id=call.key, number=number, outcome=outcome)
            sw._hangup_both(call, t)
            sw._end(call, int(outcome[7:]), "dialled number failed", t, "switch")

    _ring(sw, cmd.agent, None, callee=number, from_user=number, display=f"Dial {number}",
          on_answer=call_number, now=now, name=name)
    return Done(name, {"agent": cmd.agent, "number": number})


def _ring(sw: B2bua, user: str, worker: int | None, *, callee: str, from_user: str,
          display: str | None, on_answer: Callable[[Call, float], None], now: float,
          name: str) -> None:
    """Ring ``user``'s phones with a media leg on ``worker`` (where the call it will join is);
    ``CommandError`` when no port is free or the user has no registered phone."""
    assert sw.media is not None
    try:
        cm = CallMedia.create(sw.media, ("a",), now=now, worker=worker)
    except PortsExhausted:
        log.warning("rtp_ports_exhausted", command=name)
        raise CommandError("conflict", "no RTP port free") from None
    if not originate(sw, user=user, callee=callee, from_user=from_user, display=display,
                     media=cm, on_answer=on_answer, ring=RING_S, now=now):
        raise CommandError("conflict", f"{user} has no registered phone")


def _pause_recording(sw: B2bua, call: Call, cmd: PauseRecording | ResumeRecording,
                     now: float, name: str) -> Done:
    state = recpause.recording_state(call)
    if state is None:
        raise CommandError("conflict", f"call {call.key} is not being recorded")
    assert call.media is not None
    holds = call.media.pause_holds
    ev: RecordingPaused | RecordingResumed | None
    if isinstance(cmd, PauseRecording):
        if recpause.MANUAL in holds:
            raise CommandError("conflict", f"the recording of call {call.key} is already paused")
        ev = recpause.hold(call, recpause.MANUAL, cmd.by, now, cmd.user)
    else:
        if recpause.MANUAL not in holds:
            why = (f"paused by {holds[recpause.IVR]} until that menu ends"
                   if recpause.IVR in holds else "not paused")
            raise CommandError("conflict", f"the recording of call {call.key} is {why}")
        ev = recpause.release(call, recpause.MANUAL, cmd.by, now)
    if ev is not None:
        sw._events.append(ev)
    state = recpause.recording_state(call) or "stopped"
    log.info("recording_pause_command", call_id=call.key, command=name, by=cmd.by,
             user=cmd.user, state=state)
    return Done(name, {"call_id": call.key, "recording": state})


def _live_call(sw: B2bua, call_id: str) -> Call:
    call = sw._calls.get(call_id)
    if call is None or call.phase is Phase.ENDED:
        raise CommandError("not_found", f"no call {call_id}")
    return call


def _room(sw: B2bua, cmd: RoomMute | RoomKick, now: float, name: str) -> Done:
    room = sw.rooms.room(cmd.room)
    call = sw._calls.get(cmd.call_id)
    if room is None or call is None or call.room != cmd.room or call.media is None:
        raise CommandError("not_found", f"no member {cmd.call_id} in room {cmd.room}")
    leg = call.media.leg("a")
    if isinstance(cmd, RoomMute):
        sw.rooms.mute(leg, cmd.muted)
        return Done(name, {"room": cmd.room, "call_id": call.key, "muted": cmd.muted})
    sw._hangup_both(call, now)
    sw._end(call, 200, "kicked from the room", now, "switch")
    return Done(name, {"room": cmd.room, "call_id": call.key})


def _agent(sw: B2bua, cmd: AgentLogin | AgentLogout | AgentPause | AgentReady, now: float,
           name: str) -> Done:
    router = sw.router
    if router is None or cmd.agent not in sw.agent_names:
        raise CommandError("not_found", f"no agent {cmd.agent}")
    if isinstance(cmd, AgentLogin):
        changed = router.agent_login(cmd.agent, now)
    elif isinstance(cmd, AgentLogout):
        changed = router.agent_logout(cmd.agent, now)
    elif isinstance(cmd, AgentPause):
        changed = router.agent_pause(cmd.agent, cmd.reason, now)
    else:
        changed = router.agent_unpause(cmd.agent, now)
    log.info("agent_command", agent=cmd.agent, command=name, changed=changed)
    return Done(name, {"agent": cmd.agent, "changed": changed,
                       "state": router.agent_state(cmd.agent).value})


def _set_priority(sw: B2bua, cmd: SetPriority, now: float, name: str) -> Done:
    router = sw.router
    if router is None or cmd.queue not in sw.queue_settings:
        raise CommandError("not_found", f"no queue {cmd.queue}")
    if router.caller_queue(cmd.call_id) != cmd.queue:
        raise CommandError("not_found", f"no caller {cmd.call_id} in queue {cmd.queue}")
    low, high = PRIORITY_RANGE
    if not low <= cmd.priority <= high:
        raise CommandError("invalid", f"priority {cmd.priority} is not in {low}..{high}")
    old = router.priority_of(cmd.call_id)
    position = router.set_priority(cmd.call_id, cmd.priority, now)
    assert position is not None
    call = sw._calls.get(cmd.call_id)
    if call is not None:
        call.queue_priority = cmd.priority
    log.info("caller_priority", call_id=cmd.call_id, queue=cmd.queue, old=old,
             priority=cmd.priority, position=position)
    return Done(name, {"queue": cmd.queue, "call_id": cmd.call_id, "priority": cmd.priority,
                       "old": old if old is not None else cmd.priority,
                       "position": position})


def _disposition(sw: B2bua, cmd: Disposition, now: float, name: str) -> Done:
    router = sw.router
    if router is None or cmd.agent not in sw.agent_names:
        raise CommandError("not_found", f"no agent {cmd.agent}")
    if not cmd.code:
        raise CommandError("invalid", "an empty disposition code")
    last = router.last_call(cmd.agent)
    if last is None or (cmd.call_id is not None and cmd.call_id != last):
        raise CommandError("conflict", f"agent {cmd.agent} has no ended call awaiting a code"
                           + ("" if cmd.call_id is None else f" (call {cmd.call_id})"))
    router.agent_disposition(cmd.agent, cmd.code, now)
    log.info("agent_disposition", agent=cmd.agent, call_id=last, code=cmd.code)
    return Done(name, {"agent": cmd.agent, "call_id": last, "code": cmd.code,
                       "state": router.agent_state(cmd.agent).value})
