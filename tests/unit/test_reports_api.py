"""``/api/v1/reports/...``: the same rows as ``ccswitch report --format json`` for the same
query, on the scripted day of test_reports.py (figures computed by hand there), and scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from callworld import Switch
from test_api import ADMIN, Api
from test_reports import write_day

from ccswitch.cli import main
from ccswitch.http.auth import principals
from ccswitch.http.reports import EXTRA_KEY
from ccswitch.reports.reader import ReportReader
from ccswitch.reports.service import Reports
from ccswitch.reports.settings import from_started
from ccswitch.store.db import Db, Location

SALES_SUP, AGENT = "sup-sales", "agent-a1"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_day(Db.sqlite(tmp_path / "ccswitch.db")).close()
    return tmp_path


@pytest.fixture
def api(data_dir: Path) -> Api:
    """The settings the daemon would have: those of the scripted day's start mark."""
    where = Location(data_dir / "ccswitch.db")
    start = ReportReader(where.connect()).last_start()
    a = Api(Switch(("1001",)))
    a.ctl.tokens = principals([(ADMIN, "admin", None), (SALES_SUP, "supervisor", "1020"),
                               (AGENT, "agent", "a1")], {"1020": frozenset({"sales"})})
    a.ctl.agent_queues = {"a1": ("support",), "a2": ("sales",)}
    a.ctl.extras[EXTRA_KEY] = Reports(where, lambda: from_started(start))
    return a


def cli_json(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Any:
    assert main(["report", *args, "--data-dir", str(data_dir), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_queue_rows_are_the_cli_rows(api: Api, data_dir: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    got = api("GET", "/api/v1/reports/queues?from=2026-12-07&to=2026-12-07")
    assert got.status_code == 200
    rows = got.json()
    assert rows == cli_json(capsys, data_dir, "--from", "2026-12-07", "--to", "2026-12-07")
    support = next(r for r in rows if r["queue"] == "support")
    assert (support["offered"], support["answered"], support["service_level"]) == (6, 3, 0.3333)


def test_agent_rows_are_the_cli_rows(api: Api, data_dir: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    q = "from=2026-12-07T09:00&to=2026-12-07T10:00&interval=30m"
    rows = api("GET", f"/api/v1/reports/agents?{q}").json()
    assert rows == cli_json(capsys, data_dir, "agents", "--from", "2026-12-07T09:00", "--to",
                            "2026-12-07T10:00", "--interval", "30m")
    # a2 09:30: occupancy 360 / (1800 - 300)
    assert [r["occupancy"] for r in rows if r["agent"] == "a2"] == [0.0, 0.24]
    states = api("GET", f"/api/v1/reports/agent-states?{q}&agent=a2").json()
    assert [r["pause_reasons"] for r in states] == [{"lunch": 600.0}, {"lunch": 300.0}]


def test_scope_and_errors(api: Api) -> None:
    day = "from=2026-12-07&to=2026-12-07"
    sup = api("GET", f"/api/v1/reports/queues?{day}", SALES_SUP).json()
    assert [r["queue"] for r in sup] == ["sales"]
    agents = api("GET", f"/api/v1/reports/agents?{day}", SALES_SUP).json()
    assert {r["agent"] for r in agents} == {"a2"}
    assert api("GET", "/api/v1/reports/queues", AGENT).status_code == 403
    assert api("GET", "/api/v1/reports/queues", None).status_code == 401
    bad = api("GET", "/api/v1/reports/queues?interval=2h")
    assert bad.status_code == 400 and "'2h' is not one of" in bad.json()["detail"]
    assert api("GET", "/api/v1/reports/queues?from=soon").status_code == 400
    # an unencoded "+" of an offset arrives as a space; 09:00+01:00 is 09:00 in Berlin
    plus = api("GET", "/api/v1/reports/queues?from=2026-12-07T09:00:00+01:00"
               "&to=2026-12-07T09:30:00%2B01:00&interval=30m&queue=support").json()
    assert [(r["interval_start"], r["offered"]) for r in plus] == [
        ("2026-12-07T09:00:00+01:00", 3)]  # c1, c2, c3


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_range_over_the_limit_is_422_naming_it(api: Api, fmt: str) -> None:
    """A very old ``from`` in quarter-hours would build millions of rows: refused, the same
    way for JSON and CSV, for every report; the longest allowed range is served."""
    for kind in ("queues", "agents", "agent-states", "audit"):
        got = api("GET", f"/api/v1/reports/{kind}?from=1971-01-01&interval=15m&format={fmt}")
        assert got.status_code == 422, got.text
        assert "at most 1000 intervals" in got.json()["detail"], got.text
    # 1000 days (2024-03-12 to 2026-12-07 included) in days: served
    ok = api("GET", f"/api/v1/reports/queues?from=2024-03-13&to=2026-12-07&format={fmt}")
    assert ok.status_code == 200, ok.text
    # a year the calendar cannot step through is a bad from (400), not a server error
    far = api("GET", f"/api/v1/reports/queues?from=9999-12-30&to=9999-12-31&format={fmt}")
    assert far.status_code == 400 and "out of range" in far.json()["detail"]


def test_the_openapi_document_names_the_limit(api: Api) -> None:
    doc = api("GET", "/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/reports/queues"]["get"]
    assert "1000 intervals" in op["responses"]["422"]["description"]
    assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Refusal"}
    (frm,) = [p for p in op["parameters"] if p["name"] == "from"]
    assert "at most 1000 intervals" in frm["description"]


def test_the_openapi_document_shows_the_rows(api: Api) -> None:
    doc = api("GET", "/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {"offered", "service_level", "asa_s", "aht_s"} <= set(
        schemas["QueueTotals"]["properties"])
    assert "occupancy" in schemas["AgentTotals"]["properties"]
    assert "/api/v1/reports/queues" in doc["paths"]
