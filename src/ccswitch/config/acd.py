"""``[queues.NAME]`` tables and users' ``agent`` tables: the ACD part of the configuration.

Pure, and part of the configuration parser (like ``config/ivr.py``): every fault goes through
``_Parser.fail`` with its key path and line.  ``parse_queues`` reads the queue tables first,
``parse_agent`` each user's ``agent`` table against the declared queues; once users and menus
are known, ``check_queues`` proves what refers to them (overflow actions, ``linear_order``).
The values map one to one onto the router's :class:`~ccswitch.acd.model.QueueSettings` and
:class:`~ccswitch.acd.model.AgentSettings` (``call/acdconfig.py``), whose defaults they share.

Empty-queue policies (``join_empty`` / ``leave_empty``) are ``false`` or a list of agent state
names counted as absent (see ``acd.model``); ``logged_out`` may be listed but is always absent,
``ready`` never is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ..acd.model import MAX_LEVEL, AgentState, EscalationStep
from ..acd.strategies import STRATEGIES
from ..dialplan import QueueTarget, Target
from .audio import DEFAULT_MOH, check_moh_name, prompt_list
from .crm import Template, parse_template
from .dialplan import Names, check_target, target

if TYPE_CHECKING:
    from .schema import Path, UserConfig, _Parser

QUEUE_STRATEGIES: Final = tuple(STRATEGIES)
"""Queue strategies, as the router's strategy registry names them."""
EMPTY_STATES: Final = tuple(s.value for s in AgentState if s is not AgentState.READY)
"""Agent states a ``join_empty`` / ``leave_empty`` list may name."""
OVERFLOW_RULES: Final = ("on_timeout", "on_full", "on_join_empty", "on_leave_empty")
"""Per-rule overflow actions; each defaults to the queue's ``overflow``."""
QUEUE_KEYS: Final = (
    "strategy", "ring_timeout", "wrapup", "max_wait", "max_waiting", "overflow",
    "announce_interval", "skills", "record", "priority_ageing", "join_empty", "leave_empty",
    *OVERFLOW_RULES, "service_level", "announce_on_entry", "rejoin_window", "callback_attempts",
    "callback_retry", "handle_window", "default_handle_time", "linear_order", "escalation",
    "moh", "entry_prompt", "announce_prompts", "announce_position", "callback", "script",
    "display", "recording_retention_days")
MAX_LABEL: Final = 40
"""Longest queue ``display`` label (a wallboard tile's title)."""
ESCALATION_KEYS: Final = ("after", "drop", "lower_by", "levels")
AGENT_KEYS: Final = ("queues", "skills", "auto_answer", "weight", "auto_pause_after",
                     "no_answer_delay", "busy_delay", "reject_delay")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
# a per-rule action set while its rule is off never runs: (action key, rule key)
_RULE_SWITCH: Final = (("on_full", "max_waiting"), ("on_join_empty", "join_empty"),
                       ("on_leave_empty", "leave_empty"))


