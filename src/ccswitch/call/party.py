"""Three-way calls (pure): a third party added to a call (``AddParty``) is a member of the
call's bridge; when it hangs up the call is two-party again, and when one of the two first
parties hangs up the third one takes its place, so the two still on the line go on talking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from .state import Call, CallState

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
    third.supervising = (key, coach_leg)
    main.supervisors.append(third.key)
    main.media.bridge.join(third.media.leg("a"))
    log.info("party_added", call_id=key, party=third.key, user=third.caller)


def take_over(sw: B2bua, call: Call, side: str, now: float) -> bool:
    """Side ``side`` of ``call`` hung up: a third party in its bridge takes that side (True);
    False when there is none (the call ends)."""
    cm = call.media
    party = next((p for k in call.supervisors if (p := sw._calls.get(k)) is not None
                  and p.service == "party" and p.state is CallState.UP
                  and p.media is not None and "a" in p.media.legs), None)
    if party is None or cm is None or party.media is None or side not in ("a", "b"):
        return False
    gone = call.a if side == "a" else call.b
    assert gone is not None
    moved, leg = party.media.legs.pop("a"), party.a
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
    call.unacked.pop(side, None)
    call.hold_music.pop(side, None)
    sw._by_leg[moved.leg] = call
    sw._dialogs[(leg.dialog.call_id, leg.dialog.local_tag)] = (call, side)
    if side == "a":
        call.a, call.caller = leg, party.caller
    else:
        call.b, call.callee = leg, party.caller
    log.info("party_took_over", call_id=call.key, side=side, user=party.caller)
    return True
