"""Worker-to-worker media links (pure): a leg on one media worker joins a bridge on another.

A conference bus (or any bridge) lives on one worker, and a worker mixes only the legs it
holds.  A call whose media is on another worker — a caller transferred into a room, whose
leg was placed when the call began — reaches the bridge through a *link*: a pair of internal
legs, ``near`` on the leg's worker and ``far`` on the bridge's worker, that send each other RTP
over the media address (loopback on one machine)::

    phone <-> leg ==Connect==> near  ~~RTP~~>  far == member of the bridge
    phone <-> leg <==Connect== near  <~~RTP~~  far

``near`` relays the phone's packets to ``far`` (one same-codec source: no decoding) and hands
the phone what ``far`` hears in the bridge.  In the bridge ``far`` stands for the leg: it is
joined, muted, played tones and recorded like any member.  The link legs are PCMU without
telephone-event (digits are taken from the phone's own leg, where they always were) and
without RTP timeout (a phone may send nothing for a while; its own leg watches that).

Why a link rather than moving the call's media with a re-INVITE: it needs nothing from the
phone (no re-INVITE it may refuse, glare with its own re-INVITE, a NAT that must re-latch),
works the same for every kind of leg and codec, and is undone by freeing two legs; it costs
two ports and one loopback hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import structlog

from ..media.commands import Codec, ConfigureLeg, Connect, Disconnect, SetTimeout
from ..media.ports import PortsExhausted
from .anchor import LegMedia, MediaPlan

log = structlog.get_logger()

LINK_CODEC: Final[Codec] = "PCMU"
LINK_PT = 0


@dataclass(frozen=True, slots=True)
class MediaLink:
    """``leg`` (on ``near_worker``) reaches ``far_worker`` through ``near`` and ``far``."""

    leg: int
    near_worker: int
    far_worker: int
    near: LegMedia
    far: LegMedia


def open_link(plan: MediaPlan, leg: int, far_worker: int, *, now: float) -> MediaLink:
    """Link ``leg`` to ``far_worker``; raises ``PortsExhausted`` (nothing kept) when two
    more ports cannot be had, ``KeyError`` when ``leg`` is not a leg of ``plan``."""
    near_worker = plan.leg_worker[leg]
    near = plan.new_leg(near_worker, now=now)
    try:
        far = plan.new_leg(far_worker, now=now)
    except PortsExhausted:
        plan.free_leg(near)
        raise
    ip = plan.local_ip
    for worker, lm, peer in ((near_worker, near, far), (far_worker, far, near)):
        plan.send(worker, ConfigureLeg(lm.leg, ip, peer.port, peer.port + 1, LINK_CODEC,
                                       LINK_PT))
        plan.send(worker, SetTimeout(lm.leg, 0))
    plan.send(near_worker, Connect(leg, near.leg))
    plan.send(near_worker, Connect(near.leg, leg))
    link = MediaLink(leg, near_worker, far_worker, near, far)
    log.info("media_link_opened", leg=leg, near=near.leg, far=far.leg,
             near_worker=near_worker, far_worker=far_worker)
    return link


def close_link(plan: MediaPlan, link: MediaLink) -> None:
    """Undo ``open_link``: the edges go and both legs (and their ports) are freed."""
    plan.send(link.near_worker, Disconnect(link.leg, link.near.leg))
    plan.send(link.near_worker, Disconnect(link.near.leg, link.leg))
    plan.free_leg(link.near)
    plan.free_leg(link.far)
    log.info("media_link_closed", leg=link.leg, near=link.near.leg, far=link.far.leg)
