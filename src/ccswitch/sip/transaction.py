"""The SIP transaction layer (RFC 3261 §17, RFC 6026, RFC 3581), sans-IO.

``TransactionLayer`` owns every client and server transaction of one SIP endpoint.  Push in
parsed messages with ``receive(msg, source, now)``, TU actions with ``send_request`` /
``send_response`` / ``cancel_request``, and time with ``handle_timer(now)``; pull out
``outbox()`` (bytes and where to send them), ``events()`` for the TU and ``next_deadline()``.

The four machines are the tables in ``txn_tables``; this module matches messages to
transactions (§17.1.3, §17.2.3 with the RFC 2543 fallback), runs the tables' actions and keeps
the timers.

Transaction ids are opaque strings: ``c:<METHOD>:<branch>`` for client transactions (so the
id of the CANCEL for an INVITE is known before it is sent), ``s:<METHOD>:<branch>:<sent-by>``
for server transactions and ``s2543:<n>`` for server transactions from RFC 2543 peers.

Errors: ``TransactionError`` for API misuse (unknown transaction, a response the state does not
allow, a request without branch…); ``receive`` raises ``SipParseError`` only when a message
lacks a parseable Via/CSeq/From/To, which ``parse_message`` already guarantees.  Nothing that
arrives from the network is undefined: every unexpected input is dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from ..clock import TimerHeap
from ..errors import CcswitchError
from ..ids import MAGIC_COOKIE
from .addr import Address
from .grammar import parse_params, split_outside_quotes
from .headers import _new_via
from .message import Headers, Request, Response, make_response
from .timers import SipTimers
from .txn_tables import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    TIMER_OF_START,
    Do,
    Input,
    Machine,
    TxnState,
)

__all__ = [
    "AckReceived",
    "RequestReceived",
    "ResponseReceived",
    "StrayResponse",
    "TransactionError",
    "TransactionLayer",
    "TransactionTimeout",
    "TxnEvent",
    "TxnState",
    "stamp_via",
]

DEFAULT_TIMERS = SipTimers()
COUNTERS = (
    "retransmissions_sent",  # A/E/G retransmissions we made
    "retransmissions_absorbed",  # request/response/ACK retransmissions answered or swallowed here
    "acks_absorbed",  # ACKs for non-2xx finals (Completed -> Confirmed)
    "stray_responses",  # responses that matched no client transaction
    "timeouts",  # Timer B/F (and §9.1 CANCEL expiry): TransactionTimeout events
    "ack_timeouts",  # Timer H: no ACK for a non-2xx final
    "unexpected_dropped",  # network inputs the state does not expect (late 1xx, early ACK…)
)


class TransactionError(CcswitchError):
    """The transaction user asked for something the transaction layer cannot do."""


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new server transaction (any method but ACK, CANCEL included); answer with ``txn_id``."""

    txn_id: str
    request: Request
    source: Address


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that belongs to no server transaction (the ACK for a 2xx): for the dialog layer."""

    request: Request
    source: Address


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response on client transaction ``txn_id``; every 2xx to an INVITE is passed up."""

    txn_id: str
    response: Response
    source: Address


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B or F fired (or 64*T1 passed after CANCEL with no final): the TU makes a 408."""

    txn_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response that matched no client transaction (e.g. a 2xx after Timer M): counted."""

    response: Response
    source: Address


TxnEvent = RequestReceived | AckReceived | ResponseReceived | TransactionTimeout | StrayResponse

_Key2543 = tuple[str, str, str | None, str, int, str]


class _Txn:
    """One transaction's mutable state."""

    __slots__ = ("ack_bytes", "cancel_id", "cancel_req", "cancel_sent", "id", "immediate",
                 "interval", "key2543", "last_bytes", "last_response", "machine", "peer",
                 "request", "request_bytes", "server", "state", "timers")

    def __init__(self, tid: str, machine: Machine, request: Request, peer: Address,
                 server: bool) -> None:
        self.id = tid
        self.machine = machine
        self.state = machine.initial
        self.request = request
        self.request_bytes = b""
        self.peer = peer  # where requests (client) or responses (server) go
        self.server = server
        self.interval = 0.0  # current A/E/G retransmission interval
        self.timers: set[Input] = set()
        self.immediate: list[Input] = []  # zero-length timers, fired after the current edge
        self.last_response: Response | None = None
        self.last_bytes = b""
        self.ack_bytes = b""
        self.cancel_id: str | None = None
        self.cancel_req: Request | None = None
        self.cancel_sent = False
        self.key2543: _Key2543 | None = None


