"""Each transfer reports its outcome once (``TransferEnded``, streamed as
``call.transfer_ended``): when the REFER came in, when the target answered or failed, and the
code; the availability audit's transfer speed and failures come from it."""

from __future__ import annotations

from callworld import Switch, demo_config, no_mailbox, offer
from test_transfer_calls import Call, blind_by_callee, bye, notifies, ok_byes, refer

from ccswitch.call.eventlog import record_of
from ccswitch.call.events import CallStarted, TransferEnded


def outcomes(w: Switch) -> list[TransferEnded]:
    return [e for e in w.events if isinstance(e, TransferEnded)]


def test_an_answered_transfer_reports_200_from_the_refer_to_the_answer() -> None:
    w = Switch()
    c, inv3 = blind_by_callee(w, now=5.0)  # the REFER at 5.0
    w["1003"].reply(inv3, 200, "OK", 6.5, to_tag="ct", body=offer(6100))  # answered at 6.5
    w.pump()
    (done,) = outcomes(w)
    assert (done.kind, done.target, done.by, done.status) == ("blind", "1003", "refer", 200)
    assert (done.started, done.at) == (5.0, 6.5)  # 1.5 s from REFER to the NOTIFY 200
    rec = record_of(done, now=0.0, wall_offset=1000.0)
    assert rec is not None and rec.type == "call.transfer_ended"
    assert rec.time == 1006.5 and rec.fields["started"] == 1005.0  # shifted to wall clock
    # the transferor and then the call end: no second outcome
    bye(w, "1002", c.inv, 7.0, cseq=2, my_tag="bt")
    bye(w, "1003", inv3, 9.0, cseq=1, my_tag="ct")
    ok_byes(w, "1001", 9.1)
    assert len(outcomes(w)) == 1


def test_a_busy_target_reports_its_code() -> None:
    w = Switch(config=demo_config(no_mailbox("1003")))
    _, inv3 = blind_by_callee(w, now=5.0)
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    (failed,) = outcomes(w)
    assert (failed.status, failed.started, failed.at) == (486, 5.0, 6.0)


def test_a_call_that_ends_while_the_target_rings_reports_487() -> None:
    w = Switch()
    c, inv3 = blind_by_callee(w, now=5.0)
    w["1003"].reply(inv3, 180, "Ringing", 5.5, to_tag="ct")
    w.pump()
    notifies(w, "1002", 5.6)
    assert bye(w, "1001", c.ok, 8.0, cseq=5).status == 200  # the caller gives up at 8.0
    (gone,) = outcomes(w)
    assert (gone.status, gone.started, gone.at) == (487, 5.0, 8.0)


def test_a_refer_with_a_vanished_replaces_dialog_reports_481() -> None:
    w = Switch()
    c = Call(w)
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 refer_to="<sip:1003@ccswitch.local?Replaces=nope%3Bto-tag%3Da%3Bfrom-tag%3Db>")
    assert resp.status == 202
    (gone,) = outcomes(w)
    assert (gone.kind, gone.status, gone.started, gone.at) == ("attended", 481, 5.0, 5.0)


def test_calls_the_switch_places_are_not_inbound() -> None:
    rec = record_of(CallStarted("k", "2001", "support", 3.0, inbound=False), now=0.0,
                    wall_offset=0.0)
    assert rec is not None and rec.fields["inbound"] is False
