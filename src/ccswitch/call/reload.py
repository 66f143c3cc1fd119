"""A configuration reload, applied to a running core (pure).

``reload(sig, config, now)`` swaps in what may change live — users and their passwords,
queues (with their call scripts), agents, IVR menus, the dial plan, rooms, supervision,
transfers, the CRM lookup, the reports' settings, the voicemail settings and the mailboxes'
PINs and greetings, DIDs, outbound routes and the toll policy (and, in the shell, API
tokens, webhooks, the CRM client and the agent desktop's menus) — without touching a call in
progress or a caller waiting in a queue: calls keep the objects they were set up with, and
only what happens next (a new call, the next login, the next menu) sees the new
configuration.  An agent removed from the configuration is logged out (a call it is on goes
on to its end).  What is bound at start-up keeps its running value and is reported as
needing a restart: ``RESTART_FIELDS`` (listen addresses, RTP ports, the data dir, the HTTP
address, media workers, SIP timers, the realm, logging, the store), the trunks themselves
(addresses, credentials, registrations, limits: with them the whole trunking part stays),
mailboxes added or removed (with them the whole ``[voicemail]`` stays) and the toll policy's
``burst_window``.  Every field of ``SwitchConfig`` is in exactly one of ``LIVE_FIELDS``,
``RESTART_FIELDS``, ``PART_FIELDS`` and ``DERIVED_FIELDS`` (a test holds this).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from ..config.schema import SwitchConfig
from ..config.trunks import TrunkingConfig
from ..config.voicemail import VoicemailConfig
from ..dialplan import Dialplan
from .acdconfig import router_settings
from .crm import queue_scripts, user_displays
from .queueing import build_queue_audio, build_room_music

if TYPE_CHECKING:
    from .signaling import Signaling

log = structlog.get_logger()

RESTART_FIELDS = ("domains", "realm", "listen", "rtp_ports", "data_dir", "http", "log_format",
                  "log_level", "auth", "registrar", "sip", "media", "events", "store")
"""Configuration fields bound at start-up: a reload keeps their running values."""
LIVE_FIELDS = ("users", "queues", "dialplan", "menus", "moh", "rooms", "supervisors",
               "supervision", "transfer", "webhooks", "api", "recordings", "crm", "reports",
               "agent_desktop")
"""Fields applied whole by a reload (``agent_desktop``, ``api``, ``webhooks``: by the shell)."""
PART_FIELDS = ("voicemail", "trunking")
"""Fields applied in part: see :func:`merge_voicemail` and :func:`merge_trunking`."""
DERIVED_FIELDS = ("prompt_uses", "prompt_files")
"""Filled at load time from the fields above (the prompt files are looked up in the running
configuration's table, so a reloaded menu's new prompt file plays)."""
TRUNKING_PARTS = {"trunks": "trunks", "dns": "dns", "routes": "routes", "dids": "dids",
                  "outbound": "outbound", "classes": "outbound_class"}
"""``TrunkingConfig`` field -> the name a reload reports it by."""


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload did: ``changed`` the live fields that differ, ``restart`` the start-up
    fields that differ (kept at their running values), ``kept`` what the core could not
    change yet (e.g. a removed queue that still has callers)."""

    changed: tuple[str, ...]
    restart: tuple[str, ...]
    kept: tuple[str, ...] = ()


def merge_trunking(running: TrunkingConfig, new: TrunkingConfig,
                   ) -> tuple[TrunkingConfig, tuple[str, ...], tuple[str, ...]]:
    """The trunking to run with, the parts changed live and those needing a restart.  A
    change of ``trunks`` keeps all of the running trunking (routes and DIDs name trunks);
    else routes, DIDs, ``[outbound]`` and the users' classes apply, but ``burst_window``
    (its detector holds the recent attempts)."""
    differ = tuple(name for f, name in TRUNKING_PARTS.items()
                   if getattr(new, f) != getattr(running, f))
    if "trunks" in differ or "dns" in differ:  # the trunks' resolvers start with the daemon
        return running, (), differ
    window = running.outbound.burst_window
    restart: tuple[str, ...] = ()
    if new.outbound.burst_window != window:
        restart = ("outbound.burst_window",)
        new = dataclasses.replace(new, outbound=dataclasses.replace(new.outbound,
                                                                    burst_window=window))
    live = tuple(n for f, n in TRUNKING_PARTS.items() if getattr(new, f) != getattr(running, f))
    return new, live, restart


def merge_voicemail(running: VoicemailConfig, new: VoicemailConfig,
                    ) -> tuple[VoicemailConfig, tuple[str, ...], tuple[str, ...]]:
    """The voicemail to run with: the new settings, PINs and greetings while the set of
    mailboxes is the same; a mailbox added or removed keeps the running ``[voicemail]``
    (the boxes, their message lists and MWI are built at start-up)."""
    if new == running:
        return running, (), ()
    if set(new.mailboxes) != set(running.mailboxes):
        return running, (), ("voicemail.mailboxes",)
    return new, ("voicemail",), ()


def merge(running: SwitchConfig, new: SwitchConfig) -> tuple[SwitchConfig, tuple[str, ...],
                                                             tuple[str, ...]]:
    """``new`` with the start-up fields of ``running``; the changed live fields and the
    start-up fields that would need a restart."""
    restart = tuple(f for f in RESTART_FIELDS if getattr(new, f) != getattr(running, f))
    changed = tuple(f for f in LIVE_FIELDS if getattr(new, f) != getattr(running, f))
    trunking, t_live, t_restart = merge_trunking(running.trunking, new.trunking)
    voicemail, v_live, v_restart = merge_voicemail(running.voicemail, new.voicemail)
    merged = dataclasses.replace(new, trunking=trunking, voicemail=voicemail,
                                 **{f: getattr(running, f) for f in RESTART_FIELDS})
    return merged, changed + v_live + t_live, restart + v_restart + t_restart


def _apply_trunking(sig: Signaling, t: TrunkingConfig) -> None:
    """New DID routers and outbound router; the toll policy object (its counts of calls in
    progress, recent attempts and blocked users) stays, with the new rules."""
    legs = sig.trunk_legs
    if legs is None:
        return
    policy = legs.router.policy
    policy.classes = dict(t.classes)
    policy.default_class = t.outbound.default_class
    policy.blocked_prefixes = t.outbound.blocked_prefixes
    policy.max_user_calls = t.outbound.max_calls_per_user
    policy.burst_attempts = t.outbound.burst_attempts
    legs.router = t.router(policy)
    sig.set_did_routers({name: t.dids_router(name) for name in t.trunks})


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
    trunking_changed = config.trunking != sig.config.trunking
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
    if sig.voicemail is not None:
        sig.voicemail.config = config.voicemail  # same boxes (merge_voicemail)
        sig.voicemail.mwi.set_max_expires(config.voicemail.settings.mwi_max_expires)
    if trunking_changed:
        _apply_trunking(sig, config.trunking)
    for agent in added_agents:  # a new agent already registered is logged in now
        if sig.registrar.lookup(agent, now):
            b.queues.agent_present(agent, True, now)
    b.queues.settle(now)
    log.warning("config_reloaded", changed=list(changed), needs_restart=list(restart),
                kept=kept)
    return Reloaded(changed, restart, tuple(kept))
