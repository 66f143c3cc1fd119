#!/usr/bin/env python3
"""The pure media engine (``ccswitch.media.engine``) under worker-sized loads, no sockets.

Scenarios, each on a fresh engine fed pre-built 172-octet PCMU packets on a simulated clock
(every leg sends one packet per 20 ms; the engine ticks every 10 ms):

* ``relay``    - ``--calls`` two-party calls (2 legs each) served by packet relay: packets/s
  through ``receive`` + ``tick`` + draining the outbox, and the CPU time of each 10 ms batch
  (its p50/p99/max: a batch well under one tick is what keeps the added jitter under a tick);
* ``record``   - ``--record-calls`` relayed calls, each recorded (2 channels): ms per 20 ms
  frame of audio (the receive side and the frame's DSP shown apart: decode of every leg,
  recording capture, chunking), and the share of one core;
* ``bus``      - one conference of ``--bus`` parties, all talking and listening: ms per frame
  (receive, jitter buffers, decode, bus sum minus self, encode, packetize);
* ``compile``  - recompiling the plan after a command with the relay graph of ``--calls``.

The shell's socket work (recv_into/sendto, epoll) is not in these figures: a worker also pays
that per packet.  Timing is ``time.process_time`` (CPU of this process), best of
``--repeats`` runs.  Pin BLAS to one thread as a worker does (done below).

    PYTHONPATH=src python3 benchmarks/engine_bench.py [--calls N] [--json FILE]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np

from ccswitch.ids import Ids
from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    JoinBus,
    StartRecord,
)
from ccswitch.media.engine import MediaEngine
from ccswitch.media.g711 import ulaw_encode

HDR = struct.Struct("!BBHII")
TICK = 0.01
FRAME = 0.02


def make_engine(legs: int) -> MediaEngine:
    eng = MediaEngine(ssrc_source=Ids(random.Random(1)).ssrc)
    for leg in range(legs):
        eng.add_leg(leg, 20000 + 2 * leg)
        eng.command(ConfigureLeg(leg, "10.1.0.1", 30000 + leg, 30001 + leg, "PCMU", 0, 101),
                    0.0)
    eng.events()
    return eng


def packets(legs: int, frames: int) -> list[list[tuple[int, bytes, tuple[str, int]]]]:
    """Per frame, one packet from every leg: speech-like noise, own SSRC, seq, ts."""
    rng = np.random.default_rng(1)
    payloads = [ulaw_encode(rng.normal(0, 2000, 160).clip(-32768, 32767).astype(np.int16))
                .tobytes() for _ in range(16)]
    out = []
    for f in range(frames):
        out.append([(leg, HDR.pack(0x80, 0, (leg * 7 + f) & 0xFFFF, (f * 160) & 0xFFFFFFFF,
                                   leg + 1) + payloads[(leg + f) % 16],
                     ("10.1.0.1", 30000 + leg)) for leg in range(legs)])
    return out


def drive(eng: MediaEngine, traffic: list[list[tuple[int, bytes, tuple[str, int]]]],
          on_batch: Callable[[float], None] | None = None) -> tuple[float, list[float]]:
    """Feed each frame's packets in two 10 ms batches with a tick after each; returns the
    total CPU seconds and the CPU seconds of every batch."""
    receive, tick = eng.receive, eng.tick
    batches: list[float] = []
    t = 1000.0
    clock = time.process_time
    start = clock()
    for frame in traffic:
        half = len(frame) // 2
        for part in (frame[:half], frame[half:]):
            b0 = clock()
            for leg, data, src in part:
                receive(leg, data, src, t)
            tick(t)
            eng.outbox()
            eng.recorded()
            batches.append(clock() - b0)
            t += TICK
    return clock() - start, batches


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def bench_relay(calls: int, seconds: float, repeats: int, *,
                memoryview_input: bool = False) -> dict[str, Any]:
    legs = 2 * calls
    frames = round(seconds / FRAME)
    traffic = packets(legs, frames)
    if memoryview_input:  # what a shell reading with recv_into hands over
        traffic = [[(leg, memoryview(bytearray(d)), src) for leg, d, src in frame]  # type: ignore[misc]
                   for frame in traffic]
    best: tuple[float, list[float]] | None = None
    for _ in range(repeats):
        eng = make_engine(legs)
        for c in range(calls):
            eng.command(Connect(2 * c, 2 * c + 1), 0.0)
            eng.command(Connect(2 * c + 1, 2 * c), 0.0)
        run = drive(eng, traffic)
        assert eng.stats.packets_out == legs * frames, eng.stats
        if best is None or run[0] < best[0]:
            best = run
    assert best is not None
    total, batches = best
    n = legs * frames
    return {"scenario": "relay/memoryview" if memoryview_input else "relay", "calls": calls,
            "legs": legs, "packets": n,
            "packets_per_s": round(n / total), "cpu_share_at_line_rate": round(
                total / seconds, 3),
            "batch_ms_p50": round(1000 * pct(batches, 0.5), 3),
            "batch_ms_p99": round(1000 * pct(batches, 0.99), 3),
            "batch_ms_max": round(1000 * max(batches), 3)}


def bench_frames(name: str, legs: int, setup: Callable[[MediaEngine], None], seconds: float,
                 repeats: int, expect_out: int, expect_samples: int) -> dict[str, Any]:
    """ms of CPU per 20 ms frame for a decoded load, receive side and tick side apart."""
    frames = round(seconds / FRAME)
    traffic = packets(legs, frames)
    best: dict[str, float] | None = None
    for _ in range(repeats):
        eng = make_engine(legs)
        setup(eng)
        clock = time.process_time
        rx = tk = 0.0
        t = 1000.0
        sent = samples = 0
        for frame in traffic:
            half = len(frame) // 2
            for part in (frame[:half], frame[half:]):
                a = clock()
                for leg, data, src in part:
                    eng.receive(leg, data, src, t)
                b = clock()
                eng.tick(t)
                sent += len(eng.outbox())
                samples += sum(len(c) for _, c in eng.recorded() if c is not None)
                tk += clock() - b
                rx += b - a
                t += TICK
        # the work was done: every sink sent a packet per frame (after the jitter buffer's
        # fill), every recording got its samples
        assert sent >= expect_out * (frames - 5), (name, sent)
        assert samples >= expect_samples * (frames - 25) * 160, (name, samples)
        run = {"receive": rx, "tick": tk}
        if best is None or rx + tk < best["receive"] + best["tick"]:
            best = run
    assert best is not None
    per = 1000.0 / frames
    total = best["receive"] + best["tick"]
    return {"scenario": name, "legs": legs, "frames": frames,
            "ms_per_frame": round(total * per, 3),
            "receive_ms_per_frame": round(best["receive"] * per, 3),
            "tick_ms_per_frame": round(best["tick"] * per, 3),
            "cpu_share": round(total / seconds, 3)}


def bench_compile(calls: int, repeats: int) -> dict[str, Any]:
    eng = make_engine(2 * calls)
    for c in range(calls):
        eng.command(Connect(2 * c, 2 * c + 1), 0.0)
        eng.command(Connect(2 * c + 1, 2 * c), 0.0)
    times = []
    for _ in range(max(5, repeats)):
        eng.command(Connect(0, 1), 0.0)  # marks the plan dirty
        a = time.process_time()
        eng.tick(1000.0)
        times.append(time.process_time() - a)
    return {"scenario": "compile", "legs": 2 * calls,
            "ms_per_compile": round(1000 * min(times), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000, help="relayed calls")
    ap.add_argument("--record-calls", type=int, default=500, help="recorded calls")
    ap.add_argument("--bus", type=int, default=500, help="conference parties")
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated audio per run")
    ap.add_argument("--repeats", type=int, default=3, help="runs; the best is reported")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)

    def record_setup(eng: MediaEngine) -> None:
        for c in range(args.record_calls):
            eng.command(Connect(2 * c, 2 * c + 1), 0.0)
            eng.command(Connect(2 * c + 1, 2 * c), 0.0)
            eng.command(StartRecord(c, f"/tmp/{c}.wav", (2 * c, 2 * c + 1)), 0.0)

    def bus_setup(eng: MediaEngine) -> None:
        for leg in range(args.bus):
            eng.command(JoinBus(1, leg), 0.0)

    info = benchutil.machine()
    results = [
        bench_relay(args.calls, args.seconds, args.repeats),
        bench_relay(args.calls, args.seconds, args.repeats, memoryview_input=True),
        bench_frames("record", 2 * args.record_calls, record_setup, args.seconds,
                     args.repeats, 2 * args.record_calls, args.record_calls),
        bench_frames("bus", args.bus, bus_setup, args.seconds, args.repeats, args.bus, 0),
        bench_compile(args.calls, args.repeats),
    ]
    print(f"# media engine benchmark  {info['date']}")
    print(f"# {info['cpu']}, {info['nproc']} cores, {info['implementation']} {info['python']}; "
          f"CPU time, best of {args.repeats}, {args.seconds:g} s of audio per run; no sockets")
    for r in results:
        fields = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                           for k, v in r.items() if k != "scenario")
        print(f"{r['scenario']:<8} {fields}")
    relay = results[0]
    print(f"# relay: {relay['packets_per_s']:,} packets/s in the engine "
          f"({relay['packets_per_s'] / 100_000:.2f}x the 100,000/s target); "
          f"10 ms batch p99 {relay['batch_ms_p99']} ms")
    if args.json:
        doc = {"machine": info, "args": vars(args), "results": results}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
