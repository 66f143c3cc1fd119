"""OPTIONS keep-alive of one trunk (RFC 3261 §11), sans-IO.

Every ``interval`` seconds a :class:`Keepalive` sends an OPTIONS request to the trunk (pulled
from :meth:`outbox` and handed to the transaction layer by the shell).  The trunk's answer
decides its state:

- any final answer but 408 (200, 404, 405, 483, 503…) means the trunk is alive: a server that
  answers is reachable, even if it does not like OPTIONS;
- 408, a transaction timeout (:meth:`timed_out`) or nothing within ``timeout`` seconds is a
  miss.  ``down_after`` misses in a row mark the trunk down; the first answer marks it up.

The state machine is the table :data:`TABLE`, ``(state, input) -> (next state, event?)``:
the initial state is ``unknown`` (no answer yet), so the first answer emits :class:`TrunkUp`
and ``down_after`` misses emit :class:`TrunkDown`.  Only one probe is outstanding at a time;
answers to older probes (by CSeq) and provisional answers are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from ..ids import Ids
from .dialog import LocalContact
from .message import Headers, Request, Response

__all__ = ["TABLE", "Keepalive", "KeepaliveInput", "KeepaliveState", "TrunkDown", "TrunkUp"]


class KeepaliveState(Enum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class KeepaliveInput(Enum):
    ANSWER = "answer"  # a final answer other than 408
    MISS = "miss"  # 408, timeout, below the miss limit
    LAST_MISS = "last miss"  # the miss that reaches ``down_after``


@dataclass(frozen=True, slots=True)
class TrunkUp:
    """``trunk`` answered (``status``) at ``at``."""

    trunk: str
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class TrunkDown:
    """``trunk`` missed ``misses`` probes in a row up to ``at``."""

    trunk: str
    misses: int
    at: float


KeepaliveEvent = TrunkUp | TrunkDown

S, I = KeepaliveState, KeepaliveInput  # noqa: E741 - short aliases for the table only
TABLE: Final = MappingProxyType({
    (S.UNKNOWN, I.ANSWER): (S.UP, TrunkUp),
    (S.UNKNOWN, I.MISS): (S.UNKNOWN, None),
    (S.UNKNOWN, I.LAST_MISS): (S.DOWN, TrunkDown),
    (S.UP, I.ANSWER): (S.UP, None),
    (S.UP, I.MISS): (S.UP, None),
    (S.UP, I.LAST_MISS): (S.DOWN, TrunkDown),
    (S.DOWN, I.ANSWER): (S.UP, TrunkUp),
    (S.DOWN, I.MISS): (S.DOWN, None),
    (S.DOWN, I.LAST_MISS): (S.DOWN, None),
})
"""(state, input) -> (next state, the event class emitted or None); total over both enums."""


class Keepalive:
    """The keep-alive of ``trunk``: OPTIONS to ``uri`` from ``from_uri`` (see the module
    docstring).  The first probe goes out at ``now`` (the creation time)."""

    def __init__(self, *, trunk: str, uri: str, from_uri: str, me: LocalContact, ids: Ids,
                 now: float, interval: float = 30.0, timeout: float = 5.0, down_after: int = 3,
                 user_agent: str = "") -> None:
        if interval <= 0 or timeout <= 0 or down_after < 1:
            raise ValueError("interval and timeout must be positive, down_after at least 1")
        self.trunk = trunk
        self._uri = uri
        self._from = from_uri
        self._me = me
        self._ids = ids
        self._interval = interval
        self._timeout = timeout
        self._down_after = down_after
        self._user_agent = user_agent
        self._call_id = ids.call_id(me.host)
        self._cseq = 0
        self._outstanding: int | None = None  # CSeq of the probe awaiting an answer
        self._answer_by = 0.0
        self._next_probe: float | None = now
        self.state = KeepaliveState.UNKNOWN
        self.misses = 0
        self._out: list[Request] = []
        self._events: list[KeepaliveEvent] = []

    @property
    def up(self) -> bool:
        """Whether calls may use the trunk: up, or not yet known (a trunk is not skipped
        before its first probe had a chance)."""
        return self.state is not KeepaliveState.DOWN

    # -- inputs ---------------------------------------------------------------------------
    def receive(self, response: Response, now: float) -> None:
        """An answer to one of our probes (others are ignored)."""
        if response.call_id != self._call_id or response.cseq.method != "OPTIONS":
            return
        if response.cseq.seq != self._outstanding or response.status < 200:
            return
        if response.status == 408:
            self._miss(now)
        else:
            self._settle(now)
            self._step(KeepaliveInput.ANSWER, now, response.status)

    def timed_out(self, now: float, cseq: int | None = None) -> None:
        """The transaction layer gave up on the outstanding probe (Timer F); ``cseq``: the
        probe that timed out (an older one, already counted as missed, is ignored)."""
        if self._outstanding is not None and cseq in (None, self._outstanding):
            self._miss(now)

    def handle_timer(self, now: float) -> None:
        if self._outstanding is not None and now >= self._answer_by:
            self._miss(now)
        if self._outstanding is None and self._next_probe is not None and now >= self._next_probe:
            self._probe(now)

    def next_deadline(self) -> float | None:
        if self._outstanding is not None:
            return self._answer_by
        return self._next_probe

    def outbox(self) -> list[Request]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[KeepaliveEvent]:
        out, self._events = self._events, []
        return out

    def stop(self) -> None:
        """No more probes (the trunk is removed)."""
        self._outstanding = None
        self._next_probe = None

    # -- internals ------------------------------------------------------------------------
    def _settle(self, now: float) -> None:
        self._outstanding = None
        if self._next_probe is not None:
            self._next_probe = now + self._interval

    def _miss(self, now: float) -> None:
        self._settle(now)
        self.misses += 1
        last = self.misses >= self._down_after
        self._step(KeepaliveInput.LAST_MISS if last else KeepaliveInput.MISS, now, 408)

    def _step(self, inp: KeepaliveInput, now: float, status: int) -> None:
        nxt, event = TABLE[(self.state, inp)]
        if inp is KeepaliveInput.ANSWER:
            self.misses = 0
        self.state = nxt
        if event is TrunkUp:
            self._events.append(TrunkUp(self.trunk, status, now))
        elif event is TrunkDown:
            self._events.append(TrunkDown(self.trunk, self.misses, now))

    def _probe(self, now: float) -> None:
        self._cseq += 1
        h = Headers()
        h.add("Via", self._me.via(self._ids.branch()))
        h.add("Max-Forwards", "70")
        h.add("From", f"<{self._from}>;tag={self._ids.tag()}")
        h.add("To", f"<{self._uri}>")
        h.add("Call-ID", self._call_id)
        h.add("CSeq", f"{self._cseq} OPTIONS")
        h.add("Contact", self._me.contact())
        h.add("Accept", "application/sdp")
        if self._user_agent:
            h.add("User-Agent", self._user_agent)
        h.add("Content-Length", "0")
        self._out.append(Request("OPTIONS", self._uri, h))
        self._outstanding = self._cseq
        self._answer_by = now + self._timeout
