"""The media engine of one worker, pure and sans-IO: RTP in, commands in, RTP/events out.

The worker shell binds the sockets and moves bytes; everything else is here::

    eng = MediaEngine(frame_ms=20, rtp_timeout=30.0, jitter_depth=0.06, ssrc_source=ids.ssrc)
    eng.add_leg(leg, port)                  # after binding (emits LegReady); remove_leg(leg)
    eng.command(cmd, now)                   # every other command of media.commands
    eng.receive(leg, data, src, now)        # one datagram from the leg's RTP socket
    eng.receive_rtcp(leg, data, src, now)   # one datagram from its RTCP socket
    eng.tick(now)                           # every tick (~10 ms): frames on the 20 ms clock
    eng.outbox() / eng.rtcp_outbox()        # [(from leg, datagram, (ip, port))]
    eng.events()                            # [MediaEvent]
    eng.recorded()                          # [(rec_id, int16 (samples, channels) | None)]

**Relay** (``receive``): a sink fed by exactly one same-codec source at gain 1, without player
or bus, gets each packet at once with its header rewritten (own SSRC, own sequence counter,
source timestamp + an offset chosen at each switch so the stream stays continuous, marker on
a switch, payload types mapped, CSRCs and extension dropped).  Duplicates are not relayed.

**Frames** (``tick``): every ``frame_ms`` on the engine's own clock (a late tick catches up at
most ``max_catchup`` frames, then skips): the jitter buffers of every leg whose audio is needed
are played out, G.711-decoded into one ``(slots, samples)`` array, checked for in-band DTMF in
one detector call, copied to the recordings, mixed for every mixed sink (edges, buses minus
self, players), saturated, encoded and packetized.

**Recordings**: ``recorded()`` gives ``(rec_id, chunk)`` with chunk an int16 array of shape
``(frames * samples_per_frame, channels)``, about every half second (a channel per recorded
leg, and one for the mix of the recorded bus, if any); after ``StopRecord`` the
last chunk is followed by ``(rec_id, None)``: nothing more comes for it and the writer may close
the file and report ``RecordDone`` (the engine itself never emits ``RecordDone``).

**Codecs**: G.711 is decoded and encoded here by table; G.722 and Opus legs need the
``codecs`` object the worker shell injects (``media.mixer.FrameCodec``, PyAV there).  Relay
never needs it: two legs of the same codec are relayed whatever the codec.

Changes of the graph (connect, bus, play, record, detect, configure) take effect at the next
``receive`` or ``tick``, which recompile the plan once for any number of commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray

from .commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    Detect,
    Disconnect,
    JoinBus,
    LeaveBus,
    LegReady,
    LegStats,
    MediaEvent,
    PauseRecord,
    Play,
    PlayDone,
    PlayFile,
    PlaySamples,
    RecordPauseMark,
    RelayEvents,
    ResumeRecord,
    RtpTimeout,
    SendDigit,
    SetTimeout,
    Shutdown,
    StartRecord,
    StopPlay,
    StopRecord,
)
from .dtmf import DtmfError
from .leg import HDR, MODE_MIX, MODE_NONE, MODE_RELAY, Leg, SlotPool
from .mixer import FrameCodec, MixGraph, MixPlan, encode_rows, saturate
from .player import Player, PlayerError, samples_of, tone_spec
from .recording import Chunk, Recorder, Recording
from .rtcp import ReceiverReport, RtcpError, SenderReport, parse_rtcp, round_trip_time
from .rtp import RtpError, SeqVerdict, is_rtcp, parse_rtp, rtp_header_fields
from .stream import FrameBank

__all__ = ["Datagram", "EngineStats", "MediaEngine"]

log = structlog.get_logger(__name__)

Datagram = tuple[int, bytes, tuple[str, int]]
"""(the leg whose socket sends it, the datagram, the destination)."""

_DUPLICATE = SeqVerdict.DUPLICATE
_U32 = 0xFFFFFFFF
_SWEEP = 0.1  # seconds between RTP-timeout and RTCP checks
_MAX_PAD_FRAMES = 500  # silence written to recordings for skipped frames, at most


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters since the engine started (the shell's ``WorkerStats``)."""

    legs: int
    packets_in: int
    packets_out: int
    dropped: int  # invalid, unknown leg, wrong source, on hold, unknown payload type
    rtcp_in: int
    rtcp_out: int
    frames: int
    frames_late: int  # frames produced by catching up after a late tick
    frames_skipped: int  # frames not produced at all (the tick was too late)
    compiles: int


