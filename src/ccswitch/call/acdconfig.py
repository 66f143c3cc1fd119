"""The router's settings from the switch configuration (pure).

Every ``[queues.NAME]`` key and every agent key of the configuration maps onto a field of
:class:`~ccswitch.acd.model.QueueSettings` / :class:`~ccswitch.acd.model.AgentSettings`;
overflow actions become router targets (``overflow_target``), each rule's own action or else
the queue's ``overflow``.  A ``linear`` queue without ``linear_order`` orders its agents as
the configuration lists them; agents left out of a ``linear_order`` come after, in that order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import cast

from ..acd.model import AgentSettings, QueueSettings, Target
from ..acd.router import Router
from ..acd.strategies import RandomLike
from ..config.acd import AgentConfig, QueueConfig
from ..config.schema import SwitchConfig


def overflow_target(action: str | None) -> Target | None:
    """A queue's ``overflow`` dial plan action as a router target: ``queue:X`` and ``ivr:X``
    as such; ``user:X``, ``echo`` and ``tone`` as a ``number`` target naming the action."""
    if action is None:
        return None
    kind, _, arg = action.partition(":")
    if kind in ("queue", "ivr", "voicemail"):
        return Target(kind, arg)
    if kind == "hangup":
        return Target("hangup")
    return Target("number", action)


def queue_settings(q: QueueConfig, members: tuple[str, ...] = ()) -> QueueSettings:
    """``q`` as router settings; ``members``: the queue's agents in configuration order (the
    rest of a ``linear`` queue's order)."""
    linear = q.linear_order
    if q.strategy == "linear":
        linear = (*linear, *(m for m in members if m not in linear))
    return QueueSettings(
        name=q.name, strategy=q.strategy, ring_timeout=q.ring_timeout, wrapup=q.wrapup,
        skills=dict(q.skills), escalation=q.escalation, priority_ageing=q.priority_ageing,
        max_wait=q.max_wait, max_length=q.max_waiting,
        join_empty=q.join_empty, leave_empty=q.leave_empty,
        on_timeout=overflow_target(q.overflow_for("on_timeout")),
        on_full=overflow_target(q.overflow_for("on_full")),
        on_join_empty=overflow_target(q.overflow_for("on_join_empty")),
        on_leave_empty=overflow_target(q.overflow_for("on_leave_empty")),
        service_level=q.service_level, announce_interval=q.announce_interval,
        announce_on_entry=q.announce_on_entry, rejoin_window=q.rejoin_window,
        callback_attempts=q.callback_attempts, callback_retry=q.callback_retry,
        handle_window=q.handle_window, default_handle_time=q.default_handle_time,
        linear_order=linear,
    )


def agent_settings(name: str, a: AgentConfig) -> AgentSettings:
    """User ``name``'s agent table as router settings (queue -> penalty tier)."""
    return AgentSettings(
        name=name, skills=dict(a.skills), queues={q: a.penalty(q) for q in a.queues},
        weight=a.weight, auto_pause_after=a.auto_pause_after,
        no_answer_delay=a.no_answer_delay, busy_delay=a.busy_delay,
        reject_delay=a.reject_delay,
    )


def build_router(config: SwitchConfig, rng: random.Random) -> tuple[Router,
                                                                   Mapping[str, QueueSettings]]:
    """The router for ``config``'s queues and agents, and its queue settings by name."""
    agents = {name: u.agent for name, u in config.users.items() if u.agent is not None}
    queues = {name: queue_settings(q, tuple(a for a, cfg in agents.items() if name in cfg.queues))
              for name, q in config.queues.items()}
    settings = [agent_settings(name, cfg) for name, cfg in agents.items()]
    return Router(queues=queues.values(), agents=settings, rng=cast(RandomLike, rng)), queues
