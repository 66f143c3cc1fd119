"""Recording compliance end to end with real peers: baresip phones call a queue, the agent
(baresip, auto-answer) answers, and the 2-channel recording is checked sample by sample.

1. The recording is paused through the API while the caller sends a 440 Hz tone, then
   resumed: the WAV holds digital silence (every sample 0, both channels) exactly over the
   paused span the row names, and the tone before and after it.
2. The agent transfers the caller (API) to an IVR menu marked ``sensitive``; the caller keys
   a card number as in-band DTMF tones; the switch hears the digits (the menu hands the call
   to the echo test) but no DTMF tone reaches the recording, which records again after.
3. The agent desktop (Chromium) pauses and resumes the recording from the call card.
4. Retention at start-up: old recordings' files deleted, their rows kept and marked.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from e2e_audio import write_tone
from e2e_baresip import Baresip, PhoneFactory
from e2e_daemon import REPO, Daemon, DaemonFactory
from e2e_media import channels, query, settle
from e2e_queue import agent as sipp_agent
from e2e_queue import caller as sipp_caller
from e2e_queue import wait_queue_event, write_config
from e2e_sipp import Sipp
from e2e_tones import presence
from e2e_util import LOOPBACK, wait_until
from test_agent_desktop import WAIT_MS, artifact_dir, sign_in
from test_agent_desktop import config as desk_config
from test_queue import account

from ccswitch.call.events import CallEnded
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location

pytestmark = pytest.mark.e2e

CALLER_HZ, AGENT_HZ = 440.0, 880.0
ADMIN = {"Authorization": "Bearer rec-admin-token"}
EDGE = 0.03  # s: how far the silence may start or end from the row's offsets (the worker
# counts them in recorded frames; a tone may cross zero a sample or two after the span)
DTMF = {"1": (697.0, 1209.0), "2": (697.0, 1336.0), "3": (697.0, 1477.0),
        "4": (770.0, 1209.0)}
DTMF_ROWS, DTMF_COLS = (697.0, 770.0, 852.0, 941.0), (1209.0, 1336.0, 1477.0)
DIGITS_AT = 20.0  # s into the caller's microphone file: the card number is keyed


def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "rec.toml", """
        domains = ["ccswitch.local"]

        [[users]]
        range = "1001-1020"
        password = "pw{user}"

        [[users]]
        name = "2001"
        password = "pw2001"
        agent = { queues = ["support"], auto_answer = true }

        [queues.support]
        ring_timeout = 5
        wrapup = 0.5

        [ivr.cards]
        prompt = "main-menu"
        sensitive = true
        max_digits = 4
        timeout = 15
        retries = 3
        default = "hangup"

        [ivr.cards.choices]
        "1234" = "echo"

        [dialplan.numbers]
        800 = "queue:support"
        701 = "ivr:cards"

        [[api.tokens]]
        token = "rec-admin-token"
        role = "admin"
        """)


def api(daemon: Daemon, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"http://{LOOPBACK}:{daemon.http_port}/api/v1{path}",
                         headers=ADMIN, timeout=10.0, **kw)


def queue_call(daemon: Daemon, phones: PhoneFactory, caller_wav: Path,
               agent_wav: Path) -> tuple[Baresip, Baresip, str]:
    """Agent 2001 registers; 1001 calls 800 and is connected to it: (caller, agent, call)."""
    agent = phones("agent", account=account(daemon, "2001", register=True, auto=True),
                   source_wav=agent_wav)
    agent.wait_registered(15)
    caller = phones("caller", account=account(daemon, "1001", register=False),
                    source_wav=caller_wav)
    caller.dial(f"sip:800@{LOOPBACK}:{daemon.sip_port}")
    (connected,) = wait_queue_event(daemon, "CallerConnected", 20, queue="support")
    assert connected.call_id is not None
    return caller, agent, connected.call_id


def finished_recording(daemon: Daemon, call_id: str) -> Path:
    done = daemon.log.wait_for("recording_done", timeout=15)
    assert done is not None and done.get("ok") is True, f"{done}\n{daemon.tail()}"
    path = Path(done["path"])
    assert path.name == f"{call_id}.wav", (path, call_id)
    sql = "SELECT state FROM recordings"
    assert wait_until(lambda: [r["state"] for r in query(daemon.data_dir, sql)] == ["complete"],
                      timeout=10), query(daemon.data_dir, sql)
    return path


def spans(daemon: Daemon) -> list[dict[str, Any]]:
    return query(daemon.data_dir, "SELECT start_s, end_s, paused_by, who FROM recording_pauses"
                                  " ORDER BY id")


def samples(path: Path) -> tuple[np.ndarray, int]:
    """Every channel of a 16-bit WAV: (samples, channels) int16, and its rate."""
    with wave.open(str(path), "rb") as w:
        n, rate = w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.reshape(-1, n), rate


def zero_run(x: np.ndarray, rate: int) -> tuple[float, float]:
    """The longest run of samples that are 0 in every channel: (start, end) in seconds."""
    zero = np.concatenate(([False], (x == 0).all(axis=1), [False]))
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    assert len(starts), "no silent sample in the recording"
    i = int(np.argmax(ends - starts))
    return starts[i] / rate, ends[i] / rate


def tone_share(path: Path, freq: float, start: float, end: float) -> float:
    """The share of loud 40 ms frames of `path`'s first channel from `start` to `end` in which
    `freq` holds most of the power."""
    p = presence(path, (freq,), start=start, end=end)
    frames = len(p.loud)
    assert frames > 0, (path, start, end)
    return float((p.loud & (p.shares[freq] > 0.5)).sum()) / frames


def dtmf_times(path: Path) -> list[float]:
    """Where (s) loud 40 ms frames of `path`'s first channel hold a DTMF pair (a row and a
    column tone, each at least a fifth of the frame's power)."""
    p = presence(path, (*DTMF_ROWS, *DTMF_COLS))
    row = np.max([p.shares[f] for f in DTMF_ROWS], axis=0)
    col = np.max([p.shares[f] for f in DTMF_COLS], axis=0)
    return [round(i * p.frame, 2) for i in np.flatnonzero(p.loud & (row > 0.2) & (col > 0.2))]


