#!/usr/bin/env python3
"""Queue router decisions per second at contact-center scale (issue 4, item 8, first half).

The world (seeded): ``--agents`` agents (10,000), ``--queues`` queues (200), ``--skills``
skills (50) and ``--waiting`` callers waiting (100,000).  Each queue requires one skill at
level 1-3; every fourth queue escalates (after 60 s, levels down by 1), every fifth ages
priority (1 point a minute).  Each queue has ``--classes`` optional caller requirements
(default 4: e.g. a language at some level), which 30 % of its callers add to the queue's
own; priorities 0-3.  Each agent is a member of 3 queues (penalties 0, 0, 1) with their
skills at levels 3-10, plus 2 random other skills.

Scenarios, each timing every single call with ``time.perf_counter_ns``:

* **loaded** - every agent on a call, ``--waiting`` callers in line.  One step: the due
  timers run (``handle_timer``: callers escalating after 60 s move bucket and are re-tried,
  timed apart); a call ends
  (``call_ended``, no wrap-up: the agent is free and the router picks, across its queues,
  the caller to serve first - *the decision*), the offer is answered (``offer_answered``),
  and a new caller arrives (``enqueue``: it finds no free agent, joins its bucket and gets
  its position and expected wait) so the line stays full.
* **idle** - the same agents all free, nobody waiting: a caller arrives and the queue's
  strategy picks among ~150 free members (the caller-side decision); the call is answered
  and ends at once.  Run for several strategies.
* **naive** - the peer, measured in the same run: the same agent-free decision done the way a
  polling router does it, scanning every waiting caller for the best eligible one.

Memory is ``tracemalloc``'s traced size of the loaded router (its queues, callers, agents,
timers and settings; not the benchmark's own bookkeeping), measured in a separate build so
tracing does not slow the timings.  The garbage collector runs
with the daemon's thresholds (``gc.set_threshold(100_000, 50, 1000)``, daemon.py) unless
``--gc default``; its pauses show in the max column, not hidden.

    PYTHONPATH=src python3 benchmarks/router_bench.py [--decisions N] [--json FILE]
    PYTHONPATH=src python3 benchmarks/router_bench.py --quick       # a small world, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ccswitch.acd.events import CallerConnected, Offer
from ccswitch.acd.model import AgentSettings, EscalationStep, QueueSettings, satisfies
from ccswitch.acd.router import Router


@dataclass
class World:
    router: Router
    rng: random.Random
    queues: list[QueueSettings]
    classes: dict[str, list[dict[str, int]]]
    on_call: list[tuple[str, str]] = field(default_factory=list)  # (call id, agent)
    waiting: dict[str, tuple[str, int, float, dict[str, int]]] = field(default_factory=dict)
    agents: dict[str, AgentSettings] = field(default_factory=dict)
    next_call: int = 0
    now: float = 0.0


def make_queues(rng: random.Random, n_queues: int, n_skills: int,
                n_classes: int) -> tuple[list[QueueSettings], dict[str, list[dict[str, int]]]]:
    queues, classes = [], {}
    for i in range(n_queues):
        name = f"q{i}"
        queues.append(QueueSettings(
            name, skills={f"s{i % n_skills}": 1 + (i // n_skills) % 3}, wrapup=0.0,
            escalation=(EscalationStep(60.0, lower_by=1),) if i % 4 == 0 else (),
            priority_ageing=1 / 60 if i % 5 == 0 else 0.0, announce_interval=None))
        classes[name] = [{f"s{rng.randrange(n_skills)}": rng.randint(1, 4)}
                         for _ in range(n_classes)]
    return queues, classes


def make_agents(rng: random.Random, queues: list[QueueSettings],
                n_agents: int, n_skills: int) -> list[AgentSettings]:
    agents = []
    for i in range(n_agents):
        member = rng.sample(queues, 3)
        skills: dict[str, int] = {}
        for q in member:
            for skill in q.skills:
                skills[skill] = rng.randint(3, 10)
        for _ in range(2):
            skills[f"s{rng.randrange(n_skills)}"] = rng.randint(1, 10)
        agents.append(AgentSettings(f"a{i}", skills=skills, auto_pause_after=None,
                                    queues={q.name: pen for q, pen in zip(member, (0, 0, 1),
                                                                          strict=True)}))
    return agents


def arrive(w: World) -> None:
    """A new caller: random queue, priority, and 30 % of the time a requirement class."""
    q = w.queues[w.rng.randrange(len(w.queues))].name
    extra = w.rng.choice(w.classes[q]) if w.classes[q] and w.rng.random() < 0.3 else {}
    call_id = f"c{w.next_call}"
    w.next_call += 1
    priority = w.rng.randrange(4)
    w.router.enqueue(call_id, q, w.now, priority=priority, skills=extra)
    w.waiting[call_id] = (q, priority, w.now, extra)


def settle(w: World) -> None:
    """Answer every offer at once and note who is on which call."""
    while True:
        offers = [a for a in w.router.actions() if isinstance(a, Offer)]
        for offer in offers:
            w.router.offer_answered(offer.call_id, offer.agents[0], w.now)
        for e in w.router.events():
            if isinstance(e, CallerConnected):
                w.on_call.append((e.call_id, e.agent))
                w.waiting.pop(e.call_id, None)
        if not offers:
            return


def build(seed: int, n_agents: int, n_queues: int, n_skills: int, n_waiting: int,
          n_classes: int) -> World:
    rng = random.Random(seed)
    queues, classes = make_queues(rng, n_queues, n_skills, n_classes)
    agents = make_agents(rng, queues, n_agents, n_skills)
    w = World(Router(queues=queues, agents=agents, rng=random.Random(seed + 1)), rng,
              queues, classes, agents={a.name: a for a in agents})
    for a in agents:
        w.router.agent_login(a.name, 0.0)
    while len(w.waiting) < n_waiting:
        w.now += 0.001
        arrive(w)
        settle(w)
    return w


def timed(fn: Any, *args: Any) -> int:
    t0 = time.perf_counter_ns()
    fn(*args)
    return time.perf_counter_ns() - t0


def loaded(w: World, decisions: int) -> dict[str, list[int]]:
    """Agent frees -> decision; answer; a new caller arrives (the line stays full)."""
    out: dict[str, list[int]] = {"decision (call_ended)": [], "offer_answered": [],
                                 "enqueue (no free agent)": [], "handle_timer (escalations)": []}
    router, rng = w.router, w.rng
    for _ in range(decisions):
        w.now += 0.01
        out["handle_timer (escalations)"].append(timed(router.handle_timer, w.now))
        settle(w)
        call_id, agent = w.on_call.pop(rng.randrange(len(w.on_call)))
        out["decision (call_ended)"].append(timed(router.call_ended, call_id, agent, w.now))
        offers = [a for a in router.actions() if isinstance(a, Offer)]
        for offer in offers:
            out["offer_answered"].append(
                timed(router.offer_answered, offer.call_id, offer.agents[0], w.now))
        for e in router.events():
            if isinstance(e, CallerConnected):
                w.on_call.append((e.call_id, e.agent))
                w.waiting.pop(e.call_id, None)
        t0 = time.perf_counter_ns()
        arrive(w)
        out["enqueue (no free agent)"].append(time.perf_counter_ns() - t0)
        settle(w)
    return out


def idle(seed: int, strategy: str, n_agents: int, n_queues: int, n_skills: int,
         decisions: int) -> list[int]:
    """All agents free, nobody waiting: time enqueue (the strategy's pick) per caller."""
    rng = random.Random(seed)
    queues, classes = make_queues(rng, n_queues, n_skills, 0)
    queues = [QueueSettings(q.name, strategy=strategy, skills=q.skills, wrapup=0.0,
                            announce_interval=None) for q in queues]
    agents = make_agents(rng, queues, n_agents, n_skills)
    w = World(Router(queues=queues, agents=agents, rng=random.Random(seed + 1)), rng,
              queues, classes)
    for a in agents:
        w.router.agent_login(a.name, 0.0)
    times = []
    for _ in range(decisions):
        w.now += 0.01
        t0 = time.perf_counter_ns()
        arrive(w)
        times.append(time.perf_counter_ns() - t0)
        (offer,) = [a for a in w.router.actions() if isinstance(a, Offer)]
        w.router.offer_answered(offer.call_id, offer.agents[0], w.now)
        w.router.call_ended(offer.call_id, offer.agents[0], w.now)
        w.router.events()
        w.router.actions()
    return times


def naive(w: World, decisions: int) -> list[int]:
    """The peer: pick the caller for a freed agent by scanning every waiting caller."""
    times = []
    for i in range(decisions):
        _, agent = w.on_call[i]
        settings = w.agents[agent]
        member = dict(settings.queues)
        skills = settings.skills
        qset = {q.name: q for q in w.queues}
        t0 = time.perf_counter_ns()
        best, best_key = None, None
        for call_id, (q, priority, arrived, extra) in w.waiting.items():
            penalty = member.get(q)
            if penalty is None:
                continue
            req = tuple(sorted({**qset[q].skills, **extra}.items()))
            if not satisfies(skills, req):
                continue
            key = (penalty, -(priority + qset[q].priority_ageing * (w.now - arrived)), arrived)
            if best_key is None or key < best_key:
                best, best_key = call_id, key
        times.append(time.perf_counter_ns() - t0)
        assert best is None or best in w.waiting
    return times


def memory(seed: int, sizes: tuple[int, int, int, int, int]) -> int:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    w = build(seed, *sizes)
    w.router.events()
    w.waiting.clear()  # the benchmark's own bookkeeping, not the router's
    w.on_call.clear()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del w
    return used


def summary(ns: list[int]) -> dict[str, float]:
    us = sorted(t / 1000 for t in ns)
    return {"n": len(us), "mean_us": statistics.fmean(us), "p50_us": us[len(us) // 2],
            "p99_us": us[min(len(us) - 1, int(len(us) * 0.99))], "max_us": us[-1],
            "per_s": 1e6 / statistics.fmean(us)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--queues", type=int, default=200)
    p.add_argument("--skills", type=int, default=50)
    p.add_argument("--waiting", type=int, default=100_000)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--decisions", type=int, default=20_000)
    p.add_argument("--naive", type=int, default=200, help="naive-scan decisions to time")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="1,000 agents, 10,000 waiting")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--gc", choices=("daemon", "default"), default="daemon",
                   help="collector thresholds: the daemon's (default) or Python's")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if args.gc == "daemon":
        gc.set_threshold(100_000, 50, 1000)
    if args.quick:
        args.agents, args.waiting, args.decisions = 1_000, 10_000, 5_000
    sizes = (args.agents, args.queues, args.skills, args.waiting, args.classes)
    report: dict[str, Any] = {"machine": benchutil.machine(gc=args.gc), "sizes": dict(zip(
        ("agents", "queues", "skills", "waiting", "classes"), sizes, strict=True))}
    print(f"world: {args.agents:,} agents, {args.queues} queues, {args.skills} skills, "
          f"{args.waiting:,} waiting, {args.classes} requirement classes per queue; "
          f"gc thresholds {gc.get_threshold()}")
    if not args.no_memory:
        used = memory(args.seed, sizes)
        report["memory_bytes"] = used
        print(f"memory (tracemalloc, loaded router): {used / 2**20:.1f} MiB, "
              f"{used / (args.waiting + args.agents):.0f} B per caller+agent")
    t0 = time.perf_counter()
    w = build(args.seed, *sizes)
    report["build_s"] = time.perf_counter() - t0
    print(f"built in {report['build_s']:.1f} s; {len(w.on_call):,} agents on calls")
    gc.collect()
    results = {name: summary(ns) for name, ns in loaded(w, args.decisions).items()}
    results["naive scan (peer)"] = summary(naive(w, min(args.naive, len(w.on_call))))
    for strategy in ("longest_idle", "round_robin", "fewest_calls", "random",
                     "weighted_random", "ring_all"):
        n = min(args.decisions, 5_000)
        results[f"idle: enqueue + {strategy}"] = summary(
            idle(args.seed, strategy, args.agents, args.queues, args.skills, n))
    report["results"] = results
    print(f"{'operation':34} {'n':>7} {'per s':>10} {'mean us':>9} {'p50':>8} {'p99':>8} "
          f"{'max':>9}")
    for name, r in results.items():
        print(f"{name:34} {r['n']:>7} {r['per_s']:>10,.0f} {r['mean_us']:>9.1f} "
              f"{r['p50_us']:>8.1f} {r['p99_us']:>8.1f} {r['max_us']:>9.1f}")
    decision = results["decision (call_ended)"]
    verdict = "met" if decision["mean_us"] < 50 else "NOT met"
    print(f"target: a routing decision under 50 us at this size - {verdict} "
          f"(mean {decision['mean_us']:.1f} us, p99 {decision['p99_us']:.1f} us)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
