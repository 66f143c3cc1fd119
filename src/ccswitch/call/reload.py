"""A configuration reload, applied to a running core (pure).

``reload(sig, config, now)`` swaps in what may change live — users and their passwords,
queues (with their call scripts), agents, IVR menus, the dial plan, rooms, supervision,
transfers, the CRM lookup (and, in the shell, API tokens, webhooks and the CRM client) —
without touching a call in progress or a caller waiting in a
queue: calls keep the objects they were set up with, and only what happens next (a new call,
the next login, the next menu) sees the new configuration.  An agent removed from the
configuration is logged out (a call it is on goes on to its end).  What is bound at start-up
(``RESTART_FIELDS``: listen addresses, RTP ports, the data dir, the HTTP address, media
workers, SIP timers, the realm, logging) keeps its old value and is reported as needing a
restart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from ..config.schema import SwitchConfig
from ..dialplan import Dialplan
from .acdconfig import router_settings
from .crm import queue_scripts, user_displays
from .queueing import build_queue_audio, build_room_music

if TYPE_CHECKING:
    from .signaling import Signaling

log = structlog.get_logger()

RESTART_FIELDS = ("domains", "realm", "listen", "rtp_ports", "data_dir", "http", "log_format",
                  "log_level", "auth", "registrar", "sip", "media", "events")
"""Configuration fields bound at start-up: a reload keeps their running values."""
LIVE_FIELDS = ("users", "queues", "dialplan", "menus", "moh", "rooms", "supervisors",
               "supervision", "transfer", "webhooks", "api", "recordings", "crm")


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload did: ``changed`` the live fields that differ, ``restart`` the start-up
    fields that differ (kept at their running values), ``kept`` what the core could not
    change yet (e.g. a removed queue that still has callers)."""

    changed: tuple[str, ...]
    restart: tuple[str, ...]
    kept: tuple[str, ...] = ()


def merge(running: SwitchConfig, new: SwitchConfig) -> tuple[SwitchConfig, tuple[str, ...],
                                                             tuple[str, ...]]:
    """``new`` with the start-up fields of ``running``; the changed live fields and the
    start-up fields that would need a restart."""
    restart = tuple(f for f in RESTART_FIELDS if getattr(new, f) != getattr(running, f))
    changed = tuple(f for f in LIVE_FIELDS if getattr(new, f) != getattr(running, f))
    merged = dataclasses.replace(new, **{f: getattr(running, f) for f in RESTART_FIELDS})
    return merged, changed, restart


def reload(sig: Signaling, new: SwitchConfig, now: float) -> Reloaded:
    """Apply ``new`` to the running core ``sig`` (see the module docstring)."""
    config, changed, restart = merge(sig.config, new)
    added_agents = [a for a in config.agents if a not in sig.config.agents]
    removed_agents = [a for a in sig.config.agents if a not in config.agents]
    b = sig.b2bua
    kept: list[str] = []
    queues, agents = router_settings(config)
    if b.router is not None:
        for agent in removed_agents:  # no new offer; a call in progress goes on
            b.router.agent_logout(agent, now)
        kept = b.router.configure(queues.values(), agents)
    sig.config = config
    sig.dialplan = Dialplan.from_config(config)
    b.queue_settings = queues
    b.agent_names = frozenset(config.agents)
    b.auto_answer = {n: u.agent.auto_answer for n, u in config.agents.items()
                     if u.agent is not None}
    b.record_queues = frozenset(q.name for q in config.queues.values() if q.record)
    b.queue_audio = build_queue_audio(config)
    b.menus = config.menus
    b.rooms.settings = config.rooms
    b.rooms.set_music({r: b.prompt_path(m) for r, m in build_room_music(config).items()})
    b.supervise_keys = config.supervision.keys
    b.transfer_ring_timeout = config.transfer.ring_timeout
    b.transfer_recall = config.transfer.recall
    sig.screenpop.configure(crm=config.crm, scripts=queue_scripts(config.queues),
                            displays=user_displays(config.users))
    for agent in added_agents:  # a new agent already registered is logged in now
        if sig.registrar.lookup(agent, now):
            b.queues.agent_present(agent, True, now)
    b.queues.settle(now)
    log.warning("config_reloaded", changed=list(changed), needs_restart=list(restart),
                kept=kept)
    return Reloaded(changed, restart, tuple(kept))