# -- pure helpers -------------------------------------------------------------------------


def stamp_via(req: Request, source: Address) -> None:
    """Stamp the top Via of a received request (RFC 3261 §18.2.1, RFC 3581 §4).

    Adds ``received=<source host>`` when the source differs from the sent-by host or when the
    client asked for ``rport``, and fills an empty ``rport`` with the source port.  The raw
    header is edited in place (other parameters travel byte for byte) and the Via views reset.
    """
    via = req.top_via
    src_host = source.host.strip("[]")
    rport_wanted = "rport" in via.params and not via.params["rport"]
    add_received = rport_wanted or src_host.lower() != via.host.strip("[]").lower()
    if not add_received:
        return
    headers = req.headers
    first = headers._get("via")
    # the usual top Via: one value, nothing quoted or bracketed (a plain split cuts it)
    plain = first is not None and "," not in first and '"' not in first and "<" not in first
    top = first if plain and first is not None else headers.get_all("via")[0]
    parts = top.split(";") if plain else split_outside_quotes(top, ";")
    out = [parts[0]]
    for part in parts[1:]:
        name = part.partition("=")[0].strip().lower()
        if name == "received":
            continue  # replaced below
        if name == "rport" and rport_wanted:
            part = f"rport={source.port}"
        out.append(part)
    out.append(f"received={src_host}")
    stamped = ";".join(out)
    headers.pop_first("via")
    headers.add("Via", stamped, first=True)
    if plain:  # sent-by unchanged: only the parameters are read again (as Via.parse would)
        req._cache["top_via"] = _new_via(via.transport, via.host, via.port,
                                         parse_params(stamped[len(out[0]) + 1 :]))
        req.invalidate("vias")  # From, To, CSeq… stay parsed
    else:
        req.invalidate("top_via", "vias")


# what ``TransactionLayer._do`` runs itself (the rest goes to ``_do_book``)
_WIRE_ACTIONS = frozenset({
    Do.SEND_REQUEST, Do.RETRANSMIT, Do.RETRANSMIT_T2, Do.SEND_TRYING, Do.SEND_RESPONSE,
    Do.RESEND_RESPONSE, Do.RETRANSMIT_RESPONSE, Do.SEND_ACK, Do.RESEND_ACK,
})


def _lifetimes(t: SipTimers, reliable: bool) -> dict[Input, float]:
    """The delay of every timer that is not a retransmission timer (A, E, G)."""
    return {
        Input.TIMER_B: t.timer_b, Input.TIMER_D: t.timer_d(reliable),
        Input.TIMER_F: t.timer_f, Input.TIMER_H: t.timer_h,
        Input.TIMER_I: t.timer_i(reliable), Input.TIMER_J: t.timer_j(reliable),
        Input.TIMER_K: t.timer_k(reliable), Input.TIMER_L: t.timer_l,
        Input.TIMER_M: t.timer_m,
    }


def _response_input(status: int) -> Input:
    if not 100 <= status <= 699:
        raise TransactionError(f"bad status code {status}")
    if status < 200:
        return Input.R1XX
    return Input.R2XX if status < 300 else Input.R3456


def _server_id(req: Request, method: str) -> str | None:
    """The id of the server transaction ``req`` belongs to (None: RFC 2543 peer)."""
    via = req.top_via
    branch = via.branch
    if not branch or not branch.startswith(MAGIC_COOKIE):
        return None
    port = "" if via.port is None else via.port
    return f"s:{method}:{branch}:{via.host}:{port}"


def _key_2543(req: Request, method: str) -> _Key2543:
    """RFC 2543 matching key (§17.2.3), To tag excluded (it is compared separately)."""
    return (method, req.uri_text, req.from_.tag, req.call_id, req.cseq.seq, str(req.top_via))


