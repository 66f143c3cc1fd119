#!/usr/bin/env python3
"""SIP parser throughput: ccswitch against other Python SIP parsers, in the same run.

For a typical INVITE with an SDP body and a 200 OK to it, measures messages per second for:

* ``parse``      - turning bytes into the library's message object;
* ``parse+read`` - the same plus reading what a switch reads on every message: Call-ID, CSeq,
  the top Via's branch, the From tag and the To tag (ccswitch parses headers lazily, so
  ``parse`` alone flatters it; this row is the fair one).

Peers: pyVoIP (``pyVoIP.SIP.SIPMessage``, which parses every header and the SDP eagerly) and,
when installed, aiosipua (``aiosipua.message.SipMessage``, lazy typed accessors).  A peer that
is not installed is reported as missing, never silently dropped.

Timing: ``time.perf_counter``, a warm-up pass, then the best of ``--repeats`` runs of
``--number`` parses each (best-of is the usual estimator for "what the code costs" on a shared
machine; the median is printed too).

    PYTHONPATH=src python3 benchmarks/parser_bench.py [--number N] [--repeats R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

INVITE = (
    b"INVITE sip:1002@ccswitch.local SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;rport;branch=z9hG4bK776asdhds-4f1a\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice 1001" <sip:1001@ccswitch.local>;tag=1928301774\r\n'
    b"To: <sip:1002@ccswitch.local>\r\n"
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:1001@192.0.2.10:5062;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: softphone/4.2\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: {cl}\r\n"
    b"\r\n"
)
SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;rport=5062;received=192.0.2.10"
    b";branch=z9hG4bK776asdhds-4f1a\r\n"
    b'From: "Alice 1001" <sip:1001@ccswitch.local>;tag=1928301774\r\n'
    b"To: <sip:1002@ccswitch.local>;tag=a6c85cf\r\n"
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:1002@192.0.2.20:5064>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    b"Server: ccswitch\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: {cl}\r\n"
    b"\r\n"
)


def with_body(head: bytes, body: bytes) -> bytes:
    return head.replace(b"{cl}", str(len(body)).encode()) + body


MESSAGES = {
    "INVITE": with_body(INVITE, SDP),
    "200 OK": with_body(OK, SDP.replace(b"alice", b"bob")),
}


# -- the parsers under test: name -> (parse, parse+read) -------------------------------

Bench = Callable[[bytes], object]


def ccswitch_benches() -> tuple[Bench, Bench]:
    from ccswitch.sip.message import parse_message

    def read(data: bytes) -> object:
        m = parse_message(data)
        return (m.call_id, m.cseq, m.top_via.branch, m.from_.tag, m.to.tag)

    return parse_message, read


def pyvoip_benches() -> tuple[Bench, Bench]:
    import pyVoIP.VoIP  # noqa: F401  (pyVoIP.SIP has a circular import that this resolves)
    from pyVoIP.SIP import SIPMessage

    def read(data: bytes) -> object:
        m = SIPMessage(data)
        h = m.headers
        return (h["Call-ID"], h["CSeq"], h["Via"][0]["branch"], h["From"]["tag"], h["To"]["tag"])

    return SIPMessage, read


def aiosipua_benches() -> tuple[Bench, Bench]:
    from aiosipua.message import SipMessage

    def read(data: bytes) -> object:
        m = SipMessage.parse(data)
        f, t = m.from_addr, m.to_addr
        assert f is not None and t is not None
        return (m.call_id, m.cseq, m.via[0].params.get("branch"), f.params.get("tag"),
                t.params.get("tag"))

    return SipMessage.parse, read


PARSERS: dict[str, Callable[[], tuple[Bench, Bench]]] = {
    "ccswitch": ccswitch_benches,
    "pyVoIP": pyvoip_benches,
    "aiosipua": aiosipua_benches,
}


def version_of(name: str) -> str:
    from importlib import metadata

    dist = {"ccswitch": "ccswitch", "pyVoIP": "pyVoIP", "aiosipua": "aiosipua"}[name]
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "source tree" if name == "ccswitch" else "?"


# -- timing ------------------------------------------------------------------------------

def rate(fn: Bench, data: bytes, number: int, repeats: int) -> tuple[float, float]:
    """Best and median messages/s for ``fn(data)``."""
    return benchutil.best_rate(lambda: fn(data), number, repeats, min(number, 2000))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--number", type=int, default=20000, help="parses per timed run")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' = stdout)")
    args = ap.parse_args(argv)

    info = benchutil.machine()
    results: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    for name, make in PARSERS.items():
        try:
            parse, read = make()
        except ImportError as e:
            missing[name] = f"not installed ({e.name})"
            continue
        for msg_name, data in MESSAGES.items():
            try:
                read(data)  # the peer must understand the message at all
            except Exception as e:  # a peer's failure is a result, not a crash
                missing[f"{name} {msg_name}"] = f"{type(e).__name__}: {e}"
                continue
            for mode, fn in (("parse", parse), ("parse+read", read)):
                best, median = rate(fn, data, args.number, args.repeats)
                results.append({"parser": name, "version": version_of(name),
                                "message": msg_name, "mode": mode, "msgs_per_s": round(best),
                                "median_msgs_per_s": round(median)})

    def get(parser: str, msg: str, mode: str) -> float | None:
        for r in results:
            if (r["parser"], r["message"], r["mode"]) == (parser, msg, mode):
                return float(r["msgs_per_s"])
        return None

    for r in results:
        ours = get("ccswitch", r["message"], r["mode"])
        r["ccswitch_ratio"] = round(ours / r["msgs_per_s"], 2) if ours else None

    print(f"# SIP parser benchmark  {info['date']}")
    print(f"# {info['cpu']}, {info['nproc']} cores, {info['implementation']} {info['python']}; "
          f"best of {args.repeats} x {args.number} parses (median in brackets)")
    print(f"{'parser':<22} {'message':<8} {'mode':<11} {'msgs/s':>10} {'(median)':>10} "
          f"{'ccswitch x':>10}")
    for r in results:
        label = f"{r['parser']} {r['version']}"
        print(f"{label:<22} {r['message']:<8} {r['mode']:<11} {r['msgs_per_s']:>10,} "
              f"{'(' + format(r['median_msgs_per_s'], ',') + ')':>10} "
              f"{r['ccswitch_ratio'] if r['parser'] != 'ccswitch' else '':>10}")
    for name, why in missing.items():
        print(f"# {name}: {why}")

    inv_read = get("ccswitch", "INVITE", "parse+read")
    pv_read = get("pyVoIP", "INVITE", "parse+read")
    targets = {
        "invite_parse_read_ge_60000": inv_read is not None and inv_read >= 60000,
        "invite_ge_4x_pyvoip": bool(inv_read and pv_read and inv_read >= 4 * pv_read),
    }
    print(f"# targets: INVITE parse+read >= 60,000/s: {targets['invite_parse_read_ge_60000']}; "
          f">= 4x pyVoIP: {targets['invite_ge_4x_pyvoip']}")
    if args.json:
        doc = {"machine": info, "number": args.number, "repeats": args.repeats,
               "results": results, "missing": missing, "targets": targets}
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
