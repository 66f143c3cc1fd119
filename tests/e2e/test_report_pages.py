"""The report page (``GET /reports``) and the wallboard's today figures and chart in a real
browser (Debian's ``chromium`` driven by Playwright) against the real daemon, whose data dir
is filled before it starts, with the stores' own APIs, by:

* five weeks of history before today (``[reports] timezone = "UTC"``): each day two support
  callers an hour, at HH:10 and HH:40 for HH = 09..17, answered after 10 s, 170 s talk,
  10 s wrap-up - the forecast's input;
* a small scripted day, Monday 2026-10-05 (UTC), in support (threshold 20 s, short abandon
  5 s), whose figures are computed by hand below.

The module's tests share that data dir and its daemon (``reports_day``), and one Chromium:
what one test adds (today's live calls) is not what the other reads (the scripted day, the
weeks before today).

Live: two SIPp callers wait in support (no agent logged in) and hang up after 8 s (two
abandons today).  The wallboard shows today's figures; the daemon restarts on the same data
dir and the board shows the same figures.  Screenshots (wallboard 1920x1080, report page)
under ``var/test-artifacts/e2e/<test>/``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_browser import WAIT_MS, artifact_dir, new_page
from e2e_daemon import REPO, Daemon, DaemonFactory
from e2e_queue import caller, write_config
from e2e_sipp import Sipp
from e2e_util import LOOPBACK

from ccswitch.acd import events as ev
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db
from ccswitch.store.queue_events import QueueEventStore

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer demo-admin-token"}
SUP_TOKEN = "demo-supervisor-token"
DEMO = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()
SCRIPTED = date(2026, 10, 5)
HOLD_MS = 8000  # the live callers hang up after 8 s in the queue


def at(day: date, h: int, m: int = 0, s: int = 0) -> float:
    return datetime.combine(day, clock(h, m, s), tzinfo=UTC).timestamp()


def history(today: date) -> list[ev.LoggedEvent]:
    out: list[ev.LoggedEvent] = []
    for back in range(35, 0, -1):
        day = today - timedelta(days=back)
        for hour in range(9, 18):
            for minute in (10, 40):
                t, cid = at(day, hour, minute), f"h{back}-{hour}-{minute}"
                out += [ev.CallerEntered(t, cid, "support", 0, 1, ()),
                        ev.CallerConnected(t + 10, cid, "support", "2001", 10.0, 2.0, 1),
                        ev.CallCompleted(t + 180, cid, "support", "2001", 10.0, 170.0, 10.0,
                                         "agent", 1)]
    return out


def scripted_day() -> list[ev.LoggedEvent]:
    """09:00 c1 waits 12 s, talks 100 s, wrap-up 20 s; 09:10 c2 hangs up after 40 s;
    09:20 c3 waits 35 s, talks 200 s, no wrap-up; 09:40 c4 hangs up after 3 s (short).
    Agent 2002 logs in at 08:50, pauses for "lunch" 09:30-09:45, logs out at 10:00."""
    d = SCRIPTED
    return [
        ev.AgentLoggedIn(at(d, 8, 50), "2002", (("support", 0),)),
        ev.AgentPaused(at(d, 9, 30), "2002", ("support",), "lunch"),
        ev.AgentUnpaused(at(d, 9, 45), "2002", ("support",), "lunch", paused_for=900.0),
        ev.AgentLoggedOut(at(d, 10), "2002", ("support",), session=4200.0),
        ev.CallerEntered(at(d, 9), "s1", "support", 0, 1, ()),
        ev.CallerConnected(at(d, 9, 0, 12), "s1", "support", "2002", 12.0, 3.0, 1),
        ev.CallCompleted(at(d, 9, 1, 52), "s1", "support", "2002", 12.0, 100.0, 20.0,
                         "caller", 1),
        ev.CallerEntered(at(d, 9, 10), "s2", "support", 0, 1, ()),
        ev.CallerAbandoned(at(d, 9, 10, 40), "s2", "support", 1, 1, wait=40.0),
        ev.CallerEntered(at(d, 9, 20), "s3", "support", 0, 1, ()),
        ev.CallerConnected(at(d, 9, 20, 35), "s3", "support", "2002", 35.0, 3.0, 1),
        ev.CallCompleted(at(d, 9, 24, 15), "s3", "support", "2002", 35.0, 200.0, 0.0,
                         "agent", 1),
        ev.CallerEntered(at(d, 9, 40), "s4", "support", 0, 1, ()),
        ev.CallerAbandoned(at(d, 9, 40, 3), "s4", "support", 1, 1, wait=3.0),
    ]


def prefill(data_dir: Path, today: date) -> None:
    db = Db.sqlite(data_dir / "ccswitch.db")
    QueueEventStore(db).append([*scripted_day(), *history(today)], wall_offset=0.0)
    CdrStore(db)
    db.close()


def api(daemon: Daemon, path: str) -> Any:
    r = httpx.get(f"http://{LOOPBACK}:{daemon.http_port}/api/v1{path}", headers=ADMIN,
                  timeout=10.0)
    assert r.status_code == 200, r.text
    return r.json()


def until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def after_midnight_nearby() -> date:
    """Today (UTC), after waiting for the next day when midnight is under 5 minutes away:
    "today" must not change while the test runs."""
    now = datetime.now(UTC)
    left = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    if left < 300:
        time.sleep(left + 2)
    return datetime.now(UTC).date()


@dataclass
class ReportsDay:
    """The prefilled data dir, the daemon on it (the current one: a test may restart it) and
    how to start another on it."""

    today: date
    data_dir: Path
    args: tuple[str, ...]
    start_daemon: DaemonFactory
    daemon: Daemon

    def start_again(self) -> Daemon:
        """A new daemon on the same data dir and configuration (the old one stopped first)."""
        self.daemon = self.start_daemon(data_dir=self.data_dir, extra_args=self.args)
        return self.daemon


@pytest.fixture(scope="module")
def reports_day(module_start_daemon: DaemonFactory,
                tmp_path_factory: pytest.TempPathFactory) -> ReportsDay:
    """The data dir prefilled (history before today, the scripted day) and a daemon on it,
    `[reports] timezone = "UTC"`, shared by the module's tests."""
    today = after_midnight_nearby()
    base = tmp_path_factory.mktemp("reports-day")
    data_dir = base / "data"
    data_dir.mkdir()
    prefill(data_dir, today)
    cfg = write_config(base / "c.toml", DEMO + '\n[reports]\ntimezone = "UTC"\n')
    args = ("--config", str(cfg))
    daemon = module_start_daemon(data_dir=data_dir, extra_args=args)
    return ReportsDay(today, data_dir, args, module_start_daemon, daemon)


