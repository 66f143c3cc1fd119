"""Queue calls through the signaling core with the real router: a caller dialling 800 waits
with music, registered agents of support are offered the call one at a time, the one who
answers is bridged and recorded, unanswered offers move on, and every step is a queue event."""

from __future__ import annotations

import pytest
from sipphone import Phone, deliver
from test_anchor import World, media_of, offer

from ccswitch.acd.events import (
    AgentLoggedIn,
    AgentPaused,
    CallbackMade,
    CallbackRequested,
    CallCompleted,
    CallerAbandoned,
    CallerConnected,
    CallerEntered,
    CallerOffered,
    OfferFailed,
)
from ccswitch.call.crm import CallbackOffer, CrmLookup, CrmResult, OfferCard, ScreenPop
from ccswitch.call.eventlog import record_of
from ccswitch.call.events import CallEnded
from ccswitch.config.crm import CrmConfig, Template
from ccswitch.media.commands import (
    Connect,
    Digit,
    Play,
    PlayDone,
    PlayFile,
    StartRecord,
    StopPlay,
)
from ccswitch.sip.message import Request, Response

MOH = PlayFile("/p/moh/default.wav")


class QueueWorld(World):
    def __init__(self, agents: tuple[str, ...] = ("2001",)) -> None:
        super().__init__(ports=(30000, 30039))
        self.sig.b2bua.prompt_path = lambda name: f"/p/{name}.wav"
        self.agents = {a: Phone(self.sig, a, 7100 + i) for i, a in enumerate(agents)}
        for i, phone in enumerate(self.agents.values()):
            assert phone.register(0.1 + i * 0.01).status == 200
            phone.inbox.clear()
        self.events: list[object] = []
        self.cmds: list[object] = []

    def pump(self) -> None:
        deliver(self.sig, [self.a, self.b, *self.agents.values()])
        self.events += self.sig.events()
        self.cmds += [c for _, c in self.sig.media_commands()]

    def at(self, now: float) -> None:
        self.sig.handle_timer(now)
        self.pump()

    def dial(self, number: str = "800", now: float = 1.0) -> Response:
        self.a.invite(number, now, call_id="q-1@127.0.0.1", body=offer(4000),
                      phones=[self.b, *self.agents.values()])
        ok = self.a.last_response()
        assert ok.status == 200, ok
        self.a.send(self.a.in_dialog("ACK", ok, cseq=2), now + 0.01)
        self.pump()
        return ok

    def invite_to(self, agent: str) -> Request:
        return self.agents[agent].take("INVITE")

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events if type(e).__module__.endswith("events")
                and type(e).__module__.startswith("ccswitch.acd")]


def test_registered_agents_are_logged_in() -> None:
    w = QueueWorld(("2001", "2002"))
    w.pump()
    logins = [e for e in w.events if isinstance(e, AgentLoggedIn)]
    assert sorted(e.agent for e in logins) == ["2001", "2002"]


def test_caller_waits_with_music_and_the_agent_who_answers_is_bridged_and_recorded() -> None:
    w = QueueWorld()
    ok = w.dial()
    assert media_of(ok)[0] == "127.0.0.9"
    moh = [c for c in w.cmds if isinstance(c, Play) and c.source == MOH]
    assert len(moh) == 1 and moh[0].loop
    inv = w.invite_to("2001")
    assert media_of(inv)[0] == "127.0.0.9"
    assert inv.headers.get("call-info") is None  # demo agents are not auto-answer
    w.agents["2001"].reply(inv, 200, "OK", 3.0, to_tag="ag1", body=offer(6000))
    w.pump()
    assert StopPlay(moh[0].leg, moh[0].play_id) in w.cmds
    connects = [c for c in w.cmds if isinstance(c, Connect)]
    assert {c.src for c in connects} == {c.sink for c in connects} and len(connects) == 2
    (rec,) = [c for c in w.cmds if isinstance(c, StartRecord)]
    assert rec.legs[0] == moh[0].leg  # channel 1 is the caller
    w.agents["2001"].send(w.agents["2001"].in_dialog("BYE", inv, cseq=9, my_tag="ag1"), 30.0)
    w.pump()
    kinds = w.kinds()
    for kind in ("CallerEntered", "CallerOffered", "CallerConnected", "CallCompleted"):
        assert kind in kinds, kinds
    done = next(e for e in w.events if isinstance(e, CallCompleted))
    assert done.agent == "2001" and done.talk == 27.0
    connected = next(e for e in w.events if isinstance(e, CallerConnected))
    assert connected.wait == 2.0


