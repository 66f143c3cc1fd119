"""Conference rooms (issue 9) with baresip phones on the demo configuration (CONTRACT "Demo
additions": room 850 without PIN, room 851 with PIN 4321 asked by a prompt and entered as
DTMF; each member hears every other member and not itself).

The harness check (passes today): baresip's `sndcode 4321#` reaches the switch as five RFC
4733 digits in order (the daemon's `digit` log lines, on a call to the echo test 9196).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_baresip import Baresip, PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, THIRD_HZ, hang_up, heard, phone, uri
from e2e_daemon import Daemon
from e2e_util import wait_until

pytestmark = pytest.mark.e2e

TALK = 3.0
SLACK = 1.5
PIN_DELAY = 2.0  # s after answer before keying the PIN (digits during the prompt count)

# TODO(lead): if the demo configuration records rooms, check the room recording here (a
# `recording_done` log line naming the room, and its WAV holding all three tones).
ROOM_RECORDED = False


def test_harness_baresip_sends_a_pin_as_rfc4733_digits_in_order(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    p = phone(phones, daemon, tmp_path, "digits-1013", "1013", CALLER_HZ)
    p.dial(uri(daemon, "9196"))
    p.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(0.5)
    p.send_digits("4321#")

    def keys() -> list[str]:
        return [str(e.get("key")) for e in daemon.log.events() if e.get("event") == "digit"]

    wait_until(lambda: len(keys()) >= 5, timeout=5)
    hang_up(p)
    assert keys()[-5:] == ["4", "3", "2", "1", "#"], daemon.tail()


def join(p: Baresip, daemon: Daemon, room: str, pin: str | None = None, call: int = 1) -> None:
    p.dial(uri(daemon, room))
    p.wait_nth("CALL_ESTABLISHED", call, timeout=10)
    if pin is not None:
        time.sleep(PIN_DELAY)
        p.send_digits(pin)


def test_three_members_of_room_850_each_hear_the_other_two_and_not_themselves(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    members = [phone(phones, daemon, tmp_path, f"member-{u}", u, hz)
               for u, hz in (("1014", CALLER_HZ), ("1015", AGENT_HZ), ("1016", THIRD_HZ))]
    for m in members:
        join(m, daemon, "850")
    time.sleep(TALK)
    assert not any(m.closed() for m in members), "a member's call ended"
    hang_up(*members)
    tones = (CALLER_HZ, AGENT_HZ, THIRD_HZ)
    for m, own in zip(members, tones, strict=True):
        h = heard(m)
        for other in tones:
            if other == own:
                assert h.seconds(own) < 0.5, f"{h.name} hears itself: {h}"
            else:
                assert h.seconds(other) >= TALK - SLACK, f"{h.name} should hear {other:.0f} Hz: {h}"
    if ROOM_RECORDED:
        raise AssertionError("room recording check: to be written when the config records rooms")


def test_room_851_refuses_a_wrong_pin_and_admits_4321(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    first = phone(phones, daemon, tmp_path, "first-1017", "1017", CALLER_HZ)
    second = phone(phones, daemon, tmp_path, "second-1018", "1018", AGENT_HZ)
    join(first, daemon, "851", "4321#")
    time.sleep(2.0)
    join(second, daemon, "851", "1111#")
    time.sleep(TALK)  # refused: re-prompted or hung up, never in the room
    assert not first.closed(), "the member with the right PIN was dropped"
    if second.closed():  # hung up after the wrong PIN: call again
        join(second, daemon, "851", "4321#", call=2)
    else:
        time.sleep(PIN_DELAY)
        second.send_digits("4321#")
    time.sleep(TALK + 1.0)
    assert not first.closed() and not second.closed(), "a member's call ended"
    hang_up(first, second)
    f, s = heard(first), heard(second)
    # the first member heard the second only once it was admitted (TALK s, not 2 x TALK)
    assert TALK - SLACK <= f.seconds(AGENT_HZ) <= TALK + 1.0 + SLACK, (
        f"1017 should hear 1018 only after the right PIN: {f}"
    )
    assert s.seconds(CALLER_HZ) >= TALK - SLACK, f"1018 should hear 1017 once admitted: {s}"
