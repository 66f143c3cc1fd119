"""The wallboard (``GET /``) in a real browser (Debian's ``chromium`` driven by Playwright)
against the real daemon on the demo configuration (plus a display label for support).

Two baresip agents of support (2001, 2002, auto-answer) talk with two baresip callers (1001,
1002, through 800); two SIPp callers (1003, 1004) then wait in support, where no other agent
is logged in; sales agent 2005 is registered (ready) and the supervisor's phone (1020, a
baresip phone that does not answer) is registered.  The board, signed in with the supervisor
token, shows support's two waiting callers and its agents by state (2 on call, 5 logged out of
its 7), the agents' states and calls; the Pause button pauses 2005 and the row changes on the
event stream without a reload, Ready makes it ready again; Listen on 2001's call rings the
supervisor's phone.  When the stream drops, the page reconnects with ``?since=`` the last
``seq`` it saw and gets the event it missed.  The screenshot (1920x1080, the wall screen)
is kept under ``var/test-artifacts/e2e/<test>/wallboard.png``.

The board must also fit a 1080p screen with a third queue and ten more agents (2011-2020):
the module's daemon has them from the start (``board_daemon``, shared by both tests, which
leave nothing behind the other reads), and one Chromium serves both tests' pages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_baresip import Baresip, PhoneFactory
from e2e_browser import WAIT_MS, artifact_dir, new_page
from e2e_calls import AGENT_HZ, CALLER_HZ, SUPERVISOR, THIRD_HZ, phone, uri
from e2e_daemon import REPO, Daemon, DaemonFactory
from e2e_media import settle
from e2e_queue import caller, register, write_config
from e2e_sipp import Sipp, SippProcess
from e2e_util import LOOPBACK

pytestmark = pytest.mark.e2e

SUP_TOKEN = "demo-supervisor-token"
ADMIN = {"Authorization": "Bearer demo-admin-token"}
DEMO = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()
LABEL = "Customer support"
SUPPORT_AGENTS = 7  # demo: 2001-2004 and 2008-2010
WAIT_S = 60.0


# a third queue and ten more agents, none registered
BILLING = ('\n[queues.billing]\ndisplay = "Billing and accounts"\n\n[[users]]\n'
           'range = "2011-2020"\npassword = "pw{user}"\ndisplay = "Agent {user}"\n'
           'agent = { queues = ["billing"] }\n')


@pytest.fixture
def wall(module_chromium: Any) -> Iterator[Any]:
    """A headless Chromium page the size of a 1080p wall screen (a context of its own)."""
    with new_page(module_chromium, 1920, 1080) as page:
        yield page


def config(path: Path) -> Path:
    """The demo configuration with support's display label and `BILLING`."""
    text = DEMO.replace("[queues.support]\n", f'[queues.support]\ndisplay = "{LABEL}"\n', 1)
    assert text != DEMO, "the demo configuration no longer has [queues.support]"
    return write_config(path, text + BILLING)


@pytest.fixture(scope="module")
def board_daemon(module_start_daemon: DaemonFactory,
                 tmp_path_factory: pytest.TempPathFactory) -> Daemon:
    """The module's daemon on `config`, settled."""
    cfg = config(tmp_path_factory.mktemp("wallboard") / "c.toml")
    return settle(module_start_daemon(extra_args=("--config", str(cfg))))


def api(daemon: Daemon, path: str) -> Any:
    r = httpx.get(f"http://{LOOPBACK}:{daemon.http_port}/api/v1{path}", headers=ADMIN,
                  timeout=5.0)
    assert r.status_code == 200, r.text
    return r.json()


