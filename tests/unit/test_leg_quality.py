"""A leg's quality figures on a fake clock: loss and jitter of the stream it receives (RFC 3550
A.1/A.8), the peer's receiver report about the stream it sends, the round trip from LSR/DLSR
(§6.4.1), and the ``LegStats`` that carries them (final on destroy, live on request)."""

from __future__ import annotations

import random

import pytest

from ccswitch.ids import Ids
from ccswitch.media.commands import ConfigureLeg, Connect, DestroyLeg, LegStats
from ccswitch.media.engine import MediaEngine
from ccswitch.media.rtcp import ReceiverReport, ReportBlock, build_rtcp, ntp_from_unix, ntp_middle
from ccswitch.media.rtp import build_rtp

WALL = 1.7e9  # the engine's wall-clock offset
SPF = 160


def engine() -> MediaEngine:
    eng = MediaEngine(ssrc_source=Ids(random.Random(11)).ssrc, wall_offset=WALL)
    for leg in (1, 2):
        eng.add_leg(leg, 20000 + 2 * leg)
        eng.command(ConfigureLeg(leg, f"10.0.0.{leg}", 4000 + 2 * leg, 4001 + 2 * leg, "PCMU",
                                 0, 101, 20, True, True), 0.0)
    eng.command(Connect(1, 2), 0.0)
    eng.command(Connect(2, 1), 0.0)
    eng.events()
    return eng


def rtp(seq: int, ts: int, ssrc: int) -> bytes:
    return build_rtp(payload_type=0, sequence=seq, timestamp=ts, ssrc=ssrc,
                     payload=bytes(SPF))


def test_loss_jitter_peer_report_and_round_trip_reach_the_final_leg_stats() -> None:
    eng = engine()
    src1, src2 = ("192.0.2.1", 30001), ("192.0.2.2", 30002)
    t = 10.0
    # phone 1 sends packets 0..100 every 20 ms (seq 1000+i, ts 160 i); every i % 10 == 4 is
    # lost; packet 99 arrives 10 ms late
    for i in range(101):
        if i % 10 != 4:
            late = 0.01 if i == 99 else 0.0
            eng.receive(1, rtp(1000 + i, SPF * i, 0xA), src1, t + 0.02 * i + late)
    # phone 2 sends 60 packets, relayed to phone 1 (leg 1 sends 60)
    for i in range(60):
        eng.receive(2, rtp(7000 + i, SPF * i, 0xB), src2, t + 0.02 * i)
    eng.tick(t + 2.1)
    eng.outbox()
    leg1 = eng.leg(1)
    assert leg1 is not None and leg1.sent == 60
    # phone 1's RR about our stream: 5 lost up to our 50th packet (highest seq = seq0 + 50),
    # jitter 160 ticks; its LSR names an SR we sent at t_sr, DLSR 0.44 s
    arrive = t + 3.0
    t_sr = arrive - 0.5
    lsr = ntp_middle(*ntp_from_unix(t_sr + WALL))
    rr = ReceiverReport(ssrc=0xA, reports=(ReportBlock(
        ssrc=leg1.ssrc, cumulative_lost=5, highest_seq=(leg1.seq0 + 50) & 0xFFFFFFFF,
        jitter=160, lsr=lsr, dlsr=round(0.44 * 65536)),))
    eng.receive_rtcp(1, build_rtcp([rr]), ("192.0.2.1", 30003), arrive)

    live = {s.leg: s for s in eng.live_stats()}
    assert set(live) == {1, 2} and not live[1].final

    eng.command(DestroyLeg(1), arrive + 1.0)
    (st,) = [e for e in eng.events() if isinstance(e, LegStats)]
    assert st.final and st.leg == 1
    # RFC 3550 A.1: the first packet is the source's probation (not counted), so the
    # expected range is seq 1001..1100 = 100 packets; lost: i = 14, 24, ..., 94 and 4 = 10
    assert (st.expected, st.lost) == (100, 10)
    assert st.received == 91  # every packet that came in, the probation one too
    # A.8 jitter in timestamp units: 0 while on time (a lost packet's gap cancels out);
    # packet 99 late by 10 ms: D = 80 ticks, J = 80/16 = 5; packet 100 on time after it:
    # D = -80, J = 5 + (80 - 5)/16 = 9.6875 ticks = 9.6875/8 ms = 1.2109375 ms
    assert st.jitter_ms == pytest.approx(1.211, abs=1e-9)
    # the peer: 5 lost of the 50 we had sent up to its highest sequence number; 160/8000 s
    assert (st.peer_lost, st.peer_expected) == (5, 50)
    assert st.peer_jitter_ms == pytest.approx(20.0)
    # RTT = arrival - LSR - DLSR = 0.5 - 0.44 = 0.06 s (to 1/65536 s)
    assert st.rtt_ms == pytest.approx(60.0, abs=0.05)
    assert (st.codec, st.ptime_ms, st.sent) == ("PCMU", 20, 60)
    # the live sample taken before had the same figures
    assert (live[1].lost, live[1].expected, live[1].peer_lost) == (10, 100, 5)


def test_no_report_from_the_peer_leaves_its_figures_unknown() -> None:
    eng = engine()
    eng.receive(1, rtp(5, 0, 0xA), ("192.0.2.1", 30001), 1.0)
    eng.command(DestroyLeg(1), 2.0)
    (st,) = [e for e in eng.events() if isinstance(e, LegStats)]
    assert (st.peer_lost, st.peer_jitter_ms, st.rtt_ms) == (None, None, None)
    assert eng.live_stats() == []  # leg 2 has had nothing yet


def test_a_report_before_our_first_packet_counts_against_what_we_sent() -> None:
    eng = engine()
    leg1 = eng.leg(1)
    assert leg1 is not None
    rr = ReceiverReport(ssrc=0xA, reports=(ReportBlock(
        ssrc=leg1.ssrc, cumulative_lost=0, highest_seq=(leg1.seq0 + 9000) & 0xFFFFFFFF),))
    eng.receive_rtcp(1, build_rtcp([rr]), ("192.0.2.1", 30003), 1.0)
    # 9000 is beyond the 0 packets sent: the expected count falls back to what we sent
    assert leg1.peer == (0, 0, 0.0)
