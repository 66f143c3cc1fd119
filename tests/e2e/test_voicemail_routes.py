"""Voicemail reached by routes other than a user's own number, with real peers: a queue
whose callers overflow to its own mailbox (`overflow = "voicemail:support"`), and a phone
configured for unsolicited message-waiting NOTIFYs (`mailbox = { unsolicited = true }`,
docs/voicemail.md) that gets the lamp without ever subscribing."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_baresip import PhoneFactory
from e2e_calls import CALLER_HZ, account, hang_up, tone_file, uri
from e2e_daemon import REPO, Daemon
from e2e_media import query, settle, wav_info
from e2e_queue import agent, write_config
from e2e_sipp import Sipp
from e2e_tones import presence
from e2e_util import wait_until

pytestmark = pytest.mark.e2e

DEMO = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()
MAX_WAIT = 4  # seconds a support caller waits before the overflow to the mailbox


def config(path: Path) -> Path:
    """The demo, with support's callers going to its mailbox after MAX_WAIT seconds and 1020
    (split off the 1001-1020 range) asking for unsolicited MWI."""
    text = DEMO.replace('[queues.support]\n', '[queues.support]\nmailbox = true\n'
                        f'max_wait = {MAX_WAIT}\noverflow = "voicemail:support"\n', 1)
    text = text.replace('range = "1001-1020"', 'range = "1001-1019"', 1)
    assert text.count("voicemail:support") == 1 and 'range = "1001-1019"' in text
    return write_config(path, text + '''
[[users]]
name = "1020"
password = "pw1020"
display = "Phone 1020"
mailbox = { unsolicited = true }
''')


def test_a_queue_caller_nobody_takes_overflows_to_the_queues_mailbox(
    phones: PhoneFactory, start_daemon: Any, tmp_path: Path
) -> None:
    """No support agent is logged in: after max_wait the caller hears the mailbox's greeting
    and beep, talks, hangs up; the message is in box `support` and holds the tone."""
    daemon: Daemon = settle(start_daemon(extra_args=("--config", str(config(tmp_path / "c.toml")))))
    caller = phones("caller-1001", account=account(daemon, "1001", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "800"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    assert daemon.log.wait_for("voicemail_recording", timeout=MAX_WAIT + 25, box="support"), \
        daemon.tail()
    time.sleep(3.0)
    hang_up(caller)
    assert daemon.log.wait_for("voicemail_stored", timeout=15, box="support"), daemon.tail()
    rows = query(daemon.data_dir, "SELECT * FROM voicemail WHERE box = 'support'")
    assert len(rows) == 1 and rows[0]["caller"] == "1001", rows
    wav = daemon.data_dir / "voicemail" / "support" / rows[0]["file"]
    assert wait_until(lambda: daemon.log.find("recording_done", path=str(wav)) is not None,
                      timeout=10), daemon.tail()
    assert wav_info(wav).seconds >= 2.0
    assert presence(wav, (CALLER_HZ,)).seconds(CALLER_HZ) >= 2.0
    # the queue's own record says where the caller went
    events = query(daemon.data_dir, "SELECT event, data FROM queue_events")
    assert any(re.search(r"voicemail:support", str(e["data"])) for e in events), events


def test_a_phone_asking_for_unsolicited_mwi_gets_the_lamp_without_subscribing(
    phones: PhoneFactory, start_daemon: Any, sipp: Sipp, tmp_path: Path
) -> None:
    """1020 (`mailbox = { unsolicited = true }`) registers from SIPp and never subscribes: it
    gets an out-of-dialog NOTIFY with its box's state at once (no messages), then, after a
    caller it turned away busy left a message, one saying `Messages-Waiting: yes`."""
    daemon: Daemon = settle(start_daemon(extra_args=("--config", str(config(tmp_path / "c.toml")))))
    phone = agent(sipp, daemon, "1020", "uas_mwi.xml", calls=3, timeout=90)
    assert wait_until(lambda: daemon.log.find("mwi_notify", box="1020", unsolicited=True,
                                              waiting=False) is not None, timeout=15), \
        daemon.tail()
    caller = phones("caller-1001", account=account(daemon, "1001", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1020"))
    assert daemon.log.wait_for("voicemail_recording", timeout=30, box="1020"), daemon.tail()
    time.sleep(2.0)
    caller.send_digits("#")
    assert daemon.log.wait_for("voicemail_stored", timeout=15, box="1020"), daemon.tail()
    assert daemon.log.wait_for("mwi_notify", timeout=10, box="1020", unsolicited=True,
                               waiting=True), daemon.tail()
    result = phone.wait(timeout=40)
    assert result.ok, result.describe()
    # what the phone received: the first NOTIFY said no, the last one yes
    notifies = result.requests("NOTIFY", direction="received")
    waiting = [w for n in notifies for w in re.findall(r"Messages-Waiting: *(yes|no)", n.text)]
    assert waiting and waiting[0] == "no" and waiting[-1] == "yes", waiting
    assert not [e for e in daemon.log.events() if e.get("event") == "mwi_notify_failed"]
