"""Conference rooms through the signaling core: callers dialling 850 join one mixing bus, each
hearing every other member and not itself (the hearing relation rebuilt from the JoinBus and
Connect commands sent to the media workers), join and leave tones, the last one out closes the
room; room 851 asks for its PIN (RFC 4733 digits from the media worker); a full room refuses."""

from __future__ import annotations

import dataclasses

from callworld import Switch, demo_config

from ccswitch.call.events import CallEnded, RecordingStarted
from ccswitch.call.rooms import JOIN_TONE, LEAVE_TONE
from ccswitch.config.schema import SwitchConfig
from ccswitch.media.commands import (
    CreateLeg,
    Digit,
    JoinBus,
    LeaveBus,
    Play,
    PlayDone,
    PlayFile,
    PlayTone,
    StartRecord,
    StopRecord,
    WorkerDied,
)
from ccswitch.sip.message import Response

USERS = ("1001", "1002", "1003", "1004")


def join(w: Switch, user: str, room: str, now: float) -> tuple[Response, int]:
    ok = w.answered(user, room, now, call_id=f"{room}-{user}", port=4000 + 10 * int(user[-2:]))
    return ok, w.leg_of(ok)


def hang_up(w: Switch, user: str, ok: Response, now: float) -> None:
    p = w[user]
    p.send(p.in_dialog("BYE", ok, cseq=3), now)
    w.pump()
    assert [r.status for r in p.responses() if r.cseq.method == "BYE"][-1:] == [200]


def tones(w: Switch, mark: int, name: str) -> list[int]:
    return sorted(c.leg for c in w.since(mark, Play) if isinstance(c, Play)
                  and c.source == PlayTone(name) and c.mix)


def last_play(w: Switch, leg: int) -> Play:
    plays = [c for c in w.commands(Play) if isinstance(c, Play) and c.leg == leg]
    assert plays, f"nothing played on leg {leg}"
    return plays[-1]


def prompt(play: Play) -> str:
    assert isinstance(play.source, PlayFile), play
    return play.source.path.removeprefix("/p/").removesuffix(".wav")


def finish(w: Switch, leg: int, now: float) -> str:
    """The prompt playing on ``leg`` ends; returns its name."""
    play = last_play(w, leg)
    w.sig.media_events([PlayDone(leg, play.play_id, "end")], now)
    w.pump()
    return prompt(play)


def keys(w: Switch, leg: int, digits: str, now: float) -> None:
    for i, k in enumerate(digits):
        w.sig.media_events([Digit(leg, k, "rfc4733")], now + i * 0.1)
        w.pump()


def test_members_hear_each_other_and_not_themselves_with_join_and_leave_tones() -> None:
    w = Switch(USERS)
    legs: dict[str, int] = {}
    oks: dict[str, Response] = {}
    for i, user in enumerate(USERS[:3]):
        mark = w.mark()
        oks[user], legs[user] = join(w, user, "850", 1.0 + i)
        (jb,) = [c for c in w.since(mark, JoinBus) if isinstance(c, JoinBus)]
        assert (jb.leg, jb.talk, jb.listen) == (legs[user], True, True)
        # the members already in hear the join tone; the newcomer does not
        assert tones(w, mark, JOIN_TONE) == sorted(legs[u] for u in USERS[:i])
    buses = {c.bus for c in w.commands(JoinBus) if isinstance(c, JoinBus)}
    assert len(buses) == 1
    for user, leg in legs.items():
        assert w.hearing.hears(leg) == {v for u, v in legs.items() if u != user}
    mark = w.mark()
    hang_up(w, "1002", oks["1002"], 10.0)
    assert LeaveBus(buses.pop(), legs["1002"]) in w.since(mark)
    assert tones(w, mark, LEAVE_TONE) == sorted((legs["1001"], legs["1003"]))
    assert w.hearing.hears(legs["1001"]) == {legs["1003"]}
    assert w.hearing.hears(legs["1003"]) == {legs["1001"]}
    assert w["1001"].requests("BYE") == [] and w["1003"].requests("BYE") == []


def test_the_last_member_to_leave_closes_the_room_and_the_next_caller_opens_a_new_one() -> None:
    w = Switch(USERS)
    rooms = w.sig.b2bua.rooms
    ok1, _leg1 = join(w, "1001", "850", 1.0)
    ok2, _leg2 = join(w, "1002", "850", 2.0)
    assert rooms.room("850") is not None
    hang_up(w, "1001", ok1, 5.0)
    assert rooms.room("850") is not None
    mark = w.mark()
    hang_up(w, "1002", ok2, 6.0)
    assert rooms.room("850") is None
    assert tones(w, mark, LEAVE_TONE) == []  # nobody left to hear it
    assert [c for c in w.since(mark, LeaveBus)] != []
    old_bus = {c.bus for c in w.commands(JoinBus) if isinstance(c, JoinBus)}
    mark = w.mark()
    _, leg3 = join(w, "1003", "850", 7.0)
    (jb,) = [c for c in w.since(mark, JoinBus) if isinstance(c, JoinBus)]
    assert jb.bus not in old_bus and w.hearing.hears(leg3) == set()
    ended = [e for e in w.events if isinstance(e, CallEnded)]
    assert sorted(e.sip_call_id for e in ended) == ["850-1001", "850-1002"]


