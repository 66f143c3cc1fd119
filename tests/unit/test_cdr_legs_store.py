"""``cdr_legs`` and ``cdr.transfers`` (schema step 9 of ``cdr``) on SQLite and PostgreSQL
(``store_at``): written with the CDR, once; the late quality figures land on the legs that
were the call's two ends; the history reader gives them with each CDR."""

from __future__ import annotations

from ccswitch.call.events import CallEnded, LegRecord, TransferStep
from ccswitch.call.quality import CallQuality
from ccswitch.store.cdr import MIGRATIONS, CdrStore
from ccswitch.store.db import Location
from ccswitch.store.history import HistoryFilter, HistoryReader

WALL = 1_700_000_000.0
LEGS = (
    LegRecord("a", "caller", "1001", 1.0, 1.0, 40.0, 200, "OK", "party", "PCMA", "caller"),
    LegRecord("b1", "agent", "2001", 1.0, None, 3.2, 487, "Request Terminated", "switch"),
    LegRecord("b2", "agent", "2002", 1.0, 3.0, 12.5, 200, "OK", "party", "PCMU"),
    LegRecord("t", "transfer", "1003", 10.0, 12.0, 40.0, 200, "OK", "peer", "PCMU", "callee"),
)
XFERS = (TransferStep("blind", "2002", "1003", 10.0, "refer", "answered"),)


def call() -> CallEnded:
    return CallEnded("q1", "1001", "queue:support", 200, "OK", 1.0, 1.0, 40.0, "caller",
                     queue="support", agent=None, legs=LEGS, transfers=XFERS)


def test_every_leg_is_written_with_the_cdr_in_order_and_once(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(call(), wall_offset=WALL)
    store.add(call(), wall_offset=WALL)  # a batch run again after a lost COMMIT
    assert len(store.rows()) == 1
    legs = store.legs("q1")
    # n counts from 0 in the call's order; times shifted by WALL
    assert [(g["n"], g["leg_id"], g["role"], g["party"], g["started"], g["answered"],
             g["ended"], g["status"], g["reason"], g["ended_by"], g["codec"], g["call_end"])
            for g in legs] == [
        (0, "a", "caller", "1001", WALL + 1, WALL + 1, WALL + 40, 200, "OK", "party", "PCMA",
         "caller"),
        (1, "b1", "agent", "2001", WALL + 1, None, WALL + 3.2, 487, "Request Terminated",
         "switch", None, None),
        (2, "b2", "agent", "2002", WALL + 1, WALL + 3, WALL + 12.5, 200, "OK", "party", "PCMU",
         None),
        (3, "t", "transfer", "1003", WALL + 10, WALL + 12, WALL + 40, 200, "OK", "peer", "PCMU",
         "callee")]
    assert store.transfers("q1") == [{"kind": "blind", "by": "2002", "target": "1003",
                                      "at": WALL + 10, "via": "refer", "result": "answered"}]
    assert all(g["mos"] is None for g in legs)  # until the media workers report


def test_the_late_quality_goes_to_the_legs_that_were_the_two_ends(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(call(), wall_offset=WALL)
    store.set_quality([CallQuality("q1", 41.0, "1001", "queue:support", "support", None,
                                   mos_caller=4.1, r_caller=80.0, loss_caller=1.5,
                                   jitter_caller=3.0, rtt_caller=None,
                                   mos_callee=3.2, r_callee=60.0, loss_callee=6.0,
                                   jitter_callee=12.5, rtt_callee=45.0)])
    q = {g["leg_id"]: (g["mos"], g["r"], g["loss"], g["jitter"], g["rtt"])
         for g in store.legs("q1")}
    assert q == {"a": (4.1, 80.0, 1.5, 3.0, None), "b1": (None,) * 5, "b2": (None,) * 5,
                 "t": (3.2, 60.0, 6.0, 12.5, 45.0)}
    assert store.quality("q1") is not None and store.quality("q1")["mos_callee"] == 3.2


def test_the_history_reader_gives_each_cdr_its_legs_and_chain(store_at: Location) -> None:
    store = CdrStore(store_at.connect())
    store.add(call(), wall_offset=WALL)
    store.add(CallEnded("r1", "1001", "5555", 404, "Not Found", 50.0, None, 50.0, "switch"),
              wall_offset=WALL)
    rows = HistoryReader(store_at.connect(read_only=True)).cdrs(HistoryFilter(), None)
    q1, r1 = rows
    assert [(g.leg_id, g.role, g.ended) for g in q1.legs] == [
        ("a", "caller", WALL + 40), ("b1", "agent", WALL + 3.2), ("b2", "agent", WALL + 12.5),
        ("t", "transfer", WALL + 40)]
    assert [t["target"] for t in q1.transfers] == ["1003"]
    assert r1.legs == () and r1.transfers == []  # a refused call written without legs


def test_step_9_is_the_last_one() -> None:
    assert len(MIGRATIONS) == 9


def test_a_transferors_figures_reach_its_leg_row_whenever_they_come(
        store_at: Location) -> None:
    """The transferor's leg (media leg 5) left the call before its end: its final figures
    come while the call runs (kept by the book) or after it ended (waited for)."""
    from ccswitch.call.quality import QualityBook
    from ccswitch.media.commands import LegStats

    def final(leg: int, lost: int) -> LegStats:
        return LegStats(leg, received=100 - lost, lost=lost, expected=100, codec="PCMU",
                        final=True)

    departed = LegRecord("b2", "agent", "2002", 1.0, 3.0, 12.5, 200, "OK", "party", "PCMU",
                         None, 5)
    ev = CallEnded("q1", "1001", "queue:support", 200, "OK", 1.0, 1.0, 40.0, "caller",
                   legs=(LEGS[0], departed, LEGS[3]), media_legs=(("caller", 7),
                                                                 ("callee", 8)))
    for early in (True, False):
        book = QualityBook(wait=5.0)
        if early:  # 2002's leg was destroyed at 12.5: its figures come at 13.0
            assert book.stats(final(5, 20), 13.0)[1] is None
        book.call_ended(ev, dict(ev.media_legs), 40.0)
        assert book.waiting == 1
        if not early:
            assert book.stats(final(5, 20), 40.2)[1] is None
        assert book.stats(final(7, 0), 40.5)[1] is None
        _, done = book.stats(final(8, 10), 40.6)
        assert done is not None and book.waiting == 0
        ((leg_id, q),) = done.legs
        # 20 of 100 lost: 20 %, as the book rates any leg (test_call_quality has the E-model)
        assert leg_id == "b2" and q.loss_pct == 20.0
        store = CdrStore(store_at.connect())
        store.add(ev, wall_offset=0.0)
        store.set_quality([done])
        got = {g["leg_id"]: g["loss"] for g in store.legs("q1")}
        assert got == {"a": 0.0, "b2": 20.0, "t": 10.0}
        store._db.execute("DELETE FROM cdr_legs")
        store._db.execute("DELETE FROM cdr")
        store.close()


def test_departed_figures_no_call_claims_are_dropped_after_an_hour() -> None:
    from ccswitch.call.quality import DEPARTED_KEEP, QualityBook
    from ccswitch.media.commands import LegStats

    book = QualityBook(wait=5.0)
    book.stats(LegStats(9, received=100, lost=0, expected=100, codec="PCMU", final=True), 1.0)
    assert 9 in book._departed
    book.expire(1.0 + DEPARTED_KEEP - 0.1)
    assert 9 in book._departed
    book.expire(1.0 + DEPARTED_KEEP)
    assert 9 not in book._departed
