"""Hold and resume (pure): a phone that holds the other side (re-INVITE or UPDATE with
``sendonly``/``inactive`` or ``c=0.0.0.0``, RFC 3264 §8.4) has its offer relayed as usual, and
the held side hears music on hold from the switch until the phone resumes.  The music is the
class of the queue the call came through, else the default class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..acd.events import CallHeld
from ..media.commands import Play, PlayFile, StopPlay
from .state import Call, Leg, LegId

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()

MOH = "moh/default"
"""The shipped music class (prompt value), when the call's queue names none."""


def hold_changed(sw: B2bua, call: Call, leg: LegId, now: float) -> None:
    """``leg`` just offered: start or stop the music its peer hears."""
    cm = call.media
    other = call.peer(leg)
    if cm is None or other is None or call.end(other.id) not in cm.legs:
        return
    side = call.end(leg)
    held = cm.held.get(side, False)
    if held and other.music is None:
        _music_on(sw, call, other, side, now)
    elif not held and other.music is not None:
        _music_off(sw, call, other, side, now)


def stop_music(sw: B2bua, call: Call, leg: Leg, now: float) -> None:
    """The music ``leg`` hears stops and nobody holds it any more: the party that held it
    left the call (a transfer), so no resume will come."""
    cm = call.media
    side = call.end(leg.id)
    if cm is not None:
        cm.held.pop("b" if side == "a" else "a", None)
        if side in cm.legs and leg.music is not None:
            _music_off(sw, call, leg, "transfer", now)
    leg.music = None


def hold_by_command(sw: B2bua, call: Call, on: bool, now: float) -> None:
    """Hold (or resume) an answered call from the switch: the caller's leg leaves the
    bridge and hears music, the answered leg hears silence; no re-INVITE reaches either
    phone."""
    cm = call.media
    a = call.caller_leg
    if cm is None or cm.bridge is None:
        return
    if on and a.music is None:
        cm.bridge.leave(cm.leg("a"))
        _music_on(sw, call, a, "command", now)
    elif not on and a.music is not None:
        _music_off(sw, call, a, "command", now)
        cm.bridge.join(cm.leg("a"))


def _music_on(sw: B2bua, call: Call, leg: Leg, by: str, now: float) -> None:
    """Music on hold to ``leg``: the music class of the queue the call came through."""
    cm = call.media
    assert cm is not None
    pid = leg.music = cm.plan.next_id()
    audio = sw.queue_audio.get(call.queue_name or "")
    music = audio.moh[0] if audio is not None and audio.moh else MOH
    cm.plan.send(cm.worker, Play(cm.leg(call.end(leg.id)), pid,
                                 PlayFile(sw.prompt_path(music)), loop=True))
    log.info("call_held", call_id=call.key, by=by)
    _report(sw, call, True, by, now)


def _music_off(sw: B2bua, call: Call, leg: Leg, by: str, now: float) -> None:
    cm = call.media
    assert cm is not None and leg.music is not None
    cm.plan.send(cm.worker, StopPlay(cm.leg(call.end(leg.id)), leg.music))
    leg.music = None
    log.info("call_resumed", call_id=call.key, by=by)
    _report(sw, call, False, by, now)


_BY = {"a": "caller", "b": "agent"}  # the side that held (its offer) -> who


def _report(sw: B2bua, call: Call, held: bool, by: str, now: float) -> None:
    """A queue call's hold or resume, for the queue log (reports count hold time)."""
    if call.queue_name is not None and call.queue_agent is not None:
        sw._events.append(CallHeld(now, call.key, call.queue_name, call.queue_agent, held,
                         _BY.get(by, by)))
