"""Supervision through the signaling core: supervisor 1020 dials *31/*32/*33 + an agent's
extension while the agent talks (a queue call or a direct call) and its leg joins that call's
bridge; keys 4, 5 and 6 switch between listen, whisper and barge; who hears whom is rebuilt
from the Connect/Disconnect commands sent to the media worker."""

from __future__ import annotations

from callworld import Switch, offer

from ccswitch.call.commands import Transfer
from ccswitch.call.events import CallEnded
from ccswitch.media.commands import (
    Connect,
    Digit,
    Disconnect,
    Play,
    PlayFile,
    StartRecord,
    StopRecord,
)
from ccswitch.sip.message import Response

USERS = ("1001", "1002", "1020", "2001", "2002")


class Supervised:
    """1001 talks to agent 2001 through queue 800 (or directly), 1020 supervises."""

    def __init__(self, *, direct: bool = False, agent_calls: bool = False) -> None:
        w = self.w = Switch(USERS)
        if direct and agent_calls:  # the agent is the caller
            self.ok, self.inv = w.call("2001", "1001", 1.0, call_id="c1", tag="ct")
            self.caller_leg, self.agent_leg = w.leg_of(self.inv), w.leg_of(self.ok)
        elif direct:
            self.ok, self.inv = w.call("1001", "2001", 1.0, call_id="c1", tag="ag")
            self.caller_leg, self.agent_leg = w.leg_of(self.ok), w.leg_of(self.inv)
        else:
            w["2002"].invite("*23", 0.5, call_id="p1", body=offer(7000), phones=[w["2002"]])
            w.pump()  # 2002 is paused: the call goes to 2001
            self.ok = w.answered("1001", "800", 1.0, call_id="c1")
            self.inv = w.answer("2001", 3.0, tag="ag", port=6200)
            assert w["2001"].take("ACK").method == "ACK"
            self.caller_leg, self.agent_leg = w.leg_of(self.ok), w.leg_of(self.inv)
        assert w.hearing.hears(self.caller_leg) == {self.agent_leg}

    def dial(self, code: str, now: float = 5.0, user: str = "1020") -> Response:
        w = self.w
        w.dial(user, code, now, call_id=f"s-{code}", port=4900)
        return w[user].last_response()

    def supervise(self, code: str = "*312001", now: float = 5.0) -> tuple[Response, int]:
        ok = self.dial(code, now)
        assert ok.status == 200, ok
        self.w.ack("1020", ok, now + 0.01)
        return ok, self.w.leg_of(ok)

    def key(self, leg: int, k: str, now: float) -> None:
        self.w.sig.media_events([Digit(leg, k, "rfc4733")], now)
        self.w.pump()


def edges_from(w: Switch, mark: int, leg: int) -> list[Connect]:
    return [c for c in w.since(mark, Connect) if isinstance(c, Connect) and c.src == leg]


def test_listen_hears_both_parties_and_nobody_hears_the_supervisor() -> None:
    s = Supervised()
    w = s.w
    mark = w.mark()
    _, sup = s.supervise()
    new = {(c.src, c.sink) for c in w.since(mark, Connect) if isinstance(c, Connect)}
    assert new == {(s.caller_leg, sup), (s.agent_leg, sup)}  # listen edges only
    assert not w.since(mark, Disconnect)
    assert w.hearing.hears(sup) == {s.caller_leg, s.agent_leg}
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg}


def test_keys_switch_between_whisper_barge_and_listen_and_the_caller_never_hears_a_whisper(
) -> None:
    s = Supervised()
    w = s.w
    _, sup = s.supervise()
    s.key(sup, "5", 6.0)  # whisper: the agent hears the supervisor, the caller does not
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg, sup}
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}
    assert w.hearing.hears(sup) == {s.caller_leg, s.agent_leg}
    s.key(sup, "6", 7.0)  # barge: all three
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg, sup}
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg, sup}
    s.key(sup, "4", 8.0)  # listen again
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg}
    assert w.hearing.hears(sup) == {s.caller_leg, s.agent_leg}
    s.key(sup, "9", 9.0)  # not a mode key: nothing changes
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}


