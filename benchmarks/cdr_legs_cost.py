"""What a call's legs cost the store writer and the core (issue 10 point 7; issue 9 counts
CPU per anchored call).

Writer: ``CdrStore.add`` of a CDR without legs, then of the same CDR with 5 legs and 2
transfers (a ring-all offer to two agents, a blind and an attended transfer), on a SQLite file
with ``synchronous=FULL`` as the writer opens it, ``BATCH`` calls per transaction as the
writer batches them; the commit (an fsync) is timed apart.  Core: ``leg_records`` building
those 5 records as a call ends.

    PYTHONPATH=src python benchmarks/cdr_legs_cost.py [--calls 4000] [--batch 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchutil import machine

from ccswitch.call.events import CallEnded, LegRecord, TransferStep
from ccswitch.call.legrecord import leg_records
from ccswitch.call.state import Call, Leg
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Db

LEGS = (
    LegRecord("a", "caller", "1001", 1.0, 1.0, 40.0, 200, "OK", "party", "PCMU", "caller"),
    LegRecord("b1", "agent", "2001", 1.0, None, 3.2, 487, "Request Terminated", "switch"),
    LegRecord("b2", "agent", "2002", 1.0, 3.0, 12.5, 200, "OK", "party", "PCMU"),
    LegRecord("t1", "transfer", "1003", 10.0, 12.0, 26.0, 200, "OK", "party", "PCMU"),
    LegRecord("t2", "transfer", "1004", 20.0, 21.0, 40.0, 200, "OK", "peer", "PCMU", "callee"),
)
XFERS = (TransferStep("blind", "2002", "1003", 10.0, "refer", "answered"),
         TransferStep("attended", "1003", "1004", 25.0, "refer", "answered"))


def writer_us(tmp: Path, calls: int, batch: int, legs: bool) -> dict[str, float]:
    """µs per call: inside the batch's transaction, and the commit per call."""
    db = Db.sqlite(tmp / f"bench-{legs}.db", synchronous="FULL")
    store = CdrStore(db)
    inside = commit = 0.0
    for start in range(0, calls, batch):
        db.execute("BEGIN")
        t0 = time.perf_counter()
        for i in range(start, min(calls, start + batch)):
            store.add(CallEnded(f"c{i}", "1001", "800", 200, "OK", 1.0, 1.0, 40.0, "caller",
                                queue="support", agent="2002",
                                legs=LEGS if legs else (), transfers=XFERS if legs else ()),
                      wall_offset=1e9 + i)
        t1 = time.perf_counter()
        db.execute("COMMIT")
        inside += t1 - t0
        commit += time.perf_counter() - t1
    db.close()
    return {"in_transaction_us": 1e6 * inside / calls, "commit_us": 1e6 * commit / calls}


def core_us(n: int) -> float:
    """µs for ``leg_records`` of a call with 5 legs (no media: the codec look-up is the
    attribute read it is with media)."""
    legs = [Leg(f"l{i}", None, None, None, incoming=i == 0, at=1.0, party=f"p{i}",  # type: ignore[arg-type]
                final=None if i == 0 else 200, answered_at=2.0) for i in range(5)]
    call = Call.of(legs[0], key="k", caller="1001", callee="800", started=1.0)
    for leg in legs[1:]:
        call.add(leg)
    call.answered_id = "l4"
    t0 = time.perf_counter()
    for _ in range(n):
        leg_records(call, 200, "OK", "caller", 40.0)
    return 1e6 * (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=50)
    a = ap.parse_args(argv)
    out: dict[str, Any] = machine(calls=a.calls, batch=a.batch)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):  # the second round counts (a warm page cache)
            plain = writer_us(Path(tmp), a.calls, a.batch, legs=False)
            with_legs = writer_us(Path(tmp), a.calls, a.batch, legs=True)
            for p in Path(tmp).iterdir():
                p.unlink()
    out["writer_without_legs"] = {k: round(v, 1) for k, v in plain.items()}
    out["writer_with_5_legs_2_transfers"] = {k: round(v, 1) for k, v in with_legs.items()}
    out["writer_legs_extra_us"] = round(with_legs["in_transaction_us"]
                                        - plain["in_transaction_us"], 1)
    out["core_leg_records_us"] = round(min(core_us(20000) for _ in range(3)), 2)
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