def dtmf_frames(path: Path) -> int:
    return len(dtmf_times(path))


def keyed_card(path: Path, digits: str, at: float, seconds: float) -> Path:
    """A 440 Hz tone of `seconds` with `digits` keyed as in-band DTMF from `at`: 120 ms per
    digit, 120 ms apart (each tone -16 dBFS)."""
    rate = 8000
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * CALLER_HZ * t)
    for i, key in enumerate(digits):
        lo, hi = DTMF[key]
        a, b = int((at + 0.24 * i) * rate), int((at + 0.24 * i + 0.12) * rate)
        x[a:b] = 0.15 * (np.sin(2 * np.pi * lo * t[a:b]) + np.sin(2 * np.pi * hi * t[a:b]))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return path


def test_api_pause_records_silence_exactly_over_the_span(
        phones: PhoneFactory, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    daemon = settle(start_daemon(extra_args=("--config", str(config(tmp_path)))))
    caller, agent, call_id = queue_call(daemon, phones,
                                        write_tone(tmp_path / "caller.wav", CALLER_HZ, 60),
                                        write_tone(tmp_path / "agent.wav", AGENT_HZ, 60))
    time.sleep(2.0)
    r = api(daemon, "POST", f"/calls/{call_id}/recording/pause")
    assert r.status_code == 200 and r.json()["detail"]["recording"] == "paused", r.text
    assert api(daemon, "GET", f"/calls/{call_id}").json()["recording"] == "paused"
    assert api(daemon, "POST", f"/calls/{call_id}/recording/pause").status_code == 409
    time.sleep(2.0)  # the caller's tone goes on meanwhile
    r = api(daemon, "POST", f"/calls/{call_id}/recording/resume")
    assert r.status_code == 200 and r.json()["detail"]["recording"] == "recording", r.text
    time.sleep(2.0)
    caller.hangup()
    agent.wait_event("CALL_CLOSED", timeout=15)
    path = finished_recording(daemon, call_id)

    (span,) = spans(daemon)
    assert (span["paused_by"], span["who"]) == ("api", "admin"), span
    start, end = span["start_s"], span["end_s"]
    assert start is not None and end is not None
    # 2 s talking, then 2 s paused: the API calls and the loaded machine add a little
    assert 1.5 <= start <= 4.0 and 1.8 <= end - start <= 3.0, span
    x, rate = samples(path)
    assert x.shape[1] == 2
    zs, ze = zero_run(x, rate)
    assert abs(zs - start) <= EDGE and abs(ze - end) <= EDGE, (
        f"silence {zs:.3f}-{ze:.3f} s, the row says {start:.3f}-{end:.3f} s")
    ch1, ch2 = channels(path, tmp_path / "split")
    length = len(x) / rate
    # the caller's tone, on channel 1, before and after the span; the agent's on channel 2
    assert tone_share(ch1, CALLER_HZ, 0.3, start - EDGE) > 0.9
    assert tone_share(ch1, CALLER_HZ, end + EDGE, length - 0.3) > 0.9
    assert tone_share(ch2, AGENT_HZ, end + EDGE, length - 0.3) > 0.9

    # the listing shows the span; listing and downloading are in the access log
    (item,) = api(daemon, "GET", "/recordings").json()["items"]
    assert item["pauses"] == [{"start_s": start, "end_s": end, "by": "api", "user": "admin"}]
    assert api(daemon, "GET", f"/recordings/{item['id']}").status_code == 200

    def logged() -> list[tuple[int, str]]:
        rows = api(daemon, "GET", "/recording-access").json()["items"]
        return [(a["recording_id"], a["action"]) for a in rows]

    assert wait_until(lambda: logged() == [(item["id"], "list"), (item["id"], "download")],
                      timeout=5), logged()
    events = query(daemon.data_dir, "SELECT type FROM events WHERE type LIKE 'recording.%'"
                                    " ORDER BY seq")
    assert [e["type"] for e in events] == [
        "recording.started", "recording.paused", "recording.resumed", "recording.done",
        "recording.accessed", "recording.accessed"], events


def test_sensitive_menu_keeps_the_card_number_out_of_the_recording(
        phones: PhoneFactory, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    daemon = settle(start_daemon(extra_args=("--config", str(config(tmp_path)))))
    card = keyed_card(tmp_path / "card.wav", "1234", DIGITS_AT, 60)
    caller, agent, call_id = queue_call(daemon, phones, card,
                                        write_tone(tmp_path / "agent.wav", AGENT_HZ, 60))
    time.sleep(2.0)
    r = api(daemon, "POST", f"/calls/{call_id}/transfer", json={"number": "701"})
    assert r.status_code == 200, r.text
    agent.wait_event("CALL_CLOSED", timeout=15)  # the agent is released at once
    # the caller keys 1234 at 20 s into its call; the menu hands the call to the echo test
    handoff = daemon.log.wait_for("ivr_handoff", timeout=40, call_id=call_id, to="echo")
    assert handoff is not None, daemon.tail()
    time.sleep(3.0)  # recorded again: the caller's tone after the menu
    caller.hangup()
    path = finished_recording(daemon, call_id)

    (span,) = spans(daemon)
    assert span["paused_by"] == "ivr:cards" and span["who"] is None, span
    start, end = span["start_s"], span["end_s"]
    x, rate = samples(path)
    zs, ze = zero_run(x, rate)
    assert abs(zs - start) <= EDGE and abs(ze - end) <= EDGE, (
        f"silence {zs:.3f}-{ze:.3f} s, the row says {start:.3f}-{end:.3f} s")
    ch1, _ = channels(path, tmp_path / "split")
    length = len(x) / rate
    assert tone_share(ch1, CALLER_HZ, 0.3, start - EDGE) > 0.9  # talking to the agent
    assert tone_share(ch1, CALLER_HZ, end + EDGE, length - 0.3) > 0.9  # the echo test
    # the caller did key the card number (what it sent holds DTMF), the file holds none
    sent, _ = caller.recordings()
    assert dtmf_frames(sent) >= 4, "the caller's DTMF was not sent"
    assert dtmf_frames(ch1) == 0, f"DTMF in the recording at {dtmf_times(ch1)} s ({path})"


def test_agent_desktop_pauses_and_resumes_the_recording(
        sipp: Sipp, start_daemon: DaemonFactory, browser: Any, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """The desktop's button on the call card (Chromium): the state it shows follows the
    switch, and the span's row says the desktop paused it, for agent 2001."""
    from playwright.sync_api import expect

    daemon = settle(start_daemon(extra_args=("--config", str(desk_config(tmp_path / "c.toml")))))
    shots = artifact_dir(request)
    page = browser
    phone = sipp_agent(sipp, daemon, "2001", "uas_ring_answer.xml", args=("-d", "15000"),
                       timeout=90)
    sign_in(page, daemon)
    call = sipp_caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=20000,
                       timeout=90)
    card = page.locator("#card")
    expect(card).to_have_attribute("data-phase", "on_call", timeout=WAIT_MS)
    state, button = page.locator("#recording-state"), page.locator("#recording-toggle")
    expect(state).to_have_attribute("data-recording", "recording", timeout=WAIT_MS)
    button.click()
    expect(state).to_have_attribute("data-recording", "paused", timeout=WAIT_MS)
    expect(button).to_have_text("Resume recording")
    call_id = card.get_attribute("data-call")
    assert api_as(daemon, "GET", f"/calls/{call_id}").json()["recording"] == "paused"
    page.screenshot(path=str(shots / "recording-paused.png"), full_page=True)
    button.click()
    expect(state).to_have_attribute("data-recording", "recording", timeout=WAIT_MS)
    expect(button).to_have_text("Pause recording")
    # the API pausing it shows on the desktop too (the event stream)
    assert api_as(daemon, "POST", f"/calls/{call_id}/recording/pause").status_code == 200
    expect(state).to_have_attribute("data-recording", "paused", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "recording-paused-by-api.png"), full_page=True)
    assert call.wait(90).ok and phone.wait(90).ok
    assert wait_until(lambda: len(spans(daemon)) == 2 and spans(daemon)[1]["end_s"] is not None,
                      timeout=15), spans(daemon)
    first, second = spans(daemon)
    assert (first["paused_by"], first["who"]) == ("desktop", "2001"), first
    assert first["end_s"] > first["start_s"], first
    assert (second["paused_by"], second["who"]) == ("api", "admin"), second  # to the end


def api_as(daemon: Daemon, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"http://{LOOPBACK}:{daemon.http_port}/api/v1{path}",
                         headers={"Authorization": "Bearer demo-admin-token"}, timeout=10.0)


def test_retention_at_start_up_deletes_old_recordings_and_keeps_their_rows(
        start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """A store with three closed recordings; the policy keeps 7 days by default and 30 for
    the sales queue: at start-up the 10-day-old default one goes (file deleted, row marked,
    logged, an event), the 3-day-old one and the 10-day-old sales one stay."""
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    now = time.time()
    store = CdrStore(Location(data / "ccswitch.db").connect())
    files: dict[str, Path] = {}
    for name, days, queue in (("old", 10, "support"), ("new", 3, "support"),
                              ("sales", 10, "sales")):
        path = files[name] = data / "recordings" / f"{name}.wav"
        path.write_bytes(b"RIFF" + bytes(40))
        started = now - days * 86400
        store.recording_started(name, str(path), at=started)
        store.add(CallEnded(name, "1001", "2001", 200, "OK", 0.0, 1.0, 60.0, "caller",
                            str(path), queue=queue), wall_offset=started)
        store.recording_done(str(path), state="complete", seconds=59.0)
    store.close()
    demo = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()
    text = demo.replace("[queues.sales]\n", "[queues.sales]\nrecording_retention_days = 30\n")
    assert text != demo
    cfg = write_config(tmp_path / "keep.toml", text + "\n[recordings]\nkeep_days = 7\n")
    daemon = start_daemon(data_dir=data, extra_args=("--config", str(cfg)))
    run = daemon.log.wait_for("recording_retention", timeout=20)
    assert run is not None and run["deleted"] == 1, f"{run}\n{daemon.tail()}"
    assert daemon.log.wait_for("recording_deleted", timeout=10, path=str(files["old"]))
    assert not files["old"].exists() and files["new"].exists() and files["sales"].exists()
    rows = {Path(r["path"]).stem: r["deleted"] for r in
            query(data, "SELECT path, deleted FROM recordings")}
    assert rows["old"] is not None and rows["new"] is None and rows["sales"] is None, rows
    assert wait_until(lambda: query(data, "SELECT type FROM events WHERE type ="
                                          " 'recording.deleted'"), timeout=5)
