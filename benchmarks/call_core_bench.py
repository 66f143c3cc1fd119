#!/usr/bin/env python3
"""Signaling CPU per anchored call, in process: the sans-IO core driven by SIPp's call flow.

The messages are those of ``sip_load.py --tests calls`` (SIPp ``uac_call.xml`` and
``uas_answer.xml``): the caller 1001 sends INVITE, gets 407, ACKs it, sends the INVITE again
with a digest, gets 100/180/200, ACKs and sends BYE; the callee 1002 (registered once) answers
the switch's INVITE with 180 and 200 and its BYE with 200.  Media is anchored (a real
``MediaPlan`` over a ``PortPool`` without the socket probe); the media commands are pickled as
the shell pickles them for the worker pipe.  The core's clock advances ``1/--rate`` s per call
and its timer runs every 10 ms of that clock, so the transaction tables fill as they do under
load (Timer J/K keep every transaction 32 s / 5 s).  The collector is paced as the daemon paces
it (automatic collection off, a young pass and ``gc.freeze`` every 0.2 s of that clock).

Only the switch's side is timed (``receive``, ``handle_timer``, draining ``outbox`` /
``media_commands`` / ``events`` / ``next_deadline``, pickling the commands), in CPU time of this
process (a busy machine slows it less than it would wall time); the phones' side is not.
Prints CPU microseconds per call; ``--profile`` adds a cProfile table of the timed part (per
call).

    PYTHONPATH=src python3 benchmarks/call_core_bench.py [--calls 3000] [--rate 200]
        [--profile [N]]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pickle
import pstats
import random
import re
import sys
import time
from pathlib import Path

from ccswitch.call.anchor import MediaPlan, plan_codecs
from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import parse_config
from ccswitch.ids import Ids
from ccswitch.logs import configure_logging
from ccswitch.media.ports import PortPool
from ccswitch.sip.addr import Address
from ccswitch.sip.auth import build_authorization

ROOT = Path(__file__).resolve().parents[1]
SW = "127.0.0.1:5060"
UAC = Address("udp", "127.0.0.1", 5071)
UAS = Address("udp", "127.0.0.1", 5072)

SDP = ("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
       "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\n"
       "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n")
UAS_SDP = ("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
           "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
           "a=rtpmap:0 PCMU/8000\r\n")


def _msg(head: str, body: str = "") -> bytes:
    text = head.strip("\n").replace("\n", "\r\n")
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    return f"{text}\r\n{ctype}Content-Length: {len(body)}\r\n\r\n{body}".encode()


def _hdr(data: bytes, name: str) -> str:
    m = re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)", data, re.I)
    assert m is not None, (name, data[:400])
    return m.group(1).decode()


def _vias(data: bytes) -> list[str]:
    return [v.decode() for v in re.findall(rb"\r\nVia: ([^\r]*)", data, re.I)]


def _status(data: bytes) -> int:
    return int(data[8:11]) if data.startswith(b"SIP/2.0 ") else 0


class Driver:
    """The switch core plus the two SIPp scripts, run one call at a time."""

    def __init__(self, rate: float, seed: int = 1) -> None:
        cfg = parse_config((ROOT / "configs" / "demo.toml").read_text(), "demo.toml")
        rng = random.Random(seed)
        self.plan = MediaPlan(ports=PortPool(20000, 29999), workers=2, local_ip="127.0.0.1",
                              codecs=plan_codecs(cfg.media.codecs, ("pcmu", "pcma")),
                              session_ids=lambda: rng.getrandbits(31))
        self.sig = Signaling(config=cfg, listeners=[Listener("udp", "127.0.0.1", 5060)],
                             ids=Ids(rng), media=self.plan)
        self.now = 0.0
        self.step = 1.0 / rate
        self.next_timer = 0.0
        self.next_gc = 0.0
        self.cpu = 0.0
        self.n = 0
        self.pickled = 0
        self._register()

    # -- the switch's side (timed) ----------------------------------------------------
    def _switch(self, data: bytes, src: Address) -> list[tuple[bytes, Address]]:
        t0 = time.process_time()
        sig = self.sig
        sig.receive(data, src, self.now)
        out = self._after()
        self.cpu += time.process_time() - t0
        return out

    def _after(self) -> list[tuple[bytes, Address]]:
        sig = self.sig
        cmds = sig.media_commands()
        if cmds:
            batches: dict[int, list[object]] = {}
            for w, c in cmds:
                batches.setdefault(w, []).append(c)
            for batch in batches.values():
                self.pickled += len(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
        out = sig.outbox()
        sig.events()
        sig.next_deadline()
        return out

    def _tick(self) -> None:
        self.now += self.step
        if self.now >= self.next_timer:
            t0 = time.process_time()
            self.sig.handle_timer(self.now)
            self._after()
            self.cpu += time.process_time() - t0
            self.next_timer = self.now + 0.01
        if self.now >= self.next_gc:  # the daemon's collector pacing (daemon.tune_gc)
            t0 = time.process_time()
            gc.collect(0)
            gc.freeze()
            self.cpu += time.process_time() - t0
            self.next_gc = self.now + 0.2

    # -- the phones (not timed) -------------------------------------------------------
    def _register(self) -> None:
        head = ("REGISTER sip:127.0.0.1:5060 SIP/2.0\n"
                "Via: SIP/2.0/UDP 127.0.0.1:5072;rport;branch=z9hG4bKreg{n}\n"
                "Max-Forwards: 70\nFrom: <sip:1002@127.0.0.1>;tag=reg\n"
                "To: <sip:1002@127.0.0.1>\nCall-ID: reg-1002\nCSeq: {n} REGISTER\n"
                "Contact: <sip:1002@127.0.0.1:5072>\nExpires: 86400\n{auth}")
        out = self._switch(_msg(head.format(n=1, auth="")), UAS)
        chal = _hdr(out[0][0], "WWW-Authenticate")
        auth = build_authorization(chal, method="REGISTER", uri="sip:127.0.0.1:5060",
                                   user="1002", password="pw1002", cnonce="c0ffee")
        out = self._switch(_msg(head.format(n=2, auth=f"Authorization: {auth}\n")), UAS)
        assert _status(out[0][0]) == 200, out

    def call(self) -> None:
        self.n += 1
        n = self.n
        cid = f"{n}-bench@127.0.0.1"
        ftag = f"1C{n}"
        ruri = f"sip:1002@{SW}"
        base = (f"Max-Forwards: 70\nFrom: <sip:1001@127.0.0.1>;tag={ftag}\n"
                f"To: <sip:1002@127.0.0.1>\nCall-ID: {cid}\n")
        via1 = f"SIP/2.0/UDP 127.0.0.1:5071;rport;branch=z9hG4bK-{n}-1"
        sdp = SDP.format(port=6000 + 2 * (n % 1000))
        inv = (f"INVITE {ruri} SIP/2.0\nVia: {via1}\n{base}CSeq: 1 INVITE\n"
               "Contact: <sip:1001@127.0.0.1:5071>\nUser-Agent: sipp-bench\n")
        out = self._switch(_msg(inv, sdp), UAC)
        r407 = out[-1][0]
        assert _status(r407) == 407, r407[:200]
        to407 = _hdr(r407, "To")
        ack = (f"ACK {ruri} SIP/2.0\nVia: {via1}\nMax-Forwards: 70\n"
               f"From: <sip:1001@127.0.0.1>;tag={ftag}\nTo: {to407}\nCall-ID: {cid}\n"
               "CSeq: 1 ACK\n")
        self._switch(_msg(ack), UAC)
        auth = build_authorization(_hdr(r407, "Proxy-Authenticate"), method="INVITE",
                                   uri=f"sip:1002@{SW}", user="1001", password="pw1001",
                                   cnonce="beef")
        via2 = f"SIP/2.0/UDP 127.0.0.1:5071;rport;branch=z9hG4bK-{n}-2"
        inv2 = (f"INVITE {ruri} SIP/2.0\nVia: {via2}\n{base}CSeq: 2 INVITE\n"
                f"Contact: <sip:1001@127.0.0.1:5071>\nProxy-Authorization: {auth}\n"
                "User-Agent: sipp-bench\n")
        out = self._switch(_msg(inv2, sdp), UAC)
        b_inv = next(d for d, a in out if a.port == UAS.port and d.startswith(b"INVITE"))
        # the callee: 180, then 200 with SDP
        vias = "".join(f"Via: {v}\n" for v in _vias(b_inv))
        b_from, b_to, b_cid = _hdr(b_inv, "From"), _hdr(b_inv, "To"), _hdr(b_inv, "Call-ID")
        b_cseq = _hdr(b_inv, "CSeq")
        common = (f"{vias}From: {b_from}\nTo: {b_to};tag=uas{n}\nCall-ID: {b_cid}\n"
                  f"CSeq: {b_cseq}\nContact: <sip:1002@127.0.0.1:5072>\n")
        self._tick()
        self._switch(_msg(f"SIP/2.0 180 Ringing\n{common}"), UAS)
        out = self._switch(_msg(f"SIP/2.0 200 OK\n{common}", UAS_SDP), UAS)
        a200 = next(d for d, a in out if a.port == UAC.port and _status(d) == 200)
        to200 = _hdr(a200, "To")
        target = re.search(r"<([^>]*)>", _hdr(a200, "Contact"))
        assert target is not None
        # ACK on the switch's side of the B leg arrives at the callee (not answered)
        self._tick()
        ack2 = (f"ACK {target.group(1)} SIP/2.0\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:5071;rport;branch=z9hG4bK-{n}-3\n"
                f"Max-Forwards: 70\nFrom: <sip:1001@127.0.0.1>;tag={ftag}\nTo: {to200}\n"
                f"Call-ID: {cid}\nCSeq: 2 ACK\n")
        self._switch(_msg(ack2), UAC)
        for _ in range(10):  # the 50 ms pause of SIPp's -d
            self._tick()
        bye = (f"BYE {target.group(1)} SIP/2.0\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:5071;rport;branch=z9hG4bK-{n}-4\n"
               f"Max-Forwards: 70\nFrom: <sip:1001@127.0.0.1>;tag={ftag}\nTo: {to200}\n"
               f"Call-ID: {cid}\nCSeq: 3 BYE\n")
        out = self._switch(_msg(bye), UAC)
        b_bye = next(d for d, a in out if a.port == UAS.port and d.startswith(b"BYE"))
        vias = "".join(f"Via: {v}\n" for v in _vias(b_bye))
        ok = (f"SIP/2.0 200 OK\n{vias}From: {_hdr(b_bye, 'From')}\nTo: {_hdr(b_bye, 'To')}\n"
              f"Call-ID: {_hdr(b_bye, 'Call-ID')}\nCSeq: {_hdr(b_bye, 'CSeq')}\n")
        self._switch(_msg(ok), UAS)
        self._tick()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--rate", type=float, default=200.0, help="calls per second of core clock")
    ap.add_argument("--profile", type=int, nargs="?", const=40, default=0, metavar="N",
                    help="print the N costliest functions (cProfile, per call)")
    ap.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumtime)")
    ap.add_argument("--log-level", default="warning",
                    help="as the daemon's --log-level (sip_load.py runs it at warning)")
    args = ap.parse_args(argv)
    try:
        configure_logging("json", args.log_level, cache=True)  # as the daemon does
    except TypeError:  # a version before the daemon cached its loggers
        configure_logging("json", args.log_level)
    d = Driver(args.rate)
    for _ in range(args.warmup):
        d.call()
    gc.collect()
    gc.freeze()
    gc.disable()
    d.cpu, d.pickled = 0.0, 0
    prof = cProfile.Profile() if args.profile else None
    t_wall = time.process_time()
    if prof:
        prof.enable()
    for _ in range(args.calls):
        d.call()
    if prof:
        prof.disable()
    wall = time.process_time() - t_wall
    print(f"{args.calls} calls: switch side {1e6 * d.cpu / args.calls:.0f} us/call "
          f"(whole loop incl. the phones {1e6 * wall / args.calls:.0f} us/call), "
          f"{d.pickled / args.calls:.0f} bytes of media commands pickled per call"
          + ("  [under cProfile]" if prof else ""))
    if prof:
        st = pstats.Stats(prof)
        rows = []
        table = st.stats  # type: ignore[attr-defined]
        for (f, line, name), (_cc, nc, tt, ct, _callers) in table.items():
            short = f.split("site-packages/")[-1].split("src/")[-1]
            key = tt if args.sort == "tottime" else ct
            rows.append((key, tt, ct, nc, f"{short}:{line} {name}"))
        rows.sort(reverse=True)
        print(f"{'self us':>8} {'cum us':>8} {'calls':>7}  function   (per call)")
        for _k, tt, ct, nc, name in rows[:args.profile]:
            print(f"{1e6 * tt / args.calls:8.1f} {1e6 * ct / args.calls:8.1f} "
                  f"{nc / args.calls:7.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
