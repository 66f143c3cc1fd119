"""Call quality in the shell's book (fake clock) and in the CDR (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from ccswitch.call.events import CallEnded
from ccswitch.call.quality import QualityBook, leg_quality
from ccswitch.media.commands import LegStats
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location


def ended(call_id: str = "c1") -> CallEnded:
    return CallEnded(call_id, "1001", "1002", 200, "OK", 10.0, 12.0, 70.0, "caller",
                     queue="support", agent="2001",
                     media_legs=(("caller", 7), ("callee", 8)))


def stats(leg: int, *, lost: int = 0, expected: int = 100, final: bool = True,
          **kw: object) -> LegStats:
    return LegStats(leg, received=expected - lost, lost=lost, expected=expected,
                    codec="PCMU", final=final, **kw)  # type: ignore[arg-type]


def test_leg_quality_takes_the_worse_direction() -> None:
    # ours 2 of 100 = 2 %, the peer's 12 of 120 = 10 %: 10 % counts; jitter max(3, 8) = 8
    q = leg_quality(stats(1, lost=2, jitter_ms=3.0, peer_lost=12, peer_expected=120,
                          peer_jitter_ms=8.0, rtt_ms=40.0))
    assert q is not None
    assert (q.loss_pct, q.jitter_ms, q.rtt_ms) == (10.0, 8.0, 40.0)
    # d = 40/2 + max(60, 16) + 20 = 100 ms: Id = 2.4; Ie,eff = 950/35.1 = 27.0655270655
    # R = 93.2 - 2.4 - 27.0655270655 = 63.7344729345 (rounded to 63.7)
    assert q.r == 63.7
    # MOS = 1 + 0.035*63.7344729345 + 63.7344729345*3.7344729345*36.2655270655*7e-6
    #     = 1 + 2.2307065527 + 0.0604220907 = 3.2911286434, 3.29 to 2 places
    assert q.mos == 3.29


def test_a_leg_without_audio_either_way_has_no_rating() -> None:
    assert leg_quality(stats(1, expected=0)) is None
    # the peer's report alone rates it: 0 of 50 lost
    q = leg_quality(stats(1, expected=0, peer_lost=0, peer_expected=50))
    assert q is not None and q.loss_pct == 0.0


def test_live_samples_give_a_calls_mos_and_finals_give_its_quality() -> None:
    book = QualityBook(jitter_buffer_ms=60.0, wait=5.0)
    assert book.live_mos([7, 8]) is None
    book.stats(stats(7, final=False), 1.0)
    book.stats(stats(8, lost=10, final=False), 1.0)
    # leg 7 clean: 4.37 (4.369083751936 rounded); leg 8 at 10 %: 3.32 (3.3152990527): worse
    assert book.live_mos([7, 8]) == 3.32
    book.call_ended(ended(), {"caller": 7, "callee": 8}, 2.0)
    _, done = book.stats(stats(7), 2.5)
    assert done is None and book.waiting == 1  # the callee's leg still to come
    q, done = book.stats(stats(8, lost=10), 2.9)
    assert q is not None and q.mos == 3.32
    assert done is not None and book.waiting == 0
    assert (done.call_id, done.at, done.queue, done.agent) == ("c1", 2.9, "support", "2001")
    assert (done.mos_caller, done.loss_caller, done.rtt_caller) == (4.37, 0.0, None)
    assert (done.mos_callee, done.loss_callee, done.r_callee) == (3.32, 10.0, 64.2)
    assert done.mos == 3.32
    assert book.live_mos([7, 8]) is None  # the legs are gone
    book.stats(stats(9, final=False), 3.0)
    book.forget([9])  # its worker died: no final figures will come
    assert book.live_mos([9]) is None and book.live == {}


def test_a_call_whose_figures_do_not_all_come_goes_with_what_came() -> None:
    book = QualityBook(wait=5.0)
    book.call_ended(ended("c1"), {"caller": 7, "callee": 8}, 10.0)
    book.call_ended(ended("c2"), {"caller": 9}, 10.0)
    book.stats(stats(7), 11.0)
    assert book.expire(14.9) == []  # not yet: 10 + 5
    (late,) = book.expire(15.0)  # c2 got nothing: no event for it
    assert late.call_id == "c1" and late.mos_caller == 4.37 and late.mos_callee is None
    assert book.waiting == 0
    # a final figure for a leg of no ended call (a transfer replaced it) is rated, no more
    q, done = book.stats(stats(42), 16.0)
    assert q is not None and done is None


def test_the_cdr_row_gets_the_quality_columns(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(ended("c1"), wall_offset=0.0)
    store.add(ended("c2"), wall_offset=0.0)
    assert store.quality("c1") == dict.fromkeys(
        ("mos_caller", "r_caller", "loss_caller", "jitter_caller", "rtt_caller",
         "mos_callee", "r_callee", "loss_callee", "jitter_callee", "rtt_callee"))
    book = QualityBook()
    book.call_ended(ended("c1"), {"caller": 7}, 0.0)
    _, done = book.stats(stats(7, lost=10, jitter_ms=2.5, rtt_ms=12.0), 1.0)
    assert done is not None
    store.set_quality([done])
    store.close()
    got = CdrStore(store_at.connect()).quality("c1")
    assert got is not None
    # d = 6 + 60 + 20 = 86 ms: Id = 2.064; R = 93.2 - 2.064 - 27.0655270655 = 64.0704729345
    assert got["r_caller"] == pytest.approx(64.1)
    assert (got["loss_caller"], got["jitter_caller"], got["rtt_caller"]) == (10.0, 2.5, 12.0)
    assert got["mos_callee"] is None
    assert CdrStore(store_at.connect()).quality("c2") is not None
    assert CdrStore(store_at.connect()).quality("nope") is None
