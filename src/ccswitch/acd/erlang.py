"""Erlang B and Erlang C: blocking, probability of waiting, service level, ASA, staffing.

Traffic ``A`` is in Erlangs (arrival rate x average handle time, same time unit); ``n`` is
the number of servers (lines, agents).  Erlang B uses the recursion
``B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1))``, which never forms a factorial or a power and
stays accurate for thousands of servers; Erlang C follows from it:
``C = n B / (n - A (1 - B))`` for ``n > A`` (else every call waits: 1).

For an M/M/n queue without abandonment (Erlang C's model), with handle time ``aht``:

* probability of waiting ``P(W > 0) = C``;
* service level ``P(W <= t) = 1 - C exp(-(n - A) t / aht)``;
* average speed of answer ``ASA = C aht / (n - A)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def traffic(calls: float, period: float, aht: float) -> float:
    """Offered traffic in Erlangs: ``calls`` per ``period`` seconds, each ``aht`` seconds."""
    if period <= 0 or calls < 0 or aht < 0:
        raise ValueError("period > 0, calls and aht >= 0")
    return calls * aht / period


def _check(a: float, n: int) -> None:
    if a < 0 or n < 0 or int(n) != n:
        raise ValueError(f"traffic {a!r} must be >= 0 and servers {n!r} a whole number >= 0")


def erlang_b(a: float, n: int) -> float:
    """Blocking probability of ``a`` Erlangs offered to ``n`` servers (lost calls cleared)."""
    _check(a, n)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(a: float, n: int) -> float:
    """Probability that a call waits (``a`` Erlangs, ``n`` agents, calls queue forever)."""
    _check(a, n)
    if n <= a:
        return 1.0
    b = erlang_b(a, n)
    return n * b / (n - a * (1.0 - b))


def service_level(a: float, n: int, aht: float, target: float) -> float:
    """Fraction of calls answered within ``target`` seconds."""
    if n <= a:
        return 0.0
    return 1.0 - erlang_c(a, n) * math.exp(-(n - a) * target / aht)


def asa(a: float, n: int, aht: float) -> float:
    """Average speed of answer (mean wait over all calls), seconds; inf when ``n <= a``."""
    if n <= a:
        return math.inf
    return erlang_c(a, n) * aht / (n - a)


def occupancy(a: float, n: int) -> float:
    """Fraction of time an agent is busy (capped at 1)."""
    return min(1.0, a / n) if n else 1.0


def agents_needed(a: float, aht: float, target_sl: float, target: float,
                  max_agents: int = 100_000) -> int:
    """Fewest agents giving at least ``target_sl`` (0-1) of calls answered within
    ``target`` seconds."""
    if not 0 <= target_sl < 1:
        raise ValueError("target_sl must be in [0, 1)")
    n = max(1, math.floor(a) + 1)
    while service_level(a, n, aht, target) < target_sl:
        n += 1
        if n > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    return n


def agents_for_wait(a: float, max_p_wait: float, max_agents: int = 100_000) -> int:
    """Fewest agents keeping the probability of waiting at or below ``max_p_wait``."""
    n = max(1, math.floor(a) + 1)
    while erlang_c(a, n) > max_p_wait:
        n += 1
        if n > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    return n


def lines_needed(a: float, max_blocking: float, max_lines: int = 100_000) -> int:
    """Fewest lines keeping Erlang B blocking at or below ``max_blocking``."""
    n, b = 0, 1.0
    while b > max_blocking:
        n += 1
        b = a * b / (n + a * b)
        if n > max_lines:
            raise ValueError(f"more than {max_lines} lines needed")
    return n


def traffic_for_blocking(n: int, blocking: float) -> float:
    """Most traffic ``n`` lines carry with Erlang B blocking at most ``blocking``."""
    return _bisect_traffic(lambda a: erlang_b(a, n) <= blocking, float(n) * 10 + 10)


def traffic_for_wait(n: int, p_wait: float) -> float:
    """Most traffic ``n`` agents carry with a probability of waiting at most ``p_wait``."""
    return _bisect_traffic(lambda a: erlang_c(a, n) <= p_wait, float(n))


def _bisect_traffic(ok: Callable[[float], bool], hi: float) -> float:
    """The largest traffic in [0, hi] for which ``ok`` holds (``ok`` is monotone)."""
    lo = 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo
