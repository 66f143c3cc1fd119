"""A CDR (``CallEnded``) for every call attempt, refused ones included, with one call id, and
the log lines an operator reads about them (``call_refused``, ``auth_failed``…).

Driven through ``Signaling`` with scripted phones and a fake clock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import structlog
from sipphone import DEMO, Phone, deliver
from structlog.testing import capture_logs
from test_anchor import CALL, World, offer
from test_queue_calls import QueueWorld

from ccswitch.acd.events import CallerEntered
from ccswitch.call.events import CallEnded
from ccswitch.config.schema import SwitchConfig, VoicemailConfig, parse_config
from ccswitch.media.commands import ConfigureLeg, Digit, StartRecord


def without_voicemail() -> SwitchConfig:
    cfg = parse_config(DEMO.read_text(), "demo.toml")
    return dataclasses.replace(cfg, voicemail=VoicemailConfig())


def ended(events: list[object]) -> list[CallEnded]:
    return [e for e in events if isinstance(e, CallEnded)]


def summary(e: CallEnded) -> tuple[object, ...]:
    return e.status, e.ended_by, e.caller, e.callee, e.sip_call_id


def refused_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "call_refused"]


def test_an_unknown_number_is_a_404_attempt_logged_as_refused() -> None:
    w = World()
    with capture_logs() as logs:
        assert w.call(offer(4000), number="5555") is None
    assert w.a.last_response().status == 404
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (404, "switch", "1001", "5555", CALL)
    assert cdr.answered is None and cdr.started == cdr.ended == 1.0
    assert (cdr.queue, cdr.agent, cdr.recording) == (None, None, None)
    (line,) = refused_logs(logs)
    assert line["call_id"] == cdr.call_id and line["status"] == 404
    assert line["reason"] == "no such number" and line["source"] == "udp:127.0.0.1:7001"
    assert len(w.plan.ports) == 5  # a refusal takes no media


def test_a_user_without_a_registered_phone_is_a_480_attempt() -> None:
    w = World()  # 2003 is an agent: no mailbox to take the call
    with capture_logs() as logs:
        assert w.call(offer(4000), number="2003") is None
    assert w.a.last_response().status == 480
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (480, "switch", "1001", "2003", CALL)
    assert refused_logs(logs)[0]["reason"] == "user not registered"


def test_a_busy_callee_ends_the_attempt_486_by_the_callee() -> None:
    w = World(config=without_voicemail())  # with its mailbox, 1002 busy takes a message
    inv = w.call(offer(4000))
    assert inv is not None
    w.b.reply(inv, 486, "Busy Here", 1.5, to_tag="bt")
    w.flush()
    assert w.a.last_response().status == 486
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (486, "callee", "1001", "1002", CALL)
    assert cdr.answered is None and cdr.ended == 1.5


def test_a_cancelled_call_is_487_ended_by_the_caller() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    w.a.send(w.a.request("CANCEL", "sip:1002@127.0.0.1", call_id=CALL, cseq=2,
                         to="<sip:1002@ccswitch.local>", branch=w.a.last_branch,
                         contact=None), 3.0)
    w.flush()
    assert 487 in w.a.statuses()
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (487, "caller", "1001", "1002", CALL)
    assert cdr.ended == 3.0


def test_no_free_rtp_port_is_a_503_attempt() -> None:
    w = World(ports=(30000, 30001))  # one leg's worth: a call needs two
    with capture_logs() as logs:
        assert w.call(offer(4000)) is None
    assert w.a.last_response().status == 503
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (503, "switch", "1001", "1002", CALL)
    assert refused_logs(logs)[0]["reason"] == "no RTP port free"


def test_challenges_are_not_attempts_but_the_403_of_a_blocked_caller_is() -> None:
    w = World()
    guesser = Phone(w.sig, "1001", 7009, password="guess")
    with capture_logs() as logs:
        for i in range(5):  # demo: 5 failures within the window block (source, user)
            guesser.invite("1002", 1.0 + i, call_id=f"guess-{i}", body=offer(4000))
            assert guesser.last_response().status == 407
        assert ended(w.sig.events()) == []  # only challenged: no call attempt yet
        guesser.invite("1002", 9.0, call_id="guess-5", body=offer(4000))
    assert guesser.last_response().status == 403
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (403, "switch", "1001", "1002", "guess-5")
    failed = [e for e in logs if e["event"] == "auth_failed"]
    assert [e["reason"] for e in failed] == ["wrong_password"] * 5 + ["blocked"]
    assert {(e["user"], e["source"], e["ip"], e["method"]) for e in failed} == {
        ("1001", "127.0.0.1:7009", "127.0.0.1", "INVITE")}
    (blocked,) = [e for e in logs if e["event"] == "auth_blocked"]
    assert (blocked["user"], blocked["source"], blocked["failures"]) == (
        "1001", "127.0.0.1:7009", 5)
    assert refused_logs(logs)[0]["status"] == 403


def test_an_unknown_user_is_logged_as_such_and_answered_like_a_known_one() -> None:
    w = World()
    known = Phone(w.sig, "1001", 7010, password="guess")
    unknown = Phone(w.sig, "7777", 7011, password="guess")
    with capture_logs() as logs:
        known.invite("1002", 1.0, call_id="k-1", body=offer(4000))
        unknown.invite("1002", 1.0, call_id="u-1", body=offer(4000))
    k, u = known.last_response(), unknown.last_response()
    assert (k.status, k.reason) == (u.status, u.reason) == (407, "Proxy Authentication Required")
    assert sorted(n for n, _ in k.headers.items()) == sorted(n for n, _ in u.headers.items())
    failed = {e["user"]: e["reason"] for e in logs if e["event"] == "auth_failed"}
    assert failed == {"1001": "wrong_password", "7777": "unknown_user"}


def test_an_answered_call_hung_up_by_the_callee_has_one_id_for_cdr_and_recording() -> None:
    w = World()
    w.plan.record_calls = True
    w.plan.recording_path = lambda name, ext: f"/rec/{name}.{ext}"
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    with capture_logs() as logs:
        w.b.send(w.b.in_dialog("BYE", inv, cseq=5, my_tag="bt"), 4.0)
        w.flush()
    (cdr,) = ended(w.sig.events())
    assert summary(cdr) == (200, "callee", "1001", "1002", CALL)
    (start,) = [c for _, c in w.sig.media_commands() if isinstance(c, StartRecord)] or [None]
    assert cdr.recording == f"/rec/{cdr.call_id}.wav"
    assert start is None or start.path == cdr.recording
    assert cdr.call_id != CALL and len(cdr.call_id) == 16 and cdr.call_id.isalnum()
    (line,) = [e for e in logs if e["event"] == "call_ended"]
    assert (line["call_id"], line["ended_by"], line["status"]) == (cdr.call_id, "callee", 200)


def test_two_invites_sharing_a_call_id_get_two_call_ids() -> None:
    """An upstream fork (or a loop) can bring one Call-ID twice: each is its own call."""
    w = World()
    for number in ("5555", "5556"):
        w.a.invite(number, 1.0, call_id=CALL, body=offer(4000))
    first, second = ended(w.sig.events())
    assert first.sip_call_id == second.sip_call_id == CALL
    assert first.call_id != second.call_id


def test_a_queue_call_answered_by_an_agent_names_the_queue_and_the_agent() -> None:
    w = QueueWorld(("2001",))
    ok = w.dial()
    inv = w.invite_to("2001")
    w.agents["2001"].reply(inv, 200, "OK", 3.0, to_tag="ag1", body=offer(6000))
    w.pump()
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 20.0)
    w.pump()
    (cdr,) = ended(w.events)
    (entered,) = [e for e in w.events if isinstance(e, CallerEntered)]
    assert (cdr.queue, cdr.agent, cdr.ended_by, cdr.status) == ("support", "2001", "caller", 200)
    assert cdr.call_id == entered.call_id  # the queue event log uses the CDR's id
    assert cdr.callee == "queue:support" and cdr.answered == 1.0


def test_a_digit_and_what_it_causes_name_the_call_and_the_leg() -> None:
    """A key from a media worker (keyed by leg) is logged with its call id, and so is every
    line logged while it is handled (bound context)."""
    w = QueueWorld(("2001",))
    w.dial()
    (entered,) = [e for e in w.events if isinstance(e, CallerEntered)]
    leg = next(c.leg for c in w.cmds if isinstance(c, ConfigureLeg))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        w.sig.media_events([Digit(leg, "0", "rfc4733")], 5.0)  # 0: leave the queue
        deliver(w.sig, [w.a])
    (digit,) = [e for e in logs if e["event"] == "digit"]
    assert (digit["call_id"], digit["leg"], digit["key"]) == (entered.call_id, leg, "0")
    assert len(logs) > 1, logs  # the overflow and the end of the call were logged too
    assert all(e.get("call_id") == entered.call_id for e in logs), logs
    assert structlog.contextvars.get_contextvars() == {}  # unbound afterwards
