"""Media helpers for the end-to-end tests: RTP captured on loopback, pcap files, recordings.

* `Capture` runs tcpdump on `lo` for the length of a `with` block; `read_pcap` and `rtp`
  turn a pcap file (tcpdump's, or one of the RTP pcaps Debian's sip-tester ships) into
  UDP datagrams and RTP packets (stdlib only); `pcm` decodes their G.711 audio and
  `write_wav` saves it for the tone analysis.
* `recording_config` writes the demo configuration with `[media] record_calls = true`.
* `channels` splits a multi-channel WAV into mono files for `e2e_audio.spectrum`.
* `recordings` / `cdrs` read the daemon's SQLite store.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import struct
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from e2e_daemon import READY_LIMIT, REPO, Daemon, Progress

from ccswitch.media.g711 import alaw_decode, ulaw_decode
from peers import missing_peer, require_peer

PCAP_DIR = Path("/usr/share/sip-tester")  # Debian's sip-tester: g711a.pcap, dtmf_2833_*.pcap
DTMF_PCAPS = {
    **{str(d): f"dtmf_2833_{d}.pcap" for d in range(10)},
    "*": "dtmf_2833_star.pcap",
    "#": "dtmf_2833_pound.pcap",
}
EVENT_KEYS = "0123456789*#ABCD"  # RFC 4733 event code -> key
_LINK_HEADER = {0: 4, 1: 14, 101: 0, 113: 16, 276: 20}  # NULL, EN10MB, RAW, SLL, SLL2
_RECEIVING = re.compile(r"receiving from (\d+\.\d+\.\d+\.\d+):(\d+)")


# -- pcap and RTP ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Datagram:
    """One IPv4 UDP datagram from a pcap file."""

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


@dataclass(frozen=True, slots=True)
class Rtp:
    """The RTP fields of a datagram (version 2, no CSRC/extension handling beyond skipping)."""

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    pt: int
    marker: bool
    seq: int
    ts: int
    ssrc: int
    payload: bytes

    @property
    def event(self) -> tuple[str, bool, int] | None:
        """(key, end bit, duration) when this is an RFC 4733 event payload, else None."""
        if len(self.payload) < 4 or self.payload[0] >= len(EVENT_KEYS):
            return None
        duration = struct.unpack("!H", self.payload[2:4])[0]
        return EVENT_KEYS[self.payload[0]], bool(self.payload[1] & 0x80), duration


def read_pcap(path: Path) -> list[Datagram]:
    """The IPv4 UDP datagrams of a classic pcap file (micro- or nanosecond stamps)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<"}.get(magic, ">")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    skip = _LINK_HEADER.get(link)
    if skip is None:
        raise ValueError(f"{path}: link type {link} not handled")
    out: list[Datagram] = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(order + "IIII", data[off : off + 16])
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        d = _udp(frame[skip:], sec + frac / (1e9 if nano else 1e6))
        if d is not None:
            out.append(d)
    return out


def _udp(ip: bytes, stamp: float) -> Datagram | None:
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    src_ip, dst_ip = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
    sport, dport, length = struct.unpack("!HHH", ip[ihl : ihl + 6])
    payload = ip[ihl + 8 : ihl + length]
    return Datagram(stamp, (src_ip, sport), (dst_ip, dport), payload)


def rtp(datagrams: list[Datagram]) -> list[Rtp]:
    """The datagrams that parse as RTP version 2 (RTCP, PT 72-76, left out)."""
    out: list[Rtp] = []
    for d in datagrams:
        b = d.payload
        if len(b) < 12 or b[0] >> 6 != 2 or 72 <= (b[1] & 0x7F) <= 76:
            continue
        start = 12 + 4 * (b[0] & 15)
        if b[0] & 0x10 and len(b) >= start + 4:
            start += 4 + 4 * struct.unpack("!H", b[start + 2 : start + 4])[0]
        end = len(b) - (b[-1] if b[0] & 0x20 and b[-1] else 0)
        seq, ts, ssrc = struct.unpack("!HII", b[2:12])
        out.append(Rtp(d.time, d.src, d.dst, b[1] & 0x7F, bool(b[1] & 0x80), seq, ts, ssrc,
                       b[start:end]))  # fmt: skip
    return out


def events(packets: list[Rtp], pt: int) -> list[str]:
    """The RFC 4733 keys in `packets` of payload type `pt`, one per event (by timestamp)."""
    keys: list[str] = []
    seen: set[tuple[int, int]] = set()
    for p in packets:
        ev = p.event if p.pt == pt else None
        if ev is not None and (p.ssrc, p.ts) not in seen:
            seen.add((p.ssrc, p.ts))
            keys.append(ev[0])
    return keys