def test_the_pin_room_asks_for_the_pin_and_lets_the_right_one_in() -> None:
    w = Switch(USERS)
    _, leg1 = join(w, "1001", "850", 0.5)  # someone in another room: not heard
    _, leg = join(w, "1002", "851", 1.0)
    assert prompt(last_play(w, leg)) == "enter-pin"
    assert not [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]
    keys(w, leg, "1234", 2.0)  # wrong: the prompt stops, "wrong PIN", asked again
    assert finish(w, leg, 3.0) == "wrong-pin"
    assert prompt(last_play(w, leg)) == "enter-pin"
    assert not [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]
    keys(w, leg, "4321", 4.0)
    (jb,) = [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]
    assert jb.talk and jb.listen
    _, leg3 = join(w, "1003", "851", 5.0)
    keys(w, leg3, "4321", 6.0)
    assert w.hearing.hears(leg) == {leg3} and w.hearing.hears(leg3) == {leg}
    assert leg1 not in w.hearing.hears(leg)
    assert w["1002"].requests("BYE") == []


def test_three_wrong_pins_say_goodbye_and_hang_up() -> None:
    w = Switch(USERS)
    _, leg = join(w, "1002", "851", 1.0)
    for i in range(3):
        assert prompt(last_play(w, leg)) == "enter-pin"
        keys(w, leg, "0000", 2.0 + i)
        assert finish(w, leg, 2.5 + i) == "wrong-pin"
    assert prompt(last_play(w, leg)) == "goodbye"
    assert w["1002"].requests("BYE") == []
    finish(w, leg, 10.0)
    (bye,) = w["1002"].requests("BYE")
    assert bye.call_id == "851-1002"
    assert not [c for c in w.commands(JoinBus) if isinstance(c, JoinBus)]
    (cdr,) = [e for e in w.events if isinstance(e, CallEnded)]
    assert cdr.ended_by == "switch"


def test_a_pin_room_that_hears_no_digit_asks_again() -> None:
    w = Switch(USERS)
    _, leg = join(w, "1002", "851", 1.0)
    assert finish(w, leg, 2.0) == "enter-pin"
    w.run_until(2.0 + 10.5)  # no key within the PIN timeout
    assert prompt(last_play(w, leg)) == "wrong-pin"


def small_rooms(cfg: SwitchConfig) -> SwitchConfig:
    rooms = dict(cfg.rooms)
    rooms["850"] = dataclasses.replace(rooms["850"], max_members=2)
    return dataclasses.replace(cfg, rooms=rooms)


def test_a_full_room_tells_the_caller_and_hangs_up() -> None:
    w = Switch(USERS, config=demo_config(small_rooms))
    _, leg1 = join(w, "1001", "850", 1.0)
    _, leg2 = join(w, "1002", "850", 2.0)
    mark = w.mark()
    _, leg3 = join(w, "1003", "850", 3.0)
    assert not [c for c in w.since(mark, JoinBus)]
    assert tones(w, mark, JOIN_TONE) == []
    assert prompt(last_play(w, leg3)) == "conference-full"
    finish(w, leg3, 4.0)
    assert len(w["1003"].requests("BYE")) == 1
    assert w.hearing.hears(leg1) == {leg2} and leg3 not in w.hearing.hears(leg2)
    assert w["1001"].requests("BYE") == [] and w["1002"].requests("BYE") == []


def test_a_room_call_can_be_transferred_into_a_room() -> None:
    """A blind transfer to 850: the caller joins the room's members."""
    w = Switch(USERS)
    _, leg1 = join(w, "1001", "850", 1.0)
    ok, inv = w.call("1003", "1004", 2.0, call_id="x1", a_port=4500, b_port=6500)
    caller_leg = w.leg_of(ok)
    p = w["1004"]
    p.send(p.in_dialog("REFER", inv, cseq=1, my_tag="bt",
                       extra="Refer-To: <sip:850@ccswitch.local>\n"), 5.0)
    w.pump()
    assert [r.status for r in p.responses() if r.cseq.method == "REFER"] == [202]
    assert w.hearing.hears(leg1) == {caller_leg} and w.hearing.hears(caller_leg) == {leg1}
    sipfrags = [n.body.decode().split("\r\n")[0] for n in p.requests("NOTIFY")]
    assert "SIP/2.0 200 OK" in sipfrags



