"""Voicemail wired into calls, through the signaling core (fake clock, scripted phones, the
media workers' commands and events by hand): a caller reaching a mailbox (unregistered
user, no answer within [voicemail] no_answer, busy), ``voicemail:BOX`` in the dial plan,
``*97`` with the PIN, and message-waiting SUBSCRIBE/NOTIFY."""

from __future__ import annotations

import dataclasses

from callworld import Switch, demo_config
from sipphone import build_authorization, deliver, header

from ccswitch.call.events import CallEnded
from ccswitch.call.voicemail import (
    VoicemailDeleted,
    VoicemailGreeting,
    VoicemailSaved,
    VoicemailStored,
)
from ccswitch.dialplan import VoicemailTarget
from ccswitch.media.commands import (
    Digit,
    Play,
    PlayDone,
    PlayFile,
    RecordSilence,
    StartRecord,
    StopRecord,
)
from ccswitch.sip.message import Request
from ccswitch.sip.mwi import MessageSummary
from ccswitch.voicemail import Folder, Message


def _play_path(p: Play) -> str:
    assert isinstance(p.source, PlayFile)
    return p.source.path


def finish_plays(w: Switch, leg: int, now: float, mark: int) -> list[str]:
    """Report every play sent to ``leg`` since ``mark`` as ended (one at a time, as the worker
    would); returns the files played, in order."""
    played: list[str] = []
    done: set[int] = set()
    for _ in range(50):
        plays = [c for c in w.since(mark, Play) if isinstance(c, Play) and c.leg == leg
                 and c.play_id not in done]
        if not plays:
            return played
        p = plays[0]
        done.add(p.play_id)
        played.append(_play_path(p))
        w.sig.media_events([PlayDone(leg, p.play_id, "end")], now)
        w.pump()
    return played


def digits(w: Switch, leg: int, keys: str, now: float) -> None:
    for k in keys:
        w.sig.media_events([Digit(leg, k, "rfc4733")], now)
        w.pump()


def deposit(w: Switch, leg: int, now: float, *, seconds: float = 3.0) -> VoicemailStored:
    """Greeting and beep heard, ``seconds`` of message, then ``#``."""
    mark = 0
    played = finish_plays(w, leg, now, mark)
    assert played[:2] == ["/p/leave-message.wav", "/p/vm/beep.wav"], played
    rec = [c for c in w.commands(StartRecord) if isinstance(c, StartRecord)]
    assert len(rec) == 1 and rec[0].legs == (leg,)
    mark = w.mark()
    digits(w, leg, "#", now + seconds)
    assert [c for c in w.since(mark, StopRecord)] == [StopRecord(rec[0].rec_id)]
    stored = [e for e in w.events if isinstance(e, VoicemailStored)]
    assert len(stored) == 1
    assert stored[0].file == rec[0].path
    return stored[0]


def test_a_user_without_a_registered_phone_takes_a_message() -> None:
    w = Switch(("1001",))
    w.dial("1001", "1005", 0.0, call_id="vm1")
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 0.1)
    leg = w.leg_of(ok)
    stored = deposit(w, leg, 1.0, seconds=3.0)
    assert (stored.box, stored.caller) == ("1005", "1001")
    assert stored.file.startswith("voicemail/1005/") and stored.file.endswith(".wav")
    assert abs(stored.duration - 3.0) < 1e-6
    # "message saved, goodbye", then the switch hangs up
    mark_plays = finish_plays(w, leg, 5.0, 0)
    assert mark_plays[-2:] == ["/p/vm/saved.wav", "/p/goodbye.wav"], mark_plays
    assert w["1001"].requests("BYE")
    ended = w.ended()
    assert len(ended) == 1 and ended[0].status == 200
    # the message's row is written before the call's CDR
    order = [type(e) for e in w.events if isinstance(e, VoicemailStored | CallEnded)]
    assert order == [VoicemailStored, CallEnded]
    assert w.sig.voicemail is not None and w.sig.voicemail.boxes["1005"].counts() == (1, 0)


