"""Room recording and worker-to-worker links, on ``Rooms`` alone with a real ``MediaPlan``
(fake times): what is sent to which worker when members join and leave."""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt
import pytest

from ccswitch.call.anchor import MediaPlan
from ccswitch.call.events import CallEvent, RecordingStarted
from ccswitch.call.medialink import LINK_CODEC
from ccswitch.call.rooms import Rooms
from ccswitch.config.features import RoomConfig
from ccswitch.ids import Ids
from ccswitch.media.commands import (
    Command,
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    Disconnect,
    JoinBus,
    LeaveBus,
    Play,
    PlayTone,
    SetTimeout,
    StartRecord,
    StopRecord,
)
from ccswitch.media.engine import MediaEngine
from ccswitch.media.g711 import ulaw_decode, ulaw_encode
from ccswitch.media.ports import PortPool, PortsExhausted
from ccswitch.media.rtp import build_rtp, parse_rtp

IP = "127.0.0.9"


class World:
    """Rooms over a two-worker media plan; ``legs`` places phone legs on a worker."""

    def __init__(self, *, record: bool = True, ports: tuple[int, int] = (30000, 30099)) -> None:
        self.plan = MediaPlan(ports=PortPool(*ports), workers=2, local_ip=IP,
                              session_ids=lambda: 1, record_format="wav",
                              recording_path=lambda name, ext: f"/rec/{name}.{ext}")
        self.events: list[CallEvent] = []
        self.rooms = Rooms(settings={"850": RoomConfig("850", record=record),
                                     "quiet": RoomConfig("quiet", join_tones=False)},
                           workers=2, send=self.plan.send, next_id=self.plan.next_id,
                           media=self.plan, emit=self.events.append)
        self.sent: list[tuple[int, Command]] = []

    def phone_leg(self, worker: int) -> int:
        return self.plan.new_leg(worker, now=0.0).leg

    def take(self) -> list[tuple[int, Command]]:
        new = self.plan.commands()
        self.sent += new
        return new


def test_a_recorded_room_records_its_bus_from_the_first_member_to_the_last() -> None:
    w = World()
    room_worker = w.rooms.worker_for("850")
    legs = [w.phone_leg(room_worker) for _ in range(3)]
    w.take()
    w.rooms.join("850", legs[0], "callA", now=5.0)
    first = w.take()
    (start,) = [(wk, c) for wk, c in first if isinstance(c, StartRecord)]
    (join,) = [c for _, c in first if isinstance(c, JoinBus)]
    assert start == (room_worker, StartRecord(start[1].rec_id, "/rec/room-850-callA.wav", (),
                                              "wav", bus=join.bus))
    assert start[1].channels == 1
    assert w.events == [RecordingStarted("room-850-callA", "/rec/room-850-callA.wav", 5.0)]
    room = w.rooms.room("850")
    assert room is not None and room.recording is not None
    assert room.recording.path == "/rec/room-850-callA.wav"
    # more members: no second recording; members leaving: none stopped until the last
    w.rooms.join("850", legs[1], "callB", now=6.0)
    w.rooms.join("850", legs[2], "callC", now=7.0)
    w.rooms.leave(legs[0])
    w.rooms.leave(legs[1])
    middle = w.take()
    assert not [c for _, c in middle if isinstance(c, StartRecord | StopRecord)]
    w.rooms.leave(legs[2])
    assert [(wk, c) for wk, c in w.take() if isinstance(c, StopRecord)] == [
        (room_worker, StopRecord(start[1].rec_id))]
    assert len(w.events) == 1
    # the next session is a new file, named after its own first member
    w.rooms.join("850", legs[1], "callD", now=9.0)
    (again,) = [c for _, c in w.take() if isinstance(c, StartRecord)]
    assert again.path == "/rec/room-850-callD.wav" and again.rec_id != start[1].rec_id


def test_a_room_without_record_is_not_recorded() -> None:
    w = World(record=False)
    leg = w.phone_leg(w.rooms.worker_for("850"))
    w.rooms.join("850", leg, "callA", now=1.0)
    w.rooms.leave(leg)
    assert not [c for _, c in w.take() if isinstance(c, StartRecord | StopRecord)]
    assert w.events == []


