"""The reports against a scripted day whose every figure is computed by hand below.

The day (Europe/Berlin, Monday 2026-12-07, UTC+1; T0 = 09:00 local).  Thresholds: support
20 s, sales 30 s; short abandon 5 s.  Times are T0 + seconds:

run 1 starts 08:00 (T0-3600).  a1 (support) logs in 08:30 (T0-1800); a2 (sales) at 09:00 (T0).
  c1 support: enters +300, a1 answers +310 (wait 10), ends +400 (talk 90, wrap-up 30),
              disposition "sale" at +420: the wrap-up is cut to 20.
  c2 support: enters +600, hangs up +603 (wait 3: a short abandon).
  a2 pauses "lunch" +1200 .. +2100 (crosses 09:30: 600 s before, 300 s after).
  c3 support: enters +1740 (09:29), a1 answers +1770 (wait 30 > 20: outside SL), holds it
              +1790 .. +1830 (40 s: 10 before 09:30, 30 after), transfers at +1890 (talk
              120: 30 s before 09:30, 90 s after).
  c5 sales:   enters +2160, a2 answers +2175 (wait 15 <= 30), holds it +2200 .. +2260 (60 s),
              ends +2475 (talk 300, wrap-up 10, over at +2485).
  c4 support: enters +2400, hangs up +2445 (wait 45).
  c6 sales:   enters +2700, overflows (timeout) +2760 (wait 60).
  sales refuses a caller at +2800 (full).
  c7 support: enters +3000, still waiting when the daemon dies.
  c8 sales:   enters +3120, a2 answers +3130 (wait 10), holds it at +3150; its CDR says it
              ended at +3180.
run 2 starts 10:00 (T0+3600): c7 is lost (wait 600), c8's talk is 50 and its hold 30 (both
  end with its CDR at +3180), a1 and a2 are logged out at +3600.
  a1 logs in again +3900.
  c9 support: enters +4200, a1 answers +4205 (wait 5), ends +4265 (talk 60, no wrap-up).
The report is read at 10:30 (T0+5400).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ccswitch.acd import events as ev
from ccswitch.call.events import CallEnded
from ccswitch.reports import QueueTotals, ReportReader, ReportSettings, compute, plain, today
from ccswitch.reports.settings import from_started
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db, Location
from ccswitch.store.events import EventStore
from ccswitch.store.queue_events import QueueEventStore

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).timestamp()
DAY = (datetime(2026, 12, 7, tzinfo=BERLIN).timestamp(),
       datetime(2026, 12, 8, tzinfo=BERLIN).timestamp())
NOW = T0 + 5400
SUPPORT, SALES = (("support", 0),), (("sales", 0),)


def day_events() -> list[ev.LoggedEvent]:
    t = T0
    start1 = ev.SwitchStarted(t - 3600, "test", (("sales", 30.0), ("support", 20.0)),
                              "Europe/Berlin", 5.0)
    return [
        start1,
        ev.AgentLoggedIn(t - 1800, "a1", SUPPORT),
        ev.AgentLoggedIn(t, "a2", SALES),
        ev.CallerEntered(t + 300, "c1", "support", 0, 1, ()),
        ev.CallerOffered(t + 301, "c1", "support", "a1"),
        ev.CallerConnected(t + 310, "c1", "support", "a1", wait=10, ring_time=9,
                           entry_position=1),
        ev.CallCompleted(t + 400, "c1", "support", "a1", wait=10, talk=90, wrapup=30,
                         by="caller", entry_position=1),
        ev.CallDisposition(t + 420, "c1", "support", "a1", "sale", wrapup_left=10),
        ev.CallerEntered(t + 600, "c2", "support", 0, 1, ()),
        ev.CallerAbandoned(t + 603, "c2", "support", 1, 1, wait=3),
        ev.AgentPaused(t + 1200, "a2", ("sales",), "lunch"),
        ev.CallerEntered(t + 1740, "c3", "support", 0, 1, ()),
        ev.OfferFailed(t + 1750, "c3", "support", "a1", "noanswer", 10),
        ev.CallerConnected(t + 1770, "c3", "support", "a1", wait=30, ring_time=5,
                           entry_position=1),
        ev.CallHeld(t + 1790, "c3", "support", "a1", True, "agent"),
        ev.CallHeld(t + 1830, "c3", "support", "a1", False, "agent"),
        ev.CallTransferred(t + 1890, "c3", "support", "a1", "1005", wait=30, talk=120,
                           entry_position=1),
        ev.AgentUnpaused(t + 2100, "a2", ("sales",), "lunch", paused_for=900),
        ev.CallerEntered(t + 2160, "c5", "sales", 0, 1, ()),
        ev.CallerConnected(t + 2175, "c5", "sales", "a2", wait=15, ring_time=3,
                           entry_position=1),
        ev.CallHeld(t + 2200, "c5", "sales", "a2", True, "agent"),
        ev.CallHeld(t + 2260, "c5", "sales", "a2", False, "agent"),
        ev.CallerEntered(t + 2400, "c4", "support", 0, 1, ()),
        ev.CallerAbandoned(t + 2445, "c4", "support", 1, 1, wait=45),
        ev.CallCompleted(t + 2475, "c5", "sales", "a2", wait=15, talk=300, wrapup=10,
                         by="agent", entry_position=1),
        ev.CallerEntered(t + 2700, "c6", "sales", 0, 1, ()),
        ev.CallerOverflowed(t + 2760, "c6", "sales", "timeout", None, 1, 1, wait=60),
        ev.CallerRefused(t + 2800, "cx", "sales", "full", None),
        ev.CallerEntered(t + 3000, "c7", "support", 0, 1, ()),
        ev.CallerEntered(t + 3120, "c8", "sales", 0, 1, ()),
        ev.CallerConnected(t + 3130, "c8", "sales", "a2", wait=10, ring_time=2,
                           entry_position=1),
        ev.CallHeld(t + 3150, "c8", "sales", "a2", True, "caller"),
        ev.SwitchStarted(t + 3600, "test", (("sales", 30.0), ("support", 20.0)),
                         "Europe/Berlin", 5.0),
        ev.AgentLoggedIn(t + 3900, "a1", SUPPORT),
        ev.CallerEntered(t + 4200, "c9", "support", 0, 1, ()),
        ev.CallerConnected(t + 4205, "c9", "support", "a1", wait=5, ring_time=5,
                           entry_position=1),
        ev.CallCompleted(t + 4265, "c9", "support", "a1", wait=5, talk=60, wrapup=0,
                         by="caller", entry_position=1),
    ]


def c8_cdr() -> CallEnded:
    return CallEnded("c8", "1001", "801", 200, "OK", started=T0 + 3120, answered=T0 + 3130,
                     ended=T0 + 3180, ended_by="caller", queue="sales", agent="a2")


def write_day(db: Db) -> Db:
    """The scripted day's queue log and c8's CDR in ``db``'s stores (and the event stream's
    table, empty, as the daemon's store has it)."""
    QueueEventStore(db).append(day_events(), wall_offset=0.0)
    EventStore(db)
    CdrStore(db).add(c8_cdr(), wall_offset=0.0)
    return db