def test_hanging_up_while_recording_keeps_the_message_before_the_cdr() -> None:
    w = Switch(("1001",))
    w.dial("1001", "1005", 0.0, call_id="vm2")
    ok = w["1001"].last_response()
    w.ack("1001", ok, 0.1)
    leg = w.leg_of(ok)
    finish_plays(w, leg, 1.0, 0)
    assert w.commands(StartRecord)
    w["1001"].send(w["1001"].in_dialog("BYE", ok, cseq=3), 6.0)
    w.pump()
    kinds = [type(e) for e in w.events if isinstance(e, VoicemailStored | CallEnded)]
    assert kinds == [VoicemailStored, CallEnded]
    assert w.commands(StopRecord)


def test_an_agent_without_a_mailbox_still_gets_480() -> None:
    w = Switch(("1001",))
    w.dial("1001", "2001", 0.0, call_id="vm3")
    assert w["1001"].last_response().status == 480


def test_no_answer_within_no_answer_seconds_goes_to_the_mailbox() -> None:
    w = Switch(("1001", "1002"))
    w.dial("1001", "1002", 0.0, call_id="vm4")
    inv = w["1002"].take("INVITE")
    w["1002"].reply(inv, 180, "Ringing", 0.1, to_tag="r")
    w.pump()
    w.run_until(19.9)
    assert not w["1002"].requests("CANCEL")
    w.run_until(20.0)
    assert w["1002"].requests("CANCEL"), "the ringing phone is CANCELled first"
    ok = w["1001"].last_response()
    assert ok.status == 200
    assert finish_plays(w, w.leg_of(ok), 20.5, 0)[:1] == ["/p/leave-message.wav"]


def test_busy_goes_to_the_mailbox() -> None:
    w = Switch(("1001", "1002"))
    w.dial("1001", "1002", 0.0, call_id="vm5")
    inv = w["1002"].take("INVITE")
    w["1002"].reply(inv, 486, "Busy Here", 0.5, to_tag="r")
    w.pump()
    ok = w["1001"].last_response()
    assert ok.status == 200
    assert w.sig.b2bua.voicemail is not None
    assert finish_plays(w, w.leg_of(ok), 1.0, 0)[:1] == ["/p/leave-message.wav"]


def test_a_dial_plan_number_may_name_a_mailbox() -> None:
    def change(cfg):  # type: ignore[no-untyped-def]
        numbers = {**cfg.dialplan.numbers, "7002": VoicemailTarget("1002")}
        return dataclasses.replace(cfg, dialplan=dataclasses.replace(cfg.dialplan,
                                                                     numbers=numbers))
    w = Switch(("1001", "1002"), config=demo_config(change))
    w.dial("1001", "7002", 0.0, call_id="vm6")
    ok = w["1001"].last_response()
    assert ok.status == 200
    assert not w["1002"].requests("INVITE")  # the user's phone does not ring
    w.ack("1001", ok, 0.1)
    assert deposit(w, w.leg_of(ok), 1.0).box == "1002"


def _restore(w: Switch, box: str) -> None:
    w.sig.restore_voicemail([
        Message("m1", box, "1001", 10.0, 4.0, "m1.wav"),
        Message("m2", box, "1003", 5.0, 2.0, "m2.wav", Folder.SAVED)], 0.0)
    w.pump()


def test_star97_asks_the_pin_then_plays_new_then_saved_and_deletes() -> None:
    w = Switch(("1002",))
    _restore(w, "1002")
    w.dial("1002", "*97", 1.0, call_id="vm7")
    ok = w["1002"].last_response()
    assert ok.status == 200
    w.ack("1002", ok, 1.1)
    leg = w.leg_of(ok)
    assert finish_plays(w, leg, 2.0, 0) == ["/p/vm/enter-password.wav"]
    mark = w.mark()
    digits(w, leg, "1002#", 3.0)
    played = finish_plays(w, leg, 4.0, mark)
    assert played[0] == "/p/vm/you-have.wav"
    assert "voicemail/1002/m1.wav" in played  # the new message first
    assert [e for e in w.events if isinstance(e, VoicemailSaved)] == [
        VoicemailSaved("1002", "m1")]
    mark = w.mark()
    digits(w, leg, "7", 5.0)  # delete it: the saved one is next
    assert [e for e in w.events if isinstance(e, VoicemailDeleted)] == [
        VoicemailDeleted("1002", "m1")]
    assert "voicemail/1002/m2.wav" in finish_plays(w, leg, 6.0, mark)
    assert w.sig.voicemail is not None and w.sig.voicemail.boxes["1002"].counts() == (0, 1)