def test_a_member_on_another_worker_joins_through_a_link() -> None:
    w = World()
    room_worker = w.rooms.worker_for("850")
    other = 1 - room_worker
    local = w.phone_leg(room_worker)
    remote = w.phone_leg(other)
    w.take()
    w.rooms.join("850", local, "callA", now=1.0)
    w.take()
    w.rooms.join("850", remote, "callB", now=2.0)
    sent = w.take()
    created = {c.leg: (wk, c.port) for wk, c in sent if isinstance(c, CreateLeg)}
    assert sorted(wk for wk, _ in created.values()) == sorted((room_worker, other))
    near = next(leg for leg, (wk, _) in created.items() if wk == other)
    far = next(leg for leg, (wk, _) in created.items() if wk == room_worker)
    # the two link legs send each other RTP on the media address, without RTP timeout
    configs = {c.leg: (wk, c) for wk, c in sent if isinstance(c, ConfigureLeg)}
    assert configs[near][0] == other and configs[far][0] == room_worker
    assert (configs[near][1].remote_ip, configs[near][1].remote_port) == (IP, created[far][1])
    assert (configs[far][1].remote_ip, configs[far][1].remote_port) == (IP, created[near][1])
    assert {configs[x][1].codec for x in (near, far)} == {LINK_CODEC}
    assert {(wk, c.leg) for wk, c in sent if isinstance(c, SetTimeout) and c.seconds == 0} == {
        (other, near), (room_worker, far)}
    # the phone's leg and the near leg are joined both ways on the phone's worker
    assert {(wk, c) for wk, c in sent if isinstance(c, Connect)} == {
        (other, Connect(remote, near)), (other, Connect(near, remote))}
    # the far leg is the member on the room's bus, and it (not the phone's leg) gets tones
    joins = [(wk, c.leg) for wk, c in sent if isinstance(c, JoinBus)]
    assert joins == [(room_worker, far)]
    tones = [(wk, c.leg) for wk, c in sent if isinstance(c, Play) and c.source == PlayTone("join")]
    assert tones == [(room_worker, local)]
    room = w.rooms.room("850")
    assert room is not None and room.in_bridge(remote) == far and room.in_bridge(local) == local
    assert w.rooms.room_of(remote) is room
    # muting the linked member mutes its far leg
    w.rooms.mute(remote, True)
    (mute,) = [c for _, c in w.take() if isinstance(c, JoinBus)]
    assert (mute.leg, mute.talk, mute.listen) == (far, False, True)
    # leaving takes the link down: edges, both legs, their ports
    in_use = w.plan.ports.in_use
    w.rooms.leave(remote)
    gone = w.take()
    assert (room_worker, LeaveBus(mute.bus, far)) in gone
    assert {(other, Disconnect(remote, near)), (other, Disconnect(near, remote))} <= set(gone)
    assert {(wk, c.leg) for wk, c in gone if isinstance(c, DestroyLeg)} == {
        (other, near), (room_worker, far)}
    assert w.plan.ports.in_use == in_use - 2
    assert near not in w.plan.leg_worker and far not in w.plan.leg_worker


def test_the_first_member_on_another_worker_opens_a_linked_room_that_is_recorded() -> None:
    w = World()
    room_worker = w.rooms.worker_for("850")
    remote = w.phone_leg(1 - room_worker)
    w.take()
    w.rooms.join("850", remote, "callA", now=1.0)
    sent = w.take()
    (far,) = [c.leg for wk, c in sent if isinstance(c, CreateLeg) and wk == room_worker]
    (rec,) = [(wk, c) for wk, c in sent if isinstance(c, StartRecord)]
    (join,) = [c for _, c in sent if isinstance(c, JoinBus)]
    assert rec[0] == room_worker and rec[1].bus == join.bus and join.leg == far
    w.rooms.leave(remote)
    gone = w.take()
    assert [c for _, c in gone if isinstance(c, StopRecord)] == [StopRecord(rec[1].rec_id)]
    assert w.rooms.room("850") is None and w.plan.ports.in_use == 1  # the phone's own leg


def test_no_ports_for_a_link_refuses_the_join_and_keeps_nothing() -> None:
    w = World(ports=(30000, 30005))  # three pairs: two phones, one link leg
    room_worker = w.rooms.worker_for("quiet")
    w.phone_leg(room_worker)
    remote = w.phone_leg(1 - room_worker)
    w.take()
    with pytest.raises(PortsExhausted):
        w.rooms.join("quiet", remote, "callB", now=1.0)
    sent = w.take()
    assert [type(c) for _, c in sent] == [CreateLeg, DestroyLeg]
    assert w.rooms.room("quiet") is None and w.rooms.room_of(remote) is None
    assert w.plan.ports.in_use == 2


# -- the audio itself: two media engines joined by the link's RTP, a fake clock -------------
SPF = 160
FREQS = {0: 500.0, 1: 1100.0, 2: 1900.0}  # by member


