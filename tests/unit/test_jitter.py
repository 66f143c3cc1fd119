"""Receive jitter buffer: ordering, loss, late/duplicate drops, wraps, overflow, concealment."""

from __future__ import annotations

import numpy as np
import pytest

from ccswitch.media.jitter import Frame, JitterBuffer, conceal

PTIME = 0.02
SPF = 160


def pkt(i: int, *, seq0: int = 1000, ts0: int = 5000) -> tuple[int, int, bytes]:
    """The i-th packet of a stream: (16-bit seq, 32-bit ts, payload naming i)."""
    return (seq0 + i) & 0xFFFF, (ts0 + i * SPF) & 0xFFFFFFFF, f"p{i}".encode()


def run(jb: JitterBuffer, arrivals: list[tuple[float, int]], ticks: int, *,
        seq0: int = 1000, ts0: int = 5000, t0: float = 0.01) -> list[Frame]:
    """Deliver packet indexes at their arrival times; pop once per tick at t0 + k*ptime."""
    pending = sorted(arrivals, key=lambda a: a[0])
    out = []
    j = 0
    for k in range(ticks):
        now = t0 + k * PTIME
        while j < len(pending) and pending[j][0] <= now:
            t, i = pending[j]
            seq, ts, payload = pkt(i, seq0=seq0, ts0=ts0)
            jb.put(seq, ts, payload, t)
            j += 1
        out.append(jb.pop(now))
    return out


def played(frames: list[Frame]) -> list[bytes | None]:
    return [f.payload for f in frames if f.kind != "empty"]


def in_order(n: int, *, delay: float = 0.0) -> list[tuple[float, int]]:
    return [(i * PTIME + delay, i) for i in range(n)]


def test_in_order_stream_plays_every_frame_once_in_order() -> None:
    jb = JitterBuffer()
    frames = run(jb, in_order(50), 60)
    kinds = [f.kind for f in frames]
    # initial fill: depth 60 ms = 3 frames; packets 0,1,2 are in by t=0.05 (tick 2)
    assert kinds[:2] == ["empty", "empty"]
    assert kinds[2] == "audio"
    audio = [f for f in frames if f.kind == "audio"]
    assert [f.payload for f in audio] == [f"p{i}".encode() for i in range(50)]
    assert [f.seq for f in audio] == [1000 + i for i in range(50)]
    assert [f.timestamp for f in audio] == [5000 + i * SPF for i in range(50)]
    assert kinds[52:] == ["lost"] * 8  # the ticks after the stream ended
    assert jb.stats == {"received": 50, "duplicates": 0, "late": 0, "lost": 8,
                        "reordered": 0, "overflow": 0}


def test_playout_keeps_fixed_depth() -> None:
    jb = JitterBuffer()
    run(jb, in_order(20), 12)
    # after start the buffer holds depth-1 packets between ticks (one just played)
    assert jb.started
    assert jb.buffered == 2


def test_reorder_within_depth_is_fixed() -> None:
    arrivals = in_order(30)
    # swap 5 and 6, and deliver 10 two frames after 11 and 12
    arrivals[5] = (6 * PTIME, 5)
    arrivals[6] = (5 * PTIME, 6)
    arrivals[10] = (12 * PTIME + 0.001, 10)
    jb = JitterBuffer()
    frames = run(jb, arrivals, 40)
    assert played(frames)[:30] == [f"p{i}".encode() for i in range(30)]
    assert jb.stats["reordered"] == 2
    assert jb.stats["late"] == 0
    assert jb.stats["duplicates"] == 0


def test_duplicate_dropped_buffered_and_already_played() -> None:
    jb = JitterBuffer()
    arrivals = in_order(20)
    arrivals.append((3 * PTIME + 0.001, 3))  # duplicate while still buffered
    arrivals.append((15 * PTIME, 2))  # duplicate long after it was played
    frames = run(jb, arrivals, 25)
    audio = [f.payload for f in frames if f.kind == "audio"]
    assert audio == [f"p{i}".encode() for i in range(20)]
    assert jb.stats["duplicates"] == 2
    assert jb.stats["late"] == 0
    assert jb.stats["received"] == 22


