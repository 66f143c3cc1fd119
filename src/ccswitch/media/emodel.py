"""Call quality by the E-model (ITU-T G.107), simplified as ``docs/quality.md`` says; pure.

``rate(...)`` turns one leg's measured figures (packet loss, interarrival jitter, round-trip
time) and its codec into the rating factor R and a MOS estimate:

* ``R = 93.2 - Id - Ie,eff``: 93.2 is G.107's R with every other parameter at its default
  (no echo, no noise, no loudness loss, advantage factor A = 0);
* ``Id`` from the one-way delay ``d`` (ms) by the usual linear fit of G.107's delay
  impairment at default echo settings (Cole & Rosenbluth, 2001):
  ``Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)``, H the unit step;
* ``d = RTT/2 + jitter buffer + packetization (ptime) + codec look-ahead``, the buffer being
  the configured depth or twice the measured jitter, whichever is larger;
* ``Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)`` (G.107 §3.6), Ppl the loss in per
  cent, BurstR = 1 (random loss), ``Ie`` and ``Bpl`` per codec (``CODECS``, G.113 App. I);
* ``MOS = 1`` for R < 0, ``4.5`` for R > 100, else ``1 + 0.035 R + R (R - 60) (100 - R) 7e-6``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CODECS", "R_DEFAULT", "CodecImpairment", "Quality", "delay_impairment",
           "effective_ie", "mos_from_r", "one_way_delay", "rate"]

R_DEFAULT = 93.2
"""G.107's rating with every parameter at its default (Ro - Is)."""


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """``ie``: equipment impairment factor; ``bpl``: packet-loss robustness factor;
    ``lookahead_ms``: the codec's delay beyond one packet's worth of audio."""

    ie: float
    bpl: float
    lookahead_ms: float = 0.0


_G711 = CodecImpairment(ie=0.0, bpl=25.1)
CODECS: dict[str, CodecImpairment] = {
    # G.113 Appendix I: G.711 with packet-loss concealment (G.711 Appendix I), random loss
    "PCMU": _G711,
    "PCMA": _G711,
    # G.722 and Opus have no narrowband G.113 entry (G.722's are on G.107.1's wideband
    # scale): rated here as G.711 with concealment, Opus with its 6.5 ms look-ahead
    "G722": _G711,
    "opus": CodecImpairment(ie=0.0, bpl=25.1, lookahead_ms=6.5),
}
"""Impairment figures by codec name (as ``sdp`` names them); unknown codecs rate as G.711."""


@dataclass(frozen=True, slots=True)
class Quality:
    """One leg's rating and the figures it came from (``rtt_ms`` None: not measured, the
    network delay then counts as 0)."""

    r: float
    mos: float
    loss_pct: float
    jitter_ms: float
    rtt_ms: float | None
    delay_ms: float


def delay_impairment(delay_ms: float) -> float:
    """``Id`` for a one-way mouth-to-ear delay in ms (negative counts as 0)."""
    d = max(0.0, delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def effective_ie(ie: float, bpl: float, loss_pct: float, burst_r: float = 1.0) -> float:
    """``Ie,eff`` for a packet loss in per cent (clamped to 0-100)."""
    ppl = min(100.0, max(0.0, loss_pct))
    return ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl)


def mos_from_r(r: float) -> float:
    """G.107's MOS (conversational quality, estimated) for a rating ``r``."""
    if r <= 0.0:
        return 1.0
    if r >= 100.0:
        return 4.5
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6


def one_way_delay(*, rtt_ms: float | None, jitter_ms: float, jitter_buffer_ms: float,
                  ptime_ms: float, codec: CodecImpairment) -> float:
    """``d`` in ms: half the round trip, the jitter buffer, one packet and the look-ahead."""
    network = 0.0 if rtt_ms is None else max(0.0, rtt_ms) / 2.0
    buffer = max(jitter_buffer_ms, 2.0 * max(0.0, jitter_ms))
    return network + buffer + ptime_ms + codec.lookahead_ms


def rate(*, loss_pct: float, jitter_ms: float, rtt_ms: float | None, codec: str | None,
         ptime_ms: float = 20.0, jitter_buffer_ms: float = 60.0) -> Quality:
    """The E-model's R and MOS for one leg's figures."""
    imp = CODECS.get(codec or "PCMU", _G711)
    d = one_way_delay(rtt_ms=rtt_ms, jitter_ms=jitter_ms, jitter_buffer_ms=jitter_buffer_ms,
                      ptime_ms=ptime_ms, codec=imp)
    r = R_DEFAULT - delay_impairment(d) - effective_ie(imp.ie, imp.bpl, loss_pct)
    return Quality(r=r, mos=mos_from_r(r), loss_pct=loss_pct, jitter_ms=jitter_ms,
                   rtt_ms=rtt_ms, delay_ms=d)
