"""The report page ``GET /reports`` and its assets (no token), and the CSV downloads it
links: ``format=csv`` on the reports API is exactly ``ccswitch report --format csv`` (on the
scripted day of test_reports.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from callworld import Switch
from test_api import ADMIN, Api
from test_reports_api import SALES_SUP, api, data_dir  # noqa: F401 (fixtures)

from ccswitch.cli import main


def test_the_page_and_its_assets_need_no_token() -> None:
    a = Api(Switch(("1001",)))
    page = a("GET", "/reports", None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/reports/chart.js">' in page.text
    assert '<script src="/reports/reports.js">' in page.text
    for name, kind in (("reports.js", "text/javascript"), ("chart.js", "text/javascript"),
                       ("reports.css", "text/css")):
        r = a("GET", f"/reports/{name}", None)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
    assert a("GET", "/reports/index.html", None).status_code == 404
    assert a("GET", "/reports/..%2Freport_page.py", None).status_code == 404


@pytest.mark.parametrize(("kind", "path"), [("queues", "queues"), ("agents", "agents"),
                                            ("agent-states", "agent-states")])
def test_csv_is_the_cli_csv(api: Api, data_dir: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
                            kind: str, path: str) -> None:
    q = "from=2026-12-07T09:00&to=2026-12-07T10:00&interval=30m"  # a closed range
    got = api("GET", f"/api/v1/reports/{path}?{q}&format=csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"] == f'attachment; filename="{kind}.csv"'
    capsys.readouterr()
    assert main(["report", kind, "--data-dir", str(data_dir), "--from", "2026-12-07T09:00",
                 "--to", "2026-12-07T10:00", "--interval", "30m", "--format", "csv"]) == 0
    assert got.text == capsys.readouterr().out
    assert got.text.startswith("queue," if kind == "queues" else "agent,")


def test_csv_keeps_the_scope(api: Api) -> None:  # noqa: F811
    got = api("GET", "/api/v1/reports/queues?from=2026-12-07&to=2026-12-07&format=csv",
              SALES_SUP)
    lines = got.text.splitlines()
    assert len(lines) == 2 and lines[1].startswith("sales,")  # a header and sales' one day
    assert api("GET", "/api/v1/reports/queues?format=xml", ADMIN).status_code == 422
