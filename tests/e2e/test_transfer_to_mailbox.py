"""A transfer to a user with a mailbox follows the direct call's rules (issue 11), with real
baresip phones on the demo configuration (CONTRACT "Demo additions": 1001-1020 have a
mailbox; a call to such a user goes to it when the user has no registered phone, is busy
or does not answer within 20 s; a phone in a call may transfer it to any number).

1001 (playing 440 Hz) calls 1004 (auto-answer, 1500 Hz), which blind-transfers it (REFER)
to 1002: 1002 has no registered phone (first test) or rings and never answers (second):
1001 is answered by 1002's mailbox, leaves a message, and the WAV under
DATA_DIR/voicemail/1002/ holds 1001's tone and not 1004's; the transferor was told the
transfer succeeded (baresip hangs up on the final NOTIFY 200) and the CDR's transfer step
says ``voicemail:1002``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from e2e_baresip import Baresip, PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, THIRD_HZ, account, phone, tone_file, uri
from e2e_daemon import Daemon
from e2e_media import query, settle
from e2e_tones import presence
from e2e_util import wait_until

pytestmark = pytest.mark.e2e

TALK = 2.0  # seconds 1001 and 1004 talk before the transfer
MESSAGE_S = 4.0
SLACK = 1.5


def _transferred_call(phones: PhoneFactory, daemon: Daemon, tmp_path: Path) -> Baresip:
    """1001 calls 1004, they talk, 1004 transfers 1001 to 1002: 1001's phone."""
    transferor = phone(phones, daemon, tmp_path, "transferor-1004", "1004", AGENT_HZ,
                       register=True, auto=True)  # fmt: skip
    caller = phones("caller-1001", account=account(daemon, "1001", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1004"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    transferor.wait_event("CALL_ESTABLISHED", timeout=15)
    time.sleep(TALK)
    transferor.transfer(uri(daemon, "1002"))
    return caller


def _leaves_a_message(daemon: Daemon, caller: Baresip) -> None:
    """1001 hears the greeting and the beep, talks, presses #: the row, the WAV, the CDR."""
    assert daemon.log.wait_for("transfer_to_voicemail", timeout=40, box="1002"), daemon.tail()
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1002"), daemon.tail()
    time.sleep(MESSAGE_S)
    caller.send_digits("#")
    assert daemon.log.wait_for("voicemail_stored", timeout=15, box="1002"), daemon.tail()
    caller.closed_reason(timeout=15)  # "message saved, goodbye": the switch hangs up
    rows = query(daemon.data_dir, "SELECT * FROM voicemail WHERE box = '1002'")
    assert len(rows) == 1 and rows[0]["caller"] == "1001", rows
    wav = daemon.data_dir / "voicemail" / "1002" / rows[0]["file"]
    assert wait_until(lambda: daemon.log.find("recording_done", path=str(wav)) is not None,
                      timeout=10), daemon.tail()
    tone = presence(wav, (CALLER_HZ, AGENT_HZ, THIRD_HZ))
    assert tone.seconds(CALLER_HZ) >= MESSAGE_S - SLACK, tone.describe()
    assert tone.seconds(AGENT_HZ) < 0.5, tone.describe()  # not the transferor
    assert wait_until(lambda: any(r["transfers"] for r in query(
        daemon.data_dir, "SELECT * FROM cdr")), timeout=10), daemon.tail()
    (cdr,) = [r for r in query(daemon.data_dir, "SELECT * FROM cdr") if r["transfers"]]
    (step,) = json.loads(cdr["transfers"])
    assert (step["kind"], step["target"], step["result"]) == ("blind", "1002",
                                                              "voicemail:1002"), step


def test_a_transfer_to_a_user_with_no_phone_reaches_its_mailbox(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    settle(daemon)
    caller = _transferred_call(phones, daemon, tmp_path)
    _leaves_a_message(daemon, caller)


def test_a_transfer_to_a_user_who_does_not_answer_reaches_its_mailbox_after_20_s(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    settle(daemon)
    target = phone(phones, daemon, tmp_path, "target-1002", "1002", THIRD_HZ,
                   register=True)  # fmt: skip  (rings, never answers)
    caller = _transferred_call(phones, daemon, tmp_path)
    target.wait_event("CALL_INCOMING", timeout=15)
    assert daemon.log.wait_for("voicemail_divert", timeout=40, box="1002"), daemon.tail()
    target.closed_reason(timeout=10)  # CANCELled: it stops ringing
    assert not [e for e in target.events() if e.get("type") == "CALL_ESTABLISHED"]
    _leaves_a_message(daemon, caller)
