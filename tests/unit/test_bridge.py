"""Bridges: the edges a bridge sends follow from its members' roles, and only the difference
is sent when they change."""

from __future__ import annotations

import pytest
from callworld import Hearing

from ccswitch.call.bridge import Bridge, BridgeError, Role
from ccswitch.call.rooms import JOIN_TONE, RoomFull, Rooms
from ccswitch.config.features import RoomConfig
from ccswitch.media.commands import (
    Command,
    Connect,
    LeaveBus,
    Play,
    PlayFile,
    PlayTone,
    StopPlay,
)


class Sink(Hearing):
    """The commands a bridge sends, and the mixer graph they build."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[int, Command]] = []

    def __call__(self, worker: int, cmd: Command) -> None:
        self.sent.append((worker, cmd))
        self.apply(cmd)


def two_party() -> tuple[Bridge, Sink]:
    sink = Sink()
    b = Bridge(bridge_id="x", worker=1, send=sink)
    b.join(1)
    b.join(2)
    return b, sink


def test_two_parties_are_a_pair_of_edges_on_the_bridge_worker() -> None:
    _, sink = two_party()
    assert sink.sent == [(1, Connect(1, 2)), (1, Connect(2, 1))]
    assert sink.hears(1) == {2} and sink.hears(2) == {1}


def test_listen_whisper_barge_change_only_the_supervisor_edges() -> None:
    b, sink = two_party()
    sink.sent.clear()
    b.join(3, Role.LISTEN)
    assert sink.hears(3) == {1, 2}
    assert sink.hears(1) == {2} and sink.hears(2) == {1}  # nobody hears the supervisor
    assert all(isinstance(c, Connect) and c.sink == 3 for _, c in sink.sent)
    b.join(3, Role.WHISPER, coach=2)
    assert sink.hears(2) == {1, 3} and sink.hears(1) == {2}  # the caller never hears it
    b.join(3, Role.PARTY)
    assert sink.hears(1) == {2, 3} and sink.hears(2) == {1, 3} and sink.hears(3) == {1, 2}
    b.join(3, Role.LISTEN)
    assert sink.hears(1) == {2} and sink.hears(2) == {1} and sink.hears(3) == {1, 2}


def test_a_whisper_needs_a_party_to_hear_it() -> None:
    b, _ = two_party()
    with pytest.raises(BridgeError):
        b.join(3, Role.WHISPER, coach=9)


def test_the_coach_leaving_turns_a_whisper_into_listening() -> None:
    b, sink = two_party()
    b.join(3, Role.WHISPER, coach=2)
    b.leave(2)
    assert b.role_of(3) is Role.LISTEN
    assert sink.hears(3) == {1} and sink.hears(1) == set()


def test_leaving_takes_down_every_edge_of_the_leg() -> None:
    b, sink = two_party()
    b.join(3, Role.PARTY)
    assert b.leave(3) and not b.leave(3)
    assert sink.hears(1) == {2} and sink.hears(2) == {1} and sink.hears(3) == set()
    b.dissolve()
    assert sink.graph.sources(1) == {} and sink.graph.sources(2) == {}


def test_a_conference_bridge_is_a_bus_and_muting_stops_talking_only() -> None:
    sink = Sink()
    b = Bridge(bridge_id="room", worker=0, send=sink, conference=True, bus=7)
    for leg in (1, 2, 3):
        b.join(leg)
    assert {leg: sink.hears(leg) for leg in (1, 2, 3)} == {1: {2, 3}, 2: {1, 3}, 3: {1, 2}}
    b.join(2, Role.MUTED)
    assert sink.hears(1) == {3} and sink.hears(2) == {1, 3}
    b.leave(3)
    assert sink.hears(1) == set() and sink.hears(2) == {1}
    assert (0, LeaveBus(7, 3)) in sink.sent


def rooms(max_members: int = 3) -> tuple[Rooms, Sink]:
    sink = Sink()
    ids = iter(range(100, 10_000))
    r = Rooms(settings={"850": RoomConfig("850", max_members=max_members)}, workers=2,
              send=sink, next_id=lambda: next(ids))
    return r, sink


def test_a_room_opens_with_its_first_member_and_closes_with_its_last() -> None:
    r, sink = rooms()
    r.join("850", 1, "c1", now=1.0)
    r.join("850", 2, "c2", now=1.0)
    room = r.room("850")
    assert room is not None and room.members == {1: "c1", 2: "c2"}
    assert {w for w, _ in sink.sent} == {r.worker_for("850")}
    assert sink.hears(1) == {2} and sink.hears(2) == {1}
    r.leave(1)
    r.leave(2)
    assert r.room("850") is None and r.room_of(1) is None


def test_members_hear_a_tone_when_someone_joins_or_leaves() -> None:
    r, sink = rooms()
    r.join("850", 1, "c1", now=1.0)
    sink.sent.clear()
    r.join("850", 2, "c2", now=1.0)
    plays = [c for _, c in sink.sent if isinstance(c, Play)]
    assert [p.leg for p in plays] == [1] and plays[0].mix
    assert plays[0].source == PlayTone(JOIN_TONE)
    sink.sent.clear()
    r.leave(2)
    assert [c.leg for _, c in sink.sent if isinstance(c, Play)] == [1]


def test_a_full_room_refuses_one_more() -> None:
    r, _ = rooms(max_members=2)
    r.join("850", 1, "c1", now=1.0)
    r.join("850", 2, "c2", now=1.0)
    with pytest.raises(RoomFull):
        r.join("850", 3, "c3", now=1.0)


def test_a_lone_member_hears_the_rooms_music_until_someone_joins() -> None:
    sink = Sink()
    ids = iter(range(100, 10_000))
    r = Rooms(settings={"850": RoomConfig("850", join_tones=False)}, workers=1, send=sink,
              next_id=lambda: next(ids), music={"850": "/m.wav"})
    r.join("850", 1, "c1", now=1.0)
    (play,) = [c for _, c in sink.sent if isinstance(c, Play)]
    assert play.leg == 1 and play.loop and play.source == PlayFile("/m.wav")
    sink.sent.clear()
    r.join("850", 2, "c2", now=1.0)
    assert [c for _, c in sink.sent if isinstance(c, StopPlay)] == [StopPlay(1, play.play_id)]
    assert not [c for _, c in sink.sent if isinstance(c, Play)]
    sink.sent.clear()
    r.leave(1)
    (again,) = [c for _, c in sink.sent if isinstance(c, Play)]
    assert again.leg == 2 and again.loop
    sink.sent.clear()
    r.leave(2)  # the last one out: its music went with its leg
    assert sink.sent == [] or all(not isinstance(c, Play) for _, c in sink.sent)
