"""The RTP port pool: least recently released first; pairs that another process holds are
probed out, held for a while (longer after each failure) and tried again; fake time."""

from __future__ import annotations

import pytest

from ccswitch.media.ports import RETRY_AFTER, PortPool, PortsExhausted


class FakeProbe:
    """Pairs in ``taken`` cannot be bound; every probe is counted."""

    def __init__(self, *taken: int) -> None:
        self.taken = set(taken)
        self.calls: list[int] = []

    def __call__(self, port: int) -> bool:
        self.calls.append(port)
        return port not in self.taken


def test_even_ports_least_recently_released_first() -> None:
    pool = PortPool(31001, 31008)
    assert [pool.allocate(0.0) for _ in range(3)] == [31002, 31004, 31006]
    pool.release(31002)
    assert pool.allocate(0.0) == 31002  # the only free one (31008 has no RTCP port)
    with pytest.raises(PortsExhausted) as e:
        pool.allocate(0.0)
    assert e.value.retry_after == RETRY_AFTER


def test_a_pair_that_fails_the_probe_is_skipped_and_held() -> None:
    probe = FakeProbe(32000)
    pool = PortPool(32000, 32009, probe=probe, hold=2.0)
    assert pool.allocate(10.0) == 32002
    assert pool.held == {32000: 12.0} and probe.calls == [32000, 32002]
    assert pool.allocate(11.0) == 32004  # held: not probed again
    assert probe.calls == [32000, 32002, 32004]
    assert len(pool) == 2 and pool.capacity == 5


def test_a_held_pair_is_probed_again_when_its_hold_ends() -> None:
    probe = FakeProbe(32000)
    pool = PortPool(32000, 32003, probe=probe, hold=2.0)  # two pairs
    assert pool.allocate(0.0) == 32002
    probe.taken.clear()  # the other process let it go
    with pytest.raises(PortsExhausted):
        pool.allocate(1.9)
    assert pool.allocate(2.0) == 32000 and pool.held == {}


def test_the_hold_doubles_while_the_pair_stays_taken_and_resets_once_it_binds() -> None:
    probe = FakeProbe(32000)
    pool = PortPool(32000, 32001, probe=probe, hold=1.0, max_hold=5.0)  # one pair
    now, waits = 0.0, []
    for _ in range(5):
        with pytest.raises(PortsExhausted) as e:
            pool.allocate(now)
        until = pool.held[32000]
        waits.append(until - now)
        assert e.value.retry_after == max(1, round(until - now))
        now = until
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]
    probe.taken.clear()
    assert pool.allocate(now) == 32000
    pool.release(32000)
    probe.taken.add(32000)
    with pytest.raises(PortsExhausted):
        pool.allocate(now + 1)
    assert pool.held[32000] == now + 2.0  # back to the first hold


def test_every_pair_taken_is_exhausted_with_the_wait_until_the_first_reprobe() -> None:
    pool = PortPool(32000, 32005, probe=FakeProbe(32000, 32002, 32004), hold=3.0)
    with pytest.raises(PortsExhausted) as e:
        pool.allocate(7.5)
    assert e.value.retry_after == 3 and pool.in_use == 0 and len(pool.held) == 3


def test_exhausted_by_calls_asks_for_the_usual_wait_even_with_a_pair_held() -> None:
    pool = PortPool(32000, 32003, probe=FakeProbe(32002), hold=30.0)
    assert pool.allocate(0.0) == 32000
    with pytest.raises(PortsExhausted) as e:
        pool.allocate(0.0)
    assert e.value.retry_after == RETRY_AFTER


def test_a_pair_found_busy_by_the_worker_is_held_not_released() -> None:
    pool = PortPool(32000, 32005, hold=4.0)
    port = pool.allocate(0.0)
    pool.busy(port, 1.0)
    pool.release(port)  # the call ends afterwards: a no-op
    assert pool.held == {port: 5.0} and pool.in_use == 0
    assert [pool.allocate(2.0), pool.allocate(2.0)] == [32002, 32004]
    with pytest.raises(PortsExhausted):
        pool.allocate(4.9)
    assert pool.allocate(5.0) == port


def test_bad_ranges_and_holds_are_refused() -> None:
    for lo, hi in ((0, 10), (10, 5), (31001, 31001)):
        with pytest.raises(ValueError):
            PortPool(lo, hi)
    with pytest.raises(ValueError):
        PortPool(32000, 32009, hold=0.0)
