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

Erlang A (:func:`erlang_a`) adds callers' patience: ``docs/forecast.md`` gives its formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


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


# -- Erlang A ----------------------------------------------------------------------------
# Palm's M/M/n+M queue: Poisson arrivals, exponential handle times, n agents, and each waiting
# caller hangs up after an exponential patience (mean ``patience`` s, rate theta = 1/patience).
# Time is counted in handle times (mu = 1): lambda = A, theta = aht / patience.  With j callers
# waiting the queue empties at rate n + j theta, so the stationary probabilities above n are
# p(n+j) = p(n) prod_{i<=j} A / (n + i theta); their sum T = sum_j prod_{i<=j} A / (n + i theta)
# gives P(wait) = B T / (1 + B (T - 1)) from Erlang B (B = p(n) over the states 0..n).  The
# terms are summed in log space (no overflow when theta is small and n < A).  A caller who
# finds j waiting ahead is served (not abandoned) with probability n / (n + (j+1) theta) (the
# stage rates telescope), and then within t with probability 1 - NB_j, the negative-binomial
# CDF of r = n/theta + 1, q = exp(-theta t) at j: a sum of positive terms, stable at any size.

LOG_TAIL = 45.0  # queue states whose probability is below e^-45 of the largest are dropped
MAX_QUEUE_TERMS = 100_000  # ~50 ms of summing: a longer queue is refused


class QueueTooLong(ValueError):
    """An overloaded group (n < A) with callers so patient that the queue's stationary law
    spans more than ``MAX_QUEUE_TERMS`` states: nearly every caller waits very long."""


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Erlang A figures for ``n`` agents: probabilities are over all offered calls; waits in
    seconds."""

    p_wait: float  # the caller finds every agent busy
    p_abandon: float  # the caller hangs up before an agent answers
    service_level: float  # answered within the target, over offered
    asa: float  # average speed of answer of the answered calls
    mean_wait: float  # average time in queue of every caller (answered or not)
    occupancy: float  # carried traffic A (1 - P(abandon)) over n

    @property
    def answered(self) -> float:
        return 1.0 - self.p_abandon


def _queue_log_terms(a: float, n: int, th: float) -> list[float]:
    """log prod_{i<=j} a / (n + i th) for j = 0, 1, ... until negligible and falling."""
    logs, total, peak = [0.0], 0.0, 0.0
    turn = (a - n) / th  # the terms grow while n + j th < a
    log_a = math.log(a)
    j = 0
    while True:
        j += 1
        total += log_a - math.log(n + j * th)
        logs.append(total)
        peak = max(peak, total)
        if j > turn and total < peak - LOG_TAIL:
            return logs
        if j > MAX_QUEUE_TERMS:
            raise QueueTooLong(f"{n} agents for {a:g} Erlangs with callers this patient: "
                               f"the queue grows beyond {MAX_QUEUE_TERMS} callers")


def _log_sum(logs: list[float]) -> float:
    top = max(logs)
    return top + math.log(math.fsum(math.exp(v - top) for v in logs))


def _nb_cdf(r: float, log_q: float, count: int) -> list[float]:
    """P(K <= k), k < count, for K negative binomial: pmf C(r+k-1, k) q^r (1-q)^k."""
    if log_q == 0:  # q = 1: K = 0
        return [1.0] * count
    base = r * log_q - math.lgamma(r)
    log_1q = math.log(-math.expm1(log_q))
    out, acc = [], 0.0
    for k in range(count):
        acc += math.exp(base + math.lgamma(r + k) - math.lgamma(k + 1) + k * log_1q)
        out.append(min(acc, 1.0))
    return out


def erlang_a(a: float, n: int, aht: float, patience: float, target: float) -> ErlangAResult:
    """Erlang A for ``a`` Erlangs (handle time ``aht`` s) on ``n`` agents, callers' mean
    patience ``patience`` s (``math.inf``: nobody hangs up, Erlang C) and a service-level
    target of ``target`` s."""
    _check(a, n)
    if aht <= 0 or patience <= 0 or target < 0:
        raise ValueError("aht and patience > 0, target >= 0")
    if n < 1:
        raise ValueError("n >= 1 agents")
    if a == 0:
        return ErlangAResult(0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    if math.isinf(patience):
        return _erlang_c_as_a(a, n, aht, target)
    th = aht / patience
    logs = _queue_log_terms(a, n, th)
    log_t = _log_sum(logs)
    b = erlang_b(a, n)
    p_wait = 0.0 if b == 0 else 1.0 / (1.0 + math.exp(math.log1p(-b) - math.log(b) - log_t))
    weights = [math.exp(v - log_t) for v in logs]  # P(j waiting ahead | all busy)
    cdf = _nb_cdf(n / th + 1.0, -th * target / aht, len(weights))
    abandon = served_in_t = served_wait = queue_len = 0.0
    harmonic = 0.0  # sum_{i<=j+1} 1 / (n + i th): the served caller's mean wait, in aht
    for j, w in enumerate(weights):
        served = n / (n + (j + 1) * th)
        harmonic += 1.0 / (n + (j + 1) * th)
        abandon += w * (1.0 - served)
        served_in_t += w * served * (1.0 - cdf[j])
        served_wait += w * served * harmonic
        queue_len += w * j
    p_abandon = p_wait * abandon
    answered = 1.0 - p_abandon
    return ErlangAResult(
        p_wait=p_wait, p_abandon=p_abandon,
        service_level=1.0 - p_wait + p_wait * served_in_t,
        asa=p_wait * served_wait * aht / answered,
        mean_wait=p_wait * queue_len / a * aht,  # Little: E[queue] / lambda
        occupancy=min(1.0, a * answered / n))


def _erlang_c_as_a(a: float, n: int, aht: float, target: float) -> ErlangAResult:
    if n <= a:
        return ErlangAResult(1.0, 0.0, 0.0, math.inf, math.inf, 1.0)
    wait = asa(a, n, aht)
    return ErlangAResult(erlang_c(a, n), 0.0, service_level(a, n, aht, target), wait, wait,
                         occupancy(a, n))


def agents_needed_a(a: float, aht: float, patience: float, target_sl: float, target: float,
                    max_agents: int = 100_000) -> int:
    """Fewest agents giving at least ``target_sl`` of offered calls answered within ``target``
    seconds when callers hang up after ``patience`` s on average (Erlang A); a binary search,
    the service level growing with the agents."""
    if not 0 <= target_sl < 1:
        raise ValueError("target_sl must be in [0, 1)")
    if a == 0:
        return 0

    def ok(n: int) -> bool:
        try:
            return erlang_a(a, n, aht, patience, target).service_level >= target_sl
        except QueueTooLong:  # overloaded, the queue endless: far from any target
            return False

    hi = max(1, math.ceil(a))
    while not ok(hi):
        hi *= 2
        if hi > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    lo = 0  # ok(lo) is false (no agent answers anything)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def patience_estimate(total_wait: float, abandons: int) -> float:
    """Callers' mean patience, s: the time waited by every caller (answered, abandoned or
    taken out) over the number who abandoned - the maximum-likelihood estimate for an
    exponential patience whose observations are censored by service; ``math.inf`` (nobody
    hangs up: Erlang C) without abandons."""
    if total_wait < 0 or abandons < 0:
        raise ValueError("total_wait and abandons >= 0")
    return math.inf if abandons == 0 else total_wait / abandons
