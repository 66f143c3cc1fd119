"""The real router, driven by a discrete-event simulation, meets Erlang C.

Four loads (occupancy 0.50 to 0.83), each 80,000 measured calls after 2,000 warm-up calls,
seeded.  Tolerance, stated: the measured service level, ASA and probability of waiting are
within 4 standard errors of the formula, the standard error estimated by batch means
(20 batches of consecutive calls); and the run is long enough for that to mean something:
the standard errors are below 0.015 (service level, P(wait)) and 12 % of the formula (ASA).
A control shows the test can fail: the same measurements are rejected against the formula
for one agent fewer.
"""

from __future__ import annotations

import statistics

import pytest

from ccswitch.acd import erlang
from ccswitch.acd.sim import SimConfig, SimResult, simulate

CASES = [  # traffic (Erlangs), average handle time (s), agents, service-level target (s)
    (10.0, 180.0, 13, 20.0),
    (4.0, 60.0, 6, 10.0),
    (20.0, 120.0, 24, 15.0),
    (1.5, 300.0, 3, 30.0),
]


def batch_stat(result: SimResult, stat: object) -> tuple[float, float]:
    """The statistic over all calls and its batch-means standard error."""
    assert callable(stat)
    values = [stat(batch) for batch in result.batches(20)]
    return stat(result.waits), statistics.stdev(values) / len(values) ** 0.5


@pytest.mark.parametrize(("a", "aht", "n", "target"), CASES)
def test_simulated_router_matches_erlang_c(a: float, aht: float, n: int,
                                           target: float) -> None:
    result = simulate(SimConfig(arrival_rate=a / aht, aht=aht, agents=n, calls=80_000,
                                service_target=target, seed=11))
    assert result.calls == 80_000
    sl, sl_se = batch_stat(result, lambda w: sum(1 for x in w if x <= target) / len(w))
    asa, asa_se = batch_stat(result, lambda w: sum(w) / len(w))
    pw, pw_se = batch_stat(result, lambda w: sum(1 for x in w if x > 0) / len(w))
    assert (sl, asa, pw) == pytest.approx((result.service_level, result.asa, result.p_wait))
    formula = (erlang.service_level(a, n, aht, target), erlang.asa(a, n, aht),
               erlang.erlang_c(a, n))
    assert sl_se < 0.015 and pw_se < 0.015 and asa_se < 0.12 * formula[1]
    assert abs(sl - formula[0]) <= 4 * sl_se, (sl, formula[0], sl_se)
    assert abs(asa - formula[1]) <= 4 * asa_se, (asa, formula[1], asa_se)
    assert abs(pw - formula[2]) <= 4 * pw_se, (pw, formula[2], pw_se)
    # control: one agent fewer is far outside the same tolerance
    fewer = (erlang.service_level(a, n - 1, aht, target), erlang.asa(a, n - 1, aht))
    assert abs(sl - fewer[0]) > 4 * sl_se and abs(asa - fewer[1]) > 4 * asa_se