def test_star97_with_a_wrong_pin_plays_no_message() -> None:
    w = Switch(("1002",))
    _restore(w, "1002")
    w.dial("1002", "*97", 1.0, call_id="vm8")
    ok = w["1002"].last_response()
    leg = w.leg_of(ok)
    finish_plays(w, leg, 2.0, 0)
    mark = w.mark()
    digits(w, leg, "9999#", 3.0)
    assert finish_plays(w, leg, 4.0, mark)[:1] == ["/p/wrong-pin.wav"]
    assert not [e for e in w.events if isinstance(e, VoicemailSaved)]


def test_star97_from_an_agent_is_refused_with_a_prompt() -> None:
    w = Switch(("2001",))
    w.dial("2001", "*97", 1.0, call_id="vm9")
    ok = w["2001"].last_response()
    assert ok.status == 200
    assert finish_plays(w, w.leg_of(ok), 2.0, 0) == ["/p/not-allowed.wav"]


# -- message-waiting ------------------------------------------------------------------------
def subscribe(w: Switch, user: str, box: str, now: float, *, event: str = "message-summary",
              call_id: str = "sub1") -> int:
    """SUBSCRIBE to ``box``'s AOR from ``user``'s phone, answering the 401; the final status."""
    p = w[user]
    ruri = f"sip:{box}@ccswitch.local"
    to = f"<sip:{box}@ccswitch.local>"
    hdrs = f"Event: {event}\nExpires: 600\nAccept: application/simple-message-summary\n"
    p.send(p.request("SUBSCRIBE", ruri, call_id=call_id, cseq=1, to=to, extra=hdrs), now)
    deliver(w.sig, [p])
    first = p.last_response()
    if first.status != 401:
        return first.status
    auth = build_authorization(header(first, "WWW-Authenticate"), method="SUBSCRIBE",
                               uri=ruri, user=user, password=p.password, cnonce="abc")
    p.send(p.request("SUBSCRIBE", ruri, call_id=call_id, cseq=2, to=to,
                     extra=f"{hdrs}Authorization: {auth}\n"), now)
    deliver(w.sig, [p])
    w.pump()
    return next(r.status for r in reversed(p.responses()) if r.cseq.method == "SUBSCRIBE")


def notifies(w: Switch, user: str) -> list[Request]:
    return w[user].requests("NOTIFY")


def test_a_phone_subscribes_to_its_mailbox_and_hears_of_every_change() -> None:
    w = Switch(("1001", "1002"))
    assert subscribe(w, "1002", "1002", 1.0) == 200
    first = notifies(w, "1002")
    assert len(first) == 1
    assert header(first[0], "Event") == "message-summary"
    assert header(first[0], "Subscription-State").startswith("active")
    assert MessageSummary.parse(first[0].body).waiting is False
    # a message for 1002 (busy): the lamp lights
    w.dial("1001", "1002", 2.0, call_id="vm10")
    inv = w["1002"].take("INVITE")
    w["1002"].reply(inv, 486, "Busy Here", 2.5, to_tag="r")
    w.pump()
    ok = w["1001"].last_response()
    w.ack("1001", ok, 2.6)
    deposit(w, w.leg_of(ok), 3.0)
    got = notifies(w, "1002")
    assert len(got) == 2
    summary = MessageSummary.parse(got[1].body)
    assert summary.waiting and summary.voice_counts.new == 1
    assert summary.account == "sip:1002@ccswitch.local"


def test_a_notify_answered_481_ends_the_subscription() -> None:
    w = Switch(("1002",))
    assert subscribe(w, "1002", "1002", 1.0) == 200
    n = w["1002"].take("NOTIFY")
    w["1002"].reply(n, 481, "Call/Transaction Does Not Exist", 1.1)
    w.pump()
    assert w.sig.mwi is not None and len(w.sig.mwi) == 0


def test_subscribe_refusals() -> None:
    w = Switch(("1002", "2001"))
    assert subscribe(w, "1002", "1003", 1.0, call_id="s1") == 403  # someone else's box
    assert subscribe(w, "2001", "2001", 1.0, call_id="s2") == 404  # an agent: no box
    assert subscribe(w, "1002", "1002", 1.0, event="presence", call_id="s3") == 489
    assert header(w["1002"].last_response(), "Allow-Events") == "message-summary, refer"


