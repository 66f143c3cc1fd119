"""Call quality from the media workers' leg statistics, pure (``docs/quality.md``).

A media worker reports a leg's figures twice: live samples at a low rate while the leg lives
(``LegStats.final`` False) and its last figures once it is destroyed, riding on a batch the
worker sends anyway (so up to a ``WorkerStats`` interval after the call's end).  The
``QualityBook`` keeps the latest live rating per leg (the API's live ``mos``) and, for each
ended call, waits for the final figures of its caller's and callee's legs; then (or after
``wait`` seconds, with what came) it gives the call's ``CallQuality``: the ``call.quality``
event, the CDR's quality columns and the MOS histogram.

A leg's rating (``leg_quality``): loss is the larger of what we measured on the stream we
received and what the peer's RTCP receiver reports say of the stream we sent (each in per
cent of the packets expected), jitter the larger of the two, the round trip from the peer's
reports (None: the peer sent none); the E-model (``media.emodel``) turns them into R and MOS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..media.commands import LegStats
from ..media.emodel import rate
from .events import CallEnded

__all__ = ["CallQuality", "LegQuality", "QualityBook", "leg_quality"]


@dataclass(frozen=True, slots=True)
class LegQuality:
    """One leg's rating and figures (loss in per cent, times in ms, rounded)."""

    mos: float
    r: float
    loss_pct: float
    jitter_ms: float
    rtt_ms: float | None


@dataclass(frozen=True, slots=True)
class CallQuality:
    """The quality of an ended call's caller leg and answered leg (None: no figures for it),
    reported as the ``call.quality`` event after ``call.ended``; ``at`` on the core's clock."""

    call_id: str
    at: float
    caller: str
    callee: str
    queue: str | None
    agent: str | None
    mos_caller: float | None = None
    r_caller: float | None = None
    loss_caller: float | None = None
    jitter_caller: float | None = None
    rtt_caller: float | None = None
    mos_callee: float | None = None
    r_callee: float | None = None
    loss_callee: float | None = None
    jitter_callee: float | None = None
    rtt_callee: float | None = None
    # the legs that left the call before its end (a transferor, a replaced leg): leg id and
    # rating, for their ``cdr_legs`` rows; not streamed
    legs: tuple[tuple[str, LegQuality], ...] = ()

    @property
    def mos(self) -> float | None:
        """The call's worse MOS of the two legs."""
        known = [m for m in (self.mos_caller, self.mos_callee) if m is not None]
        return min(known) if known else None


def _pct(lost: int, expected: int) -> float | None:
    return 100.0 * min(max(lost, 0), expected) / expected if expected > 0 else None


def leg_quality(st: LegStats, *, jitter_buffer_ms: float = 60.0) -> LegQuality | None:
    """The rating of one leg's figures; None when the leg carried no audio either way."""
    own = _pct(st.lost, st.expected)
    peer = None if st.peer_lost is None else _pct(st.peer_lost, st.peer_expected)
    if own is None and peer is None:
        return None
    loss = max(v for v in (own, peer) if v is not None)
    jitter = max(st.jitter_ms, st.peer_jitter_ms or 0.0)
    q = rate(loss_pct=loss, jitter_ms=jitter, rtt_ms=st.rtt_ms, codec=st.codec,
             ptime_ms=st.ptime_ms, jitter_buffer_ms=jitter_buffer_ms)
    return LegQuality(mos=round(q.mos, 2), r=round(q.r, 1), loss_pct=round(loss, 2),
                      jitter_ms=round(jitter, 2),
                      rtt_ms=None if st.rtt_ms is None else round(st.rtt_ms, 1))


@dataclass(slots=True)
class _Pending:
    ended: CallEnded
    legs: dict[str, int]  # role (caller, callee, or a departed leg's id) -> media leg
    deadline: float
    got: dict[str, LegQuality | None] = field(default_factory=dict)


DEPARTED_KEEP = 3600.0
"""Seconds the final figures of a leg that left a live call are kept for that call's end."""


