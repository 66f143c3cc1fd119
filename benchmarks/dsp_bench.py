#!/usr/bin/env python3
"""Media DSP throughput: G.711 by lookup table and in-band DTMF detection, batched vs per frame.

Rows (all on 8 kHz audio, 20 ms frames of 160 samples, ``--legs`` legs, 1000 by default):

* ``g711 batched``   - one µ-law decode + encode call on the whole (legs x 160) tick;
* ``g711 per frame`` - the same work as one decode + encode call per leg (what a media loop
  that handles legs one at a time pays);
* ``audioop per frame`` - the peer: CPython's C ``audioop.ulaw2lin`` + ``lin2ulaw`` per leg
  (absent from Python 3.13 on; reported as missing then);
* ``dtmf batched``   - ``InbandDetector.process`` on the (legs x 160) tick;
* ``dtmf per leg``   - one detector per leg, one ``process`` call each per tick (a sample of
  legs, scaled up);
* ``goertzel loop``  - the peer for detection: the plain Goertzel recursion
  (``dtmf.goertzel``, numpy-vectorised over legs, one Python step per sample) for the 8
  frequencies over the same audio, with no decisions at all.

Samples/s counts samples through decode+encode (or through the detector); ``x real time``
is how many legs one core could carry at that rate (samples/s / 8000).  Timing:
``time.perf_counter``, one warm-up tick, then the best of ``--repeats`` runs of ``--ticks``
ticks (median in brackets).

BLAS: the detector's filter bank is a matrix product.  A media worker is one process per
core, so OpenBLAS threads fight the other workers; this script pins BLAS to
``--blas-threads`` (default 1) before numpy loads, as a worker should.

    PYTHONPATH=src python3 benchmarks/dsp_bench.py [--legs N] [--ticks T] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # before numpy is imported anywhere
    _threads = "1"
    for i, a in enumerate(sys.argv):
        if a == "--blas-threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
        elif a.startswith("--blas-threads="):
            _threads = a.split("=", 1)[1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = _threads

import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchutil
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ccswitch.media import g711
from ccswitch.media.dtmf import InbandDetector, goertzel
from ccswitch.media.tones import DTMF_FREQS, DTMF_KEYS, ToneGenerator, dtmf_spec

FRAME = 160
RATE = 8000


def timed(tick: Callable[[int], object], ticks: int, repeats: int) -> tuple[float, float]:
    """Best and median seconds per tick."""
    tick(0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(ticks):
            tick(i)
        times.append((time.perf_counter() - t0) / ticks)
    return min(times), statistics.median(times)


def test_audio(legs: int, ticks: int) -> np.ndarray:
    """legs x (ticks*160) int16: noise with a DTMF digit on every 4th leg."""
    rng = np.random.default_rng(1)
    n = (ticks + 1) * FRAME
    audio = rng.normal(0.0, 300.0, (legs, n))
    for leg in range(0, legs, 4):
        key = DTMF_KEYS[leg % 16]
        audio[leg, :n] += ToneGenerator(dtmf_spec(key, on=0.08, off=0.12)).read(n)
    return np.clip(audio, -32768, 32767).astype(np.int16)


def bench(legs: int, ticks: int, repeats: int) -> list[dict[str, Any]]:
    audio = test_audio(legs, ticks)
    codes = g711.ulaw_encode(audio)
    rows: list[dict[str, Any]] = []

    def row(name: str, best: float, median: float, samples_per_tick: int, note: str) -> None:
        rows.append({"name": name, "tick_s": best, "tick_s_median": median,
                     "samples_per_s": samples_per_tick / best,
                     "samples_per_s_median": samples_per_tick / median, "note": note})

    def g711_batched(i: int) -> object:
        tick = codes[:, i * FRAME:(i + 1) * FRAME]
        return g711.ulaw_encode(g711.ulaw_decode(tick))

    def g711_per_frame(i: int) -> object:
        tick = codes[:, i * FRAME:(i + 1) * FRAME]
        return [g711.ulaw_encode(g711.ulaw_decode(tick[leg])) for leg in range(legs)]

    row("g711 batched", *timed(g711_batched, ticks, repeats), legs * FRAME,
        f"decode+encode, one call per tick ({legs}x{FRAME})")
    row("g711 per frame", *timed(g711_per_frame, ticks, repeats), legs * FRAME,
        "decode+encode, one call per leg")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            audioop = None  # type: ignore[assignment]
    if audioop is not None:
        frames = [[codes[leg, i * FRAME:(i + 1) * FRAME].tobytes() for leg in range(legs)]
                  for i in range(ticks + 1)]

        def audioop_per_frame(i: int) -> object:
            return [audioop.lin2ulaw(audioop.ulaw2lin(f, 2), 2) for f in frames[i]]

        row("audioop per frame", *timed(audioop_per_frame, ticks, repeats), legs * FRAME,
            "peer: CPython C ulaw2lin+lin2ulaw, per leg")
    else:
        rows.append({"name": "audioop per frame", "missing": "no audioop in this Python"})

    det = InbandDetector(legs)
    found: list[int] = [0]

    def dtmf_batched(i: int) -> object:
        found[0] += len(det.process(audio[:, i * FRAME:(i + 1) * FRAME]))
        return None

    row("dtmf batched", *timed(dtmf_batched, ticks, repeats), legs * FRAME,
        f"InbandDetector({legs}).process per tick")

    sample = min(legs, 100)
    singles = [InbandDetector(1) for _ in range(sample)]

    def dtmf_per_leg(i: int) -> object:
        for leg in range(sample):
            singles[leg].process(audio[leg:leg + 1, i * FRAME:(i + 1) * FRAME])
        return None

    best, median = timed(dtmf_per_leg, ticks, repeats)
    scale = legs / sample
    row("dtmf per leg", best * scale, median * scale, legs * FRAME,
        f"one detector and call per leg ({sample} legs timed, scaled)")

    freqs = [f for pair in (DTMF_FREQS["1"], DTMF_FREQS["D"]) for f in pair]
    freqs = sorted({*freqs, 770.0, 852.0, 1336.0, 1477.0})

    def goertzel_loop(i: int) -> object:
        tick = audio[:, i * FRAME:(i + 1) * FRAME]
        return [goertzel(tick, f) for f in freqs]

    row("goertzel loop", *timed(goertzel_loop, max(ticks // 10, 3), repeats), legs * FRAME,
        "peer: Goertzel recursion, 8 freqs, vectorised over legs, no decisions")
    rows.append({"name": "_digits_found", "count": found[0]})
    return rows



def machine() -> dict[str, Any]:
    return benchutil.machine(numpy=np.__version__,
                             blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--legs", type=int, default=1000, help="legs per tick")
    ap.add_argument("--ticks", type=int, default=50, help="20 ms ticks per timed run")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    ap.add_argument("--blas-threads", default="1", help="BLAS threads (set before numpy loads)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' = stdout)")
    args = ap.parse_args(argv)

    info = machine()
    rows = bench(args.legs, args.ticks, args.repeats)
    print(f"# {info['cpu']}, {info['nproc']} cpus, Python {info['python']}, "
          f"numpy {info['numpy']}, BLAS threads {info['blas_threads']}; "
          f"{args.legs} legs, 20 ms ticks")
    print(f"{'':20} {'ms/tick':>16} {'Msamples/s':>18} {'x real time':>12}  note")
    for r in rows:
        if r["name"].startswith("_"):
            continue
        if "missing" in r:
            print(f"{r['name']:20} {'missing: ' + r['missing']}")
            continue
        ms = f"{r['tick_s'] * 1e3:.3f} ({r['tick_s_median'] * 1e3:.3f})"
        ms_rate = f"{r['samples_per_s'] / 1e6:.1f} ({r['samples_per_s_median'] / 1e6:.1f})"
        print(f"{r['name']:20} {ms:>16} {ms_rate:>18} {r['samples_per_s'] / RATE:>12,.0f}"
              f"  {r['note']}")
    by = {r["name"]: r for r in rows}
    batched, per_frame = by["g711 batched"], by["g711 per frame"]
    print(f"g711 batched / per frame: {batched['samples_per_s'] / per_frame['samples_per_s']:.1f}x;"
          f" dtmf batched / per leg: "
          f"{by['dtmf batched']['samples_per_s'] / by['dtmf per leg']['samples_per_s']:.1f}x;"
          f" dtmf legs per core in real time: {by['dtmf batched']['samples_per_s'] / RATE:,.0f}")
    print(f"(digits found by the batched detector over all its runs, as a check that it worked: "
          f"{by['_digits_found']['count']})")
    if args.json:
        text = json.dumps({"machine": info, "args": vars(args), "rows": rows}, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
