"""Every leg of a call and its transfer chain in its CDR (``call/legrecord.py``), through the
signaling core on a fake clock: a ring-all queue offers the call to two agents, one answers,
then blind-transfers it to a third phone, which then transfers it (attended) to a fourth."""

from __future__ import annotations

from callworld import Switch, offer
from sipphone import DEMO
from test_transfer_calls import bye, notifies, ok_byes, refer

from ccswitch.call.events import CallEnded, TransferStep
from ccswitch.config.schema import SwitchConfig, parse_config


def ring_all_config() -> SwitchConfig:
    text = DEMO.read_text().replace('[queues.support]\nstrategy = "longest_idle"',
                                    '[queues.support]\nstrategy = "ring_all"')
    assert 'strategy = "ring_all"' in text
    return parse_config(text, "demo.toml")


def scenario() -> tuple[Switch, list[CallEnded]]:
    w = Switch(("1001", "2001", "2002", "1003", "1004"), config=ring_all_config())
    ok = w.answered("1001", "800", 1.0, call_id="q1")  # the queue answers at 1.0
    invs = {u: w[u].take("INVITE") for u in ("2001", "2002")}
    for user, tag in (("2001", "ag1"), ("2002", "ag2")):
        w[user].reply(invs[user], 180, "Ringing", 1.5, to_tag=tag)
    w.pump()
    w["2002"].reply(invs["2002"], 200, "OK", 3.0, to_tag="ag2", body=offer(6200))
    w.pump()
    assert w["2002"].take("ACK").method == "ACK"
    w["2001"].reply(w["2001"].take("CANCEL"), 200, "OK", 3.2)
    w["2001"].reply(invs["2001"], 487, "Request Terminated", 3.2, to_tag="ag1")
    w.pump()
    # 2002 refers the caller to 1003 (blind) at 10.0; 1003 answers at 12.0
    assert refer(w, "2002", invs["2002"], 10.0, cseq=1, my_tag="ag2",
                 refer_to="<sip:1003@ccswitch.local>").status == 202
    inv3 = w["1003"].take("INVITE")
    w["1003"].reply(inv3, 200, "OK", 12.0, to_tag="t3", body=offer(6300))
    w.pump()
    notifies(w, "2002", 12.1)
    assert bye(w, "2002", invs["2002"], 12.5, cseq=2, my_tag="ag2").status == 200
    # 1003 consults 1004 (answered at 21.0) and refers the caller to it at 25.0
    consult_ok, _ = w.call("1003", "1004", 20.0, call_id="k1", tag="k4",
                           a_port=4400, b_port=6400)
    replaces = f"k1%3Bto-tag%3D{consult_ok.to.tag}%3Bfrom-tag%3Dft"
    assert refer(w, "1003", inv3, 25.0, cseq=1, my_tag="t3",
                 refer_to=f"<sip:1004@ccswitch.local?Replaces={replaces}>").status == 202
    notifies(w, "1003", 25.1)
    ok_byes(w, "1003", 25.2)  # the consultation
    assert bye(w, "1003", inv3, 26.0, cseq=2, my_tag="t3").status == 200
    assert bye(w, "1001", ok, 40.0, cseq=3).status == 200
    return w, w.ended()




def legs_of(e: CallEnded) -> list[tuple[object, ...]]:
    """The legs without their ids (transaction ids: random)."""
    return [(g.role, g.party, g.started, g.answered, g.ended, g.status, g.reason, g.ended_by,
             g.codec, g.call_end) for g in e.legs]


def test_every_leg_and_transfer_of_a_queue_call_is_in_its_cdr() -> None:
    _, ended = scenario()
    by_sip = {e.sip_call_id: e for e in ended}
    assert sorted(by_sip) == ["k1", "q1"]  # one CDR per call
    q1 = by_sip["q1"]
    # the times are the scenario's own: the caller dialled and was answered by the queue at
    # 1.0 and both agents were rung then; 2002 answered at 3.0, 2001's fork was CANCELled
    # and answered 487 at 3.2; 2002 referred at 10.0, 1003 answered at 12.0, 2002 hung up at
    # 12.5; 1003's consultation rang 1004 at 20.0 (answered 21.0), moved in at 25.0; 1003
    # hung up at 26.0, the caller at 40.0.  Every phone offered PCMU only.
    assert legs_of(q1) == [
        ("caller", "1001", 1.0, 1.0, 40.0, 200, "OK", "party", "PCMU", "caller"),
        ("agent", "2001", 1.0, None, 3.2, 487, "Request Terminated", "switch", None, None),
        ("agent", "2002", 1.0, 3.0, 12.5, 200, "OK", "party", "PCMU", None),
        ("transfer", "1003", 10.0, 12.0, 26.0, 200, "OK", "party", "PCMU", None),
        # the other end hung up: this one was hung up by us as "peer"
        ("transfer", "1004", 20.0, 21.0, 40.0, 200, "OK", "peer", "PCMU", "callee"),
    ]
    assert len({g.leg_id for g in q1.legs}) == 5
    # the media leg of each answered leg goes with its record (its quality comes by it);
    # 2001 never had one; five answered legs, five different media legs
    media = [g.media for g in q1.legs]
    assert media[1] is None and None not in media[:1] + media[2:]
    assert len(set(media)) == 5
    assert q1.transfers == (
        TransferStep("blind", "2002", "1003", 10.0, "refer", "answered"),
        TransferStep("attended", "1003", "1004", 25.0, "refer", "answered"))
    # the consultation: 1003's leg, BYE'd by us when its dialog was replaced, and 1004's leg
    # that left it (moved into q1) at 25.0
    k1 = by_sip["k1"]
    assert legs_of(k1) == [
        ("caller", "1003", 20.0, 21.0, 25.0, 200, "OK", "switch", "PCMU", "caller"),
        ("callee", "1004", 20.0, 21.0, 25.0, 200, "OK", "switch", "PCMU", None),
    ]
    assert k1.legs[1].leg_id == q1.legs[4].leg_id  # the same leg, in both calls
    assert k1.legs[1].media is None  # its quality is q1's, where its media leg ended
    assert k1.transfers == ()


