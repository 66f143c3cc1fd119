"""The one resolver: what happens to an answered call sent to a ``Target`` (pure).

IVR hand-offs, queue overflow and transfers all end here: a user is rung (every registered
contact at once, first answer wins, the rest CANCELled), a queue takes the caller (keeping the
place and priority it had in an earlier queue), a menu or a service answers, a room takes the
caller in, a mailbox takes a message (``voicemail:BOX``, and a user with a mailbox who has no
registered contact).  New INVITEs are routed by ``Signaling`` with the same targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..dialplan import (
    HangupTarget,
    IvrTarget,
    NumberTarget,
    OutsideTarget,
    QueueTarget,
    RoomTarget,
    ServiceTarget,
    SuperviseTarget,
    Target,
    UserTarget,
    VoicemailTarget,
)
from .state import Call, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

Outcome = str  # "ringing", "answered" or "failed:CODE"


def route(sw: B2bua, call: Call, target: Target | None, now: float) -> Outcome:
    """Send the answered ``call`` (its caller's leg) to ``target``.  ``ringing``: a user rings and
    ``_bridge_answered``/``_bridge_failed`` tell the end; ``answered``: the switch took the
    call (queue, menu, service, room); ``failed:CODE``: nothing happened."""
    if call.phase is Phase.ENDED:
        return "failed:481"
    if isinstance(target, NumberTarget):
        target = sw.resolve(target.number, call.caller) if sw.resolve else None
    if target is None:
        return "failed:404"
    log.info("route", call_id=call.key, to=str(target))
    if isinstance(target, VoicemailTarget):
        return "answered" if sw.services.start_voicemail(call, target.box, now) else "failed:404"
    if isinstance(target, UserTarget):
        if not sw.bindings_of or not sw.bindings_of(target.user, now):
            if sw.services.start_voicemail(call, target.user, now):
                return "answered"  # nobody to ring: the user's mailbox takes the call
            return "failed:480"
        sw.services._bridge(call, [target.user], now)
        if call.phase is not Phase.BRIDGING:
            return "failed:503"
        vm = sw.voicemail
        if vm is not None and vm.has(target.user) and call.queue is None:
            # a menu's hand-off or a transfer, as a direct call: busy or no answer within
            # no_answer -> the user's mailbox
            call.voicemail_box = target.user
            sw._timers.arm(("ring", call.key), now + vm.config.settings.no_answer)
        return "ringing"
    if isinstance(target, QueueTarget):
        if target.queue not in sw.queue_settings or sw.router is None:
            return "failed:404"
        priority = call.queue_priority if target.priority is None else target.priority
        sw.queues.enqueue(call, target.queue, now, priority=priority,
                   position_hint=call.queue_entered)
        return "answered"
    if isinstance(target, IvrTarget):
        if target.menu not in sw.menus:
            return "failed:404"
        sw.services._start_ivr(call, target.menu, now)
        return "answered"
    if isinstance(target, ServiceTarget):
        sw.services._become(call, target.name)
        return "answered"
    if isinstance(target, RoomTarget):
        if target.room not in sw.rooms or call.media is None:
            return "failed:503"  # a room on another worker is reached by a media link
        sw.services._enter_room(call, target.room, now)
        return "answered"
    if isinstance(target, HangupTarget):
        return "failed:480"
    if isinstance(target, OutsideTarget):
        if sw.trunk_legs is None:
            return "failed:404"
        # a transfer: the transferring user's class and limits; else (a menu's or a queue's
        # configured number:) the configuration's own choice
        xfer = call.transfer
        user = call.transferred_by if xfer is not None and not xfer.done else None
        return sw.trunk_legs.bridge(call, target.number, user, now)
    assert isinstance(target, SuperviseTarget)
    return "failed:403"  # supervision is dialled, never transferred to
