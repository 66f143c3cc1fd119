"""The availability audit against a scripted hour of the event stream, every figure worked
out by hand below, on SQLite and on PostgreSQL (``store_at``).

Europe/Berlin, Monday 2026-12-07 (UTC+1); T0 = 09:00 local; times are T0 + seconds.
Half-hour intervals 09:00 and 09:30, the range 09:00-10:00.

09:00-09:30
  k1  inbound, started +10, a phone answers +12                  answer 2.0
  k2  inbound, started +100, the IVR answers +100.5              answer 0.5
      enters queue support +130                                  IVR to queue 29.5
      blind transfer: REFER +200, the target answers +206        transfer 6.0
  k3  inbound, started +300, answered +304                       answer 4.0
      transfer: REFER +400, the target busy +430                 transfer failed 480
      the call ends +440 with status 480 (answered: not a failed call)
  k4  refused at the door +500 with 503 (no call.started)        failed 503
  k5  inbound, started +600, ends unanswered +605 with 486       failed 486
  k6  placed by the switch (a callback), started = answered +700: not inbound, not counted
  k7  inbound, started +800, the IVR answers +801                answer 1.0
      hangs up in the IVR (never reaches a queue)
  k9  started +1100, cancelled by the caller +1102 with 487      failed 487
  media worker 1 restarts +900 (09:15:00)
  overload: shed 7 requests from +1000 (09:16:40) to +1003, written +1013
09:30-10:00
  k10 inbound, started +1900, answered +1910                     answer 10.0
      transfer by the API +2100, the target answers +2103        transfer 3.0
  k11 inbound, started +2000, the IVR answers +2000              answer 0.0
      enters queue sales +2040                                   IVR to queue 40.0
  media worker 0 restarts +2500 (09:41:40) and +2501 (09:41:41)
  k13 inbound, started +3590 (09:59:50), answered +3620 (10:00:20, after the range):
      counted where it started                                   answer 30.0
after the range
  k14 inbound, started +3700 (10:01:40): not counted
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from callworld import Switch
from test_api import ADMIN, Api

from ccswitch.acd.events import CallerEntered
from ccswitch.call.eventlog import EventRecord, overload, record_of, worker_restarted
from ccswitch.call.events import CallAnswered, CallEnded, CallStarted, TransferEnded
from ccswitch.cli import main
from ccswitch.http.auth import principals
from ccswitch.http.reports import EXTRA_KEY
from ccswitch.reports import ReportReader, ReportSettings, compute, plain
from ccswitch.reports.audit import nearest_rank
from ccswitch.reports.service import Reports
from ccswitch.reports.settings import from_started
from ccswitch.store.db import Db, Location
from ccswitch.store.events import EventStore, StoredEvent

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).timestamp()
SETTINGS = ReportSettings(tz=BERLIN)


def ended(call_id: str, status: int, started: float, answered: float | None,
          at: float) -> CallEnded:
    return CallEnded(call_id, "1001", "800", status, "x", T0 + started,
                     None if answered is None else T0 + answered, T0 + at, "caller")


def core_events() -> list[object]:
    t = T0
    return [
        CallStarted("k1", "1001", "1002", t + 10), CallAnswered("k1", "sip:1002@x", t + 12),
        CallStarted("k2", "1001", "800", t + 100), CallAnswered("k2", "ivr", t + 100.5),
        CallerEntered(t + 130, "k2", "support", 0, 1, ()),
        TransferEnded("k2", "blind", "1003", "refer", 200, t + 200, t + 206),
        CallStarted("k3", "1001", "1002", t + 300), CallAnswered("k3", "sip:1002@x", t + 304),
        TransferEnded("k3", "blind", "1004", "refer", 480, t + 400, t + 430),
        ended("k3", 480, 300, 304, 440),
        ended("k4", 503, 500, None, 500),
        CallStarted("k5", "1001", "1009", t + 600), ended("k5", 486, 600, None, 605),
        CallStarted("k6", "2001", "support", t + 700, inbound=False),
        CallAnswered("k6", "queue", t + 700),
        CallStarted("k7", "1001", "800", t + 800), CallAnswered("k7", "ivr", t + 801),
        CallStarted("k9", "1001", "1002", t + 1100), ended("k9", 487, 1100, None, 1102),
        CallStarted("k10", "1001", "1002", t + 1900),
        CallAnswered("k10", "sip:1002@x", t + 1910),
        TransferEnded("k10", "blind", "1003", "api", 200, t + 2100, t + 2103),
        CallStarted("k11", "1001", "800", t + 2000), CallAnswered("k11", "ivr", t + 2000),
        CallerEntered(t + 2040, "k11", "sales", 0, 1, ()),
        CallStarted("k13", "1001", "1002", t + 3590),
        CallAnswered("k13", "sip:1002@x", t + 3620),
        CallStarted("k14", "1001", "1002", t + 3700),
        CallAnswered("k14", "sip:1002@x", t + 3705),
    ]


def shell_events() -> list[EventRecord]:
    t = T0
    return [worker_restarted(worker=1, legs=4, restarts=1, time=t + 900),
            overload(since=t + 1000, until=t + 1003, shed=7, max_lag=0.25, time=t + 1013),
            worker_restarted(worker=0, legs=2, restarts=1, time=t + 2500),
            worker_restarted(worker=0, legs=0, restarts=2, time=t + 2501)]


def write_stream(db: Db) -> Db:
    records = [r for r in (record_of(e, now=0.0, wall_offset=0.0) for e in core_events())
               if r is not None] + shell_events()
    records.sort(key=lambda r: r.time)  # the order the switch would have written them in
    EventStore(db).append(StoredEvent(seq, r) for seq, r in enumerate(records, 1))
    return db


@pytest.fixture
def reader(store_at: Location) -> ReportReader:
    return ReportReader(write_stream(store_at.connect()))


def audit(reader: ReportReader, interval: str = "30m", **kw: object) -> list[dict[str, object]]:
    got = compute(reader, "audit", start=T0, end=T0 + 3600, interval=interval,
                  settings=SETTINGS, now=T0 + 7200, **kw)  # type: ignore[arg-type]
    return plain(got)


def test_half_hours(reader: ReportReader) -> None:
    first, second = audit(reader)
    assert (first["interval_start"], second["interval_end"]) == (
        "2026-12-07T09:00:00+01:00", "2026-12-07T10:00:00+01:00")
    # answers k1 2.0, k2 0.5, k3 4.0, k7 1.0: mean 7.5 / 4 = 1.875; sorted 0.5 1 2 4:
    # p90 rank ceil(0.9 * 4) = 4 -> 4.0, p95 rank ceil(3.8) = 4 -> 4.0
    assert {k: first[k] for k in ("answered", "answer_mean_s", "answer_p90_s", "answer_p95_s",
                                  "answer_max_s")} == {
        "answered": 4, "answer_mean_s": 1.875, "answer_p90_s": 4.0, "answer_p95_s": 4.0,
        "answer_max_s": 4.0}
    # k4 503, k5 486, k9 487 (k3's 480 was answered)
    assert (first["failed"], first["failed_codes"]) == (3, {"486": 1, "487": 1, "503": 1})
    # the IVR answered k2 and k7, k2 reached a queue after 130 - 100.5 = 29.5
    assert {k: first[k] for k in ("ivr_calls", "ivr_to_queue", "ivr_queue_mean_s",
                                  "ivr_queue_p90_s", "ivr_queue_p95_s")} == {
        "ivr_calls": 2, "ivr_to_queue": 1, "ivr_queue_mean_s": 29.5, "ivr_queue_p90_s": 29.5,
        "ivr_queue_p95_s": 29.5}
    # k2 answered after 206 - 200 = 6.0, k3 failed with 480
    assert {k: first[k] for k in ("transfers", "transfers_failed", "transfer_mean_s",
                                  "transfer_failed_codes")} == {
        "transfers": 2, "transfers_failed": 1, "transfer_mean_s": 6.0,
        "transfer_failed_codes": {"480": 1}}
    assert (first["worker_restarts"], first["worker_restart_times"]) == (
        1, ["2026-12-07T09:15:00+01:00"])
    assert (first["overloads"], first["shed_requests"], first["overload_times"]) == (
        1, 7, ["2026-12-07T09:16:40+01:00"])
    # answers k10 10.0, k11 0.0, k13 30.0: mean 40 / 3 = 13.333; p90 rank ceil(2.7) = 3
    assert {k: second[k] for k in ("answered", "answer_mean_s", "answer_p90_s",
                                   "answer_max_s")} == {
        "answered": 3, "answer_mean_s": 13.333, "answer_p90_s": 30.0, "answer_max_s": 30.0}
    assert (second["failed"], second["ivr_calls"], second["ivr_to_queue"],
            second["ivr_queue_mean_s"]) == (0, 1, 1, 40.0)
    assert (second["transfers"], second["transfers_failed"], second["transfer_mean_s"]) == (
        1, 0, 3.0)
    assert second["worker_restart_times"] == ["2026-12-07T09:41:40+01:00",
                                              "2026-12-07T09:41:41+01:00"]
    assert (second["worker_restarts"], second["overloads"], second["shed_requests"]) == (
        2, 0, 0)


def test_one_row_for_the_hour(reader: ReportReader) -> None:
    (row,) = audit(reader, "1h")
    # 7 answers: 2 + 0.5 + 4 + 1 + 10 + 0 + 30 = 47.5, mean 47.5 / 7 = 6.786;
    # sorted 0 0.5 1 2 4 10 30: p90 rank ceil(6.3) = 7 -> 30.0, p95 rank 7 -> 30.0
    assert (row["answered"], row["answer_mean_s"], row["answer_p90_s"]) == (7, 6.786, 30.0)
    # IVR: 29.5 and 40: mean 34.75, p90 rank ceil(1.8) = 2 -> 40.0
    assert (row["ivr_calls"], row["ivr_to_queue"], row["ivr_queue_mean_s"],
            row["ivr_queue_p90_s"]) == (3, 2, 34.75, 40.0)
    # transfers 6.0 and 3.0: mean 4.5, p90 rank 2 -> 6.0; one failed
    assert (row["transfers"], row["transfer_mean_s"], row["transfer_p90_s"],
            row["transfers_failed"]) == (3, 4.5, 6.0, 1)
    assert (row["worker_restarts"], row["overloads"], row["shed_requests"]) == (3, 1, 7)


def test_one_queue_counts_its_calls_and_the_switch_wide_events(reader: ReportReader) -> None:
    first, second = audit(reader, queue="support")
    # only k2 entered support: answer 0.5, IVR to queue 29.5, transfer 6.0
    assert (first["answered"], first["answer_mean_s"], first["ivr_queue_mean_s"],
            first["transfers"], first["transfer_mean_s"], first["failed"]) == (
        1, 0.5, 29.5, 1, 6.0, 0)
    assert (first["worker_restarts"], first["overloads"]) == (1, 1)
    assert (second["answered"], second["worker_restarts"]) == (0, 2)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(20, 0, -1)]  # 1..20 in any order
    # p90: rank ceil(0.9 * 20) = 18 -> 18; p95: rank 19 -> 19; p50: rank 10 -> 10
    assert (nearest_rank(values, 0.9), nearest_rank(values, 0.95),
            nearest_rank(values, 0.5)) == (18.0, 19.0, 10.0)
    assert nearest_rank([], 0.9) == 0.0 and nearest_rank([7.0], 0.95) == 7.0


# -- the command line and the API: the same rows ------------------------------------------
@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stream in a data dir; no start mark: the report's zone is the machine's ($TZ)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    write_stream(Db.sqlite(tmp_path / "ccswitch.db")).close()
    return tmp_path


HOUR = ("--from", "2026-12-07T09:00", "--to", "2026-12-07T10:00", "--interval", "30m")


def cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str]:
    status = main(["report", "audit", "--data-dir", str(data_dir), *args])
    return status, capsys.readouterr().out


def test_the_cli_prints_json_csv_and_a_table(data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    status, out = cli(capsys, data_dir, *HOUR, "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert [(r["answered"], r["failed"], r["worker_restarts"]) for r in rows] == [
        (4, 3, 1), (3, 0, 2)]
    _, out = cli(capsys, data_dir, *HOUR, "--format", "csv")
    first = next(csv.DictReader(io.StringIO(out)))
    assert first["failed_codes"] == '{"486":1,"487":1,"503":1}'
    assert first["worker_restart_times"] == '["2026-12-07T09:15:00+01:00"]'
    _, out = cli(capsys, data_dir, *HOUR)
    head, row1, row2 = out.splitlines()
    assert head.split("  ")[0] == "interval start" and "worker restart times" in head
    assert row1.startswith("2026-12-07 09:00") and "486=1 487=1 503=1" in row1
    assert row1.endswith("09:16:40") and "09:41:40,09:41:41" in row2


def test_the_audit_refuses_an_agent(data_dir: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    assert main(["report", "audit", "--data-dir", str(data_dir), "--agent", "a1"]) == 2
    assert "--agent: the audit has no agent rows" in capsys.readouterr().err


def test_the_api_returns_the_cli_rows_to_the_admin_only(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = json.loads(cli(capsys, data_dir, *HOUR, "--format", "json")[1])
    where = Location(data_dir / "ccswitch.db")
    a = Api(Switch(("1001",)))
    a.ctl.tokens = principals([(ADMIN, "admin", None), ("sup", "supervisor", "1020")],
                              {"1020": frozenset({"sales"})})
    a.ctl.extras[EXTRA_KEY] = Reports(where, lambda: from_started(None))
    got = a("GET", "/api/v1/reports/audit?from=2026-12-07T09:00&to=2026-12-07T10:00"
               "&interval=30m")
    assert got.status_code == 200
    assert got.json() == printed
    assert a("GET", "/api/v1/reports/audit", "sup").status_code == 403  # not every queue
    assert a("GET", "/api/v1/reports/audit?interval=2h").status_code == 400
    doc = a("GET", "/api/v1/openapi.json").json()
    assert "shed_requests" in doc["components"]["schemas"]["AuditTotals"]["properties"]
