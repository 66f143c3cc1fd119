"""Digits the switch itself reads, however the phone sends them (fake clock): a supervisor's
in-call keys 4/5/6 and a room's PIN, as RFC 4733 or in-band digits (the worker's ``Digit``
events) and as SIP INFO (``application/dtmf-relay`` and ``application/dtmf``).  Room members
press no keys once in (mute and kick are the API's), so the PIN is what rooms read."""

from __future__ import annotations

import pytest
from callworld import Switch
from test_room_calls import USERS as ROOM_USERS
from test_room_calls import join, last_play, prompt
from test_supervise_calls import Supervised

from ccswitch.media.commands import Detect, Digit, JoinBus
from ccswitch.sip.message import Response

BODIES = {"dtmf-relay": ("application/dtmf-relay", "Signal={k}\r\nDuration=160\r\n"),
          "dtmf": ("application/dtmf", "{k}")}


def info(w: Switch, user: str, ok: Response, key: str, now: float, *, cseq: int,
         kind: str = "dtmf-relay") -> None:
    """``user``'s phone sends ``key`` by INFO in the dialog of its call's 200 ``ok``."""
    ctype, body = BODIES[kind]
    p = w[user]
    p.send(p.in_dialog("INFO", ok, cseq=cseq, body=body.format(k=key),
                       extra=f"Content-Type: {ctype}\n"), now)
    w.pump()
    answers = [r for r in p.responses() if r.cseq.method == "INFO" and r.cseq.seq == cseq]
    assert [r.status for r in answers][-1:] == [200]


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_supervisors_info_keys_switch_modes(kind: str) -> None:
    s = Supervised()
    w = s.w
    ok, sup = s.supervise()
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}  # listen
    info(w, "1020", ok, "5", 6.0, cseq=3, kind=kind)  # whisper: the agent hears it
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg, sup}
    assert sup not in w.hearing.hears(s.caller_leg)
    info(w, "1020", ok, "6", 7.0, cseq=4, kind=kind)  # barge: all three
    assert sup in w.hearing.hears(s.caller_leg) and sup in w.hearing.hears(s.agent_leg)
    info(w, "1020", ok, "4", 8.0, cseq=5, kind=kind)  # listen again
    assert w.hearing.hears(s.caller_leg) == {s.agent_leg}
    assert w.hearing.hears(s.agent_leg) == {s.caller_leg}
    # nothing was relayed to the supervised phones
    assert not w["1001"].requests("INFO") and not w["2001"].requests("INFO")


@pytest.mark.parametrize("method", ["rfc4733", "inband"])
def test_a_supervisors_worker_digits_switch_modes(method: str) -> None:
    s = Supervised()
    w = s.w
    _, sup = s.supervise()
    # the supervisor's leg is watched for in-band tones as well as RFC 4733 events
    assert Detect(sup, inband=True) in w.commands(Detect)
    w.sig.media_events([Digit(sup, "6", method)], 6.0)  # type: ignore[arg-type]
    w.pump()
    assert sup in w.hearing.hears(s.caller_leg)


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_room_pin_by_info_lets_the_caller_in(kind: str) -> None:
    w = Switch(ROOM_USERS)
    ok, leg = join(w, "1002", "851", 1.0)
    assert prompt(last_play(w, leg)) == "enter-pin"
    for i, k in enumerate("4321"):
        info(w, "1002", ok, k, 2.0 + i / 10, cseq=3 + i, kind=kind)
    (jb,) = [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]
    assert jb.talk and jb.listen


def test_a_room_pin_in_band_lets_the_caller_in() -> None:
    w = Switch(ROOM_USERS)
    _, leg = join(w, "1002", "851", 1.0)
    assert Detect(leg, inband=True) in w.commands(Detect)
    for i, k in enumerate("4321"):
        w.sig.media_events([Digit(leg, k, "inband")], 2.0 + i / 10)
        w.pump()
    assert [c for c in w.commands(JoinBus) if isinstance(c, JoinBus) and c.leg == leg]


def test_a_room_members_info_is_answered_and_changes_nothing() -> None:
    w = Switch(ROOM_USERS)
    ok, leg = join(w, "1001", "850", 1.0)
    _, leg2 = join(w, "1003", "850", 1.5)
    info(w, "1001", ok, "5", 2.0, cseq=3)
    assert w.hearing.hears(leg) == {leg2} and w.hearing.hears(leg2) == {leg}
    assert w["1001"].requests("BYE") == []