@pytest.fixture
def reader(store_at: Location) -> ReportReader:
    return ReportReader(write_day(store_at.connect()))


def settings_of(reader: ReportReader) -> ReportSettings:
    return from_started(reader.last_start())


def rows(reader: ReportReader, kind: str, interval: str, **kw: object) -> dict[tuple[str, str],
                                                                              dict[str, object]]:
    got = compute(reader, kind, start=DAY[0], end=DAY[1], interval=interval,
                  settings=settings_of(reader), now=NOW, **kw)  # type: ignore[arg-type]
    key = "queue" if kind == "queues" else "agent"
    return {(r[key], r["interval_start"][11:16]): r for r in plain(got)}


def test_settings_come_from_the_last_start(reader: ReportReader) -> None:
    s = settings_of(reader)
    assert s.threshold("support") == 20.0 and s.threshold("sales") == 30.0
    assert s.short_abandon == 5.0 and str(s.tz) == "Europe/Berlin"


def test_queue_report_half_hours(reader: ReportReader) -> None:
    got = rows(reader, "queues", "30m")
    assert len(got) == 2 * 48  # every half hour of the day, for each queue
    r = got[("support", "09:00")]
    assert r["interval_start"] == "2026-12-07T09:00:00+01:00"
    # c1, c2, c3 entered 09:00-09:30 (c3's talk runs into 09:30: counted here, once)
    assert (r["offered"], r["answered"], r["abandoned"], r["short_abandoned"]) == (3, 2, 1, 1)
    assert r["answered_in_sl"] == 1  # c1 (10 <= 20); c3 waited 30
    assert r["service_level"] == 0.3333  # 1 / 3 offered
    assert r["service_level_answered"] == 0.5  # 1 / 2 answered
    assert r["service_level_net"] == 0.5  # 1 / (3 - 1 short abandon)
    assert r["abandon_rate"] == 0.3333  # 1 / 3
    assert r["asa_s"] == 20.0  # (10 + 30) / 2
    assert r["handled"] == 2
    assert r["aht_s"] == 115.0  # (90 + 20 wrap-up + 120 + 0) / 2
    assert r["avg_talk_s"] == 105.0  # (90 + 120) / 2
    assert r["avg_wrapup_s"] == 10.0  # (20 + 0) / 2
    assert r["avg_hold_s"] == 20.0  # (0 + 40) / 2: c3's hold (part of its talk)
    assert r["longest_wait_s"] == 30.0  # max(10, 3, 30)
    assert r["transfers"] == 1 and r["dispositions"] == {"sale": 1}
    r = got[("support", "09:30")]
    # c4 abandoned after 45 s (not short); c7 lost at the restart after 600 s
    assert (r["offered"], r["answered"], r["abandoned"], r["short_abandoned"], r["lost"]) == (
        2, 0, 1, 0, 1)
    assert r["service_level"] == 0.0 and r["asa_s"] == 0.0
    assert r["abandon_rate"] == 0.5 and r["longest_wait_s"] == 600.0
    r = got[("support", "10:00")]
    assert (r["offered"], r["answered"], r["service_level"], r["asa_s"], r["aht_s"]) == (
        1, 1, 1.0, 5.0, 60.0)  # c9: wait 5 <= 20, talk 60
    r = got[("sales", "09:30")]
    # c5 (wait 15, talk 300, wrap-up 10), c6 overflowed after 60, c8 (wait 10, talk 50 from
    # its CDR), one caller refused
    assert (r["offered"], r["answered"], r["overflowed"], r["refused"]) == (3, 2, 1, 1)
    assert r["service_level"] == 0.6667  # 2 / 3
    assert r["service_level_answered"] == 1.0  # 2 / 2
    assert r["asa_s"] == 12.5  # (15 + 10) / 2
    assert r["aht_s"] == 180.0  # (300 + 10 + 50 + 0) / 2
    assert r["avg_hold_s"] == 45.0  # (60 + 30) / 2
    assert r["longest_wait_s"] == 60.0
    assert got[("sales", "09:00")]["offered"] == 0


