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
from ..dialplan import HangupTarget, IvrTarget, QueueTarget
from ..dialplan import Target as DialTarget


def overflow_target(target: DialTarget | None) -> Target | None:
    """A queue rule's target (``ccswitch.dialplan``) as the router's own: queue, IVR and
    hangup as such; any other (``user:X``, ``echo``, ``tone``, ``room:X``, ``transfer:N``)
    as a ``number`` target holding its canonical text.  The router keeps its representation
    (its events and the queue-event store carry it); this is the one conversion."""
    if target is None:
        return None
    if isinstance(target, QueueTarget):
        return Target("queue", target.queue)  # config refuses a priority here
    if isinstance(target, IvrTarget):
        return Target("ivr", target.menu)
    if isinstance(target, HangupTarget):
        return Target("hangup")
    return Target("number", str(target))


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
    queues, settings = router_settings(config)
    return Router(queues=queues.values(), agents=settings, rng=cast(RandomLike, rng)), queues


def router_settings(config: SwitchConfig) -> tuple[dict[str, QueueSettings],
                                                   list[AgentSettings]]:
    """``config``'s queues (by name) and agents as router settings."""
    agents = {name: u.agent for name, u in config.users.items() if u.agent is not None}
    queues = {name: queue_settings(q, tuple(a for a, cfg in agents.items() if name in cfg.queues))
              for name, q in config.queues.items()}
    return queues, [agent_settings(name, cfg) for name, cfg in agents.items()]
