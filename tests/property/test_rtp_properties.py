"""The RTP/RTCP parsers' contract and the receive statistics, proved with hypothesis.

- For any bytes, ``parse_rtp`` returns a packet or raises ``RtpError`` (never anything else),
  and a packet it returns serializes back to the very same bytes; ``rtp_header_fields``
  agrees with it and rejects no packet it accepts.
- ``parse_rtp(p.to_bytes()) == p`` for generated packets; ``rewrite_header`` changes exactly
  sequence, timestamp and SSRC.
- For any bytes, ``parse_rtcp`` returns packets or raises ``RtcpError``; what it returns builds
  back to bytes that parse to the same packets; generated compounds round-trip.
- ``RtpReceiveStats`` agrees with a plain set-based oracle on streams with loss, reordering and
  duplication (across the 16-bit wrap), and reports zero jitter for constant transit.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccswitch.media.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    RtcpPacket,
    RtcpUnknown,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    build_rtcp,
    parse_rtcp,
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

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
words = st.integers(0, 8).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))


# ------------------------------------------------------------------------------- RTP

@st.composite
def padding(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 12))
    return b"" if n == 0 else draw(st.binary(min_size=n - 1, max_size=n - 1)) + bytes((n,))


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127), sequence=u16, timestamp=u32, ssrc=u32,
    payload=st.binary(max_size=200), marker=st.booleans(),
    csrcs=st.lists(u32, max_size=15).map(tuple),
    extension=st.none() | st.builds(RtpExtension, u16, words),
    padding=padding())

# bytes that look like RTP often enough to reach the deeper checks
rtp_like = st.one_of(
    st.binary(max_size=64),
    st.tuples(st.integers(0, 63), st.binary(max_size=80)).map(
        lambda t: bytes((0x80 | t[0],)) + t[1]),
)


def rtp_contract(data: bytes) -> RtpPacket | None:
    try:
        p = parse_rtp(data)
    except RtpError as e:
        assert e.reason
        p = None
    try:
        fields = rtp_header_fields(data)
    except RtpError:
        assert p is None, "header_fields rejected what parse_rtp accepted"
        return None
    if p is None:
        return None
    assert p.to_bytes() == data
    assert fields == (p.payload_type, p.sequence, p.timestamp, p.ssrc, p.header_len)
    assert parse_rtp(memoryview(data)) == p == parse_rtp(bytearray(data))
    return p


@SETTINGS
@given(rtp_like)
def test_any_bytes_parse_or_rtp_error(data: bytes) -> None:
    rtp_contract(data)


@SETTINGS
@given(packets)
def test_rtp_round_trip(p: RtpPacket) -> None:
    data = p.to_bytes()
    assert parse_rtp(data) == p
    assert rtp_header_fields(data) == (p.payload_type, p.sequence, p.timestamp, p.ssrc,
                                       p.header_len)
    assert is_rtcp(data) == (64 <= p.payload_type <= 95 and p.marker)
    if not p.padding or p.padding[:-1] == bytes(len(p.padding) - 1):
        assert build_rtp(payload_type=p.payload_type, sequence=p.sequence,
                         timestamp=p.timestamp, ssrc=p.ssrc, payload=p.payload,
                         marker=p.marker, csrcs=p.csrcs, extension=p.extension,
                         padding=len(p.padding)) == data


@SETTINGS
@given(packets, st.lists(st.tuples(st.integers(0, 10**6), u8), min_size=1, max_size=4))
def test_mutated_packets_keep_the_contract(p: RtpPacket, edits: list[tuple[int, int]]) -> None:
    data = bytearray(p.to_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    rtp_contract(bytes(data))
    for cut in (len(data) // 2, len(data) - 1, 13, 5):
        rtp_contract(bytes(data[:cut]))


@SETTINGS
@given(packets, st.integers(0, 2**40), st.integers(0, 2**40), u32)
def test_rewrite_header_changes_only_seq_ts_ssrc(p: RtpPacket, seq: int, ts: int,
                                                 ssrc: int) -> None:
    data = p.to_bytes()
    buf = bytearray(data)
    rewrite_header(buf, seq=seq, ts=ts, ssrc=ssrc)
    assert parse_rtp(buf) == RtpPacket(
        payload_type=p.payload_type, sequence=seq % 2**16, timestamp=ts % 2**32, ssrc=ssrc,
        payload=p.payload, marker=p.marker, csrcs=p.csrcs, extension=p.extension,
        padding=p.padding)
    assert buf[:2] == data[:2] and buf[12:] == data[12:]


# ------------------------------------------------------------------------------ RTCP

blocks = st.builds(ReportBlock, ssrc=u32, fraction_lost=u8,
                   cumulative_lost=st.integers(-0x800000, 0x7FFFFF), highest_seq=u32,
                   jitter=u32, lsr=u32, dlsr=u32)
block_lists = st.lists(blocks, max_size=31).map(tuple)
sr = st.builds(SenderReport, ssrc=u32, ntp_msw=u32, ntp_lsw=u32, rtp_timestamp=u32,
               packet_count=u32, octet_count=u32, reports=block_lists, extension=words)
rr = st.builds(ReceiverReport, ssrc=u32, reports=block_lists, extension=words)
items = st.lists(st.builds(SdesItem, st.integers(1, 255), st.binary(max_size=40)),
                 max_size=4).map(tuple)
sdes = st.builds(SourceDescription,
                 st.lists(st.builds(SdesChunk, u32, items), max_size=5).map(tuple))
bye = st.builds(Bye, st.lists(u32, max_size=31).map(tuple), st.none() | st.binary(max_size=40))
unknown = st.builds(RtcpUnknown, st.integers(0, 255).filter(lambda t: not 200 <= t <= 203),
                    st.integers(0, 31), words)
compounds = st.tuples(sr | rr, st.lists(sr | rr | sdes | bye | unknown, max_size=5)).map(
    lambda t: (t[0], *t[1]))


@st.composite
def rtcp_like(draw: st.DrawFn) -> bytes:
    """Headers with plausible types and lengths over random bodies, sometimes off by a bit."""
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        length = draw(st.integers(0, 12))
        first = draw(st.integers(0x80, 0xBF) | st.integers(0, 255))
        pt = draw(st.integers(200, 204) | u8)
        body = draw(st.binary(min_size=4 * length, max_size=4 * length) | st.binary(max_size=52))
        out += bytes((first, pt)) + length.to_bytes(2, "big") + body
    return out


def rtcp_contract(data: bytes, **kw: bool) -> tuple[RtcpPacket, ...] | None:
    try:
        pkts = parse_rtcp(data, **kw)
    except RtcpError as e:
        assert e.reason
        return None
    assert pkts and parse_rtcp(build_rtcp(pkts), **kw) == pkts
    assert parse_rtcp(memoryview(data), **kw) == pkts
    return pkts


@SETTINGS
@given(rtcp_like() | st.binary(max_size=80), st.booleans())
def test_any_bytes_parse_or_rtcp_error(data: bytes, reduced: bool) -> None:
    rtcp_contract(data, reduced_size=reduced)


@SETTINGS
@given(compounds)
def test_rtcp_round_trip(pkts: tuple[RtcpPacket, ...]) -> None:
    data = build_rtcp(pkts)
    assert parse_rtcp(data) == pkts
    assert is_rtcp(data)


@SETTINGS
@given(compounds, st.lists(st.tuples(st.integers(0, 10**6), u8), min_size=1, max_size=4))
def test_mutated_compounds_keep_the_contract(pkts: tuple[RtcpPacket, ...],
                                             edits: list[tuple[int, int]]) -> None:
    data = bytearray(build_rtcp(pkts))
    for pos, value in edits:
        data[pos % len(data)] = value
    rtcp_contract(bytes(data))
    rtcp_contract(bytes(data[: len(data) // 2]))


# ---------------------------------------------------------------- receive statistics


@st.composite
def streams(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A start sequence number and the offsets of the packets in arrival order.

    Offsets 0 and 1 arrive first (probation); after them, packets are lost, displaced by up
    to 40 places and duplicated (a copy arriving up to 40 places later), but never as much as
    MAX_MISORDER behind the newest, and never a jump of MAX_DROPOUT.
    """
    start = draw(st.integers(0, 0xFFFF))
    n = draw(st.integers(2, 400))
    kept = [k for k in range(2, n) if draw(st.integers(0, 9)) != 0]
    keyed = [(k + draw(st.integers(0, 40)), k) for k in kept]
    order = [k for _, k in sorted(keyed)]
    for _ in range(draw(st.integers(0, 20))):
        if order:
            i = draw(st.integers(0, len(order) - 1))
            order.insert(min(len(order), i + draw(st.integers(1, 40))), order[i])
    arrivals, newest = [0, 1], 1
    for k in order:  # keep every late packet within MAX_MISORDER of the newest
        if newest - k < 99:
            arrivals.append(k)
            newest = max(newest, k)
    return start, arrivals