def refresh(w: Switch, user: str, *, now: float, cseq: int, auth: str = "",
            expires: int = 600, call_id: str = "sub1") -> int:
    """A SUBSCRIBE inside ``user``'s subscription dialog ``call_id`` (To tag of the 200,
    Request-URI our Contact), with ``auth`` as its Authorization when given; its status."""
    p = w[user]
    ok = next(r for r in p.responses(200) if r.cseq.method == "SUBSCRIBE"
              and r.call_id == call_id)
    ruri = str(ok.contacts[0].uri)
    to = ok.headers.get("to") or ""
    extra = f"Event: message-summary\nExpires: {expires}\n"
    if auth:
        extra += f"Authorization: {auth}\n"
    p.send(p.request("SUBSCRIBE", ruri, call_id=call_id, cseq=cseq, to=to, extra=extra), now)
    deliver(w.sig, [p])
    w.pump()
    return next(r.status for r in reversed(p.responses()) if r.cseq.method == "SUBSCRIBE"
                and r.cseq.seq == cseq)


def answer_refresh(w: Switch, user: str, password: str, *, nc: int = 1) -> str:
    """Credentials for a refresh, answering the last 401 ``user`` got."""
    p = w[user]
    last = p.last_response()
    assert last.status == 401, last
    ok = next(r for r in p.responses(200) if r.cseq.method == "SUBSCRIBE")
    return build_authorization(header(last, "WWW-Authenticate"), method="SUBSCRIBE",
                               uri=str(ok.contacts[0].uri), user=user, password=password,
                               cnonce="def", nc=nc)


def test_a_refresh_in_the_dialog_is_challenged_like_the_initial_subscribe() -> None:
    """Issue 11: an in-dialog SUBSCRIBE is challenged (401) and refreshes the subscription
    only with the box owner's credentials; the nonce it got may be reused with a growing nc
    (RFC 2617 §3.2.2), as libre (baresip) does; a refresh without credentials moves nothing."""
    w = Switch(("1002", "1003"))
    assert subscribe(w, "1002", "1002", 1.0) == 200
    assert len(notifies(w, "1002")) == 1
    assert refresh(w, "1002", now=2.0, cseq=3) == 401
    assert len(notifies(w, "1002")) == 1  # a challenged refresh sends no NOTIFY
    auth = answer_refresh(w, "1002", "pw1002")
    assert refresh(w, "1002", now=2.1, cseq=4, auth=auth) == 200
    assert len(notifies(w, "1002")) == 2  # RFC 6665 §4.2.1.2: a NOTIFY per refresh
    # the same nonce, next nc: accepted without a new challenge
    p = w["1002"]
    ok = next(r for r in p.responses(200) if r.cseq.method == "SUBSCRIBE")
    again = build_authorization(header(next(r for r in reversed(p.responses(401))),
                                       "WWW-Authenticate"), method="SUBSCRIBE",
                                uri=str(ok.contacts[0].uri), user="1002", password="pw1002",
                                cnonce="def", nc=2)
    assert refresh(w, "1002", now=2.2, cseq=5, auth=again) == 200
    # a wrong password: 401 again, and the subscription is still there
    assert refresh(w, "1002", now=2.3, cseq=6) == 401
    wrong = answer_refresh(w, "1002", "nope")
    assert refresh(w, "1002", now=2.4, cseq=7, auth=wrong) == 401
    assert w.sig.mwi is not None and len(w.sig.mwi) == 1
    # an unsubscribe without credentials is challenged too: nobody ends it by guessing tags
    assert refresh(w, "1002", now=2.5, cseq=8, expires=0) == 401
    assert len(w.sig.mwi) == 1
    auth = answer_refresh(w, "1002", "pw1002")
    assert refresh(w, "1002", now=2.6, cseq=9, auth=auth, expires=0) == 200
    assert len(w.sig.mwi) == 0


def test_a_refresh_with_another_users_credentials_is_403() -> None:
    w = Switch(("1002", "1003"))
    assert subscribe(w, "1002", "1002", 1.0) == 200
    assert refresh(w, "1002", now=2.0, cseq=3) == 401
    p = w["1002"]
    ok = next(r for r in p.responses(200) if r.cseq.method == "SUBSCRIBE")
    other = build_authorization(header(p.last_response(), "WWW-Authenticate"),
                                method="SUBSCRIBE", uri=str(ok.contacts[0].uri), user="1003",
                                password="pw1003", cnonce="x")
    assert refresh(w, "1002", now=2.1, cseq=4, auth=other) == 403
    assert w.sig.mwi is not None and len(w.sig.mwi) == 1


