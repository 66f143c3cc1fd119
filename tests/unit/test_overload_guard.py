"""The overload guard's policy and the loop-lag statistics, on a simulated loop with a fake clock.

The simulation runs the switch's lag probe: due every ``PERIOD`` s, it runs late while the loop
is blocked (a pause) or behind (overload), and the guard decides from the lateness alone.
"""

from __future__ import annotations

from collections.abc import Callable

from ccswitch.io.overload import (
    LagStats,
    OverloadGuard,
    OverloadRecord,
    OverloadRecorder,
    hist_quantile,
    parse_hist,
)

PERIOD = 0.05


def simulate(busy_until: Callable[[float], float], seconds: float,
             guard: OverloadGuard) -> tuple[float, list[tuple[float, bool]], int]:
    """Run the probe for ``seconds`` of fake time; ``busy_until(t)`` is when a probe due at
    ``t`` actually runs.  Returns the time spent shedding, the transitions and the stalls."""
    now, due = 0.0, 0.0
    shed_since: float | None = None
    shed_total, transitions, stalls = 0.0, [], 0
    while due < seconds:
        now = max(due, busy_until(due))
        verdict = guard.observe(now - due)
        stalls += verdict.stall
        if verdict.changed:
            transitions.append((round(now, 3), verdict.shedding))
            if verdict.shedding:
                shed_since = now
            elif shed_since is not None:
                shed_total += now - shed_since
                shed_since = None
        due = now + PERIOD
    if shed_since is not None:
        shed_total += now - shed_since
    return shed_total, transitions, stalls


def pauses(*spans: tuple[float, float]) -> Callable[[float], float]:
    """A loop blocked during each (start, length) span, idle otherwise."""
    def busy(t: float) -> float:
        for start, length in spans:
            if start <= t < start + length:
                return start + length
        return t
    return busy


def test_a_single_pause_refuses_no_call() -> None:
    """The outside soak's case: one 576 ms stall used to refuse calls for the next 2 s."""
    shed, transitions, stalls = simulate(pauses((10.0, 0.576)), 20.0, OverloadGuard())
    assert shed == 0.0 and transitions == []
    assert stalls == 1  # seen and logged, but nothing refused


def test_pauses_every_few_seconds_refuse_no_call() -> None:
    spans = [(5.0 + 3 * i, 0.45 + 0.01 * i) for i in range(10)]
    shed, transitions, stalls = simulate(pauses(*spans), 40.0, OverloadGuard())
    assert shed == 0.0 and transitions == [] and stalls == 10


def test_a_pause_whose_backlog_takes_another_late_probe_sheds_only_that_long() -> None:
    """A pause, then a backlog that keeps the next probe late too: shedding starts at that
    second late probe and ends at the first probe on time, well under a probe period later."""
    shed, transitions, _ = simulate(pauses((10.0, 0.5), (10.55, 0.2)), 20.0, OverloadGuard())
    assert [on for _, on in transitions] == [True, False]
    assert 0 < shed <= PERIOD + 1e-9


def test_sustained_overload_sheds_for_as_long_as_it_lasts() -> None:
    """Between t=10 and t=13 the loop is behind: every probe runs 150 ms late."""
    def behind(t: float) -> float:
        return t + 0.15 if 10.0 <= t < 13.0 else t

    shed, transitions, _ = simulate(behind, 20.0, OverloadGuard())
    (t_on, on), (t_off, off) = transitions
    assert on and not off
    assert 10.15 < t_on < 10.6  # the second late probe
    assert 13.0 <= t_off < 13.3  # the first probe on time after it
    assert 2.4 < shed < 3.0


def test_a_late_probe_must_be_later_than_the_limit() -> None:
    guard = OverloadGuard(limit=0.1, late_samples=2)
    assert not guard.observe(0.1).stall  # exactly at the limit is on time
    assert guard.observe(0.11).stall
    v = guard.observe(0.12)
    assert v.shedding and v.changed and not v.stall  # already counted as a stall
    v = guard.observe(0.02)
    assert not v.shedding and v.changed


