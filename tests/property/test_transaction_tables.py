"""State x input over the four transaction tables, and random input sequences (hypothesis).

Properties:
- the tables are total over network inputs, and every armed timer has a row in its state;
- each (state, input) pair does exactly what its table entry says: the transaction moves to
  the entry's next state, or (no entry, TU input) ``TransactionError`` is raised;
- in random sequences of inputs, retransmissions and timer fires, states only move along table
  edges, no exception but the documented one escapes, ``next_deadline()`` is never in the past
  after ``handle_timer(now)``, and once the TU has done its part every transaction terminates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.sip.addr import Address
from ccswitch.sip.message import Request, make_response, parse_message
from ccswitch.sip.timers import SipTimers
from ccswitch.sip.transaction import (
    RequestReceived,
    TransactionError,
    TransactionLayer,
    TxnState,
)
from ccswitch.sip.txn_tables import (
    INVITE_CLIENT,
    INVITE_SERVER,
    MACHINES,
    NON_INVITE_CLIENT,
    TIMER_INPUTS,
    TIMER_OF_START,
    Do,
    Edge,
    Input,
    Machine,
    live_states,
)

STATUSES = {
    Input.R1XX: [100, 180, 183],
    Input.R2XX: [200, 202],
    Input.R3456: [302, 404, 486, 487, 500, 603],
}
RETRANSMIT_TIMERS = {Input.TIMER_A, Input.TIMER_E, Input.TIMER_G}
ZERO_ON_RELIABLE = {Input.TIMER_D, Input.TIMER_I, Input.TIMER_J, Input.TIMER_K}


def settle(machine: Machine, edge: Edge, reliable: bool) -> TxnState:
    """Where ``edge`` really leaves the transaction: zero-length timers fire at once."""
    state = edge.next
    for do in edge.do:
        timer = TIMER_OF_START.get(do)
        if reliable and timer in ZERO_ON_RELIABLE and state is not TxnState.TERMINATED:
            state = machine.table[(state, timer)].next
    return state


def timer_reachable(machine: Machine, state: TxnState) -> set[TxnState]:
    """States reachable from ``state`` through timer edges only (including itself)."""
    seen = {state}
    todo = [state]
    while todo:
        s = todo.pop()
        for (src, inp), edge in machine.table.items():
            if src is s and inp in TIMER_INPUTS and edge.next not in seen:
                seen.add(edge.next)
                todo.append(edge.next)
    return seen


def paths(machine: Machine, reliable: bool) -> dict[TxnState, list[Input]]:
    """Shortest non-timer input sequence from creation to each reachable live state."""
    out: dict[TxnState, list[Input]] = {machine.initial: []}
    queue = deque([machine.initial])
    while queue:
        s = queue.popleft()
        for (src, inp), edge in machine.table.items():
            if src is not s or inp in TIMER_INPUTS:
                continue
            nxt = settle(machine, edge, reliable)
            if nxt not in out and nxt is not TxnState.TERMINATED:
                out[nxt] = [*out[s], inp]
                queue.append(nxt)
    return out


def build(method: str, via: str, *, to_tag: str | None = None, cseq_method: str = "") -> Request:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    raw = (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: {via};branch=z9hG4bKprop1\r\nMax-Forwards: 70\r\n"
        f"From: <sip:alice@example.com>;tag=a\r\nTo: {to}\r\nCall-ID: prop@x\r\n"
        f"CSeq: 1 {cseq_method or method}\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw.encode())
    assert isinstance(msg, Request)
    return msg


class Driver:
    """One transaction of ``machine`` in a fresh layer, fed by table inputs."""

    def __init__(self, machine: Machine, timers: SipTimers, reliable: bool) -> None:
        self.machine = machine
        self.layer = TransactionLayer(timers=timers)
        self.now = 0.0
        self.reliable = reliable
        self.peer = Address("tcp", "192.0.2.10", 5060, conn=3) if reliable else Address(
            "udp", "192.0.2.10", 5060)
        self.via = f"SIP/2.0/{'TCP' if reliable else 'UDP'} 192.0.2.10:5060"
        self.method = "INVITE" if machine in (INVITE_CLIENT, INVITE_SERVER) else "OPTIONS"
        self.client = machine in (INVITE_CLIENT, NON_INVITE_CLIENT)
        self.req = build(self.method, self.via)
        self.cancel_id: str | None = None
        if self.client:
            self.tid = self.layer.send_request(self.req, self.peer, self.now)
        else:
            self.layer.receive(self.req, self.peer, self.now)
            [ev] = self.layer.events()
            assert isinstance(ev, RequestReceived)
            self.tid = ev.txn_id
        assert self.state() is machine.initial

    def state(self) -> TxnState | None:
        return self.layer.state_of(self.tid)

    def feed(self, inp: Input, status: int | None = None) -> None:
        """Make ``inp`` happen (network message or TU call) at the current time."""
        if inp in STATUSES:
            status = status or STATUSES[inp][0]
            if self.client:
                resp = make_response(self.req, status, "X", to_tag="b" if status > 100 else None)
                self.layer.receive(parse_message(resp.to_bytes()), self.peer, self.now)
            else:
                resp = make_response(self.req, status, "X", to_tag="srv")
                self.layer.send_response(self.tid, resp, self.now)
        elif inp is Input.CANCEL:
            cid = self.layer.cancel_request(self.tid, self.now)
            self.cancel_id = cid or self.cancel_id
        elif inp is Input.REQUEST:
            self.layer.receive(build(self.method, self.via), self.peer, self.now)
        elif inp is Input.ACK:
            ack = build("ACK", self.via, to_tag="srv")
            self.layer.receive(ack, self.peer, self.now)
        else:  # pragma: no cover
            raise AssertionError(inp)

    def fire_next(self) -> bool:
        """Advance to the next deadline and fire it; False when nothing is armed."""
        d = self.layer.next_deadline()
        if d is None:
            return False
        assert d >= self.now
        self.now = d
        self.layer.handle_timer(d)
        nd = self.layer.next_deadline()
        assert nd is None or nd > d
        return True


timer_values = st.builds(
    lambda t1, k2, t4, d: SipTimers(t1=t1, t2=t1 * k2, t4=t4, d=d),
    st.floats(0.01, 2.0),
    st.sampled_from([1.0, 2.0, 4.0, 8.0, 16.0]),
    st.floats(0.01, 10.0),
    st.floats(0.1, 64.0),
)


# -- the tables themselves ----------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_tables_are_total_over_network_inputs_and_timers_have_rows(machine: Machine) -> None:
    for state in live_states(machine):
        for inp in machine.network_inputs:
            assert (state, inp) in machine.table, (machine.name, state, inp)
    for (src, _), edge in machine.table.items():
        for do in edge.do:
            timer = TIMER_OF_START.get(do)
            if timer is not None:
                assert (edge.next, timer) in machine.table
        if edge.next not in (src, TxnState.TERMINATED) and Do.STOP_TIMERS not in edge.do:
            for (s, t) in machine.table:  # timers that keep running must keep a row
                if s is src and t in TIMER_INPUTS:
                    assert (edge.next, t) in machine.table, (machine.name, src, edge.next, t)
    assert machine.initial in live_states(machine)
    assert set(paths(machine, reliable=False)) == live_states(machine)  # all reachable on UDP


# -- every (state, input) pair ------------------------------------------------------------

PAIRS = [
    (m, s, i)
    for m in MACHINES
    for s in sorted(live_states(m), key=lambda s: s.value)
    for i in sorted(m.network_inputs | m.tu_inputs | TIMER_INPUTS, key=lambda i: i.value)
    if i not in TIMER_INPUTS or (s, i) in m.table
]


@pytest.mark.parametrize(("machine", "state", "inp"), PAIRS,
                         ids=lambda x: getattr(x, "name", str(x)))
@settings(max_examples=8, deadline=None)
@given(timers=timer_values, reliable=st.booleans(), data=st.data())
def test_every_state_input_pair_follows_its_table_entry(
    machine: Machine, state: TxnState, inp: Input, timers: SipTimers, reliable: bool,
    data: st.DataObject,
) -> None:
    path = paths(machine, reliable).get(state)
    if path is None:
        return  # unreachable on a reliable transport (its zero timer fires at once)
    drv = Driver(machine, timers, reliable)
    for step in path:
        drv.feed(step)
    assert drv.state() is state
    edge = machine.table.get((state, inp))
    if inp in TIMER_INPUTS:
        assert edge is not None
        if inp is Input.TIMER_CANCEL:
            drv.feed(Input.CANCEL)
        drv.layer.outbox()
        if reliable and inp in RETRANSMIT_TIMERS:  # never armed: time passes silently
            while drv.state() is state and drv.fire_next():
                assert drv.layer.outbox() == []
        elif edge.next is state:  # a retransmission timer: the next deadline is it
            assert drv.fire_next()
            assert drv.state() is state and drv.layer.outbox()
        else:  # other timers may fire first, but only along timer self-loops
            for _ in range(10_000):
                if drv.state() is not state:
                    break
                assert drv.fire_next()
            want = settle(machine, edge, reliable)
            assert drv.state() is (None if want is TxnState.TERMINATED else want)
        return
    status = data.draw(st.sampled_from(STATUSES[inp])) if inp in STATUSES else None
    if edge is None:
        assert inp in machine.tu_inputs  # network inputs are total (checked above)
        with pytest.raises(TransactionError):
            drv.feed(inp, status)
        assert drv.state() is state
        return
    drv.feed(inp, status)
    want = settle(machine, edge, reliable)
    assert drv.state() is (None if want is TxnState.TERMINATED else want)


# -- random sequences ---------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # "input" | "advance" | "deadline"
    inp: Input | None = None
    status: int | None = None
    dt: float = 0.0


def steps_for(machine: Machine) -> st.SearchStrategy[Step]:
    inputs = sorted(machine.network_inputs | machine.tu_inputs, key=lambda i: i.value)
    by_input = st.sampled_from(inputs).flatmap(
        lambda i: st.sampled_from(STATUSES.get(i, [0])).map(
            lambda s: Step("input", i, s or None)))
    return st.one_of(
        by_input,
        by_input,  # weighted: inputs twice as likely as time steps
        st.one_of(st.floats(0.0, 1.0), st.floats(0.0, 80.0)).map(
            lambda dt: Step("advance", dt=dt)),
        st.just(Step("deadline")),
    )


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
@settings(max_examples=200, deadline=None)
@given(timers=timer_values, reliable=st.booleans(), data=st.data())
def test_random_sequences_follow_edges_and_terminate(
    machine: Machine, timers: SipTimers, reliable: bool, data: st.DataObject,
) -> None:
    drv = Driver(machine, timers, reliable)
    layer = drv.layer
    steps = data.draw(st.lists(steps_for(machine), min_size=4, max_size=30))
    for step in steps:
        before = drv.state()
        if step.kind == "input":
            assert step.inp is not None
            inp = step.inp
            edge = machine.table.get((before, inp)) if before is not None else None
            try:
                drv.feed(inp, step.status)
            except TransactionError:
                # only TU inputs, and only where the table has no entry (or txn is gone)
                assert inp in machine.tu_inputs and edge is None
                assert drv.state() is before
                continue
            after = drv.state()
            if before is None:
                # a gone client txn sees strays; a gone server txn is re-created by a request
                new = machine.initial if (inp is Input.REQUEST and not drv.client) else None
                assert after is new
            else:
                assert edge is not None, (before, inp)
                want = settle(machine, edge, reliable)
                assert after is (None if want is TxnState.TERMINATED else want)
        else:
            if step.kind == "advance":
                drv.now += step.dt
                layer.handle_timer(drv.now)
                nd = layer.next_deadline()
                assert nd is None or nd > drv.now
            else:
                drv.fire_next()
            after = drv.state()
            if before is not None:
                reach = timer_reachable(machine, before)
                assert (TxnState.TERMINATED if after is None else after) in reach
        if drv.cancel_id is not None:
            assert layer.state_of(drv.cancel_id) in (None, TxnState.TRYING,
                                                     TxnState.PROCEEDING, TxnState.COMPLETED)
    # the TU does its part: answer a waiting server txn, cancel a pending INVITE
    state = drv.state()
    if not drv.client and state in (TxnState.TRYING, TxnState.PROCEEDING):
        drv.feed(data.draw(st.sampled_from([Input.R2XX, Input.R3456])))
    if machine is INVITE_CLIENT and state in (TxnState.CALLING, TxnState.PROCEEDING):
        drv.feed(Input.CANCEL)
    for _ in range(10_000):
        if not drv.fire_next():
            break
    assert len(layer) == 0 and layer.next_deadline() is None