def until(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def support(daemon: Daemon) -> dict[str, Any]:
    return next(q for q in api(daemon, "/queues") if q["name"] == "support")


def on_call(daemon: Daemon) -> list[str]:
    return sorted(a["id"] for a in api(daemon, "/agents") if a["state"] == "on_call")


def paused_2005(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "agent.paused" and frame.get("agent") == "2005"


def busy_floor(phones: PhoneFactory, daemon: Daemon, sipp: Sipp, tmp_path: Path,
               ) -> tuple[list[Baresip], list[SippProcess]]:
    """Two support agents talking with two callers, two SIPp callers waiting, 2005 ready,
    the supervisor's phone registered.  Returns the phones and the SIPp callers."""
    agents = [phone(phones, daemon, tmp_path, f"agent-{u}", u, AGENT_HZ, register=True,
                    auto=True) for u in ("2001", "2002")]
    sup = phone(phones, daemon, tmp_path, "supervisor", SUPERVISOR, THIRD_HZ, register=True)
    register(sipp, daemon, "2005")  # a sales agent, logged in and ready (no phone behind)
    talkers = []
    for n, user in enumerate(("1001", "1002"), 1):
        p = phone(phones, daemon, tmp_path, f"caller-{user}", user, CALLER_HZ)
        p.dial(uri(daemon, "800"))
        p.wait_event("CALL_ESTABLISHED", timeout=WAIT_S)
        until(f"{n} agent(s) on call", lambda n=n: len(on_call(daemon)) == n)
        talkers.append(p)
    waiting = [caller(sipp, daemon, u, "800", "queue_caller.xml", hold_ms=150_000,
                      timeout=240) for u in ("1003", "1004")]
    until("2 callers waiting in support", lambda: support(daemon)["waiting"] == 2)
    return [*agents, sup, *talkers], waiting


def test_wallboard_shows_the_floor_live_and_its_buttons_work(
        sipp: Sipp, phones: PhoneFactory, board_daemon: Daemon, wall: Any,
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    daemon = board_daemon
    everyone, waiting = busy_floor(phones, daemon, sipp, tmp_path)
    sup = everyone[2]
    page = wall
    sockets: list[tuple[str, list[dict[str, Any]]]] = []  # (url, frames received) per socket

    def opened(ws: Any) -> None:
        got: list[dict[str, Any]] = []
        sockets.append((ws.url, got))
        ws.on("framereceived", lambda data: got.append(json.loads(data)))

    page.on("websocket", opened)
    try:
        page.goto(f"http://{LOOPBACK}:{daemon.http_port}/")
        page.fill("#token", SUP_TOKEN)
        page.click("#signin-form button[type=submit]")
        expect(page.locator("#link")).to_have_attribute("data-link", "up", timeout=WAIT_MS)

        tile = page.locator(".tile[data-queue=support]")
        expect(tile.locator("h2")).to_have_text(LABEL, timeout=WAIT_MS)
        expect(tile.locator("[data-field=waiting]")).to_have_text("2", timeout=WAIT_MS)
        counts = {s: tile.locator(f"[data-count={s}]") for s in ("ready", "on_call",
                                                                 "logged_out")}
        expect(counts["on_call"]).to_have_text("2")
        expect(counts["ready"]).to_have_text("0")
        expect(counts["logged_out"]).to_have_text(str(SUPPORT_AGENTS - 2))  # 7 - 2 talking
        talking = on_call(daemon)
        assert talking == ["2001", "2002"], talking
        calls = {c["agent"]: c["caller"] for c in api(daemon, "/calls") if c["agent"]}
        for agent in talking:
            row = page.locator(f"#agents tr[data-agent='{agent}']")
            expect(row).to_have_attribute("data-state", "on_call")
            expect(row.locator("[data-field=call]")).to_have_text(f"{calls[agent]} · support")
        # the longest wait ticks: it reads more a few seconds later
        longest = tile.locator("[data-field=longest_wait]")
        first = longest.inner_text()
        time.sleep(2.5)
        assert longest.inner_text() != first, first
        # 1080p without scrolling
        size = page.evaluate("[document.documentElement.scrollHeight,"
                             " document.documentElement.scrollWidth]")
        assert size[0] <= 1080 and size[1] <= 1920, size
        shots = artifact_dir(request)
        page.screenshot(path=str(shots / "wallboard.png"))
        print(f"wallboard screenshot: {shots / 'wallboard.png'}")
        # the quality flag: a call whose `mos` (from the call-quality work) is below 3.6:
        # set by hand here, after the screenshot (the daemon gives none yet)
        flags = page.evaluate("""() => {
            const calls = [...board.agents.values()].filter((a) => a.call_id)
              .map((a) => board.calls.get(a.call_id));
            calls[0].mos = 3.1; calls[1].mos = 4.2; render();
            return calls.map((c) => document.querySelector(
              `#agents tr[data-agent='${c.agent}'] [data-field=quality]`).textContent);
        }""")
        assert flags == ["⚠ MOS 3.1", ""], flags
        page.evaluate("refresh()")  # back to what the daemon says

        # pause 2005 with its button: the row follows the event, the page is not reloaded
        page.evaluate("window.notReloaded = true")
        row = page.locator("#agents tr[data-agent='2005']")
        expect(row).to_have_attribute("data-state", "ready")
        row.locator("button[data-action=pause]").click()
        expect(row).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
        expect(page.locator(".tile[data-queue=sales] [data-count=paused]")).to_have_text("1")
        assert page.evaluate("window.notReloaded") is True
        assert any(paused_2005(f) for f in sockets[-1][1]), sockets
        assert next(a for a in api(daemon, "/agents") if a["id"] == "2005")["state"] \
            == "paused"
        page.screenshot(path=str(shots / "paused.png"))
        row.locator("button[data-action=ready]").click()
        expect(row).to_have_attribute("data-state", "ready", timeout=WAIT_MS)

        # listen to 2001's call: the supervisor's phone rings
        page.locator("#agents tr[data-agent='2001'] button[data-action=listen]").click()
        expect(page.locator("#message")).to_contain_text("listen: phone 1020 rings",
                                                         timeout=WAIT_MS)
        sup.wait_event("CALL_INCOMING", timeout=WAIT_S)

        # the stream drops; 2005 is paused (by the API) before the page reconnects, which it
        # does with ?since= the last seq it saw: the missed event is replayed
        seen = page.evaluate("board.since")
        assert isinstance(seen, int), seen
        page.evaluate("board.socket.close()")  # the page reconnects after 1 s
        r = httpx.post(f"http://{LOOPBACK}:{daemon.http_port}/api/v1/agents/2005/pause",
                       headers=ADMIN, json={"reason": "lunch"}, timeout=5.0)
        assert r.status_code == 200, r.text
        end = time.monotonic() + WAIT_S
        while not (len(sockets) > 1 and any(paused_2005(f) for f in sockets[-1][1])):
            assert time.monotonic() < end, sockets
            page.wait_for_timeout(200)  # lets Playwright deliver the socket's frames
        assert f"since={seen}" in sockets[-1][0], sockets[-1][0]
        expect(row).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
    finally:
        for p in waiting:
            p.stop()


def test_wallboard_fits_a_1080p_screen_with_three_queues_and_twenty_agents(
        board_daemon: Daemon, wall: Any, request: pytest.FixtureRequest) -> None:
    """A third queue and ten more agents (2011-2020): 3 tiles and 20 rows, no scrolling.
    An agent token is refused by the page; the admin token sees every queue and agent."""
    from playwright.sync_api import expect

    daemon = board_daemon
    page = wall
    page.goto(f"http://{LOOPBACK}:{daemon.http_port}/")
    page.fill("#token", "demo-agent-2001")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_have_text(
        "this page is for supervisor and admin tokens", timeout=WAIT_MS)
    page.fill("#token", "demo-admin-token")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#agents tbody tr")).to_have_count(20, timeout=WAIT_MS)
    expect(page.locator(".tile")).to_have_count(3)
    expect(page.locator(".tile[data-queue=billing] h2")).to_have_text("Billing and accounts")
    expect(page.locator(".tile[data-queue=billing] [data-count=logged_out]")).to_have_text(
        "10")  # 2011-2020, none registered
    size = page.evaluate("[document.documentElement.scrollHeight,"
                         " document.documentElement.scrollWidth]")
    last = page.locator("#agents tbody tr").last.bounding_box()
    shots = artifact_dir(request)
    page.screenshot(path=str(shots / "wallboard-20-agents.png"))
    print(f"wallboard screenshot: {shots / 'wallboard-20-agents.png'}")
    assert size[0] <= 1080 and size[1] <= 1920, size
    assert last["y"] + last["height"] <= 1080, last  # the 20th row is on the screen
