"""Supervisor listen / whisper / barge (issue 9) with baresip phones on the demo configuration
(CONTRACT "Demo additions": 1020 supervises both queues; `*31`/`*32`/`*33` + agent extension;
keys 4/5/6 switch mode mid-call; nobody else may use the codes).

Caller 1001 plays 440 Hz, agent 200x 1500 Hz, the supervisor 2200 Hz. Who heard whom is told
by `e2e_tones.presence` over each phone's received recording, in seconds of each tone, so no
clock is shared between the phones: e.g. after listen (3 s), whisper (3 s) and barge (3 s)
the agent heard the supervisor for about 6 s and the caller for about 3 s.

The harness check (passes today): a phone playing 440 + 1500 Hz at once and one playing 440
Hz call the echo test 9196; the analysis finds both tones in the first recording and only
440 Hz in the second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_baresip import Baresip, PhoneFactory
from e2e_calls import (
    AGENT_HZ,
    CALLER_HZ,
    SUPERVISOR,
    THIRD_HZ,
    account,
    hang_up,
    heard,
    phone,
    queue_call,
    uri,
)
from e2e_daemon import Daemon
from e2e_queue import credentials
from e2e_sipp import Sipp, dial_args
from e2e_tones import mixed_tone

pytestmark = pytest.mark.e2e

PHASE = 3.0  # seconds per supervision mode
SLACK = 1.5  # seconds of set-up and jitter allowed per comparison


def test_harness_tone_analysis_tells_440_from_1500_in_a_mixed_echo(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    mixed = phones("mixed", account=account(daemon, "1011", register=False),
                   source_wav=mixed_tone(tmp_path / "mix.wav", (CALLER_HZ, AGENT_HZ), 20))
    pure = phone(phones, daemon, tmp_path, "pure", "1012", CALLER_HZ)  # fmt: skip
    for p in (mixed, pure):
        p.dial(uri(daemon, "9196"))
    for p in (mixed, pure):
        p.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(PHASE)
    hang_up(mixed, pure)
    m, p = heard(mixed), heard(pure)
    assert m.seconds(CALLER_HZ) >= PHASE - SLACK and m.seconds(AGENT_HZ) >= PHASE - SLACK, m
    assert m.seconds(THIRD_HZ) == 0.0, m
    assert p.seconds(CALLER_HZ) >= PHASE - SLACK, p
    assert p.seconds(AGENT_HZ) == 0.0 and p.seconds(THIRD_HZ) == 0.0, p


def supervised_call(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path, agent_user: str
) -> tuple[Baresip, Baresip, Baresip]:
    """Caller 1001 -> queue 800 -> agent `agent_user`; the supervisor's phone, idle."""
    agent = phone(phones, daemon, tmp_path, f"agent-{agent_user}", agent_user, AGENT_HZ,
                  register=True, auto=True)  # fmt: skip
    caller = phone(phones, daemon, tmp_path, "caller-1001", "1001", CALLER_HZ)
    sup = phone(phones, daemon, tmp_path, "supervisor", SUPERVISOR, THIRD_HZ)
    queue_call(caller, agent, daemon)
    time.sleep(1.0)
    return caller, agent, sup


