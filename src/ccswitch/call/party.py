"""Three-way calls (pure): a third party added to a call (``AddParty``) is a member of the
call's bridge; when it hangs up the call is two-party again, and when one of the two first
parties hangs up the third one takes its place, so the two still on the line go on talking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from . import sessiontimers
from .legrecord import leg_gone, remove_leg
from .state import Call, LegId, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


def join_party(sw: B2bua, key: str, coach_leg: int, third: Call, now: float) -> None:
    """The phone rung by ``AddParty`` answered (its call ``third``): it joins call ``key``'s
    bridge as a party, or is hung up when that call has ended meanwhile."""
    main = sw._calls.get(key)
    if main is None or main.media is None or main.media.bridge is None or third.media is None:
        sw._hangup_both(third, now)
        sw._end(third, 200, "the call it was added to ended", now, "switch")
        return
    third.service = "party"
    third.phase = Phase.SERVICE
    third.supervising = (key, coach_leg)
    main.supervisors.append(third.key)
    main.media.bridge.join(third.media.leg("a"))
    log.info("party_added", call_id=key, party=third.key, user=third.caller)


def take_over(sw: B2bua, call: Call, leg: LegId, now: float) -> bool:
    """Leg ``leg`` of ``call`` hung up: a third party in its bridge moves into the call in
    its place (True); False when there is none (the call ends)."""
    cm = call.media
    party = next((p for k in call.supervisors if (p := sw._calls.get(k)) is not None
                  and p.service == "party" and p.confirmed
                  and p.media is not None and "a" in p.media.legs), None)
    if party is None or cm is None or party.media is None or \
            leg not in (call.caller_id, call.answered_id):
        return False
    side = call.end(leg)
    gone = call.legs[leg]
    leg_gone(call, gone, "party", "", now)  # (its codec: before its media goes)
    moved, third = party.media.legs.pop("a"), party.caller_leg
    call.supervisors.remove(party.key)
    party.supervising = None
    sw._end(party, 200, "joined the call it was added to", now, "switch")  # no BYE: it stays
    sw._dialogs.pop((gone.dialog.call_id, gone.dialog.local_tag), None)
    old = cm.legs[side]
    if cm.bridge is not None:
        cm.bridge.leave(old.leg)
    sw.media_free(old)
    cm.legs[side] = moved
    cm.offers.pop(side, None)
    cm.our_offers.pop(side, None)
    # the third party's leg moves from its own call into this one, in the gone leg's role
    remove_leg(call, gone, "party", "", now)
    sessiontimers.disarm(sw, call, gone)
    del call.legs[gone.id]
    if sw._clients.get(gone.txn_id) is call:
        del sw._clients[gone.txn_id]
    party.legs.pop(third.id, None)
    third.unacked = third.held_ack = None
    third.music = None
    third.role = "party"
    call.add(third)
    sw._by_leg[moved.leg] = call
    sw._dialogs[(third.dialog.call_id, third.dialog.local_tag)] = (call, third.id)
    sessiontimers.disarm(sw, party, third)  # its session timer runs on, in this call
    sessiontimers.arm(sw, call, third)
    if side == "a":
        call.caller_id, call.caller = third.id, party.caller
    else:
        call.answered_id, call.callee = third.id, party.caller
    log.info("party_took_over", call_id=call.key, side=side, user=party.caller)
    return True