def test_an_agent_who_does_not_answer_is_cancelled_and_the_next_one_is_offered() -> None:
    w = QueueWorld(("2001", "2002"))
    w.dial()
    first = next(a for a in ("2001", "2002") if w.agents[a].requests("INVITE"))
    other = "2002" if first == "2001" else "2001"
    inv = w.invite_to(first)
    w.agents[first].reply(inv, 180, "Ringing", 1.1, to_tag="x")
    w.pump()
    assert w.agents[other].requests("INVITE") == []
    w.at(1.0 + 20.1)  # the queue's ring timeout
    cancel = w.agents[first].take("CANCEL")
    w.agents[first].reply(cancel, 200, "OK", 21.2)
    w.agents[first].reply(inv, 487, "Request Terminated", 21.2, to_tag="x")
    w.pump()
    failed = [e for e in w.events if isinstance(e, OfferFailed)]
    assert [(e.agent, e.reason) for e in failed] == [(first, "noanswer")]
    assert w.invite_to(other).method == "INVITE"
    offered = [e.agent for e in w.events if isinstance(e, CallerOffered)]
    assert offered == [first, other]


def test_a_busy_agent_is_skipped_and_the_caller_who_hangs_up_abandons() -> None:
    w = QueueWorld(("2001",))
    ok = w.dial()
    inv = w.invite_to("2001")
    w.agents["2001"].reply(inv, 486, "Busy Here", 2.0, to_tag="b1")
    w.pump()
    assert [(e.agent, e.reason) for e in w.events if isinstance(e, OfferFailed)] == \
        [("2001", "busy")]
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 4.0)
    w.pump()
    (gone,) = [e for e in w.events if isinstance(e, CallerAbandoned)]
    entered = [e for e in w.events if isinstance(e, CallerEntered)]
    assert len(entered) == 1
    assert gone.call_id == entered[0].call_id and gone.wait == 3.0
    (cdr,) = [e for e in w.events if isinstance(e, CallEnded)]  # one id: CDR = queue log
    assert (cdr.call_id, cdr.sip_call_id) == (gone.call_id, "q-1@127.0.0.1")
    assert (cdr.queue, cdr.agent, cdr.ended_by) == ("support", None, "caller")


def test_feature_codes_pause_and_unpause_an_agent() -> None:
    w = QueueWorld(("2001",))
    agent = w.agents["2001"]
    agent.invite("*23lunch", 1.0, call_id="f-1@127.0.0.1", body=offer(7000), phones=[agent])
    assert agent.last_response().status == 200
    w.pump()
    paused = [e for e in w.events if isinstance(e, AgentPaused)]
    assert [(e.agent, e.reason) for e in paused] == [("2001", "lunch")]
    agent.inbox.clear()
    w.dial(now=2.0)
    assert agent.requests("INVITE") == []  # a paused agent is not offered calls
    agent.invite("*24", 3.0, call_id="f-2@127.0.0.1", body=offer(7002), phones=[agent])
    w.pump()
    invites = [r for r in agent.requests("INVITE") if r.call_id != "f-2@127.0.0.1"]
    assert len(invites) == 1 and media_of(invites[0])[0] == "127.0.0.9"


