"""E-model (ITU-T G.107, simplified): every expected value worked out by hand below."""

from __future__ import annotations

import pytest

from ccswitch.media.emodel import (
    CODECS,
    delay_impairment,
    effective_ie,
    mos_from_r,
    one_way_delay,
    rate,
)


def test_mos_from_r_at_the_limits_and_inside() -> None:
    assert mos_from_r(-5.0) == 1.0  # below 0: 1
    assert mos_from_r(0.0) == 1.0
    assert mos_from_r(100.0) == 4.5  # 100 and above: 4.5
    assert mos_from_r(130.0) == 4.5
    # R = 50: 1 + 0.035*50 + 50*(50-60)*(100-50)*7e-6 = 1 + 1.75 - 25000*7e-6 = 2.75 - 0.175
    assert mos_from_r(50.0) == pytest.approx(2.575)
    # R = 60: the cubic term is 0: 1 + 2.1
    assert mos_from_r(60.0) == pytest.approx(3.1)


def test_delay_impairment_is_linear_then_steeper_after_177_3_ms() -> None:
    assert delay_impairment(0.0) == 0.0
    assert delay_impairment(-10.0) == 0.0  # clock trouble counts as no delay
    assert delay_impairment(80.0) == pytest.approx(1.92)  # 0.024 * 80
    assert delay_impairment(177.3) == pytest.approx(4.2552)  # 0.024 * 177.3, no step yet
    # 280 ms: 0.024*280 + 0.11*(280 - 177.3) = 6.72 + 11.297
    assert delay_impairment(280.0) == pytest.approx(18.017)


def test_effective_ie_for_g711_with_concealment() -> None:
    g711 = CODECS["PCMA"]
    assert (g711.ie, g711.bpl) == (0.0, 25.1)  # G.113 Appendix I
    assert effective_ie(0.0, 25.1, 0.0) == 0.0
    # 10 %: 0 + 95 * 10 / (10/1 + 25.1) = 950 / 35.1
    assert effective_ie(0.0, 25.1, 10.0) == pytest.approx(27.0655270655)
    # 100 % (and anything above, clamped): 95 * 100 / 125.1
    assert effective_ie(0.0, 25.1, 100.0) == pytest.approx(75.9392486011)
    assert effective_ie(0.0, 25.1, 250.0) == pytest.approx(75.9392486011)
    assert effective_ie(0.0, 25.1, -3.0) == 0.0
    # a codec with Ie 11, Bpl 19 at 5 %: 11 + 84 * 5 / (5 + 19) = 11 + 17.5
    assert effective_ie(11.0, 19.0, 5.0) == pytest.approx(28.5)
    # bursty loss (BurstR 2) at 10 %: 95 * 10 / (5 + 25.1) = 950 / 30.1
    assert effective_ie(0.0, 25.1, 10.0, burst_r=2.0) == pytest.approx(31.5614617940)


def test_one_way_delay_adds_half_the_round_trip_buffer_packet_and_lookahead() -> None:
    g711, opus = CODECS["PCMU"], CODECS["opus"]
    # no RTT: 0 + max(60, 2*5) + 20 + 0
    assert one_way_delay(rtt_ms=None, jitter_ms=5.0, jitter_buffer_ms=60.0, ptime_ms=20.0,
                         codec=g711) == pytest.approx(80.0)
    # RTT 100, jitter 45: 50 + max(60, 90) + 20
    assert one_way_delay(rtt_ms=100.0, jitter_ms=45.0, jitter_buffer_ms=60.0, ptime_ms=20.0,
                         codec=g711) == pytest.approx(160.0)
    # Opus: 0 + 60 + 20 + 6.5
    assert one_way_delay(rtt_ms=0.0, jitter_ms=0.0, jitter_buffer_ms=60.0, ptime_ms=20.0,
                         codec=opus) == pytest.approx(86.5)


def test_clean_g711_call() -> None:
    q = rate(loss_pct=0.0, jitter_ms=0.0, rtt_ms=None, codec="PCMU")
    # d = 0 + 60 + 20 = 80 ms; Id = 1.92; Ie,eff = 0; R = 93.2 - 1.92 = 91.28
    assert q.delay_ms == pytest.approx(80.0)
    assert q.r == pytest.approx(91.28)
    # MOS = 1 + 0.035*91.28 + 91.28*31.28*8.72*7e-6 = 1 + 3.1948 + 0.174283751936
    assert q.mos == pytest.approx(4.369083751936)


def test_ten_percent_loss_brings_the_mos_under_the_wallboard_threshold() -> None:
    q = rate(loss_pct=10.0, jitter_ms=0.0, rtt_ms=None, codec="PCMA")
    # R = 91.28 - 950/35.1 = 91.28 - 27.0655270655 = 64.2144729345
    assert q.r == pytest.approx(64.2144729345)
    # MOS = 1 + 0.035*64.2144729345 + 64.2144729345*4.2144729345*35.7855270655*7e-6
    #     = 1 + 2.2475065527 + 0.0677925000
    assert q.mos == pytest.approx(3.3152990527)
    assert q.mos < 3.6


def test_long_round_trip() -> None:
    q = rate(loss_pct=0.0, jitter_ms=0.0, rtt_ms=400.0, codec="PCMU")
    # d = 200 + 60 + 20 = 280; Id = 18.017; R = 93.2 - 18.017 = 75.183
    assert q.r == pytest.approx(75.183)
    # MOS = 1 + 0.035*75.183 + 75.183*15.183*24.817*7e-6 = 1 + 2.631405 + 0.1983008446
    assert q.mos == pytest.approx(3.8297058446)


def test_unknown_codec_rates_as_g711_and_total_loss_is_bad() -> None:
    assert rate(loss_pct=3.0, jitter_ms=1.0, rtt_ms=10.0, codec="X-UNKNOWN") == \
        rate(loss_pct=3.0, jitter_ms=1.0, rtt_ms=10.0, codec="PCMU")
    q = rate(loss_pct=100.0, jitter_ms=0.0, rtt_ms=None, codec="PCMU")
    # R = 91.28 - 75.9392486011 = 15.3407513989
    assert q.r == pytest.approx(15.3407513989)
    # MOS = 1 + 0.035*15.3407513989 + 15.3407513989*(-44.6592486011)*84.6592486011*7e-6
    #     = 1 + 0.5369262990 - 0.4060041693
    assert q.mos == pytest.approx(1.1309221297)
