"""The media engine's contract under hypothesis.

- Any bytes on a leg's RTP or RTCP socket: never an exception, every datagram counted (taken
  in, or dropped with a reason on the leg).
- A relayed stream, whatever the source does (losses, duplicates, reordering, sequence jumps,
  SSRC changes): one SSRC out, sequence numbers +1 each, payloads unchanged.
- Any sequence of commands, packets and ticks: no exception, every datagram out is valid RTP
  of a live leg, each play ends at most once, each recording closes at most once and its
  chunks have as many channels as it has legs.
- Recompiling only the legs a relay-only change touched gives the modes, relays, decode
  slots, datagrams and events of recompiling every leg.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ids import Ids
from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    Detect,
    Disconnect,
    JoinBus,
    LeaveBus,
    PauseRecord,
    Play,
    PlayDone,
    PlaySamples,
    PlayTone,
    ResumeRecord,
    SendDigit,
    SetTimeout,
    StartRecord,
    StopPlay,
    StopRecord,
)
from ccswitch.media.engine import MediaEngine
from ccswitch.media.rtp import build_rtp, parse_rtp

SRC = ("192.0.2.1", 4000)


def engine() -> MediaEngine:
    eng = MediaEngine(ssrc_source=Ids(random.Random(0)).ssrc)
    for leg, codec, pt in ((1, "PCMU", 0), (2, "PCMA", 8), (3, "PCMU", 0)):
        eng.add_leg(leg, 20000 + 2 * leg)
        eng.command(ConfigureLeg(leg, "10.0.0.1", 5000 + leg, 5001 + leg, codec, pt, 101),
                    0.0)
    eng.command(Connect(1, 3), 0.0)
    eng.command(Connect(1, 2), 0.0)
    eng.command(Detect(1, inband=True), 0.0)
    return eng


def accounted(eng: MediaEngine) -> int:
    """Datagrams the legs took in or dropped (one or the other, once)."""
    total = 0
    for leg in (1, 2, 3):
        L = eng.leg(leg)
        assert L is not None
        total += L.rx_packets + L.dropped
    return total


@st.composite
def mutated_rtp(draw: st.DrawFn) -> bytes:
    """A valid packet of the leg's payload types with some octets overwritten or cut."""
    data = bytearray(build_rtp(
        payload_type=draw(st.sampled_from([0, 8, 101, 13])), sequence=draw(st.integers(0, 9)),
        timestamp=draw(st.integers(0, 2**32 - 1)), ssrc=draw(st.integers(0, 3)),
        payload=draw(st.binary(max_size=170)), marker=draw(st.booleans()),
        padding=draw(st.integers(0, 8))))
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[:draw(st.integers(0, len(data)))])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), mutated_rtp()), max_size=20), st.booleans())
def test_any_bytes_are_counted_and_never_raise(datagrams: list[bytes], rtcp: bool) -> None:
    eng = engine()
    t = 0.0
    for data in datagrams:
        if rtcp:
            eng.receive_rtcp(1, data, SRC, t)
        else:
            eng.receive(1, data, SRC, t)
        t += 0.005
        eng.tick(t)
    st_ = eng.stats
    if rtcp:
        assert st_.rtcp_in == len(datagrams)
    else:
        assert st_.packets_in + st_.rtcp_in == len(datagrams)
        assert accounted(eng) == st_.packets_in
    for _, data, _ in eng.outbox():
        parse_rtp(data)


@st.composite
def source_streams(draw: st.DrawFn) -> list[tuple[int, int, int, int]]:
    """(ssrc, seq, ts, payload byte) of packets: runs with jumps, dups, swaps, new SSRCs."""
    out = []
    ssrc, seq, ts = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 65535)), 0
    for i in range(draw(st.integers(1, 60))):
        step = draw(st.sampled_from([1, 1, 1, 1, 2, 0, -1, 500, 40000]))
        if draw(st.integers(0, 20)) == 0:
            ssrc = draw(st.integers(0, 2**32 - 1))
        seq = (seq + step) & 0xFFFF
        ts = (ts + 160 * step) & 0xFFFFFFFF
        out.append((ssrc, seq, ts, i & 0xFF))
    return out


