"""Forecast and staffing use the report's zone (``[reports] timezone``), not the machine's:
the CLI takes it from ``--config`` or the daemon's start mark, the API from the running
configuration.  History: the 5 weeks before DAY, six calls a day at 09:00 Tokyo time
(00:00 UTC); the machine's zone is UTC."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from callworld import Switch
from test_api import ADMIN, Api

from ccswitch.acd import events as ev
from ccswitch.cli import main
from ccswitch.http.history import EXTRA_KEY as HISTORY_KEY
from ccswitch.http.reports import EXTRA_KEY as REPORTS_KEY
from ccswitch.reports.service import Reports
from ccswitch.reports.settings import ReportSettings
from ccswitch.store.db import Location
from ccswitch.store.history import History
from ccswitch.store.queue_events import QueueEventStore

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 30)  # a Monday; the history ends the day before


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "UTC")
    first = datetime.combine(DAY - timedelta(days=35), time(9), tzinfo=TOKYO).timestamp()
    events: list[ev.LoggedEvent] = [ev.SwitchStarted(first - 3600, "t", (), "Asia/Tokyo", 5.0)]
    for back in range(35, 0, -1):
        nine = datetime.combine(DAY - timedelta(days=back), time(9), tzinfo=TOKYO).timestamp()
        for i in range(6):
            t, cid = nine + 300 * i, f"d{back}c{i}"
            events += [ev.CallerEntered(t, cid, "support", 0, 1, ()),
                       ev.CallerConnected(t + 20, cid, "support", "2001", 20.0, 1.0, 1),
                       ev.CallCompleted(t + 190, cid, "support", "2001", 20.0, 170.0, 10.0,
                                        "agent", 1)]
    store = QueueEventStore(tmp_path / "ccswitch.db")
    store.append(events, wall_offset=0.0)
    store.close()
    return tmp_path


def busy(objs: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(interval start, calls) of the intervals with calls forecast."""
    return [(i["interval_start"], i["calls"]) for i in objs[0]["intervals"] if i["calls"]]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["report", "forecast", "--date", DAY.isoformat(), "--format", "json",
                 *argv]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_cli_takes_the_zone_of_the_start_mark(data_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # the 6 calls of each day fall in Tokyo's 09:00 hour, not in the machine's (UTC) 00:00
    assert busy(cli(capsys, "--data-dir", str(data_dir))) == [("2026-11-30T09:00:00+09:00",
                                                               6.0)]


def test_cli_takes_the_zone_of_config(data_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[reports]\ntimezone = "UTC"\n')
    # in UTC the calls are at 00:00-00:25 of the same days (09:00 Tokyo = 00:00 UTC)
    assert busy(cli(capsys, "--data-dir", str(data_dir), "--config", str(conf))) == [
        ("2026-11-30T00:00:00+00:00", 6.0)]
    conf.write_text('[reports]\ntimezone = "Mars/Olympus"\n')
    assert main(["report", "staffing", "--data-dir", str(data_dir), "--config", str(conf)]) == 2
    assert "reports.timezone" in capsys.readouterr().err


def test_api_takes_the_running_zone(data_dir: Path) -> None:
    api = Api(Switch(("1001",)))
    where = Location(data_dir / "ccswitch.db")
    api.ctl.extras[HISTORY_KEY] = History(where.path)
    api.ctl.extras[REPORTS_KEY] = Reports(where, lambda: ReportSettings(tz=TOKYO))
    for kind in ("forecast", "staffing"):
        got = api("GET", f"/api/v1/{kind}?date={DAY.isoformat()}&queue=support", ADMIN)
        assert got.status_code == 200, got.text
        assert busy(got.json()) == [("2026-11-30T09:00:00+09:00", 6.0)]