def _frozen(d: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Makes a user an ACD agent: member of ``queues`` (in configuration order) with a penalty
    tier per queue (``penalties``; 0, the default, is offered calls first), optional
    ``skills`` (1-10), and the router's per-agent settings (``acd.model.AgentSettings``)."""

    queues: tuple[str, ...] = ()
    skills: Mapping[str, int] = field(default_factory=_frozen)
    auto_answer: bool = False
    penalties: Mapping[str, int] = field(default_factory=_frozen)  # queue -> tier
    weight: float = 1.0  # for the weighted_random strategy
    auto_pause_after: int | None = 3  # missed offers in a row, then paused; None: never
    no_answer_delay: float = 5.0  # rest after a failed offer, by why it failed
    busy_delay: float = 5.0
    reject_delay: float = 5.0

    def penalty(self, queue: str) -> int:
        """The agent's penalty tier in ``queue`` (0 unless configured)."""
        return self.penalties.get(queue, 0)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """An ACD queue.  Times are seconds; ``None`` means no limit / never.  Overflow values are
    targets (``ccswitch.dialplan``); ``on_*`` left out fall back to ``overflow``."""

    name: str
    strategy: str = "longest_idle"
    ring_timeout: float = 20.0  # an offered agent rings this long before the next is tried
    wrapup: float = 5.0  # after a call, before the agent is offered again
    max_wait: float | None = None  # then the caller goes to ``on_timeout``
    max_waiting: int | None = None  # callers beyond this go straight to ``on_full``
    overflow: Target | None = None  # e.g. QueueTarget("sales"), written "queue:sales"
    announce_interval: float | None = 30.0  # periodic announcements; None: off
    skills: Mapping[str, int] = field(default_factory=_frozen)  # required minimum levels
    record: bool = True  # record calls answered by an agent
    recording_retention_days: float | None = None  # None: [recordings] keep_days; 0: forever
    priority_ageing: float = 0.0  # priority points a caller gains per second of waiting
    join_empty: frozenset[AgentState] | None = None  # states counted absent; None: off
    leave_empty: frozenset[AgentState] | None = None
    on_timeout: Target | None = None
    on_full: Target | None = None
    on_join_empty: Target | None = None
    on_leave_empty: Target | None = None
    service_level: float = 20.0  # answered within this counts as in service level
    announce_on_entry: bool = True
    rejoin_window: float = 0.0  # a caller who hung up may take its place back; 0: off
    callback_attempts: int = 1
    callback_retry: float = 60.0
    handle_window: int = 100  # recent handle times behind the expected wait
    default_handle_time: float | None = None
    linear_order: tuple[str, ...] = ()  # agents first in this order (strategy linear)
    escalation: tuple[EscalationStep, ...] = ()
    moh: str = DEFAULT_MOH  # the [moh.NAME] class callers hear while they wait
    entry_prompt: tuple[str, ...] = ("please-hold",)  # opens the first announcement
    announce_prompts: tuple[str, ...] = ()  # one per periodic announcement, in turn
    announce_position: bool = True  # announcements say the place in line and expected wait
    callback: bool = True  # registered callers are offered a callback (key 1)
    script: Template | None = None  # the call script agents see, filled in (config/crm.py)
    display: str | None = None  # the wallboard's label for the queue (None: its name)

    def overflow_for(self, rule: str) -> Target | None:
        """The target of an overflow rule (one of OVERFLOW_RULES): its own, else ``overflow``."""
        action: Target | None = getattr(self, rule)
        return self.overflow if action is None else action


# -- queues --------------------------------------------------------------------------------


def parse_queues(p: _Parser, value: object, path: Path) -> dict[str, QueueConfig]:
    """The ``[queues]`` table ``value`` (at ``path``): queue name -> QueueConfig."""
    out: dict[str, QueueConfig] = {}
    for name, entry in p.table(value, path).items():
        qp = (*path, name)
        if not _NAME.fullmatch(name):
            p.fail(qp, f"{name!r} is not a valid queue name (letters, digits, _ and -)")
        t = p.table(entry, qp)
        p.check_keys(t, QUEUE_KEYS, qp)
        out[name] = QueueConfig(name, **_basics(p, t, qp), **_rules(p, t, qp),
                                **_service(p, t, qp),
                                script=p.opt(t, "script", qp, None,
                                             lambda v, q: parse_template(p, v, q)),
                                display=p.opt(t, "display", qp, None,
                                              lambda v, q: _label(p, v, q)))
    return out


def _label(p: _Parser, value: object, path: Path) -> str:
    """A display label: a non-empty string without control characters, at most
    ``MAX_LABEL`` characters (it has to fit a wallboard tile)."""
    text = p.string(value, path)
    if len(text) > MAX_LABEL:
        p.fail(path, f"at most {MAX_LABEL} characters, got {len(text)}")
    return text


def _basics(p: _Parser, t: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Strategy, timers, skills, caller ordering (ageing, linear order) and escalation."""
    d = QueueConfig("")
    strategy = p.opt(t, "strategy", path, d.strategy, p.string)
    if strategy not in QUEUE_STRATEGIES:
        p.fail((*path, "strategy"),
               f"unknown strategy {strategy!r} (one of {', '.join(QUEUE_STRATEGIES)})")
    skills = p.opt(t, "skills", path, d.skills, p.skills)
    linear = p.opt(t, "linear_order", path, d.linear_order,
                   lambda v, q: tuple(p.strings(v, q, lambda s, r: p.string(s, r, _USER,
                                                                            "agent name"))))
    if linear and strategy != "linear":
        p.fail((*path, "linear_order"), f"only the linear strategy uses it (not {strategy})")
    return {
        "strategy": strategy,
        "ring_timeout": p.opt(t, "ring_timeout", path, d.ring_timeout, p.seconds),
        "wrapup": p.opt(t, "wrapup", path, d.wrapup, lambda v, q: p.number(v, q, "seconds")),
        "skills": skills,
        "linear_order": linear,
        "priority_ageing": p.opt(t, "priority_ageing", path, d.priority_ageing,
                                 lambda v, q: p.number(v, q, "points per second")),
        "escalation": p.opt(t, "escalation", path, d.escalation,
                            lambda v, q: _escalation(p, v, q, skills)),
        "record": p.opt(t, "record", path, d.record, p.boolean),
        "recording_retention_days": p.opt(t, "recording_retention_days", path,
                                          d.recording_retention_days,
                                          lambda v, q: p.number(v, q, "days")),
    }


def _rules(p: _Parser, t: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Maximum wait and length, empty-queue policies, and where each rule sends a caller."""
    out: dict[str, Any] = {
        "max_wait": p.opt(t, "max_wait", path, None, p.seconds),
        "max_waiting": p.opt(t, "max_waiting", path, None, lambda v, q: p.integer(v, q, 1)),
        "join_empty": p.opt(t, "join_empty", path, None, lambda v, q: _policy(p, v, q)),
        "leave_empty": p.opt(t, "leave_empty", path, None, lambda v, q: _policy(p, v, q)),
        "overflow": p.opt(t, "overflow", path, None, lambda v, q: target(p, v, q)),
    }
    for rule in OVERFLOW_RULES:
        out[rule] = p.opt(t, rule, path, None, lambda v, q: target(p, v, q))
    for rule, switch in _RULE_SWITCH:
        if out[rule] is not None and out[switch] is None:
            p.fail((*path, rule), f"never used: {switch} is not set")
    return out


def _service(p: _Parser, t: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Announcements, service level, rejoin, callback and the expected-wait estimate."""
    d = QueueConfig("")
    out: dict[str, Any] = {
        "announce_interval": p.opt(t, "announce_interval", path, d.announce_interval,
                                   lambda v, q: None if v is False else p.seconds(v, q)),
        "announce_on_entry": p.opt(t, "announce_on_entry", path, d.announce_on_entry,
                                   p.boolean),
        "service_level": p.opt(t, "service_level", path, d.service_level, p.seconds),
        "rejoin_window": p.opt(t, "rejoin_window", path, d.rejoin_window,
                               lambda v, q: p.number(v, q, "seconds")),
        "callback_attempts": p.opt(t, "callback_attempts", path, d.callback_attempts,
                                   lambda v, q: p.integer(v, q, 1, 100)),
        "callback_retry": p.opt(t, "callback_retry", path, d.callback_retry, p.seconds),
        "handle_window": p.opt(t, "handle_window", path, d.handle_window,
                               lambda v, q: p.integer(v, q, 1, 100_000)),
        "default_handle_time": p.opt(t, "default_handle_time", path, d.default_handle_time,
                                     p.seconds),
        **_audio(p, t, path),
    }
    if out["announce_prompts"] and out["announce_interval"] is None:
        p.fail((*path, "announce_prompts"), "never played: announce_interval is false")
    return out


def _audio(p: _Parser, t: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """What a waiting caller hears: music class, entry and periodic prompts, callback offer."""
    d = QueueConfig("")
    return {
        "moh": p.opt(t, "moh", path, d.moh,
                     lambda v, q: check_moh_name(p, v, q, p.moh_classes)),
        "entry_prompt": p.opt(t, "entry_prompt", path, d.entry_prompt,
                              lambda v, q: prompt_list(p, v, q, empty_ok=True)),
        "announce_prompts": p.opt(t, "announce_prompts", path, d.announce_prompts,
                                  lambda v, q: prompt_list(p, v, q, empty_ok=True)),
        "announce_position": p.opt(t, "announce_position", path, d.announce_position,
                                   p.boolean),
        "callback": p.opt(t, "callback", path, d.callback, p.boolean),
    }


def _policy(p: _Parser, value: object, path: Path) -> frozenset[AgentState] | None:
    """``false`` (off) or a list of agent state names that count as absent."""
    if value is False:
        return None
    if not isinstance(value, list):
        p.fail(path, f"must be false or an array of agent states, got {p.kind(value)}")
    states: list[AgentState] = []
    for i, raw in enumerate(value):
        name = p.string(raw, (*path, i))
        if name == AgentState.READY:
            p.fail((*path, i), "a ready agent is never absent")
        if name not in EMPTY_STATES:
            p.fail((*path, i), f"unknown agent state {name!r} (one of {', '.join(EMPTY_STATES)})")
        if AgentState(name) in states:
            p.fail((*path, i), f"{name!r} is listed twice")
        states.append(AgentState(name))
    return frozenset(states) - {AgentState.LOGGED_OUT}  # always absent


def _escalation(p: _Parser, value: object, path: Path,
                skills: Mapping[str, int]) -> tuple[EscalationStep, ...]:
    """``[[queues.NAME.escalation]]`` steps, ``after`` rising; they may only name skills the
    queue requires."""
    def skill(v: object, q: Path) -> str:
        name = p.string(v, q)
        if name not in skills:
            p.fail(q, f"{name!r} is not one of the queue's skills")
        return name

    def caps(v: object, q: Path) -> Mapping[str, int]:
        levels = p.skills(v, q)
        for name in levels:
            skill(name, (*q, name))
        return levels

    steps: list[EscalationStep] = []
    for i, entry in enumerate(p.array(value, path)):
        sp = (*path, i)
        t = p.table(entry, sp)
        p.check_keys(t, ESCALATION_KEYS, sp)
        if "after" not in t:
            p.fail((*sp, "after"), "missing (seconds of waiting before the step applies)")
        after = p.seconds(t["after"], (*sp, "after"))
        if steps and after <= steps[-1].after:
            p.fail((*sp, "after"), f"must be later than the step before ({steps[-1].after:g})")
        drop: list[str] = p.opt(t, "drop", sp, [], lambda v, q: p.strings(v, q, skill))
        lower_by = p.opt(t, "lower_by", sp, 0, lambda v, q: p.integer(v, q, 0, MAX_LEVEL - 1))
        levels = p.opt(t, "levels", sp, _frozen(), caps)
        if not (drop or lower_by or levels):
            p.fail(sp, "does nothing: give drop, lower_by or levels")
        steps.append(EscalationStep(after, frozenset(drop), lower_by, levels))
    return tuple(steps)


def check_queues(p: _Parser, queues: Mapping[str, QueueConfig],
                 users: Mapping[str, UserConfig], names: Names) -> None:
    """Cross-checks once users, menus and rooms are known: every overflow target exists and
    is not the queue itself; ``linear_order`` names agents of the queue."""
    for name, queue in queues.items():
        for key in ("overflow", *OVERFLOW_RULES):
            action: Target | None = getattr(queue, key)
            if action is None:
                continue
            path = ("queues", name, key)
            check_target(p, action, path, names)
            if isinstance(action, QueueTarget) and action.queue == name:
                p.fail(path, "a queue cannot overflow to itself")
            if isinstance(action, QueueTarget) and action.priority is not None:
                p.fail(path, "an overflowing caller keeps its priority (no ;priority= here)")
        members = {u for u, cfg in users.items()
                   if cfg.agent is not None and name in cfg.agent.queues}
        for i, agent in enumerate(queue.linear_order):
            if agent not in members:
                p.fail(("queues", name, "linear_order", i),
                       f"{agent!r} is not an agent of queue {name!r}")


# -- agents --------------------------------------------------------------------------------


def parse_agent(p: _Parser, value: object, path: Path, queues: Iterable[str],
                ) -> AgentConfig:
    """A user's ``agent`` table."""
    t = p.table(value, path)
    if "token" in t:
        p.fail((*path, "token"), "an agent's API token is an [[api.tokens]] entry with "
               "role = \"agent\"")
    p.check_keys(t, AGENT_KEYS, path)
    d = AgentConfig()
    members: tuple[str, ...] = ()
    penalties: Mapping[str, int] = _frozen()
    if "queues" in t:
        members, penalties = _membership(p, t["queues"], (*path, "queues"), set(queues))
    delay: Callable[[object, Path], float] = lambda v, q: p.number(v, q, "seconds")  # noqa: E731
    return AgentConfig(
        queues=members,
        penalties=penalties,
        skills=p.opt(t, "skills", path, d.skills, p.skills),
        auto_answer=p.opt(t, "auto_answer", path, d.auto_answer, p.boolean),
        weight=p.opt(t, "weight", path, d.weight,
                     lambda v, q: p.number(v, q, above=True)),
        auto_pause_after=p.opt(t, "auto_pause_after", path, d.auto_pause_after,
                               lambda v, q: _auto_pause(p, v, q)),
        no_answer_delay=p.opt(t, "no_answer_delay", path, d.no_answer_delay, delay),
        busy_delay=p.opt(t, "busy_delay", path, d.busy_delay, delay),
        reject_delay=p.opt(t, "reject_delay", path, d.reject_delay, delay),
    )


def _membership(p: _Parser, value: object, path: Path, queues: set[str],
                ) -> tuple[tuple[str, ...], Mapping[str, int]]:
    """``["a", "b"]`` (penalty 0 each) or ``{ a = 0, b = 1 }`` (queue -> penalty tier)."""
    penalties: dict[str, int] = {}
    if isinstance(value, dict):
        if not value:
            p.fail(path, "must not be empty")
        for name, tier in value.items():
            if name not in queues:
                p.fail((*path, name), f"queue {name!r} is not declared in [queues]")
            penalties[name] = p.integer(tier, (*path, name), 0)
    elif isinstance(value, list):
        for i, name in enumerate(p.strings(value, path, p.string)):
            if name not in queues:
                p.fail((*path, i), f"queue {name!r} is not declared in [queues]")
            penalties[name] = 0
    else:
        p.fail(path, "must be an array of queue names or a table of queue name -> penalty, "
                     f"got {p.kind(value)}")
    return tuple(penalties), _frozen(penalties)


def _auto_pause(p: _Parser, value: object, path: Path) -> int | None:
    """Missed offers in a row before the agent is paused; 0 or ``false``: never."""
    if value is False or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        p.fail(path, "must be a number of missed offers (at least 1), or 0 / false for never")
    return value