def test_refreshes_without_credentials_share_the_sources_challenge_budget() -> None:
    """A phone looping on unauthenticated refreshes gets 401s within the per-source budget
    (mwiwire.CHALLENGED_SUBSCRIBES), then 503 + Retry-After with no nonce kept."""
    w = Switch(("1002",))
    assert subscribe(w, "1002", "1002", 1.0) == 200  # one challenge of the budget used
    nonces = len(w.sig.auth._nonces)
    statuses = [refresh(w, "1002", now=1.1 + i / 100, cseq=3 + i) for i in range(11)]
    assert statuses == [401] * 9 + [503, 503]
    assert len(w.sig.auth._nonces) - nonces == 9
    assert w.sig.counters["subscribe_flood"] == 2
    # with credentials the budget does not apply (no challenge is needed)
    p = w["1002"]
    ok = next(r for r in p.responses(200) if r.cseq.method == "SUBSCRIBE")
    auth = build_authorization(header(p.responses(401)[-1], "WWW-Authenticate"),
                               method="SUBSCRIBE", uri=str(ok.contacts[0].uri), user="1002",
                               password="pw1002", cnonce="z")
    assert refresh(w, "1002", now=1.3, cseq=20, auth=auth) == 200


def test_a_queue_overflows_to_its_own_mailbox() -> None:
    from sipphone import DEMO

    from ccswitch.config.schema import parse_config

    text = DEMO.read_text().replace(
        "[queues.support]\n", '[queues.support]\nmailbox = true\nmax_wait = 5\n'
        'overflow = "voicemail:support"\n', 1)
    w = Switch(("1001",), config=parse_config(text, "demo.toml"))
    w.dial("1001", "800", 0.0, call_id="vmq")
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 0.1)
    leg = w.leg_of(ok)
    assert not [c for c in w.commands(Play) if isinstance(c, Play)
                and isinstance(c.source, PlayFile) and c.source.path.endswith("leave-message.wav")]
    mark = w.mark()
    w.run_until(6.0)  # max_wait: the overflow rule sends the caller to the queue's mailbox
    played: list[str] = []
    for _ in range(3):
        played += finish_plays(w, leg, 6.5, mark)
        if "/p/vm/beep.wav" in played:
            break
    assert played[-2:] == ["/p/leave-message.wav", "/p/vm/beep.wav"], played
    digits(w, leg, "#", 9.0)
    (stored,) = [e for e in w.events if isinstance(e, VoicemailStored)]
    assert (stored.box, stored.caller) == ("support", "1001")


def test_unsolicited_mwi_notifies_the_registered_phone_without_a_subscribe() -> None:
    from sipphone import DEMO

    from ccswitch.config.schema import parse_config

    text = DEMO.read_text() + (
        '\n[[users]]\nname = "3001"\npassword = "pw3001"\n'
        'mailbox = { pin = "77", unsolicited = true }\n')
    w = Switch(("1001",), config=parse_config(text, "demo.toml"))
    p = w.add("3001", 7005, register=False)
    to, cid, hdrs = "<sip:3001@ccswitch.local>", "reg-3001", "Expires: 600\n"
    p.send(p.request("REGISTER", "sip:ccswitch.local", call_id=cid, cseq=1, to=to,
                     extra=hdrs), 0.0)
    deliver(w.sig, [p])
    auth = build_authorization(header(p.last_response(), "WWW-Authenticate"),
                               method="REGISTER", uri="sip:ccswitch.local", user="3001",
                               password="pw3001", cnonce="c0")
    p.send(p.request("REGISTER", "sip:ccswitch.local", call_id=cid, cseq=2, to=to,
                     extra=f"{hdrs}Authorization: {auth}\n"), 0.0)
    w.pump()
    assert p.responses()[-1].status == 200
    (first,) = notifies(w, "3001")  # at registration: the lamp's state
    assert header(first, "Subscription-State") == "active"
    assert str(first.uri).startswith("sip:3001@127.0.0.1:7005")
    assert MessageSummary.parse(first.body).waiting is False
    w["3001"].reply(first, 200, "OK", 0.5)
    w.pump()
    w.dial("1001", "3001", 1.0, call_id="vmu")
    inv = w["3001"].take("INVITE")
    w["3001"].reply(inv, 486, "Busy Here", 1.2, to_tag="r")
    w.pump()
    ok = w["1001"].last_response()
    w.ack("1001", ok, 1.3)
    deposit(w, w.leg_of(ok), 2.0)
    got = notifies(w, "3001")
    assert len(got) == 2 and MessageSummary.parse(got[1].body).waiting is True
    assert notifies(w, "1001") == []  # a phone without unsolicited MWI gets none


