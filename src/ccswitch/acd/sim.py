"""A discrete-event simulation of one queue driving the real ``Router`` on a fake clock.

Erlang C's model: Poisson arrivals (``arrival_rate`` calls/s), exponential handle times
(mean ``aht`` s), ``agents`` identical agents, no abandonment, no wrap-up, offers answered
at once.  The simulation keeps three clocks in one loop - the next arrival, the earliest
call end (a heap) and the router's own ``next_deadline()`` - and always advances to the
earliest.  Waits are read from the router's ``CallerConnected`` events, so what is measured
is what the router decided.  The first ``warmup`` calls are discarded (the queue starts
empty); the next ``calls`` are measured.

    result = simulate(SimConfig(arrival_rate=10 / 180, aht=180, agents=13, calls=50_000))
    result.service_level, result.asa  # vs erlang.service_level / erlang.asa
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from .events import CallerConnected, Offer
from .model import AgentSettings, QueueSettings
from .router import Router


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate (times in seconds)."""

    arrival_rate: float
    aht: float
    agents: int
    calls: int
    warmup: int = 2_000
    service_target: float = 20.0
    seed: int = 1
    strategy: str = "longest_idle"

    @property
    def traffic(self) -> float:
        """Offered load in Erlangs."""
        return self.arrival_rate * self.aht


@dataclass(frozen=True, slots=True)
class SimResult:
    """What was measured over the ``calls`` measured calls."""

    calls: int
    service_level: float  # fraction answered within ``service_target``
    asa: float  # mean wait, seconds
    p_wait: float  # fraction that waited at all
    max_waiting: int  # most callers in line at once
    duration: float  # simulated seconds
    waits: tuple[float, ...]  # each measured call's wait, in arrival order

    def batches(self, count: int = 20) -> list[tuple[float, ...]]:
        """The waits cut into ``count`` consecutive batches (for batch-means errors)."""
        size = len(self.waits) // count
        return [self.waits[i * size:(i + 1) * size] for i in range(count)]


def simulate(config: SimConfig) -> SimResult:
    """Run the simulation (deterministic for a given ``config.seed``)."""
    rng = random.Random(config.seed)
    queue = QueueSettings("sim", strategy=config.strategy, wrapup=0.0, ring_timeout=3600.0,
                          announce_interval=None, announce_on_entry=False)
    agents = [AgentSettings(f"agent{i}", queues={"sim": 0}) for i in range(config.agents)]
    router = Router(queues=[queue], agents=agents, rng=random.Random(config.seed + 1))
    for settings in agents:
        router.agent_login(settings.name, 0.0)
    ends: list[tuple[float, int, str, str]] = []
    total = config.warmup + config.calls
    arrived = 0
    next_arrival = rng.expovariate(config.arrival_rate)
    max_waiting = 0
    now = 0.0
    waits = [0.0] * config.calls
    done = [0]
    while done[0] < config.calls:
        deadline = router.next_deadline()
        now = min(next_arrival if arrived < total else float("inf"),
                  ends[0][0] if ends else float("inf"),
                  deadline if deadline is not None else float("inf"))
        if ends and ends[0][0] == now:
            _, _, call_id, agent = heapq.heappop(ends)
            router.call_ended(call_id, agent, now)
        elif arrived < total and next_arrival == now:
            router.enqueue(f"c{arrived}", "sim", now)
            arrived += 1
            next_arrival = now + rng.expovariate(config.arrival_rate)
        else:
            router.handle_timer(now)
        _settle(router, now, rng, config, ends, waits, done)
        max_waiting = max(max_waiting, router.waiting("sim"))
    target = config.service_target
    n = len(waits)
    return SimResult(calls=n, service_level=sum(1 for w in waits if w <= target) / n,
                     asa=sum(waits) / n, p_wait=sum(1 for w in waits if w > 0) / n,
                     max_waiting=max_waiting, duration=now, waits=tuple(waits))


def _settle(router: Router, now: float, rng: random.Random, config: SimConfig,
            ends: list[tuple[float, int, str, str]], waits: list[float],
            done: list[int]) -> None:
    """Answer every offer at once; start a handle time for every connected call."""
    while True:
        offers = [a for a in router.actions() if isinstance(a, Offer)]
        for offer in offers:
            router.offer_answered(offer.call_id, offer.agents[0], now)
        for event in router.events():
            if isinstance(event, CallerConnected):
                index = int(event.call_id[1:])
                if config.warmup <= index < config.warmup + config.calls:
                    waits[index - config.warmup] = event.wait  # by arrival, not answer
                    done[0] += 1
                heapq.heappush(ends, (now + rng.expovariate(1.0 / config.aht), index,
                                      event.call_id, event.agent))
        if not offers:
            return
