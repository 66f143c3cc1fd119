"""Erlang A (M/M/n+M) against hand computations, an independent summation over the states, an
independent transient computation of the service level, a simulation, and its limits
(patience -> infinity: Erlang C; patience -> 0: Erlang B)."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from ccswitch.acd import erlang


def stationary(a: float, n: int, th: float, states: int = 400) -> list[float]:
    """P(k in the system), k < states, by the plain birth-death balance
    p(k) = p(k-1) * a / death(k), death(k) = min(k, n) + max(k - n, 0) th (time in AHTs)."""
    p = [1.0]
    for k in range(1, states):
        p.append(p[-1] * a / (min(k, n) + max(k - n, 0) * th))
    total = sum(p)
    return [x / total for x in p]


def sl_transient(a: float, n: int, th: float, t: float, states: int = 400) -> float:
    """P(answered within t) by uniformization of the tagged caller's own chain: with i
    callers ahead it moves up at rate n + i th, hangs up at rate th; answered when it leaves
    position 0 upwards.  Arriving callers see the stationary law (PASTA)."""
    p = stationary(a, n, th, states)
    ahead = p[n:]  # ahead[j]: all busy, j waiting ahead
    rate = n + (len(ahead) + 1) * th
    x = list(ahead)
    served_by = []
    served = 0.0
    steps = int(rate * t + 12 * math.sqrt(rate * t) + 30)
    for _ in range(steps):
        served_by.append(served)
        new = [v * (1 - (n + (i + 1) * th) / rate) for i, v in enumerate(x)]
        for i in range(1, len(x)):
            new[i - 1] += x[i] * (n + i * th) / rate
        served += x[0] * n / rate
        x = new
    got = sum(math.exp(-rate * t + m * math.log(rate * t) - math.lgamma(m + 1)) * s
              for m, s in enumerate(served_by))
    return sum(p[:n]) + got


CASES = [(0.5, 1, 1.0), (3.0, 4, 0.5), (8.0, 8, 2.0), (10.0, 12, 0.3), (12.0, 10, 1.5)]


@pytest.mark.parametrize(("a", "n", "th"), CASES)
def test_equals_an_independent_summation_over_the_states(a: float, n: int, th: float) -> None:
    aht = 100.0
    got = erlang.erlang_a(a, n, aht, patience=aht / th, target=15.0)
    p = stationary(a, n, th)
    queue = sum((k - n) * pk for k, pk in enumerate(p) if k > n)
    assert got.p_wait == pytest.approx(sum(p[n:]), rel=1e-9)
    # abandons per unit time = th E[queue]; over arrivals (rate a): th E[queue] / a
    assert got.p_abandon == pytest.approx(th * queue / a, rel=1e-9)
    assert got.mean_wait == pytest.approx(queue / a * aht, rel=1e-9)  # Little
    assert got.occupancy == pytest.approx((a - th * queue) / n, rel=1e-9)
    assert got.service_level == pytest.approx(sl_transient(a, n, th, 15.0 / aht), abs=1e-9)


def test_patience_equal_to_handle_time_is_an_infinite_server_queue() -> None:
    # With theta = mu every caller in the system leaves at rate mu, waiting or talking: the
    # number in the system is Poisson(a) (M/M/inf).  a = 0.5, n = 1, aht = patience = 60 s:
    # P(wait) = P(N >= 1) = 1 - e^-0.5 = 0.3934693
    # E[queue] = E[(N - 1)+] = E[N] - P(N >= 1) = 0.5 - 0.3934693 = 0.1065307
    # P(abandon) = theta E[queue] / lambda = 0.1065307 / 0.5 = 0.2130613
    # mean wait = E[queue] / lambda = 0.2130613 aht = 12.78368 s
    got = erlang.erlang_a(0.5, 1, 60.0, patience=60.0, target=20.0)
    assert got.p_wait == pytest.approx(0.3934693, abs=1e-7)
    assert got.p_abandon == pytest.approx(0.2130613, abs=1e-7)
    assert got.mean_wait == pytest.approx(12.78368, abs=1e-5)
    # A caller who finds the agent busy and nobody ahead is answered first with probability
    # mu / (mu + theta) = 1/2, after an Exp(mu + theta) time: within 20 s with probability
    # 1 - e^(-2 * 20/60) = 0.4865829.  P(N = 1) = 0.5 e^-0.5 = 0.3032653, so that path alone
    # gives 0.3032653 * 0.5 * 0.4865829 = 0.0737818; with the no-wait callers (0.6065307)
    # the service level is at least 0.6803125, and the callers who find someone ahead add
    # less than P(N >= 2) = 0.0902040.
    assert 0.6803125 < got.service_level < 0.6803125 + 0.0902040


def test_long_patience_is_erlang_c_and_infinite_patience_is_erlang_c_exactly() -> None:
    a, n, aht = 10.0, 13, 180.0
    c = erlang.erlang_a(a, n, aht, math.inf, 20.0)
    assert c.p_wait == erlang.erlang_c(a, n)
    assert c.service_level == erlang.service_level(a, n, aht, 20.0)
    near = erlang.erlang_a(a, n, aht, 1e7, 20.0)  # patience ~ 4 months
    assert near.p_wait == pytest.approx(erlang.erlang_c(a, n), rel=1e-4)
    assert near.service_level == pytest.approx(erlang.service_level(a, n, aht, 20.0),
                                               rel=1e-4)
    assert near.asa == pytest.approx(erlang.asa(a, n, aht), rel=1e-3)


def test_no_patience_is_erlang_b() -> None:
    # Callers who hang up at once: a loss system; nobody waits long, P(wait) -> B(a, n).
    a, n = 10.0, 12
    got = erlang.erlang_a(a, n, 180.0, 1e-6, 20.0)
    assert got.p_wait == pytest.approx(erlang.erlang_b(a, n), rel=1e-6)
    assert got.p_abandon == pytest.approx(erlang.erlang_b(a, n), rel=1e-6)
    assert got.service_level == pytest.approx(1 - erlang.erlang_b(a, n), rel=1e-6)


def test_overload_is_bounded_by_abandonment() -> None:
    # 500 Erlangs on 400 agents: all busy, carried traffic 400, so 1 - 400/500 = 20 %
    # hang up; P(abandon) = theta E[wait]: E[wait] = 0.2 * 1800 = 360 s.
    got = erlang.erlang_a(500.0, 400, 180.0, 1800.0, 20.0)
    assert got.p_abandon == pytest.approx(0.2, abs=1e-9)
    assert got.mean_wait == pytest.approx(360.0, abs=1e-6)
    assert got.occupancy == pytest.approx(1.0)


def simulate(a: float, n: int, aht: float, patience: float, target: float, calls: int,
             seed: int = 7) -> tuple[float, float, float]:
    """(service level, P(abandon), ASA of the answered) of a plain M/M/n+M simulation."""
    rng = random.Random(seed)
    lam = a / aht
    t, free_at = 0.0, [0.0] * n  # when each agent frees up (FCFS: next free agent)
    heapq.heapify(free_at)
    answered_in, abandoned, waits = 0, 0, []
    for _ in range(calls):
        t += rng.expovariate(lam)
        start = max(t, free_at[0])
        if start - t > rng.expovariate(1 / patience):
            abandoned += 1
            continue
        heapq.heapreplace(free_at, start + rng.expovariate(1 / aht))
        waits.append(start - t)
        answered_in += start - t <= target
    return answered_in / calls, abandoned / calls, sum(waits) / len(waits)


def test_agrees_with_a_simulation() -> None:
    # 10 Erlangs, 11 agents, 180 s calls, callers wait 120 s on average.
    got = erlang.erlang_a(10.0, 11, 180.0, 120.0, 20.0)
    sl, ab, asa = simulate(10.0, 11, 180.0, 120.0, 20.0, 200_000)
    assert got.service_level == pytest.approx(sl, abs=0.01)
    assert got.p_abandon == pytest.approx(ab, abs=0.005)
    assert got.asa == pytest.approx(asa, rel=0.05)


def test_erlang_c_overstaffs_when_callers_abandon() -> None:
    # 10 Erlangs (200 calls/h of 180 s), 80/20; measured: the callers spent 4800 s in the
    # queue in all and 40 of them abandoned -> mean patience 4800 / 40 = 120 s.
    patience = erlang.patience_estimate(4800.0, 40)
    assert patience == 120.0
    a = erlang.traffic(200, 3600, 180)
    by_c = erlang.agents_needed(a, 180, 0.8, 20)
    by_a = erlang.agents_needed_a(a, 180, patience, 0.8, 20)
    assert by_c == 14  # the classic example (test_erlang.py)
    assert by_a < by_c
    # Erlang A's staffing meets the target once callers hang up, though Erlang C says not:
    got = erlang.erlang_a(a, by_a, 180, patience, 20)
    assert got.service_level >= 0.8
    assert erlang.service_level(a, by_a, 180, 20) < 0.8
    assert erlang.erlang_a(a, by_a - 1, 180, patience, 20).service_level < 0.8
    # and the independent transient computation agrees on the figure that decides
    assert got.service_level == pytest.approx(sl_transient(a, by_a, 180 / patience, 20 / 180),
                                              abs=1e-9)


def test_patience_estimate() -> None:
    assert erlang.patience_estimate(900.0, 5) == 180.0
    assert erlang.patience_estimate(900.0, 0) == math.inf
    with pytest.raises(ValueError):
        erlang.patience_estimate(-1.0, 2)


def test_bad_input_and_no_traffic() -> None:
    assert erlang.erlang_a(0.0, 3, 180, 60, 20).service_level == 1.0
    assert erlang.agents_needed_a(0.0, 180, 60, 0.8, 20) == 0
    for args in [(-1.0, 3, 180.0, 60.0, 20.0), (1.0, 0, 180.0, 60.0, 20.0),
                 (1.0, 3, 0.0, 60.0, 20.0), (1.0, 3, 180.0, 0.0, 20.0)]:
        with pytest.raises(ValueError):
            erlang.erlang_a(*args)


def test_an_endless_queue_is_refused_and_never_staffed() -> None:
    # 100 Erlangs on 50 agents, callers who wait 10^6 handle times on average: the queue's
    # law centres near (100 - 50) / 10^-6 = 5 x 10^7 callers, past what is summed.
    with pytest.raises(erlang.QueueTooLong):
        erlang.erlang_a(100.0, 50, 10.0, 1e7, 20.0)
    # the staffing search treats such a group as missing the target and goes on
    n = erlang.agents_needed_a(100.0, 10.0, 1e7, 0.8, 20.0)
    assert n == erlang.agents_needed(100.0, 10.0, 0.8, 20.0)  # patience ~ endless: Erlang C