def test_a_recorded_greeting_replaces_the_spoken_one() -> None:
    from ccswitch.call.voicemail import Voicemail
    from ccswitch.voicemail import Play as VmPlay

    cfg = demo_config().voicemail
    vm = Voicemail(config=cfg, box_dir=lambda box: f"/vm/{box}", new_id=lambda: "id1",
                   emit=lambda e: None, domain="ccswitch.local",
                   recorded_greeting=lambda box: "/g/1002.wav" if box == "1002" else None)
    _, with_file = vm.deposit("1002", "1001")
    _, without = vm.deposit("1003", "1001")
    with_file.start(0.0)
    without.start(0.0)
    assert with_file.actions() == [VmPlay(1, ("/g/1002.wav",))]
    assert without.actions() == [VmPlay(1, ("leave-message",))]
    assert with_file.file == "/vm/1002/id1.wav"


def _answered_then_routed_to(w: Switch, user: str, now: float) -> int:
    """1001's call to the echo test (answered by the switch) is handed to ``user`` as a
    menu would hand it over; returns the caller's media leg."""
    from ccswitch.call.targets import route
    from ccswitch.dialplan import UserTarget

    w.dial("1001", "9196", now, call_id="vmr")
    ok = w["1001"].last_response()
    w.ack("1001", ok, now + 0.1)
    (call,) = w.sig.b2bua._calls.values()
    assert route(w.sig.b2bua, call, UserTarget(user), now + 0.2) == "ringing"
    w.pump()
    return w.leg_of(ok)


def test_a_menu_hand_off_to_a_busy_user_goes_to_its_mailbox() -> None:
    w = Switch(("1001", "1002"))
    leg = _answered_then_routed_to(w, "1002", 1.0)
    inv = w["1002"].take("INVITE")
    mark = w.mark()
    w["1002"].reply(inv, 486, "Busy Here", 1.5, to_tag="r")
    w.pump()
    assert finish_plays(w, leg, 2.0, mark)[:2] == ["/p/leave-message.wav", "/p/vm/beep.wav"]


def test_a_menu_hand_off_nobody_answers_goes_to_the_mailbox_after_no_answer() -> None:
    w = Switch(("1001", "1002"))
    leg = _answered_then_routed_to(w, "1002", 1.0)
    inv = w["1002"].take("INVITE")
    w["1002"].reply(inv, 180, "Ringing", 1.3, to_tag="r")
    w.pump()
    mark = w.mark()
    w.run_until(21.1)
    assert not finish_plays(w, leg, 21.1, mark)
    w.run_until(21.2)  # no_answer (20 s) after the hand-off at 1.2
    assert w["1002"].requests("CANCEL")
    assert finish_plays(w, leg, 21.5, mark)[:1] == ["/p/leave-message.wav"]


def test_an_ivr_key_can_send_the_caller_to_a_mailbox() -> None:
    from sipphone import DEMO

    from ccswitch.config.schema import parse_config

    text = DEMO.read_text().replace('9 = "echo"', '9 = "echo"\n4 = "voicemail:1002"', 1)
    w = Switch(("1001",), config=parse_config(text, "demo.toml"))
    w.dial("1001", "700", 0.0, call_id="vmi")
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 0.1)
    leg = w.leg_of(ok)
    finish_plays(w, leg, 0.5, 0)  # welcome, main menu
    mark = w.mark()
    digits(w, leg, "4", 1.0)
    assert finish_plays(w, leg, 1.5, mark)[:2] == ["/p/leave-message.wav", "/p/vm/beep.wav"]
    digits(w, leg, "#", 4.0)
    (stored,) = [e for e in w.events if isinstance(e, VoicemailStored)]
    assert stored.box == "1002"