@settings(max_examples=200, deadline=None)
@given(source_streams())
def test_relay_output_is_one_continuous_stream(packets: list[tuple[int, int, int, int]]) -> None:
    eng = engine()
    t = 0.0
    for ssrc, seq, ts, b in packets:
        eng.receive(1, build_rtp(payload_type=0, sequence=seq, timestamp=ts, ssrc=ssrc,
                                 payload=bytes([b]) * 160), SRC, t)
        t += 0.02
        eng.tick(t)
    relayed = [parse_rtp(d) for leg, d, _ in eng.outbox() if leg == 3]
    assert len({p.ssrc for p in relayed}) <= 1
    seqs = [p.sequence for p in relayed]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    sent = {bytes([b]) * 160 for *_, b in packets}
    assert all(p.payload in sent for p in relayed)
    assert len(relayed) <= len(packets)


commands = st.one_of(
    st.builds(Connect, st.integers(1, 4), st.integers(1, 4),
              st.sampled_from([1.0, 0.5, 2.0])),
    st.builds(Disconnect, st.integers(1, 4), st.integers(1, 4)),
    st.builds(JoinBus, st.integers(1, 2), st.integers(1, 4), st.booleans(), st.booleans()),
    st.builds(LeaveBus, st.integers(1, 2), st.integers(1, 4)),
    st.builds(Play, st.integers(1, 4), st.integers(1, 5),
              st.one_of(st.builds(PlayTone, st.sampled_from(["busy", "1000hz", "bad"])),
                        st.builds(PlaySamples, st.integers(0, 400).map(
                            lambda n: np.ones(n, np.int16)))),
              st.booleans(), st.booleans()),
    st.builds(StopPlay, st.integers(1, 4), st.one_of(st.none(), st.integers(1, 5))),
    st.builds(StartRecord, st.integers(1, 3), st.just("/r.wav"),
              st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)),
    st.builds(PauseRecord, st.integers(1, 3)),
    st.builds(ResumeRecord, st.integers(1, 3)),
    st.builds(StopRecord, st.integers(1, 3)),
    st.builds(Detect, st.integers(1, 4), st.booleans()),
    st.builds(SendDigit, st.integers(1, 4), st.sampled_from(["1", "#", "x"])),
    st.builds(SetTimeout, st.integers(1, 4), st.sampled_from([0.0, 0.05, 1.0])),
    st.builds(DestroyLeg, st.integers(1, 4)),
    st.builds(ConfigureLeg, st.integers(1, 4), st.sampled_from(["10.0.0.9", None]),
              st.just(6000), st.just(6001), st.sampled_from(["PCMU", "PCMA"]),
              st.sampled_from([0, 8]), st.sampled_from([None, 101]), st.sampled_from([20, 30]),
              st.booleans(), st.booleans()),
)

