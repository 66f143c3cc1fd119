"""Per-leg state of the media engine, pure: the negotiated stream, latching, the outgoing
stream's numbering, receive statistics, the jitter buffer, DTMF in and out, RTCP reports.

Outgoing numbering: each leg sends with its own SSRC and its own sequence counter (+1 per
packet, whatever it sends: relayed audio, mixed frames, telephone events).  Timestamps stay
continuous when what feeds the leg changes: ``next_ts(now)`` is the last timestamp sent plus
the time elapsed since (at least one frame), a relayed source gets the offset that lands its
next packet there, and the first packet after such a switch carries the marker bit.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np
from numpy.typing import NDArray

from .commands import ConfigureLeg, Digit
from .dtmf import DtmfBegin, DtmfDigit, DtmfError, DtmfEventReceiver, DtmfEventSender
from .jitter import JitterBuffer
from .mixer import FrameCodec, is_g711, rtp_clock
from .player import Player
from .rtcp import (
    ReceiverReport,
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_rtcp,
    ntp_from_unix,
    report_block,
)
from .rtp import RtpReceiveStats

__all__ = ["MODE_MIX", "MODE_NONE", "MODE_RELAY", "SILENCE_CODE", "Leg", "SlotPool"]

RATE = 8000
U32 = 0xFFFFFFFF
HDR = struct.Struct("!BBHII")
SILENCE_CODE = {"PCMU": 0xFF, "PCMA": 0xD5}
DTMF_ECHO_WINDOW = 0.2
"""A digit of the other method and the same key within this many seconds is the same press."""
DTMF_GAP = 0.05
"""Pause between two digits sent on one leg."""

MODE_NONE, MODE_RELAY, MODE_MIX = 0, 1, 2
_NO_PCM: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
_NO_PCM.flags.writeable = False


def _address(ip: str | None, port: int) -> tuple[str, int] | None:
    if ip is None or ip in ("", "0.0.0.0", "::") or not 0 < port < 65536:
        return None
    return (ip, port)


class SlotPool:
    """Small integer slots from ``first`` up, reused lowest-first after release."""

    __slots__ = ("_free", "_next")

    def __init__(self, first: int = 0) -> None:
        self._free: list[int] = []
        self._next = first

    def take(self) -> int:
        if self._free:
            self._free.sort(reverse=True)
            return self._free.pop()
        self._next += 1
        return self._next - 1

    def give(self, slot: int) -> None:
        self._free.append(slot)

    @property
    def high(self) -> int:
        """One past the highest slot ever handed out."""
        return self._next


class Leg:
    """Everything the engine keeps about one leg (the engine reads and writes the fields)."""

    __slots__ = (
        "alaw", "clock", "codec", "configured", "dest", "det_slot", "detect", "dropped",
        "dtmf_busy", "dtmf_rx", "dtmf_tx", "events_in", "g711", "id", "ignored", "in_spf",
        "inband", "invalid",
        "jb", "jb_late", "jb_skew", "last_audio_ts", "last_inband", "last_rfc", "last_time",
        "last_ts", "latched", "lost_run", "marker_next", "mode", "octets", "pcm_pending", "peer",
        "pending", "player", "port", "pt", "ptime_ms", "recv", "relay_sinks", "relay_src",
        "relay_ssrc", "remote", "rtcp_in", "rtcp_latched", "rtcp_next", "rtcp_remote",
        "rtcp_sent_mark", "rtt", "rx_packets", "rx_ref", "rx_ssrc", "send", "sent", "seq", "seq0",
        "slot", "ssrc", "stats", "te_map", "te_pt", "te_sinks", "tick_ratio", "timed_out",
        "timeout", "ts0", "ts_off",
    )

    def __init__(self, leg: int, port: int, *, ssrc: int, seq: int, ts: int,
                 timeout: float) -> None:
        self.id = leg
        self.port = port
        self.configured = False
        self.codec: str | None = None
        self.alaw = False
        self.g711 = True
        self.clock = RATE  # RTP ticks a second (48000 for Opus)
        self.tick_ratio = 1  # RTP ticks per 8 kHz sample
        self.pt: int | None = None
        self.te_pt: int | None = None
        self.ptime_ms = 20
        self.in_spf = 160
        self.send = True
        self.recv = True
        self.remote: tuple[str, int] | None = None
        self.rtcp_remote: tuple[str, int] | None = None
        self.latched: tuple[str, int] | None = None
        self.rtcp_latched: tuple[str, int] | None = None
        self.dest: tuple[str, int] | None = None
        self.rx_packets = self.dropped = self.invalid = self.ignored = self.rtcp_in = 0
        self.rx_ssrc: int | None = None
        self.stats = RtpReceiveStats(clock_rate=RATE)
        self.jb: JitterBuffer | None = None
        self.jb_late = 0
        self.jb_skew = 0
        self.last_audio_ts: int | None = None
        self.lost_run = 0
        self.pending = bytearray()
        self.pcm_pending: NDArray[np.int16] = _NO_PCM
        self.ssrc = ssrc & U32
        self.seq = self.seq0 = seq & 0xFFFF
        self.ts0 = ts & U32
        self.last_ts = self.ts0
        self.last_time: float | None = None
        self.marker_next = True
        self.sent = self.octets = 0
        self.relay_src: Leg | None = None
        self.relay_ssrc: int | None = None
        self.ts_off = 0
        self.te_map: tuple[int, int] | None = None
        self.mode = MODE_NONE
        self.slot = 0
        self.det_slot = -1
        self.relay_sinks: list[Leg] = []
        self.te_sinks: list[Leg] = []
        self.events_in = True  # RFC 4733 events of its sources are passed on (RelayEvents)
        self.timeout = timeout
        self.rx_ref: float | None = None
        self.timed_out = False
        self.detect = False
        self.inband = False
        self.dtmf_rx: DtmfEventReceiver | None = None
        self.dtmf_tx: deque[tuple[float, int, bool, bytes]] = deque()
        self.dtmf_busy = 0.0
        self.last_rfc: tuple[str, float] | None = None
        self.last_inband: tuple[str, float] | None = None
        self.player: Player | None = None
        self.rtcp_next: float | None = None
        self.rtcp_sent_mark = 0
        self.rtt: float | None = None
        self.peer: tuple[int, int, float] | None = None  # (lost, expected, jitter s) reported

    def peer_report(self, block: ReportBlock) -> None:
        """The peer's report block about our stream: its cumulative loss out of the packets
        we sent up to its highest sequence number, and its jitter (RFC 3550 §6.4.1)."""
        expected = (block.highest_seq - self.seq0) & U32
        if not 0 < expected <= self.sent:  # before our first packet, or another base
            expected = self.sent
        self.peer = (max(0, block.cumulative_lost), expected, block.jitter / self.clock)

    # ------------------------------------------------------------------ configuration

    def configure(self, cmd: ConfigureLeg, now: float) -> None:
        """Apply a (re-)negotiated stream; a new remote address clears the latches."""
        remote = _address(cmd.remote_ip, cmd.remote_port)
        if remote != self.remote:
            self.latched = self.rtcp_latched = None
        self.remote = remote
        self.rtcp_remote = _address(cmd.remote_ip, cmd.remote_rtcp_port)
        was_receiving = self.configured and self.recv
        clock = rtp_clock(cmd.codec)
        if cmd.ptime_ms != self.ptime_ms or cmd.codec != self.codec:
            self.drop_jitter_buffer()  # the engine makes a new one for the new packets
        if clock != self.clock:
            self.stats = RtpReceiveStats(clock_rate=clock)
            if self.dtmf_rx is not None:  # telephone-event runs on the audio's clock
                self.dtmf_rx = DtmfEventReceiver(clock_rate=clock)
        self.codec = cmd.codec
        self.alaw = cmd.codec == "PCMA"
        self.g711 = is_g711(cmd.codec)
        self.clock = clock
        self.tick_ratio = clock // RATE
        self.pt = cmd.pt
        self.te_pt = cmd.te_pt
        self.ptime_ms = cmd.ptime_ms
        self.in_spf = clock * cmd.ptime_ms // 1000
        self.send = cmd.send
        self.recv = cmd.recv
        self.configured = True
        if self.recv and not was_receiving:
            self.rx_ref = now
            self.timed_out = False
        self.update_dest()

    def update_dest(self) -> None:
        """Where RTP goes: nowhere unless sending to an address, then the latched source if
        any, else the address the SDP gave."""
        if not self.send or self.remote is None:
            self.dest = None
        else:
            self.dest = self.latched if self.latched is not None else self.remote

    def rtcp_dest(self) -> tuple[str, int] | None:
        if self.remote is None:
            return None
        return self.rtcp_latched if self.rtcp_latched is not None else self.rtcp_remote

    def latch(self, src: tuple[str, int]) -> None:
        self.latched = src
        self.update_dest()

    def new_jitter_buffer(self, depth: float) -> None:
        ptime = self.ptime_ms / 1000.0
        self.jb = JitterBuffer(clock_rate=self.clock, ptime=ptime, depth=depth,
                               max_depth=max(0.2, 2 * depth, 2 * ptime))
        self.pending.clear()
        self.pcm_pending = _NO_PCM
        self.lost_run = 0
        self.jb_skew = 0
        self.last_audio_ts = None

    def drop_jitter_buffer(self) -> None:
        if self.jb is not None:
            self.jb_late += self.jb.stats["late"]
            self.jb = None

    # ------------------------------------------------------------------ receive side

    def pull(self, now: float, spf: int) -> bytes | None:
        """The next ``spf`` codes played out of the jitter buffer, or None: nothing (then
        ``lost_run`` > 0 means the frame was lost, to be concealed)."""
        jb = self.jb
        if jb is None:
            return None
        if not self.pending and self.in_spf == spf:
            f = jb.pop(now)
            if f.kind == "audio":
                assert f.payload is not None
                if len(f.payload) == spf:
                    self.lost_run = 0
                    return f.payload
                self.pending += f.payload
            elif f.kind == "lost":
                self.lost_run += 1
                return None
            else:
                self.lost_run = 0
                return None
        return self._pull_any(now, spf)

    def _pull_any(self, now: float, spf: int) -> bytes | None:
        """Packets of another size than the frame: fill from as many as it takes."""
        jb = self.jb
        assert jb is not None
        buf = self.pending
        silence = bytes((SILENCE_CODE.get(self.codec or "PCMU", 0xFF),))
        while len(buf) < spf:
            f = jb.pop(now)
            if f.kind == "empty":
                break
            buf += f.payload if f.payload is not None else silence * self.in_spf
        self.lost_run = 0
        if not buf:
            return None
        if len(buf) < spf:
            buf += silence * (spf - len(buf))
        out = bytes(buf[:spf])
        del buf[:spf]
        return out

    def pull_pcm(self, now: float, spf: int, codec: FrameCodec | None) -> NDArray[np.int16] | None:
        """``pull`` for a codec the engine does not decode itself: the next ``spf`` samples
        at 8 kHz, decoded by ``codec`` (silence without one), or None like ``pull``."""
        jb = self.jb
        if jb is None:
            return None
        buf = self.pcm_pending
        per_packet = RATE * self.ptime_ms // 1000
        parts = [buf]
        have = len(buf)
        name = self.codec or ""
        usable = codec is not None and codec.supports(name)
        while have < spf:
            f = jb.pop(now)
            if f.kind == "empty" or (f.kind == "lost" and have == 0):
                if have == 0:
                    self.lost_run = self.lost_run + 1 if f.kind == "lost" else 0
                    return None
                break
            if f.kind == "audio" and f.payload and usable:
                assert codec is not None
                pcm = codec.decode(self.id, name, f.payload)
            else:  # lost after some audio, a telephone-event slot, or no codec
                pcm = np.zeros(per_packet, dtype=np.int16)
            parts.append(pcm)
            have += len(pcm)
        self.lost_run = 0
        joined = np.concatenate(parts) if len(parts) > 1 else buf
        if len(joined) < spf:
            joined = np.concatenate([joined, np.zeros(spf - len(joined), dtype=np.int16)])
        self.pcm_pending = joined[spf:]
        out: NDArray[np.int16] = joined[:spf]
        return out

    def event_slot(self, seq: int, ts: int) -> int | None:
        """The jitter-buffer sequence number for a telephone-event packet, to fill with
        silence, or None to leave it out.

        Most phones mute their audio while they send events: the event packets then take
        the audio's place in the sequence and stand for 20 ms of silence each.  A phone that
        keeps sending audio (the tone, audible) interleaves the two: once an audio packet at
        or after the event's timestamp has been seen, event packets are left out and the
        audio is renumbered without them (``jb_skew``), so it plays out unbroken.
        """
        last = self.last_audio_ts
        if last is not None and (last - ts) & U32 < 0x80000000:
            self.jb_skew += 1
            return None
        return (seq - self.jb_skew) & 0xFFFF

    def new_stream(self, ssrc: int, now: float) -> None:
        """The remote changed SSRC: restart playout and DTMF state."""
        self.rx_ssrc = ssrc
        self.jb_skew = 0
        self.last_audio_ts = None
        if self.jb is not None:
            self.jb.reset()
            self.pending.clear()
            self.pcm_pending = _NO_PCM
        if self.dtmf_rx is not None:
            self.dtmf_rx.reset(now)

    # ------------------------------------------------------------------ send side

    def next_ts(self, now: float, spf: int = 160) -> int:
        """The timestamp of a packet sent at ``now`` that continues the stream, at least
        ``spf`` samples (at 8 kHz) after the last one."""
        if self.last_time is None:
            return self.ts0
        step = max(spf * self.tick_ratio, round((now - self.last_time) * self.clock))
        return (self.last_ts + step) & U32

    def switch_relay(self, src: Leg, ssrc: int, ts: int, now: float) -> None:
        """Relay from ``src`` (stream ``ssrc``) from now on, its ``ts`` landing at
        ``next_ts(now)``; marker on the next packet."""
        self.ts_off = self.next_ts(now) - ts
        self.relay_src = src
        self.relay_ssrc = ssrc
        self.marker_next = True

    def audio_packet(self, payload: bytes, now: float, spf: int) -> bytes:
        """An RTP packet of ``payload`` in this leg's stream (a mixed or played frame)."""
        assert self.pt is not None
        ts = self.next_ts(now, spf)
        b1 = self.pt
        if self.marker_next:
            b1 |= 0x80
            self.marker_next = False
        self.seq = seq = (self.seq + 1) & 0xFFFF
        self.last_ts = ts
        self.last_time = now
        self.sent += 1
        self.octets += len(payload)
        return HDR.pack(0x80, b1, seq, ts, self.ssrc) + payload

    def event_packet(self, ts: int, marker: bool, payload: bytes) -> bytes | None:
        """A telephone-event packet in this leg's stream (None without a te_pt)."""
        if self.te_pt is None:
            return None
        self.seq = seq = (self.seq + 1) & 0xFFFF
        self.sent += 1
        self.octets += len(payload)
        return HDR.pack(0x80, self.te_pt | (0x80 if marker else 0), seq, ts & U32,
                        self.ssrc) + payload

    def forward_event(self, ts: int, marker: bool, payload: bytes, now: float) -> bytes | None:
        """A telephone event from a decoded source, mapped onto this leg's timeline (one
        timestamp per event: the source's event timestamp maps to ``next_ts`` once)."""
        if self.te_map is None or self.te_map[0] != ts:
            self.te_map = (ts, self.next_ts(now))
        return self.event_packet(self.te_map[1], marker, payload)

    # ------------------------------------------------------------------ DTMF

    def start_detect(self, inband: bool) -> None:
        self.detect = True
        self.inband = inband
        if self.dtmf_rx is None:
            self.dtmf_rx = DtmfEventReceiver(clock_rate=self.clock)

    def rfc_events(self, now: float) -> list[Digit]:
        """Digits from the RFC 4733 receiver's new events (one stream with in-band)."""
        rx = self.dtmf_rx
        assert rx is not None
        out: list[Digit] = []
        for ev in rx.events():
            if isinstance(ev, DtmfBegin):
                self.last_rfc = (ev.key, ev.at)
            elif isinstance(ev, DtmfDigit):
                self.last_rfc = (ev.key, now)
                ib = self.last_inband
                if ib is not None and ib[0] == ev.key and \
                        abs(ev.started - ib[1]) <= DTMF_ECHO_WINDOW:
                    continue  # heard in-band first: the same press
                out.append(Digit(self.id, ev.key, "rfc4733", round(ev.duration_ms)))
        return out

    def inband_digit(self, key: str, now: float) -> Digit | None:
        """An in-band detection, unless RFC 4733 reports the same press."""
        rx = self.dtmf_rx
        if rx is not None and rx.pressed == key:
            return None
        rfc = self.last_rfc
        if rfc is not None and rfc[0] == key and now - rfc[1] <= DTMF_ECHO_WINDOW:
            return None
        self.last_inband = (key, now)
        return Digit(self.id, key, "inband", None)

    def queue_digit(self, key: str, duration_ms: int, now: float, spf: int) -> bool:
        """Schedule the RFC 4733 packets of one key press after any still being sent."""
        if self.te_pt is None:
            return False
        start = max(now, self.dtmf_busy)
        ts = (self.next_ts(now, spf) + round((start - now) * self.clock)) & U32
        try:
            packets = DtmfEventSender(clock_rate=self.clock).packets(key, timestamp=ts,
                                                duration=max(duration_ms, 10) / 1000.0)
        except (DtmfError, ValueError):
            return False
        for p in packets:
            self.dtmf_tx.append((start + p.offset - packets[0].offset, p.timestamp, p.marker,
                                 p.payload))
        self.dtmf_busy = start + packets[-1].offset + DTMF_GAP
        return True

    # ------------------------------------------------------------------ RTCP

    def rtcp_report(self, now: float, wall_offset: float) -> bytes:
        """SR (if we sent RTP since the last report) or RR, plus SDES CNAME."""
        snap = self.stats.report()
        blocks = (report_block(snap, now=now),) if snap.ssrc is not None else ()
        first: SenderReport | ReceiverReport
        if self.sent > self.rtcp_sent_mark and self.last_time is not None:
            msw, lsw = ntp_from_unix(now + wall_offset)
            rtp_ts = (self.last_ts + round((now - self.last_time) * self.clock)) & U32
            first = SenderReport(ssrc=self.ssrc, ntp_msw=msw, ntp_lsw=lsw, rtp_timestamp=rtp_ts,
                                 packet_count=self.sent & U32, octet_count=self.octets & U32,
                                 reports=blocks)
        else:
            first = ReceiverReport(ssrc=self.ssrc, reports=blocks)
        self.rtcp_sent_mark = self.sent
        sdes = SourceDescription((SdesChunk.with_cname(self.ssrc, f"ccswitch-{self.ssrc:08x}"),))
        return build_rtcp((first, sdes))
