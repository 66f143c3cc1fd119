"""Forecast and staffing from a scripted five-week history of queue events (Europe/Berlin
wall-clock times), on SQLite and on PostgreSQL; every expected figure is computed by hand in
the comments.

The history (weeks from Monday 2027-01-25 to Sunday 2027-02-28; ``support`` unless said):

* Mondays 09:00-10:00: 2, 4, 6, 8, 10 calls (01-25 ... 02-22), talk 120, 140, 160, 180, 200 s,
  wrap-up 10 s, each answered after 20 s; the last enters at 09:59:50 and is answered at
  10:00:10 (it still belongs to 09:00);
* Mondays 10:00: 5 calls, talk 100 s, wrap-up 10 s, wait 20 s;
* Tuesdays 09:00: 4 calls: 3 answered after 30 s (talk 150 s, wrap-up 10 s), 1 abandoned
  after 90 s;
* Wednesdays 09:00: 3 calls on 01-27, 02-10, 02-24 and none on 02-03, 02-17 (talk 100,
  wrap-up 10, wait 20); Wednesdays 10:00: 2 calls on 01-27 ... 02-17, none on 02-24;
* one ``support`` call on Monday 01-18 (before the history read: talk 5000 s) and one
  ``sales`` call on 02-22 09:30.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from test_erlang_a import sl_transient

from ccswitch.acd.events import (
    CallCompleted,
    CallerAbandoned,
    CallerConnected,
    CallerEntered,
    QueueEvent,
)
from ccswitch.reports.forecast import forecast, mape, source_days
from ccswitch.reports.history_input import load_intervals
from ccswitch.reports.staffing import ServiceTarget, StaffingPlan, scheduled, staffing
from ccswitch.store.db import Location
from ccswitch.store.queue_events import QueueEventStore

BERLIN = ZoneInfo("Europe/Berlin")
MONDAYS = [date(2027, 1, 25) + timedelta(days=7 * k) for k in range(5)]
DAY = date(2027, 3, 1)  # a Monday: the day forecast
_seq = iter(range(1_000_000))


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=BERLIN).timestamp()


def answered(t: float, *, wait: float, talk: float, queue: str = "support") -> list[QueueEvent]:
    cid = f"c{next(_seq)}"
    return [CallerEntered(t, cid, queue, 0, 1, ()),
            CallerConnected(t + wait, cid, queue, "2001", wait, 2.0, 1),
            CallCompleted(t + wait + talk, cid, queue, "2001", wait, talk, 10.0, "caller", 1)]


def abandoned(t: float, *, wait: float) -> list[QueueEvent]:
    cid = f"c{next(_seq)}"
    return [CallerEntered(t, cid, "support", 0, 1, ()),
            CallerAbandoned(t + wait, cid, "support", 1, 1, wait)]


def history() -> list[QueueEvent]:
    ev: list[QueueEvent] = []
    for k, monday in enumerate(MONDAYS):
        n, talk = 2 + 2 * k, 120 + 20 * k
        for i in range(n - 1):
            ev += answered(at(monday, 9) + 360 * i, wait=20, talk=talk)
        ev += answered(at(monday, 9, 59, 50), wait=20, talk=talk)
        for i in range(5):
            ev += answered(at(monday, 10, 5) + 360 * i, wait=20, talk=100)
        tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
        for i in range(3):
            ev += answered(at(tuesday, 9, 10 * i), wait=30, talk=150)
        ev += abandoned(at(tuesday, 9, 40), wait=90)
        for i in range(3 if k % 2 == 0 else 0):
            ev += answered(at(wednesday, 9, 10 * i), wait=20, talk=100)
        for i in range(2 if k < 4 else 0):
            ev += answered(at(wednesday, 10, 10 * i), wait=20, talk=100)
    ev += answered(at(date(2027, 1, 18), 9), wait=20, talk=5000)
    ev += answered(at(MONDAYS[4], 9, 30), wait=5, talk=60, queue="sales")
    return sorted(ev, key=lambda e: e.time)


@pytest.fixture
def db(store_at: Location):  # type: ignore[no-untyped-def]
    store = QueueEventStore(store_at.connect())
    store.append(history(), wall_offset=0.0)
    store.close()
    conn = store_at.connect(read_only=True)
    yield conn
    conn.close()


def test_intervals_from_the_queue_log(db) -> None:  # type: ignore[no-untyped-def]
    loads = load_intervals(db, first_day=MONDAYS[4], days=2, interval_s=3600, tz=BERLIN,
                           queue="support")
    assert len(loads) == 48
    by = {(x.day, x.slot): x for x in loads}
    nine = by[(MONDAYS[4], 9)]
    # 10 calls, the one answered at 10:00:10 included; talk 10 x 200, wrap-up 10 x 10,
    # queue time 10 x 20
    assert (nine.offered, nine.answered, nine.abandoned, nine.handled) == (10, 10, 0, 10)
    assert (nine.talk, nine.wrapup, nine.queue_time) == (2000.0, 100.0, 200.0)
    assert nine.start == datetime(2027, 2, 22, 9, tzinfo=BERLIN)
    assert by[(MONDAYS[4], 10)].offered == 5  # not 6: the boundary call stayed at 09:00
    tue = by[(MONDAYS[4] + timedelta(days=1), 9)]
    # 3 answered after 30 s and 1 abandoned after 90 s: queue time 3 x 30 + 90 = 180
    assert (tue.offered, tue.answered, tue.abandoned, tue.queue_time) == (4, 3, 1, 180.0)
    assert sum(x.offered for x in loads) == 10 + 5 + 4
    everyone = load_intervals(db, first_day=MONDAYS[4], days=1, interval_s=1800, tz=BERLIN)
    assert {x.queue for x in everyone} == {"sales", "support"}
    sales = {x.slot: x.offered for x in everyone if x.queue == "sales" and x.offered}
    assert sales == {19: 1}  # 09:30 is the 20th half hour of the day


def test_forecast_of_a_monday(db) -> None:  # type: ignore[no-untyped-def]
    [fc] = forecast(db, day=DAY, today=DAY, tz=BERLIN, interval_s=3600, weeks=4, holdout=1,
                    decay=0.5, queue="support")
    assert fc.source_days == (date(2027, 2, 22), date(2027, 2, 15), date(2027, 2, 8),
                              date(2027, 2, 1))
    assert len(fc.slots) == 24
    nine, ten, eleven = fc.slots[9], fc.slots[10], fc.slots[11]
    assert nine.start == datetime(2027, 3, 1, 9, tzinfo=BERLIN)
    # weights 1, 1/2, 1/4, 1/8 (sum 1.875) on 10, 8, 6, 4 calls:
    # (10 + 4 + 1.5 + 0.5) / 1.875 = 16 / 1.875 = 8.5333
    assert nine.calls == pytest.approx(16 / 1.875)
    # AHT: (1*10*210 + .5*8*190 + .25*6*170 + .125*4*150) / (10 + 4 + 1.5 + .5)
    #    = (2100 + 760 + 255 + 75) / 16 = 3190 / 16 = 199.375
    assert nine.aht == pytest.approx(199.375)
    # line time (wait + talk): (10*220 + .5*8*200 + .25*6*180 + .125*4*160) / 16
    #    = (2200 + 800 + 270 + 80) / 16 = 3350 / 16 = 209.375
    assert nine.line_time == pytest.approx(209.375)
    assert (ten.calls, ten.aht, ten.line_time) == pytest.approx((5.0, 110.0, 120.0))
    # no call at 11:00 in any week: 0 calls, and the queue's AHT over the five weeks read:
    # handled 30 + 25 + 15 + 9 + 8 = 87 calls, handle time (Mon 9h) 2*130 + 4*150 + 6*170
    # + 8*190 + 10*210 = 5500, (Mon 10h) 25*110 = 2750, (Tue) 15*160 = 2400, (Wed 9h)
    # 9*110 = 990, (Wed 10h) 8*110 = 880: 12520 / 87 (the 01-18 call is not read)
    assert eleven.calls == 0
    assert eleven.aht == pytest.approx(12520 / 87)
    # patience: queue time (Mon 9h) 30*20 + (Mon 10h) 25*20 + (Tue) 5*(3*30 + 90)
    # + (Wed) (9 + 8)*20 = 600 + 500 + 900 + 340 = 2340 s over 5 abandons = 468 s
    assert fc.patience == pytest.approx(468.0)


def test_accuracy_on_the_held_out_week(db) -> None:  # type: ignore[no-untyped-def]
    [fc] = forecast(db, day=DAY, today=DAY, tz=BERLIN, interval_s=3600, weeks=4, holdout=1,
                    decay=0.5, queue="support")
    # The week 02-22 ... 02-28 forecast from the four weeks before each day:
    # Mon 9h: (8 + 6/2 + 4/4 + 2/8) / 1.875 = 12.25 / 1.875 = 6.5333 vs 10: |10-6.53|/10 = .34667
    # Mon 10h: 5 vs 5: 0; Tue 9h: 4 vs 4: 0
    # Wed 9h: (0 + 3/2 + 0 + 3/8) / 1.875 = 1.0 vs 3: 2/3
    # Wed 10h: actual 0 (forecast 2): skipped, as are the other 163 empty hours
    # MAPE = (0.34667 + 0 + 0 + 0.66667) / 4 = 25.333 %
    assert fc.accuracy.mape == pytest.approx(100 * ((10 - 12.25 / 1.875) / 10 + 2 / 3) / 4)
    assert (fc.accuracy.intervals, fc.accuracy.skipped, fc.accuracy.days) == (4, 164, 7)


def test_accuracy_on_two_held_out_weeks(db) -> None:  # type: ignore[no-untyped-def]
    [fc] = forecast(db, day=DAY, today=DAY, tz=BERLIN, interval_s=3600, weeks=4, holdout=2,
                    decay=0.5, queue="support")
    # Six weeks are read from 01-18, the day of the queue's first call (one at 09:00), so
    # 01-18 ... 01-24 is history: its empty intervals count as zeros.  Week 02-15 ... 02-21:
    # Mon 9h: (6 + 4/2 + 2/4 + 1/8) / 1.875 = 8.625 / 1.875 = 4.6 vs 8: 3.4 / 8 = .425
    # Mon 10h: (5 + 5/2 + 5/4 + 0) / 1.875 = 4.6667 vs 5: .066667
    # Tue 9h: (4 + 4/2 + 4/4 + 0) / 1.875 = 3.7333 vs 4: .066667
    # Wed 10h: (2 + 2/2 + 2/4 + 0) / 1.875 = 1.8667 vs 2: .066667 (Wed 9h had no call)
    # Week 02-22 ... 02-28: .346667, 0, 0, .666667 (test above)
    # MAPE = (.425 + 3 x .066667 + .346667 + .666667) / 8 = 1.638333 / 8 = 20.479 %
    expected = (3.4 / 8 + 3 * (1 - 8.75 / 1.875 / 5) + (10 - 12.25 / 1.875) / 10 + 2 / 3) / 8
    assert fc.accuracy.mape == pytest.approx(100 * expected)
    assert fc.accuracy.mape == pytest.approx(20.479, abs=1e-3)
    assert (fc.accuracy.intervals, fc.accuracy.skipped, fc.accuracy.days) == (8, 14 * 24 - 8,
                                                                              14)


def test_staffing_of_the_forecast(db) -> None:  # type: ignore[no-untyped-def]
    [fc] = forecast(db, day=DAY, today=DAY, tz=BERLIN, interval_s=3600, weeks=4, holdout=1,
                    decay=0.5, queue="support")
    rows = staffing(fc, StaffingPlan(ServiceTarget(0.8, 20), shrinkage=0.3, blocking=0.01))
    nine, ten, eleven = rows[9], rows[10], rows[11]
    # A = 8.5333 calls x 199.375 s / 3600 s = 0.4725926 E
    assert nine.erlangs == pytest.approx(16 / 1.875 * 199.375 / 3600)
    # Erlang C, 1 agent: C = A = .47259, SL = 1 - .47259 exp(-(1 - .47259) 20/199.375)
    #   = 1 - .47259 * .94847 = .5518 < .8
    # 2 agents: B = (A^2/2) / (1 + A + A^2/2) = .111672 / 1.584265 = .070490,
    #   C = 2B / (2 - A(1 - B)) = .140980 / 1.560720 = .090330,
    #   SL = 1 - .090330 exp(-1.527407 * 20/199.375) = 1 - .090330 * .857939 = .9225 >= .8
    assert nine.agents_erlang_c == 2
    assert nine.scheduled_erlang_c == 3  # ceil(2 / 0.7) = ceil(2.857)
    # Erlang A (patience 468 s): the fewest agents the independent computation says reach 80 %
    theta = 199.375 / 468
    a = nine.erlangs
    by_hand = next(n for n in range(1, 10) if sl_transient(a, n, theta, 20 / 199.375) >= 0.8)
    assert nine.agents_erlang_a == by_hand
    assert nine.service_level_erlang_a == pytest.approx(
        sl_transient(a, by_hand, theta, 20 / 199.375), abs=1e-9)
    # trunks: line traffic 8.5333 x 209.375 / 3600 = .4962963 E; Erlang B by the recursion
    # B1 = .331683, B2 = .076048, B3 = .012424 > .01, B4 = .0015392 <= .01: 4 lines
    assert nine.line_erlangs == pytest.approx(16 / 1.875 * 209.375 / 3600)
    assert nine.trunks == 4
    # 10h: A = 5 x 110 / 3600 = .152778; one agent: SL = 1 - .152778 exp(-.847222 * 20/110)
    #   = 1 - .152778 * .857238 = .8690 >= .8; scheduled ceil(1 / .7) = 2
    # lines: 5 x 120 / 3600 = .166667 E: B1 = .142857, B2 = .011765 > .01, B3 = .000653: 3
    assert (ten.agents_erlang_c, ten.agents_erlang_a, ten.scheduled_erlang_c, ten.trunks) == (
        1, 1, 2, 3)
    assert (eleven.agents_erlang_c, eleven.agents_erlang_a, eleven.trunks) == (0, 0, 0)


def test_every_queue_and_a_forecast_further_ahead(db) -> None:  # type: ignore[no-untyped-def]
    fcs = forecast(db, day=DAY, today=DAY, tz=BERLIN, weeks=4, decay=0.5)
    assert [f.queue for f in fcs] == ["sales", "support"]
    sales = fcs[0]
    # sales had its first call on 02-22: the weeks before are not history (not zeros), so
    # its Monday is that one day: 1 call at 09:00-10:00
    assert sales.source_days == (date(2027, 2, 22),)
    assert sales.slots[9].calls == 1.0
    # Monday 03-08 with history up to 03-01: 03-01 is not history yet, so 02-22 ... 02-01
    [later] = forecast(db, day=DAY + timedelta(days=7), today=DAY, tz=BERLIN, weeks=4,
                       decay=0.5, queue="support")
    assert later.source_days[0] == date(2027, 2, 22)
    assert later.slots[9].calls == pytest.approx(16 / 1.875)


def test_source_days_skip_what_is_not_history() -> None:
    d = date(2027, 3, 1)
    assert source_days(d, 2, d, date(2027, 2, 20)) == [date(2027, 2, 22)]
    assert source_days(d, 2, date(2027, 2, 23), None) == []


def test_mape_skips_zero_actuals() -> None:
    # |10 - 8| / 10 = .2, |4 - 5| / 4 = .25: 22.5 %; (0, 3) skipped
    m, n, skipped = mape([(10, 8), (4, 5), (0, 3)])
    assert m == pytest.approx(22.5) and (n, skipped) == (2, 1)
    assert mape([(0, 1)]) == (None, 0, 1)


def test_shrinkage_and_targets() -> None:
    assert scheduled(7, 0.3) == 10  # 7 / .7 = 10 exactly, not 11
    assert scheduled(0, 0.3) == 0
    assert scheduled(5, 0.0) == 5
    assert ServiceTarget.parse("90/15") == ServiceTarget(0.9, 15.0)
    with pytest.raises(ValueError):
        ServiceTarget.parse("100/20")
    with pytest.raises(ValueError):
        StaffingPlan(ServiceTarget(0.8, 20), shrinkage=1.0)
    assert math.isfinite(ServiceTarget.parse("80/20").seconds)


def test_days_when_clocks_change(store_at: Location) -> None:
    # Europe/Berlin: 2027-03-28 02:00 CET jumps to 03:00 CEST; 2027-10-31 03:00 CEST falls
    # back to 02:00 CET.  UTC 01:30 on 03-28 is 03:30 local: slot 3, slot 2 stays empty.
    # UTC 00:30 and 01:30 on 10-31 are 02:30 CEST and 02:30 CET: both in slot 2.
    utc = ZoneInfo("UTC")
    times = [datetime(2027, 3, 28, 1, 30, tzinfo=utc), datetime(2027, 10, 31, 0, 30, tzinfo=utc),
             datetime(2027, 10, 31, 1, 30, tzinfo=utc)]
    store = QueueEventStore(store_at.connect())
    store.append([e for t in times for e in answered(t.timestamp(), wait=5, talk=50)],
                 wall_offset=0.0)
    store.close()
    db = store_at.connect(read_only=True)
    spring = load_intervals(db, first_day=date(2027, 3, 28), days=1, interval_s=3600,
                            tz=BERLIN, queue="support")
    autumn = load_intervals(db, first_day=date(2027, 10, 31), days=1, interval_s=3600,
                            tz=BERLIN, queue="support")
    db.close()
    assert [x.offered for x in spring[:4]] == [0, 0, 0, 1]
    assert [x.offered for x in autumn[:4]] == [0, 0, 2, 0]