def test_a_waiting_caller_hears_please_hold_and_its_place_then_music_again() -> None:
    w = QueueWorld(("2001",))
    w.agents["2001"].invite("*23", 0.5, call_id="f-3@127.0.0.1", body=offer(7000),
                            phones=[w.agents["2001"]])  # nobody free: the caller waits
    w.pump()
    w.dial(now=1.0)
    plays = [c for c in w.cmds if isinstance(c, Play)]
    names = [p.source.path.rsplit("/p/", 1)[1] for p in plays
             if isinstance(p.source, PlayFile) and "/p/" in p.source.path]
    assert "please-hold.wav" in names, names
    first = next(p for p in plays if isinstance(p.source, PlayFile)
                 and p.source.path.endswith("please-hold.wav"))
    # each prompt ends, the next one plays; after the last, the music comes back
    for _ in range(10):
        current = [c for c in w.cmds if isinstance(c, Play)][-1]
        if current.source == MOH and current is not first:
            break
        w.sig.media_events([PlayDone(current.leg, current.play_id, "end")], 2.0)
        w.pump()
    spoken = [p.source.path.rsplit("/p/", 1)[1] for p in w.cmds
              if isinstance(p, Play) and isinstance(p.source, PlayFile)]
    assert spoken[-1] == "moh/default.wav"
    assert "you-are-caller.wav" in spoken and "digits/1.wav" in spoken, spoken


def _virtual_hold(w: QueueWorld) -> Response:
    """1001 waits (its agent 2001 paused), presses 1 for a callback and is hung up on."""
    assert w.a.register(0.05).status == 200  # the caller can be called back
    w.a.inbox.clear()
    agent = w.agents["2001"]
    agent.invite("*23", 0.5, call_id="f-9@127.0.0.1", body=offer(7000), phones=[agent])
    w.pump()
    agent.inbox.clear()
    ok = w.dial(now=1.0)  # nobody free: the caller waits
    moh = next(c for c in w.cmds if isinstance(c, Play) and c.source == MOH)
    for _ in range(12):  # the entry announcement, prompt by prompt
        last = [c for c in w.cmds if isinstance(c, Play)][-1]
        if last.source == MOH and last is not moh:
            break
        w.sig.media_events([PlayDone(last.leg, last.play_id, "end")], 2.0)
        w.pump()
    said = [c.source.path for c in w.cmds if isinstance(c, Play)
            and isinstance(c.source, PlayFile)]
    assert any(p.endswith("callback-offer.wav") for p in said), said
    w.sig.media_events([Digit(moh.leg, "1", "rfc4733")], 5.0)  # "call me back"
    w.pump()
    assert [e for e in w.events if isinstance(e, CallbackRequested)]
    confirm = [c for c in w.cmds if isinstance(c, Play) and isinstance(c.source, PlayFile)
               and c.source.path.endswith("callback-confirm.wav")]
    assert len(confirm) == 1
    w.sig.media_events([PlayDone(confirm[0].leg, confirm[0].play_id, "end")], 9.0)
    w.pump()
    assert w.a.methods()[-1] == "BYE"  # the switch hangs up after the confirmation
    w.a.reply(w.a.requests("BYE")[-1], 200, "OK", 9.1)
    w.pump()
    return ok


def _call_back(w: QueueWorld) -> Request:
    """2001 comes back at 20: 1001 is called back and answers at 21; the INVITE to 2001."""
    agent = w.agents["2001"]
    agent.invite("*24", 20.0, call_id="f-10@127.0.0.1", body=offer(7002), phones=[agent, w.a])
    w.pump()
    assert [e for e in w.events if isinstance(e, CallbackMade)]
    back = w.a.take("INVITE")
    assert media_of(back)[0] == "127.0.0.9" and back.to.uri.user == "1001"
    w.a.reply(back, 200, "OK", 21.0, to_tag="cb", body=offer(4100))
    w.pump()
    assert w.a.take("ACK").cseq.method == "ACK"
    offer_inv = [r for r in agent.requests("INVITE") if r.call_id not in
                 ("f-9@127.0.0.1", "f-10@127.0.0.1")]
    assert len(offer_inv) == 1 and offer_inv[0].to.uri.user == "2001"
    return offer_inv[0]