def test_queue_report_one_row_per_queue_for_a_day(reader: ReportReader) -> None:
    got = rows(reader, "queues", "day")
    assert sorted(got) == [("sales", "00:00"), ("support", "00:00")]
    r = got[("support", "00:00")]
    assert r["interval_start"] == "2026-12-07T00:00:00+01:00"
    # c1 c2 c3 c4 c7 c9; answered c1 c3 c9; in SL c1 c9
    assert (r["offered"], r["answered"], r["abandoned"], r["lost"]) == (6, 3, 2, 1)
    assert r["service_level"] == 0.3333  # 2 / 6
    assert r["service_level_answered"] == 0.6667  # 2 / 3
    assert r["service_level_net"] == 0.4  # 2 / (6 - 1)
    assert r["asa_s"] == 15.0  # (10 + 30 + 5) / 3
    assert r["aht_s"] == 96.667  # (110 + 120 + 60) / 3
    assert r["avg_hold_s"] == 13.333  # 40 / 3
    s = got[("sales", "00:00")]
    assert (s["offered"], s["answered"], s["service_level"], s["refused"]) == (3, 2, 0.6667, 1)


def test_today_totals(reader: ReportReader) -> None:
    got = today(reader, settings_of(reader), NOW)
    assert isinstance(got["support"], QueueTotals)
    assert (got["support"].offered, got["sales"].answered) == (6, 2)


