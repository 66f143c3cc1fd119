"""Erlang B / C against exact rational arithmetic and against published figures."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from ccswitch.acd import erlang


def exact_b(a: Fraction, n: int) -> Fraction:
    """Erlang B from its definition: (A^n / n!) / sum_{k<=n} A^k / k!."""
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def exact_c(a: Fraction, n: int) -> Fraction:
    """Erlang C from its definition (n > A)."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


GRID = [(Fraction(1, 2), 1), (Fraction(2), 3), (Fraction(10), 13), (Fraction(48), 55),
        (Fraction(73, 4), 25), (Fraction(100), 120), (Fraction(250), 260)]


@pytest.mark.parametrize(("a", "n"), GRID)
def test_b_and_c_equal_their_exact_definitions(a: Fraction, n: int) -> None:
    assert erlang.erlang_b(float(a), n) == pytest.approx(float(exact_b(a, n)), rel=1e-12)
    assert erlang.erlang_c(float(a), n) == pytest.approx(float(exact_c(a, n)), rel=1e-12)


def test_large_groups_stay_finite_and_accurate() -> None:
    # A^n / n! overflows a float long before this; the recursion does not.
    a, n = Fraction(900), 1000
    assert erlang.erlang_b(900.0, 1000) == pytest.approx(float(exact_b(a, n)), rel=1e-10)
    assert erlang.erlang_c(900.0, 1000) == pytest.approx(float(exact_c(a, n)), rel=1e-10)
    assert 0 < erlang.erlang_c(9000.0, 9100) < 1


def test_overloaded_groups() -> None:
    assert erlang.erlang_c(10.0, 10) == 1.0
    assert erlang.asa(10.0, 9, 180.0) == math.inf
    assert erlang.service_level(10.0, 10, 180.0, 20.0) == 0.0
    assert erlang.erlang_b(5.0, 0) == 1.0


def test_service_level_and_asa_agree_with_the_waiting_time_distribution() -> None:
    # ASA is the integral of P(W > t) = 1 - SL(t); integrate numerically.
    a, n, aht = 10.0, 13, 180.0
    step, total, t = 0.05, 0.0, 0.0
    while t < 3000.0:
        left = 1 - erlang.service_level(a, n, aht, t)
        right = 1 - erlang.service_level(a, n, aht, t + step)
        total += (left + right) / 2 * step
        t += step
    assert total == pytest.approx(erlang.asa(a, n, aht), rel=1e-4)
    assert erlang.service_level(a, n, aht, 0.0) == pytest.approx(1 - erlang.erlang_c(a, n))


def test_the_classic_example_ten_erlangs() -> None:
    # 100 calls in 30 minutes, 180 s average handle time: 10 Erlangs.  (The figures below
    # come from the exact formula, not from the brief's "P(wait) ~ 0.2 with 13 agents":
    # 13 agents give 0.285.)
    a = erlang.traffic(100, 1800, 180)
    assert a == 10.0
    assert erlang.erlang_c(a, 11) == pytest.approx(0.6821, abs=5e-5)
    assert erlang.erlang_c(a, 13) == pytest.approx(0.2853, abs=5e-5)
    assert erlang.service_level(a, 13, 180, 20) == pytest.approx(0.7956, abs=5e-5)
    assert erlang.asa(a, 13, 180) == pytest.approx(17.12, abs=5e-3)
    n = erlang.agents_needed(a, 180, 0.80, 20)
    assert n == 14  # 80/20: 13 agents fall just short (79.6 %)
    assert erlang.service_level(a, n - 1, 180, 20) < 0.80 <= erlang.service_level(a, n, 180,
                                                                                    20)
    assert erlang.occupancy(a, n) == pytest.approx(10 / 14)


def test_published_erlang_b_figures() -> None:
    # Westbay's Erlang B calculator manual, "How much traffic can a trunk group handle?":
    # 15 lines at 1 % blocking carry 8.108 Erlangs.
    # https://erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm
    assert erlang.traffic_for_blocking(15, 0.01) == pytest.approx(8.108, abs=5e-4)
    # Erlang B table, "Carrier Grade Voice Over IP" 2nd ed., appendix A (via globalspec.com
    # /reference/55139/203279/appendix-a-table-of-erlang-b), Erlangs to one decimal:
    table = {(5, 0.01): 1.4, (5, 0.02): 1.7, (5, 0.05): 2.2, (9, 0.01): 3.8, (9, 0.05): 5.4}
    for (lines, blocking), published in table.items():
        assert round(erlang.traffic_for_blocking(lines, blocking), 1) == published
    assert erlang.lines_needed(8.108, 0.01) == 15


def test_published_erlang_c_figures() -> None:
    # Erlang C calculator example (personal.telefonica.terra.es/web/vr/erlang/eng/
    # mcerlc.htm): 600 calls/h of 120 s = 20 Erlangs; a 15 % delay probability needs 26
    # circuits, with an average delay of about 3 s per call; 30 circuits cut the delay
    # probability to 2.5 %; 30 circuits at 15 % carry 23.6 Erlangs.
    a = erlang.traffic(600, 3600, 120)
    assert a == 20.0
    assert erlang.agents_for_wait(a, 0.15) == 26
    assert round(erlang.asa(a, 26, 120)) == 3
    assert round(erlang.erlang_c(a, 30) * 100, 1) == 2.5
    assert round(erlang.traffic_for_wait(30, 0.15), 1) == 23.6


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        erlang.erlang_b(-1.0, 3)
    with pytest.raises(ValueError):
        erlang.erlang_c(1.0, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        erlang.traffic(10, 0, 180)
    with pytest.raises(ValueError):
        erlang.agents_needed(10.0, 180, 1.0, 20)
