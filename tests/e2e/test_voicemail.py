"""Voicemail with message-waiting lamps (issue 11 point 6) on the demo configuration
(CONTRACT "Demo additions" -> "Voicemail": users 1001-1020 have a mailbox, PIN = extension;
a call to a user without a registered phone goes to its mailbox; `*97` from the user's own
phone opens it; phones subscribing to `message-summary` get NOTIFYs).

One story, with real baresip phones: 1001 (playing 440 Hz) calls 1002, which is not
registered, and leaves a message ended by `#`; the WAV under DATA_DIR/voicemail/1002/ holds
the tone and the `voicemail` table its row.  Then 1002's phone registers with baresip's `mwi`
module, which subscribes to its own AOR: the switch NOTIFYs `Messages-Waiting: yes`.  1002
dials `*97`, keys its PIN, hears the message (the 440 Hz tone in what it received), deletes
it with `7`, and the lamp goes off (`Messages-Waiting: no`).
"""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e_baresip import BaresipError, PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, account, hang_up, heard, tone_file, uri
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import query, settle, wav_info
from e2e_sipp import Sipp
from e2e_tones import presence
from e2e_util import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

MESSAGE_S = 4.0  # how long the caller talks after the beep
SLACK = 1.5


def notifies(daemon: Daemon, waiting: bool) -> list[dict[str, Any]]:
    return [e for e in daemon.log.events()
            if e.get("event") == "mwi_notify" and e.get("box") == "1002"
            and e.get("waiting") is waiting]  # fmt: skip


