"""Conference rooms (pure): a room is a conference bridge its members' legs join.

A room exists while it has members: the first caller creates it, the last one to leave ends it.
Each member hears every other member and not itself (the media worker's mixing bus).  A room
lives on one media worker, chosen from its name so that a caller still typing the PIN already
has its leg where the room is or will be.  Joining and leaving are announced to the others by a
short tone; members can be muted and kicked (commands).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from ..config.features import RoomConfig
from ..ivr.flow import Flow, IvrCall
from ..media.commands import Command, Play, PlayFile, PlayTone, StopPlay
from .bridge import Bridge, Role

log = structlog.get_logger()

ADMIT = "room-admit:"
"""The hand-off target a PIN flow uses once the PIN is right (never read from configuration,
so no IVR action can skip the PIN)."""
PIN_TRIES = 3
PIN_TIMEOUT = 10.0


@dataclass(slots=True)
class Room:
    settings: RoomConfig
    bridge: Bridge
    members: dict[int, str] = field(default_factory=dict)  # media leg -> call id
    muted: set[int] = field(default_factory=set)
    alone_music: tuple[int, int] | None = None  # (leg, play id) of the music a lone member hears


class RoomFull(Exception):
    """The room already has ``max_members`` members."""


JOIN_TONE = "join"  # media.player tone presets, played mixed into the others' audio
LEAVE_TONE = "leave"


class Rooms:
    """The live rooms of the switch."""

    def __init__(self, *, settings: Mapping[str, RoomConfig], workers: int,
                 send: Callable[[int, Command], None], next_id: Callable[[], int],
                 music: Mapping[str, str] | None = None) -> None:
        """``music``: room -> the file a lone member hears (``moh_when_alone``)."""
        self.settings = settings
        self._music = music or {}
        self._workers = max(1, workers)
        self._send = send
        self._next_id = next_id
        self._rooms: dict[str, Room] = {}
        self._by_leg: dict[int, Room] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.settings

    def worker_for(self, name: str) -> int:
        """The media worker room ``name`` lives on (the same for every member)."""
        return sum(name.encode()) % self._workers

    def room(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def room_of(self, leg: int) -> Room | None:
        return self._by_leg.get(leg)

    def join(self, name: str, leg: int, call_id: str) -> Room:
        """``leg`` (of call ``call_id``) joins room ``name``; raises ``RoomFull``."""
        settings = self.settings[name]
        room = self._rooms.get(name)
        if room is not None and len(room.members) >= settings.max_members:
            raise RoomFull(name)
        if room is None:
            bridge = Bridge(bridge_id=f"room:{name}", worker=self.worker_for(name),
                            send=self._send, conference=True, bus=self._next_id())
            room = self._rooms[name] = Room(settings, bridge)
            log.info("room_opened", room=name)
        if settings.join_tones:
            self._tone(room, JOIN_TONE)
        room.members[leg] = call_id
        self._by_leg[leg] = room
        room.bridge.join(leg)
        self._alone(room)
        log.info("room_joined", room=name, call_id=call_id, leg=leg, members=len(room.members))
        return room

    def leave(self, leg: int) -> None:
        """``leg`` left its room (hung up, kicked); the last one out closes the room."""
        room = self._by_leg.pop(leg, None)
        if room is None:
            return
        name = room.settings.name
        call_id = room.members.pop(leg, None)
        room.muted.discard(leg)
        room.bridge.leave(leg)
        log.info("room_left", room=name, call_id=call_id, leg=leg, members=len(room.members))
        if room.alone_music is not None and room.alone_music[0] == leg:
            room.alone_music = None  # its leg is gone: so is the play
        if not room.members:
            del self._rooms[name]
            log.info("room_closed", room=name)
            return
        if room.settings.join_tones:
            self._tone(room, LEAVE_TONE)
        self._alone(room)

    def mute(self, leg: int, muted: bool) -> None:
        room = self._by_leg[leg]
        room.bridge.join(leg, Role.MUTED if muted else Role.PARTY)
        (room.muted.add if muted else room.muted.discard)(leg)

    def _alone(self, room: Room) -> None:
        """Music for a member left alone (when the room has a class for it), none else."""
        worker = room.bridge.worker
        if room.alone_music is not None and len(room.members) != 1:
            leg, pid = room.alone_music
            room.alone_music = None
            self._send(worker, StopPlay(leg, pid))
        music = self._music.get(room.settings.name)
        if music is not None and len(room.members) == 1 and room.alone_music is None:
            (leg,) = room.members
            pid = self._next_id()
            room.alone_music = (leg, pid)
            self._send(worker, Play(leg, pid, PlayFile(music), loop=True))

    def _tone(self, room: Room, name: str) -> None:
        for leg in room.members:
            self._send(room.bridge.worker, Play(leg, self._next_id(), PlayTone(name), mix=True))


def pin_flow(room: str, pin: str) -> Flow:
    """Ask for the room's PIN (``#`` ends it); three wrong tries end the call."""
    async def flow(call: IvrCall) -> None:
        for _ in range(PIN_TRIES):
            got = await call.collect(max(len(pin), 1), PIN_TIMEOUT, prompt=("enter-pin",))
            if got == pin:
                await call.transfer(ADMIT + room)
                return
            await call.play("wrong-pin", interruptible=False)
        await call.play("goodbye", interruptible=False)
        await call.hangup()

    return flow
