"""Review findings on queue, callback and bridging calls, each pinned by a failing test
(each was marked ``xfail(strict=True)`` until its fix landed).  Driven the way
test_queue_calls.py drives the core, with the real router."""

from __future__ import annotations

import dataclasses

from sipphone import Phone, deliver
from test_anchor import offer
from test_queue_calls import MOH, QueueWorld

from ccswitch.acd.events import OfferFailed
from ccswitch.acd.model import Target
from ccswitch.call.anchor import CallMedia, MediaPlan
from ccswitch.call.events import CallAnswered, CallEnded
from ccswitch.media.commands import Digit, Play, PlayDone, PlayFile
from ccswitch.media.ports import PortPool
from ccswitch.sip.message import Request


def _agent_ringing(w: QueueWorld, agent: str = "2001") -> tuple[Request, object]:
    ok = w.dial()
    inv = w.invite_to(agent)
    w.agents[agent].reply(inv, 180, "Ringing", 1.5, to_tag="ag1")
    w.pump()
    return inv, ok


def test_agent_answering_after_the_caller_hung_up_is_hung_up() -> None:
    w = QueueWorld(("2001",))
    inv, ok = _agent_ringing(w)
    agent = w.agents["2001"]
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 2.0)  # type: ignore[arg-type]
    w.pump()
    assert agent.take("CANCEL").method == "CANCEL"
    ended = len(w.events)
    agent.reply(inv, 200, "OK", 2.1, to_tag="ag1", body=offer(6000))  # crossed our CANCEL
    w.pump()
    assert agent.take("ACK").method == "ACK"
    assert "BYE" in agent.methods()  # the agent must not stay in a call with nobody
    assert not [e for e in w.events[ended:] if isinstance(e, CallAnswered)]
    assert sum(isinstance(e, CallEnded) for e in w.events) == 1


def test_overflow_to_a_user_while_an_agent_rings_survives_the_agents_487() -> None:
    w = QueueWorld(("2001",))
    b2b = w.sig.b2bua
    b2b.queue_settings["support"] = dataclasses.replace(  # type: ignore[index]
        b2b.queue_settings["support"], on_timeout=Target("number", "user:1002"))
    inv, _ = _agent_ringing(w)
    moh = next(c for c in w.cmds if isinstance(c, Play) and c.source == MOH)
    w.sig.media_events([Digit(moh.leg, "0", "rfc4733")], 3.0)  # leave the queue
    w.pump()
    agent = w.agents["2001"]
    cancel = agent.take("CANCEL")
    assert w.b.requests("INVITE")  # the overflow target rings
    agent.reply(cancel, 200, "OK", 3.1)
    agent.reply(inv, 487, "Request Terminated", 3.1, to_tag="ag1")
    w.pump()
    assert agent.take("ACK").method == "ACK"


def _callback_dialled(w: QueueWorld, others: tuple[Phone, ...] = ()) -> Request:
    """Caller 1001 asks for a callback while 2001 is paused; 2001 comes back: the callback
    INVITE to the caller is returned (still unanswered)."""
    assert w.a.register(0.05).status == 200
    w.a.inbox.clear()
    agent = w.agents["2001"]
    agent.invite("*23", 0.5, call_id="f-9@127.0.0.1", body=offer(7000), phones=[agent])
    w.pump()
    agent.inbox.clear()
    w.dial(now=1.0)
    moh = next(c for c in w.cmds if isinstance(c, Play) and c.source == MOH)
    for _ in range(12):
        last = [c for c in w.cmds if isinstance(c, Play)][-1]
        if last.source == MOH and last is not moh:
            break
        w.sig.media_events([PlayDone(last.leg, last.play_id, "end")], 2.0)
        w.pump()
    w.sig.media_events([Digit(moh.leg, "1", "rfc4733")], 5.0)
    w.pump()
    confirm = [c for c in w.cmds if isinstance(c, Play) and isinstance(c.source, PlayFile)
               and c.source.path.endswith("callback-confirm.wav")]
    w.sig.media_events([PlayDone(confirm[0].leg, confirm[0].play_id, "end")], 9.0)
    w.pump()
    w.a.reply(w.a.requests("BYE")[-1], 200, "OK", 9.1)
    w.pump()
    w.a.inbox.clear()
    agent.invite("*24", 20.0, call_id="f-10@127.0.0.1", body=offer(7002),
                 phones=[agent, w.a, *others])
    w.pump()
    return w.a.take("INVITE")


