"""The per-source request budget (sip/source_limit.py) on a fake clock."""

from __future__ import annotations

import pytest

from ccswitch.sip.source_limit import SourceLimit


def test_the_budget_of_a_window_then_503_style_refusals_logged_once() -> None:
    lim = SourceLimit(limit=3, window=10.0)
    a = ("udp", "10.0.0.1", 5060)
    assert [lim.check(a, 0.0).allowed for _ in range(3)] == [True, True, True]
    fourth = lim.check(a, 2.5)
    # the window opened at 0.0 and ends at 10.0: 10.0 - 2.5 = 7.5 s, rounded up to 8
    assert (fourth.allowed, fourth.first_refusal, fourth.retry_after) == (False, True, 8)
    fifth = lim.check(a, 9.2)  # 10.0 - 9.2 = 0.8 s, rounded up to 1
    assert (fifth.allowed, fifth.first_refusal, fifth.retry_after) == (False, False, 1)
    assert lim.refused(a) == 2
    # another source has its own budget
    assert lim.check(("udp", "10.0.0.1", 5062), 9.5).allowed
    # at 10.0 the window of ``a`` is over: a fresh budget, and a new episode is logged again
    assert lim.check(a, 10.0).allowed
    assert lim.refused(a) == 0
    assert [lim.check(a, 10.1).allowed for _ in range(2)] == [True, True]
    again = lim.check(a, 10.2)
    assert (again.allowed, again.first_refusal) == (False, True)


def test_it_keeps_at_most_max_sources_records() -> None:
    lim = SourceLimit(limit=1, window=60.0, max_sources=2)
    assert lim.check("a", 0.0).allowed
    assert not lim.check("a", 0.1).allowed
    assert lim.check("b", 0.2).allowed
    assert lim.check("c", 0.3).allowed  # a third source evicts the oldest record, "a"
    assert lim.refused("a") == 0
    assert lim.check("a", 0.4).allowed  # "a" starts over


def test_bad_settings_are_refused() -> None:
    for kw in ({"limit": 0, "window": 1.0}, {"limit": 1, "window": 0.0}):
        with pytest.raises(ValueError):
            SourceLimit(**kw)  # type: ignore[arg-type]
