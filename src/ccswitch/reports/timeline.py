"""The queue log replayed into what the reports count: each caller's stay in a queue (entry,
outcome, wait, talk, hold, wrap-up, transfer, dispositions) and each agent's spans of time
(logged in, paused by reason, talking, on hold, in wrap-up).

A daemon start (``SwitchStarted``) ends whatever the previous run left open: a caller still
waiting is ``lost`` (its wait ends at the start), a call still connected ends there (or at its
CDR's end when the CDR was written), an agent's log-in and pause end there.  Whatever is open
at ``now`` (the time of reading) is cut at ``now``: a waiting caller stays ``waiting``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .reader import Row, Talk

ANSWERED, ABANDONED, OVERFLOWED, EXITED, CALLBACK_FAILED, LOST = (
    "answered", "abandoned", "overflowed", "exited_with_key", "callback_failed", "lost")


@dataclass(slots=True)
class Stay:
    """One caller's time in one queue."""

    queue: str
    call_id: str
    entered: float
    outcome: str | None = None  # None: still waiting
    wait: float | None = None
    agent: str | None = None
    connected: float | None = None
    talk: float | None = None  # None: still talking (or unknown); hold included
    hold: float = 0.0  # seconds on hold (part of the talk)
    held_since: float | None = None
    wrapup: float = 0.0
    completed: float | None = None  # when the talk ended
    transferred: bool = False
    callback: bool = False  # asked to be called back
    dispositions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Span:
    """``agent`` was in ``state`` (logged_in, paused, talking, hold, wrapup) from ``start`` to
    ``stop``; ``reason``: the pause's."""

    agent: str
    state: str
    start: float
    stop: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Mark:
    """A counted agent event: ``kind`` answered, transfer or disposition (``code``)."""

    agent: str
    kind: str
    time: float
    queue: str
    code: str = ""


@dataclass(slots=True)
class Timeline:
    stays: list[Stay] = field(default_factory=list)
    refused: list[tuple[str, float]] = field(default_factory=list)  # (queue, time)
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    agent_queues: dict[str, set[str]] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)