def test_virtual_hold_keeps_the_place_and_calls_the_caller_back_with_the_agent() -> None:
    w = QueueWorld(("2001",))
    ok = _virtual_hold(w)
    assert not [e for e in w.events if isinstance(e, CallerAbandoned)]  # its place is kept
    # the agent comes back: the caller is called back, then bridged to the reserved agent
    invite = _call_back(w)
    agent = w.agents["2001"]
    agent.reply(invite, 200, "OK", 22.0, to_tag="ag", body=offer(6100))
    w.pump()
    connected = [e for e in w.events if isinstance(e, CallerConnected)]
    assert len(connected) == 1 and connected[0].agent == "2001"
    assert ok.status == 200


def test_the_agent_rung_for_a_callback_gets_the_card_with_the_crm_record() -> None:
    w = QueueWorld(("2001",))
    sig = w.sig
    sig.screenpop = ScreenPop(
        crm=CrmConfig(url=Template.parse("http://crm.test/l?c={caller}")),
        scripts={"support": Template.parse("Call back {caller} ({dialled})")},
        find=sig.b2bua._calls.get)
    _virtual_hold(w)
    (entered,) = [e for e in w.events if isinstance(e, CallerEntered)]
    key = entered.call_id
    assert [e.call_id for e in w.events if isinstance(e, CrmLookup)] == [key]
    # the CRM answers while the caller is away (its first call has ended)
    sig.crm_result(key, {"name": "Ann", "tier": 3}, "ok", 12.0)
    w.pump()
    assert [e.crm for e in w.events if isinstance(e, CrmResult)] == [{"name": "Ann", "tier": 3}]
    _call_back(w)
    (card,) = [e for e in w.events if isinstance(e, OfferCard)]
    assert (card.call_id, card.queue, card.agent, card.caller) == (key, "support", "2001",
                                                                  "1001")
    assert card.dialled == "800"  # what the caller dialled, not the callback's own leg
    assert (card.crm, card.crm_status) == ({"name": "Ann", "tier": 3}, "ok")
    assert card.script == "Call back 1001 (800)"
    # entered at 1.0 (the INVITE), rung for the callback at 21.0 (its answer): 20 s waited
    assert card.wait_s == pytest.approx(20.0, abs=0.02)
    # the stream carries it as queue.caller_offered for the agent; the marker is not streamed
    recs = [record_of(e, now=21.0, wall_offset=0.0) for e in w.events]
    offered = [r for r in recs if r is not None and r.type == "queue.caller_offered"]
    assert [(r.call_id, r.agent) for r in offered] == [(key, "2001")]
    assert not [e for e in w.events if isinstance(e, CallbackOffer)]


def test_an_agent_answering_as_the_ring_timeout_cancels_it_is_hung_up() -> None:
    w = QueueWorld(("2001", "2002"))
    w.dial()
    first = next(a for a in ("2001", "2002") if w.agents[a].requests("INVITE"))
    inv = w.invite_to(first)
    w.agents[first].reply(inv, 180, "Ringing", 1.1, to_tag="x")
    w.pump()
    w.at(1.0 + 20.1)  # ring timeout: CANCEL sent, the other agent is offered
    w.agents[first].take("CANCEL")
    w.agents[first].reply(inv, 200, "OK", 21.2, to_tag="x", body=offer(6000))  # too late
    w.pump()
    assert w.agents[first].take("ACK").cseq.method == "ACK"
    assert "BYE" in w.agents[first].methods()  # not bridged
    other = "2002" if first == "2001" else "2001"
    inv2 = w.invite_to(other)
    w.agents[other].reply(inv2, 200, "OK", 22.0, to_tag="y", body=offer(6002))
    w.pump()
    connected = [e for e in w.events if isinstance(e, CallerConnected)]
    assert [e.agent for e in connected] == [other]
