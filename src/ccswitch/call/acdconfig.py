"""The router's settings from the switch configuration (pure)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import cast

from ..acd.model import AgentSettings, QueueSettings, Target
from ..acd.router import Router
from ..acd.strategies import RandomLike
from ..config.schema import QueueConfig, SwitchConfig


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


def queue_settings(q: QueueConfig) -> QueueSettings:
    target = overflow_target(q.overflow)
    return QueueSettings(
        name=q.name, strategy=q.strategy, ring_timeout=q.ring_timeout, wrapup=q.wrapup,
        skills=dict(q.skills), max_wait=q.max_wait, max_length=q.max_waiting,
        on_timeout=target, on_full=target, on_join_empty=target, on_leave_empty=target,
        announce_interval=q.announce_interval,
    )


def build_router(config: SwitchConfig, rng: random.Random) -> tuple[Router,
                                                                   Mapping[str, QueueSettings]]:
    """The router for ``config``'s queues and agents, and its queue settings by name."""
    queues = {name: queue_settings(q) for name, q in config.queues.items()}
    agents = [AgentSettings(name=name, skills=dict(u.agent.skills),
                            queues=dict.fromkeys(u.agent.queues, 0))
              for name, u in config.agents.items() if u.agent is not None]
    return Router(queues=queues.values(), agents=agents, rng=cast(RandomLike, rng)), queues