def test_a_client_looping_on_new_unauthenticated_subscribes_gets_503_beyond_its_budget() -> None:
    """baresip 1.0.0's mwi module can loop on new subscriptions without ever answering the
    challenge (docs/voicemail.md): 10 per source in 10 s get a 401, the rest 503 +
    Retry-After with no nonce kept; the source's budget comes back when the window ends."""
    w = Switch(("1002",))
    p = w["1002"]
    ruri, to = "sip:1002@ccswitch.local", "<sip:1002@ccswitch.local>"
    hdrs = "Event: message-summary\nExpires: 600\n"
    nonces_before = len(w.sig.auth._nonces)
    statuses = []
    for i in range(12):  # all at 1.0 + i/100 s, well inside one 10 s window
        p.send(p.request("SUBSCRIBE", ruri, call_id=f"loop{i}", cseq=1, to=to, extra=hdrs),
               1.0 + i / 100)
        deliver(w.sig, [p])
        statuses.append(p.last_response().status)
    assert statuses == [401] * 10 + [503, 503]
    # the window opened at 1.0 and ends at 11.0; the 12th came at 1.11: 9.89 s, rounded up
    assert header(p.last_response(), "Retry-After") == "10"
    assert len(w.sig.auth._nonces) - nonces_before == 10  # one nonce per challenge only
    assert w.sig.counters["subscribe_flood"] == 2
    # once the window is over, the phone subscribes as usual (401, then 200 with credentials)
    assert subscribe(w, "1002", "1002", 11.5, call_id="after") == 200


def answered(w: Switch, user: str, number: str, now: float, call_id: str) -> int:
    """``user`` dials ``number``, the switch answers, the ACK goes: the caller's leg."""
    w.dial(user, number, now, call_id=call_id)
    ok = w[user].last_response()
    assert ok.status == 200
    w.ack(user, ok, now + 0.1)
    return w.leg_of(ok)


def test_silence_ends_the_message_and_the_silence_is_not_counted() -> None:
    w = Switch(("1001",))
    leg = answered(w, "1001", "1005", 0.0, "vmq")
    finish_plays(w, leg, 1.0, 0)  # greeting and beep end at 1.0: the recording starts
    rec = [c for c in w.commands(StartRecord) if isinstance(c, StartRecord)]
    # the demo's [voicemail] keeps the defaults: silence = 5 s, silence_threshold = 128
    assert len(rec) == 1 and (rec[0].silence_s, rec[0].silence_level) == (5.0, 128)
    mark = w.mark()
    # 3 s of speech, then 5 s of quiet: the worker reports it at 1.0 + 3 + 5 = 9.0
    w.sig.media_events([RecordSilence(rec[0].rec_id, leg, 3.0)], 9.0)
    w.pump()
    assert [c for c in w.since(mark, StopRecord)] == [StopRecord(rec[0].rec_id)]
    stored = [e for e in w.events if isinstance(e, VoicemailStored)]
    # recorded from 1.0 to 9.0 = 8 s, less the 5 s of silence = 3 s
    assert len(stored) == 1 and abs(stored[0].duration - 3.0) < 1e-6
    # a late or stray report changes nothing
    w.sig.media_events([RecordSilence(rec[0].rec_id, leg, 3.0)], 9.5)
    w.pump()
    assert len([e for e in w.events if isinstance(e, VoicemailStored)]) == 1


def test_star97_0_records_a_greeting_that_becomes_the_boxs_own() -> None:
    w = Switch(("1002",))
    leg = answered(w, "1002", "*97", 1.0, "vmg")
    finish_plays(w, leg, 2.0, 0)
    mark = w.mark()
    digits(w, leg, "1002#", 3.0)
    # an empty box: "no messages", then the options (no goodbye)
    assert finish_plays(w, leg, 4.0, mark) == ["/p/vm/no-messages.wav", "/p/vm/options.wav",
                                               "/p/vm/options-greeting.wav"]
    mark = w.mark()
    digits(w, leg, "0", 5.0)
    assert finish_plays(w, leg, 6.0, mark) == ["/p/vm/record-greeting.wav", "/p/vm/beep.wav"]
    rec = [c for c in w.since(mark, StartRecord) if isinstance(c, StartRecord)]
    assert len(rec) == 1 and rec[0].path.startswith("voicemail/1002/greeting-")
    assert rec[0].silence_s == 3.0  # the greeting's own silence limit
    mark = w.mark()
    digits(w, leg, "#", 10.0)
    assert [c for c in w.since(mark, StopRecord)] == [StopRecord(rec[0].rec_id)]
    played = finish_plays(w, leg, 11.0, mark)
    assert played == ["/p/vm/your-greeting.wav", rec[0].path, "/p/vm/greeting-options.wav"]
    mark = w.mark()
    digits(w, leg, "1", 12.0)
    assert [(e.box, e.file) for e in w.events if isinstance(e, VoicemailGreeting)] == [
        ("1002", rec[0].path)]
    assert finish_plays(w, leg, 13.0, mark) == ["/p/vm/greeting-saved.wav",
                                               "/p/vm/options.wav",
                                               "/p/vm/options-greeting.wav"]


