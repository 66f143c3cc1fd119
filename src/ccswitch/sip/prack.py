"""Reliable provisional responses (RFC 3262: ``100rel``, RSeq, RAck, PRACK), sans-IO.

Two sides, each a small table in the style of ``txn_tables``:

* **UAS** (:class:`ReliableProvisionals`, one per INVITE we answer): a provisional the TU
  wants sent reliably gets ``Require: 100rel`` and the next ``RSeq``; it is retransmitted at
  T1, 2·T1, 4·T1… (§3: the interval doubles, no cap; none over a reliable transport) until a
  PRACK whose RAck names it; 64·T1 without one and the INVITE is to be refused with a 5xx
  (``gave_up``).  Only one reliable provisional is unacknowledged at a time: later ones wait
  in order.  A 2xx waits while the unacknowledged one carried SDP (§3).  A PRACK that names
  no unacknowledged provisional is answered 481.
* **UAC** (:class:`ProvisionalAcks`, one per INVITE we send): a reliable provisional (RSeq and
  ``Require: 100rel``) is PRACKed once: the first of each early dialog (To tag) and then only
  ``RSeq + 1``; a retransmission or one out of order is neither PRACKed nor processed (§4).

The tables are total over every live state for the inputs from the network (PRACKs) and the
TU; timers are armed only in states whose rows handle them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Literal

from ..errors import SipParseError
from .message import Request, Response

OPTION_TAG = "100rel"
MAX_RSEQ = 2**32 - 1
Mode = Literal["off", "supported", "required"]
MODES: tuple[Mode, ...] = ("off", "supported", "required")
GIVE_UP_STATUS = (504, "Server Time-out")  # no PRACK within 64*T1 (§3: "a 5xx")


def has_option(msg: Request | Response, header: str, tag: str = OPTION_TAG) -> bool:
    """Whether ``header`` (Require, Supported…) of ``msg`` lists option tag ``tag``."""
    return any(v.strip().lower() == tag for v in msg.headers.get_all(header))


def wants_reliable(invite: Request, *, mode: Mode, with_sdp: bool) -> bool:
    """Whether a provisional to ``invite`` goes reliably: always when the INVITE requires
    100rel; when it only supports it, a provisional with SDP (early media) does, and every
    one when our side (a trunk's ``100rel``) is ``required``; never when ``mode`` is off."""
    if has_option(invite, "require"):
        return True
    if mode == "off" or not has_option(invite, "supported"):
        return False
    return with_sdp or mode == "required"


def refuses_required(invite: Request, mode: Mode) -> bool:
    """An INVITE that requires 100rel from a peer configured ``off``: 420 Bad Extension."""
    return mode == "off" and has_option(invite, "require")


@dataclass(frozen=True, slots=True)
class RAck:
    """The RAck header (§7.2): ``response-num CSeq-num Method``."""

    rseq: int
    cseq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> RAck:
        parts = text.split()
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise SipParseError(400, "Bad RAck")
        rseq, cseq = int(parts[0]), int(parts[1])
        if not (1 <= rseq <= MAX_RSEQ and cseq <= MAX_RSEQ):
            raise SipParseError(400, "Bad RAck")
        return cls(rseq, cseq, parts[2])

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


def rseq_of(resp: Response) -> int | None:
    """The RSeq of a reliable provisional (1xx but 100, ``Require: 100rel``, a valid RSeq);
    None for any other response (one with a broken RSeq is taken as unreliable)."""
    if not 100 < resp.status < 200 or not has_option(resp, "require"):
        return None
    text = (resp.headers.get("rseq") or "").strip()
    if not text.isdigit():
        return None
    n = int(text)
    return n if 1 <= n <= MAX_RSEQ else None


# -- UAS ---------------------------------------------------------------------------------------


class UasState(Enum):
    __hash__ = object.__hash__

    IDLE = "no reliable provisional unacknowledged"
    WAITING = "one reliable provisional unacknowledged"
    HOLDING = "unacknowledged with SDP, a 2xx waiting for its PRACK"
    OVER = "final sent, or given up"


class UasInput(Enum):
    __hash__ = object.__hash__

    PROVISIONAL = "the TU sends a reliable provisional"
    PRACK = "a PRACK naming the unacknowledged provisional"
    STRAY_PRACK = "a PRACK naming nothing unacknowledged"
    FINAL = "the TU sends a final response that may go now"
    FINAL_WAITS = "the TU sends a 2xx while SDP waits for its PRACK"
    TIMER_RETX = "retransmission timer"
    TIMER_GIVE_UP = "64*T1 without PRACK"


class UasDo(Enum):
    __hash__ = object.__hash__

    SEND = "stamp RSeq and Require, send, arm the retransmission and give-up timers"
    QUEUE = "keep the provisional until the PRACK of the one before"
    RESEND = "send the unacknowledged provisional again, double the interval"
    STOP = "stop the timers"
    ACCEPT = "answer the PRACK 200"
    REFUSE = "answer the PRACK 481"
    SEND_FINAL = "send the final response"
    HOLD_FINAL = "keep the 2xx until the PRACK"
    RELEASE_FINAL = "send the kept 2xx"
    GIVE_UP = "refuse the INVITE with a 5xx (gave_up)"
    DROP = "drop (a provisional after the final)"


@dataclass(frozen=True, slots=True)
class UasEdge:
    do: tuple[UasDo, ...]
    next: UasState


def _u(next_state: UasState, *do: UasDo) -> UasEdge:
    return UasEdge(tuple(do), next_state)


_S, _I, _D = UasState, UasInput, UasDo
UAS_TABLE: Mapping[tuple[UasState, UasInput], UasEdge] = MappingProxyType({
    (_S.IDLE, _I.PROVISIONAL): _u(_S.WAITING, _D.SEND),
    (_S.IDLE, _I.STRAY_PRACK): _u(_S.IDLE, _D.REFUSE),
    (_S.IDLE, _I.FINAL): _u(_S.OVER, _D.SEND_FINAL),
    (_S.WAITING, _I.PROVISIONAL): _u(_S.WAITING, _D.QUEUE),
    (_S.WAITING, _I.PRACK): _u(_S.IDLE, _D.STOP, _D.ACCEPT),
    (_S.WAITING, _I.STRAY_PRACK): _u(_S.WAITING, _D.REFUSE),
    (_S.WAITING, _I.FINAL): _u(_S.OVER, _D.STOP, _D.SEND_FINAL),
    (_S.WAITING, _I.FINAL_WAITS): _u(_S.HOLDING, _D.HOLD_FINAL),
    (_S.WAITING, _I.TIMER_RETX): _u(_S.WAITING, _D.RESEND),
    (_S.WAITING, _I.TIMER_GIVE_UP): _u(_S.OVER, _D.STOP, _D.GIVE_UP),
    (_S.HOLDING, _I.PROVISIONAL): _u(_S.HOLDING, _D.DROP),
    (_S.HOLDING, _I.PRACK): _u(_S.OVER, _D.STOP, _D.ACCEPT, _D.RELEASE_FINAL),
    (_S.HOLDING, _I.STRAY_PRACK): _u(_S.HOLDING, _D.REFUSE),
    (_S.HOLDING, _I.FINAL): _u(_S.OVER, _D.STOP, _D.SEND_FINAL),  # a failure replaces it
    (_S.HOLDING, _I.FINAL_WAITS): _u(_S.HOLDING, _D.HOLD_FINAL),  # the newer 2xx waits
    (_S.HOLDING, _I.TIMER_RETX): _u(_S.HOLDING, _D.RESEND),
    (_S.HOLDING, _I.TIMER_GIVE_UP): _u(_S.OVER, _D.STOP, _D.GIVE_UP),
    (_S.OVER, _I.PROVISIONAL): _u(_S.OVER, _D.DROP),
    (_S.OVER, _I.STRAY_PRACK): _u(_S.OVER, _D.REFUSE),
    (_S.OVER, _I.FINAL): _u(_S.OVER, _D.SEND_FINAL),
})
UAS_TIMERS = frozenset({UasInput.TIMER_RETX, UasInput.TIMER_GIVE_UP})


@dataclass(slots=True)
class ReliableProvisionals:
    """The reliable provisionals of one INVITE we answer (see the module docstring).

    Feed ``provisional``/``final``/``prack``/``handle_timer``; drain ``outbox()`` (responses
    to send on the INVITE's server transaction, in order) after each.  ``prack`` returns the
    PRACK's status (200 or 481).  ``gave_up`` turns true when 64*T1 passed without PRACK:
    the caller then refuses the INVITE with :data:`GIVE_UP_STATUS`.
    """

    invite_cseq: int
    next_rseq: int  # the RSeq of the next reliable provisional (random start, §3)
    t1: float
    reliable_transport: bool = False
    state: UasState = UasState.IDLE
    gave_up: bool = False
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("sent", "retransmitted", "pracked", "stray_pracks", "dropped"), 0))
    _unacked: Response | None = None
    _unacked_rseq: int = 0
    _unacked_sdp: bool = False
    _queue: list[Response] = field(default_factory=list)
    _held: Response | None = None
    _interval: float = 0.0
    _retx_at: float | None = None
    _give_up_at: float | None = None
    _out: list[Response] = field(default_factory=list)

    # -- inputs --
    def provisional(self, resp: Response, now: float) -> None:
        """Send ``resp`` (a 1xx other than 100) reliably."""
        if not 100 < resp.status < 200:
            raise ValueError(f"{resp.status} is not a provisional that may be reliable")
        self._run(UasInput.PROVISIONAL, now, resp)

    def final(self, resp: Response, now: float) -> None:
        """The TU's final response: sent now, or (a 2xx after SDP not yet PRACKed) later."""
        waits = (self.state in (UasState.WAITING, UasState.HOLDING)
                 and 200 <= resp.status < 300 and self._unacked_sdp)
        self._run(UasInput.FINAL_WAITS if waits else UasInput.FINAL, now, resp)

    def prack(self, rack: RAck, now: float) -> int:
        """A PRACK with ``rack``: 200 when it names the unacknowledged provisional, else 481."""
        match = (self.state in (UasState.WAITING, UasState.HOLDING)
                 and rack.method.upper() == "INVITE" and rack.cseq == self.invite_cseq
                 and rack.rseq == self._unacked_rseq)
        self._run(UasInput.PRACK if match else UasInput.STRAY_PRACK, now, None)
        return 200 if match else 481

    def handle_timer(self, now: float) -> None:
        if self._give_up_at is not None and now >= self._give_up_at:
            self._run(UasInput.TIMER_GIVE_UP, now, None)
        elif self._retx_at is not None and now >= self._retx_at:
            self._run(UasInput.TIMER_RETX, now, None)

    # -- outputs --
    def outbox(self) -> list[Response]:
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        ds = [d for d in (self._retx_at, self._give_up_at) if d is not None]
        return min(ds) if ds else None

    @property
    def holding(self) -> bool:
        """A 2xx waits for the PRACK of a provisional with SDP."""
        return self.state is UasState.HOLDING

    # -- the table --
    def _run(self, inp: UasInput, now: float, resp: Response | None) -> None:
        edge = UAS_TABLE.get((self.state, inp))
        if edge is None:  # a timer is never armed where no row handles it
            raise AssertionError(f"{inp} undefined in {self.state}")
        for do in edge.do:
            self._do(do, now, resp)
        self.state = edge.next
        if self.state is UasState.IDLE and self._queue:
            self._run(UasInput.PROVISIONAL, now, self._queue.pop(0))

    def _do(self, do: UasDo, now: float, resp: Response | None) -> None:
        c = self.counters
        match do:
            case UasDo.SEND:
                assert resp is not None
                rseq, self.next_rseq = self.next_rseq, self.next_rseq % MAX_RSEQ + 1
                resp.headers.add("Require", OPTION_TAG)
                resp.headers.set("RSeq", str(rseq))
                self._unacked, self._unacked_rseq = resp, rseq
                self._unacked_sdp = bool(resp.body)
                self._out.append(resp)
                c["sent"] += 1
                self._interval = self.t1
                self._retx_at = None if self.reliable_transport else now + self.t1
                self._give_up_at = now + 64 * self.t1
            case UasDo.QUEUE:
                assert resp is not None
                self._queue.append(resp)
            case UasDo.RESEND:
                assert self._unacked is not None
                self._out.append(self._unacked)
                c["retransmitted"] += 1
                self._interval *= 2
                self._retx_at = now + self._interval
            case UasDo.STOP:
                self._retx_at = self._give_up_at = None
            case UasDo.ACCEPT:
                c["pracked"] += 1
                self._unacked, self._unacked_sdp = None, False
            case UasDo.REFUSE:
                c["stray_pracks"] += 1
            case UasDo.SEND_FINAL:
                assert resp is not None
                self._queue.clear()
                self._held = None
                self._out.append(resp)
            case UasDo.HOLD_FINAL:
                self._held = resp
            case UasDo.RELEASE_FINAL:
                assert self._held is not None
                self._queue.clear()
                self._out.append(self._held)
                self._held = None
            case UasDo.GIVE_UP:
                self.gave_up = True
                self._queue.clear()
                self._held = None
            case UasDo.DROP:
                c["dropped"] += 1