def sine(freq: float, seconds: float) -> npt.NDArray[np.int16]:
    k = np.arange(round(seconds * 8000))
    return np.rint(5000 * np.sin(2 * np.pi * freq * k / 8000)).astype(np.int16)


def tones_in(audio: npt.NDArray[np.int16]) -> set[float]:
    """The member tones clearly present in ``audio``."""
    spec = np.abs(np.fft.rfft(audio.astype(float) * np.hanning(len(audio))))
    hz = np.fft.rfftfreq(len(audio), 1 / 8000)
    peak = spec.max()
    return {f for f in FREQS.values() if spec[np.abs(hz - f) < 15].max() > 0.2 * peak}


class Rtp:
    """Two engines (one per worker) fed the plan's commands; datagrams to the media address
    go to the engine leg bound on that port, the rest reach fake phones."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.engines = [MediaEngine(ssrc_source=Ids(random.Random(i)).ssrc) for i in (1, 2)]
        self.port_of: dict[int, tuple[int, int]] = {}  # port -> (worker, leg)
        self.leg_port: dict[int, int] = {}
        self.heard: dict[tuple[str, int], list[bytes]] = {}
        self.recorded: list[npt.NDArray[np.int16]] = []
        self.t = 100.0

    def apply(self) -> None:
        for worker, cmd in self.w.take():
            if isinstance(cmd, CreateLeg):
                self.port_of[cmd.port] = (worker, cmd.leg)
                self.leg_port[cmd.leg] = cmd.port
            self.engines[worker].command(cmd, self.t)

    def step(self, phones: dict[int, tuple[int, npt.NDArray[np.int16]]], k: int) -> None:
        """10 ms: on even steps each phone (leg -> (worker, audio)) sends a frame."""
        if k % 2 == 0:
            for leg, (worker, audio) in phones.items():
                i = (k // 2) * SPF
                payload = ulaw_encode(audio[i:i + SPF]).tobytes()
                pkt = build_rtp(payload_type=0, sequence=k // 2, timestamp=i, ssrc=leg,
                                payload=payload)
                self.engines[worker].receive(leg, pkt, phone_addr(leg), self.t)
        for eng in self.engines:
            eng.tick(self.t)
        for eng in self.engines:
            for src_leg, data, dest in eng.outbox():
                if dest[0] == IP:
                    worker, leg = self.port_of[dest[1]]
                    self.engines[worker].receive(leg, data, (IP, self.leg_port[src_leg]),
                                                 self.t)
                else:
                    self.heard.setdefault(dest, []).append(data)
            for _, chunk in eng.recorded():
                if chunk is not None:
                    self.recorded.append(chunk)
        self.t = round(self.t + 0.01, 6)

    def audio_to(self, leg: int) -> npt.NDArray[np.int16]:
        pkts = [parse_rtp(d) for d in self.heard.get(phone_addr(leg), [])]
        return np.concatenate([ulaw_decode(p.payload) for p in pkts if p.payload_type == 0])


def phone_addr(leg: int) -> tuple[str, int]:
    return (f"10.0.0.{leg}", 4000 + 2 * leg)


def test_a_linked_member_hears_and_is_heard_and_recorded_across_workers() -> None:
    w = World()
    room_worker = w.rooms.worker_for("850")
    workers = [room_worker, room_worker, 1 - room_worker]  # member 2 is on the other worker
    legs = [w.phone_leg(wk) for wk in workers]
    rtp = Rtp(w)
    for leg, wk in zip(legs, workers, strict=True):
        ip, port = phone_addr(leg)
        w.plan.send(wk, ConfigureLeg(leg, ip, port, port + 1, "PCMU", 0, 101))
    rtp.apply()
    for i, leg in enumerate(legs):
        w.rooms.join("850", leg, f"call{i}", now=rtp.t)
    rtp.apply()
    seconds = 3.0
    phones = {leg: (wk, sine(FREQS[i], seconds + 0.1))
              for i, (leg, wk) in enumerate(zip(legs, workers, strict=True))}
    for k in range(round(seconds / 0.01)):
        rtp.step(phones, k)
    for leg in legs:
        w.rooms.leave(leg)
    rtp.apply()
    rtp.step({}, 1)
    skip = 25 * SPF  # jitter buffers filling, join tones
    for i, leg in enumerate(legs):
        heard = rtp.audio_to(leg)[skip:]
        assert len(heard) > 100 * SPF, i
        assert tones_in(heard) == {f for j, f in FREQS.items() if j != i}, i
    rec = np.concatenate(rtp.recorded)
    assert rec.shape[1] == 1 and len(rec) >= 140 * SPF
    assert tones_in(rec[skip:, 0]) == set(FREQS.values())
