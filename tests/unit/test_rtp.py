"""RTP/RTCP wire formats and receive statistics against hand-built vectors (RFC 3550)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from ccswitch.errors import CcswitchError
from ccswitch.media.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    RtcpUnknown,
    SdesChunk,
    SdesItem,
    SdesType,
    SenderReport,
    SourceDescription,
    build_rtcp,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
    report_block,
    round_trip_time,
    unix_from_ntp,
)
from ccswitch.media.rtp import (
    RtpError,
    RtpExtension,
    RtpPacket,
    RtpReceiveStats,
    SeqVerdict,
    build_rtp,
    is_rtcp,
    parse_rtp,
    rewrite_header,
    rtp_header_fields,
)

H = bytes.fromhex

# PCMA, seq 7262, ts 16000, SSRC 0x12345678, four payload octets
PLAIN = H("80081c5e 00003e80 12345678 d5d5d5d5")
# P, X, CC=2, marker, PT 96, seq 1, ts 2**32-1; CSRCs 1, 2; extension 0xBEDE of one word;
# payload 01 02 03; three padding octets
FULL = H("b2e00001 ffffffff cafebabe 00000001 00000002 bede0001 10aa0000 010203 000003")


# ------------------------------------------------------------------------------- RTP


def test_parse_plain_vector() -> None:
    p = parse_rtp(PLAIN)
    assert p == RtpPacket(payload_type=8, sequence=7262, timestamp=16000, ssrc=0x12345678,
                          payload=H("d5d5d5d5"))
    assert p.version == 2 and not p.marker and p.header_len == 12
    assert p.to_bytes() == PLAIN
    assert rtp_header_fields(PLAIN) == (8, 7262, 16000, 0x12345678, 12)


def test_parse_full_vector() -> None:
    p = parse_rtp(FULL)
    assert p.marker and p.payload_type == 96 and p.sequence == 1
    assert p.timestamp == 0xFFFFFFFF and p.ssrc == 0xCAFEBABE
    assert p.csrcs == (1, 2)
    assert p.extension == RtpExtension(0xBEDE, H("10aa0000"))
    assert p.payload == H("010203")
    assert p.padding == H("000003")
    assert p.header_len == 28
    assert p.to_bytes() == FULL
    assert rtp_header_fields(FULL) == (96, 1, 0xFFFFFFFF, 0xCAFEBABE, 28)
    assert parse_rtp(memoryview(FULL)) == p
    assert parse_rtp(bytearray(FULL)) == p


def test_build_matches_vectors() -> None:
    assert build_rtp(payload_type=8, sequence=7262, timestamp=16000, ssrc=0x12345678,
                     payload=H("d5d5d5d5")) == PLAIN
    assert build_rtp(payload_type=96, sequence=1, timestamp=0xFFFFFFFF, ssrc=0xCAFEBABE,
                     marker=True, csrcs=(1, 2), extension=RtpExtension(0xBEDE, H("10aa0000")),
                     payload=H("010203"), padding=3) == FULL


def test_padding_octets_round_trip_as_sent() -> None:
    odd = FULL[:-3] + H("7f7f03")  # padding content is arbitrary, only the count matters
    assert parse_rtp(odd).padding == H("7f7f03")
    assert parse_rtp(odd).to_bytes() == odd


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "too short"),
    (PLAIN[:11], "too short"),
    (H("40") + PLAIN[1:], "version"),
    (H("c0") + PLAIN[1:], "version"),
    (H("83") + PLAIN[1:] + bytes(4), "CSRC"),  # CC=3 but only 8 octets follow the header
    (H("90") + PLAIN[1:12] + H("bede"), "extension header"),
    (H("90") + PLAIN[1:12] + H("bede0002") + bytes(4), "extension length"),
    (H("a0") + PLAIN[1:] + H("00"), "padding length 0"),
    (H("a0") + PLAIN[1:12] + H("0103"), "beyond the payload"),
    (H("a0") + PLAIN[1:12], "beyond the payload"),  # no room for the count: 0x78 of the SSRC
])
def test_invalid_packets(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError) as e:
        parse_rtp(data)
    assert reason in e.value.reason
    assert isinstance(e.value, CcswitchError)


def test_padding_may_fill_the_whole_payload() -> None:
    p = parse_rtp(H("a0") + PLAIN[1:12] + H("0002"))
    assert p.payload == b"" and p.padding == H("0002")


def test_header_fields_reject_like_parse() -> None:
    for bad in (PLAIN[:11], H("40") + PLAIN[1:], H("83") + PLAIN[1:] + bytes(4),
                H("90") + PLAIN[1:12] + H("bede"), H("90") + PLAIN[1:12] + H("bede0002")):
        with pytest.raises(RtpError):
            rtp_header_fields(bad)


def test_truncation_sweep() -> None:
    for n in range(28):  # cut inside the header
        with pytest.raises(RtpError):
            parse_rtp(FULL[:n])
    for n in range(28, len(FULL)):  # the last octet becomes the padding count
        try:
            p = parse_rtp(FULL[:n])
        except RtpError as e:
            assert "padding" in e.reason
        else:
            assert p.to_bytes() == FULL[:n] and p.padding[-1] == FULL[n - 1]
    for n in range(12, len(PLAIN) + 1):
        assert parse_rtp(PLAIN[:n]).payload == PLAIN[12:n]


def test_rewrite_header_in_place() -> None:
    buf = bytearray(FULL)
    rewrite_header(buf, seq=65536 + 7, ts=2**32 + 160, ssrc=0x01020304)
    assert rtp_header_fields(buf) == (96, 7, 160, 0x01020304, 28)
    assert buf[:2] == FULL[:2] and buf[12:] == FULL[12:]
    p = parse_rtp(buf)
    assert p.marker and p.csrcs == (1, 2) and p.payload == H("010203")


def test_is_rtcp_demux() -> None:
    assert not is_rtcp(PLAIN)
    assert not is_rtcp(FULL)  # PT 96 with marker: 0xE0 = 224
    assert is_rtcp(H("81c9 0007"))
    assert is_rtcp(H("80c8"))
    assert is_rtcp(H("80df"))  # 223
    assert not is_rtcp(H("80bf"))  # 191: PT 63 with marker
    assert not is_rtcp(H("80e0"))
    assert not is_rtcp(H("81"))
    assert not is_rtcp(b"")


def test_packet_fields_are_checked() -> None:
    with pytest.raises(ValueError):
        RtpPacket(payload_type=128, sequence=0, timestamp=0, ssrc=0)
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=65536, timestamp=0, ssrc=0)
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=0, timestamp=2**32, ssrc=0)
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, csrcs=(0,) * 16)
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, padding=H("0003"))
    with pytest.raises(ValueError):
        RtpExtension(1, b"abc")
    with pytest.raises(ValueError):
        build_rtp(payload_type=0, sequence=0, timestamp=0, ssrc=-1)
    with pytest.raises(ValueError):
        build_rtp(payload_type=0, sequence=0, timestamp=0, ssrc=0, padding=256)


# ----------------------------------------------------------------- receive statistics


def feed(stats: RtpReceiveStats, seqs: list[int], *, ssrc: int = 7,
         t0: float = 100.0) -> list[SeqVerdict]:
    """Packets of a 20 ms G.711 stream, arriving on time, in the given sequence order."""
    return [stats.receive(ssrc, s & 0xFFFF, (s * 160) & 0xFFFFFFFF, t0 + s * 0.02)
            for s in seqs]


def test_probation_then_valid() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    assert st.receive(7, 10, 0, 0.0) is SeqVerdict.PROBATION
    assert st.snapshot().ssrc is None and st.snapshot().discarded == 1
    assert st.receive(7, 11, 160, 0.02) is SeqVerdict.IN_ORDER
    s = st.snapshot()
    assert (s.ssrc, s.received, s.expected, s.lost, s.extended_highest_seq) == (7, 1, 1, 0, 11)


def test_probation_restarts_on_a_gap() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    assert feed(st, [10, 12, 14]) == [SeqVerdict.PROBATION] * 3
    assert feed(st, [15, 16]) == [SeqVerdict.IN_ORDER] * 2
    s = st.snapshot()
    assert (s.received, s.expected, s.extended_highest_seq, s.discarded) == (2, 2, 16, 3)


def test_min_sequential_setting() -> None:
    st = RtpReceiveStats(clock_rate=8000, min_sequential=3)
    assert feed(st, [1, 2, 3]) == [SeqVerdict.PROBATION] * 2 + [SeqVerdict.IN_ORDER]
    st1 = RtpReceiveStats(clock_rate=8000, min_sequential=1)
    assert feed(st1, [40]) == [SeqVerdict.IN_ORDER]


def test_sequence_wraps() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    verdicts = feed(st, [65533, 65534, 65535, 65536, 65537])
    assert verdicts == [SeqVerdict.PROBATION] + [SeqVerdict.IN_ORDER] * 4
    s = st.snapshot()
    assert s.extended_highest_seq == 65536 + 1
    assert (s.received, s.expected, s.lost) == (4, 4, 0)
    # probation itself across the wrap
    st2 = RtpReceiveStats(clock_rate=8000)
    assert feed(st2, [65535, 65536]) == [SeqVerdict.PROBATION, SeqVerdict.IN_ORDER]
    assert st2.snapshot().extended_highest_seq == 0


def test_late_packet_across_the_wrap() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [65533, 65534, 65536, 65537, 65535])
    s = st.snapshot()
    assert (s.reordered, s.lost, s.duplicates, s.extended_highest_seq) == (1, 0, 0, 65537)


def test_loss_counting_and_fraction() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [s for s in range(100, 200) if s not in (120, 150, 151)])
    s = st.report()
    assert (s.expected, s.received, s.lost) == (99, 96, 3)
    assert s.fraction_lost == 3 * 256 // 99
    # the next interval: 200..299 with 10 lost
    feed(st, [s for s in range(200, 300) if s % 10])
    s = st.report()
    assert (s.expected_interval, s.received_interval) == (100, 90)
    assert s.fraction_lost == 10 * 256 // 100
    assert s.lost == 13
    assert st.report().fraction_lost == 0  # nothing since
    assert st.snapshot().expected_interval == 0


def test_snapshot_does_not_start_an_interval() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [1, 2, 4])
    assert st.snapshot().fraction_lost == st.snapshot().fraction_lost == 256 // 3
    assert st.report().fraction_lost == 256 // 3
    assert st.snapshot().fraction_lost == 0


def test_reorder_is_not_loss() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    v = feed(st, [1, 2, 3, 5, 4, 6])
    assert v[4] is SeqVerdict.LATE
    s = st.snapshot()
    assert (s.reordered, s.duplicates, s.lost, s.received) == (1, 0, 0, 5)


def test_duplicates_counted_and_lost_goes_negative() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    v = feed(st, [1, 2, 3, 3, 2, 5, 3])
    assert v[3:5] == [SeqVerdict.DUPLICATE] * 2 and v[6] is SeqVerdict.DUPLICATE
    s = st.snapshot()
    # RFC 3550 6.4.1: received includes duplicates, so the cumulative loss may be negative
    assert (s.duplicates, s.reordered, s.received, s.expected) == (3, 0, 6, 4)
    assert s.lost == -2
    assert report_block(s, now=0).cumulative_lost == -2


def test_late_beyond_misorder_is_a_jump() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, list(range(4990, 5001)))
    assert feed(st, [4850]) == [SeqVerdict.JUMP]
    assert feed(st, [4950]) == [SeqVerdict.LATE]  # 50 behind, before the stream began
    s = st.snapshot()
    assert s.discarded == 2  # probation packet + the jump


def test_large_jump_dropped_unless_confirmed() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, list(range(1000, 1010)))
    assert feed(st, [20000]) == [SeqVerdict.JUMP]
    assert feed(st, [1010]) == [SeqVerdict.IN_ORDER]
    assert st.snapshot().restarts == 0
    # the sender restarted its numbering: two in sequence confirm it
    assert feed(st, [30000, 30001, 30002]) == [SeqVerdict.JUMP, SeqVerdict.IN_ORDER,
                                               SeqVerdict.IN_ORDER]
    s = st.snapshot()
    assert (s.restarts, s.received, s.expected, s.extended_highest_seq) == (1, 2, 2, 30002)


def test_ssrc_change_resets_after_probation() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [s for s in range(1, 51) if s != 30])
    before = st.snapshot()
    assert before.lost == 1 and before.ssrc == 7
    # one stray packet of another source does not disturb the stream
    assert st.receive(99, 5000, 0, 200.0) is SeqVerdict.PROBATION
    feed(st, [51])
    assert st.snapshot().ssrc == 7 and st.snapshot().lost == 1
    # a new source that passes probation replaces it
    assert feed(st, [5000, 5001, 5002], ssrc=99) == [SeqVerdict.PROBATION,
                                                    SeqVerdict.IN_ORDER, SeqVerdict.IN_ORDER]
    s = st.snapshot()
    assert (s.ssrc, s.ssrc_changes, s.received, s.lost, s.extended_highest_seq) == (
        99, 1, 2, 0, 5002)
    assert st.ssrc == 99
    assert feed(st, [52]) == [SeqVerdict.PROBATION]  # the old source is now the stranger


def test_jitter_zero_for_constant_transit_across_timestamp_wrap() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    ts0 = 2**32 - 800
    for i in range(50):
        st.receive(1, (65530 + i) & 0xFFFF, (ts0 + 160 * i) % 2**32, 1000.0 + 0.02 * i + 0.3)
    s = st.snapshot()
    assert s.extended_highest_seq == 65530 + 49 and s.lost == 0
    assert s.jitter == pytest.approx(0.0, abs=1e-6)


def test_jitter_estimator_steps() -> None:
    # A.8 by hand: J += (|D| - J) / 16, D in timestamp units (1 ms = 8 units at 8 kHz)
    st = RtpReceiveStats(clock_rate=8000)
    late = {3: 0.001}
    expect = [0.0, 0.0, 0.0, 0.5, 0.5 + (8 - 0.5) / 16, (0.96875 * 15) / 16]
    for i, want in enumerate(expect):
        st.receive(1, i, 160 * i, 0.02 * i + late.get(i, 0.0))
        assert st.snapshot().jitter == pytest.approx(want, abs=1e-9), i


def test_jitter_converges_to_alternating_delay() -> None:
    # every other packet 5 ms late: |D| = 5 ms = 40 timestamp units for every pair,
    # and A.8's estimator J += (|D| - J)/16 converges to 40.
    st = RtpReceiveStats(clock_rate=8000)
    for i in range(400):
        st.receive(1, i, 160 * i, 0.02 * i + (0.005 if i % 2 else 0.0))
    s = st.snapshot()
    assert s.jitter == pytest.approx(40.0, abs=0.01)
    assert s.jitter_ms == pytest.approx(5.0, abs=0.002)
    assert report_block(s, now=0).jitter == 39 or report_block(s, now=0).jitter == 40


def test_jitter_estimates_gaussian_transit_noise() -> None:
    # transit ~ N(0, sigma^2) => D ~ N(0, 2 sigma^2) => E|D| = 2 sigma / sqrt(pi)
    rng = random.Random(3550)
    sigma = 0.002
    st = RtpReceiveStats(clock_rate=8000)
    samples = []
    for i in range(20000):
        st.receive(1, i & 0xFFFF, 160 * i, 10 + 0.02 * i + rng.gauss(0, sigma))
        if i > 100:
            samples.append(st.snapshot().jitter_ms)
    mean = sum(samples) / len(samples)
    assert mean == pytest.approx(2 * sigma * 1000 / math.sqrt(math.pi), rel=0.05)


def test_jitter_restarts_with_the_sequence() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, list(range(1, 20)))
    # the sender restarts numbering and timestamps; that jump must not count as jitter
    for i, s in enumerate((40000, 40001, 40002)):
        st.receive(7, s, 5_000_000 + 160 * i, 101.0 + 0.02 * i)
    assert st.snapshot().restarts == 1
    assert st.snapshot().jitter == pytest.approx(0.0, abs=1e-6)


def test_stats_settings_checked() -> None:
    with pytest.raises(ValueError):
        RtpReceiveStats(clock_rate=0)
    with pytest.raises(ValueError):
        RtpReceiveStats(clock_rate=8000, min_sequential=0)
    with pytest.raises(ValueError):
        RtpReceiveStats(clock_rate=8000, max_dropout=65500, max_misorder=100)


# ------------------------------------------------------------------------------ RTCP

RR = H("81c90007 00000001 00000002 40fffffe 00010005 00000010 12345678 00018000")
SR = H("80c80006 00000001 e1f2a3b4 80000000 0000a000 00000032 00001f40")
SDES = H("81ca0004 00000001 0109 7573657240686f7374 00")  # CNAME "user@host"
BYE = H("81cb0003 00000001 04 646f6e65 000000")  # reason "done"
PLI = H("81ce0002 00000001 00000002")


def test_receiver_report_vector() -> None:
    (rr,) = parse_rtcp(RR)
    assert rr == ReceiverReport(ssrc=1, reports=(ReportBlock(
        ssrc=2, fraction_lost=64, cumulative_lost=-2, highest_seq=65541, jitter=16,
        lsr=0x12345678, dlsr=0x18000),))
    assert rr.to_bytes() == RR


def test_compound_vector() -> None:
    data = SR + SDES + BYE
    sr, sdes, bye = parse_rtcp(data)
    assert sr == SenderReport(ssrc=1, ntp_msw=0xE1F2A3B4, ntp_lsw=0x80000000,
                              rtp_timestamp=0xA000, packet_count=50, octet_count=8000)
    assert isinstance(sdes, SourceDescription)
    assert sdes.chunks == (SdesChunk(1, (SdesItem(SdesType.CNAME, b"user@host"),)),)
    assert sdes.chunks[0].cname == "user@host"
    assert sdes.chunks[0] == SdesChunk.with_cname(1, "user@host")
    assert bye == Bye((1,), b"done")
    assert build_rtcp([sr, sdes, bye]) == data
    assert is_rtcp(data)


def test_sdes_chunks_pad_to_word() -> None:
    for name in ("", "a", "ab", "abc", "abcd", "x" * 255):
        chunk = SdesChunk.with_cname(0xAABBCCDD, name)
        raw = chunk.to_bytes()
        assert len(raw) % 4 == 0 and raw[-1] == 0
        pkt = build_rtcp([ReceiverReport(ssrc=1), SourceDescription((chunk, SdesChunk(5)))])
        assert parse_rtcp(pkt)[1] == SourceDescription((chunk, SdesChunk(5)))
    assert SdesChunk(5).to_bytes() == H("00000005 00000000")
    assert SdesChunk(5).cname is None


def test_bye_forms() -> None:
    for bye in (Bye(), Bye((1, 2, 3)), Bye((1,), b""), Bye((1,), b"abc"), Bye((9,), b"x" * 255)):
        raw = bye.to_bytes()
        assert len(raw) % 4 == 0
        assert parse_rtcp(RR + raw)[1] == bye
    assert Bye((1,), b"").to_bytes() == H("81cb0002 00000001 00000000")


def test_unknown_types_pass_through() -> None:
    app = RtcpUnknown(204, 3, b"NAME" + b"data")
    pkts = parse_rtcp(RR + app.to_bytes() + PLI)
    assert pkts[1] == app and pkts[2] == RtcpUnknown(206, 1, PLI[4:])
    with pytest.raises(RtcpError, match="first packet"):
        parse_rtcp(PLI)
    assert parse_rtcp(PLI, reduced_size=True) == (RtcpUnknown(206, 1, PLI[4:]),)


def test_padding_on_the_last_packet() -> None:
    padded = bytes([BYE[0] | 0x20]) + BYE[1:3] + bytes([BYE[3] + 1]) + BYE[4:] + H("00000004")
    assert parse_rtcp(RR + padded)[1] == Bye((1,), b"done")


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "too short"),
    (RR[:3], "too short"),
    (H("41") + RR[1:], "version"),
    (RR + H("41") + SDES[1:], "version"),
    (RR[:-4], "length field"),
    (RR + H("0000"), "trailing"),
    (SDES + RR, "first packet"),
    (BYE, "first packet"),
    (H("a1") + RR[1:] + SDES, "padding before the last"),
    (H("a1") + RR[1:3] + H("08") + RR[4:] + H("00000000"), "bad padding"),  # count 0
    (H("a1") + RR[1:3] + H("08") + RR[4:] + H("00000003"), "bad padding"),  # not 4k
    (H("a1") + RR[1:3] + H("08") + RR[4:] + H("000000ff"), "bad padding"),  # beyond
    (H("82") + RR[1:], "RR shorter"),
    (H("81c80006") + SR[4:], "SR shorter"),
    (RR + H("82") + SDES[1:], "SDES chunk beyond"),
    (RR + H("81ca0002 00000001 01026162"), "null item"),
    (RR + H("81ca0002 00000001 010a6162"), "SDES item beyond"),
    (RR + H("81ca0003 00000001 00000000 00000000"), "after the SDES"),
    (RR + H("84") + BYE[1:], "BYE shorter"),
    (RR + H("81cb0002 00000001 09616263"), "BYE reason beyond"),
    (RR + H("81cb0003 00000001 01610000 00000000"), "after the BYE reason"),
])
def test_invalid_rtcp(data: bytes, reason: str) -> None:
    with pytest.raises(RtcpError) as e:
        parse_rtcp(data)
    assert reason in e.value.reason
    assert isinstance(e.value, CcswitchError)


def test_report_extension_passes_through() -> None:
    longer = RR[:3] + H("08") + RR[4:] + H("cafe0001")  # one more word: a profile extension
    (rr,) = parse_rtcp(longer)
    assert isinstance(rr, ReceiverReport) and rr.extension == H("cafe0001")
    assert rr.reports == parse_rtcp(RR)[0].reports  # type: ignore[union-attr]
    assert rr.to_bytes() == longer


def test_rtcp_truncation_sweep() -> None:
    data = SR + SDES + BYE
    for n in range(len(data)):
        if n in (len(SR), len(SR + SDES)):
            assert parse_rtcp(data[:n])
        else:
            with pytest.raises(RtcpError):
                parse_rtcp(data[:n])


def test_rtcp_fields_are_checked() -> None:
    with pytest.raises(ValueError):
        ReportBlock(ssrc=1, cumulative_lost=0x800000)
    with pytest.raises(ValueError):
        ReportBlock(ssrc=1, fraction_lost=256)
    with pytest.raises(ValueError):
        ReceiverReport(ssrc=1, reports=(ReportBlock(ssrc=2),) * 32)
    with pytest.raises(ValueError):
        SdesItem(0, b"x")
    with pytest.raises(ValueError):
        Bye((1,), b"x" * 256)
    with pytest.raises(ValueError):
        RtcpUnknown(204, 0, b"abc")
    with pytest.raises(ValueError):
        SenderReport(ssrc=1, ntp_msw=2**32, ntp_lsw=0, rtp_timestamp=0, packet_count=0,
                     octet_count=0)


# ------------------------------------------------------------------- NTP, blocks, RTT


def test_ntp_conversions() -> None:
    assert ntp_from_unix(0) == (2208988800, 0)
    assert ntp_from_unix(1.5) == (2208988801, 2**31)
    assert ntp_from_unix(1.0 - 1e-12) == (2208988801, 0)  # rounding carries into seconds
    assert ntp_from_unix(2**32 - 2208988800 + 0.25) == (0, 2**30)  # era wrap in 2036
    assert unix_from_ntp(*ntp_from_unix(1_700_000_000.123456)) == pytest.approx(
        1_700_000_000.123456, abs=1e-6)
    assert ntp_middle(0x12345678, 0x9ABCDEF0) == 0x56789ABC


def test_report_block_from_stats() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [s for s in range(65500, 65600) if s != 65540])
    msw, lsw = ntp_from_unix(1_700_000_000.5)
    assert not st.on_sender_report(8, msw, lsw, 10.0)  # another source's SR: ignored
    assert st.on_sender_report(7, msw, lsw, 10.0)
    block = report_block(st.report(), now=11.25)
    assert block.ssrc == 7
    assert block.highest_seq == 65599  # cycle 1, seq 63
    assert block.cumulative_lost == 1 and block.fraction_lost == 256 // 99
    assert block.lsr == ntp_middle(msw, lsw)
    assert block.dlsr == int(1.25 * 65536)
    assert ReportBlock._parse(block.to_bytes(), 0) == block
    with pytest.raises(ValueError):
        report_block(RtpReceiveStats(clock_rate=8000).snapshot(), now=0)
    later = report_block(st.snapshot(), now=20.0)
    assert later.fraction_lost == 0 and later.lsr == block.lsr
    assert later.dlsr == 10 * 65536


def test_report_block_clamps_cumulative_loss() -> None:
    st = RtpReceiveStats(clock_rate=8000)
    feed(st, [1, 2])
    snap = st.snapshot()
    assert report_block(replace(snap, lost=10**8), now=0).cumulative_lost == 0x7FFFFF
    assert report_block(replace(snap, lost=-(10**8)), now=0).cumulative_lost == -0x800000
    assert report_block(replace(snap, jitter=2.0**40), now=0).jitter == 2**32 - 1
    assert report_block(replace(snap, extended_highest_seq=2**32 + 5), now=0).highest_seq == 5


def test_round_trip_time() -> None:
    sent = 1_700_000_000.0
    lsr = ntp_middle(*ntp_from_unix(sent))
    dlsr = int(0.25 * 65536)  # the peer held our SR for 250 ms
    rtt = round_trip_time(lsr, dlsr, arrival=sent + 0.25 + 0.080)
    assert rtt == pytest.approx(0.080, abs=2 / 65536)
    assert round_trip_time(0, dlsr, arrival=sent) is None
    assert round_trip_time(lsr, dlsr, arrival=sent) == 0.0  # negative: clock trouble