def _copy_for(req: Request, method: str, to: str) -> Request:
    """ACK (§17.1.1.3) or CANCEL (§9.1) for ``req``: top Via only, Route copied."""
    h = req.headers
    out = Headers()
    out.add("Via", h.get_all("via")[0])
    out.add("Max-Forwards", "70")
    for route in h.get_raw_all("route"):
        out.add("Route", route)
    out.add("From", h.get("from") or "")
    out.add("To", to)
    out.add("Call-ID", h.get("call-id") or "")
    out.add("CSeq", f"{req.cseq.seq} {method}")
    return Request(method, req.uri_text, out)


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response to ``invite`` (§17.1.1.3)."""
    return _copy_for(invite, "ACK", response.headers.get("to") or "")


def build_cancel(invite: Request) -> Request:
    """The CANCEL for ``invite`` (§9.1)."""
    return _copy_for(invite, "CANCEL", invite.headers.get("to") or "")


# -- the layer ----------------------------------------------------------------------------


class TransactionLayer:
    """Every transaction of one SIP endpoint; sans-IO (see the module docstring)."""

    def __init__(self, *, timers: SipTimers = DEFAULT_TIMERS) -> None:
        self.timers = timers
        # the lifetime timers' delays, by reliability of the transport (read per transaction)
        self._delays = {reliable: _lifetimes(timers, reliable) for reliable in (False, True)}
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._txns: dict[str, _Txn] = {}
        self._index_2543: dict[_Key2543, str] = {}
        self._heap: TimerHeap[tuple[str, Input]] = TimerHeap()
        self._out: list[tuple[bytes, Address]] = []
        self._events: list[TxnEvent] = []
        self._seq = 0
        self._log = structlog.get_logger(__name__)

    # -- pulling outputs --
    def outbox(self) -> list[tuple[bytes, Address]]:
        """Drain the datagrams/stream writes to make, in order."""
        out, self._out = self._out, []
        return out

    def events(self) -> list[TxnEvent]:
        """Drain the events for the transaction user, in order."""
        ev, self._events = self._events, []
        return ev

    def next_deadline(self) -> float | None:
        return self._heap.next_deadline()

    def __len__(self) -> int:
        return len(self._txns)

    def state_of(self, txn_id: str) -> TxnState | None:
        """The state of a live transaction; None once it is terminated (or never existed)."""
        txn = self._txns.get(txn_id)
        return None if txn is None else txn.state

    def request_of(self, txn_id: str) -> Request:
        """The request that created ``txn_id`` (also a CANCEL still waiting for a 1xx)."""
        txn = self._txns.get(txn_id)
        if txn is not None:
            return txn.request
        if txn_id.startswith("c:CANCEL:"):
            invite = self._txns.get("c:INVITE:" + txn_id[len("c:CANCEL:"):])
            if invite is not None and invite.cancel_req is not None:
                return invite.cancel_req
        raise TransactionError(f"no transaction {txn_id}")

    # -- inputs --
    def receive(self, msg: Request | Response, source: Address, now: float) -> None:
        """A parsed message from the network."""
        if isinstance(msg, Response):
            self._on_response(msg, source, now)
        else:
            self._on_request(msg, source, now)

    def send_request(self, req: Request, dest: Address, now: float) -> str:
        """Start a client transaction for ``req`` (its top Via must carry the branch)."""
        if req.method == "ACK":
            raise TransactionError("ACK is not a transaction: use send_stateless")
        branch = req.top_via.branch
        if not branch:
            raise TransactionError("the top Via of a request to send needs a branch")
        tid = f"c:{req.method}:{branch}"
        if tid in self._txns:
            raise TransactionError(f"transaction {tid} exists")
        machine = INVITE_CLIENT if req.method == "INVITE" else NON_INVITE_CLIENT
        txn = _Txn(tid, machine, req, dest, server=False)
        self._txns[tid] = txn
        self._do_all(txn, machine.on_create, now, None, None)
        return tid

    def send_response(self, txn_id: str, resp: Response, now: float) -> None:
        """Send ``resp`` on server transaction ``txn_id`` (to where its request came from)."""
        txn = self._txns.get(txn_id)
        if txn is None or not txn.server:
            raise TransactionError(f"no server transaction {txn_id}")
        inp = _response_input(resp.status)
        if not self._run(txn, inp, now, resp, None):
            raise TransactionError(
                f"{txn.machine.name} transaction in {txn.state.value} cannot send {resp.status}")

    def send_stateless(self, msg: Request | Response, dest: Address) -> None:
        """Send outside any transaction (the ACK for a 2xx, a 2xx retransmission…)."""
        self._out.append((msg.to_bytes(), dest))

    def cancel_request(self, txn_id: str, now: float) -> str | None:
        """CANCEL INVITE client transaction ``txn_id`` (§9.1); returns the CANCEL's txn id.

        Before any provisional response the CANCEL is held back and sent on the first 1xx
        (the id is returned at once).  Returns None when the INVITE already has its final
        response or is gone.  If no final response arrives 64*T1 after the CANCEL went out,
        the INVITE transaction ends with ``TransactionTimeout``.
        """
        txn = self._txns.get(txn_id)
        if txn is None:
            return None
        if txn.machine is not INVITE_CLIENT:
            raise TransactionError(f"{txn_id} is not an INVITE client transaction")
        self._run(txn, Input.CANCEL, now, None, None)  # defined in every live state
        if txn.state in (TxnState.CALLING, TxnState.PROCEEDING):
            return txn.cancel_id
        return None

    def server_txn_for_cancel(self, cancel: Request) -> str | None:
        """The id of the INVITE server transaction ``cancel`` matches (§9.2), if any."""
        sid = _server_id(cancel, "INVITE")
        if sid is not None:
            return sid if sid in self._txns else None
        tid = self._index_2543.get(_key_2543(cancel, "INVITE"))
        if tid is None or self._txns[tid].request.to.tag != cancel.to.tag:
            return None
        return tid

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        while due := self._heap.pop_due(now):
            for key in due:
                assert isinstance(key, tuple)
                tid, timer = key
                txn = self._txns.get(tid)
                if txn is None or timer not in txn.timers:
                    continue
                txn.timers.discard(timer)
                fired = self._run(txn, timer, now, None, None)
                assert fired, f"{timer} armed in {txn.state} of {txn.machine.name}"

    # -- matching --
    def _on_response(self, resp: Response, source: Address, now: float) -> None:
        branch = resp.top_via.branch
        txn = self._txns.get(f"c:{resp.cseq.method}:{branch}") if branch else None
        if txn is None:
            self.counters["stray_responses"] += 1
            self._events.append(StrayResponse(resp, source))
            return
        self._run_network(txn, _response_input(resp.status), now, resp, source)

    def _on_request(self, req: Request, source: Address, now: float) -> None:
        stamp_via(req, source)
        txn = self._match_server(req)
        if req.method == "ACK":
            if txn is None:
                self._events.append(AckReceived(req, source))
            else:
                self._run_network(txn, Input.ACK, now, req, source)
        elif txn is not None:
            self._run_network(txn, Input.REQUEST, now, req, source)
        else:
            self._new_server(req, source, now)

    def _match_server(self, req: Request) -> _Txn | None:
        method = "INVITE" if req.method == "ACK" else req.method
        sid = _server_id(req, method)
        if sid is not None:
            return self._txns.get(sid)
        tid = self._index_2543.get(_key_2543(req, method))
        if tid is None:
            return None
        txn = self._txns[tid]
        if req.method == "ACK":  # must carry the To tag of the response we sent
            last = txn.last_response
            want = last.to.tag if last is not None else None
        else:
            want = txn.request.to.tag
        return txn if req.to.tag == want else None

    def _new_server(self, req: Request, source: Address, now: float) -> None:
        sid = _server_id(req, req.method)
        key = None
        if sid is None:
            self._seq += 1
            sid = f"s2543:{self._seq}"
            key = _key_2543(req, req.method)
            self._index_2543[key] = sid
        machine = INVITE_SERVER if req.method == "INVITE" else NON_INVITE_SERVER
        txn = _Txn(sid, machine, req, source, server=True)
        txn.key2543 = key
        self._txns[sid] = txn
        self._do_all(txn, machine.on_create, now, None, None)

    # -- running the tables --
    def _run_network(self, txn: _Txn, inp: Input, now: float, msg: Request | Response,
                     source: Address) -> None:
        fired = self._run(txn, inp, now, msg, source)
        assert fired, f"network input {inp} undefined in {txn.state} of {txn.machine.name}"

    def _run(self, txn: _Txn, inp: Input, now: float, msg: Request | Response | None,
             source: Address | None) -> bool:
        """Follow the edge for ``inp``; False when the table has none."""
        edge = txn.machine.table.get((txn.state, inp))
        if edge is None:
            return False
        self._do_all(txn, edge.do, now, msg, source)
        txn.state = edge.next
        if edge.next is TxnState.TERMINATED:
            self._remove(txn)
        elif txn.immediate:
            timer = txn.immediate.pop(0)
            fired = self._run(txn, timer, now, None, None)
            assert fired, f"{timer} armed in {txn.state} of {txn.machine.name}"
        return True

    def _remove(self, txn: _Txn) -> None:
        del self._txns[txn.id]
        for timer in txn.timers:
            self._heap.cancel((txn.id, timer))
        txn.timers.clear()
        txn.immediate.clear()
        if txn.key2543 is not None and self._index_2543.get(txn.key2543) == txn.id:
            del self._index_2543[txn.key2543]

    def _do_all(self, txn: _Txn, actions: tuple[Do, ...], now: float,
                msg: Request | Response | None, source: Address | None) -> None:
        for do in actions:
            timer = TIMER_OF_START.get(do)
            if timer is not None:
                self._start_timer(txn, timer, now)
            else:
                self._do(txn, do, now, msg, source)

    def _do(self, txn: _Txn, do: Do, now: float, msg: Request | Response | None,
            source: Address | None) -> None:
        """Run one action that puts bytes on the wire, else hand over to ``_do_book``."""
        if do not in _WIRE_ACTIONS:  # one set lookup, not nine failed cases
            self._do_book(txn, do, now, msg, source)
            return
        count = self.counters
        match do:
            case Do.SEND_REQUEST:
                txn.request_bytes = txn.request.to_bytes()
                self._out.append((txn.request_bytes, txn.peer))
            case Do.RETRANSMIT | Do.RETRANSMIT_T2:
                self._out.append((txn.request_bytes, txn.peer))
                count["retransmissions_sent"] += 1
                if txn.machine is INVITE_CLIENT:  # Timer A doubles without a cap
                    self._arm(txn, Input.TIMER_A, 2 * txn.interval, now)
                else:
                    t2 = do is Do.RETRANSMIT_T2
                    self._arm(txn, Input.TIMER_E,
                              self.timers.t2 if t2 else self.timers.backoff(txn.interval), now)
            case Do.SEND_TRYING:
                self._send_response(txn, make_response(txn.request, 100, "Trying"))
            case Do.SEND_RESPONSE:
                assert isinstance(msg, Response)
                self._send_response(txn, msg)
            case Do.RESEND_RESPONSE:
                self._out.append((txn.last_bytes, txn.peer))
                count["retransmissions_absorbed"] += 1
            case Do.RETRANSMIT_RESPONSE:
                self._out.append((txn.last_bytes, txn.peer))
                count["retransmissions_sent"] += 1
                self._arm(txn, Input.TIMER_G, self.timers.backoff(txn.interval), now)
            case Do.SEND_ACK:
                assert isinstance(msg, Response)
                txn.ack_bytes = build_ack(txn.request, msg).to_bytes()
                self._out.append((txn.ack_bytes, txn.peer))
            case Do.RESEND_ACK:
                self._out.append((txn.ack_bytes, txn.peer))
                count["retransmissions_absorbed"] += 1
            case _:
                self._do_book(txn, do, now, msg, source)

    def _do_book(self, txn: _Txn, do: Do, now: float, msg: Request | Response | None,
                 source: Address | None) -> None:
        """Run one action that only raises events, counts, cancels or stops timers."""
        count = self.counters
        match do:
            case Do.PASS_UP:
                self._pass_up(txn, msg, source)
            case Do.ACK_UP:
                assert isinstance(msg, Request) and source is not None
                self._events.append(AckReceived(msg, source))
            case Do.TIMEOUT:
                count["timeouts"] += 1
                self._log.debug("sip_txn_timeout", txn=txn.id, state=txn.state.value)
                self._events.append(TransactionTimeout(txn.id, txn.request))
            case Do.ABSORB:
                count["retransmissions_absorbed"] += 1
            case Do.ABSORB_ACK:
                count["acks_absorbed"] += 1
            case Do.DROP:
                count["unexpected_dropped"] += 1
                self._log.debug("sip_txn_unexpected", txn=txn.id, state=txn.state.value)
            case Do.ACK_TIMEOUT:
                count["ack_timeouts"] += 1
                self._log.debug("sip_txn_ack_timeout", txn=txn.id)
            case Do.MARK_CANCEL:
                self._cancel_prepare(txn)
            case Do.SEND_PENDING_CANCEL:
                if txn.cancel_id is not None:
                    self._cancel_send(txn, now)
            case Do.SEND_CANCEL:
                self._cancel_prepare(txn)
                self._cancel_send(txn, now)
            case Do.STOP_TIMERS:
                for timer in txn.timers:
                    self._heap.cancel((txn.id, timer))
                txn.timers.clear()
                txn.immediate.clear()
            case _:  # pragma: no cover - START_* are handled by _do_all
                raise AssertionError(f"unhandled action {do}")

    def _pass_up(self, txn: _Txn, msg: Request | Response | None,
                 source: Address | None) -> None:
        if txn.server:
            self._events.append(RequestReceived(txn.id, txn.request, txn.peer))
        else:
            assert isinstance(msg, Response) and source is not None
            self._events.append(ResponseReceived(txn.id, msg, source))

    def _send_response(self, txn: _Txn, resp: Response) -> None:
        txn.last_bytes = resp.to_bytes()
        if resp.status >= 200 and txn.machine is NON_INVITE_SERVER:
            # Until Timer J only these bytes are needed (to answer retransmissions): drop the
            # parsed objects, so the many completed transactions a busy switch keeps cost the
            # garbage collector little.
            txn.last_response = None
            txn.request.invalidate()
        else:
            txn.last_response = resp
        self._out.append((txn.last_bytes, txn.peer))

    def _cancel_prepare(self, txn: _Txn) -> None:
        if txn.cancel_id is None:
            txn.cancel_req = build_cancel(txn.request)
            txn.cancel_id = f"c:CANCEL:{txn.request.top_via.branch}"

    def _cancel_send(self, txn: _Txn, now: float) -> None:
        if txn.cancel_sent:
            return
        txn.cancel_sent = True
        assert txn.cancel_req is not None and txn.cancel_id is not None
        if txn.cancel_id not in self._txns:  # the TU may have sent its own CANCEL
            self.send_request(txn.cancel_req, txn.peer, now)
        self._arm(txn, Input.TIMER_CANCEL, 64 * self.timers.t1, now)

    # -- timers --
    def _start_timer(self, txn: _Txn, timer: Input, now: float) -> None:
        t = self.timers
        reliable = txn.peer.reliable
        if timer in (Input.TIMER_A, Input.TIMER_E, Input.TIMER_G):
            if reliable:
                return  # no retransmissions over reliable transports
            delay = t.t1
        else:
            delay = self._delays[reliable][timer]
        self._arm(txn, timer, delay, now)

    def _arm(self, txn: _Txn, timer: Input, delay: float, now: float) -> None:
        if timer in (Input.TIMER_A, Input.TIMER_E, Input.TIMER_G):
            txn.interval = delay
        if delay <= 0:
            txn.immediate.append(timer)  # fires as soon as the current edge is done
            return
        txn.timers.add(timer)
        self._heap.arm((txn.id, timer), now + delay)