def test_late_packet_dropped_and_counted() -> None:
    arrivals = [a for a in in_order(20) if a[1] != 7]
    arrivals.append((15 * PTIME, 7))  # slot of 7 is at tick 9 (t=0.19); arrives at 0.30
    jb = JitterBuffer()
    frames = run(jb, arrivals, 25)
    seq_frames = [f for f in frames if f.kind != "empty"]
    assert seq_frames[7].kind == "lost"
    assert seq_frames[7].seq == 1007
    assert seq_frames[7].payload is None
    assert seq_frames[7].timestamp == 5000 + 7 * SPF
    assert [f.payload for f in seq_frames if f.kind == "audio"][:19] == \
        [f"p{i}".encode() for i in range(20) if i != 7]
    assert jb.stats["late"] == 1
    assert jb.stats["duplicates"] == 0


def test_loss_gives_exactly_one_lost_frame_per_missing_packet() -> None:
    missing = {3, 8, 9, 10, 17}
    arrivals = [a for a in in_order(25) if a[1] not in missing]
    jb = JitterBuffer()
    frames = run(jb, arrivals, 27)  # stop ticking right after the last packet plays
    seq_frames = [f for f in frames if f.kind != "empty"]
    assert len(seq_frames) == 25
    for i, f in enumerate(seq_frames):
        assert f.seq == 1000 + i
        assert f.kind == ("lost" if i in missing else "audio")
    assert jb.stats["lost"] == len(missing)
    assert jb.stats["late"] == 0


@pytest.mark.parametrize(("seq0", "ts0"), [(65530, 5000), (1000, 2**32 - 3 * SPF - 7),
                                           (65533, 2**32 - 2 * SPF)])
def test_sequence_and_timestamp_wrap(seq0: int, ts0: int) -> None:
    arrivals = in_order(20)
    arrivals[6], arrivals[7] = (7 * PTIME, 6), (6 * PTIME, 7)  # reorder across the wrap too
    jb = JitterBuffer()
    frames = run(jb, arrivals, 22, seq0=seq0, ts0=ts0)
    audio = [f for f in frames if f.kind == "audio"]
    assert [f.payload for f in audio] == [f"p{i}".encode() for i in range(20)]
    assert [f.seq for f in audio] == [(seq0 + i) & 0xFFFF for i in range(20)]
    # timestamps are extended: monotonic across the 32-bit wrap
    assert [f.timestamp for f in audio] == [ts0 + i * SPF for i in range(20)]
    assert jb.stats["lost"] == 0
    assert jb.stats["late"] == 0
    assert jb.stats["reordered"] == 1


def test_burst_arrival_after_gap() -> None:
    # 0-9 on time, then a 120 ms network stall: 10-15 all arrive together at t=0.32
    arrivals = in_order(10) + [(0.32, i) for i in range(10, 16)] + in_order(30)[16:]
    jb = JitterBuffer()
    frames = run(jb, arrivals, 40)
    seq_frames = [f for f in frames if f.kind != "empty"]
    assert [f.seq for f in seq_frames] == list(range(1000, 1000 + len(seq_frames)))
    kinds = {f.seq - 1000: f.kind for f in seq_frames if f.seq is not None}
    # slots of 10..13 passed during the stall (ticks at 0.25-0.31): concealed, packets late
    assert [kinds[i] for i in range(10, 14)] == ["lost"] * 4
    assert all(kinds[i] == "audio" for i in range(14, 30))
    assert jb.stats["late"] == 4
    assert jb.stats["lost"] == 4 + (len(seq_frames) - 30)


def test_overflow_drops_oldest_and_bounds_depth() -> None:
    jb = JitterBuffer(depth=0.06, max_depth=0.2)  # 10 frames at most
    for i in range(25):
        seq, ts, payload = pkt(i)
        jb.put(seq, ts, payload, 0.0)  # 25 packets at once, nobody pops
        assert jb.buffered <= 10
    assert jb.buffered == 10
    assert jb.stats["overflow"] == 15
    frames = [jb.pop(0.01 + k * PTIME) for k in range(10)]
    assert [f.payload for f in frames] == [f"p{i}".encode() for i in range(15, 25)]
    # a resend of a dropped one is a duplicate; an unseen older one is late
    seq, ts, payload = pkt(3)
    jb.put(seq, ts, payload, 0.3)
    assert jb.stats["duplicates"] == 1
    seq, ts, payload = pkt(-5)
    jb.put(seq, ts, payload, 0.3)
    assert jb.stats["late"] == 1
    assert jb.buffered == 0