def test_agent_report(reader: ReportReader) -> None:
    got = rows(reader, "agents", "30m")
    a = got[("a1", "08:30")]
    assert (a["logged_in_s"], a["calls_answered"], a["occupancy"]) == (1800.0, 0, 0.0)
    a = got[("a1", "09:00")]
    # talk c1 90 + c3's first 30; wrap-up c1 20 (cut by the disposition)
    assert (a["calls_answered"], a["talk_s"], a["wrapup_s"], a["handle_s"]) == (
        2, 120.0, 20.0, 140.0)
    assert a["aht_s"] == 70.0  # 140 / 2
    assert a["hold_s"] == 10.0  # c3's hold up to 09:30
    assert a["occupancy"] == 0.0778 and a["utilisation"] == 0.0778  # 140 / 1800
    assert a["dispositions"] == {"sale": 1} and a["transfers"] == 0
    a = got[("a1", "09:30")]
    # c3's last 90 s of talk; the transfer at +1890; logged out at the restart
    assert (a["talk_s"], a["transfers"], a["logged_in_s"], a["occupancy"]) == (
        90.0, 1, 1800.0, 0.05)
    assert a["hold_s"] == 30.0  # the rest of c3's hold
    a = got[("a1", "10:00")]
    # logged in again +3900 .. now +5400 = 1500; c9's 60 s
    assert (a["logged_in_s"], a["talk_s"], a["calls_answered"], a["occupancy"]) == (
        1500.0, 60.0, 1, 0.04)
    b = got[("a2", "09:00")]
    assert (b["logged_in_s"], b["paused_s"], b["available_s"], b["occupancy"]) == (
        1800.0, 600.0, 1200.0, 0.0)
    b = got[("a2", "09:30")]
    # paused 300; talk c5 300 + c8 50; wrap-up 10: handle 360
    assert (b["paused_s"], b["talk_s"], b["wrapup_s"], b["calls_answered"]) == (
        300.0, 350.0, 10.0, 2)
    assert b["occupancy"] == 0.24  # 360 / (1800 - 300)
    assert b["hold_s"] == 90.0  # c5 60 + c8 30 (until its CDR's end)
    assert b["utilisation"] == 0.2  # 360 / 1800
    assert ("a2", "10:00") not in got  # logged out by the restart, never back
    only = rows(reader, "agents", "30m", queue="sales")
    assert {a for a, _ in only} == {"a2"}


def test_agent_state_report(reader: ReportReader) -> None:
    got = rows(reader, "agent-states", "30m")
    b = got[("a2", "09:00")]
    assert (b["logged_in_s"], b["paused_s"], b["idle_s"], b["logins"], b["pauses"]) == (
        1800.0, 600.0, 1200.0, 1, 1)
    assert b["pause_reasons"] == {"lunch": 600.0}
    b = got[("a2", "09:30")]
    # 1800 - 300 paused - 350 talking (hold included) - 10 wrap-up
    assert (b["paused_s"], b["idle_s"], b["pauses"], b["hold_s"]) == (300.0, 1140.0, 0, 90.0)
    assert b["pause_reasons"] == {"lunch": 300.0}
    day = rows(reader, "agent-states", "day")
    # a1: 08:30 .. 10:00 (5400) + 10:05 .. 10:30 (1500)
    assert day[("a1", "00:00")]["logged_in_s"] == 6900.0
    assert day[("a1", "00:00")]["logins"] == 2


def test_a_later_range_starts_from_the_stored_states(reader: ReportReader) -> None:
    """From 09:45 on: a1 is still logged in (since 08:30), a2 paused-then-back."""
    got = compute(reader, "agent-states", start=T0 + 2700, end=T0 + 3600, interval="15m",
                  settings=settings_of(reader), now=NOW)
    by = {(r.agent, r.interval_start[11:16]): r for r in got}
    assert by[("a1", "09:45")].logged_in_s == 900.0  # 09:45 .. 10:00
    assert by[("a2", "09:45")].logged_in_s == 900.0


def test_the_next_day_starts_from_the_states_stored_before_it(reader: ReportReader) -> None:
    """Tuesday 09:00-10:00, read at 10:00: nothing happened on Tuesday; a1 logged in again
    on Monday at 10:05 and never left (logged in the whole hour: 3600 s); a2's last state
    (back from lunch) is older than the restart, which logged it out: no row."""
    start = T0 + 86400
    got = compute(reader, "agent-states", start=start, end=start + 3600, interval="1h",
                  settings=settings_of(reader), now=start + 3600)
    assert [(r.agent, r.logged_in_s, r.idle_s) for r in got] == [("a1", 3600.0, 3600.0)]
    q = compute(reader, "queues", start=start, end=start + 3600, interval="1h",
                settings=settings_of(reader), now=start + 3600)
    assert [(r.queue, r.offered) for r in q] == [("sales", 0), ("support", 0)]
