"""``ccswitch report forecast|staffing`` on a real data dir, and ``/api/v1/forecast`` and
``/api/v1/staffing`` answering the same objects.  The history: every day of the five weeks
before today (UTC), six calls at 09:00, each answered after 20 s, 170 s talk, 10 s wrap-up."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from callworld import Switch
from test_api import ADMIN, SUP, Api
from test_erlang_a import sl_transient

from ccswitch.acd.events import CallCompleted, CallerConnected, CallerEntered, QueueEvent
from ccswitch.cli import main
from ccswitch.http.history import EXTRA_KEY
from ccswitch.store.db import Location
from ccswitch.store.history import History
from ccswitch.store.queue_events import QueueEventStore


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "UTC")
    today = datetime.now(UTC).date()
    events: list[QueueEvent] = []
    for back in range(35, 0, -1):
        nine = datetime.combine(today - timedelta(days=back), time(9), tzinfo=UTC).timestamp()
        for i in range(6):
            t, cid = nine + 300 * i, f"d{back}c{i}"
            events += [CallerEntered(t, cid, "support", 0, 1, ()),
                       CallerConnected(t + 20, cid, "support", "2001", 20.0, 1.0, 1),
                       CallCompleted(t + 190, cid, "support", "2001", 20.0, 170.0, 10.0,
                                     "agent", 1)]
    store = QueueEventStore(tmp_path / "ccswitch.db")
    store.append(events, wall_offset=0.0)
    store.close()
    return tmp_path


@pytest.fixture
def store_args(store_at: Location, data_dir: Path) -> list[str]:
    """The CLI's flags reading the same history from a SQLite data dir, then PostgreSQL."""
    if store_at.dsn is None:
        return ["--data-dir", str(data_dir)]
    db = QueueEventStore(store_at.connect())
    src = QueueEventStore(data_dir / "ccswitch.db")
    db.append(src.events(), wall_offset=0.0)
    src.close()
    db.close()
    return ["--store-dsn", store_at.dsn, "--data-dir", str(data_dir / "absent")]


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


def test_staffing_json_by_hand(store_args: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "staffing", *store_args, "--format", "json",
                          "--queue", "support", "--target", "80/20", "--shrinkage", "0.3",
                          "--blocking", "0.01")
    assert code == 0
    [obj] = json.loads(out)
    assert obj["date"] == tomorrow()  # the default day
    assert len(obj["source_days"]) == 4 and obj["patience_s"] is None  # nobody abandoned
    # the held-out week: 6 calls forecast, 6 happened, each day at 09:00: MAPE 0 over 7
    # intervals, the other 7 x 23 = 161 hours had no call
    assert (obj["mape_pct"], obj["mape_intervals"], obj["mape_skipped_zero"]) == (0.0, 7, 161)
    nine = obj["intervals"][9]
    assert nine["interval_start"].startswith(f"{tomorrow()}T09:00:00")
    # 6 calls of 170 + 10 s: A = 6 x 180 / 3600 = 0.3 E.  Erlang C, one agent:
    # SL = 1 - .3 exp(-.7 x 20/180) = 1 - .3 x .925180 = .7226 < .8; two: B = .045 / 1.345
    # = .033457, C = .066914 / (2 - .3 x .966543) = .039130, SL = 1 - .039130 x
    # exp(-1.7 x 20/180) = .9676: 2 agents, scheduled ceil(2 / .7) = 3; no abandons: Erlang A
    # is Erlang C.  Lines: 6 x (20 + 170) / 3600 = .316667 E: B1 = .240506, B2 = .036683,
    # B3 = .0038573 <= .01: 3 trunks.
    assert (nine["calls"], nine["aht_s"], nine["erlangs"]) == (6.0, 180.0, 0.3)
    assert (nine["agents_erlang_c"], nine["agents_erlang_a"], nine["scheduled_erlang_c"],
            nine["scheduled_erlang_a"], nine["trunks"]) == (2, 2, 3, 3, 3)
    assert nine["line_erlangs"] == pytest.approx(6 * 190 / 3600, abs=1e-6)
    assert obj["intervals"][10]["agents_erlang_c"] == 0


def test_forecast_table_and_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "forecast", "--data-dir", str(data_dir))
    assert code == 0
    assert out.startswith("queue support  " + tomorrow())
    assert "MAPE 0.0 % over 7 intervals (161 without calls skipped)" in out
    assert "09:00   6.00  180.00       190.00" in out
    code, out, _ = report(capsys, "forecast", "--data-dir", str(data_dir), "--format", "csv",
                          "--interval", "30m")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 48
    assert rows[18]["interval_start"].startswith(f"{tomorrow()}T09:00")
    assert (rows[18]["queue"], float(rows[18]["calls"])) == ("support", 6.0)


