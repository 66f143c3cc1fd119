"""``/api/v1/voicemail/{box}/messages…`` on a callworld switch: scope (admin any box, a
token's own user's box only), the list in mailbox order with wall-clock times, download with
Range, delete and save changing the box in the core, and the lamp's NOTIFY that follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from callworld import Switch
from sipphone import header
from test_api import SUP, Api
from test_voicemail_calls import notifies, subscribe

from ccswitch.call.voicemail import VoicemailDeleted, VoicemailSaved
from ccswitch.sip.mwi import MessageSummary
from ccswitch.voicemail import Folder, Message

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC: wall time = loop time + T0 in these tests


@pytest.fixture
def api(tmp_path: Path) -> Api:
    w = Switch(("1001", "1002", "1020", "2001"))
    assert w.sig.voicemail is not None
    w.sig.voicemail.box_dir = lambda box: str(tmp_path / box)
    for box in ("1002", "1020"):
        (tmp_path / box).mkdir()
        (tmp_path / box / "m1.wav").write_bytes(bytes(range(256)) * 4)  # 1024 bytes
        (tmp_path / box / "m2.wav").write_bytes(b"x" * 10)
    w.sig.restore_voicemail([
        Message("m1", "1002", "1001", 10.0, 4.0, "m1.wav"),
        Message("m2", "1002", "1003", 5.0, 2.0, "m2.wav", Folder.SAVED),
        Message("m3", "1002", "1001", 20.0, 1.5, "m3.wav"),  # its file is missing
        Message("m1", "1020", "1001", 30.0, 3.0, "m1.wav"),
    ], 0.0)
    w.pump()
    a = Api(w)
    a.ctl.wall_offset = lambda: T0
    return a


def test_the_list_is_in_mailbox_order_with_wall_clock_times(api: Api) -> None:
    r = api("GET", "/api/v1/voicemail/1002/messages")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["box"], body["new"], body["saved"]) == ("1002", 2, 1)
    # new ones oldest first (m1 at 10 s, m3 at 20 s), then the saved m2
    assert [m["id"] for m in body["items"]] == ["m1", "m3", "m2"]
    m1 = body["items"][0]
    # T0 + 10 s = 2027-01-15 08:00:10 UTC
    assert m1["received"] == "2027-01-15T08:00:10Z"
    assert (m1["caller"], m1["duration_s"], m1["folder"], m1["size"]) == ("1001", 4.0, "new", 1024)
    assert body["items"][1]["size"] is None


def test_scope_admin_any_box_a_token_its_own_users_box(api: Api) -> None:
    assert api("GET", "/api/v1/voicemail/1020/messages", SUP).status_code == 200  # user 1020
    assert api("GET", "/api/v1/voicemail/1002/messages", SUP).status_code == 403
    assert api("GET", "/api/v1/voicemail/1002/messages", "demo-agent-2001").status_code == 403
    # an agent's user has no box: the same 403; the admin learns it does not exist
    assert api("GET", "/api/v1/voicemail/2001/messages", "demo-agent-2001").status_code == 403
    assert api("GET", "/api/v1/voicemail/2001/messages").status_code == 404
    assert api("GET", "/api/v1/voicemail/1002/messages/nope").status_code == 404
    assert api("GET", "/api/v1/voicemail/1002/messages/m3").status_code == 404  # no file
    assert api("DELETE", "/api/v1/voicemail/1002/messages/m1", SUP).status_code == 403
    assert api("GET", "/api/v1/voicemail/1002/messages", None).status_code == 401


def test_download_whole_and_with_range(api: Api) -> None:
    whole = api("GET", "/api/v1/voicemail/1002/messages/m1")
    assert whole.status_code == 200
    assert whole.content == bytes(range(256)) * 4
    assert whole.headers["content-type"] == "audio/wav"

    async def ranged(spec: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ccswitch") as c:
            return await c.get("/api/v1/voicemail/1020/messages/m1", headers={
                "Authorization": f"Bearer {SUP}", "Range": spec})

    part = asyncio.run(ranged("bytes=100-199"))
    assert part.status_code == 206
    assert part.content == (bytes(range(256)) * 4)[100:200]  # bytes 100..199: 100 of them
    assert part.headers["content-range"] == "bytes 100-199/1024"
    assert asyncio.run(ranged("bytes=5000-")).status_code == 416  # past the 1024 bytes


def test_delete_sends_the_lamp_off_and_persists(api: Api) -> None:
    w = api.w
    assert subscribe(w, "1002", "1002", 1.0) == 200
    first = MessageSummary.parse(notifies(w, "1002")[-1].body)
    assert first.waiting and (first.voice_counts.new, first.voice_counts.old) == (2, 1)
    assert api("DELETE", "/api/v1/voicemail/1002/messages/m1").status_code == 204
    after = notifies(w, "1002")
    # two new (m1, m3) and one saved (m2); m1 deleted: 1 new, 1 saved, still waiting
    summary = MessageSummary.parse(after[-1].body)
    assert (summary.voice_counts.new, summary.voice_counts.old) == (1, 1)
    assert header(after[-1], "Event") == "message-summary"
    assert [e for e in w.events if isinstance(e, VoicemailDeleted)] == [
        VoicemailDeleted("1002", "m1")]
    assert api("DELETE", "/api/v1/voicemail/1002/messages/m1").status_code == 404
    # saving the last new one (m3) turns the lamp off: 0 new, 2 saved
    r = api("POST", "/api/v1/voicemail/1002/messages/m3/saved")
    assert r.status_code == 200 and r.json()["folder"] == "saved"
    off = MessageSummary.parse(notifies(w, "1002")[-1].body)
    assert not off.waiting and (off.voice_counts.new, off.voice_counts.old) == (0, 2)
    assert VoicemailSaved("1002", "m3") in w.events
    listed = api("GET", "/api/v1/voicemail/1002/messages").json()
    assert [m["id"] for m in listed["items"]] == ["m2", "m3"]  # saved, oldest first
