"""The API's request and response models (pydantic): the OpenAPI document is generated from
these, and every route returns one of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..call.queries import AgentView, CallView, QueueView, RoomMember

AgentStateName = Literal["ready", "ringing", "on_call", "wrap_up", "paused", "logged_out"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(_Out):
    """An error: ``detail`` says what went wrong; ``code`` the kind of refusal of a command
    (``not_found``, ``forbidden``, ``conflict``, ``invalid``)."""

    detail: str
    code: str | None = None


class ValidationIssue(BaseModel):
    """One query parameter FastAPI could not read (its own 422 answer)."""

    loc: list[str | int]
    msg: str
    type: str


class Refusal(BaseModel):
    """422: a request the API cannot serve: ``detail`` says why in a sentence (a report range
    longer than its limit), or lists the parameters that could not be read."""

    detail: str | list[ValidationIssue]


class AgentCounts(_Out):
    """How many of a queue's agents are in each state."""

    ready: int
    ringing: int
    on_call: int
    wrap_up: int
    paused: int
    logged_out: int


class WaitingCallerOut(_Out):
    call_id: str
    caller: str | None = Field(description="the caller's number (user part)")
    position: int = Field(description="1: next to be served")
    wait_s: float
    priority: int
    state: Literal["waiting", "offered", "reserved", "retry", "gone"] = Field(
        description="offered: ringing an agent; reserved/retry: a callback being made")


class TodayOut(BaseModel):
    """A queue's figures for today.  ``since``: ``day`` - the local day in ``[reports]
    timezone``, from the durable queue log (the queue report's formulas, docs/reports.md:
    ``service_level`` answered within the threshold / offered, ``abandon_rate`` abandoned /
    offered); ``start`` - only without a store: the router's counts since the switch
    started (``service_level`` / answered, ``abandon_rate`` / (answered + abandoned)).
    Ratios 0-1, null before the first caller."""

    since: Literal["day", "start"]
    offered: int | None = Field(default=None, description="callers who entered (day only)")
    answered: int
    abandoned: int
    service_level: float | None
    abandon_rate: float | None


class QueueOut(_Out):
    name: str
    waiting: int
    longest_wait_s: float
    agents: AgentCounts
    callers: list[WaitingCallerOut] = Field(description="in line order")
    answered: int = Field(description="since the switch started")
    abandoned: int = Field(description="since the switch started")
    service_level: float | None = Field(
        description="answered within the queue's threshold over answered, since the switch "
        "started (null before the first answer)")
    average_handle_s: float | None
    expected_wait_s: float | None = Field(description="for a caller joining now")
    today: TodayOut | None = Field(default=None, description="today's figures from the "
                                   "durable queue log (docs/reports.md), as the wallboard "
                                   "shows them; they survive a restart")

    @classmethod
    def of(cls, v: QueueView) -> QueueOut:
        return cls(name=v.name, waiting=v.waiting, longest_wait_s=round(v.longest_wait_s, 3),
                   agents=AgentCounts(**v.agents),
                   callers=[WaitingCallerOut(call_id=c.call_id, caller=c.caller,
                                             position=c.position, wait_s=round(c.wait_s, 3),
                                             priority=c.priority,
                                             state=c.state)  # type: ignore[arg-type]
                            for c in v.callers],
                   answered=v.answered, abandoned=v.abandoned, service_level=v.service_level,
                   average_handle_s=v.average_handle_s, expected_wait_s=v.expected_wait_s)


class AgentOut(_Out):
    id: str
    state: AgentStateName
    detail: str = Field(description="the router's state (backoff: resting after a missed "
                        "offer, shown as wrap_up)")
    queues: list[str]
    time_in_state_s: float | None = Field(description="null: unknown (not logged in since "
                                          "the switch started)")
    pause_reason: str | None
    call_id: str | None = Field(description="the live call it talks in")

    @classmethod
    def of(cls, v: AgentView) -> AgentOut:
        return cls(id=v.id, state=v.state, detail=v.detail,  # type: ignore[arg-type]
                   queues=list(v.queues),
                   time_in_state_s=None if v.time_in_state_s is None
                   else round(v.time_in_state_s, 3),
                   pause_reason=v.pause_reason, call_id=v.call_id)


