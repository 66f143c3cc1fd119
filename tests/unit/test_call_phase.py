"""The call's phase and its (phase, leg event) table (call/phase.py), and the legs by id
(call/state.py): checked on the table itself and through the signaling core."""

from __future__ import annotations

from callworld import Switch
from structlog.testing import capture_logs

from ccswitch.call.legevents import (
    Answered,
    Cancelled,
    Digit,
    Ended,
    Failed,
    MediaLost,
    Ringing,
)
from ccswitch.call.phase import ANSWERED_PHASES, TABLE, dispatch
from ccswitch.call.state import Call, Phase


def the_call(w: Switch) -> Call:
    (call,) = w.sig.b2bua._calls.values()
    return call


def test_a_forks_answer_or_failure_has_a_handler_in_every_phase() -> None:
    # a late 2xx must always be ACKed and hung up, a fork's failure always recorded
    for event in (Ringing, Answered, Failed):
        missing = [p for p in Phase if (p, event) not in TABLE]
        assert not missing, f"{event.__name__} has no handler in {missing}"


def test_every_answered_phase_handles_a_hangup_and_lost_media_but_not_a_cancel() -> None:
    for phase in ANSWERED_PHASES:
        assert (phase, Ended) in TABLE and (phase, MediaLost) in TABLE
        assert (phase, Cancelled) not in TABLE
    assert (Phase.RINGING, Cancelled) in TABLE
    assert not [k for k in TABLE if k[0] is Phase.ENDED and k[1] in (Ended, MediaLost)]


def test_an_event_without_an_entry_is_a_logged_and_counted_no_op() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    call = the_call(w)
    b2 = w.sig.b2bua
    assert call.phase is Phase.TALKING
    with capture_logs() as logs:
        assert dispatch(b2, call, Cancelled(call.caller_id), 2.0) is False
        assert dispatch(b2, call, Cancelled(call.caller_id), 2.1) is False
    assert b2.ignored[("talking", "Cancelled")] == 2
    ignored = [e for e in logs if e["event"] == "call_event_ignored"]
    assert len(ignored) == 2 and ignored[0]["phase"] == "talking" \
        and ignored[0]["leg_event"] == "Cancelled" and ignored[0]["call_id"] == call.key
    assert call.phase is Phase.TALKING and b2._calls  # the call goes on untouched


def test_a_digit_in_a_talking_call_is_expected_and_not_counted() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    call = the_call(w)
    assert call.media is not None
    assert dispatch(w.sig.b2bua, call, Digit(call.media.leg("a"), "5", "rfc4733"), 2.0)
    assert not w.sig.b2bua.ignored


def test_the_phase_follows_the_call_from_ringing_to_talking_to_ended() -> None:
    w = Switch()
    w.dial("1001", "1002", 1.0, call_id="c1")
    call = the_call(w)
    assert call.phase is Phase.RINGING and call.answered_id is None
    w.answer("1002", 2.0, tag="bt")
    assert call.phase is Phase.TALKING and call.answering and not call.confirmed
    ok = w["1001"].last_response()
    w.ack("1001", ok, 2.1)
    assert call.confirmed
    w["1002"].send(w["1002"].in_dialog("BYE", w["1002"].take("ACK"), cseq=1, my_tag="bt"), 3.0)
    w.pump()
    assert call.phase is Phase.ENDED and not w.sig.b2bua._calls
    assert not [k for k, (c, _) in w.sig.b2bua._dialogs.items() if c is call]


def test_a_call_holds_its_legs_by_id_and_each_leg_knows_its_peer() -> None:
    w = Switch()
    w.call("1001", "1002", 1.0, call_id="c1")
    call = the_call(w)
    caller, answered = call.caller_leg, call.answered_leg
    assert answered is not None and caller.incoming and not answered.incoming
    assert call.legs[caller.id] is caller and call.legs[answered.id] is answered
    assert call.peer(caller.id) is answered and call.peer(answered.id) is caller
    assert call.end(caller.id) == "a" and call.end(answered.id) == "b"
    assert [lg.id for lg in call.forks()] == [answered.id]
    # the dialogs of the switch name the legs, not sides
    mine = {leg for (c, leg) in w.sig.b2bua._dialogs.values() if c is call}
    assert mine == {caller.id, answered.id}


def test_the_ack_timeout_is_the_callers_legs_own_retransmission() -> None:
    w = Switch()
    w.dial("1001", "1002", 1.0, call_id="c1")
    w.answer("1002", 2.0, tag="bt")
    call = the_call(w)
    assert call.caller_leg.ok is not None and call.caller_leg.ok.status == 200
    w["1001"].inbox.clear()
    w.run_until(2.0 + 64 * 0.5 + 1)
    resent = [r for r in w["1001"].responses() if r.status == 200]
    assert len(resent) >= 5  # the 2xx went again and again to the caller's leg
    assert call.phase is Phase.ENDED
    (end,) = w.ended()
    assert end.status == 408 and end.ended_by == "switch"



def test_an_attended_transfer_moves_the_targets_leg_into_the_first_call() -> None:
    from test_transfer_calls import Call as TalkingCall
    from test_transfer_calls import refer

    w = Switch()
    b2 = w.sig.b2bua
    TalkingCall(w)  # 1001 talks to 1002 (c1)
    consult_ok, _ = w.call("1002", "1003", 5.0, call_id="k1", tag="k3", a_port=4300,
                           b_port=6300)
    by_sip = {c.sip_call_id: c for c in b2._calls.values()}
    main, consult = by_sip["c1"], by_sip["k1"]
    target = consult.answered_leg  # 1003's leg, rung by the consultation
    assert target is not None
    transferor = main.answered_leg
    assert transferor is not None
    replaces = f"k1%3Bto-tag%3D{consult_ok.to.tag}%3Bfrom-tag%3Dft"
    assert refer(w, "1002", transferor.invite, 8.0, cseq=1, my_tag="bt",
                 refer_to=f"<sip:1003@ccswitch.local?Replaces={replaces}>").status == 202
    # the very leg (same id, same dialog) moved from the consultation into the first call
    assert consult.phase is Phase.ENDED and target.id not in consult.legs
    assert main.phase is Phase.TALKING and main.answered_leg is target
    assert main.peer(target.id) is main.caller_leg
    assert b2._dialogs[(target.dialog.call_id, target.dialog.local_tag)] == (main, target.id)
    # the transferor's leg stays in the first call, out of its bridge, until it hangs up
    assert main.transfer is not None and main.transfer.leg is transferor
    assert main.end(transferor.id) == "t" and main.peer(transferor.id) is None
