"""A transfer to a user with a mailbox follows the rules of a direct call to that user (fake
clock): busy, no answer within ``[voicemail] no_answer`` or no registered phone → the
user's mailbox takes the transferred caller's message.  For the transferor the transfer
succeeded (NOTIFY 200, released); the CDR's transfer step says ``voicemail:BOX`` and
``TransferEnded`` reports 200.  A user without a mailbox keeps the recall
(``test_transfer_calls.py``)."""

from __future__ import annotations

from callworld import Switch
from test_transfer_calls import Call, blind_by_callee, bye, frag, notifies, ok_byes, refer
from test_voicemail_calls import digits

from ccswitch.call.commands import Transfer
from ccswitch.call.events import CallEnded, TransferEnded
from ccswitch.call.voicemail import VoicemailStored
from ccswitch.media.commands import Play, PlayDone, PlayFile, StartRecord


def outcomes(w: Switch) -> list[TransferEnded]:
    return [e for e in w.events if isinstance(e, TransferEnded)]


def finish_files(w: Switch, leg: int, now: float) -> list[str]:
    """Report every file played to ``leg`` as ended, one at a time: the files, in order."""
    played: list[str] = []
    done: set[int] = set()
    for _ in range(20):
        plays = [c for c in w.commands(Play) if isinstance(c, Play) and c.leg == leg
                 and isinstance(c.source, PlayFile) and c.play_id not in done]
        if not plays:
            break
        p = plays[0]
        assert isinstance(p.source, PlayFile)
        done.add(p.play_id)
        played.append(p.source.path)
        w.sig.media_events([PlayDone(leg, p.play_id, "end")], now)
        w.pump()
    return played


def leaves_a_message(w: Switch, leg: int, now: float, box: str) -> VoicemailStored:
    """The caller's leg ``leg`` hears the greeting and the beep, talks 3 s, presses ``#``."""
    mark = w.mark()
    played = finish_files(w, leg, now)
    assert "/p/leave-message.wav" in played and "/p/vm/beep.wav" in played, played
    (rec,) = [c for c in w.since(mark, StartRecord) if isinstance(c, StartRecord)]
    assert rec.legs == (leg,) and rec.path.startswith(f"voicemail/{box}/")
    digits(w, leg, "#", now + 3.0)
    (stored,) = [e for e in w.events if isinstance(e, VoicemailStored)]
    assert (stored.box, stored.file) == (box, rec.path)
    return stored


def test_a_busy_transfer_target_with_a_mailbox_takes_the_callers_message() -> None:
    w = Switch()  # the demo: 1003 has a mailbox
    c, inv3 = blind_by_callee(w)
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    trying, done = notifies(w, "1002", 6.1)
    assert frag(trying) == "SIP/2.0 100 Trying"
    assert frag(done) == "SIP/2.0 200 OK"  # the transfer succeeded: its mailbox took it
    assert (done.headers.get("subscription-state") or "").startswith("terminated")
    (out,) = outcomes(w)
    assert (out.status, out.target) == (200, "1003")
    # the caller no longer hears the transferor; nobody sends it BYE
    assert c.b_leg not in w.hearing.hears(c.a_leg)
    assert w["1001"].requests("BYE") == []
    stored = leaves_a_message(w, c.a_leg, 6.2, "1003")
    assert stored.caller == "1001"
    # the transferor hangs up; the caller's message ends the call: one CDR naming the box
    assert bye(w, "1002", c.inv, 7.0, cseq=2, my_tag="bt").status == 200
    p = w["1001"]
    p.send(p.in_dialog("BYE", c.ok, cseq=3), 30.0)
    w.pump()
    (cdr,) = [e for e in w.events if isinstance(e, CallEnded)]
    (step,) = cdr.transfers
    assert (step.kind, step.target, step.result) == ("blind", "1003", "voicemail:1003")