def test_a_refused_fork_is_the_party_s_and_the_caller_s_leg_carries_the_call_s_status() -> None:
    w = Switch(("1001", "2002"))  # an agent: no mailbox to divert the busy call to
    w.dial("1001", "2002", 1.0, call_id="r1")
    inv = w["2002"].take("INVITE")
    w["2002"].reply(inv, 486, "Busy Here", 2.5, to_tag="b2")
    w.pump()
    (e,) = w.ended()
    # 2002 refused at 2.5 (its own doing: "party"); the caller was never answered: its leg
    # carries the status relayed to it, and ended because its peer refused ("peer")
    assert legs_of(e) == [
        ("caller", "1001", 1.0, None, 2.5, 486, "Busy Here", "peer", None, "caller"),
        ("callee", "2002", 1.0, None, 2.5, 486, "Busy Here", "party", None, None),
    ]
    assert (e.status, e.ended_by) == (486, "callee")


def test_legs_and_transfers_are_not_streamed() -> None:
    from ccswitch.call.eventlog import _ENVELOPE
    assert {"legs", "transfers"} <= _ENVELOPE


def test_a_refused_call_has_its_callers_leg() -> None:
    w = Switch(("1001",))
    w.dial("1001", "5555", 4.0, call_id="n1")  # not in the dial plan
    assert w["1001"].last_response().status == 404
    (e,) = w.ended()
    assert legs_of(e) == [("caller", "1001", 4.0, None, 4.0, 404, "Not Found", "switch",
                           None, None)]


def test_a_supervisors_leg_is_in_the_supervised_calls_record() -> None:
    from test_supervise_calls import Supervised
    from test_transfer_calls import bye as bye_in

    for leaves_first in (True, False):
        s = Supervised()  # 1001 -> queue 800 at 1.0, agent 2001 answers at 3.0
        ok, _ = s.supervise(now=5.0)  # 1020 dials *312001 at 5.0: answered at once
        if leaves_first:
            assert bye_in(s.w, "1020", ok, 8.0, cseq=3).status == 200
        assert bye_in(s.w, "1001", s.ok, 20.0, cseq=3).status == 200
        ok_byes(s.w, "1020", 20.1)
        main = next(e for e in s.w.ended() if e.sip_call_id == "c1")
        # the supervisor's leg: from 5.0 to its BYE at 8.0 ("party"), or hung up by us when
        # the call ended at 20.0 ("switch")
        end, by = (8.0, "party") if leaves_first else (20.0, "switch")
        assert [g[:8] for g in legs_of(main)] == [
            ("caller", "1001", 1.0, 1.0, 20.0, 200, "OK", "party"),
            ("agent", "2001", 1.0, 3.0, 20.0, 200, "OK", "peer"),
            ("supervisor", "1020", 5.0, 5.0, end, 200, "OK", by)], leaves_first
        # not one of the call's two ends; no media leg to wait for (its own CDR has it)
        assert (main.legs[2].call_end, main.legs[2].media) == (None, None)


def test_an_invite_with_replaces_leaves_the_replaced_leg_in_the_record() -> None:
    from test_transfer_calls import Call, bye

    w = Switch(("1001", "1002", "1003"))
    c = Call(w)  # 1001 calls 1002 at 1.0, answered at 2.0
    rep = f"Replaces: {c.inv.call_id};to-tag=bt;from-tag={c.inv.from_.tag}\n"
    w["1003"].invite("1002", 10.0, call_id="r1", body=offer(6400), extra=rep,
                     phones=list(w.phones.values()))
    w.pump()
    ok3 = w["1003"].last_response()
    new_leg = w.leg_of(ok3)
    ok_byes(w, "1002", 10.1)
    w.ack("1003", ok3, 10.2)
    assert bye(w, "1003", ok3, 20.0, cseq=3).status == 200
    ok_byes(w, "1001", 20.1)
    (e,) = w.ended()
    # 1003 took 1002's place at 10.0 (answered by us at once) and hung up at 20.0: 1003 is
    # the caller end then, 1001 the other ("peer"); 1002's leg was ended by us at 10.0
    assert legs_of(e) == [
        ("caller", "1001", 1.0, 2.0, 20.0, 200, "OK", "peer", "PCMU", "callee"),
        ("callee", "1002", 1.0, 2.0, 10.0, 200, "OK", "switch", "PCMU", None),
        ("replaces", "1003", 10.0, 10.0, 20.0, 200, "OK", "party", "PCMU", "caller"),
    ]
    # 1002's record keeps its own media leg (its quality comes by it), 1003's its new one
    assert (e.legs[1].media, e.legs[2].media) == (c.b_leg, new_leg)
