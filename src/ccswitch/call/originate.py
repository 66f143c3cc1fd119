"""Calls the switch places to a user's phones and then does something with (pure): a
supervisor's phone rung by a command, which joins the agent's call when answered.

Every registered contact of the user rings (first answer wins, the rest are CANCELled); the
answered phone's leg becomes the caller's leg of a new call, handed to ``on_answer``.  Nobody
answering within ``ring`` seconds, or every contact failing, frees the media leg and ends the
attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from ..sdp.negotiator import NotAcceptable
from ..sip.transaction import ResponseReceived, TransactionTimeout
from .anchor import CallMedia
from .events import CallStarted
from .state import Call, Leg, Phase

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


@dataclass(slots=True)
class Originated:
    """A call being placed: who to, its media leg, its forks, what to do once answered."""

    key: str
    user: str
    callee: str  # what the new call's CDR names as dialled (e.g. ``listen:2001``)
    media: CallMedia
    on_answer: Callable[[Call, float], None]
    branches: dict[str, Leg] = field(default_factory=dict)
    done: bool = False


def originate(sw: B2bua, *, user: str, callee: str, from_user: str, display: str | None,
              media: CallMedia, on_answer: Callable[[Call, float], None], ring: float,
              now: float) -> bool:
    """Ring every registered contact of ``user`` as ``display <from_user>``; False when it
    has none (media freed)."""
    bindings = sw.bindings_of(user, now) if sw.bindings_of else []
    if not bindings:
        media.close()
        return False
    body = media.offer_locally("a")
    o = Originated(sw.new_call_id(), user, callee, media, on_answer)
    for b in bindings:
        br = sw._send_invite(b, from_user, display, user, body, "application/sdp", 70, (), now)
        o.branches[br.txn_id] = br
        sw._originated[br.txn_id] = o
    sw._timers.arm(("origring", o.key), now + ring)
    sw._originating[o.key] = o
    log.info("originate", call_id=o.key, user=user, callee=callee, contacts=len(bindings))
    return True


def on_response(sw: B2bua, ev: ResponseReceived, now: float) -> bool:
    """A response to one of our INVITEs (False: not ours)."""
    o = sw._originated.get(ev.txn_id)
    if o is None:
        return False
    resp, br = ev.response, o.branches[ev.txn_id]
    if resp.status < 200:
        return True
    br.final = resp.status
    sw._originated.pop(ev.txn_id, None)
    if resp.status >= 300:
        _branch_done(sw, o, now)
        return True
    br.dialog.remote = resp.to
    br.dialog.update_target(resp)
    ack = br.dialog.request("ACK", me=br.me, branch=sw._ids.branch(), cseq=br.invite.cseq.seq)
    sw._txn.send_stateless(ack, br.dialog.peer)
    if o.done or not resp.body or isinstance(o.media.accept_local_answer("a", resp.body),
                                             NotAcceptable):
        sw._bye(br.dialog, br.me, now)
        _branch_done(sw, o, now)
        return True
    o.done = True
    sw._timers.cancel(("origring", o.key))
    sw._originating.pop(o.key, None)
    for tid, other in o.branches.items():
        if other is not br and other.final is None:
            sw._txn.cancel_request(tid, now)
    call = Call.of(br, key=o.key, caller=o.user, callee=o.callee, started=now,
                   phase=Phase.SERVICE, media=o.media)
    call.answered = now
    call.sip_call_id = br.dialog.call_id
    sw._calls[call.key] = call
    sw._dialogs[(br.dialog.call_id, br.dialog.local_tag)] = (call, br.id)
    sw._by_leg[o.media.leg("a")] = call
    sw._events.append(CallStarted(call.key, o.user, o.callee, now, inbound=False))
    o.on_answer(call, now)
    return True


def on_timeout(sw: B2bua, ev: TransactionTimeout, now: float) -> bool:
    o = sw._originated.pop(ev.txn_id, None)
    if o is None:
        return False
    o.branches[ev.txn_id].final = 408
    _branch_done(sw, o, now)
    return True


def ring_timeout(sw: B2bua, key: str, now: float) -> None:
    """Nobody answered in time: CANCEL what still rings (its 487 ends the attempt)."""
    o = sw._originating.get(key)
    if o is None or o.done:
        return
    for tid, br in o.branches.items():
        if br.final is None:
            sw._txn.cancel_request(tid, now)


def abandon(sw: B2bua, now: float) -> None:
    """Shutdown: stop ringing and free the media of every call being placed."""
    for o in list(sw._originating.values()):
        ring_timeout(sw, o.key, now)
        o.done = True
        o.media.close()
    sw._originating.clear()


def _branch_done(sw: B2bua, o: Originated, now: float) -> None:
    if o.done or any(b.final is None for b in o.branches.values()):
        return
    o.done = True
    sw._timers.cancel(("origring", o.key))
    sw._originating.pop(o.key, None)
    o.media.close()
    log.info("originate_unanswered", call_id=o.key, user=o.user)
