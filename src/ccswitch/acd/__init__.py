"""Automatic call distribution: the pure queue router and what surrounds it.

* ``model`` - settings (``QueueSettings``, ``AgentSettings``, ``EscalationStep``, ``Target``)
* ``router`` - ``Router``, the sans-IO scheduler over every queue and agent
* ``strategies`` - ring strategies as pure functions in a registry (``STRATEGIES``)
* ``events`` - queue events (the durable log) and actions (what the switch does)
* ``queue_log`` - events as Asterisk ``queue_log`` lines
* ``erlang`` - Erlang B/C, service level, ASA, staffing
* ``sim`` - a discrete-event simulation driving the real router
"""

from __future__ import annotations

from .model import (
    AgentSettings,
    AgentState,
    CallerState,
    EscalationStep,
    QueueSettings,
    RouterError,
    Target,
)
from .router import Router
from .strategies import STRATEGIES

__all__ = ["STRATEGIES", "AgentSettings", "AgentState", "CallerState", "EscalationStep",
           "QueueSettings", "Router", "RouterError", "Target"]