def test_an_unanswered_callback_gives_up() -> None:
    w = QueueWorld(("2001",))
    back = _callback_dialled(w)
    w.a.reply(back, 180, "Ringing", 20.1, to_tag="cb")
    w.pump()
    w.at(20.0 + 900.0)
    assert "CANCEL" in w.a.methods()


def test_agent_logging_out_while_the_callback_rings_cancels_it() -> None:
    w = QueueWorld(("2001",))
    back = _callback_dialled(w)
    w.a.reply(back, 180, "Ringing", 20.1, to_tag="cb")
    w.pump()
    agent = w.agents["2001"]
    agent.invite("*22", 21.0, call_id="f-11@127.0.0.1", body=offer(7004), phones=[agent, w.a])
    w.pump()
    assert [e for e in w.events if isinstance(e, OfferFailed) and e.reason == "cancelled"]
    assert "CANCEL" in w.a.methods()


def test_shutdown_cancels_a_callback_being_dialled() -> None:
    w = QueueWorld(("2001",))
    back = _callback_dialled(w)
    w.a.reply(back, 180, "Ringing", 20.1, to_tag="cb")
    w.pump()
    w.sig.shutdown(21.0)
    w.pump()
    assert "CANCEL" in w.a.methods()
    assert w.plan.ports.in_use == 0


def test_a_second_contact_answering_the_callback_is_acked_and_hung_up() -> None:
    w = QueueWorld(("2001",))
    second = Phone(w.sig, "1001", 7011)
    assert second.register(0.04, call_id="reg-1001-b").status == 200
    second.inbox.clear()
    back = _callback_dialled(w, (second,))
    back2 = second.take("INVITE")
    second.reply(back2, 180, "Ringing", 20.5, to_tag="cb2")
    w.a.reply(back, 200, "OK", 21.0, to_tag="cb1", body=offer(4100))
    second.reply(back2, 200, "OK", 21.0, to_tag="cb2", body=offer(4200))  # crossed the CANCEL
    deliver(w.sig, [w.a, second, *w.agents.values()])
    assert "ACK" in w.a.methods()  # the first contact is the caller now
    assert "ACK" in second.methods() and "BYE" in second.methods()


def test_an_info_digit_0_leaves_the_queue_like_an_rfc4733_one() -> None:
    w = QueueWorld(("2001",))
    w.agents["2001"].invite("*23", 0.5, call_id="f-3@127.0.0.1", body=offer(7000),
                            phones=[w.agents["2001"]])  # nobody free: the caller waits
    w.pump()
    ok = w.dial(now=1.0)
    w.a.inbox.clear()
    w.a.send(w.a.in_dialog("INFO", ok, cseq=3, body="Signal=0\nDuration=160\n",
                           extra="Content-Type: application/dtmf-relay\n"), 3.0)
    w.pump()
    assert 200 in w.a.statuses()  # the INFO was taken
    assert "BYE" in w.a.methods()  # no timeout target: the caller is hung up


def test_a_dead_workers_legs_are_not_subtracted_twice() -> None:
    plan = MediaPlan(ports=PortPool(30000, 30099), workers=2, local_ip="127.0.0.9",
                     session_ids=lambda: 1)
    dead = CallMedia.create(plan, now=0.0)
    CallMedia.create(plan, now=0.0)  # on the other worker
    plan.forget_worker(dead.worker, [lm.leg for lm in dead.legs.values()])
    dead.close()  # the call ends
    workers = [CallMedia.create(plan, now=0.0).worker for _ in range(3)]
    # loads (0, 2) after the death: the next calls go 0, 0 (tie, lowest index), then 1
    assert workers.count(dead.worker) == 2