def test_whisper_and_barge_codes_start_in_their_mode() -> None:
    s = Supervised()
    _, sup = s.supervise("*322001")
    assert s.w.hearing.hears(s.agent_leg) == {s.caller_leg, sup}
    assert s.w.hearing.hears(s.caller_leg) == {s.agent_leg}
    s2 = Supervised()
    _, sup2 = s2.supervise("*332001")
    assert s2.w.hearing.hears(s2.caller_leg) == {s2.agent_leg, sup2}


def test_the_supervisor_is_hung_up_when_the_agents_call_ends() -> None:
    s = Supervised()
    w = s.w
    s.supervise()
    p = w["1001"]
    p.send(p.in_dialog("BYE", s.ok, cseq=3), 20.0)
    w.pump()
    byes = w["1020"].requests("BYE")
    assert byes and byes[0].call_id == "s-*312001"
    assert {e.sip_call_id for e in w.ended()} == {"c1", "s-*312001"}


def test_the_supervisor_hanging_up_leaves_the_call_untouched() -> None:
    s = Supervised()
    w = s.w
    ok, sup = s.supervise()
    s.key(sup, "6", 6.0)  # even after a barge
    recs = [c for c in w.commands(StartRecord) if isinstance(c, StartRecord)]
    assert len(recs) == 1  # queue support records its calls
    mark = w.mark()
    p = w["1020"]
    p.send(p.in_dialog("BYE", ok, cseq=3), 10.0)
    w.pump()
    parties = {s.caller_leg, s.agent_leg}
    for c in w.since(mark):
        if isinstance(c, Connect | Disconnect):
            assert not {c.src, c.sink} <= parties, c
        assert not isinstance(c, StartRecord | StopRecord), c
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg}
    assert w["1001"].requests("BYE") == [] and w["2001"].requests("BYE") == []
    assert [e.sip_call_id for e in w.ended()] == ["s-*312001"]


def test_a_direct_call_of_the_agent_can_be_supervised_either_way() -> None:
    for agent_calls in (False, True):
        s = Supervised(direct=True, agent_calls=agent_calls)
        _, sup = s.supervise("*322001")
        # whisper goes to the agent's leg, whichever side of the call it is on
        assert s.w.hearing.hears(s.agent_leg) == {s.caller_leg, sup}
        assert s.w.hearing.hears(s.caller_leg) == {s.agent_leg}


def test_somebody_who_is_not_a_supervisor_gets_403() -> None:
    s = Supervised()
    resp = s.dial("*312001", user="1002")
    assert resp.status == 403
    assert s.w.hearing.hears(s.agent_leg) == {s.caller_leg}
    (cdr,) = [e for e in s.w.ended() if isinstance(e, CallEnded)]
    assert cdr.status == 403


def test_an_agent_not_on_a_call_is_nobody_to_supervise() -> None:
    s = Supervised()
    resp = s.dial("*312002")  # 2002 is idle (paused)
    assert resp.status == 200
    said = [c.source.path for c in s.w.commands(Play) if isinstance(c, Play)
            and isinstance(c.source, PlayFile)]
    assert said[-1] == "/p/nobody-to-supervise.wav"
    assert s.w.hearing.hears(s.agent_leg) == {s.caller_leg}



def test_whisper_after_the_agent_transferred_the_call_away_is_listening() -> None:
    s = Supervised(direct=True)
    _, sup = s.supervise("*322001")
    cid = next(c.key for c in s.w.sig.b2bua._calls.values() if c.supervising is None)
    s.w.sig.command(Transfer(cid, "1002"), 6.0)  # the agent's leg leaves the bridge
    s.w.pump()
    s.key(sup, "5", 7.0)  # whisper to whom? nobody: the supervisor listens
    assert s.w.hearing.hears(sup) == {s.caller_leg}
    assert s.w.hearing.hears(s.caller_leg) == set()
