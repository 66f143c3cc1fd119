"""``ccswitch report``: its flags, formats and errors, on the scripted day of test_reports.py
(every figure there computed by hand)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_reports import write_day

from ccswitch.cli import main
from ccswitch.store.db import Db


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_day(Db.sqlite(tmp_path / "ccswitch.db")).close()
    return tmp_path


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["report", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_one_row_per_queue_for_a_day(data_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = report(capsys, "--data-dir", str(data_dir), "--from", "2026-12-07",
                            "--to", "2026-12-07", "--interval", "day", "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert [(r["queue"], r["interval_start"]) for r in rows] == [
        ("sales", "2026-12-07T00:00:00+01:00"), ("support", "2026-12-07T00:00:00+01:00")]
    support = rows[1]
    # offered 6, answered 3, abandoned 2, SL 2/6, ASA (10+30+5)/3, AHT (110+120+60)/3
    assert {k: support[k] for k in ("offered", "answered", "abandoned", "service_level",
                                    "asa_s", "aht_s")} == {
        "offered": 6, "answered": 3, "abandoned": 2, "service_level": 0.3333, "asa_s": 15.0,
        "aht_s": 96.667}


def test_a_date_time_range_in_quarter_hours_for_one_queue(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = report(capsys, "--data-dir", str(data_dir), "--from",
                            "2026-12-07T09:00", "--to", "2026-12-07T10:00+01:00",
                            "--interval", "15m", "--queue", "support", "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["interval_start"][11:16] for r in rows] == ["09:00", "09:15", "09:30", "09:45"]
    # 09:00 c1 c2; 09:15 c3 (09:29); 09:30 c4 (09:40); 09:45 c7 (09:50, lost)
    assert [int(r["offered"]) for r in rows] == [2, 1, 1, 1]
    assert rows[0]["dispositions"] == '{"sale":1}' and rows[3]["lost"] == "1"


def test_agents_table(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = report(capsys, "agents", "--data-dir", str(data_dir), "--from",
                            "2026-12-07T09:00", "--to", "2026-12-07T09:30",
                            "--interval", "30m")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["agent", "interval", "start"]
    # a1: 2 calls, talk 120, wrap-up 20, occupancy 140/1800 = 7.8 %
    # (hold 10 s: c3's before 09:30)
    assert lines[1].split() == ["a1", "2026-12-07", "09:00", "2", "120.0", "10.0", "20.0",
                                "1800.0", "0.0", "7.8%", "7.8%"]
    assert lines[2].split()[0] == "a2"


@pytest.mark.parametrize(("args", "fault"), [
    (["--interval", "2h"], "--interval: '2h' is not one of 15m, 30m, 1h, day, week"),
    (["--format", "xml"], "--format: 'xml' is not one of table, csv, json"),
    (["--from", "yesterday"], "'yesterday' is not an ISO 8601 date"),
    (["--from", "2026-12-08", "--to", "2026-12-07T00:00"], "--to must be after --from"),
])
def test_bad_values_exit_2_with_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                         args: list[str], fault: str) -> None:
    status, out, err = report(capsys, "--data-dir", str(data_dir), *args)
    assert status == 2 and out == ""
    assert fault in err and len(err.strip().splitlines()) == 1, err


def test_a_range_over_the_limit_exits_2_naming_it(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("table", "csv", "json"):
        status, out, err = report(capsys, "--data-dir", str(data_dir), "--from", "1971-01-01",
                                  "--interval", "15m", "--format", fmt)
        assert status == 2 and out == ""
        assert err.startswith("ccswitch report: the range is ") and err.count("\n") == 1
        assert "at most 1000 intervals" in err


def test_no_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = report(capsys, "--data-dir", str(tmp_path / "none"))
    assert status == 2 and "ccswitch.db" in err


def test_a_configuration_gives_the_thresholds_and_zone(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[reports]\ntimezone = "UTC"\nshort_abandon = 2\n'
                    '[queues.support]\nservice_level = 30\n')
    status, out, _ = report(capsys, "--data-dir", str(data_dir), "--config", str(conf),
                            "--from", "2026-12-07", "--to", "2026-12-07", "--queue", "support",
                            "--format", "json")
    assert status == 0
    row = json.loads(out)[0]
    assert row["interval_start"] == "2026-12-07T00:00:00+00:00"  # UTC days
    # threshold 30: c1 (10), c3 (30) and c9 (5) are in SL: 3 / 6; c2 (3 s) is not short at 2
    assert (row["service_level"], row["short_abandoned"], row["sl_threshold_s"]) == (
        0.5, 0, 30.0)


def test_a_bad_zone_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('\n[reports]\ntimezone = "Mars/Olympus"\n')
    assert main(["check-config", str(conf)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{conf}:3: reports.timezone: 'Mars/Olympus' is not a known time zone")


def test_store_dsn_reads_postgresql(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_day(Db.postgresql(pg_dsn)).close()
    status, out, _ = report(capsys, "--store-dsn", pg_dsn, "--from", "2026-12-07", "--to",
                            "2026-12-07", "--queue", "sales", "--format", "json")
    assert status == 0
    (row,) = json.loads(out)
    # c5, c6, c8 offered; c5 and c8 answered within 30 s: 2 / 3; one refused
    assert (row["offered"], row["answered"], row["service_level"], row["refused"]) == (
        3, 2, 0.6667, 1)
    status, _, err = report(capsys, "--store-dsn", "mysql://x")
    assert status == 2 and "--store-dsn" in err and "not a PostgreSQL URI" in err