@SETTINGS
@given(streams())
def test_stats_agree_with_an_oracle(stream: tuple[int, list[int]]) -> None:
    start, offsets = stream
    stats = RtpReceiveStats(clock_rate=8000)
    seen: set[int] = set()
    highest = -1
    want = {"dup": 0, "late": 0}
    for k in offsets:
        verdict = stats.receive(0xABC, (start + k) & 0xFFFF, 160 * k, 5.0 + 0.02 * k)
        if k == 0:
            assert verdict is SeqVerdict.PROBATION
        elif k in seen:
            assert verdict is SeqVerdict.DUPLICATE
            want["dup"] += 1
        elif k < highest:
            assert verdict is SeqVerdict.LATE
            want["late"] += 1
        else:
            assert verdict is SeqVerdict.IN_ORDER
        seen.add(k)
        highest = max(highest, k)
    s = stats.snapshot()
    # cycles count from the first valid packet (offset 1), as in RFC 3550 A.1
    assert s.extended_highest_seq == ((start + 1) & 0xFFFF) + highest - 1
    assert s.expected == highest  # base is offset 1
    assert s.received == len(offsets) - 1
    assert s.duplicates == want["dup"] and s.reordered == want["late"]
    assert s.lost == s.expected - s.received
    unique_lost = highest - (len(seen) - 1)
    assert s.lost + s.duplicates == unique_lost
    assert s.jitter < 1e-6  # every packet on time
    assert s.discarded == 1 and s.ssrc_changes == 0 and s.restarts == 0


@SETTINGS
@given(u16, u32, st.floats(0, 1e6), st.floats(-0.5, 0.5), st.sampled_from([8000, 16000, 48000]),
       st.integers(3, 300))
def test_constant_transit_means_zero_jitter(seq0: int, ts0: int, t0: float, transit: float,
                                            rate: int, n: int) -> None:
    stats = RtpReceiveStats(clock_rate=rate)
    step = rate // 50
    for i in range(n):
        stats.receive(1, (seq0 + i) & 0xFFFF, (ts0 + step * i) & 0xFFFFFFFF,
                      t0 + transit + 0.02 * i)
    s = stats.snapshot()
    assert s.jitter < 1e-3 and s.lost == 0 and s.expected == n - 1
