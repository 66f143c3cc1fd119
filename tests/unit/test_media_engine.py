"""The media engine with fabricated RTP and a fake clock: relay, latching, hold, timeouts,
transcoding, mixing, buses, supervision edge sets, echo, players, DTMF, recording, RTCP."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from numpy.typing import NDArray

from ccswitch.ids import Ids
from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    Detect,
    Digit,
    Disconnect,
    JoinBus,
    LeaveBus,
    LegReady,
    LegStats,
    PauseRecord,
    Play,
    PlayDone,
    PlayFile,
    PlaySamples,
    PlayTone,
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
from ccswitch.media.dtmf import DtmfDigit, DtmfEventReceiver, DtmfEventSender
from ccswitch.media.engine import MediaEngine
from ccswitch.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ccswitch.media.rtcp import (
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_rtcp,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
)
from ccswitch.media.rtp import RtpPacket, build_rtp, parse_rtp
from ccswitch.media.tones import ToneGenerator, dtmf_spec, tone

SPF = 160
FRAME = 0.02
Addr = tuple[str, int]


def phone(leg: int) -> Addr:
    """The SDP address of the phone on ``leg``."""
    return (f"10.0.0.{leg}", 4000 + 2 * leg)


def nat(leg: int) -> Addr:
    """Where the phone on ``leg`` really sends from (behind NAT)."""
    return (f"192.0.2.{leg}", 30000 + leg)


@dataclass
class Stream:
    """An RTP stream a fake phone sends."""

    ssrc: int
    pt: int = 0
    seq: int = 1000
    ts: int = 50_000
    te_pt: int = 101
    pos: int = 0  # samples of the test audio already sent

    def packet(self, payload: bytes, *, marker: bool = False) -> bytes:
        data = build_rtp(payload_type=self.pt, sequence=self.seq & 0xFFFF,
                         timestamp=self.ts & 0xFFFFFFFF, ssrc=self.ssrc, payload=payload,
                         marker=marker)
        self.seq += 1
        self.ts += len(payload)
        return data


@dataclass
class Rig:
    """An engine, a fake clock and fake phones; ``run`` drives both by 10 ms ticks."""

    eng: MediaEngine = field(default_factory=lambda: MediaEngine(
        ssrc_source=Ids(random.Random(7)).ssrc))
    t: float = 100.0
    sent: list[tuple[int, RtpPacket, Addr]] = field(default_factory=list)
    events: list[object] = field(default_factory=list)

    def leg(self, leg: int, codec: str = "PCMU", *, pt: int | None = None,
            te_pt: int | None = 101, **kw: object) -> None:
        self.eng.add_leg(leg, 20000 + 2 * leg)
        self.configure(leg, codec, pt=pt, te_pt=te_pt, **kw)

    def configure(self, leg: int, codec: str = "PCMU", *, pt: int | None = None,
                  te_pt: int | None = 101, remote: Addr | None = None,
                  send: bool = True, recv: bool = True) -> None:
        ip, port = remote or phone(leg)
        self.cmd(ConfigureLeg(leg, ip, port, port + 1, codec,  # type: ignore[arg-type]
                              pt if pt is not None else (0 if codec == "PCMU" else 8),
                              te_pt, 20, send, recv))

    def cmd(self, *cmds: object) -> None:
        for c in cmds:
            self.eng.command(c, self.t)

    def rx(self, leg: int, data: bytes, src: Addr | None = None) -> None:
        self.eng.receive(leg, data, src or nat(leg), self.t)

    def step(self) -> None:
        """One 10 ms tick; collect what came out."""
        self.eng.tick(self.t)
        self.collect()
        self.t = round(self.t + 0.01, 6)

    def collect(self) -> None:
        self.sent += [(leg, parse_rtp(d), dest) for leg, d, dest in self.eng.outbox()]
        self.events += self.eng.events()

    def run(self, seconds: float, feeds: dict[int, tuple[Stream, NDArray[np.int16]]]
            | None = None) -> None:
        """Each 20 ms, every fed leg sends its next frame (µ-law or A-law by the stream's
        pt); the engine ticks every 10 ms."""
        for k in range(round(seconds / 0.01)):
            if k % 2 == 0 and feeds:
                for leg, (stream, audio) in feeds.items():
                    frame = next_frame(audio, stream)
                    if frame is not None:
                        self.rx(leg, stream.packet(frame))
            self.step()

    def to(self, leg: int) -> list[RtpPacket]:
        return [p for lg, p, _ in self.sent if lg == leg]

    def dests(self, leg: int) -> set[Addr]:
        return {d for lg, _, d in self.sent if lg == leg}

    def heard(self, leg: int) -> NDArray[np.int16]:
        """The audio sent to the phone of ``leg`` (its audio packets, decoded)."""
        pkts = [p for p in self.to(leg) if p.payload_type in (0, 8)]
        return np.concatenate([decode(p) for p in pkts]) if pkts else np.zeros(0, np.int16)

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]


def decode(p: RtpPacket) -> NDArray[np.int16]:
    return ulaw_decode(p.payload) if p.payload_type == 0 else alaw_decode(p.payload)


def next_frame(audio: NDArray[np.int16], stream: Stream) -> bytes | None:
    """The next 20 ms of ``audio`` for ``stream``, encoded; None once it is used up."""
    i = stream.pos
    if i + SPF > len(audio):
        return None
    stream.pos = i + SPF
    chunk = audio[i:i + SPF]
    return (ulaw_encode(chunk) if stream.pt != 8 else alaw_encode(chunk)).tobytes()


def sine(freq: float, seconds: float, amp: float = 8000.0) -> NDArray[np.int16]:
    k = np.arange(round(seconds * 8000))
    return np.rint(amp * np.sin(2 * np.pi * freq * k / 8000)).astype(np.int16)


def dc(value: int, seconds: float) -> NDArray[np.int16]:
    return np.full(round(seconds * 8000), value, dtype=np.int16)


def dominant(audio: NDArray[np.int16]) -> float:
    spec = np.abs(np.fft.rfft(audio.astype(float) * np.hanning(len(audio))))
    return float(np.argmax(spec) * 8000 / len(audio))


def steady(audio: NDArray[np.int16], skip: int = 8) -> NDArray[np.int16]:
    """Audio after the first ``skip`` frames (jitter-buffer fill and switching)."""
    return audio[skip * SPF:]


def call(rig: Rig, a: int = 1, b: int = 2, codec_b: str = "PCMU") -> None:
    rig.leg(a)
    rig.leg(b, codec_b)
    rig.cmd(Connect(a, b), Connect(b, a))


# ----------------------------------------------------------------------------- legs


def test_legs_are_ready_once_and_report_stats_once() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(CreateLeg(1, 20002, "127.0.0.1"))  # the shell may pass it too: no second event
    rig.eng.add_leg(1, 20002)
    assert rig.eng.events() == [LegReady(1, 20002)]
    s = Stream(ssrc=5)
    for i in range(10):
        if i != 4:
            rig.rx(1, s.packet(bytes(SPF)))
        else:  # lost
            s.seq += 1
            s.ts += SPF
        rig.t += FRAME
    rig.rx(1, b"\x00" * 5)  # invalid
    rig.cmd(DestroyLeg(1))
    rig.eng.remove_leg(1)
    stats = [e for e in rig.eng.events() if isinstance(e, LegStats)]
    assert len(stats) == 1
    st = stats[0]
    assert (st.leg, st.received, st.lost, st.dropped) == (1, 9, 1, 1)
    assert rig.eng.leg(1) is None
    assert rig.eng.stats.legs == 0
    rig.eng.final_stats = False  # the worker's setting when nobody reads them
    rig.cmd(CreateLeg(2, 20004, "127.0.0.1"))
    rig.cmd(DestroyLeg(2))
    assert rig.eng.events() == [LegReady(2, 20004)]
    assert rig.eng.leg(2) is None


def test_unknown_leg_and_unknown_command() -> None:
    rig = Rig()
    rig.rx(9, Stream(ssrc=1).packet(bytes(SPF)))
    assert rig.eng.stats.dropped == 1 and rig.eng.stats.packets_in == 1
    with pytest.raises(TypeError):
        rig.eng.command("hello", 0.0)
    rig.cmd(Play(9, 1, PlayTone("busy")))
    assert rig.eng.events() == [PlayDone(9, 1, "error")]


# ----------------------------------------------------------------------------- relay


def test_relay_rewrites_ssrc_seq_ts_and_keeps_the_payload() -> None:
    rig = Rig()
    call(rig)
    a = Stream(ssrc=0xAAAA, seq=65530, ts=0xFFFFFF00)  # both wrap during the test
    payloads = [bytes([i]) * SPF for i in range(20)]
    for p in payloads:
        rig.rx(1, a.packet(p))
        rig.step()
        rig.step()
    got = rig.to(2)
    assert [p.payload for p in got] == payloads
    ssrc2 = rig.eng.leg(2).ssrc  # type: ignore[union-attr]
    assert {p.ssrc for p in got} == {ssrc2} != {0xAAAA}
    seqs = [p.sequence for p in got]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    tss = [p.timestamp for p in got]
    assert all((y - x) & 0xFFFFFFFF == SPF for x, y in itertools.pairwise(tss))
    assert [p.marker for p in got] == [True] + [False] * 19
    assert rig.dests(2) == {phone(2)}  # nothing came from leg 2: its SDP address
    assert rig.eng.stats.packets_out == 20


def test_relay_maps_payload_types_and_telephone_events() -> None:
    rig = Rig()
    rig.leg(1, pt=0, te_pt=101)
    rig.leg(2, pt=100, te_pt=96)  # PCMU under a dynamic number, another te number
    rig.leg(3, te_pt=None)  # no telephone events
    rig.cmd(Connect(1, 2), Connect(2, 3))
    a = Stream(ssrc=1)
    rig.rx(1, a.packet(bytes(SPF)))
    a.pt = 101
    rig.rx(1, a.packet(b"\x05\x0a\x00\xa0", marker=True))
    b = Stream(ssrc=2, pt=100, te_pt=96)
    rig.rx(2, b.packet(bytes(SPF)))
    b.pt = 96
    rig.rx(2, b.packet(b"\x05\x0a\x00\xa0"))
    rig.collect()
    assert [(p.payload_type, p.marker) for p in rig.to(2)] == [(100, True), (96, True)]
    assert rig.to(2)[1].payload == b"\x05\x0a\x00\xa0"
    assert [p.payload_type for p in rig.to(3)] == [0]  # the event is not relayed to leg 3


def test_relay_events_off_keeps_telephone_events_from_a_leg_and_sent_digits_still_go() -> None:
    """A leg set to take digits as INFO or tones (``RelayEvents(on=False)``) gets the audio
    relayed but no RFC 4733 events of its source, relayed or mixed; ``SendDigit`` still
    sends it events; its own events are still detected."""
    rig = Rig()
    rig.leg(1, pt=0, te_pt=101)
    rig.leg(2, pt=0, te_pt=101)
    rig.cmd(Connect(1, 2), Connect(2, 1), RelayEvents(2, on=False), Detect(2, inband=False))
    a = Stream(ssrc=1)
    rig.rx(1, a.packet(bytes(SPF)))
    a.pt = 101
    rig.rx(1, a.packet(b"\x05\x0a\x00\xa0", marker=True))
    rig.collect()
    assert [p.payload_type for p in rig.to(2)] == [0]  # audio only
    b = Stream(ssrc=2)
    send_rfc4733(rig, 2, b, "7")  # leg 2's own events: detected, relayed to leg 1
    assert [e.key for e in rig.of(Digit) if isinstance(e, Digit) and e.leg == 2] == ["7"]
    assert any(p.payload_type == 101 for p in rig.to(1))
    rig.cmd(SendDigit(2, "9"))
    for _ in range(20):
        rig.step()
    assert any(p.payload_type == 101 for p in rig.to(2))  # the switch's own digit
    rig.cmd(RelayEvents(2, on=True))
    a.pt = 101
    rig.rx(1, a.packet(b"\x06\x0a\x00\xa0", marker=True))
    rig.collect()
    assert [p.payload for p in rig.to(2) if p.payload_type == 101][-1:] == [b"\x06\x0a\x00\xa0"]


def test_relay_stays_continuous_when_the_source_changes() -> None:
    rig = Rig()
    rig.leg(1)
    rig.leg(2)
    rig.leg(3)
    rig.cmd(Connect(1, 3))
    a, b = Stream(ssrc=11, ts=1_000), Stream(ssrc=22, ts=3_000_000_000, seq=7)
    for _ in range(10):
        rig.rx(1, a.packet(b"\x01" * SPF))
        rig.rx(2, b.packet(b"\x02" * SPF))
        rig.step()
        rig.step()
    rig.cmd(Disconnect(1, 3), Connect(2, 3))
    for _ in range(10):
        rig.rx(1, a.packet(b"\x01" * SPF))
        rig.rx(2, b.packet(b"\x02" * SPF))
        rig.step()
        rig.step()
    got = rig.to(3)
    assert [p.payload[0] for p in got] == [1] * 10 + [2] * 10
    assert len({p.ssrc for p in got}) == 1
    seqs = [p.sequence for p in got]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    steps = [(y.timestamp - x.timestamp) & 0xFFFFFFFF for x, y in itertools.pairwise(got)]
    assert steps == [SPF] * 19  # packets 20 ms apart: the offset keeps the clock going
    assert [p.marker for p in got] == [True] + [False] * 9 + [True] + [False] * 9


def test_relay_drops_duplicates_and_passes_reordered_packets() -> None:
    rig = Rig()
    call(rig)
    a = Stream(ssrc=3)
    p1, p2, p3, p4, p5, p6 = (a.packet(bytes([i]) * SPF) for i in range(1, 7))
    # a duplicate of the newest, of an older one, then 6 before 5 (reordered)
    for p in (p1, p2, p3, p3, p2, p4, p6, p5, p5):
        rig.rx(1, p)
    rig.collect()
    assert [p.payload[0] for p in rig.to(2)] == [1, 2, 3, 4, 6, 5]


def test_echo_relays_back_to_where_the_phone_sends_from() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Connect(1, 1))
    a = Stream(ssrc=9)
    for i in range(5):
        rig.rx(1, a.packet(bytes([i]) * SPF))
    rig.collect()
    got = rig.to(1)
    assert [p.payload[0] for p in got] == [0, 1, 2, 3, 4]
    assert rig.dests(1) == {nat(1)}
    assert {p.ssrc for p in got} == {rig.eng.leg(1).ssrc}  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- latching, hold


def test_latching_drops_other_sources_until_a_new_remote_address() -> None:
    rig = Rig()
    call(rig)
    b = Stream(ssrc=2)
    rig.rx(2, b.packet(bytes(SPF)))  # latches leg 2 on nat(2)
    a = Stream(ssrc=1)
    rig.rx(1, a.packet(bytes(SPF)))
    rig.collect()
    assert rig.dests(2) == {nat(2)}
    intruder = ("203.0.113.66", 5555)
    for _ in range(3):
        rig.rx(2, Stream(ssrc=66).packet(b"\x55" * SPF), intruder)
    rig.collect()
    assert [p.payload[0] for p in rig.to(1)] == [0]  # only the latched packet was relayed
    assert rig.eng.leg(2).dropped == 3  # type: ignore[union-attr]
    # the same address again (a re-INVITE without change) keeps the latch
    rig.configure(2)
    rig.rx(2, Stream(ssrc=66).packet(b"\x55" * SPF), intruder)
    assert rig.eng.leg(2).dropped == 4  # type: ignore[union-attr]
    # a new address: re-latch on the next packet, wherever it comes from
    rig.configure(2, remote=("10.9.9.9", 7000))
    rig.sent.clear()
    rig.rx(2, Stream(ssrc=66).packet(b"\x55" * SPF), intruder)
    rig.rx(1, a.packet(bytes(SPF)))
    rig.collect()
    assert [p.payload[0] for p in rig.to(1)] == [0x55]
    assert rig.dests(2) == {intruder}


def test_hold_send_false_sends_nothing_recv_false_drops_and_disarms_timeout() -> None:
    rig = Rig()
    call(rig)
    rig.cmd(SetTimeout(1, 1.0), SetTimeout(2, 1.0))
    rig.configure(2, send=False, recv=True)  # leg 2's phone put us on hold (sendonly for it)
    rig.configure(1, send=True, recv=False)
    a, b = Stream(ssrc=1), Stream(ssrc=2)
    for _ in range(100):  # 2 s
        rig.rx(1, a.packet(bytes(SPF)))
        rig.rx(2, b.packet(bytes(SPF)))
        rig.step()
        rig.step()
    assert rig.to(2) == []  # send=False: nothing to leg 2
    assert len(rig.to(1)) == 100  # leg 1 still hears leg 2
    assert rig.eng.leg(1).dropped == 100  # type: ignore[union-attr]  # recv=False
    assert rig.of(RtpTimeout) == []  # leg 1 does not receive; leg 2 gets packets
    rig.configure(1)  # off hold
    rig.configure(2)
    rig.sent.clear()
    rig.rx(1, a.packet(bytes(SPF)))
    rig.rx(2, b.packet(bytes(SPF)))
    rig.collect()
    assert len(rig.to(1)) == 1 and len(rig.to(2)) == 1


def test_remote_zero_address_means_do_not_send() -> None:
    rig = Rig()
    call(rig)
    rig.configure(2, remote=("0.0.0.0", 4004))
    rig.rx(1, Stream(ssrc=1).packet(bytes(SPF)))
    rig.collect()
    assert rig.to(2) == []


# ----------------------------------------------------------------------------- RTP timeout


def test_rtp_timeout_fires_once_per_silence() -> None:
    rig = Rig(eng=MediaEngine(rtp_timeout=2.0, ssrc_source=Ids(random.Random(1)).ssrc))
    rig.leg(1)
    for _ in range(150):  # 1.5 s: not yet (counted from the ConfigureLeg)
        rig.step()
    assert rig.of(RtpTimeout) == []
    for _ in range(100):
        rig.step()
    assert rig.of(RtpTimeout) == [RtpTimeout(1, 2.0)]
    for _ in range(300):
        rig.step()
    assert len(rig.of(RtpTimeout)) == 1
    a = Stream(ssrc=1)
    rig.rx(1, a.packet(bytes(SPF)))  # media again: re-armed
    for _ in range(190):
        rig.step()
    assert len(rig.of(RtpTimeout)) == 1
    for _ in range(20):
        rig.step()
    assert len(rig.of(RtpTimeout)) == 2


def test_set_timeout_overrides_and_zero_turns_it_off() -> None:
    rig = Rig(eng=MediaEngine(rtp_timeout=1.0, ssrc_source=Ids(random.Random(1)).ssrc))
    rig.leg(1)
    rig.leg(2)
    rig.cmd(SetTimeout(1, 0), SetTimeout(2, 3.0))
    for _ in range(250):
        rig.step()
    assert rig.of(RtpTimeout) == []
    for _ in range(60):
        rig.step()
    assert rig.of(RtpTimeout) == [RtpTimeout(2, 3.0)]


# ----------------------------------------------------------------------------- decoded path


def test_transcoding_pcmu_to_pcma_and_back() -> None:
    rig = Rig()
    call(rig, codec_b="PCMA")
    tone_a, tone_b = sine(440, 1.0), sine(1200, 1.0)
    rig.run(1.0, {1: (Stream(ssrc=1), tone_a), 2: (Stream(ssrc=2, pt=8), tone_b)})
    to_b, to_a = rig.to(2), rig.to(1)
    assert {p.payload_type for p in to_b} == {8} and {p.payload_type for p in to_a} == {0}
    heard_b, heard_a = rig.heard(2), rig.heard(1)
    assert abs(dominant(steady(heard_b)) - 440) < 10
    assert abs(dominant(steady(heard_a)) - 1200) < 10
    # sample by sample, after the jitter buffer's delay (a whole number of frames)
    lag = next(k for k in range(10) if np.abs(
        heard_b[k * SPF:k * SPF + 800].astype(int) - tone_a[:800]).max() < 400)
    err = np.abs(heard_b[lag * SPF:lag * SPF + 4000].astype(int) - tone_a[:4000])
    assert err.max() < 400  # two G.711 quantizations of an 8000-peak sine
    seqs = [p.sequence for p in to_b]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    assert all((y.timestamp - x.timestamp) & 0xFFFFFFFF == SPF
               for x, y in itertools.pairwise(to_b))


def test_mix_sums_with_gains_and_saturates() -> None:
    rig = Rig()
    for leg in (1, 2, 3):
        rig.leg(leg)
    rig.cmd(Connect(1, 3), Connect(2, 3, gain=0.5))
    rig.run(0.5, {1: (Stream(ssrc=1), dc(3000, 0.5)), 2: (Stream(ssrc=2), dc(-4000, 0.5))})
    heard = steady(rig.heard(3))
    expect = int(ulaw_decode(ulaw_encode(np.int16(3000)))) + 0.5 * int(
        ulaw_decode(ulaw_encode(np.int16(-4000))))
    assert len(heard) > 10 * SPF
    assert np.all(np.abs(heard.astype(float) - expect) <= 0.04 * abs(expect) + 16)
    # overload: two loud sources clip at full scale instead of wrapping around
    rig2 = Rig()
    for leg in (1, 2, 3):
        rig2.leg(leg)
    rig2.cmd(Connect(1, 3), Connect(2, 3))
    rig2.run(0.5, {1: (Stream(ssrc=1), dc(30000, 0.5)), 2: (Stream(ssrc=2), dc(30000, 0.5))})
    loud = steady(rig2.heard(3))
    assert loud.min() == int(ulaw_decode(ulaw_encode(np.int16(32767))))
    rig3 = Rig()
    for leg in (1, 2, 3):
        rig3.leg(leg)
    rig3.cmd(Connect(1, 3), Connect(2, 3))
    rig3.run(0.5, {1: (Stream(ssrc=1), dc(-30000, 0.5)), 2: (Stream(ssrc=2), dc(-30000, 0.5))})
    assert steady(rig3.heard(3)).max() == int(ulaw_decode(ulaw_encode(np.int16(-32768))))


def test_bus_each_member_hears_the_others_but_not_itself() -> None:
    rig = Rig()
    levels = {1: 500, 2: 1000, 3: 2000, 4: 4000}
    for leg in levels:
        rig.leg(leg)
        rig.cmd(JoinBus(7, leg))
    rig.leg(5)
    rig.cmd(JoinBus(7, 5, talk=False))  # a listen-only member
    q = {leg: int(ulaw_decode(ulaw_encode(np.int16(v)))) for leg, v in levels.items()}
    rig.run(0.6, {leg: (Stream(ssrc=leg), dc(v, 0.6)) for leg, v in levels.items()})
    for leg in (*levels, 5):
        heard = steady(rig.heard(leg))
        expect = sum(q.values()) - q.get(leg, 0)
        assert len(heard) > 10 * SPF
        assert np.all(np.abs(heard.astype(float) - expect) <= 0.04 * expect), leg
    # leaving: the others stop hearing leg 4
    rig.cmd(LeaveBus(7, 4))
    rig.sent.clear()
    rig.run(0.4, {leg: (Stream(ssrc=10 + leg), dc(v, 0.4)) for leg, v in levels.items()})
    assert rig.to(4) == []
    heard1 = steady(rig.heard(1))
    assert np.all(np.abs(heard1.astype(float) - (q[2] + q[3])) <= 0.04 * (q[2] + q[3]))


def supervised(mode: str) -> dict[int, NDArray[np.int16]]:
    """Caller 1 and agent 2 in a call, supervisor 3 in ``mode``: what each hears."""
    rig = Rig()
    for leg in (1, 2, 3):
        rig.leg(leg)
    rig.cmd(Connect(1, 2), Connect(2, 1))
    rig.cmd(Connect(1, 3), Connect(2, 3))  # listen
    if mode in ("whisper", "barge"):
        rig.cmd(Connect(3, 2))
    if mode == "barge":
        rig.cmd(Connect(3, 1))
    freqs = {1: 400.0, 2: 1000.0, 3: 2500.0}
    rig.run(0.8, {leg: (Stream(ssrc=leg), sine(f, 0.8, 4000)) for leg, f in freqs.items()})
    return {leg: steady(rig.heard(leg)) for leg in (1, 2, 3)}


def tones_in(audio: NDArray[np.int16]) -> set[int]:
    spec = np.abs(np.fft.rfft(audio.astype(float) * np.hanning(len(audio))))
    found = set()
    for f in (400, 1000, 2500):
        k = round(f * len(audio) / 8000)
        if spec[k - 2:k + 3].max() > 0.05 * spec.max():
            found.add(f)
    return found


@pytest.mark.parametrize(("mode", "caller", "agent", "sup"), [
    ("listen", {1000}, {400}, {400, 1000}),
    ("whisper", {1000}, {400, 2500}, {400, 1000}),
    ("barge", {1000, 2500}, {400, 2500}, {400, 1000}),
])
def test_supervisor_listen_whisper_barge(mode: str, caller: set[int], agent: set[int],
                                         sup: set[int]) -> None:
    heard = supervised(mode)
    assert tones_in(heard[1]) == caller
    assert tones_in(heard[2]) == agent
    assert tones_in(heard[3]) == sup


# ----------------------------------------------------------------------------- players


def test_play_samples_replaces_the_source_then_relay_resumes() -> None:
    rig = Rig()
    call(rig)
    prompt = sine(700, 0.1)  # 5 frames
    a = Stream(ssrc=1)
    rig.rx(1, a.packet(b"\x01" * SPF))
    rig.step()
    rig.cmd(Play(2, 42, PlaySamples(prompt)))
    for _ in range(8):
        rig.rx(1, a.packet(b"\x01" * SPF))
        rig.step()
        rig.step()
    got = rig.to(2)
    played = [p for p in got if p.payload[0] != 1 or len(set(p.payload)) > 1]
    assert len(played) == 5
    audio = np.concatenate([ulaw_decode(p.payload) for p in played])
    assert np.abs(audio.astype(int) - prompt).max() < 300
    assert rig.of(PlayDone) == [PlayDone(2, 42, "end")]
    # relay took over again, continuing seq and timestamps
    assert got[-1].payload == b"\x01" * SPF
    seqs = [p.sequence for p in got]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    assert all(0 < (y.timestamp - x.timestamp) & 0xFFFFFFFF <= 2 * SPF
               for x, y in itertools.pairwise(got))


def test_play_bytes_loop_and_stop() -> None:
    rig = Rig()
    rig.leg(1)
    prompt = sine(500, 0.03)  # 240 samples: not a whole number of frames
    rig.cmd(Play(1, 5, PlaySamples(prompt.astype("<i2").tobytes()), loop=True))
    for _ in range(40):
        rig.step()
    assert rig.of(PlayDone) == []
    audio = rig.heard(1)
    assert len(audio) == 20 * SPF
    assert np.abs(audio[:720].astype(int) - np.tile(prompt, 3)).max() < 200
    rig.cmd(StopPlay(1, 99))  # another play id: nothing
    rig.cmd(StopPlay(1, 5))
    rig.collect()
    n = len(rig.to(1))
    for _ in range(10):
        rig.step()
    assert rig.of(PlayDone) == [PlayDone(1, 5, "stopped")]
    assert len(rig.to(1)) == n  # nothing to send any more


def test_play_replaced_mix_tones_and_errors() -> None:
    rig = Rig()
    call(rig)
    rig.cmd(Play(2, 1, PlayTone("ringback")), Play(2, 2, PlayTone("1000hz")))
    rig.cmd(Play(2, 3, PlayTone("nosuchtone")), Play(2, 4, PlayFile("/x.wav")))
    assert rig.eng.events()[-3:] == [PlayDone(2, 1, "replaced"), PlayDone(2, 3, "error"),
                                     PlayDone(2, 4, "error")]
    for _ in range(50):
        rig.step()
    assert abs(dominant(rig.heard(2)) - 1000) < 10
    # mix: the tone is added to the caller's audio instead of replacing it
    rig.sent.clear()
    rig.cmd(Play(2, 6, PlayTone("300hz"), mix=True))
    rig.run(0.6, {1: (Stream(ssrc=1), sine(1500, 0.6, 8000))})
    heard = steady(rig.heard(2))
    spec = np.abs(np.fft.rfft(heard.astype(float) * np.hanning(len(heard))))
    k300, k1500 = (round(f * len(heard) / 8000) for f in (300, 1500))
    assert spec[k300] > 0.1 * spec.max() and spec[k1500] > 0.1 * spec.max()


def test_tone_with_a_finite_cadence_ends() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Play(1, 8, PlaySamples(np.zeros(0, np.int16))))
    rig.step()
    assert rig.of(PlayDone) == [PlayDone(1, 8, "end")]


def test_destroying_a_playing_leg_stops_its_player() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Play(1, 3, PlayTone("busy")), DestroyLeg(1))
    ev = rig.eng.events()
    assert PlayDone(1, 3, "stopped") in ev and any(isinstance(e, LegStats) for e in ev)


# ----------------------------------------------------------------------------- DTMF


def send_rfc4733(rig: Rig, leg: int, stream: Stream, key: str, *,
                 with_audio: bool = False, events: bool = True) -> None:
    """A key press as RFC 4733 packets (3 end retransmissions), optionally also audible
    (the tone in the audio packets, interleaved with the events; ``events=False``: only
    the audio)."""
    start_ts = stream.ts
    pkts = DtmfEventSender().packets(key, timestamp=start_ts, duration=0.1)
    audio = ToneGenerator(dtmf_spec(key, on=0.1, off=0.1)).read(len(pkts) * SPF + 4 * SPF)
    te = Stream(ssrc=stream.ssrc, pt=stream.te_pt, seq=stream.seq)
    for i, p in enumerate(pkts):
        if with_audio:
            rig.rx(leg, stream.packet(ulaw_encode(audio[i * SPF:(i + 1) * SPF]).tobytes()))
            te.seq = stream.seq
        te.ts = p.timestamp
        if events:
            rig.rx(leg, te.packet(p.payload, marker=p.marker))
            stream.seq = te.seq
        if not with_audio:
            stream.ts += SPF
        rig.step()
        rig.step()


def test_rfc4733_one_digit_per_press() -> None:
    rig = Rig()
    rig.leg(1)
    rig.leg(2)
    rig.cmd(Detect(1, inband=False))
    a, b = Stream(ssrc=1), Stream(ssrc=2)
    for key in "19#":
        send_rfc4733(rig, 1, a, key)
        send_rfc4733(rig, 2, b, key)  # leg 2 does not detect
        for _ in range(10):
            rig.step()
    digits = rig.of(Digit)
    assert digits == [Digit(1, k, "rfc4733", 100) for k in "19#"]


def test_rfc4733_press_without_end_packets_ends_by_timeout() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Detect(1, inband=False))
    te = Stream(ssrc=1, pt=101)
    for p in DtmfEventSender().packets("7", timestamp=8000, duration=0.1)[:3]:
        te.ts = p.timestamp
        rig.rx(1, te.packet(p.payload, marker=p.marker))
        rig.step()
        rig.step()
    assert rig.of(Digit) == []
    for _ in range(60):
        rig.step()
    assert [(d.key, d.method) for d in rig.of(Digit)] == [("7", "rfc4733")]  # type: ignore


def test_inband_digits() -> None:
    rig = Rig()
    rig.leg(1, "PCMA")
    rig.cmd(Detect(1, inband=True))
    audio = np.concatenate([ToneGenerator(dtmf_spec(k, on=0.08, off=0.08)).read(1280)
                            for k in "2580*"] + [np.zeros(1600, np.int16)])
    rig.run(len(audio) / 8000, {1: (Stream(ssrc=1, pt=8), audio)})
    rig.run(0.2)
    assert rig.of(Digit) == [Digit(1, k, "inband") for k in "2580*"]


def both_methods(events: bool) -> list[tuple[str, str]]:
    """Keys 4 and 6 sent as audible tones and (``events``) RFC 4733 events: the digits."""
    rig = Rig()
    rig.leg(1)
    rig.cmd(Detect(1, inband=True))
    a = Stream(ssrc=1)
    for key in "46":
        send_rfc4733(rig, 1, a, key, with_audio=True, events=events)
        for _ in range(20):
            rig.rx(1, a.packet(ulaw_encode(np.zeros(SPF, np.int16)).tobytes()))
            rig.step()
            rig.step()
    return [(d.key, d.method) for d in rig.of(Digit)]  # type: ignore[attr-defined]


def test_one_digit_stream_when_a_phone_sends_rfc4733_and_tones() -> None:
    # the tones alone are detected ...
    assert both_methods(False) == [("4", "inband"), ("6", "inband")]
    # ... but with the events too, each press is reported once
    assert both_methods(True) == [("4", "rfc4733"), ("6", "rfc4733")]
    rig = Rig()
    rig.leg(1)
    rig.cmd(Detect(1, inband=True))
    a = Stream(ssrc=1, seq=5000, ts=90_000)
    # tones alone are still heard in-band
    audio = ToneGenerator(dtmf_spec("9", on=0.1, off=0.2)).read(2400)
    rig.run(0.3, {1: (Stream(ssrc=1, seq=a.seq, ts=a.ts), audio)})
    rig.run(0.2)
    assert [(d.key, d.method) for d in rig.of(Digit)][-1] == ("9", "inband")  # type: ignore


def test_send_digit_emits_rfc4733_on_the_leg_stream() -> None:
    rig = Rig()
    call(rig)
    rig.cmd(SendDigit(1, "5", 100), SendDigit(1, "#", 60))
    for _ in range(60):
        rig.step()
    events = [p for p in rig.to(1) if p.payload_type == 101]
    assert len(events) == 7 + 5
    assert {p.ssrc for p in events} == {rig.eng.leg(1).ssrc}  # type: ignore[union-attr]
    seqs = [p.sequence for p in events]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    rx = DtmfEventReceiver()
    for i, p in enumerate(events):
        rx.receive(p.payload, timestamp=p.timestamp, marker=p.marker, now=i * 0.02)
    got = [e for e in rx.events() if isinstance(e, DtmfDigit)]
    assert [(d.key, round(d.duration_ms)) for d in got] == [("5", 100), ("#", 60)]
    assert events[0].marker and events[7].marker
    # a leg without telephone-event sends nothing
    rig.leg(3, te_pt=None)
    rig.cmd(SendDigit(3, "1"))
    for _ in range(20):
        rig.step()
    assert rig.to(3) == []


# ----------------------------------------------------------------------------- recording


def test_recording_has_one_column_per_leg_and_pause_writes_silence() -> None:
    rig = Rig()
    call(rig)
    rig.cmd(StartRecord(9, "/rec/9.wav", (1, 2)))
    a = Stream(ssrc=1)
    audio = sine(600, 2.0, 5000)
    chunks: list[NDArray[np.int16]] = []
    for k in range(100):  # 1 s: leg 1 talks, leg 2 is silent
        if k % 2 == 0:
            rig.rx(1, a.packet(next_frame(audio, a) or b""))
        if k == 60:
            rig.cmd(PauseRecord(9))
        if k == 80:
            rig.cmd(ResumeRecord(9))
        rig.step()
        for rec_id, chunk in rig.eng.recorded():
            assert rec_id == 9 and chunk is not None
            chunks.append(chunk)
    rig.cmd(StopRecord(9))
    tail = rig.eng.recorded()
    assert tail[-1] == (9, None)
    chunks += [c for _, c in tail[:-1] if c is not None]
    rec = np.concatenate(chunks)
    assert rec.dtype == np.int16 and rec.shape == (50 * SPF, 2)
    assert not rec[:, 1].any()  # leg 2 sent nothing: silence
    col = rec[:, 0]
    paused = col[31 * SPF:40 * SPF]
    assert not paused.any()
    talking = col[6 * SPF:29 * SPF]
    assert abs(dominant(talking) - 600) < 10 and np.abs(talking).max() > 4000
    assert np.abs(col[42 * SPF:]).max() > 4000  # resumed
    assert rig.eng.recorded() == []
    # the worker says where the silence begins and ends, counted in the file's own samples
    # (a pause or resume of a recording already so reports nothing)
    rig.collect()
    marks = [e for e in rig.events if isinstance(e, RecordPauseMark)]
    zero = np.concatenate(([0], (col == 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(zero))  # starts and ends of the runs of zeros
    runs = sorted(zip(edges[0::2], edges[1::2], strict=True), key=lambda r: r[0] - r[1])
    first, last = runs[0]  # the longest run: the paused span
    # (the run may end a sample or two late: the sine resumes near a zero crossing)
    assert [(m.rec_id, m.path, m.paused) for m in marks] == [(9, "/rec/9.wav", True),
                                                              (9, "/rec/9.wav", False)]
    assert marks[0].seconds == first / 8000
    assert marks[1].seconds == pytest.approx(last / 8000, abs=2 / 8000)


def recording_of(rig: Rig, rec_id: int, seconds: float,
                 feeds: dict[int, tuple[Stream, NDArray[np.int16]]]) -> NDArray[np.int16]:
    """Run ``seconds`` with ``feeds``, stop recording ``rec_id``: its audio."""
    chunks: list[NDArray[np.int16]] = []
    rig.run(seconds, feeds)
    rig.cmd(StopRecord(rec_id))
    got = rig.eng.recorded()
    assert got[-1] == (rec_id, None)
    chunks += [c for r, c in got if r == rec_id and c is not None]
    return np.concatenate(chunks)


def test_a_bus_recording_is_one_channel_mixing_whoever_talks_on_the_bus() -> None:
    rig = Rig()
    freqs = {1: 500.0, 2: 1100.0, 3: 1900.0}
    for leg in freqs:
        rig.leg(leg)
    rig.cmd(JoinBus(7, 1), JoinBus(7, 2))
    rig.leg(4)
    rig.cmd(JoinBus(8, 4))  # another room: never in this recording
    rig.cmd(StartRecord(5, "/rec/room.wav", (), bus=7))
    assert StartRecord(5, "/rec/room.wav", (), bus=7).channels == 1
    audio = {leg: sine(f, 3.0, 4000) for leg, f in freqs.items()}
    feeds = {leg: (Stream(ssrc=leg), audio[leg]) for leg in freqs}
    feeds[4] = (Stream(ssrc=4), sine(3100, 3.0, 4000))
    rig.run(1.0, feeds)
    rig.cmd(JoinBus(7, 3))  # a third member joins after a second
    rig.run(1.0, feeds)
    rig.cmd(JoinBus(7, 1, talk=False))  # leg 1 muted for the last second
    rec = recording_of(rig, 5, 1.0, feeds)
    assert rec.shape == (150 * SPF, 1)
    mono = rec[:, 0]

    def present(part: NDArray[np.int16]) -> set[int]:
        spec = np.abs(np.fft.rfft(part.astype(float) * np.hanning(len(part))))
        hz = np.fft.rfftfreq(len(part), 1 / 8000)
        peak = spec.max()
        return {int(f) for f in (500, 1100, 1900, 3100)
                if spec[np.abs(hz - f) < 15].max() > 0.2 * peak}

    assert present(mono[10 * SPF:48 * SPF]) == {500, 1100}
    assert present(mono[60 * SPF:98 * SPF]) == {500, 1100, 1900}
    assert present(mono[110 * SPF:148 * SPF]) == {1100, 1900}


def test_a_bus_recording_saturates_and_records_silence_for_an_empty_bus() -> None:
    rig = Rig()
    for leg in (1, 2):
        rig.leg(leg)
        rig.cmd(JoinBus(7, leg))
    rig.cmd(StartRecord(5, "/rec/room.wav", (1,), bus=7))  # a leg channel and the bus mix
    feeds = {leg: (Stream(ssrc=leg), dc(30000, 1.0)) for leg in (1, 2)}
    rig.run(0.5, feeds)
    rig.cmd(LeaveBus(7, 1), LeaveBus(7, 2))
    rec = recording_of(rig, 5, 0.5, feeds)
    assert rec.shape == (50 * SPF, 2)
    loud = rec[10 * SPF:24 * SPF, 1]
    assert loud.min() == 32767  # two near-full-scale talkers clip instead of wrapping
    assert np.abs(rec[10 * SPF:24 * SPF, 0] - 30000).max() < 2000  # leg 1 alone
    assert not rec[30 * SPF:, 1].any()  # nobody on the bus: silence


def test_shutdown_closes_recordings_and_destroys_legs() -> None:
    rig = Rig()
    call(rig)
    rig.cmd(StartRecord(1, "/rec/1.wav", (1, 2)), StartRecord(2, "/rec/2.wav", (2,)))
    for _ in range(10):
        rig.step()
    rig.cmd(Shutdown())
    rec = rig.eng.recorded()
    assert [r for r, c in rec if c is None] == [1, 2]
    sizes = {r: sum(len(c) for rr, c in rec if rr == r and c is not None) for r in (1, 2)}
    assert sizes == {1: 5 * SPF, 2: 5 * SPF}
    assert {e.leg for e in rig.eng.events() if isinstance(e, LegStats)} == {1, 2}


# ----------------------------------------------------------------------------- RTCP


def test_rtcp_reports_and_round_trip_time() -> None:
    rig = Rig(eng=MediaEngine(ssrc_source=Ids(random.Random(3)).ssrc, wall_offset=1.7e9))
    call(rig)
    a, b = Stream(ssrc=0xA), Stream(ssrc=0xB)
    reports: list[tuple[int, bytes, Addr]] = []
    sent_then: list[tuple[int, float]] = []  # (packets sent, time) when leg 1 reported
    for k in range(800):  # 8 s
        if k % 2 == 0:
            rig.rx(1, a.packet(bytes(SPF)))
            rig.rx(2, b.packet(bytes(SPF)))
        if k == 100:  # the phone on leg 1 sends an SR
            msw, lsw = ntp_from_unix(5000.0)
            sr = SenderReport(ssrc=0xA, ntp_msw=msw, ntp_lsw=lsw, rtp_timestamp=0,
                              packet_count=50, octet_count=8000)
            rig.eng.receive_rtcp(1, build_rtcp([sr]), nat(1), rig.t)
            sr_at = rig.t
        now = rig.t
        rig.step()
        out = rig.eng.rtcp_outbox()
        reports += out
        sent_then += [(rig.eng.leg(1).sent, now) for leg, _, _ in out if leg == 1]  # type: ignore
    per_leg = {leg for leg, _, _ in reports}
    assert per_leg == {1, 2}
    leg1 = [(parse_rtcp(d), dest) for leg, d, dest in reports if leg == 1]
    assert 1 <= len(leg1) <= 2
    packets, dest = leg1[-1]
    assert dest == nat(1)  # RTCP latched on where the phone's SR came from
    assert {dest for leg, _, dest in reports if leg == 2} == {(phone(2)[0], phone(2)[1] + 1)}
    sr_out, sdes = packets
    assert isinstance(sr_out, SenderReport) and isinstance(sdes, SourceDescription)
    assert sr_out.ssrc == rig.eng.leg(1).ssrc  # type: ignore[union-attr]
    assert sr_out.packet_count == sent_then[-1][0] > 0
    block = sr_out.reports[0]
    assert block.ssrc == 0xA and block.cumulative_lost == 0
    assert block.lsr == ntp_middle(*ntp_from_unix(5000.0))
    assert block.dlsr == round((sent_then[-1][1] - sr_at) * 65536)
    # the phone answers with an RR about our stream, 30 ms after our SR: RTT 30 ms
    ours = ntp_middle(sr_out.ntp_msw, sr_out.ntp_lsw)
    sent_at = sent_then[-1][1]
    rr = ReceiverReport(ssrc=0xA, reports=(ReportBlock(
        ssrc=sr_out.ssrc, lsr=ours, dlsr=round(0.02 * 65536)),))
    rig.t = sent_at + 0.05
    rig.eng.receive_rtcp(1, build_rtcp([rr]), nat(1), rig.t)
    rtt = rig.eng.leg(1).rtt  # type: ignore[union-attr]
    assert rtt is not None and abs(rtt - 0.03) < 0.002
    assert rig.eng.stats.rtcp_in == 2
    rig.eng.receive_rtcp(1, b"\x80\xc9\x00", nat(1), rig.t)  # invalid: counted
    assert rig.eng.leg(1).invalid == 1  # type: ignore[union-attr]


def test_rtcp_muxed_on_the_rtp_port_is_routed() -> None:
    rig = Rig()
    rig.leg(1)
    rr = build_rtcp([ReceiverReport(ssrc=0xA)])
    rig.rx(1, rr)
    st = rig.eng.stats
    assert (st.packets_in, st.rtcp_in, st.dropped) == (0, 1, 0)


# ----------------------------------------------------------------------------- frame clock


def test_frames_follow_their_own_clock_and_catch_up_a_little() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Play(1, 1, PlayTone("dial")), StartRecord(4, "/r.wav", (1,)))
    for _ in range(20):  # 200 ms of 10 ms ticks: 10 frames
        rig.step()
    assert len(rig.to(1)) == 10
    rig.t += 0.065  # a late tick: 4 frames due, 3 made, 1 skipped
    rig.step()
    st = rig.eng.stats
    assert len(rig.to(1)) == 13 and st.frames_late == 2 and st.frames_skipped == 1
    got = rig.to(1)
    assert (got[-1].timestamp - got[-2].timestamp) & 0xFFFFFFFF == SPF
    rig.step()
    rig.step()
    got = rig.to(1)
    assert (got[-1].timestamp - got[-2].timestamp) & 0xFFFFFFFF == 2 * SPF  # the skip
    rig.cmd(StopRecord(4))  # the recording kept time: silence for the skipped frame
    assert sum(len(c) for _, c in rig.eng.recorded() if c is not None) == 15 * SPF


def test_unconfigured_and_unknown_payload_types_are_counted() -> None:
    rig = Rig()
    rig.eng.add_leg(1, 20000)
    rig.rx(1, Stream(ssrc=1).packet(bytes(SPF)))  # not configured yet
    rig.configure(1)
    rig.rx(1, Stream(ssrc=1, pt=18).packet(bytes(20)))  # G.729: not negotiated
    leg = rig.eng.leg(1)
    assert leg is not None and leg.ignored == 2 and leg.latched is None
    rig.rx(1, Stream(ssrc=1).packet(bytes(SPF)))
    assert leg.latched == nat(1) and leg.rx_packets == 1
    assert rig.eng.stats.dropped == 2


def test_mixed_sink_forwards_telephone_events_of_its_one_source() -> None:
    rig = Rig()
    call(rig, codec_b="PCMA")  # transcoded: a decoded sink
    a = Stream(ssrc=1)
    send_rfc4733(rig, 1, a, "3")
    evs = [p for p in rig.to(2) if p.payload_type == 101]
    assert len(evs) == 7 and len({p.timestamp for p in evs}) == 1
    rx = DtmfEventReceiver()
    for i, p in enumerate(evs):
        rx.receive(p.payload, timestamp=p.timestamp, marker=p.marker, now=i * 0.02)
    assert [e.key for e in rx.events() if isinstance(e, DtmfDigit)] == ["3"]


def test_tone_presets_are_playable() -> None:
    rig = Rig()
    rig.leg(1)
    rig.cmd(Play(1, 1, PlayTone("busy_eu")))
    for _ in range(30):
        rig.step()
    heard = rig.heard(1)
    assert abs(dominant(heard) - 425) < 15
    assert np.abs(heard).max() < np.abs(ToneGenerator(tone(425.0, level_dbm0=-10)).read(800)).max()


# ----------------------------------------------------------------------------- G.722 and Opus


class FakeCodec:
    """A ``FrameCodec`` stand-in: payloads are the 8 kHz samples as little-endian int16 (the
    engine must not care what the bytes are); calls are counted."""

    def __init__(self, names: frozenset[str] = frozenset({"G722", "opus"})) -> None:
        self.names = names
        self.decoded: list[tuple[int, str]] = []
        self.encoded: list[tuple[int, str, int]] = []
        self.dropped: list[int] = []

    def supports(self, codec: str) -> bool:
        return codec in self.names

    def decode(self, leg: int, codec: str, payload: bytes) -> NDArray[np.int16]:
        self.decoded.append((leg, codec))
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)

    def encode(self, leg: int, codec: str, pcm: NDArray[np.int16]) -> bytes:
        self.encoded.append((leg, codec, len(pcm)))
        return pcm.astype("<i2").tobytes()

    def drop(self, leg: int) -> None:
        self.dropped.append(leg)


def codec_rig(codecs: FakeCodec | None) -> Rig:
    return Rig(eng=MediaEngine(ssrc_source=Ids(random.Random(7)).ssrc, codecs=codecs))


def feed_wide(rig: Rig, leg: int, audio: NDArray[np.int16], *, pt: int, ticks: int,
              ssrc: int = 0x5151) -> None:
    """Send ``audio`` to ``leg`` as fake-codec packets of 20 ms (``ticks`` RTP ticks each),
    ticking the engine every 10 ms."""
    seq, ts = 700, 90_000
    for k in range(len(audio) // SPF * 2):
        if k % 2 == 0:
            frame = audio[k // 2 * SPF:(k // 2 + 1) * SPF].astype("<i2").tobytes()
            rig.rx(leg, build_rtp(payload_type=pt, sequence=seq, timestamp=ts, ssrc=ssrc,
                                  payload=frame))
            seq += 1
            ts += ticks
        rig.step()


def test_same_wide_codec_on_both_legs_is_relayed_without_any_codec() -> None:
    rig = codec_rig(None)  # no PyAV in the loop at all
    rig.leg(1, "G722", pt=9)
    rig.leg(2, "G722", pt=9)
    rig.cmd(Connect(1, 2), Connect(2, 1))
    payload = bytes(range(160))  # real G.722 or not: relayed as it is
    for i in range(5):
        rig.rx(1, build_rtp(payload_type=9, sequence=10 + i, timestamp=1000 + 160 * i,
                            ssrc=77, payload=payload))
    rig.collect()
    out = rig.to(2)
    assert [p.payload for p in out] == [payload] * 5
    assert [p.payload_type for p in out] == [9] * 5
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(out)]
    assert steps == [160] * 4


def test_opus_relay_keeps_48k_timestamps_and_maps_payload_types() -> None:
    rig = codec_rig(None)
    rig.leg(1, "opus", pt=111, te_pt=110)
    rig.leg(2, "opus", pt=96, te_pt=101)
    rig.cmd(Connect(1, 2), Connect(2, 1))
    for i in range(4):
        rig.rx(1, build_rtp(payload_type=111, sequence=i, timestamp=960 * i, ssrc=5,
                            payload=b"\x78" * (60 + i)))
        rig.t = round(rig.t + 0.02, 6)
    rig.collect()
    out = rig.to(2)
    assert [p.payload_type for p in out] == [96] * 4
    assert [len(p.payload) for p in out] == [60, 61, 62, 63]
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(out)]
    assert steps == [960] * 3


def test_g722_to_pcmu_is_transcoded_through_the_injected_codec() -> None:
    fake = FakeCodec()
    rig = codec_rig(fake)
    rig.leg(1, "G722", pt=9)
    rig.leg(2, "PCMU")
    rig.cmd(Connect(1, 2), Connect(2, 1))
    feed_wide(rig, 1, sine(440, 1.0), pt=9, ticks=160)
    heard = steady(rig.heard(2))
    assert abs(dominant(heard) - 440) < 10
    assert 0.8 < np.sqrt(np.mean(heard.astype(float) ** 2)) / (8000 / np.sqrt(2)) < 1.2
    assert {c for _, c in fake.decoded} == {"G722"}
    # the other way: PCMU from leg 2 is encoded for leg 1, 160 samples, 160 ticks a frame
    rig.run(0.5, {2: (Stream(ssrc=9), sine(1000, 0.5))})
    to_a = [p for p in rig.to(1) if p.payload_type == 9]
    assert to_a and {n for leg, _, n in fake.encoded if leg == 1} == {SPF}
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(to_a)} == {160}
    got = np.concatenate([np.frombuffer(p.payload, "<i2") for p in to_a[-10:]])
    assert abs(dominant(got) - 1000) < 10


def test_opus_leg_gets_960_ticks_a_frame_and_decodes_48k_clock_packets() -> None:
    fake = FakeCodec()
    rig = codec_rig(fake)
    rig.leg(1, "opus", pt=111, te_pt=None)
    rig.leg(2, "PCMA")
    rig.cmd(Connect(1, 2), Connect(2, 1))
    feed_wide(rig, 1, sine(600, 1.0), pt=111, ticks=960)
    assert abs(dominant(steady(rig.heard(2))) - 600) < 10
    rig.cmd(Play(1, 5, PlayTone("1000hz")))
    rig.run(0.4)
    to_a = [p for p in rig.to(1) if p.payload_type == 111]
    assert len(to_a) >= 15
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(to_a)} == {960}


def test_recording_a_g722_leg_keeps_one_frame_of_samples_per_frame() -> None:
    rig = codec_rig(FakeCodec())
    rig.leg(1, "G722", pt=9)
    rig.leg(2, "G722", pt=9)
    rig.cmd(Connect(1, 2), Connect(2, 1), StartRecord(4, "r.wav", (1, 2)))
    feed_wide(rig, 1, sine(500, 1.0), pt=9, ticks=160)
    frames = rig.eng.stats.frames
    rig.cmd(StopRecord(4))
    rig.step()
    chunks = [c for rid, c in rig.eng.recorded() if rid == 4 and c is not None]
    audio = np.concatenate(chunks)
    assert audio.shape == (frames * SPF, 2)
    assert abs(dominant(audio[-4000:, 0]) - 500) < 10
    assert not audio[:, 1].any()
    assert len(rig.to(2)) >= 45  # still relayed, recording or not


def test_without_a_codec_a_wide_leg_is_silent_and_sends_no_mixed_audio() -> None:
    rig = codec_rig(FakeCodec(frozenset()))  # PyAV without G.722
    rig.leg(1, "G722", pt=9)
    rig.leg(2, "PCMU")
    rig.cmd(Connect(1, 2), Connect(2, 1))
    feed_wide(rig, 1, sine(440, 0.5), pt=9, ticks=160)
    rig.run(0.3, {2: (Stream(ssrc=9), sine(1000, 0.3))})
    assert not [p for p in rig.to(1) if p.payload_type == 9]
    assert not rig.heard(2)[-800:].any()


def test_changing_codec_or_destroying_a_leg_drops_its_codec_state() -> None:
    fake = FakeCodec()
    rig = codec_rig(fake)
    rig.leg(1, "G722", pt=9)
    fake.dropped.clear()
    rig.configure(1, "G722", pt=9)  # re-INVITE, same codec: the state stays
    assert fake.dropped == []
    rig.configure(1, "opus", pt=111)
    assert fake.dropped == [1]
    rig.cmd(DestroyLeg(1))
    assert fake.dropped == [1, 1]