def support_today(daemon: Daemon) -> dict[str, Any]:
    frame = api(daemon, "/wallboard")
    return next(q["today"] for q in frame["queues"] if q["name"] == "support")


def test_today_survives_a_restart_and_the_chart_shows_the_intervals(
        sipp: Sipp, reports_day: ReportsDay, module_chromium: Any,
        request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    daemon = reports_day.daemon
    callers = [caller(sipp, daemon, u, "800", "queue_caller.xml", hold_ms=HOLD_MS, timeout=60)
               for u in ("1003", "1004")]
    for c in callers:
        assert c.wait(60).ok
    # 2 callers entered today and both hung up waiting (no agent): offered 2, abandoned 2,
    # answered 0; service level 0 / 2 = 0, abandon rate 2 / 2 = 1
    want = {"since": "day", "offered": 2, "answered": 0, "abandoned": 2,
            "service_level": 0.0, "abandon_rate": 1.0}
    until("2 abandons today", lambda: support_today(daemon) == want, timeout=30)
    shots = artifact_dir(request)
    with new_page(module_chromium, 1920, 1080) as page:
        page.goto(f"http://{LOOPBACK}:{daemon.http_port}/#token={SUP_TOKEN}")
        tile = page.locator(".tile[data-queue=support]")
        expect(tile.locator("[data-field=service_level]")).to_have_text("0%", timeout=WAIT_MS)
        expect(tile.locator("[data-field=abandon_rate]")).to_have_text("100%")
        chart = page.locator("#chart")
        expect(chart).to_have_attribute("data-chart", "drawn", timeout=WAIT_MS)
        # the chart runs from the first interval with calls or forecast calls (09:00, the
        # history's first hour: 1 forecast call) to the last (17:30) or the current
        # half hour when later; 30-minute slots: index = 2 x hour + (minute >= 30)
        now = datetime.now(UTC)
        current = 2 * now.hour + (now.minute >= 30)
        first, last = min(18, current), max(35, current)
        expect(chart).to_have_attribute("data-intervals", str(last - first + 1))
        offered = page.locator(f"#chart rect[data-series=offered][data-i='{current - first}']")
        expect(offered).to_have_attribute("data-value", "2")  # the 2 live callers
        nine = page.locator(f"#chart circle[data-series=forecast][data-i='{18 - first}']")
        # forecast 09:00-09:30: the caller of 09:10 on each source day: 1
        expect(nine).to_have_attribute("data-value", "1")
        page.screenshot(path=str(shots / "wallboard-today.png"))

        rc, _ = daemon.terminate()
        assert rc == 0
        again = reports_day.start_again()
        assert support_today(again) == want  # the durable day: nothing reset
        page.goto(f"http://{LOOPBACK}:{again.http_port}/#token={SUP_TOKEN}")
        tile = page.locator(".tile[data-queue=support]")
        expect(tile.locator("[data-field=service_level]")).to_have_text("0%", timeout=WAIT_MS)
        expect(tile.locator("[data-field=abandon_rate]")).to_have_text("100%")
        expect(page.locator("#chart")).to_have_attribute("data-chart", "drawn",
                                                         timeout=WAIT_MS)
        expect(offered).to_have_attribute("data-value", "2")
        page.screenshot(path=str(shots / "wallboard-after-restart.png"))
    print(f"screenshots: {shots}")


def test_report_page_shows_the_scripted_day_and_the_forecast(
        reports_day: ReportsDay, module_chromium: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    daemon = reports_day.daemon
    shots = artifact_dir(request)
    with new_page(module_chromium, 1400, 1000) as page:
        page.goto(f"http://{LOOPBACK}:{daemon.http_port}/reports#from=2026-10-05"
                  f"&to=2026-10-05&interval=1h&token={SUP_TOKEN}")
        expect(page.locator("body")).to_have_attribute("data-loaded", re.compile(r"\d+"),
                                                       timeout=WAIT_MS)
        row = page.locator("#queue-table tbody tr", has_text="support")
        expect(row).to_have_count(1)  # one hour with callers: 09:00
        cell = lambda col: row.locator(f"td[data-col={col}]")  # noqa: E731
        expect(cell("interval_start")).to_have_text("2026-10-05 09:00")
        # 4 entered; answered s1, s3; abandoned s2, s4 (s4 after 3 s < 5: short)
        for col, want in (("offered", "4"), ("answered", "2"), ("abandoned", "2"),
                          ("short_abandoned", "1"),
                          # in SL (<= 20 s): s1 only: 1 / 4 offered
                          ("service_level", "25.0%"),
                          ("asa_s", "23.5"),  # (12 + 35) / 2
                          ("aht_s", "160.0"),  # (100 + 20 + 200 + 0) / 2
                          ("longest_wait_s", "40.0")):  # s2
            expect(cell(col)).to_have_text(want)
        bars = page.locator("#chart-volume rect[data-series=offered]")
        # 24 hours of the day, 09:00 (index 9) holds the 4 callers
        expect(bars).to_have_count(24)
        expect(bars.nth(9)).to_have_attribute("data-value", "4")
        # the forecast of today: the held-out week (the 7 days before today) forecast from
        # the 4 weeks before it: identical days, error 0 on the 9 hours with calls of each
        # of its 7 days: 63 intervals; 7 x 24 - 63 = 105 hours without calls left out
        expect(page.locator("#mape")).to_contain_text(
            "MAPE 0.0 % over 63 intervals of the held-out week (105 without calls left out)")
        # 2002's lunch: 09:30-09:45, 15 minutes
        lunch = page.locator("#chart-pauses rect[data-series=lunch]")
        expect(lunch).to_have_attribute("data-value", "15")
        staffing = page.locator("#chart-staffing circle[data-series='Erlang C']")
        expect(staffing).to_have_count(24)
        page.screenshot(path=str(shots / "reports.png"), full_page=True)
    print(f"screenshots: {shots}")
