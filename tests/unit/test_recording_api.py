"""Recording compliance through the HTTP API: pause/resume a live call's recording (who may),
the paused spans and the deleted mark in ``/api/v1/recordings``, and the access log written
for every recording listed or downloaded (admin-only ``/api/v1/recording-access``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from callworld import Switch
from test_api import ADMIN, AGENTS, SUP, Api

from ccswitch.call.events import RecordingPaused, RecordingResumed
from ccswitch.http.history import COMPLIANCE_KEY, EXTRA_KEY
from ccswitch.store.cdr import CdrStore
from ccswitch.store.compliance import Compliance
from ccswitch.store.db import Location
from ccswitch.store.history import History
from ccswitch.store.recordings import Retention
from ccswitch.store.writer import Writer

T0 = 1_800_000_000.0


def agent_call() -> tuple[Switch, Api, str, str]:
    """1001 calls the support queue (800); the agent whose phone rings answers: recorded."""
    w = Switch(("1001", "1002", "1003", *AGENTS))
    api = Api(w)
    w.answered("1001", "800", 2.0, call_id="q1")
    (agent,) = [a for a in AGENTS if w[a].requests("INVITE")]
    w.answer(agent, 3.0, tag="ag")
    (call,) = api("GET", "/api/v1/calls").json()
    assert call["agent"] == agent and call["recording"] == "recording"
    return w, api, call["id"], agent


def test_the_agent_on_the_call_pauses_and_resumes_its_recording() -> None:
    w, api, cid, agent = agent_call()
    token = f"demo-agent-{agent}"
    api.now = 5.0
    r = api("POST", f"/api/v1/calls/{cid}/recording/pause", token, json={"source": "desktop"})
    assert r.status_code == 200, r.text
    assert r.json() == {"command": "PauseRecording",
                        "detail": {"call_id": cid, "recording": "paused"}}
    assert api("GET", f"/api/v1/calls/{cid}", token).json()["recording"] == "paused"
    again = api("POST", f"/api/v1/calls/{cid}/recording/pause", token)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    api.now = 8.0
    assert api("POST", f"/api/v1/calls/{cid}/recording/resume", token).status_code == 200
    assert api("POST", f"/api/v1/calls/{cid}/recording/resume", token).status_code == 409
    paused, resumed = [e for e in w.events if isinstance(e, RecordingPaused | RecordingResumed)]
    assert isinstance(paused, RecordingPaused)
    assert (paused.by, paused.user, paused.agent) == ("desktop", agent, agent)
    assert resumed.by == "api"


def test_who_may_pause_a_recording() -> None:
    _, api, cid, agent = agent_call()
    other = next(a for a in AGENTS if a != agent)
    assert api("POST", f"/api/v1/calls/{cid}/recording/pause", f"demo-agent-{other}"
               ).status_code == 403
    assert api("POST", f"/api/v1/calls/{cid}/recording/pause", SUP).status_code == 200
    assert api("POST", f"/api/v1/calls/{cid}/recording/resume", ADMIN).status_code == 200
    assert api("POST", "/api/v1/calls/nosuch/recording/pause", ADMIN).status_code == 404
    bad = api("POST", f"/api/v1/calls/{cid}/recording/pause", ADMIN, json={"source": "x"})
    assert bad.status_code == 422


def test_a_call_not_recorded_is_409() -> None:
    w = Switch(("1001", "1002", "1003", *AGENTS))
    api = Api(w)
    w.call("1001", "1002", 2.0, call_id="c1")  # user to user: not recorded in the demo
    (call,) = api("GET", "/api/v1/calls").json()
    assert call["recording"] is None
    r = api("POST", f"/api/v1/calls/{call['id']}/recording/pause")
    assert r.status_code == 409 and "not being recorded" in r.json()["detail"]


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Api, Compliance, Writer, Path]:
    """A recording with two paused spans, and the compliance rows behind the API."""
    rec = tmp_path / "rec1.wav"
    rec.write_bytes(b"RIFF" + bytes(60))
    loop = asyncio.new_event_loop()  # the writer's done callbacks: never run here
    writer = Writer(Location(tmp_path / "ccswitch.db"), loop=loop)
    cdr = writer.open(CdrStore)
    writer.call(lambda: cdr.recording_started("call0", str(rec), at=T0))
    comp = Compliance(writer, None, policy=Retention, clock=lambda: T0 + 100)
    for ev in (RecordingPaused("call0", str(rec), 5.0, 3.0, "desktop", "2001"),
               RecordingResumed("call0", str(rec), 7.5, 5.5, "api"),
               RecordingPaused("call0", str(rec), 9.0, 7.0, "ivr:cards")):
        comp.span(ev)
    writer.call(lambda: cdr.recording_done(str(rec), state="complete", seconds=10.0))
    api = Api(Switch(("1001",)))
    api.ctl.extras[EXTRA_KEY] = History(tmp_path / "ccswitch.db")
    api.ctl.extras[COMPLIANCE_KEY] = comp
    return api, comp, writer, rec


def access_rows(api: Api, query: str = "", *, want: int = 1,
                ) -> list[tuple[int, str, str, str | None]]:
    """The access log, once it has ``want`` rows (or after 5 s)."""
    deadline = time.monotonic() + 5.0
    while True:  # the writer thread commits the rows a moment after the request
        r = api("GET", "/api/v1/recording-access" + query)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if len(items) >= want or time.monotonic() > deadline:
            return [(i["recording_id"], i["action"], i["role"], i["user"]) for i in items]
        time.sleep(0.05)


def test_the_listing_shows_the_spans_and_every_read_is_logged(
        stored: tuple[Api, Compliance, Writer, Path]) -> None:
    api, _, writer, _ = stored
    (item,) = api("GET", "/api/v1/recordings").json()["items"]
    # the span still open when the file closed ends at its length (10.0 s)
    assert item["pauses"] == [
        {"start_s": 3.0, "end_s": 5.5, "by": "desktop", "user": "2001"},
        {"start_s": 7.0, "end_s": 10.0, "by": "ivr:cards", "user": None}]
    assert item["deleted"] is None
    assert access_rows(api) == [(1, "list", "admin", None)]
    assert api("GET", "/api/v1/recordings/1", ADMIN).status_code == 200
    assert access_rows(api, want=2) == [(1, "list", "admin", None),
                                        (1, "download", "admin", None)]
    assert access_rows(api, "?recording=2", want=0) == []
    # the access log is the admin's alone
    assert api("GET", "/api/v1/recording-access", SUP).status_code == 403
    assert api("GET", "/api/v1/recording-access", "demo-agent-2001").status_code == 403
    writer.close()


def test_retention_deletes_the_file_and_marks_the_row(
        stored: tuple[Api, Compliance, Writer, Path], tmp_path: Path) -> None:
    api, _, writer, rec = stored
    # kept 1 day; the clock reads 2 days after the recording started (T0 + 2 * 86400)
    comp = Compliance(writer, None, policy=lambda: Retention(default=1.0),
                      clock=lambda: T0 + 2 * 86400.0)
    assert asyncio.run(comp.run_retention()) == 1
    assert not rec.exists()
    writer.call(lambda: None)  # every write before it is committed
    (item,) = api("GET", "/api/v1/recordings").json()["items"]
    assert item["deleted"] is not None and item["size"] is None
    assert asyncio.run(comp.run_retention()) == 0  # marked: not looked at again
    writer.close()


def test_retention_spares_a_file_still_being_written(
        stored: tuple[Api, Compliance, Writer, Path]) -> None:
    _, _, writer, rec = stored
    comp = Compliance(writer, None, policy=lambda: Retention(default=1.0),
                      open_paths=lambda: {str(rec)}, clock=lambda: T0 + 2 * 86400.0)
    assert asyncio.run(comp.run_retention()) == 0
    assert rec.exists()
    writer.close()