def test_late_samples_one_sheds_at_the_first_late_probe() -> None:
    guard = OverloadGuard(limit=0.1, late_samples=1)
    assert guard.observe(0.3).shedding
    assert not guard.observe(0.0).shedding


def test_lag_stats_report_a_window_and_start_a_new_one() -> None:
    stats = LagStats(started=100.0)
    for ms in [0.2] * 90 + [3.5] * 8 + [42.0, 430.0]:
        stats.add(ms / 1000)
    stats.add(-0.001)  # a timer run early counts as on time
    rep = stats.report(110.0)
    assert rep["samples"] == 101 and rep["window_s"] == 10.0
    assert rep["p50_ms"] == 0 and rep["p99_ms"] == 42 and rep["max_ms"] == 430.0
    assert parse_hist(str(rep["hist"])) == {0: 91, 3: 8, 42: 1, 430: 1}
    assert stats.samples == 0 and stats.started == 110.0
    assert stats.report(120.0)["p99_ms"] == 0


def test_windows_merge_into_exact_run_quantiles() -> None:
    a, b = LagStats(started=0.0), LagStats(started=0.0)
    for i in range(100):
        a.add(i / 1000)
        b.add((100 + i) / 1000)
    merged: dict[int, int] = {}
    for rep in (a.report(10.0), b.report(10.0)):
        for ms, n in parse_hist(str(rep["hist"])).items():
            merged[ms] = merged.get(ms, 0) + n
    assert hist_quantile(merged, 0.5) == 99
    assert hist_quantile(merged, 0.99) == 197
    assert hist_quantile({}, 0.99) == 0


# -- switch.overload records: at most one per gap ------------------------------------------
def test_a_shedding_spell_is_one_record_written_once_it_has_ended() -> None:
    rec = OverloadRecorder(gap=10.0, longest=60.0)
    # shedding from 100.0 to 102.0 (probes every 0.5 s); 3 requests shed by 101.0, 5 by 102.0
    assert rec.probe(100.0, shedding=True, lag=0.2, shed_total=0) is None
    assert rec.probe(101.0, shedding=True, lag=0.4, shed_total=3) is None
    assert rec.probe(102.0, shedding=True, lag=0.3, shed_total=5) is None
    # clear at 102.5: the first record is due at once (nothing written in the last 10 s)
    got = rec.probe(102.5, shedding=False, lag=0.0, shed_total=5)
    assert got == OverloadRecord(since=100.0, until=102.0, shed=5, max_lag=0.4)
    assert rec.probe(103.0, shedding=False, lag=0.0, shed_total=5) is None


def test_a_flapping_guard_is_merged_into_one_record_per_gap() -> None:
    rec = OverloadRecorder(gap=10.0, longest=60.0)
    rec.probe(0.0, shedding=True, lag=0.2, shed_total=0)
    assert rec.probe(0.5, shedding=False, lag=0.0, shed_total=2) is not None  # written at 0.5
    # on at 1, off at 2, on at 3, off at 4: 4 more shed; nothing written before 0.5 + 10
    written = []
    for t, on, total in ((1.0, True, 2), (2.0, False, 4), (3.0, True, 4), (4.0, False, 6),
                         (9.0, False, 6), (10.5, False, 6), (11.0, False, 6)):
        got = rec.probe(t, shedding=on, lag=0.3 if on else 0.0, shed_total=total)
        if got is not None:
            written.append((t, got))
    # one record at 10.5 (0.5 + 10): from 1.0 to the last shedding probe 3.0, 6 - 2 = 4 shed
    assert written == [(10.5, OverloadRecord(since=1.0, until=3.0, shed=4, max_lag=0.3))]


def test_a_long_spell_is_written_every_longest_seconds() -> None:
    rec = OverloadRecorder(gap=10.0, longest=60.0)
    got = [(t, r) for t in range(0, 130) if (r := rec.probe(
        float(t), shedding=True, lag=0.2, shed_total=2 * t)) is not None]
    # windows [0, 60] and [60, 120]: 2 shed per second, 120 each
    assert got == [(60, OverloadRecord(0.0, 60.0, 120, 0.2)),
                   (120, OverloadRecord(60.0, 120.0, 120, 0.2))]