class QualityBook:
    """Live ratings per leg and the quality of ended calls (see the module docstring)."""

    def __init__(self, *, jitter_buffer_ms: float = 60.0, wait: float = 5.0) -> None:
        self.jitter_buffer_ms = jitter_buffer_ms
        self.wait = wait
        self.live: dict[int, LegQuality] = {}
        self._pending: dict[str, _Pending] = {}
        self._by_leg: dict[int, str] = {}
        # final figures of legs no ended call waits for (yet): a leg that left a live call
        self._departed: dict[int, tuple[float, LegQuality | None]] = {}
        self._done_early: list[CallQuality] = []  # figures all in as the call ended

    def rate(self, st: LegStats) -> LegQuality | None:
        return leg_quality(st, jitter_buffer_ms=self.jitter_buffer_ms)

    def call_ended(self, ev: CallEnded, legs: dict[str, int], now: float) -> None:
        """``ev``'s call had media legs ``legs`` (role ``caller``/``callee`` -> leg): wait
        for their final figures, and for those of the legs that left it before its end
        (``ev.legs`` with a media leg and no end; their figures may have come already)."""
        want = dict(legs)
        want.update({g.leg_id: g.media for g in ev.legs
                     if g.media is not None and g.call_end is None})
        if not want:
            return
        pending = _Pending(ev, want, now + self.wait)
        for role, leg in want.items():
            came = self._departed.pop(leg, None)
            if came is not None:
                pending.got[role] = came[1]
            else:
                self._by_leg[leg] = ev.call_id
        if len(pending.got) == len(want):
            self._pending[ev.call_id] = pending
            self._done_early.append(self._finish(pending, now))
            return
        self._pending[ev.call_id] = pending

    def stats(self, st: LegStats, now: float) -> tuple[LegQuality | None, CallQuality | None]:
        """A leg's figures: its rating, and the call's quality once it is complete."""
        q = self.rate(st)
        if not st.final:
            if q is not None:
                self.live[st.leg] = q
            return q, None
        self.live.pop(st.leg, None)
        call_id = self._by_leg.pop(st.leg, None)
        pending = self._pending.get(call_id) if call_id is not None else None
        if pending is None:  # a leg that left a live call (a transferor), or unknown
            self._departed[st.leg] = (now, q)  # (None: it carried no audio; it came)
            return q, None
        for role, leg in pending.legs.items():
            if leg == st.leg:
                pending.got[role] = q
        if len(pending.got) < len(pending.legs):
            return q, None
        return q, self._finish(pending, now)

    def expire(self, now: float) -> list[CallQuality]:
        """Calls whose figures did not all come in time (a worker died): what came; and
        the calls whose figures had all come before they ended."""
        out, self._done_early = self._done_early, []
        for leg in [lg for lg, (t, _) in self._departed.items() if t + DEPARTED_KEEP <= now]:
            del self._departed[leg]
        for call_id in [c for c, p in self._pending.items() if p.deadline <= now]:
            pending = self._pending[call_id]
            for leg in pending.legs.values():
                self._by_leg.pop(leg, None)
            if any(q is not None for q in pending.got.values()):
                out.append(self._finish(pending, now))
            else:
                del self._pending[call_id]
        return out

    def forget(self, legs: Iterable[int]) -> None:
        """Legs gone without final figures (their worker died): no live rating is kept."""
        for leg in legs:
            self.live.pop(leg, None)

    def live_mos(self, legs: Iterable[int]) -> float | None:
        """The worse live MOS of ``legs`` (None: none sampled yet)."""
        known = [q.mos for leg in legs if (q := self.live.get(leg)) is not None]
        return min(known) if known else None

    @property
    def waiting(self) -> int:
        """Calls whose quality is still to be given out (``expire`` gives it)."""
        return len(self._pending) + len(self._done_early)

    def _finish(self, pending: _Pending, now: float) -> CallQuality:
        ev = pending.ended
        del self._pending[ev.call_id]
        fields: dict[str, float | None] = {}
        for role in ("caller", "callee"):
            q = pending.got.get(role)
            if q is not None:
                fields.update({f"mos_{role}": q.mos, f"r_{role}": q.r,
                               f"loss_{role}": q.loss_pct, f"jitter_{role}": q.jitter_ms,
                               f"rtt_{role}": q.rtt_ms})
        departed = tuple((role, q) for role, q in pending.got.items()
                         if role not in ("caller", "callee") and q is not None)
        return CallQuality(ev.call_id, now, ev.caller, ev.callee, ev.queue, ev.agent,
                           **fields, legs=departed)