def test_unsolicited_mwi_resumes_after_a_restart_from_the_restored_bindings() -> None:
    from sipphone import DEMO

    from ccswitch.config.schema import parse_config
    from ccswitch.sip.addr import Address
    from ccswitch.sip.registrar import Binding

    text = DEMO.read_text() + (
        '\n[[users]]\nname = "3001"\npassword = "pw3001"\n'
        'mailbox = { pin = "77", unsolicited = true }\n')
    w = Switch(("1001",), config=parse_config(text, "demo.toml"))
    w.add("3001", 7005, register=False)
    # what a restarted daemon finds in its stores: 3001's binding, and one new message
    w.sig.restore_bindings([Binding("3001", "sip:3001@127.0.0.1:7005", 600.0, "r1", 2,
                                    Address("udp", "127.0.0.1", 7005))], 0.0)
    w.sig.restore_voicemail([Message("m1", "3001", "1001", 5.0, 4.0, "m1.wav")], 1.0)
    w.pump()
    (first,) = notifies(w, "3001")  # no REGISTER since the restart, still told
    assert str(first.uri) == "sip:3001@127.0.0.1:7005"
    summary = MessageSummary.parse(first.body)
    assert summary.waiting and (summary.voice_counts.new, summary.voice_counts.old) == (1, 0)


def _greeting_take(w: Switch, leg: int, now: float) -> StartRecord:
    """``*97`` answered on ``leg``: the PIN, then option 0; the take's StartRecord."""
    finish_plays(w, leg, now, 0)
    mark = w.mark()
    digits(w, leg, "1002#", now + 1)
    finish_plays(w, leg, now + 2, mark)
    mark = w.mark()
    digits(w, leg, "0", now + 3)
    finish_plays(w, leg, now + 4, mark)
    (rec,) = [c for c in w.since(mark, StartRecord) if isinstance(c, StartRecord)]
    return rec


def test_the_greeting_recorders_limits_come_from_voicemail_settings_and_reload() -> None:
    from sipphone import DEMO

    from ccswitch.config.schema import parse_config

    def demo(limits: str) -> str:  # the demo's [voicemail] with these keys added
        return DEMO.read_text().replace("[voicemail]\n", "[voicemail]\n" + limits, 1)

    limits = 'greeting_max_length = 30\ngreeting_min_length = 2\ngreeting_silence = 1.5\n'
    w = Switch(("1002",), config=parse_config(demo(limits), "demo.toml"))
    leg = answered(w, "1002", "*97", 1.0, "vmg1")
    rec = _greeting_take(w, leg, 2.0)
    assert rec.silence_s == 1.5
    # a take of 1.8 s is under greeting_min_length = 2: "too short", and the intro again
    mark = w.mark()
    digits(w, leg, "#", 6.0 + 1.8)
    assert finish_plays(w, leg, 8.0, mark)[:3] == [
        "/p/vm/greeting-too-short.wav", "/p/vm/record-greeting.wav", "/p/vm/beep.wav"]
    (again,) = [c for c in w.since(mark, StartRecord) if isinstance(c, StartRecord)]
    # nothing pressed: greeting_max_length (30 s after the take began at 8.0) stops it
    mark = w.mark()
    w.at(37.9)
    assert not w.since(mark, StopRecord)
    w.at(38.0)
    assert [c for c in w.since(mark, StopRecord)] == [StopRecord(again.rec_id)]
    # a reload changes the limits for the next *97 (the [voicemail] settings are live)
    changed = limits.replace("greeting_silence = 1.5", "greeting_silence = 0")
    result = w.sig.reload(parse_config(demo(changed), "demo.toml"), 40.0)
    assert "voicemail" in result.changed
    leg2 = answered(w, "1002", "*97", 41.0, "vmg2")
    assert _greeting_take(w, leg2, 42.0).silence_s == 0.0