class _Replay:
    def __init__(self, talks: Mapping[str, Talk]) -> None:
        self.talks = talks
        self.out = Timeline()
        self.open: dict[tuple[str, str], Stay] = {}  # (call, queue) -> waiting or talking
        self.last: dict[tuple[str, str], Stay] = {}  # (call, queue) -> its latest stay
        self.wrapping: dict[str, tuple[float, Stay]] = {}  # agent -> wrap-up start, its stay
        self.login: dict[str, float] = {}
        self.pause: dict[str, tuple[float, str]] = {}

    # -- agents ------------------------------------------------------------------------
    def span(self, agent: str, state: str, start: float, stop: float, reason: str = "") -> None:
        if stop > start:
            self.out.spans.append(Span(agent, state, start, stop, reason))

    def logged_out(self, agent: str, t: float) -> None:
        self.unpause(agent, t)
        start = self.login.pop(agent, None)
        if start is not None:
            self.span(agent, "logged_in", start, t)

    def unpause(self, agent: str, t: float) -> None:
        paused = self.pause.pop(agent, None)
        if paused is not None:
            self.span(agent, "paused", paused[0], t, paused[1])

    def end_wrapup(self, agent: str, t: float) -> None:
        got = self.wrapping.pop(agent, None)
        if got is not None:
            start, stay = got
            stay.wrapup = max(0.0, min(stay.wrapup, t - start))
            self.span(agent, "wrapup", start, start + stay.wrapup)

    def agent_event(self, r: Row) -> None:
        d, t, agent = r.data, r.time, str(r.data["agent"])
        if r.event == "AgentLoggedIn":
            self.out.agent_queues.setdefault(agent, set()).update(str(q[0]) for q in d["queues"])
            self.login.setdefault(agent, t)
        elif r.event == "AgentLoggedOut":
            self.logged_out(agent, t)
        elif r.event == "AgentPaused":
            self.login.setdefault(agent, t)  # a pause implies a log-in
            self.unpause(agent, t)
            self.pause[agent] = (t, str(d.get("reason", "")))
        elif r.event == "AgentUnpaused":
            self.login.setdefault(agent, t)
            self.unpause(agent, t)

    # -- callers -----------------------------------------------------------------------
    def caller_event(self, r: Row) -> None:
        d, t = r.data, r.time
        key = (str(d["call_id"]), str(d["queue"]))
        if r.event == "CallerEntered":
            new = Stay(queue=key[1], call_id=key[0], entered=t)
            self.out.stays.append(new)
            self.open[key] = self.last[key] = new
            return
        if r.event == "CallerRefused":
            self.out.refused.append((key[1], t))
            return
        stay = self.last.get(key)
        if stay is None:  # its entry is before what was read
            return
        ev = r.event
        if ev == "CallerConnected":
            agent = str(d["agent"])
            stay.outcome, stay.wait, stay.agent, stay.connected = (
                ANSWERED, float(d["wait"]), agent, t)
            self.end_wrapup(agent, t)
            self.out.marks.append(Mark(agent, "answered", t, stay.queue))
        elif ev in ("CallerAbandoned", "CallerOverflowed", "CallerExitedWithKey"):
            stay.outcome = {"CallerAbandoned": ABANDONED, "CallerOverflowed": OVERFLOWED,
                            "CallerExitedWithKey": EXITED}[ev]
            stay.wait = float(d["wait"])
            self.open.pop(key, None)
        elif ev == "CallbackFailed" and d.get("final"):
            stay.outcome, stay.wait = CALLBACK_FAILED, float(d["wait"])
            self.open.pop(key, None)
        elif ev == "CallbackRequested":
            stay.callback = True
        elif ev == "CallHeld":
            if not d.get("held"):
                self.end_hold(stay, t)
            elif stay.held_since is None and stay.connected is not None:
                stay.held_since = t
        elif ev in ("CallCompleted", "CallTransferred"):
            self.talk_ended(stay, t, float(d["talk"]))
            self.open.pop(key, None)
            if ev == "CallTransferred":
                stay.transferred = True
                self.out.marks.append(Mark(str(d["agent"]), "transfer", t, stay.queue))
            elif d.get("wrapup"):
                stay.wrapup = float(d["wrapup"])
                self.wrapping[str(d["agent"])] = (t, stay)
        elif ev == "CallDisposition":
            agent = str(d["agent"])
            stay.dispositions.append(str(d["code"]))
            self.out.marks.append(Mark(agent, "disposition", t, stay.queue, str(d["code"])))
            got = self.wrapping.get(agent)
            if got is not None and got[1] is stay:
                self.end_wrapup(agent, t)

    def end_hold(self, stay: Stay, t: float) -> None:
        if stay.held_since is not None and stay.agent is not None:
            stay.hold += max(0.0, t - stay.held_since)
            self.span(stay.agent, "hold", stay.held_since, t)
        stay.held_since = None

    def talk_ended(self, stay: Stay, t: float, talk: float) -> None:
        self.end_hold(stay, t)
        stay.talk, stay.completed = talk, t
        if stay.agent is not None and stay.connected is not None:
            self.span(stay.agent, "talking", stay.connected, t)

    # -- the end of a run, or of the reading ---------------------------------------------
    def close(self, t: float, *, restart: bool) -> None:
        for key, stay in list(self.open.items()):
            if stay.outcome is None:
                if not restart:
                    continue  # still waiting
                stay.outcome, stay.wait = LOST, t - stay.entered
            elif stay.talk is None and stay.connected is not None:
                cdr = self.talks.get(stay.call_id)
                end = min(t, cdr.ended) if cdr is not None and restart else t
                self.talk_ended(stay, end, max(0.0, end - stay.connected))
                if not restart:  # still talking: the span so far, the call not ended
                    stay.talk = stay.completed = None
                    continue
            del self.open[key]
        for agent in list(self.wrapping):
            self.end_wrapup(agent, t)
        for agent in list(self.login):
            self.logged_out(agent, t)


def replay(rows: Iterable[Row], *, before: Iterable[Row] = (),
           talks: Mapping[str, Talk] | None = None, read_from: float, now: float) -> Timeline:
    """The timeline of ``rows`` (read from ``read_from``), the agents starting in the states
    ``before`` gives (their last state event before ``read_from``, and the last start)."""
    rp = _Replay(talks or {})
    last_start = max((r.time for r in before if r.event == "SwitchStarted"), default=None)
    for r in before:
        if r.event == "SwitchStarted" or (last_start is not None and r.time < last_start):
            continue
        agent = str(r.data["agent"])
        if r.event == "AgentLoggedIn":
            rp.out.agent_queues.setdefault(agent, set()).update(
                str(q[0]) for q in r.data["queues"])
        if r.event != "AgentLoggedOut":
            rp.login[agent] = read_from
        if r.event == "AgentPaused":
            rp.pause[agent] = (read_from, str(r.data.get("reason", "")))
    for r in rows:
        if r.time > now:
            break
        if r.event == "SwitchStarted":
            rp.close(r.time, restart=True)
            rp.out.starts.append(r.time)
        elif r.event in ("AgentLoggedIn", "AgentLoggedOut", "AgentPaused", "AgentUnpaused"):
            rp.agent_event(r)
        elif "call_id" in r.data and "queue" in r.data:
            rp.caller_event(r)
    rp.close(now, restart=False)
    return rp.out