@dataclass(slots=True)
class _Plan:
    """What the frame loop needs, compiled from the graph and the legs."""

    dec_legs: list[Leg]
    dec_slots: NDArray[np.intp]
    dec_alaw: NDArray[np.bool_]
    det_map: NDArray[np.intp]
    mix: MixPlan
    rows: list[Leg]
    players: list[tuple[int, Leg]]


class MediaEngine:
    """Legs, relay, mixer, players, recordings, DTMF and RTCP of one media worker."""

    def __init__(self, *, frame_ms: int = 20, rtp_timeout: float = 30.0,
                 jitter_depth: float = 0.06, ssrc_source: Callable[[], int],
                 wall_offset: float = 0.0, rtcp_interval: float = 5.0,
                 record_chunk_frames: int = 25, max_catchup: int = 3,
                 codecs: FrameCodec | None = None) -> None:
        if frame_ms < 10 or max_catchup < 1:
            raise ValueError("frame_ms must be at least 10 and max_catchup at least 1")
        self._spf = 8 * frame_ms
        self._frame_s = frame_ms / 1000.0
        self._rtp_timeout = rtp_timeout
        self._depth = jitter_depth
        self._ssrc = ssrc_source
        self.final_stats = True  # a leg's removal reports its LegStats (off: nobody reads them)
        self._wall = wall_offset
        self._rtcp_interval = rtcp_interval
        self._max_catchup = max_catchup
        self._legs: dict[int, Leg] = {}
        self._graph = MixGraph()
        self._recorder = Recorder(chunk_frames=record_chunk_frames)
        self._slots = SlotPool(first=1)  # slot 0 is the silent row
        self._codecs = codecs
        self._bank = FrameBank(self._spf, codecs)
        self._plan = self._empty_plan()
        self._dirty = False
        # Legs whose relay decision may have changed since the last compile (None: compile
        # everything).  Relay-only changes (a leg added, configured, connected, removed; no
        # mixing, decoding, player, bus or recording involved) recompile just those legs.
        self._touched: set[int] | None = set()
        self._relay_of: dict[int, Leg] = {}  # leg -> the leg relayed to it
        self._mixing: set[int] = set()  # legs mixed, or sources of a mixed leg
        self.incremental = True
        self._t0: float | None = None
        self._k = 0
        self._next_sweep = 0.0
        self._dtmf_active: set[Leg] = set()
        self._dtmf_sending: set[Leg] = set()
        self._out: list[Datagram] = []
        self._rtcp_out: list[Datagram] = []
        self._events: list[MediaEvent] = []
        self._n = dict.fromkeys(("in", "out", "dropped", "rtcp_in", "rtcp_out", "frames",
                                 "late", "skipped", "compiles"), 0)
        self._handlers: dict[type, Callable[[Any, float], None]] = {
            CreateLeg: lambda c, _now: self.add_leg(c.leg, c.port),
            ConfigureLeg: self._configure, DestroyLeg: lambda c, _now: self.remove_leg(c.leg),
            Connect: self._connect, Disconnect: self._disconnect, JoinBus: self._join,
            LeaveBus: self._leave, Play: self._play, StopPlay: self._stop_play,
            StartRecord: self._start_record, PauseRecord: self._pause_record,
            ResumeRecord: self._resume_record, StopRecord: self._stop_record,
            Detect: self._detect_cmd, SendDigit: self._send_digit, SetTimeout: self._set_timeout,
            RelayEvents: self._relay_events,
            Shutdown: self._shutdown,
        }

    # ================================================================== shell API

    def add_leg(self, leg: int, port: int) -> None:
        """A leg whose sockets are bound (emits ``LegReady``; again for a known leg: no-op)."""
        if leg in self._legs:
            return
        ssrc = self._ssrc
        self._legs[leg] = Leg(leg, port, ssrc=ssrc(), seq=ssrc(), ts=ssrc(),
                              timeout=self._rtp_timeout)
        self._events.append(LegReady(leg, port))
        self._touch(leg, *self._graph.feeds(leg))  # edges may name it before it exists

    def remove_leg(self, leg: int) -> None:
        """Forget ``leg`` after a final ``LegStats`` (unless ``final_stats`` is off; its
        player ends ``stopped``).  Unknown
        legs are ignored, so ``DestroyLeg`` and the shell may both call it."""
        L = self._legs.pop(leg, None)
        if L is None:
            return
        if L.mode == MODE_MIX or L.slot or leg in self._mixing or L.player is not None:
            self._touched = None
        elif self._touched is not None:
            self._touched.update(K.id for K in L.relay_sinks)
            self._touched.update(self._graph.feeds(leg))
            src = self._relay_of.pop(leg, None)
            if src is not None and L in src.relay_sinks:
                src.relay_sinks.remove(L)
        if self.final_stats:
            self._events.append(self.leg_stats(L))
        if L.player is not None:
            self._events.append(PlayDone(leg, L.player.play_id, "stopped"))
            L.player = None
        self._graph.remove_leg(leg)
        self._dtmf_active.discard(L)
        self._dtmf_sending.discard(L)
        if L.slot:
            self._slots.give(L.slot)
            L.slot = 0
        self._bank.free_detector(L)
        if self._codecs is not None:
            self._codecs.drop(leg)
        L.relay_sinks = []
        L.te_sinks = []
        self._dirty = True

    def _touch(self, *legs: int) -> None:
        if self._touched is not None:
            self._touched.update(legs)
        self._dirty = True

    def _recompile_all(self) -> None:
        self._touched = None
        self._dirty = True

    def command(self, cmd: object, now: float) -> None:
        """Apply one command of ``media.commands`` (``TypeError`` for anything else)."""
        handler = self._handlers.get(type(cmd))
        if handler is None:
            raise TypeError(f"not a media command: {cmd!r}")
        handler(cmd, now)

    def outbox(self) -> list[Datagram]:
        """RTP datagrams to send, in order."""
        out, self._out = self._out, []
        self._n["out"] += len(out)
        return out

    def rtcp_outbox(self) -> list[Datagram]:
        """RTCP datagrams to send (from the leg's RTCP socket)."""
        out, self._rtcp_out = self._rtcp_out, []
        return out

    def events(self) -> list[MediaEvent]:
        out, self._events = self._events, []
        return out

    def recorded(self) -> list[Chunk]:
        """``(rec_id, int16 array (samples, channels))`` chunks, oldest first; ``(rec_id,
        None)`` after a recording's last chunk means it is closed."""
        return self._recorder.drain()

    def next_deadline(self) -> float | None:
        """When the next frame is due (None before the first tick)."""
        return None if self._t0 is None else self._t0 + self._k * self._frame_s

    @property
    def stats(self) -> EngineStats:
        n = self._n
        return EngineStats(len(self._legs), n["in"], n["out"] + len(self._out), n["dropped"],
                           n["rtcp_in"], n["rtcp_out"], n["frames"], n["late"], n["skipped"],
                           n["compiles"])

    def leg(self, leg: int) -> Leg | None:
        """The state of ``leg`` (read-only use: tests, diagnostics)."""
        return self._legs.get(leg)

    def leg_stats(self, L: Leg, *, final: bool = True) -> LegStats:
        snap = L.stats.snapshot()
        late = L.jb_late + (L.jb.stats["late"] if L.jb is not None else 0)
        peer = L.peer
        return LegStats(L.id, received=L.rx_packets, lost=max(0, snap.lost), late=late,
                        duplicates=snap.duplicates, jitter_ms=round(snap.jitter_ms, 3),
                        sent=L.sent, dropped=L.dropped, expected=snap.expected,
                        rtt_ms=None if L.rtt is None else round(L.rtt * 1000.0, 3),
                        peer_lost=None if peer is None else peer[0],
                        peer_expected=0 if peer is None else peer[1],
                        peer_jitter_ms=None if peer is None else round(peer[2] * 1000.0, 3),
                        codec=L.codec, ptime_ms=L.ptime_ms, final=final)

    def live_stats(self) -> list[LegStats]:
        """A live sample of every leg that has received RTP or an RTCP report (sampled at a
        low rate by the worker, for the wallboard's live MOS)."""
        return [self.leg_stats(L, final=False) for L in self._legs.values()
                if L.rx_packets or L.peer is not None]

    # ================================================================== RTP in: the fast path

    def receive(self, leg: int, data: bytes | bytearray | memoryview, src: tuple[str, int],
                now: float) -> None:
        """One datagram from ``leg``'s RTP socket (invalid ones are counted and dropped)."""
        n = self._n
        n["in"] += 1
        L = self._legs.get(leg)
        if L is None:
            n["dropped"] += 1
            return
        try:
            pt, seq, ts, ssrc, hlen = rtp_header_fields(data)
        except RtpError:
            self._not_audio(L, data, src, now)
            return
        if data[0] & 0x20 and not 0 < data[-1] <= len(data) - hlen:  # bad padding count
            self._not_audio(L, data, src, now)
            return
        if pt == L.pt:
            audio = True
        elif pt == L.te_pt:
            audio = False
        else:
            self._not_audio(L, data, src, now)
            return
        if not L.recv or (src != L.latched and L.latched is not None):
            L.dropped += 1
            n["dropped"] += 1
            return
        if L.latched is None:
            L.latch(src)
        if self._dirty:
            self._compile()
        L.rx_packets += 1
        L.rx_ref = now
        L.timed_out = False
        verdict = L.stats.receive(ssrc, seq, ts, now)
        if ssrc != L.rx_ssrc:
            L.new_stream(ssrc, now)
        if audio:
            if L.jb is not None:
                L.jb.put((seq - L.jb_skew) & 0xFFFF, ts, _payload(data, hlen), now)
                L.last_audio_ts = ts
        else:
            self._telephone_event(L, data, hlen, seq, ts, now)
        if L.relay_sinks and verdict is not _DUPLICATE:
            self._relay(L, data, hlen, audio, ssrc, ts, now)

    def _relay(self, L: Leg, data: bytes | bytearray | memoryview, hlen: int, audio: bool,
               ssrc: int, ts: int, now: float) -> None:
        """The packet to every sink relaying ``L``: own SSRC and sequence, the timestamp
        offset of the current switch, mapped payload type; CSRCs and extension dropped."""
        b0 = 0x80 | (data[0] & 0x20)
        mk = data[1] & 0x80
        body = data[hlen:]
        size = len(body)
        out = self._out
        for K in L.relay_sinks:
            dest = K.dest
            opt = K.pt if audio else K.te_pt if K.events_in else None
            if dest is None or opt is None:
                continue
            if K.relay_src is not L or K.relay_ssrc != ssrc:
                K.switch_relay(L, ssrc, ts, now)
            if K.marker_next:
                opt |= 0x80
                K.marker_next = False
            else:
                opt |= mk
            K.seq = s = (K.seq + 1) & 0xFFFF
            t = (ts + K.ts_off) & _U32
            if audio:
                K.last_ts = t
                K.last_time = now
            K.sent += 1
            K.octets += size
            out.append((K.id, HDR.pack(b0, opt, s, t, K.ssrc) + body, dest))

    def _not_audio(self, L: Leg, data: bytes | bytearray | memoryview, src: tuple[str, int],
                   now: float) -> None:
        """Not RTP of the negotiated payload types: RTCP multiplexed on the RTP port, else
        counted and dropped."""
        if is_rtcp(data):
            self._n["in"] -= 1
            self.receive_rtcp(L.id, data, src, now)
            return
        try:
            parse_rtp(data)
        except RtpError:
            L.invalid += 1
        else:
            L.ignored += 1
        L.dropped += 1
        self._n["dropped"] += 1

    def _telephone_event(self, L: Leg, data: bytes | bytearray | memoryview, hlen: int,
                         seq: int, ts: int, now: float) -> None:
        """RFC 4733: digits for a detecting leg, forwarded to decoded sinks, and a slot of
        silence in the jitter buffer (``Leg.event_slot``)."""
        payload = bytes(data[hlen:hlen + 4])
        marker = bool(data[1] & 0x80)
        rx = L.dtmf_rx
        if L.detect and rx is not None:
            try:
                rx.receive(payload, timestamp=ts, marker=marker, now=now)
            except DtmfError:
                L.invalid += 1
                return
            self._events.extend(L.rfc_events(now))
            if rx.pressed is not None:
                self._dtmf_active.add(L)
        if len(payload) < 4:
            return
        for K in L.te_sinks:
            dest = K.dest
            if dest is not None and K.events_in:
                pkt = K.forward_event(ts, marker, payload, now)
                if pkt is not None:
                    self._out.append((K.id, pkt, dest))
        if L.jb is not None:
            slot = L.event_slot(seq, ts)
            if slot is not None:
                silence = self._bank.silence(L.alaw, L.in_spf) if L.g711 else b""
                L.jb.put(slot, ts, silence, now)

    def receive_rtcp(self, leg: int, data: bytes | bytearray | memoryview,
                     src: tuple[str, int], now: float) -> None:
        """One datagram from ``leg``'s RTCP socket: SR times for our reports, RTT from the
        report blocks about our stream.  Latches like RTP; invalid ones are counted."""
        self._n["rtcp_in"] += 1
        L = self._legs.get(leg)
        if L is None:
            return
        L.rtcp_in += 1
        if L.rtcp_latched is None:
            L.rtcp_latched = src
        elif src != L.rtcp_latched:
            L.dropped += 1
            return
        try:
            packets = parse_rtcp(data)
        except RtcpError:
            L.invalid += 1
            return
        for p in packets:
            if isinstance(p, SenderReport):
                L.stats.on_sender_report(p.ssrc, p.ntp_msw, p.ntp_lsw, now)
            if isinstance(p, SenderReport | ReceiverReport):
                for block in p.reports:
                    if block.ssrc == L.ssrc:
                        L.peer_report(block)
                        rtt = round_trip_time(block.lsr, block.dlsr, arrival=now + self._wall)
                        if rtt is not None:
                            L.rtt = rtt

    # ================================================================== the frame clock

    def tick(self, now: float) -> None:
        """Produce the frames due by ``now`` (at most ``max_catchup``; later ones are
        skipped), send due DTMF packets, end silent DTMF presses, check timeouts and RTCP."""
        if self._dirty:
            self._compile()
        if self._t0 is None:
            self._t0 = now
            self._k = 0
            self._next_sweep = now
        done = 0
        while True:
            t = self._t0 + self._k * self._frame_s
            if t > now + 1e-9:
                break
            if done == self._max_catchup:
                behind = int((now - t) / self._frame_s) + 1
                self._k += behind
                self._n["skipped"] += behind
                self._recorder.pad(min(behind, _MAX_PAD_FRAMES), self._spf)
                break
            self._frame(t)
            self._k += 1
            done += 1
            if self._dirty:  # a player ended
                self._compile()
        if done > 1:
            self._n["late"] += done - 1
        if self._dtmf_active:
            self._dtmf_timers(now)
        if self._dtmf_sending:
            self._dtmf_send(now)
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP
            self._sweep(now)

    def _frame(self, t: float) -> None:
        self._n["frames"] += 1
        plan = self._plan
        bank = self._bank
        if plan.dec_legs:
            bank.decode(t, plan.dec_legs, plan.dec_slots, plan.dec_alaw)
        for L, key in bank.detect(plan.det_map):
            digit = L.inband_digit(key, t)
            if digit is not None:
                self._events.append(digit)
        self._recorder.capture(bank.pcm)
        if plan.rows:
            self._mix_and_send(t, plan)

    def _mix_and_send(self, t: float, plan: _Plan) -> None:
        spf = self._spf
        out = plan.mix.mix(self._bank.pcm)
        for row, K in plan.players:
            P = K.player
            if P is None:
                continue
            frame = P.read(spf)
            if P.mix:
                out[row] += frame
            else:
                out[row] = frame
            if P.finished:
                K.player = None
                self._events.append(PlayDone(K.id, P.play_id, "end"))
                self._recompile_all()
        pcm = saturate(out)
        raw = encode_rows(pcm, plan.mix.alaw).tobytes()
        box = self._out
        codecs = self._codecs
        for r, K in enumerate(plan.rows):
            dest = K.dest
            if dest is None:
                continue
            if K.g711:
                payload = raw[r * spf:(r + 1) * spf]
            elif codecs is not None and codecs.supports(K.codec or ""):
                payload = codecs.encode(K.id, K.codec or "", pcm[r])
                if not payload:
                    continue
            else:
                continue  # a codec nobody here can encode: nothing to send
            box.append((K.id, K.audio_packet(payload, t, spf), dest))

    def _dtmf_timers(self, now: float) -> None:
        for L in list(self._dtmf_active):
            rx = L.dtmf_rx
            if rx is None:
                self._dtmf_active.discard(L)
                continue
            rx.handle_timer(now)
            self._events.extend(L.rfc_events(now))
            if rx.pressed is None:
                self._dtmf_active.discard(L)

    def _dtmf_send(self, now: float) -> None:
        for L in list(self._dtmf_sending):
            q = L.dtmf_tx
            while q and q[0][0] <= now + 1e-9:
                _, ts, marker, payload = q.popleft()
                if L.dest is not None:
                    pkt = L.event_packet(ts, marker, payload)
                    if pkt is not None:
                        self._out.append((L.id, pkt, L.dest))
            if not q:
                self._dtmf_sending.discard(L)

    def _sweep(self, now: float) -> None:
        """RTP timeouts and RTCP reports (every ``_SWEEP`` seconds, not every packet)."""
        for L in self._legs.values():
            if not L.configured:
                continue
            if (L.timeout > 0 and L.recv and not L.timed_out and L.rx_ref is not None
                    and now - L.rx_ref >= L.timeout):
                L.timed_out = True
                self._events.append(RtpTimeout(L.id, L.timeout))
            if L.rtcp_next is None:
                L.rtcp_next = now + self._rtcp_interval * (0.5 + (L.ssrc % 1000) / 1000)
            elif now >= L.rtcp_next:
                L.rtcp_next = now + self._rtcp_interval
                dest = L.rtcp_dest()
                if dest is not None:
                    self._rtcp_out.append((L.id, L.rtcp_report(now, self._wall), dest))
                    self._n["rtcp_out"] += 1

    # ================================================================== compiling the plan

    def _empty_plan(self) -> _Plan:
        empty = np.zeros(0, dtype=np.intp)
        return _Plan([], empty, np.zeros(0, dtype=bool), empty, MixPlan().freeze(), [], [])

    def _decide(self, K: Leg) -> tuple[int, list[tuple[Leg, float]], list[int]]:
        """How ``K`` is fed: (mode, sources with gains, buses it listens to)."""
        if not K.configured:
            return MODE_NONE, [], []
        P = K.player
        if P is not None and not P.mix:
            return MODE_MIX, [], []
        legs = self._legs
        srcs = [(legs[s], g) for s, g in self._graph.sources(K.id).items() if s in legs]
        buses = sorted(self._graph.listened(K.id))
        if P is None and not buses:
            if not srcs:
                return MODE_NONE, [], []
            S, gain = srcs[0]
            if len(srcs) == 1 and gain == 1.0 and S.configured and S.codec == K.codec:
                return MODE_RELAY, srcs, []
        return MODE_MIX, srcs, buses

    def _compile(self) -> None:
        """Modes, relay lists, decode slots, the detector map and the mix plan, from the
        graph and the legs (once per batch of changes): only the legs touched when nothing
        but relays changed, else every leg."""
        self._dirty = False
        self._n["compiles"] += 1
        touched, self._touched = self._touched, set()
        if touched is not None and self.incremental and self._compile_relays(touched):
            return
        legs = self._legs
        graph = self._graph
        need: set[int] = set()
        mixed: list[tuple[Leg, list[tuple[Leg, float]], list[int]]] = []
        relay_of: dict[int, Leg] = {}
        for L in legs.values():
            L.relay_sinks = []
            L.te_sinks = []
        for K in legs.values():
            mode, srcs, buses = self._decide(K)
            src = srcs[0][0] if mode == MODE_RELAY else None
            if mode != K.mode or (src is not None and K.relay_src is not src):
                K.relay_src = None
                K.marker_next = True
                K.te_map = None
            K.mode = mode
            if src is not None:
                src.relay_sinks.append(K)
                relay_of[K.id] = src
            elif mode == MODE_MIX:
                mixed.append((K, srcs, buses))
                need.update(S.id for S, _ in srcs)
                for bus in buses:
                    need.update(m for m, (talk, _) in graph.members(bus).items() if talk)
                if len(srcs) == 1 and not buses and K.player is None:
                    srcs[0][0].te_sinks.append(K)
        self._relay_of = relay_of
        self._mixing = {K.id for K, _, _ in mixed} | {S.id for _, srcs, _ in mixed
                                                     for S, _ in srcs}
        need |= self._recorder.legs()
        for bus in self._recorder.buses():
            need.update(self._talkers(bus))
        need.update(L.id for L in legs.values() if L.detect and L.inband)
        self._assign_slots(need)
        self._bank.assign_detector(list(legs.values()))
        self._plan = self._build_plan(mixed)
        self._recorder.set_rows(self._slot_of, self._talkers)

    def _compile_relays(self, touched: set[int]) -> bool:
        """Re-decide just the ``touched`` legs; False (nothing changed) when one of them is,
        or would be, mixed, decoded, recorded, detecting in-band or a source of a mix: the
        decode slots, the detector map and the mix plan stay as they are."""
        legs = self._legs
        recorded = self._recorder.legs()
        decided: list[tuple[Leg, int, Leg | None]] = []
        for leg in touched:
            K = legs.get(leg)
            if K is None:
                continue
            if (K.mode == MODE_MIX or K.slot or leg in self._mixing or leg in recorded
                    or (K.detect and K.inband)):
                return False
            mode, srcs, _ = self._decide(K)
            if mode == MODE_MIX:
                return False
            decided.append((K, mode, srcs[0][0] if mode == MODE_RELAY else None))
        relay_of = self._relay_of
        for K, mode, src in decided:
            if mode != K.mode or (src is not None and K.relay_src is not src):
                K.relay_src = None
                K.marker_next = True
                K.te_map = None
            K.mode = mode
            old = relay_of.get(K.id)
            if old is not src:
                if old is not None and K in old.relay_sinks:
                    old.relay_sinks.remove(K)
                if src is None:
                    del relay_of[K.id]
                else:
                    relay_of[K.id] = src
                    src.relay_sinks.append(K)
        return True

    def _slot_of(self, leg: int) -> int:
        L = self._legs.get(leg)
        return L.slot if L is not None else 0

    def _talkers(self, bus: int) -> list[int]:
        """The legs that talk on ``bus`` (what a recording of the bus mixes)."""
        return [m for m, (talk, _) in self._graph.members(bus).items() if talk]

    def _assign_slots(self, need: set[int]) -> None:
        """Decode slots (rows of the frame array) for the legs whose audio is needed."""
        for L in self._legs.values():
            wants = L.configured and L.id in need
            if wants:
                if not L.slot:
                    L.slot = self._slots.take()
                if L.jb is None:
                    L.new_jitter_buffer(self._depth)
            elif L.slot:
                self._slots.give(L.slot)
                L.slot = 0
                L.drop_jitter_buffer()
        self._bank.grow(self._slots.high)

    def _build_plan(self, mixed: list[tuple[Leg, list[tuple[Leg, float]], list[int]]]) -> _Plan:
        graph = self._graph
        legs = self._legs
        mp = MixPlan()
        rows: list[Leg] = []
        players: list[tuple[int, Leg]] = []
        for K, srcs, buses in mixed:
            r = mp.add_row(alaw=K.alaw)
            rows.append(K)
            if K.player is not None:
                players.append((r, K))
            for S, gain in srcs:
                mp.add_edge(r, S.slot, gain)
            for bus in buses:
                talks = graph.members(bus).get(K.id, (False, False))[0]
                mp.add_listener(r, bus, K.slot if talks else 0)
        for bus in mp.buses():
            for m, (talk, _) in graph.members(bus).items():
                M = legs.get(m)
                if talk and M is not None:
                    mp.add_talker(bus, M.slot)
        dec = sorted((L for L in legs.values() if L.slot), key=lambda L: L.slot)
        det_map = self._bank.detector_map()
        return _Plan(dec, np.array([L.slot for L in dec], dtype=np.intp),
                     np.array([L.alaw for L in dec], dtype=bool), det_map, mp.freeze(), rows,
                     players)

    # ================================================================== commands

    def _known(self, leg: int, what: str) -> Leg | None:
        L = self._legs.get(leg)
        if L is None:
            log.warning("media_unknown_leg", leg=leg, command=what)
        return L

    def _configure(self, cmd: ConfigureLeg, now: float) -> None:
        L = self._known(cmd.leg, "configure")
        if L is not None:
            if L.codec != cmd.codec and self._codecs is not None:
                self._codecs.drop(L.id)
            L.configure(cmd, now)
            self._touch(L.id, *(K.id for K in L.relay_sinks), *self._graph.feeds(L.id))

    def _connect(self, cmd: Connect, now: float) -> None:
        self._graph.connect(cmd.src, cmd.sink, cmd.gain)
        self._touch(cmd.sink)

    def _disconnect(self, cmd: Disconnect, now: float) -> None:
        self._graph.disconnect(cmd.src, cmd.sink)
        self._touch(cmd.sink)

    def _join(self, cmd: JoinBus, now: float) -> None:
        self._graph.join(cmd.bus, cmd.leg, talk=cmd.talk, listen=cmd.listen)
        self._recompile_all()

    def _leave(self, cmd: LeaveBus, now: float) -> None:
        self._graph.leave(cmd.bus, cmd.leg)
        self._recompile_all()

    def _play(self, cmd: Play, now: float) -> None:
        L = self._known(cmd.leg, "play")
        if L is None:
            self._events.append(PlayDone(cmd.leg, cmd.play_id, "error"))
            return
        src = cmd.source
        try:
            if isinstance(src, PlaySamples):
                player = Player(cmd.play_id, samples=samples_of(src.samples), loop=cmd.loop,
                                mix=cmd.mix)
            elif isinstance(src, PlayFile):
                raise PlayerError("PlayFile reaches the engine: the shell loads files")
            else:
                player = Player(cmd.play_id, spec=tone_spec(src.name), loop=cmd.loop,
                                mix=cmd.mix)
        except PlayerError as exc:
            log.warning("media_play_error", leg=cmd.leg, play_id=cmd.play_id, error=str(exc))
            self._events.append(PlayDone(cmd.leg, cmd.play_id, "error"))
            return
        if L.player is not None:
            self._events.append(PlayDone(L.id, L.player.play_id, "replaced"))
        L.player = player
        self._recompile_all()

    def _stop_play(self, cmd: StopPlay, now: float) -> None:
        L = self._legs.get(cmd.leg)
        if L is None or L.player is None:
            return
        if cmd.play_id is None or cmd.play_id == L.player.play_id:
            self._events.append(PlayDone(L.id, L.player.play_id, "stopped"))
            L.player = None
            self._recompile_all()

    def _start_record(self, cmd: StartRecord, now: float) -> None:
        if cmd.rec_id in self._recorder:
            log.warning("media_record_exists", rec_id=cmd.rec_id)
            return
        self._recorder.start(Recording(cmd.rec_id, cmd.path, tuple(cmd.legs), cmd.fmt,
                                       cmd.bus))
        self._recorder.set_rows(self._slot_of, self._talkers)
        self._recompile_all()

    def _pause_record(self, cmd: PauseRecord, now: float) -> None:
        self._set_paused(cmd.rec_id, True)

    def _resume_record(self, cmd: ResumeRecord, now: float) -> None:
        self._set_paused(cmd.rec_id, False)

    def _set_paused(self, rec_id: int, paused: bool) -> None:
        rec = self._recorder.get(rec_id)
        if rec is not None and rec.paused != paused:
            rec.paused = paused
            self._recorder.set_rows(self._slot_of, self._talkers)
            seconds = self._recorder.position(rec_id) * self._spf / 8000
            self._events.append(RecordPauseMark(rec_id, rec.path, paused, seconds))

    def _stop_record(self, cmd: StopRecord, now: float) -> None:
        if self._recorder.stop(cmd.rec_id):
            self._recorder.set_rows(self._slot_of, self._talkers)
            self._recompile_all()

    def _detect_cmd(self, cmd: Detect, now: float) -> None:
        L = self._known(cmd.leg, "detect")
        if L is not None:
            L.start_detect(cmd.inband)
            if cmd.inband:
                self._recompile_all()
            else:
                self._touch(L.id)

    def _relay_events(self, cmd: RelayEvents, now: float) -> None:
        L = self._known(cmd.leg, "relay_events")
        if L is not None:
            L.events_in = cmd.on

    def _send_digit(self, cmd: SendDigit, now: float) -> None:
        L = self._known(cmd.leg, "send_digit")
        if L is None:
            return
        if L.queue_digit(cmd.key, cmd.duration_ms, now, self._spf):
            self._dtmf_sending.add(L)
            self._dtmf_send(now)
        else:
            log.warning("media_digit_not_sent", leg=L.id, key=cmd.key, te_pt=L.te_pt)

    def _set_timeout(self, cmd: SetTimeout, now: float) -> None:
        L = self._known(cmd.leg, "set_timeout")
        if L is not None:
            L.timeout = max(0.0, cmd.seconds)
            L.timed_out = False
            if L.rx_ref is not None:
                L.rx_ref = max(L.rx_ref, now)

    def _shutdown(self, cmd: Shutdown, now: float) -> None:
        """Every recording closed, every leg destroyed (with its stats)."""
        for rec_id in self._recorder.ids():
            self._recorder.stop(rec_id)
        for leg in list(self._legs):
            self.remove_leg(leg)
        self._recorder.set_rows(self._slot_of, self._talkers)


def _payload(data: bytes | bytearray | memoryview, hlen: int) -> bytes:
    """The payload of an RTP packet, without its padding."""
    if data[0] & 0x20:
        end = len(data) - data[-1]
        return bytes(data[hlen:end]) if end > hlen else b""
    return bytes(data[hlen:])