def test_no_answer_within_no_answer_sends_the_transferred_caller_to_the_mailbox() -> None:
    w = Switch()
    c, inv3 = blind_by_callee(w)  # the REFER at 5.0
    w["1003"].reply(inv3, 180, "Ringing", 5.5, to_tag="ct")
    w.pump()
    notifies(w, "1002", 5.6)
    w.run_until(5.0 + 19.9)
    assert w["1003"].requests("CANCEL") == []
    w.run_until(5.0 + 20.1)  # [voicemail] no_answer = 20, not [transfer] ring_timeout = 30
    assert len(w["1003"].requests("CANCEL")) >= 1
    (done,) = notifies(w, "1002", 25.2)
    assert frag(done) == "SIP/2.0 200 OK"
    leaves_a_message(w, c.a_leg, 25.3, "1003")
    # the transferor, still on the line, is let go after the grace
    w.run_until(25.3 + 5.0)
    assert len(ok_byes(w, "1002", 30.5)) == 1


def test_a_transfer_to_a_user_with_no_phone_goes_to_its_mailbox_at_once() -> None:
    w = Switch(("1001", "1002"))  # 1003 not registered
    c = Call(w)
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt")
    assert resp.status == 202
    trying, done = notifies(w, "1002", 5.1)  # done at once
    assert (frag(trying), frag(done)) == ("SIP/2.0 100 Trying", "SIP/2.0 200 OK")
    leaves_a_message(w, c.a_leg, 5.2, "1003")
    (out,) = outcomes(w)
    assert out.status == 200
    (call,) = w.sig.b2bua._calls.values()
    assert call.transfers[-1].result == "voicemail:1003"  # the CDR's step, not "answered"


def test_the_apis_transfer_to_a_busy_user_goes_to_its_mailbox() -> None:
    w = Switch()
    ok, _ = w.call("1001", "1002", 1.0, call_id="c1")
    caller = w.leg_of(ok)
    (cid,) = w.sig.b2bua._calls
    w.sig.command(Transfer(cid, "1003"), 3.0)
    w.pump()
    inv3 = w["1003"].take("INVITE")
    w["1003"].reply(inv3, 486, "Busy Here", 4.0, to_tag="ct")
    w.at(4.01)
    assert w["1002"].take("BYE").method == "BYE"  # the API's transferor: released at once
    leaves_a_message(w, caller, 4.1, "1003")


def test_the_transferor_gone_a_busy_target_still_takes_a_message() -> None:
    w = Switch()
    c, inv3 = blind_by_callee(w)
    notifies(w, "1002", 5.1)
    assert bye(w, "1002", c.inv, 5.5, cseq=2, my_tag="bt").status == 200
    w["1003"].reply(inv3, 486, "Busy Here", 6.0, to_tag="ct")
    w.pump()
    assert w["1001"].requests("BYE") == []  # not hung up, as before the mailbox
    leaves_a_message(w, c.a_leg, 6.1, "1003")


def test_a_transfer_while_the_consultation_rings_follows_the_targets_rules() -> None:
    """1002 consults 1003, which rings; 1002 refers 1001 with Replaces naming that ringing
    dialog: the consultation ends (487, CANCEL), 1003 rings for 1001 and, busy, its
    mailbox takes 1001's message."""
    w = Switch()
    c = Call(w)
    w.dial("1002", "1003", 5.0, call_id="k1", port=4300)
    k_inv = w["1003"].take("INVITE")
    w["1003"].reply(k_inv, 180, "Ringing", 5.1, to_tag="k3")
    w.pump()
    ringing = w["1002"].last_response()
    assert ringing.status == 180
    replaces = f"k1%3Bto-tag%3D{ringing.to.tag}%3Bfrom-tag%3D{ringing.from_.tag}"
    resp = refer(w, "1002", c.inv, 8.0, cseq=1, my_tag="bt",
                 refer_to=f"<sip:1003@ccswitch.local?Replaces={replaces}>")
    assert resp.status == 202
    assert len(w["1003"].requests("CANCEL")) == 1  # the consultation's INVITE
    assert [r.status for r in w["1002"].responses() if r.call_id == "k1"][-1] == 487
    inv3 = [r for r in w["1003"].requests("INVITE") if r.call_id != "k1"][-1]
    w["1003"].reply(inv3, 486, "Busy Here", 9.0, to_tag="ct")
    w.pump()
    assert frag(notifies(w, "1002", 9.1)[-1]) == "SIP/2.0 200 OK"
    leaves_a_message(w, c.a_leg, 9.2, "1003")
    (out,) = outcomes(w)
    assert (out.kind, out.target, out.status) == ("attended", "1003", 200)
