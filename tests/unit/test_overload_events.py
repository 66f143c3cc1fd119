"""The shell's lag probe writes ``switch.overload`` events (rate-limited) and the signaling
core sheds while it is behind: the switch's probe driven with a fake loop clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from test_reload import config, demo_text

from ccswitch.call.eventlog import EventRecord
from ccswitch.switch import LAG_PERIOD
from ccswitch.switch import Switch as ShellSwitch


class FakeLoop:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> None:
        return None


class FakeSignaling:
    def __init__(self) -> None:
        self.overloaded = False
        self.counters: Counter[str] = Counter()


class FakeEvents:
    def __init__(self) -> None:
        self.written: list[EventRecord] = []

    def append(self, records: Sequence[EventRecord]) -> None:
        self.written.extend(records)


def test_a_spell_of_lateness_sheds_and_is_written_once_as_switch_overload() -> None:
    sw = ShellSwitch(config(demo_text()))
    loop, sig, events = FakeLoop(), FakeSignaling(), FakeEvents()
    sw._loop, sw.signaling, sw.events = loop, sig, events  # type: ignore[assignment]
    sw.writer = object()  # type: ignore[assignment]  # (a running store: events are written)
    sw._wall_offset = 1000.0

    def probe(due: float, late: float) -> None:
        loop.now = due + late
        sw._lag_probe(due)

    probe(10.0, 0.3)  # one late probe (at 10.3): a stall, no shedding
    assert not sig.overloaded
    probe(10.0 + LAG_PERIOD, 0.3)  # the second in a row (at 10.35): shedding
    assert sig.overloaded
    sig.counters["shed"] += 4  # the core refused 4 INVITEs meanwhile
    probe(11.0, 0.5)  # still behind at 11.5 (0.5 s late)
    probe(12.0, 0.0)  # on time: shedding stops, the window 10.35 .. 11.5 is written
    assert not sig.overloaded
    (rec,) = events.written
    # wall clock = loop clock + 1000; the worst lag 0.5 s
    assert (rec.type, rec.time) == ("switch.overload", 1012.0)
    assert dict(rec.fields) == {"since": 1010.35, "until": 1011.5, "shed": 4,
                                "max_lag_ms": 500}
    probe(13.0, 0.3)
    probe(13.0 + LAG_PERIOD, 0.3)  # shedding again from 13.35
    probe(14.0, 0.0)
    assert len(events.written) == 1  # within 10 s of the last record: not written yet
    probe(22.0, 0.0)  # 10 s after it
    assert [(r.fields["since"], r.fields["shed"]) for r in events.written] == [
        (1010.35, 4), (1013.35, 0)]