def test_a_recorded_room_is_one_recording_named_by_every_members_cdr() -> None:
    w = Switch(USERS)  # the demo records 850
    oks = {u: join(w, u, "850", 1.0 + i)[0] for i, u in enumerate(USERS[:3])}
    starts = [c for c in w.commands(StartRecord) if isinstance(c, StartRecord)]
    (start,) = starts
    bus = {c.bus for c in w.commands(JoinBus) if isinstance(c, JoinBus)}
    assert start.legs == () and {start.bus} == bus
    (rs,) = [e for e in w.events if isinstance(e, RecordingStarted)]
    assert rs.path == start.path and rs.call_id.startswith("room-850-")
    for i, u in enumerate(USERS[:3]):
        mark = w.mark()
        hang_up(w, u, oks[u], 10.0 + i)
        stops = [c for c in w.since(mark) if isinstance(c, StopRecord)]
        assert stops == ([StopRecord(start.rec_id)] if i == 2 else [])
    cdrs = [e for e in w.events if isinstance(e, CallEnded)]
    assert len(cdrs) == 3 and {e.recording for e in cdrs} == {start.path}
    # the first member's call id names the session (and the file)
    assert rs.call_id == f"room-850-{cdrs[0].call_id}"


def test_room_851_is_not_recorded() -> None:
    w = Switch(USERS)
    _, leg = join(w, "1002", "851", 1.0)
    keys(w, leg, "4321", 2.0)
    assert [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]
    assert not w.commands(StartRecord)


def test_a_call_on_another_worker_is_transferred_into_the_room_through_a_link() -> None:
    w = Switch(USERS, workers=2)
    rooms = w.sig.b2bua.rooms
    room_worker = rooms.worker_for("850")
    _, leg1 = join(w, "1001", "850", 1.0)
    assert w.plan.leg_worker[leg1] == room_worker
    ok, inv = w.call("1003", "1004", 2.0, call_id="x1", a_port=4500, b_port=6500)
    caller_leg = w.leg_of(ok)
    assert w.plan.leg_worker[caller_leg] != room_worker  # the least loaded worker
    p = w["1004"]
    mark = w.mark()
    p.send(p.in_dialog("REFER", inv, cseq=1, my_tag="bt",
                       extra="Refer-To: <sip:850@ccswitch.local>\n"), 5.0)
    w.pump()
    assert [r.status for r in p.responses() if r.cseq.method == "REFER"] == [202]
    sipfrags = [n.body.decode().split("\r\n")[0] for n in p.requests("NOTIFY")]
    assert "SIP/2.0 200 OK" in sipfrags
    room = rooms.room("850")
    assert room is not None and caller_leg in room.links
    link = room.links[caller_leg]
    near, far = link.near.leg, link.far.leg
    assert (w.plan.leg_worker[near], w.plan.leg_worker[far]) == (
        w.plan.leg_worker[caller_leg], room_worker)
    # caller <-> near on the caller's worker, far <-> the room's members on the room's bus
    assert w.hearing.hears(caller_leg) == {near} and w.hearing.hears(near) == {caller_leg}
    assert w.hearing.hears(leg1) == {far} and w.hearing.hears(far) == {leg1}
    created = {c.leg for c in w.since(mark, CreateLeg) if isinstance(c, CreateLeg)}
    assert created == {near, far}
    # the caller hangs up: the link goes with it (both legs destroyed, ports back)
    in_use = w.plan.ports.in_use
    caller = w["1003"]
    caller.send(caller.in_dialog("BYE", ok, cseq=3), 9.0)
    w.pump()
    assert {near, far}.isdisjoint(w.hearing.legs)
    assert w.plan.ports.in_use <= in_use - 3  # the caller's leg and both link legs
    assert rooms.room("850") is not None and w.hearing.hears(leg1) == set()


def test_a_linked_member_whose_room_worker_dies_is_hung_up() -> None:
    """The room's worker dies: its own members' calls end, and so does the call that reached
    the room through a link (nobody is left in a dead room hearing silence)."""
    w = Switch(USERS, workers=2)
    rooms = w.sig.b2bua.rooms
    room_worker = rooms.worker_for("850")
    _, leg1 = join(w, "1001", "850", 1.0)
    ok, inv = w.call("1003", "1004", 2.0, call_id="x1", a_port=4500, b_port=6500)
    caller_leg = w.leg_of(ok)
    p = w["1004"]
    p.send(p.in_dialog("REFER", inv, cseq=1, my_tag="bt",
                       extra="Refer-To: <sip:850@ccswitch.local>\n"), 5.0)
    w.pump()
    room = rooms.room("850")
    assert room is not None and caller_leg in room.links
    far = room.links[caller_leg].far.leg
    assert rooms.linked_call(far) is not None
    dead = tuple(leg for leg, wk in w.plan.leg_worker.items() if wk == room_worker)
    assert leg1 in dead and far in dead and caller_leg not in dead
    w.sig.media_events([WorkerDied(room_worker, dead)], 8.0)
    w.pump()
    assert len(w["1001"].requests("BYE")) == 1
    assert len(w["1003"].requests("BYE")) == 1  # the linked member too
    assert rooms.room("850") is None and rooms.linked_call(far) is None
    lost = {e.sip_call_id: e.ended_by for e in w.ended()}
    assert lost["x1"] == "media" and lost["850-1001"] == "media"
