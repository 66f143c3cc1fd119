"""The agent desktop (``GET /agent``) in a real browser: Debian's ``chromium`` driven by
Playwright against the real daemon.  Agent 2001 is a SIPp phone (it rings a few seconds,
then answers); the browser signs in with the agent's token, pauses and resumes, sees the card
of a SIPp caller's queue call while the phone rings, and sets a disposition code in wrap-up,
which ends the wrap-up early and lands on the CDR and in the queue log.  With a CRM lookup
configured (``[crm]``) the card shows the record a fake CRM server started by the test
returned.  Screenshots are kept under ``var/test-artifacts/e2e/<test>/`` (docs/e2e.md)."""

from __future__ import annotations

import http.server
import json
import re
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_browser import WAIT_MS, artifact_dir
from e2e_daemon import REPO, Daemon, DaemonFactory
from e2e_media import query, settle
from e2e_queue import agent, caller, wait_queue_event, write_config
from e2e_sipp import Sipp
from e2e_util import LOOPBACK

from ccswitch.config.schema import SwitchConfig

pytestmark = pytest.mark.e2e

TOKEN = "demo-agent-2001"
ADMIN = {"Authorization": "Bearer demo-admin-token"}
WRAPUP = 300  # long: a ready agent right after the code proves the wrap-up was cut short
DEMO = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()


def config(path: Path, extra: str = "") -> Path:
    text = re.sub(r"(?m)^wrapup = 5$", f"wrapup = {WRAPUP}", DEMO)
    assert text != DEMO, "the demo configuration no longer has 'wrapup = 5'"
    return write_config(path, text + "\n" + extra)


def agent_state(daemon: Daemon) -> dict[str, Any]:
    r = httpx.get(f"http://{LOOPBACK}:{daemon.http_port}/api/v1/agents/2001", headers=ADMIN,
                  timeout=5.0)
    assert r.status_code == 200, r.text
    return dict(r.json())


def sign_in(page: Any, daemon: Daemon) -> None:
    from playwright.sync_api import expect

    page.goto(f"http://{LOOPBACK}:{daemon.http_port}/agent")
    page.fill("#token", TOKEN)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#agent-id")).to_have_text("agent 2001", timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    expect(page.locator("#link")).to_have_attribute("data-link", "up", timeout=WAIT_MS)


