"""Transfers (issue 9) with real peers: REFER (RFC 3515, NOTIFY sipfrag), REFER with Replaces
(RFC 3891) and INVITE with Replaces, on the demo configuration (CONTRACT "Demo additions":
a phone in a call may transfer it to any number of the dial plan).

- The harness: baresip's `transfer` sends a REFER naming the target (checked by a SIPp UAS,
  no switch), so a failure of the blind-transfer test is the switch's.
- Blind: caller 1001 (440 Hz) -> queue 800 -> agent 2002 (1500 Hz, baresip); the agent
  transfers to 1002 (2200 Hz): the caller then hears 1002 and 1002 hears the caller.
- Attended: baresip 1.0.0 (Debian 12) has no `atransfer` and no Replaces support at all, so
  the transferor is SIPp user 1003 (`transfer_attended.xml`): it calls 1001, consults 1002,
  sends REFER with Replaces; the two baresip phones then hear each other.
- INVITE with Replaces: 1001 calls SIPp user 1004 (registered, RTP echo), which replaces that
  dialog with a new one (`invite_replaces.xml`): the switch answers it, ends the old dialog,
  and 1001's call goes on over the new one until SIPp hangs it up.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import write_tone
from e2e_baresip import PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, THIRD_HZ, hang_up, heard, phone, queue_call, uri
from e2e_daemon import Daemon
from e2e_queue import credentials, register
from e2e_sipp import Sipp
from e2e_util import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

TALK = 3.0  # seconds each party talks in each phase


def test_harness_baresip_transfer_sends_refer_and_hangs_up_on_final_notify(
    phones: PhoneFactory, sipp: Sipp, tmp_path: Path
) -> None:
    port = free_port()
    uas = sipp.start("uas_refer.xml", local_port=port, timeout=20, tag="refer")
    a = phones("a", account="<sip:alice@127.0.0.1:{sip_port}>;regint=0",
               source_wav=write_tone(tmp_path / "a.wav", CALLER_HZ, 20))  # fmt: skip
    try:
        a.dial(f"sip:bob@{LOOPBACK}:{port}")
        a.wait_event("CALL_ESTABLISHED", timeout=10)
        time.sleep(0.5)
        a.transfer(f"sip:1002@{LOOPBACK}:5999")
        a.wait_event("CALL_CLOSED", timeout=10)
        result = uas.wait(10)
    finally:
        uas.stop()
    assert result.ok, result.describe()
    (refer,) = result.requests("REFER", "received")
    assert f"sip:1002@{LOOPBACK}:5999" in (refer.header("Refer-To") or ""), refer.text
    assert result.requests("BYE", "received"), result.describe()


def test_agent_blind_transfers_a_queue_caller_to_1002(
    phones: PhoneFactory, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    agent = phone(phones, daemon, tmp_path, "agent-2002", "2002", AGENT_HZ, register=True,
                  auto=True)  # fmt: skip
    target = phone(phones, daemon, tmp_path, "target-1002", "1002", THIRD_HZ, register=True,
                   auto=True)  # fmt: skip
    caller = phone(phones, daemon, tmp_path, "caller-1001", "1001", CALLER_HZ)
    queue_call(caller, agent, daemon)
    time.sleep(TALK)
    agent.transfer(uri(daemon, "1002"))
    target.wait_event("CALL_ESTABLISHED", timeout=15)
    agent.wait_event("CALL_CLOSED", timeout=10)  # baresip hangs up on the final NOTIFY
    time.sleep(TALK)
    assert not caller.closed(), "the caller was hung up by the transfer"
    hang_up(caller, target, agent)

    c, t = heard(caller), heard(target)
    assert c.seconds(AGENT_HZ) >= TALK - 1.5, f"the caller never talked to the agent: {c}"
    assert c.seconds(THIRD_HZ) >= TALK - 1.5, f"the caller should hear 1002 after the transfer: {c}"
    assert t.seconds(CALLER_HZ) >= TALK - 1.5, f"1002 should hear the caller: {t}"
    assert t.seconds(AGENT_HZ) < 0.5, f"1002 should not hear the agent: {t}"


def test_sipp_transferor_refer_with_replaces_joins_the_two_baresip_phones(
    phones: PhoneFactory, sipp: Sipp, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    transferee = phone(phones, daemon, tmp_path, "transferee-1001", "1001", CALLER_HZ,
                       register=True, auto=True)  # fmt: skip
    target = phone(phones, daemon, tmp_path, "target-1002", "1002", THIRD_HZ, register=True,
                   auto=True)  # fmt: skip
    result = sipp.run(
        "transfer_attended.xml", *credentials(sipp, "1003"), "-set", "transferee", "1001",
        "-set", "target", "1002", "-cid_str", "%u-%p-e2e", "-d", str(int(TALK * 1000)),
        remote=daemon.sip_port, timeout=40, tag="1003",
    )  # fmt: skip
    assert result.ok, result.describe()
    (refer,) = [r for r in result.requests("REFER") if "Authorization" not in r.text] or [None]
    assert refer is not None and "Replaces=" in (refer.header("Refer-To") or ""), (
        result.describe()
    )
    assert 202 in result.received_statuses(), result.describe()
    notifies = result.requests("NOTIFY", "received")
    assert notifies and "SIP/2.0 200" in notifies[-1].text, result.describe()
    time.sleep(TALK)
    assert not transferee.closed() and not target.closed(), (
        "the transfer ended a call instead of joining the two phones"
    )
    hang_up(transferee, target)
    a, b = heard(transferee), heard(target)
    assert a.seconds(THIRD_HZ) >= TALK - 1.5, f"1001 should hear 1002 after the transfer: {a}"
    assert b.seconds(CALLER_HZ) >= TALK - 1.5, f"1002 should hear 1001 after the transfer: {b}"


def test_invite_with_replaces_from_a_registered_phone_takes_over_the_call(
    phones: PhoneFactory, sipp: Sipp, module_daemon: Daemon, tmp_path: Path
) -> None:
    daemon = module_daemon
    port = register(sipp, daemon, "1004")
    uas = sipp.start("invite_replaces.xml", *credentials(sipp, "1004"), "-set", "peer", "1001",
                     "-d", "2000", "-rtp_echo", remote=daemon.sip_port, local_port=port, timeout=30,
                     tag="1004")  # fmt: skip
    caller = phone(phones, daemon, tmp_path, "caller-1001", "1001", CALLER_HZ)
    try:
        caller.dial(uri(daemon, "1004"))
        caller.wait_event("CALL_ESTABLISHED", timeout=10)
        result = uas.wait(30)
    finally:
        uas.stop()
    assert result.ok, result.describe()
    invites = result.requests("INVITE")
    assert invites and "Replaces:" in invites[-1].text, result.describe()
    # the call went on over the new dialog: SIPp's BYE on it ends 1001's call
    caller.wait_event("CALL_CLOSED", timeout=5)
    caller.stop()
    c = heard(caller)
    # RTP echo: 1001 hears itself over dialog 1 (2 s), then over dialog 2 (3 s)
    assert c.seconds(CALLER_HZ) >= 2.0 + 3.0 - 1.5, (
        f"1001 should hear the echo over both dialogs: {c}"
    )

