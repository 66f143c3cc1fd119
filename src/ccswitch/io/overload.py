"""Loop lateness: the overload guard's policy and the ``loop_lag`` statistics.

Both are pure (the caller measures the lag and passes the time), so the policy is tested with
a fake clock.  The guard sheds new calls only while the loop is *behind*: one late timer (a
single pause: a slow disk write, a collector pass) is counted and logged but refuses nothing;
shedding starts when ``late_samples`` probes in a row were late and stops at the first probe
on time, so a pause costs at most one probe period of refused calls, not seconds of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """What one probe decided: ``shedding`` now; ``changed`` when it differs from before;
    ``stall`` when this probe is the first late one of a run (log it once)."""

    shedding: bool
    changed: bool
    stall: bool


class OverloadGuard:
    """Shed new work while the loop's lateness stays above ``limit`` for ``late_samples``
    consecutive probes; clear at the first probe under ``limit``."""

    def __init__(self, *, limit: float = 0.1, late_samples: int = 2) -> None:
        assert limit > 0 and late_samples >= 1
        self.limit = limit
        self.late_samples = late_samples
        self.shedding = False
        self._late_run = 0  # consecutive late probes so far

    def observe(self, lag: float) -> GuardVerdict:
        """One probe ran ``lag`` seconds after it was due."""
        was = self.shedding
        if lag > self.limit:
            self._late_run += 1
        else:
            self._late_run = 0
        self.shedding = self._late_run >= self.late_samples
        return GuardVerdict(self.shedding, self.shedding != was, self._late_run == 1)


class LagStats:
    """Loop lateness over a reporting window, kept as a 1 ms histogram (cheap to add to, and
    windows can be merged exactly by whoever reads the log)."""

    def __init__(self, *, started: float) -> None:
        self.started = started
        self._hist: Counter[int] = Counter()
        self._max = 0.0

    def add(self, lag: float) -> None:
        lag = max(lag, 0.0)
        self._hist[int(lag * 1000)] += 1
        self._max = max(self._max, lag)

    @property
    def samples(self) -> int:
        return sum(self._hist.values())

    def quantile_ms(self, q: float) -> int:
        """The 1 ms bucket holding quantile ``q`` (its lower edge); 0 without samples."""
        return hist_quantile(self._hist, q)

    def report(self, now: float) -> dict[str, int | float | str]:
        """The window's figures as plain log values, then start a new window at ``now``."""
        out: dict[str, int | float | str] = {
            "window_s": round(now - self.started, 1), "samples": self.samples,
            "p50_ms": self.quantile_ms(0.5), "p99_ms": self.quantile_ms(0.99),
            "max_ms": round(self._max * 1000, 1),
            "hist": ",".join(f"{ms}:{n}" for ms, n in sorted(self._hist.items())),
        }
        self.started = now
        self._hist.clear()
        self._max = 0.0
        return out


def hist_quantile(hist: Counter[int] | dict[int, int], q: float) -> int:
    """Quantile ``q`` of a ``{bucket: count}`` histogram, as the bucket that holds it."""
    total = sum(hist.values())
    if not total:
        return 0
    rank = q * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return bucket
    return max(hist)


def parse_hist(text: str) -> dict[int, int]:
    """The ``hist`` field of a ``loop_lag`` log line back into ``{ms: count}``."""
    out: dict[int, int] = {}
    for part in text.split(","):
        if part:
            ms, _, n = part.partition(":")
            out[int(ms)] = out.get(int(ms), 0) + int(n)
    return out


@dataclass(frozen=True, slots=True)
class OverloadRecord:
    """One ``switch.overload`` event: the guard shed new requests from ``since`` to ``until``
    (the last probe that found it shedding), ``shed`` of them, the loop at most ``max_lag``
    seconds late.  Times on the caller's clock."""

    since: float
    until: float
    shed: int
    max_lag: float


class OverloadRecorder:
    """Turns the guard's shedding into durable records, at most one per ``gap`` seconds, so
    that a flood (or a guard flapping on and off) cannot fill the disk.

    A window opens when shedding starts; shedding that starts again before the window is
    written joins it.  The window is written when shedding has stopped and ``gap`` has passed
    since the last record, or, while shedding goes on, every ``longest`` seconds (a new window
    opens at once)."""

    def __init__(self, *, gap: float = 10.0, longest: float = 60.0) -> None:
        assert 0 < gap <= longest
        self.gap = gap
        self.longest = longest
        self._last_written = -float("inf")
        self._window: list[float] | None = None  # [since, until, max_lag]
        self._base = 0  # the shed counter when the window opened

    def probe(self, now: float, *, shedding: bool, lag: float, shed_total: int
              ) -> OverloadRecord | None:
        """One probe at ``now``; ``shed_total``: requests shed since the start (a counter).
        Returns the record to write, if one is due."""
        w = self._window
        if shedding:
            if w is None:
                self._window = [now, now, lag]
                self._base = shed_total
                return None
            w[1], w[2] = now, max(w[2], lag)
            if now - w[0] >= self.longest:
                return self._write(now, shed_total, reopen=True)
            return None
        if w is not None and now - self._last_written >= self.gap:
            return self._write(now, shed_total, reopen=False)
        return None

    def _write(self, now: float, shed_total: int, *, reopen: bool) -> OverloadRecord:
        w = self._window
        assert w is not None
        rec = OverloadRecord(w[0], w[1], shed_total - self._base, w[2])
        self._last_written = now
        self._window = [now, now, 0.0] if reopen else None
        self._base = shed_total
        return rec