def work_a_call(page: Any, daemon: Daemon, sipp: Sipp, shots: Path) -> dict[str, Any]:
    """Pause, resume, take a queue call (its card while ringing), set a disposition, dial
    a number; returns the card's fields (label -> text)."""
    from playwright.sync_api import expect

    # the agent's phone registers (the agent is logged in and ready), then rings 5 s per call
    phone = agent(sipp, daemon, "2001", "uas_ring_answer.xml", args=("-d", "5000"), calls=2,
                  timeout=120)
    sign_in(page, daemon)
    page.select_option("#pause-reason", "lunch")
    page.click("#pause")
    expect(page.locator("#state")).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
    expect(page.locator("#state-detail")).to_have_text("(lunch)")
    assert agent_state(daemon)["pause_reason"] == "lunch"
    page.click("#ready")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    assert agent_state(daemon)["state"] == "ready"

    call = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=12000, timeout=60)
    card = page.locator("#card")
    expect(card).to_have_attribute("data-phase", "ringing", timeout=WAIT_MS)
    expect(page.locator("#card-fields dd[data-field=queue]")).to_have_text("support")
    page.screenshot(path=str(shots / "ringing.png"), full_page=True)
    call_id = card.get_attribute("data-call")
    assert call_id
    # the caller's number: from the offer event when it carries it, else from the call once
    # the agent takes part in it (an agent token reads only its own calls)
    expect(page.locator("#card-fields")).to_contain_text("1001", timeout=WAIT_MS)
    shown = dict(zip(page.locator("#card-fields dt").all_inner_texts(),
                     page.locator("#card-fields dd").all_inner_texts(), strict=True))

    expect(card).to_have_attribute("data-phase", "wrap_up", timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up", timeout=WAIT_MS)
    assert call.wait(60).ok
    page.screenshot(path=str(shots / "wrap-up.png"), full_page=True)
    page.click("#dispositions button[data-code=resolved]")
    expect(card).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    assert agent_state(daemon)["state"] == "ready"  # long before the 300 s wrap-up's end
    row = page.locator(f"#calls tr[data-call='{call_id}']")
    expect(row).to_contain_text("resolved", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "after-disposition.png"), full_page=True)

    (logged,) = wait_queue_event(daemon, "CallDisposition", 10, call_id=call_id)
    assert (logged.agent, logged.queue, logged.data["code"]) == ("2001", "support", "resolved")
    assert logged.data["wrapup_left"] > 0
    (cdr,) = query(daemon.data_dir, f"SELECT * FROM cdr WHERE call_id = '{call_id}'")
    assert (cdr["agent"], cdr["disposition"]) == ("2001", "resolved")

    # click-to-dial: the agent's phone rings (and answers) first, then 1002, which answers
    # and hangs up; a reload signs in again from sessionStorage and lists the call
    callee = agent(sipp, daemon, "1002", "uas_bye.xml", timeout=60)
    page.fill("#dial-number", "1002")
    page.click("#dial-form button[type=submit]")
    expect(page.locator("#message")).to_contain_text("dialling 1002", timeout=WAIT_MS)
    assert callee.wait(60).ok and phone.wait(60).ok
    dialled = query(daemon.data_dir, "SELECT * FROM cdr WHERE caller = '2001'")
    assert [(r["callee"], r["status"], r["answered"] is not None) for r in dialled] == [
        ("1002", 200, True)], dialled
    page.reload()
    expect(page.locator("#agent-id")).to_have_text("agent 2001", timeout=WAIT_MS)
    expect(page.locator(f"#calls tr[data-call='{dialled[0]['call_id']}']")).to_contain_text(
        "1002", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "after-dial.png"), full_page=True)
    return shown


def test_agent_desktop_pause_resume_card_and_disposition(
        sipp: Sipp, start_daemon: DaemonFactory, browser: Any,
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    daemon = settle(start_daemon(extra_args=("--config", str(config(tmp_path / "c.toml")))))
    shown = work_a_call(browser, daemon, sipp, artifact_dir(request))
    assert shown["queue"] == "support" and "1001" in shown.values(), shown


class _Crm(http.server.BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # the http.server API
        self.asked.append(self.path)
        body = json.dumps({"name": "Ada Lovelace", "account": "ACME-42", "tier": "gold"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: object) -> None:
        pass


def test_agent_desktop_card_shows_the_crm_record(
        sipp: Sipp, start_daemon: DaemonFactory, browser: Any,
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "crm" not in {f.name for f in fields(SwitchConfig)}:
        pytest.skip("this build has no CRM lookup ([crm], issue 10 point 4) to show")
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Crm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://{LOOPBACK}:{server.server_address[1]}/lookup?phone={{caller}}"
        cfg = config(tmp_path / "c.toml", f'[crm]\nurl = "{url}"\n')
        daemon = settle(start_daemon(extra_args=("--config", str(cfg))))
        shots = artifact_dir(request)
        from playwright.sync_api import expect

        page = browser
        phone = agent(sipp, daemon, "2001", "uas_ring_answer.xml", args=("-d", "5000"),
                      timeout=90)
        sign_in(page, daemon)
        call = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=12000,
                      timeout=60)
        expect(page.locator("#card")).to_have_attribute("data-phase", "ringing",
                                                        timeout=WAIT_MS)
        expect(page.locator("#card-crm td[data-crm=account]")).to_have_text("ACME-42",
                                                                             timeout=WAIT_MS)
        expect(page.locator("#card-crm td[data-crm=name]")).to_have_text("Ada Lovelace")
        expect(page.locator("#card-fields dd[data-field=caller]")).to_have_text("1001")
        expect(page.locator("#card-script-box")).to_be_visible()  # the demo queues' scripts
        page.screenshot(path=str(shots / "ringing-crm.png"), full_page=True)
        assert any("phone=1001" in p for p in _Crm.asked), _Crm.asked
        call.wait(60)
        phone.wait(60)
    finally:
        server.shutdown()