class LegOut(_Out):
    role: Literal["caller", "callee"]
    party: str
    state: Literal["ringing", "up"]


class CallOut(_Out):
    id: str
    state: Literal["ringing", "service", "ivr", "queued", "bridging", "talking", "room"]
    caller: str
    callee: str = Field(description="the number dialled")
    queue: str | None
    agent: str | None
    room: str | None
    started_at: datetime
    duration_s: float
    talk_s: float | None = Field(description="since answered (null: not answered)")
    legs: list[LegOut]
    mos: float | None = Field(default=None, description="live E-model MOS estimate, the "
                              "worse of its legs (null: not measured yet; see quality.md)")
    recording: Literal["recording", "paused"] | None = Field(
        default=None, description="the call's recording: recording, paused (silence is "
        "recorded) or null (not recorded)")

    @classmethod
    def of(cls, v: CallView, wall_offset: float, mos: float | None = None) -> CallOut:
        return cls(id=v.id, state=v.state, caller=v.caller,  # type: ignore[arg-type]
                   callee=v.callee, queue=v.queue, agent=v.agent, room=v.room,
                   started_at=datetime.fromtimestamp(v.started + wall_offset, UTC),
                   duration_s=round(v.duration_s, 3),
                   talk_s=None if v.talk_s is None else round(v.talk_s, 3),
                   legs=[LegOut.model_validate({"role": leg.role, "party": leg.party,
                                                "state": leg.state}) for leg in v.legs],
                   mos=mos, recording=v.recording)  # type: ignore[arg-type]


class RoomMemberOut(_Out):
    call_id: str
    caller: str
    muted: bool

    @classmethod
    def of(cls, m: RoomMember) -> RoomMemberOut:
        return cls(call_id=m.call_id, caller=m.caller, muted=m.muted)


class Done(_Out):
    """A command carried out: its name and what it changed."""

    command: str
    detail: dict[str, str | int | bool]


class TransferIn(BaseModel):
    number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9*#+._-]+$",
                        description="a number of the dial plan")


class PauseIn(BaseModel):
    reason: str = Field(default="break", min_length=1, max_length=64,
                        pattern=r"^[A-Za-z0-9 ._:-]+$")


class SuperviseIn(BaseModel):
    supervisor: str = Field(min_length=1, max_length=64,
                            description="the supervisor's user: its phones ring")
    mode: Literal["listen", "whisper", "barge"] = "listen"


class ModeIn(BaseModel):
    mode: Literal["listen", "whisper", "barge"]


class PriorityIn(BaseModel):
    priority: int = Field(ge=-1000, le=1000, description="higher is served first; the "
                          "caller's place in line is recomputed")


class MuteIn(BaseModel):
    muted: bool = True


class ErlangOut(_Out):
    """Erlang C (or, with a patience, Erlang A) staffing for ``calls`` per ``period_s`` of
    ``aht_s`` seconds each, to answer ``target_pct`` % of calls within ``target_s`` seconds."""

    traffic_erlangs: float
    agents: int = Field(description="agents needed (or as asked with ?agents=)")
    service_level: float = Field(description="0-1, answered within target_s")
    probability_of_waiting: float
    asa_s: float | None = Field(description="average speed of answer (null: unbounded)")
    occupancy: float
    target_pct: float
    target_s: float
    period_s: float
    model: Literal["erlang_c", "erlang_a"] = "erlang_c"
    patience_s: float | None = Field(default=None, description="Erlang A: callers' mean "
                                     "patience")
    probability_of_abandon: float = Field(default=0.0, description="Erlang A: callers who "
                                          "hang up before an answer")