def test_forward_sequence_jump_skips_ahead_within_max_depth() -> None:
    jb = JitterBuffer()
    frames = run(jb, in_order(10), 10)
    assert played(frames)[-1] is not None
    seq, ts, payload = pkt(5000)
    jb.put(seq, ts, payload, 0.25)
    assert jb.buffered == 1
    got = [jb.pop(0.25 + k * PTIME) for k in range(10)]
    assert got[-1].payload == b"p5000"
    assert all(f.kind == "lost" for f in got[:-1])


def test_playout_starts_after_depth_time_even_if_packets_are_lost() -> None:
    jb = JitterBuffer()
    seq, ts, payload = pkt(0)
    jb.put(seq, ts, payload, 0.0)
    assert jb.pop(0.03).kind == "empty"
    assert jb.pop(0.05).kind == "empty"
    assert jb.pop(0.06).kind == "audio"


def test_goes_idle_after_long_underrun_and_refills() -> None:
    jb = JitterBuffer()
    frames = run(jb, in_order(5), 30)
    kinds = [f.kind for f in frames]
    # after 5 audio frames, 10 lost (max_depth) then idle again
    first = kinds.index("audio")
    assert kinds[first:first + 5] == ["audio"] * 5
    assert kinds[first + 5:first + 15] == ["lost"] * 10
    assert set(kinds[first + 15:]) == {"empty"}
    assert not jb.started
    # the stream resumes (talkspurt after silence): it fills to depth again
    for i in range(40, 43):
        seq, ts, payload = pkt(i)
        jb.put(seq, ts, payload, 1.0 + (i - 40) * PTIME)
    assert jb.pop(1.05).payload == b"p40"
    # an old packet from before the idle point is late
    seq, ts, payload = pkt(12)
    jb.put(seq, ts, payload, 1.06)
    assert jb.stats["late"] == 1


def test_reset_for_new_source_and_sequence_restart() -> None:
    jb = JitterBuffer()
    run(jb, in_order(20), 15)
    jb.reset()
    assert not jb.started and jb.buffered == 0
    frames = run(jb, in_order(10), 12, seq0=7, ts0=99)
    assert played(frames)[:10] == [f"p{i}".encode() for i in range(10)]
    assert [f.seq for f in frames if f.kind == "audio"] == list(range(7, 17))
    # a sequence restart without SSRC change (far behind): two packets in sequence confirm it
    jb2 = JitterBuffer()
    run(jb2, in_order(20), 15)
    for i in range(5):
        seq, ts, payload = pkt(i, seq0=10)
        jb2.put(seq, ts, payload, 1.0 + i * PTIME)
    assert jb2.stats["late"] == 1  # the first of the new numbering, before confirmation
    assert not jb2.started
    assert jb2.buffered == 4
    assert jb2.pop(1.1).payload == b"p1"


def test_stats_keys_and_received() -> None:
    jb = JitterBuffer()
    assert set(jb.stats) == {"received", "duplicates", "late", "lost", "reordered", "overflow"}
    assert all(v == 0 for v in jb.stats.values())
    assert jb.pop(0.0).kind == "empty"


def test_bad_settings_rejected() -> None:
    with pytest.raises(ValueError):
        JitterBuffer(depth=0.3, max_depth=0.2)
    with pytest.raises(ValueError):
        JitterBuffer(ptime=0)


def test_conceal_gains() -> None:
    prev = np.array([10000, -20000, 1000, 0, 32767, -32768], dtype=np.int16)
    g = 10 ** (-6 / 20)
    for n in (1, 2, 3):
        out = conceal(prev, n)
        assert out.dtype == np.int16
        assert out.shape == prev.shape
        np.testing.assert_array_equal(out, np.rint(prev.astype(np.float64) * g ** n))
    assert conceal(prev, 1)[0] == 5012
    assert conceal(prev, 2)[0] == 2512
    assert conceal(prev, 3)[0] == 1259
    for n in (4, 5, 50):
        assert not conceal(prev, n).any()
    assert prev[0] == 10000  # input untouched
    with pytest.raises(ValueError):
        conceal(prev, 0)