# -- UAC ---------------------------------------------------------------------------------------


class Heard(Enum):
    """What a provisional to our INVITE is (UAC side, §4)."""

    __hash__ = object.__hash__

    UNRELIABLE = "not reliable: processed, no PRACK"
    NEW = "reliable and new: PRACK it, process it"
    REPEAT = "a retransmission (RSeq already seen): ignored"
    OUT_OF_ORDER = "RSeq beyond the next one: ignored (its retransmission comes in order)"


class _Order(Enum):
    __hash__ = object.__hash__

    FIRST = "first of its early dialog"
    NEXT = "RSeq + 1"
    OLD = "RSeq or lower"
    GAP = "beyond RSeq + 1"


UAC_TABLE: Mapping[_Order, Heard] = MappingProxyType({
    _Order.FIRST: Heard.NEW, _Order.NEXT: Heard.NEW,
    _Order.OLD: Heard.REPEAT, _Order.GAP: Heard.OUT_OF_ORDER,
})


@dataclass(slots=True)
class ProvisionalAcks:
    """Which reliable provisionals to one INVITE of ours get a PRACK (one per early dialog)."""

    last: dict[str, int] = field(default_factory=dict)  # To tag -> last RSeq PRACKed
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("pracked", "repeats", "out_of_order"), 0))

    def heard(self, resp: Response) -> Heard:
        rseq = rseq_of(resp)
        if rseq is None:
            return Heard.UNRELIABLE
        tag = resp.to.tag or ""
        last = self.last.get(tag)
        if last is None:
            order = _Order.FIRST
        elif rseq == last + 1:
            order = _Order.NEXT
        elif rseq <= last:
            order = _Order.OLD
        else:
            order = _Order.GAP
        verdict = UAC_TABLE[order]
        if verdict is Heard.NEW:
            self.last[tag] = rseq
            self.counters["pracked"] += 1
        elif verdict is Heard.REPEAT:
            self.counters["repeats"] += 1
        else:
            self.counters["out_of_order"] += 1
        return verdict


def rack_for(resp: Response) -> RAck:
    """The RAck of the PRACK for reliable provisional ``resp``."""
    rseq = rseq_of(resp)
    if rseq is None:
        raise ValueError("not a reliable provisional")
    return RAck(rseq, resp.cseq.seq, resp.cseq.method)