def pcm(packets: list[Rtp]) -> np.ndarray:
    """The G.711 audio of `packets` (PCMU, payload type 0, and PCMA, 8; others left out)
    decoded to int16 samples, one packet after the other as captured."""
    parts = [
        ulaw_decode(p.payload) if p.pt == 0 else alaw_decode(p.payload)
        for p in packets
        if p.pt in (0, 8)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def write_wav(path: Path, samples: np.ndarray, *, rate: int = 8000) -> Path:
    """A mono 16-bit WAV of `samples` (for `e2e_tones.presence`)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def pcap_path(name: str) -> Path:
    return PCAP_DIR / name


def missing_pcaps(names: list[str]) -> list[str]:
    return [n for n in names if not (PCAP_DIR / n).is_file()]


# -- capture on loopback -----------------------------------------------------------------
def raw_sockets_reason() -> str | None:
    """Why SIPp's play_pcap_audio and tcpdump cannot run here (raw sockets), or None."""
    if os.geteuid() != 0:
        return "needs root (raw sockets: SIPp play_pcap_audio and tcpdump on lo)"
    return None


def require_capture() -> None:
    """In a test or fixture: fail (as root) or skip unless `Capture` can run (`peers`)."""
    require_peer("tcpdump")
    reason = raw_sockets_reason()
    if reason is not None:
        missing_peer(reason)


class Capture:
    """tcpdump on `lo` with a BPF `filter` while the `with` block runs; `.rtp()` after.

    Immediate mode: without it libpcap hands packets over a ring block at a time (or after
    its timeout), and the packets of the last block are lost when tcpdump is interrupted.
    """

    def __init__(self, path: Path, bpf: str):
        self.path = path
        self.bpf = bpf
        self._log = path.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Capture:
        binary = shutil.which("tcpdump")
        assert binary is not None, "tcpdump not installed"
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "0",
                 "-w", str(self.path), self.bpf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 5.0
        while "listening on" not in self._log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tcpdump did not start: {self._log.read_text()}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGINT to our tcpdump (it flushes the file), SIGKILL after 3 s."""
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(0.2)  # the last packets of the call
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rtp(self) -> list[Rtp]:
        return rtp(read_pcap(self.path)) if self.path.exists() else []


def settle(daemon: Daemon, timeout: float = 8.0, limit: float = READY_LIMIT) -> Daemon:
    """Wait until every media worker the daemon spawned has started and no `overload` is
    pending: on a busy machine the lag of its own start-up makes the daemon shed new
    requests with 503 for a while after `ready`.  Like the readiness wait (e2e_daemon
    `Progress`), it gives up when the daemon exits, after `timeout` s without progress, or
    after `limit` s in all."""
    progress = Progress(daemon.proc, daemon.log)

    def count(name: str) -> int:
        return sum(1 for e in daemon.log.events() if e.get("event") == name)

    while True:
        names = [e.get("event") for e in daemon.log.events()]
        marks = [n for n in names if n in ("overload", "overload_cleared")]
        spawned = count("media_worker_spawned")
        if spawned and count("media_worker_started") >= spawned and marks[-1:] != ["overload"]:
            return daemon
        why = progress.stuck(timeout, limit)
        if why is not None:
            raise AssertionError(f"daemon not settled: {why}\n{daemon.tail()}")
        time.sleep(0.05)


def rtp_ports(daemon: Daemon) -> tuple[int, int]:
    """The daemon's RTP port range, from its --rtp-ports argument."""
    lo, hi = daemon.args[daemon.args.index("--rtp-ports") + 1].split("-")
    return int(lo), int(hi)


def baresip_rtp_sources(log: Path) -> list[tuple[str, int]]:
    """The addresses a baresip phone logged receiving RTP from ("receiving from IP:PORT")."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [(ip, int(port)) for ip, port in _RECEIVING.findall(text)]


def sdp_audio(body: str) -> tuple[str, int] | None:
    """(connection address, audio port) of an SDP body, or None."""
    c = re.search(r"^c=IN IP4 (\S+)", body, re.MULTILINE)
    m = re.search(r"^m=audio (\d+) ", body, re.MULTILINE)
    return (c.group(1), int(m.group(1))) if c and m else None


# -- daemon configuration and store ------------------------------------------------------
def recording_config(path: Path) -> Path:
    """The demo configuration with `[media] record_calls = true`, written to `path`."""
    text = (REPO / "configs" / "demo.toml").read_text()
    new, n = re.subn(r"(?m)^record_calls\s*=\s*false", "record_calls = true", text)
    assert n == 1, "configs/demo.toml has no `record_calls = false` line to turn on"
    path.write_text(new)
    return path


def query(data_dir: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` on DATA_DIR/ccswitch.db, as dicts."""
    db = sqlite3.connect(str(data_dir / "ccswitch.db"), timeout=5.0)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


# -- WAV files ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WavInfo:
    channels: int
    rate: int
    sample_bits: int
    seconds: float


def wav_info(path: Path) -> WavInfo:
    with wave.open(str(path), "rb") as w:
        return WavInfo(w.getnchannels(), w.getframerate(), 8 * w.getsampwidth(),
                       w.getnframes() / w.getframerate())  # fmt: skip


def channels(path: Path, outdir: Path) -> list[Path]:
    """One mono WAV per channel of `path` (16-bit), written under `outdir`."""
    with wave.open(str(path), "rb") as w:
        n, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        frames = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples, expected 16")
    samples = memoryview(frames).cast("h")
    out: list[Path] = []
    outdir.mkdir(parents=True, exist_ok=True)
    for ch in range(n):
        mono = outdir / f"{path.stem}-ch{ch + 1}.wav"
        with wave.open(str(mono), "wb") as m:
            m.setnchannels(1)
            m.setsampwidth(2)
            m.setframerate(rate)
            m.writeframes(samples[ch::n].tobytes())
        out.append(mono)
    return out
