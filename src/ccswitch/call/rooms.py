"""Conference rooms (pure): a room is a conference bridge its members' legs join.

A room exists while it has members: the first caller creates it, the last one to leave ends it.
Each member hears every other member and not itself (the media worker's mixing bus).  A room
lives on one media worker, chosen from its name so that a caller still typing the PIN already
has its leg where the room is or will be; a member whose leg is on another worker (a caller
transferred in) joins through a worker-to-worker link (``medialink``), whose far leg stands
for it in the room.  Joining and leaving are announced to the others by a short tone; members
can be muted and kicked (commands).

**Recording** (``record = true``): while the room has members its bus is recorded by the room
worker's recorder into one mono WAV (``StartRecord`` with the bus: the sum of the members who
talk, what a listener outside the room would hear; muted members are not in it).  One channel
rather than one per member: members come and go, a channel per member would give a file whose
width changes or most of whose channels are silence, and the mix is what a conference recording
is played back for (it is what Asterisk's ConfBridge records too).  The recording starts when
the first member joins and is closed when the last one leaves; its file is named after the room
session (``room-NAME-<first member's call id>``) and reported with ``RecordingStarted`` (the
recordings row); each member's CDR names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from ..config.features import RoomConfig
from ..ivr.flow import Flow, IvrCall
from ..media.commands import Command, Play, PlayFile, PlayTone, StartRecord, StopPlay, StopRecord
from .anchor import MediaPlan
from .bridge import Bridge, Role
from .events import CallEvent, RecordingStarted
from .medialink import MediaLink, close_link, open_link

log = structlog.get_logger()

ADMIT = "room-admit:"
"""The hand-off target a PIN flow uses once the PIN is right (never read from configuration,
so no IVR action can skip the PIN)."""
PIN_TRIES = 3
PIN_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class RoomRecording:
    """The recording of one room session: ``session`` names it (its recordings row)."""

    rec_id: int
    path: str
    session: str


@dataclass(slots=True)
class Room:
    settings: RoomConfig
    bridge: Bridge
    bus: int = 0
    members: dict[int, str] = field(default_factory=dict)  # media leg -> call id
    muted: set[int] = field(default_factory=set)
    alone_music: tuple[int, int] | None = None  # (leg, play id) of the music a lone member hears
    links: dict[int, MediaLink] = field(default_factory=dict)  # member leg on another worker
    recording: RoomRecording | None = None

    def in_bridge(self, leg: int) -> int:
        """The leg that stands for member ``leg`` in the room's bridge (its link's far leg
        when it is on another worker)."""
        link = self.links.get(leg)
        return link.far.leg if link is not None else leg


class RoomFull(Exception):
    """The room already has ``max_members`` members."""


JOIN_TONE = "join"  # media.player tone presets, played mixed into the others' audio
LEAVE_TONE = "leave"


class Rooms:
    """The live rooms of the switch."""

    def __init__(self, *, settings: Mapping[str, RoomConfig], workers: int,
                 send: Callable[[int, Command], None], next_id: Callable[[], int],
                 music: Mapping[str, str] | None = None, media: MediaPlan | None = None,
                 emit: Callable[[CallEvent], None] = lambda ev: None) -> None:
        """``music``: room -> the file a lone member hears (``moh_when_alone``); ``media``:
        the plan that names recording files and gives link legs (without it, rooms are
        neither recorded nor reached from another worker); ``emit`` reports
        ``RecordingStarted``."""
        self.settings = settings
        self._music = music or {}
        self._media = media
        self._emit = emit
        self._workers = max(1, workers)
        self._send = send
        self._next_id = next_id
        self._rooms: dict[str, Room] = {}
        self._by_leg: dict[int, Room] = {}
        self._by_link: dict[int, int] = {}  # a link's near or far leg -> the member's leg

    def set_music(self, music: Mapping[str, str]) -> None:
        """A reloaded configuration's music per room (from the next lone member on)."""
        self._music = music

    def __contains__(self, name: object) -> bool:
        return name in self.settings

    def worker_for(self, name: str) -> int:
        """The media worker room ``name`` lives on (the same for every member)."""
        return sum(name.encode()) % self._workers

    def room(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def room_of(self, leg: int) -> Room | None:
        return self._by_leg.get(leg)

    def linked_call(self, link_leg: int) -> str | None:
        """The call id of the member a link leg serves (its media lost: the call ends)."""
        member = self._by_link.get(link_leg)
        room = self._by_leg.get(member) if member is not None else None
        return room.members.get(member) if room is not None and member is not None else None

    def join(self, name: str, leg: int, call_id: str, *, now: float) -> Room:
        """``leg`` (of call ``call_id``) joins room ``name``; raises ``RoomFull``, and
        ``PortsExhausted`` when ``leg`` is on another worker and no link can be made."""
        settings = self.settings[name]
        room = self._rooms.get(name)
        if room is not None and len(room.members) >= settings.max_members:
            raise RoomFull(name)
        worker = self.worker_for(name)
        link = None
        media = self._media
        if media is not None and media.leg_worker.get(leg, worker) != worker:
            link = open_link(media, leg, worker, now=now)
        if room is None:
            bus = self._next_id()
            bridge = Bridge(bridge_id=f"room:{name}", worker=worker, send=self._send,
                            conference=True, bus=bus)
            room = self._rooms[name] = Room(settings, bridge, bus)
            log.info("room_opened", room=name)
            if settings.record:
                self._record(room, call_id, now)
        if settings.join_tones:
            self._tone(room, JOIN_TONE)
        room.members[leg] = call_id
        if link is not None:
            room.links[leg] = link
            self._by_link[link.near.leg] = self._by_link[link.far.leg] = leg
        self._by_leg[leg] = room
        room.bridge.join(room.in_bridge(leg))
        self._alone(room)
        log.info("room_joined", room=name, call_id=call_id, leg=leg, members=len(room.members),
                 linked=link is not None)
        return room

    def leave(self, leg: int) -> None:
        """``leg`` left its room (hung up, kicked); the last one out closes the room."""
        room = self._by_leg.pop(leg, None)
        if room is None:
            return
        name = room.settings.name
        call_id = room.members.pop(leg, None)
        room.muted.discard(leg)
        member = room.in_bridge(leg)
        room.bridge.leave(member)
        link = room.links.pop(leg, None)
        if link is not None and self._media is not None:
            self._by_link.pop(link.near.leg, None)
            self._by_link.pop(link.far.leg, None)
            close_link(self._media, link)
        log.info("room_left", room=name, call_id=call_id, leg=leg, members=len(room.members))
        if room.alone_music is not None and room.alone_music[0] == member:
            room.alone_music = None  # its leg is gone: so is the play
        if not room.members:
            del self._rooms[name]
            if room.recording is not None:
                self._send(room.bridge.worker, StopRecord(room.recording.rec_id))
                log.info("room_recording_stopped", room=name, path=room.recording.path)
            log.info("room_closed", room=name)
            return
        if room.settings.join_tones:
            self._tone(room, LEAVE_TONE)
        self._alone(room)

    def mute(self, leg: int, muted: bool) -> None:
        room = self._by_leg[leg]
        room.bridge.join(room.in_bridge(leg), Role.MUTED if muted else Role.PARTY)
        (room.muted.add if muted else room.muted.discard)(leg)

    def _record(self, room: Room, call_id: str, now: float) -> None:
        """Start recording the room's bus (its first member is ``call_id``)."""
        media = self._media
        if media is None:
            log.warning("room_not_recorded", room=room.settings.name, why="no media plan")
            return
        session = f"room-{room.settings.name}-{call_id}"
        path = media.recording_path(session, media.record_format)
        room.recording = RoomRecording(self._next_id(), path, session)
        self._send(room.bridge.worker, StartRecord(room.recording.rec_id, path, (),
                                                   media.record_format, bus=room.bus))
        self._emit(RecordingStarted(session, path, now))
        log.info("room_recording_started", room=room.settings.name, path=path)

    def _alone(self, room: Room) -> None:
        """Music for a member left alone (when the room has a class for it), none else."""
        worker = room.bridge.worker
        if room.alone_music is not None and len(room.members) != 1:
            leg, pid = room.alone_music
            room.alone_music = None
            self._send(worker, StopPlay(leg, pid))
        music = self._music.get(room.settings.name)
        if music is not None and len(room.members) == 1 and room.alone_music is None:
            (member,) = room.members
            leg = room.in_bridge(member)
            pid = self._next_id()
            room.alone_music = (leg, pid)
            self._send(worker, Play(leg, pid, PlayFile(music), loop=True))

    def _tone(self, room: Room, name: str) -> None:
        for member in room.members:
            self._send(room.bridge.worker, Play(room.in_bridge(member), self._next_id(),
                                                PlayTone(name), mix=True))


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
