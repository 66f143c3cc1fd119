"""Report reads shared between requests (the wallboard's chart, the report page): a result is
kept with the marks of the stores it was read from, and given again while they say nothing it
read can have changed.

* **Closed** (the range's read window, outcomes included, ends before the time of the newest
  durable row and before now): later writes cannot reach it; kept until a retention delete
  (the oldest row id moves).
* **Open** (today): kept while no durable row has been added since (the newest row ids are
  the same) and for at most ``ttl`` seconds, since figures still open at the time of reading
  (a caller waiting, an agent logged in, a wrap-up) grow with it.  A call whose events are
  durable shows in the next read.
* **Forecast**: its history ends at a local midnight; it reads the outcomes of that history's
  callers up to a day later.  Kept while no outcome of a caller who entered in the last day
  of the history has been added since (``outcome_mark``); today's new callers leave it.

Two marks queries (indexed ``max``/``min`` of the row ids) per read, instead of the replay.
Layer 4: blocking, run in the reports' worker thread."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .history_input import EVENTS as HISTORY_EVENTS

if TYPE_CHECKING:
    from ..store.db import Db

T = TypeVar("T")
TTL = 5.0  # s an open result is given again (the today board's figures: as ``today_cache``)
SIZE = 64  # results kept (the least recently used goes)
ROWS = 50_000  # rows kept in all (a report's rows, a forecast's queues): bounds the memory
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Marks:
    """The stores' row-id range and the time of their newest row (``time``: the older of the
    queue log's and the event stream's; -inf when empty)."""

    oldest: tuple[Any, ...]  # min ids: a retention delete moves them
    newest: tuple[Any, ...]  # max ids: any write moves them
    queue_time: float
    events_time: float


def marks(db: Db) -> Marks:
    """The marks of the queue log, the event stream and the CDRs, now."""
    q = db.execute("SELECT (SELECT min(id) FROM queue_events), (SELECT max(id) FROM"
                   " queue_events), (SELECT min(seq) FROM events), (SELECT max(seq) FROM"
                   " events), (SELECT max(id) FROM cdr)").fetchone()
    qt = db.execute("SELECT time FROM queue_events ORDER BY id DESC LIMIT 1").fetchone()
    et = db.execute("SELECT time FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return Marks((q[0], q[2]), (q[1], q[3], q[4]),
                 float(qt[0]) if qt else float("-inf"), float(et[0]) if et else float("-inf"))


def first_row(db: Db) -> Any:
    """The queue log's oldest row id (a retention delete moves it)."""
    return db.execute("SELECT min(id) FROM queue_events").fetchone()[0]


def outcome_mark(db: Db, until: float) -> tuple[Any, ...]:
    """The newest queue-log row a forecast of history ending at ``until`` counts after it:
    an outcome of a caller who entered in the day before ``until`` (any later row of such
    a caller moves the mark).  A caller who entered earlier and is still in the queue or
    talking a day later is left out: every report reads outcomes a day on at most (``TAIL``)
    and a queue's wait is shorter."""
    outcomes = [e for e in HISTORY_EVENTS if e != "CallerEntered"]
    marks_ = ",".join("?" * len(outcomes))
    row = db.execute(
        f"SELECT max(id), count(*) FROM queue_events WHERE event IN ({marks_}) AND time >= ?"
        " AND call_id IN (SELECT call_id FROM queue_events WHERE event = 'CallerEntered'"
        " AND time >= ? AND time < ?)", (*outcomes, until, until - DAY, until)).fetchone()
    return tuple(row)


@dataclass(slots=True)
class _Entry:
    value: Any
    stamp: tuple[Any, ...]
    at: float
    ttl: float | None  # None: no expiry by time
    rows: int


class ReportCache:
    """``get(key, stamp, compute)``: the kept value of ``key`` when its stamp is the same
    (and, for an open value, it is younger than ``ttl``), else ``compute()`` kept."""

    def __init__(self, *, ttl: float = TTL, size: int = SIZE, rows: int = ROWS,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.size = size
        self.rows = rows
        self._rows = 0  # rows kept now
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, stamp: tuple[Any, ...], compute: Callable[[], T], *,
            expires: bool) -> T:
        """``expires``: the value depends on the time of reading (kept ``ttl`` seconds)."""
        now = self.clock()
        with self._lock:
            got = self._kept.get(key)
            if got is not None and got.stamp == stamp and (
                    got.ttl is None or got.at <= now < got.at + got.ttl):
                self._kept.move_to_end(key)
                self.hits += 1
                return got.value  # type: ignore[no-any-return]
        value = compute()
        rows = len(value) if isinstance(value, Sized) else 1
        with self._lock:
            self.misses += 1
            old = self._kept.pop(key, None)
            if old is not None:
                self._rows -= old.rows
            if rows <= self.rows:  # a larger answer is not kept
                self._kept[key] = _Entry(value, stamp, now, self.ttl if expires else None, rows)
                self._rows += rows
            while len(self._kept) > self.size or self._rows > self.rows:
                self._rows -= self._kept.popitem(last=False)[1].rows
        return value


def report_stamp(m: Marks, *, kind: str, window_end: float, now: float
                 ) -> tuple[tuple[Any, ...], bool]:
    """(stamp, expires) of a report whose reads end at ``window_end``: closed when that is
    before now and before the newest row of the store it reads."""
    newest = m.events_time if kind == "audit" else m.queue_time
    if window_end <= min(now, newest):
        return ("closed", *m.oldest), False
    return ("open", *m.oldest, *m.newest), True