steps = st.one_of(commands, st.sampled_from(["tick", "rtp", "te", "skip"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=60))
def test_any_command_sequence_keeps_the_contract(script: list[object]) -> None:
    eng = engine()
    t, seq = 0.0, 0
    done: list[tuple[int, int]] = []
    closed: list[int] = []
    live = {1, 2, 3}
    recs: dict[int, int] = {}
    for step in script:
        if step == "tick":
            t += 0.01
            eng.tick(t)
        elif step == "skip":
            t += 0.2
            eng.tick(t)
        elif step in ("rtp", "te"):
            seq += 1
            pt, payload = (0, bytes(160)) if step == "rtp" else (101, b"\x01\x0a\x00\xa0")
            for leg in (1, 2):
                eng.receive(leg, build_rtp(payload_type=pt, sequence=seq, timestamp=seq * 160,
                                           ssrc=leg, payload=payload), SRC, t)
        else:
            if isinstance(step, StartRecord) and step.rec_id not in recs:
                recs[step.rec_id] = len(step.legs)
                if step.rec_id in closed:  # an id used again after its close: a new recording
                    closed.remove(step.rec_id)
            if isinstance(step, DestroyLeg):
                live.discard(step.leg)
            eng.command(step, t)
        for leg, data, _ in eng.outbox():
            assert leg in live
            parse_rtp(data)
        done += [(e.leg, e.play_id) for e in eng.events() if isinstance(e, PlayDone)
                 and e.reason != "error"]
        for rec_id, chunk in eng.recorded():
            assert rec_id not in closed
            if chunk is None:
                closed.append(rec_id)
                recs.pop(rec_id, None)
            else:
                assert chunk.dtype == np.int16 and chunk.shape[1] == recs[rec_id]
                assert chunk.shape[0] % 160 == 0
    assert len(done) == len(set(done)) or _replayed(script)


def _replayed(script: list[object]) -> bool:
    """A play id used twice on one leg may end twice (two plays)."""
    seen = [(s.leg, s.play_id) for s in script if isinstance(s, Play)]
    return len(seen) != len(set(seen))


_relay_legs = st.integers(1, 7)
_codec = st.sampled_from([("PCMU", 0), ("PCMU", 0), ("PCMA", 8)])


def _configure(leg: int, codec: tuple[str, int]) -> ConfigureLeg:
    return ConfigureLeg(leg, "10.0.0.9", 6000 + 2 * leg, 6001 + 2 * leg, codec[0], codec[1],
                        101)


def _call(a: int, b: int, codec: tuple[str, int]) -> list[object]:
    """What a relayed call sends: two legs, configured, connected both ways."""
    return [CreateLeg(a, 30000 + 2 * a, "127.0.0.1"), CreateLeg(b, 30000 + 2 * b, "127.0.0.1"),
            _configure(b, codec), _configure(a, codec), Connect(a, b), Connect(b, a),
            Detect(a, inband=False), Detect(b, inband=False)]


relay_steps = st.one_of(
    st.builds(_call, st.integers(4, 7), st.integers(4, 7), _codec),
    st.builds(_call, st.integers(4, 7), st.integers(4, 7), _codec),
    st.builds(DestroyLeg, _relay_legs),
    st.builds(DestroyLeg, _relay_legs),
    st.builds(Connect, _relay_legs, _relay_legs, st.sampled_from([1.0, 1.0, 0.5])),
    st.builds(Disconnect, _relay_legs, _relay_legs),
    st.builds(_configure, _relay_legs, _codec),
    st.builds(Detect, _relay_legs, st.booleans()),
    st.builds(JoinBus, st.just(1), _relay_legs),
    st.builds(LeaveBus, st.just(1), _relay_legs),
    st.builds(StartRecord, st.just(1), st.just("/r.wav"),
              st.lists(_relay_legs, min_size=1, max_size=2).map(tuple)),
    st.builds(StopRecord, st.just(1)),
    st.sampled_from(["tick", "tick", "tick", "rtp", "rtp"]),
)


def _relay_state(eng: MediaEngine) -> dict[int, tuple[int, frozenset[int], frozenset[int], bool]]:
    out = {}
    for leg in range(1, 8):
        L = eng.leg(leg)
        if L is not None:
            out[leg] = (L.mode, frozenset(K.id for K in L.relay_sinks),
                        frozenset(K.id for K in L.te_sinks), bool(L.slot))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(relay_steps, max_size=50))
def test_recompiling_the_touched_legs_equals_recompiling_all(script: list[object]) -> None:
    engines = [engine(), engine()]
    engines[1].incremental = False
    t = 0.0
    for seq, step in enumerate(script):
        outs = []
        for eng in engines:
            if step == "tick":
                eng.tick(t + 0.02)
            elif step == "rtp":
                for leg in range(1, 8):
                    eng.receive(leg, build_rtp(payload_type=0, sequence=seq, timestamp=seq * 160,
                                               ssrc=leg, payload=bytes(160)), SRC, t)
            else:
                for cmd in step if isinstance(step, list) else [step]:
                    eng.command(cmd, t)
            outs.append((sorted(eng.outbox()), eng.events(), _relay_state(eng)))
        if step == "tick":
            t += 0.02
        assert outs[0] == outs[1]