def test_bad_flags_exit_2(data_dir: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = report(capsys, "staffing", "--data-dir", str(data_dir), "--target", "120/20")
    assert code == 2 and "target '120/20'" in err
    code, _, err = report(capsys, "forecast", "--data-dir", str(tmp_path / "none"))
    assert code == 2 and "ccswitch.db" in err
    code, _, err = report(capsys, "forecast", "--data-dir", str(data_dir), "--date", "monday")
    assert code == 2 and "report forecast" in err
    code, _, err = report(capsys, "staffing", "--data-dir", str(data_dir), "--shrinkage", "1")
    assert code == 2 and "shrinkage" in err
    code, _, err = report(capsys, "forecast", "--data-dir", str(data_dir), "--date", "0001-01-01")
    assert code == 2 and "out of range" in err
    # at most a year of history, as the API's weeks (le=52): no year-long reads from the CLI
    code, _, err = report(capsys, "forecast", "--data-dir", str(data_dir), "--weeks", "53")
    assert code == 2 and "--weeks must be from 1 to 52" in err


def api_for(data_dir: Path) -> Api:
    a = Api(Switch(("1001",)))
    a.ctl.extras[EXTRA_KEY] = History(data_dir / "ccswitch.db")
    return a


def test_api_answers_what_the_cli_prints(data_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    api = api_for(data_dir)
    capsys.readouterr()  # the switch's start-up logs
    for kind, extra in (("forecast", []), ("staffing", ["--shrinkage", "0.2"])):
        _, out, _ = report(capsys, kind, "--data-dir", str(data_dir), "--format", "json",
                           "--interval", "15m", *extra)
        query = "interval=15m" + ("&shrinkage=0.2" if extra else "")
        r = api("GET", f"/api/v1/{kind}?{query}", SUP)
        assert r.status_code == 200, r.text
        assert normal(r.json()) == normal(json.loads(out))
    r = api("GET", f"/api/v1/staffing?queue=support&date={tomorrow()}&weeks=2&target=90/10")
    [obj] = r.json()
    assert obj["target"] == "90/10" and len(obj["source_days"]) == 2


def normal(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Times as instants (pydantic writes UTC as Z, isoformat as +00:00)."""
    out: list[dict[str, Any]] = json.loads(json.dumps(objs))
    for o in out:
        for row in o["intervals"]:
            row["interval_start"] = datetime.fromisoformat(
                row["interval_start"].replace("Z", "+00:00")).timestamp()
        o["date"] = date.fromisoformat(o["date"]).isoformat()
    return out


def test_api_scope_and_bad_queries(data_dir: Path) -> None:
    api = api_for(data_dir)
    paths = api("GET", "/api/v1/openapi.json", None).json()["paths"]
    assert {"/api/v1/forecast", "/api/v1/staffing"} <= set(paths)
    assert api("GET", "/api/v1/forecast", "demo-agent-2001").status_code == 403
    assert api("GET", "/api/v1/forecast?queue=billing", SUP).status_code == 403
    assert api("GET", "/api/v1/forecast?queue=billing", ADMIN).json()[0]["intervals"][9][
        "calls"] == 0
    assert api("GET", "/api/v1/staffing?target=80").status_code == 422
    assert api("GET", "/api/v1/forecast?date=0001-01-01").status_code == 400
    assert api("GET", "/api/v1/forecast?queue=a%00b").status_code == 422
    assert api("GET", "/api/v1/staffing?shrinkage=1").status_code == 422
    assert api("GET", "/api/v1/forecast?interval=2h").status_code == 422
    assert api("GET", "/api/v1/forecast", None).status_code == 401


def test_erlang_endpoint_with_patience() -> None:
    api = Api(Switch(("1001",)))
    # 200 calls/h of 180 s = 10 Erlangs at 80/20: Erlang C needs 14 (test_erlang.py)
    c = api("GET", "/api/v1/erlang?calls=200&aht=180&target=80/20").json()
    assert (c["agents"], c["model"], c["patience_s"], c["probability_of_abandon"]) == (
        14, "erlang_c", None, 0.0)
    a = api("GET", "/api/v1/erlang?calls=200&aht=180&target=80/20&patience=120").json()
    assert a["model"] == "erlang_a" and a["patience_s"] == 120.0
    assert a["agents"] < 14 and a["service_level"] >= 0.8
    # the independent transient computation of test_erlang_a: theta = 180/120 = 1.5 AHT^-1
    assert a["service_level"] == pytest.approx(sl_transient(10.0, a["agents"], 1.5, 20 / 180),
                                               abs=1e-9)
    assert 0 < a["probability_of_abandon"] < a["probability_of_waiting"]
    assert api("GET", "/api/v1/erlang?calls=200&aht=180&patience=0").status_code == 422


def test_run_with_a_parser_shared_with_other_report_kinds(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ``ccswitch report`` may take the kind as a positional beside the other reports' flags:
    # run() reads what it has and takes the defaults of flags that parser does not define.
    import argparse

    from ccswitch.reports import forecast_cli

    p = argparse.ArgumentParser()
    p.add_argument("kind")
    p.add_argument("--data-dir")
    p.add_argument("--store-dsn")
    p.add_argument("--queue")
    p.add_argument("--interval", default="1h")
    p.add_argument("--format", default="json")
    forecast_cli.add_own_arguments(p, staffing=False)
    args = p.parse_args(["staffing", "--data-dir", str(data_dir), "--weeks", "2"])
    assert forecast_cli.run(args) == 0
    [obj] = json.loads(capsys.readouterr().out)
    assert obj["shrinkage"] == 0.3 and len(obj["source_days"]) == 2
    assert obj["intervals"][9]["scheduled_erlang_c"] == 3  # as in test_staffing_json_by_hand
    args = p.parse_args(["forecast", "--data-dir", str(data_dir), "--interval", "day"])
    assert forecast_cli.run(args) == 2
    assert "--interval must be one of 15m, 30m, 1h" in capsys.readouterr().err
