"""The daemon's collector pacing: young passes freeze survivors; a grown frozen set gets a full
pass, so a cycle that became garbage after it was frozen is still reclaimed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest

from ccswitch import daemon


class FakeLoop:
    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.scheduled.append((delay, fn))


class Node:
    other: Node | None = None


@pytest.fixture
def frozen_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def test_young_passes_reschedule_and_leave_a_steady_heap_alone(
        frozen_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = FakeLoop()
    pacer = daemon._GcPacer(loop, gc.get_freeze_count())  # type: ignore[arg-type]
    baseline = pacer.baseline
    counted: list[int] = []
    monkeypatch.setattr(gc, "get_freeze_count", lambda: counted.append(1) or baseline)
    passes = round(daemon.GC_FULL_CHECK / daemon.GC_PERIOD)
    for _ in range(passes):
        pacer.young_pass()
    assert [d for d, _ in loop.scheduled] == [daemon.GC_PERIOD] * passes
    assert len(counted) == 1  # the frozen set is counted (a walk over it) once a minute
    assert pacer.baseline == baseline  # no full pass: the frozen set did not grow by half


def test_a_frozen_garbage_cycle_is_reclaimed_once_the_frozen_set_grows(
        frozen_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon, "GC_FULL_MIN", 0)
    monkeypatch.setattr(daemon, "GC_FULL_CHECK", daemon.GC_PERIOD)  # look at every pass
    pacer = daemon._GcPacer(FakeLoop(), gc.get_freeze_count())  # type: ignore[arg-type]
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    pacer.young_pass()  # the pair survives (still referenced) and is frozen
    del a, b
    pacer.young_pass()
    assert ref() is not None  # garbage now, but frozen: young passes never see it
    grown = [[] for _ in range(int(pacer.baseline * (daemon.GC_FULL_GROWTH - 1)) + 10)]
    pacer.young_pass()  # the frozen set grew by half: a full pass
    assert ref() is None
    assert pacer.baseline >= len(grown)
