"""Hold and resume (pure): a phone that holds the other side (re-INVITE or UPDATE with
``sendonly``/``inactive`` or ``c=0.0.0.0``, RFC 3264 §8.4) has its offer relayed as usual, and
the held side hears music on hold from the switch until the phone resumes.  The music is the
class of the queue the call came through, else the default class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..media.commands import Play, PlayFile, StopPlay
from .state import Call

if TYPE_CHECKING:
    from .b2bua import B2bua

log = structlog.get_logger()


def hold_changed(sw: B2bua, call: Call, side: str) -> None:
    """``side`` just offered: start or stop the music the other side hears."""
    cm = call.media
    if cm is None:
        return
    other = "b" if side == "a" else "a"
    if other not in cm.legs:
        return
    leg = cm.leg(other)
    playing = call.hold_music.get(other)
    held = cm.held.get(side, False)
    if held and playing is None:
        pid = cm.plan.next_id()
        call.hold_music[other] = pid
        audio = sw.queue_audio.get(call.queue_name or "")
        music = audio.moh[0] if audio is not None and audio.moh else "moh/default"
        cm.plan.send(cm.worker, Play(leg, pid, PlayFile(sw.prompt_path(music)), loop=True))
        log.info("call_held", call_id=call.key, by=side)
    elif not held and playing is not None:
        del call.hold_music[other]
        cm.plan.send(cm.worker, StopPlay(leg, playing))
        log.info("call_resumed", call_id=call.key, by=side)


def stop_music(call: Call, side: str) -> None:
    """The music ``side`` hears stops and nobody holds it any more: the party that held it
    left the call (a transfer), so no resume will come."""
    cm = call.media
    playing = call.hold_music.pop(side, None)
    if cm is None:
        return
    cm.held.pop("b" if side == "a" else "a", None)
    if playing is not None and side in cm.legs:
        cm.plan.send(cm.worker, StopPlay(cm.leg(side), playing))
        log.info("call_resumed", call_id=call.key, by="transfer")


def hold_by_command(sw: B2bua, call: Call, on: bool) -> None:
    """Hold (or resume) an answered call from the switch: side a (the caller) leaves the
    bridge and hears music, side b hears silence; no re-INVITE reaches either phone."""
    cm = call.media
    if cm is None or cm.bridge is None:
        return
    a = cm.leg("a")
    playing = call.hold_music.get("a")
    if on and playing is None:
        cm.bridge.leave(a)
        pid = cm.plan.next_id()
        call.hold_music["a"] = pid
        audio = sw.queue_audio.get(call.queue_name or "")
        music = audio.moh[0] if audio is not None and audio.moh else "moh/default"
        cm.plan.send(cm.worker, Play(a, pid, PlayFile(sw.prompt_path(music)), loop=True))
        log.info("call_held", call_id=call.key, by="command")
    elif not on and playing is not None:
        del call.hold_music["a"]
        cm.plan.send(cm.worker, StopPlay(a, playing))
        cm.bridge.join(a)
        log.info("call_resumed", call_id=call.key, by="command")
