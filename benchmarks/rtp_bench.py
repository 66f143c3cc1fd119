#!/usr/bin/env python3
"""RTP/RTCP wire-format throughput: ccswitch.media against aiortc's parser, in the same run.

On a 172-octet G.711 packet (12-octet header, 160 octets = 20 ms of PCMU), packets per second:

* ``parse_rtp``          - bytes to a frozen ``RtpPacket`` (payload copied out);
* ``rtp_header_fields``  - the relay's fast path: (pt, seq, ts, ssrc, header_len), no objects;
* ``rewrite_header``     - seq/ts/SSRC rewritten in place in a ``bytearray`` (a relay leg);
* ``header+rewrite``     - the two together: what a same-codec relay does per packet;
* ``build_rtp``          - header + payload to bytes (tone/prompt playback);
* ``stats.receive``      - ``RtpReceiveStats`` sequence/loss/jitter accounting per packet;
* ``parse_rtcp``         - an SR with one report block + SDES CNAME compound (84 octets).

Peers measured alongside: aiortc (``aiortc.rtp.RtpPacket.parse`` / ``serialize`` and
``RtcpPacket.parse``; an aiortc-based relay rewrites a header by parse, set, serialize), and the
floor: a bare ``struct.unpack_from`` / ``pack_into`` call, which no Python parser can beat.  A
peer that is not installed is reported as missing, never silently dropped.

Timing: ``time.perf_counter``, a warm-up, then the best of ``--repeats`` runs of ``--number``
calls (median in brackets).

    PYTHONPATH=src python3 benchmarks/rtp_bench.py [--number N] [--repeats R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ccswitch.media.rtcp import (
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_rtcp,
    parse_rtcp,
)
from ccswitch.media.rtp import (
    RtpReceiveStats,
    build_rtp,
    parse_rtp,
    rewrite_header,
    rtp_header_fields,
)

PAYLOAD = bytes(range(160))
PACKET = build_rtp(payload_type=0, sequence=4242, timestamp=678_720, ssrc=0x5EED5EED,
                   payload=PAYLOAD)
assert len(PACKET) == 172
COMPOUND = build_rtcp([
    SenderReport(ssrc=0x5EED5EED, ntp_msw=0xE9A1B2C3, ntp_lsw=0x80000000, rtp_timestamp=678_720,
                 packet_count=500, octet_count=80_000,
                 reports=(ReportBlock(ssrc=0x1234, fraction_lost=3, cumulative_lost=17,
                                      highest_seq=70_000, jitter=42, lsr=0xB2C38000,
                                      dlsr=16384),)),
    SourceDescription((SdesChunk.with_cname(0x5EED5EED, "ccswitch@192.0.2.1"),)),
])

Bench = Callable[[], object]


def ccswitch_benches() -> dict[str, Bench]:
    buf = bytearray(PACKET)
    stats = RtpReceiveStats(clock_rate=8000)
    state = [0]

    def header_rewrite() -> None:
        _pt, seq, ts, _ssrc, _hlen = rtp_header_fields(buf)
        rewrite_header(buf, seq=seq + 1, ts=ts + 160, ssrc=0x0BADCAFE)

    def receive() -> object:
        n = state[0] = state[0] + 1
        return stats.receive(0x5EED5EED, n & 0xFFFF, (160 * n) & 0xFFFFFFFF, n * 0.02)

    return {
        "parse_rtp": lambda: parse_rtp(PACKET),
        "rtp_header_fields": lambda: rtp_header_fields(PACKET),
        "rewrite_header": lambda: rewrite_header(buf, seq=7, ts=1120, ssrc=0x0BADCAFE),
        "header+rewrite": header_rewrite,
        "build_rtp": lambda: build_rtp(payload_type=0, sequence=4242, timestamp=678_720,
                                       ssrc=0x5EED5EED, payload=PAYLOAD),
        "stats.receive": receive,
        "parse_rtcp": lambda: parse_rtcp(COMPOUND),
    }


def aiortc_benches() -> dict[str, Bench]:
    from aiortc.rtp import RtcpPacket, RtpPacket

    def parse_set_serialize() -> bytes:
        p = RtpPacket.parse(PACKET)
        p.sequence_number, p.timestamp, p.ssrc = 7, 1120, 0x0BADCAFE
        return p.serialize()

    return {
        "parse_rtp": lambda: RtpPacket.parse(PACKET),
        "header+rewrite": parse_set_serialize,
        "build_rtp": lambda: RtpPacket(payload_type=0, sequence_number=4242, timestamp=678_720,
                                       ssrc=0x5EED5EED, payload=PAYLOAD).serialize(),
        "parse_rtcp": lambda: RtcpPacket.parse(COMPOUND),
    }


def floor_benches() -> dict[str, Bench]:
    hdr = struct.Struct("!BBHII")
    tail = struct.Struct("!HII")
    buf = bytearray(PACKET)
    return {
        "rtp_header_fields": lambda: hdr.unpack_from(PACKET),
        "rewrite_header": lambda: tail.pack_into(buf, 2, 7, 1120, 0x0BADCAFE),
    }


PEERS: dict[str, Callable[[], dict[str, Bench]]] = {
    "ccswitch": ccswitch_benches,
    "aiortc": aiortc_benches,
    "struct floor": floor_benches,
}


def version_of(name: str) -> str:
    from importlib import metadata

    if name != "aiortc":
        return ""
    try:
        return metadata.version("aiortc")
    except metadata.PackageNotFoundError:
        return "?"


def rate(fn: Bench, number: int, repeats: int) -> tuple[float, float]:
    """Best and median calls/s for ``fn()``."""
    return benchutil.best_rate(fn, number, repeats, min(number, 5000))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--number", type=int, default=200_000, help="calls per timed run")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' = stdout)")
    args = ap.parse_args(argv)

    info = benchutil.machine()
    results: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    for name, make in PEERS.items():
        try:
            benches = make()
        except ImportError as e:
            missing[name] = f"not installed ({e.name})"
            continue
        for op, fn in benches.items():
            best, median = rate(fn, args.number, args.repeats)
            results.append({"impl": name, "version": version_of(name), "op": op,
                            "per_s": round(best), "median_per_s": round(median)})

    ours = {r["op"]: r["per_s"] for r in results if r["impl"] == "ccswitch"}
    print(f"# RTP/RTCP wire-format benchmark  {info['date']}")
    print(f"# {info['cpu']}, {info['nproc']} cores, {info['implementation']} {info['python']}; "
          f"best of {args.repeats} x {args.number:,} calls (median in brackets); "
          f"RTP packet {len(PACKET)} octets, RTCP compound {len(COMPOUND)} octets")
    print(f"{'implementation':<16} {'operation':<18} {'packets/s':>12} {'(median)':>13} "
          f"{'ccswitch x':>10}")
    for r in sorted(results, key=lambda r: (list(ours).index(r["op"]), r["impl"] != "ccswitch")):
        label = f"{r['impl']} {r['version']}".strip()
        ratio = "" if r["impl"] == "ccswitch" else f"{ours[r['op']] / r['per_s']:.2f}"
        print(f"{label:<16} {r['op']:<18} {r['per_s']:>12,} "
              f"{'(' + format(r['median_per_s'], ',') + ')':>13} {ratio:>10}")
    for name, why in missing.items():
        print(f"# {name}: {why}")
    if args.json:
        doc = {"machine": info, "number": args.number, "repeats": args.repeats,
               "packet_octets": len(PACKET), "rtcp_octets": len(COMPOUND),
               "results": results, "missing": missing}
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