def test_a_message_for_an_unregistered_user_lights_its_lamp_and_plays_on_star97(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    settle(daemon)
    caller = phones("caller-1001", account=account(daemon, "1001", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1002"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    # the greeting and the beep, then the recording starts
    assert daemon.log.wait_for("voicemail_deposit", timeout=10, box="1002"), daemon.tail()
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1002"), daemon.tail()
    time.sleep(MESSAGE_S)
    caller.send_digits("#")
    stored = daemon.log.wait_for("voicemail_stored", timeout=15, box="1002")
    assert stored is not None, daemon.tail()
    caller.closed_reason(timeout=15)  # "message saved, goodbye": the switch hangs up
    rows = query(daemon.data_dir, "SELECT * FROM voicemail")
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["box"], row["caller"], row["folder"]) == ("1002", "1001", "new"), row
    assert MESSAGE_S - SLACK <= row["duration"] <= MESSAGE_S + SLACK, row
    wav = daemon.data_dir / "voicemail" / "1002" / row["file"]
    assert wait_until(lambda: daemon.log.find("recording_done", path=str(wav)) is not None,
                      timeout=10), daemon.tail()
    info = wav_info(wav)
    assert (info.channels, info.rate) == (1, 8000), info
    tone = presence(wav, (CALLER_HZ, AGENT_HZ))
    assert tone.seconds(CALLER_HZ) >= MESSAGE_S - SLACK, tone.describe()

    # 1002's phone comes: its mwi module subscribes, the lamp lights
    owner = phones("owner-1002", account=account(daemon, "1002", register=True),
                   source_wav=tone_file(tmp_path, AGENT_HZ), modules=("mwi.so",))
    try:
        owner.wait_registered(timeout=10)
    except BaresipError as e:
        raise AssertionError(f"{e}\n--- daemon ---\n{daemon.log.text()[-12000:]}") from e
    assert wait_until(lambda: bool(notifies(daemon, True)), timeout=15), daemon.tail()
    sub = daemon.log.find("mwi_subscribe", box="1002", status=200)
    assert sub is not None, daemon.tail()
    # and the phone itself took the NOTIFY (its mwi module prints the body)
    assert wait_until(lambda: "Messages-Waiting: yes" in owner.output(100_000), timeout=10), \
        owner.output()

    # *97, the PIN, the message plays (the caller's tone), 7 deletes it: the lamp goes off
    owner.dial(uri(daemon, "*97"))
    owner.wait_event("CALL_ESTABLISHED", timeout=15)
    assert daemon.log.wait_for("voicemail_menu", timeout=10, box="1002"), daemon.tail()
    time.sleep(2.0)
    owner.send_digits("1002#")
    heard_at = daemon.log.wait_for("voicemail_heard", timeout=20, box="1002")
    assert heard_at is not None, daemon.tail()
    time.sleep(MESSAGE_S + 2.0)  # "message 1", then the message itself
    owner.send_digits("7")
    assert daemon.log.wait_for("voicemail_deleted", timeout=10, box="1002"), daemon.tail()
    assert wait_until(lambda: bool(notifies(daemon, False)), timeout=10), daemon.tail()
    assert wait_until(lambda: "Messages-Waiting: no" in owner.output(100_000), timeout=10), \
        owner.output()
    time.sleep(1.0)
    hang_up(owner)
    got = heard(owner)
    assert got.seconds(CALLER_HZ) >= MESSAGE_S - SLACK, f"the message was not heard: {got}"
    assert wait_until(lambda: not query(daemon.data_dir, "SELECT * FROM voicemail"),
                      timeout=10)
    assert not wav.exists()


def test_a_user_who_does_not_answer_within_20_s_takes_a_message(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    """1003's registered baresip rings and never answers: after `no_answer` (20 s) the switch
    CANCELs it and the caller leaves a message."""
    settle(daemon)
    callee = phones("callee-1003", account=account(daemon, "1003", register=True),
                    source_wav=tone_file(tmp_path, AGENT_HZ))  # fmt: skip
    callee.wait_registered(timeout=10)
    caller = phones("caller-1004", account=account(daemon, "1004", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1003"))
    callee.wait_event("CALL_INCOMING", timeout=15)
    divert = daemon.log.wait_for("voicemail_divert", timeout=40)
    assert divert is not None, daemon.tail()
    callee.closed_reason(timeout=10)  # CANCELled: it stops ringing
    assert not [e for e in callee.events() if e.get("type") == "CALL_ESTABLISHED"]
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1003"), daemon.tail()
    time.sleep(MESSAGE_S)
    hang_up(caller)  # hanging up keeps the message
    assert daemon.log.wait_for("voicemail_stored", timeout=15, box="1003"), daemon.tail()
    rows = query(daemon.data_dir, "SELECT * FROM voicemail WHERE box = '1003'")
    assert len(rows) == 1 and rows[0]["caller"] == "1004", rows
    cdr = [r for r in query(daemon.data_dir, "SELECT * FROM cdr") if r["callee"] == "1003"]
    assert len(cdr) == 1 and cdr[0]["status"] == 200, cdr


def test_a_user_who_rejects_the_call_busy_takes_a_message(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    """1006's baresip rejects the incoming call (a busy answer): the caller is answered
    by 1006's mailbox instead of hearing busy."""
    settle(daemon)
    callee = phones("callee-1006", account=account(daemon, "1006", register=True),
                    source_wav=tone_file(tmp_path, AGENT_HZ))  # fmt: skip
    callee.wait_registered(timeout=10)
    caller = phones("caller-1007", account=account(daemon, "1007", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1006"))
    callee.wait_event("CALL_INCOMING", timeout=15)
    time.sleep(0.5)
    callee.hangup()  # reject
    divert = daemon.log.wait_for("voicemail_divert", timeout=10)
    assert divert is not None, daemon.tail()
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1006"), daemon.tail()
    time.sleep(MESSAGE_S)
    caller.send_digits("#")
    assert daemon.log.wait_for("voicemail_stored", timeout=15, box="1006"), daemon.tail()
    rows = query(daemon.data_dir, "SELECT * FROM voicemail WHERE box = '1006'")
    assert len(rows) == 1 and rows[0]["caller"] == "1007", rows


def _tone_then_quiet(path: Path, freq: float, tone_s: float, quiet_s: float) -> Path:
    """A mono 8 kHz WAV: ``tone_s`` of a sine at -10 dBFS, then ``quiet_s`` of zeros."""
    t = np.arange(int(8000 * tone_s)) / 8000
    tone = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    samples = np.concatenate((tone, np.zeros(int(8000 * quiet_s), dtype="<i2")))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())
    return path


def test_silence_ends_a_message_and_is_cut_off(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    """1008 talks (a tone) for 12 s from the answer, then says nothing: 5 s of silence
    (`[voicemail] silence`, the default) end the message without `#`, the switch says
    goodbye, and the WAV stops where the tone stopped."""
    tone_s, silence_s = 12.0, 5.0
    settle(daemon)
    source = _tone_then_quiet(tmp_path / "talk-then-quiet.wav", CALLER_HZ, tone_s, 20.0)
    caller = phones("caller-1008", account=account(daemon, "1008", register=False),
                    source_wav=source)  # fmt: skip
    caller.dial(uri(daemon, "1009"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1009"), daemon.tail()
    # the tone ends 12 s after the answer, the message 5 s later; no key is sent
    stored = daemon.log.wait_for("voicemail_stored", timeout=tone_s + silence_s + 15, box="1009")
    assert stored is not None, daemon.tail()
    caller.closed_reason(timeout=15)  # "message saved, goodbye" and the switch hangs up
    rows = query(daemon.data_dir, "SELECT * FROM voicemail WHERE box = '1009'")
    assert len(rows) == 1, rows
    wav = daemon.data_dir / "voicemail" / "1009" / rows[0]["file"]
    assert wait_until(lambda: daemon.log.find("recording_done", path=str(wav)) is not None,
                      timeout=10), daemon.tail()
    seconds = wav_info(wav).seconds
    # the row counts the recording less the silence; the file was cut where the tone ended
    assert abs(seconds - rows[0]["duration"]) <= 0.6, (seconds, rows[0])
    assert seconds >= 2.0, seconds  # the greeting and beep take well under 10 of the 12 s
    tail = presence(wav, (CALLER_HZ,), start=seconds - 0.5)
    assert tail.seconds(CALLER_HZ) >= 0.3, f"trailing silence kept: {tail.describe()}"
    whole = presence(wav, (CALLER_HZ,))
    assert whole.loud_seconds >= seconds - 0.6, whole.describe()


def test_star97_records_the_boxs_greeting_and_callers_hear_it(
    phones: PhoneFactory, daemon: Daemon, tmp_path: Path
) -> None:
    """1010 dials `*97`, keys its PIN, `0`, talks (its 660 Hz tone) for 3 s, `#`, hears it
    back and keeps it with `1`: the file is DATA_DIR/voicemail/greetings/1010.wav, and the
    next caller to 1010's mailbox hears that tone instead of the spoken greeting."""
    settle(daemon)
    owner = phones("owner-1010", account=account(daemon, "1010", register=False),
                   source_wav=tone_file(tmp_path, AGENT_HZ))  # fmt: skip
    owner.dial(uri(daemon, "*97"))
    owner.wait_event("CALL_ESTABLISHED", timeout=15)
    assert daemon.log.wait_for("voicemail_menu", timeout=10, box="1010"), daemon.tail()
    time.sleep(2.0)
    owner.send_digits("1010#")
    time.sleep(2.0)  # "you have no messages", then the options: a key cuts them short
    owner.send_digits("0")
    assert daemon.log.wait_for("voicemail_recording", timeout=20, box="1010"), daemon.tail()
    time.sleep(3.0)
    owner.send_digits("#")
    time.sleep(2.0)  # "your greeting is", the take, the choice: a key cuts them short
    owner.send_digits("1")
    saved = daemon.log.wait_for("voicemail_greeting_saved", timeout=10, box="1010")
    assert saved is not None, daemon.tail()
    greeting = daemon.data_dir / "voicemail" / "greetings" / "1010.wav"
    assert saved["path"] == str(greeting) and greeting.is_file()
    took = presence(greeting, (CALLER_HZ, AGENT_HZ))
    assert took.seconds(AGENT_HZ) >= 2.0, took.describe()  # 3 s of tone, less the slack
    assert not list((daemon.data_dir / "voicemail" / "1010").glob("greeting-*.wav"))
    hang_up(owner)

    caller = phones("caller-1011", account=account(daemon, "1011", register=False),
                    source_wav=tone_file(tmp_path, CALLER_HZ))  # fmt: skip
    caller.dial(uri(daemon, "1010"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    # the greeting (1010's tone) and the beep, then the message's recording starts
    assert wait_until(lambda: len([e for e in daemon.log.events()
                                   if e.get("event") == "voicemail_recording"
                                   and e.get("box") == "1010"]) >= 2, timeout=20), \
        daemon.tail()
    hang_up(caller)
    got = heard(caller)
    assert got.seconds(AGENT_HZ) >= 2.0, f"the recorded greeting was not heard: {got}"


def test_a_subscribe_refresh_in_the_dialog_is_challenged_like_the_first(
        daemon: Daemon, sipp: Sipp) -> None:
    """Issue 11: SIPp subscribes to 1002's mailbox, then refreshes and ends the subscription
    inside its dialog; each of those SUBSCRIBEs is challenged (401) and taken with 1002's
    credentials, with a NOTIFY after each (RFC 6665), the last one terminated."""
    creds = sipp.credentials("1002", "pw1002")
    got = sipp.run("uac_mwi_refresh.xml", "-inf", str(creds),
                   "-auth_uri", f"1002@127.0.0.1:{daemon.sip_port}",
                   remote=daemon.sip_port, timeout=30)
    assert got.ok, got.describe()
    assert got.received_statuses() == [401, 200, 401, 200, 401, 200], got.describe()
    subs = [e for e in daemon.log.events()
            if e.get("event") == "mwi_subscribe" and e.get("box") == "1002"]
    assert [(e["initial"], e["expires"]) for e in subs] == [(True, 120), (False, 120),
                                                           (False, 0)], daemon.tail()
    ended = daemon.log.find("mwi_subscription_ended", box="1002")
    assert ended is not None and ended["reason"] == "unsubscribed", daemon.tail()


def test_baresips_mwi_refreshes_its_subscription_through_the_challenge(
        start_daemon: DaemonFactory, phones: PhoneFactory, tmp_path: Path) -> None:
    """The real phone under the refresh rule: with `mwi_max_expires = 60` baresip's mwi module
    (which asks for 600 s) is granted 60 s and refreshes inside its dialog before that; the
    refresh is challenged (or carries credentials already, libre keeps them) and accepted."""
    demo = (ROOT / "configs" / "demo.toml").read_text()
    old = "pin_attempts = 3   # wrong PINs before *97 hangs up"
    assert old in demo
    conf = tmp_path / "mwi60.toml"
    conf.write_text(demo.replace(old, f"{old}\nmwi_max_expires = 60", 1))
    daemon = start_daemon(extra_args=["--config", str(conf)])
    owner = phones("mwi-1002", account=account(daemon, "1002", register=True),
                   source_wav=tone_file(tmp_path, AGENT_HZ), modules=("mwi.so",))
    owner.wait_registered(timeout=15)
    first = daemon.log.wait_for("mwi_subscribe", 20.0, box="1002", status=200, initial=True)
    assert first is not None and first["expires"] == 60, daemon.tail()
    again = daemon.log.wait_for("mwi_subscribe", 80.0, box="1002", status=200, initial=False)
    assert again is not None, daemon.tail()
    assert again["expires"] == 60
    assert daemon.log.find("mwi_subscription_ended", box="1002") is None, daemon.tail()