def test_listen_then_keys_5_6_4_switch_to_whisper_barge_and_back(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    """*31 + agent: listen; key 5 whisper, key 6 barge, key 4 listen again."""
    daemon = module_daemon
    caller, agent, sup = supervised_call(phones, daemon, tmp_path, "2001")
    sup.dial(uri(daemon, "*312001"))
    sup.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(PHASE)  # listen
    sup.send_digits("5")
    time.sleep(PHASE)  # whisper
    sup.send_digits("6")
    time.sleep(PHASE)  # barge
    sup.send_digits("4")
    time.sleep(PHASE)  # listen again
    assert not sup.closed() and not caller.closed() and not agent.closed()
    hang_up(sup, caller, agent)

    s, c, a = heard(sup), heard(caller), heard(agent)
    assert s.seconds(CALLER_HZ) >= 4 * PHASE - 2 * SLACK, f"the supervisor hears the caller: {s}"
    assert s.seconds(AGENT_HZ) >= 4 * PHASE - 2 * SLACK, f"the supervisor hears the agent: {s}"
    # the caller hears the supervisor only while barging
    assert PHASE - SLACK <= c.seconds(THIRD_HZ) <= PHASE + SLACK, (
        f"the caller should hear the supervisor for the barge only (~{PHASE:.0f} s): {c}"
    )
    # the agent hears the supervisor while whispered to and while barged
    assert 2 * PHASE - SLACK <= a.seconds(THIRD_HZ) <= 2 * PHASE + SLACK, (
        f"the agent should hear the supervisor in whisper and barge (~{2 * PHASE:.0f} s): {a}"
    )
    assert c.seconds(AGENT_HZ) >= 4 * PHASE - 2 * SLACK, f"caller and agent still talk: {c}"
    assert a.seconds(CALLER_HZ) >= 4 * PHASE - 2 * SLACK, f"caller and agent still talk: {a}"


def test_star_32_whisper_only_the_agent_hears_the_supervisor(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    caller, agent, sup = supervised_call(phones, daemon, tmp_path, "2003")
    sup.dial(uri(daemon, "*322003"))
    sup.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(PHASE)
    assert not sup.closed()
    hang_up(sup, caller, agent)
    s, c, a = heard(sup), heard(caller), heard(agent)
    assert a.seconds(THIRD_HZ) >= PHASE - SLACK, f"the agent should hear the whisper: {a}"
    assert c.seconds(THIRD_HZ) == 0.0, f"the caller must never hear a whisper: {c}"
    assert s.seconds(CALLER_HZ) >= PHASE - SLACK and s.seconds(AGENT_HZ) >= PHASE - SLACK, s


def test_star_33_barge_all_three_hear_each_other(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    caller, agent, sup = supervised_call(phones, daemon, tmp_path, "2004")
    sup.dial(uri(daemon, "*332004"))
    sup.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(PHASE)
    assert not sup.closed()
    hang_up(sup, caller, agent)
    s, c, a = heard(sup), heard(caller), heard(agent)
    assert s.seconds(CALLER_HZ) >= PHASE - SLACK and s.seconds(AGENT_HZ) >= PHASE - SLACK, s
    assert c.seconds(THIRD_HZ) >= PHASE - SLACK and c.seconds(AGENT_HZ) >= PHASE - SLACK, c
    assert a.seconds(THIRD_HZ) >= PHASE - SLACK and a.seconds(CALLER_HZ) >= PHASE - SLACK, a
    assert s.seconds(THIRD_HZ) == 0.0, f"the supervisor hears itself: {s}"


def test_a_non_supervisor_dialling_star_31_is_refused(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    """1005 dials *31 + agent during a live queue call: 403, or answered with a refusal
    prompt and hung up by the switch; either way it hears neither party and nobody hears it."""
    daemon = module_daemon
    caller, agent, _sup = supervised_call(phones, daemon, tmp_path, "2008")
    intruder = phone(phones, daemon, tmp_path, "intruder-1005", "1005", THIRD_HZ)
    intruder.dial(uri(daemon, "*312008"))
    reason = intruder.closed_reason(timeout=20)
    answered = any(e.get("type") == "CALL_ESTABLISHED" for e in intruder.events())
    assert "403" in reason or answered, (
        f"a non-supervisor's *31 must get 403 or a refusal prompt, got {reason!r}"
    )
    time.sleep(1.0)
    hang_up(caller, agent, intruder)
    c, a = heard(caller), heard(agent)
    assert c.seconds(THIRD_HZ) == 0.0 and a.seconds(THIRD_HZ) == 0.0, (c, a)
    if answered:
        i = heard(intruder)
        assert i.seconds(CALLER_HZ) == 0.0 and i.seconds(AGENT_HZ) == 0.0, i


def test_a_supervisor_sending_info_digits_switches_modes(
    phones: PhoneFactory, sipp: Sipp, module_daemon: Daemon, tmp_path: Path
) -> None:
    """Supervisor 1020 is a SIPp phone that sends its keys as SIP INFO only
    (`supervisor_info.xml`): *31 + 2002 listens, then INFO 5, 6, 4 switch to whisper, barge
    and listen again (issue 11: digits are heard whatever the phone sends)."""
    daemon = module_daemon
    agent = phone(phones, daemon, tmp_path, "agent-2002", "2002", AGENT_HZ, register=True,
                  auto=True)  # fmt: skip
    caller = phone(phones, daemon, tmp_path, "caller-1001", "1001", CALLER_HZ)
    queue_call(caller, agent, daemon)
    time.sleep(1.0)
    started = len(daemon.log.events())
    result = sipp.run("supervisor_info.xml", *dial_args("*312002", daemon.sip_port),
                      *credentials(sipp, SUPERVISOR), "-d", str(int(PHASE * 1000)),
                      remote=daemon.sip_port, timeout=40, tag="sup-info")  # fmt: skip
    assert result.ok, result.describe()
    assert not caller.closed() and not agent.closed(), "supervising ended the call"
    new = daemon.log.events()[started:]
    (begun,) = [e for e in new if e.get("event") == "supervision_started"]
    modes = [e["mode"] for e in new if e.get("event") == "supervision_mode"
             and e.get("call_id") == begun["call_id"]]  # fmt: skip
    assert modes == ["listen", "whisper", "barge", "listen"], daemon.tail()
    keys = [e["key"] for e in new if e.get("event") == "digit" and e.get("method") == "info"
            and e.get("call_id") == begun["call_id"]]  # fmt: skip
    assert keys == ["5", "6", "4"], daemon.tail()
    time.sleep(1.0)
    hang_up(caller, agent)
    c, a = heard(caller), heard(agent)
    assert c.seconds(AGENT_HZ) >= 3 * PHASE - SLACK, f"caller and agent still talk: {c}"
    assert a.seconds(CALLER_HZ) >= 3 * PHASE - SLACK, f"caller and agent still talk: {a}"
