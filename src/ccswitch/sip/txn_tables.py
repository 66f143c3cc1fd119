"""The four SIP transaction state machines of RFC 3261 §17 (with RFC 6026), as tables.

Each machine is a ``(state, input) -> Edge(actions, next_state)`` table.  ``TransactionLayer``
(``transaction.py``) only looks entries up and runs the named actions in order.

What a missing entry means depends on where the input comes from:

* **network** inputs (responses on a client transaction; request retransmissions and ACKs on a
  server transaction): the tables are *total* over every live state, so nothing from the wire
  is ever undefined.  Inputs the RFC does not expect (a late 1xx after a final, an ACK before
  any final…) have an explicit ``DROP`` entry: dropped and counted (``unexpected_dropped``).
* **TU** inputs (responses handed to a server transaction, CANCEL of a client transaction): a
  missing entry is API misuse and raises ``TransactionError`` (e.g. a second final response).
* **timer** inputs: a timer is only ever armed in a state whose row handles it and is stopped
  when the state is left, so a missing entry is a programmer error (``AssertionError``).

Timers A, E and G only run on unreliable transports; D, I, J and K last zero seconds on reliable
ones, in which case they fire at once (the transaction passes Completed/Confirmed in one step).
``TIMER_CANCEL`` is the §9.1 rule "no final response 64*T1 after sending CANCEL: consider the
INVITE cancelled and destroy the client transaction".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class TxnState(Enum):
    """Transaction states named after RFC 3261 §17 and RFC 6026 (Accepted)."""

    # the identity hash, in C: Enum's own hashes the name in Python, and the tables and timer
    # keys hash these a dozen times per message (members are singletons, so it is consistent)
    __hash__ = object.__hash__

    TRYING = "Trying"
    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(Enum):
    """What can happen to a transaction."""

    # the identity hash, in C: Enum's own hashes the name in Python, and the tables and timer
    # keys hash these a dozen times per message (members are singletons, so it is consistent)
    __hash__ = object.__hash__

    # from the network
    REQUEST = "request retransmission"  # server txns
    ACK = "ACK"  # INVITE server txn
    # responses: from the network (client txns) or from the TU (server txns)
    R1XX = "1xx"
    R2XX = "2xx"
    R3456 = "300-699"
    # from the TU
    CANCEL = "CANCEL"  # INVITE client txn
    # timers
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TIMER_CANCEL = "64*T1 after CANCEL"


TIMER_INPUTS = frozenset(i for i in Input if i.name.startswith("TIMER_"))
RESPONSE_INPUTS = frozenset({Input.R1XX, Input.R2XX, Input.R3456})


class Do(Enum):
    """Actions, run in the order an edge lists them."""

    # the identity hash, in C: Enum's own hashes the name in Python, and the tables and timer
    # keys hash these a dozen times per message (members are singletons, so it is consistent)
    __hash__ = object.__hash__

    SEND_REQUEST = "send the request"
    RETRANSMIT = "retransmit the request, back off the timer (A: double; E: double to T2)"
    RETRANSMIT_T2 = "retransmit the request, re-arm Timer E at T2"
    SEND_TRYING = "send 100 Trying"
    SEND_RESPONSE = "send the TU's response, remember it as the last"
    RESEND_RESPONSE = "re-send the last response (retransmission absorbed)"
    RETRANSMIT_RESPONSE = "re-send the last response, back off Timer G"
    SEND_ACK = "build and send the ACK for a non-2xx final"
    RESEND_ACK = "re-send the ACK (final retransmission absorbed)"
    PASS_UP = "event to the TU: RequestReceived / ResponseReceived"
    ACK_UP = "event to the TU: AckReceived"
    TIMEOUT = "event to the TU: TransactionTimeout"
    ABSORB = "absorb a retransmission (counted)"
    ABSORB_ACK = "absorb the ACK for a non-2xx final (counted)"
    DROP = "drop an unexpected input (counted)"
    ACK_TIMEOUT = "no ACK before Timer H (counted)"
    MARK_CANCEL = "remember to CANCEL on the first provisional"
    SEND_PENDING_CANCEL = "send the remembered CANCEL, if any"
    SEND_CANCEL = "send CANCEL now (once), arm TIMER_CANCEL"
    STOP_TIMERS = "stop every timer of the transaction"
    START_A = "arm Timer A (unreliable only)"
    START_B = "arm Timer B"
    START_D = "arm Timer D"
    START_E = "arm Timer E (unreliable only)"
    START_F = "arm Timer F"
    START_G = "arm Timer G (unreliable only)"
    START_H = "arm Timer H"
    START_I = "arm Timer I"
    START_J = "arm Timer J"
    START_K = "arm Timer K"
    START_L = "arm Timer L"
    START_M = "arm Timer M"


@dataclass(frozen=True, slots=True)
class Edge:
    """Run ``do`` in order, then move to ``next``."""

    do: tuple[Do, ...]
    next: TxnState


@dataclass(frozen=True, slots=True, repr=False)
class Machine:
    """One transaction kind: its start, its table, and which inputs come from the network."""

    name: str
    initial: TxnState
    on_create: tuple[Do, ...]
    table: Mapping[tuple[TxnState, Input], Edge]
    network_inputs: frozenset[Input]
    tu_inputs: frozenset[Input]

    def __repr__(self) -> str:
        return f"<Machine {self.name}>"


S = TxnState
I = Input  # noqa: E741 - short alias for the tables only
_T = S.TERMINATED


def _e(next_state: TxnState, *do: Do) -> Edge:
    return Edge(tuple(do), next_state)


def _freeze(t: dict[tuple[TxnState, Input], Edge]) -> Mapping[tuple[TxnState, Input], Edge]:
    return MappingProxyType(t)


# §17.1.1 + RFC 6026 §7.2 (figure 5)
INVITE_CLIENT = Machine(
    name="INVITE client",
    initial=S.CALLING,
    on_create=(Do.SEND_REQUEST, Do.START_A, Do.START_B),
    table=_freeze({
        (S.CALLING, I.TIMER_A): _e(S.CALLING, Do.RETRANSMIT),
        (S.CALLING, I.TIMER_B): _e(_T, Do.TIMEOUT),
        (S.CALLING, I.R1XX): _e(S.PROCEEDING, Do.STOP_TIMERS, Do.PASS_UP, Do.SEND_PENDING_CANCEL),
        (S.CALLING, I.R2XX): _e(S.ACCEPTED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_M),
        (S.CALLING, I.R3456): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.SEND_ACK,
                                 Do.START_D),
        (S.CALLING, I.CANCEL): _e(S.CALLING, Do.MARK_CANCEL),
        (S.PROCEEDING, I.R1XX): _e(S.PROCEEDING, Do.PASS_UP),
        (S.PROCEEDING, I.R2XX): _e(S.ACCEPTED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_M),
        (S.PROCEEDING, I.R3456): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.SEND_ACK,
                                    Do.START_D),
        (S.PROCEEDING, I.CANCEL): _e(S.PROCEEDING, Do.SEND_CANCEL),
        (S.PROCEEDING, I.TIMER_CANCEL): _e(_T, Do.TIMEOUT),
        (S.COMPLETED, I.R1XX): _e(S.COMPLETED, Do.DROP),
        (S.COMPLETED, I.R2XX): _e(S.COMPLETED, Do.DROP),
        (S.COMPLETED, I.R3456): _e(S.COMPLETED, Do.RESEND_ACK),
        (S.COMPLETED, I.CANCEL): _e(S.COMPLETED),  # too late: nothing to cancel
        (S.COMPLETED, I.TIMER_D): _e(_T),
        (S.ACCEPTED, I.R1XX): _e(S.ACCEPTED, Do.DROP),
        (S.ACCEPTED, I.R2XX): _e(S.ACCEPTED, Do.PASS_UP),  # TU re-ACKs each 2xx
        (S.ACCEPTED, I.R3456): _e(S.ACCEPTED, Do.DROP),
        (S.ACCEPTED, I.CANCEL): _e(S.ACCEPTED),  # too late: nothing to cancel
        (S.ACCEPTED, I.TIMER_M): _e(_T),
    }),
    network_inputs=RESPONSE_INPUTS,
    tu_inputs=frozenset({I.CANCEL}),
)

# §17.1.2 (figure 6)
NON_INVITE_CLIENT = Machine(
    name="non-INVITE client",
    initial=S.TRYING,
    on_create=(Do.SEND_REQUEST, Do.START_E, Do.START_F),
    table=_freeze({
        (S.TRYING, I.TIMER_E): _e(S.TRYING, Do.RETRANSMIT),
        (S.TRYING, I.TIMER_F): _e(_T, Do.TIMEOUT),
        (S.TRYING, I.R1XX): _e(S.PROCEEDING, Do.PASS_UP),
        (S.TRYING, I.R2XX): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_K),
        (S.TRYING, I.R3456): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_K),
        (S.PROCEEDING, I.TIMER_E): _e(S.PROCEEDING, Do.RETRANSMIT_T2),
        (S.PROCEEDING, I.TIMER_F): _e(_T, Do.TIMEOUT),
        (S.PROCEEDING, I.R1XX): _e(S.PROCEEDING, Do.PASS_UP),
        (S.PROCEEDING, I.R2XX): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_K),
        (S.PROCEEDING, I.R3456): _e(S.COMPLETED, Do.STOP_TIMERS, Do.PASS_UP, Do.START_K),
        (S.COMPLETED, I.R1XX): _e(S.COMPLETED, Do.DROP),
        (S.COMPLETED, I.R2XX): _e(S.COMPLETED, Do.ABSORB),
        (S.COMPLETED, I.R3456): _e(S.COMPLETED, Do.ABSORB),
        (S.COMPLETED, I.TIMER_K): _e(_T),
    }),
    network_inputs=RESPONSE_INPUTS,
    tu_inputs=frozenset(),
)

# §17.2.1 + RFC 6026 §7.1 (figure 7)
INVITE_SERVER = Machine(
    name="INVITE server",
    initial=S.PROCEEDING,
    on_create=(Do.SEND_TRYING, Do.PASS_UP),
    table=_freeze({
        (S.PROCEEDING, I.REQUEST): _e(S.PROCEEDING, Do.RESEND_RESPONSE),
        (S.PROCEEDING, I.ACK): _e(S.PROCEEDING, Do.DROP),  # no final sent yet
        (S.PROCEEDING, I.R1XX): _e(S.PROCEEDING, Do.SEND_RESPONSE),
        (S.PROCEEDING, I.R2XX): _e(S.ACCEPTED, Do.SEND_RESPONSE, Do.START_L),
        (S.PROCEEDING, I.R3456): _e(S.COMPLETED, Do.SEND_RESPONSE, Do.START_G, Do.START_H),
        (S.COMPLETED, I.REQUEST): _e(S.COMPLETED, Do.RESEND_RESPONSE),
        (S.COMPLETED, I.ACK): _e(S.CONFIRMED, Do.STOP_TIMERS, Do.ABSORB_ACK, Do.START_I),
        (S.COMPLETED, I.TIMER_G): _e(S.COMPLETED, Do.RETRANSMIT_RESPONSE),
        (S.COMPLETED, I.TIMER_H): _e(_T, Do.ACK_TIMEOUT),
        (S.CONFIRMED, I.REQUEST): _e(S.CONFIRMED, Do.ABSORB),
        (S.CONFIRMED, I.ACK): _e(S.CONFIRMED, Do.ABSORB),
        (S.CONFIRMED, I.TIMER_I): _e(_T),
        (S.ACCEPTED, I.REQUEST): _e(S.ACCEPTED, Do.ABSORB),
        (S.ACCEPTED, I.ACK): _e(S.ACCEPTED, Do.ACK_UP),  # ACK for the 2xx, same branch
        (S.ACCEPTED, I.R2XX): _e(S.ACCEPTED, Do.SEND_RESPONSE),  # TU retransmits its 2xx
        (S.ACCEPTED, I.TIMER_L): _e(_T),
    }),
    network_inputs=frozenset({I.REQUEST, I.ACK}),
    tu_inputs=RESPONSE_INPUTS,
)

# §17.2.2 (figure 8)
NON_INVITE_SERVER = Machine(
    name="non-INVITE server",
    initial=S.TRYING,
    on_create=(Do.PASS_UP,),
    table=_freeze({
        (S.TRYING, I.REQUEST): _e(S.TRYING, Do.ABSORB),
        (S.TRYING, I.R1XX): _e(S.PROCEEDING, Do.SEND_RESPONSE),
        (S.TRYING, I.R2XX): _e(S.COMPLETED, Do.SEND_RESPONSE, Do.START_J),
        (S.TRYING, I.R3456): _e(S.COMPLETED, Do.SEND_RESPONSE, Do.START_J),
        (S.PROCEEDING, I.REQUEST): _e(S.PROCEEDING, Do.RESEND_RESPONSE),
        (S.PROCEEDING, I.R1XX): _e(S.PROCEEDING, Do.SEND_RESPONSE),
        (S.PROCEEDING, I.R2XX): _e(S.COMPLETED, Do.SEND_RESPONSE, Do.START_J),
        (S.PROCEEDING, I.R3456): _e(S.COMPLETED, Do.SEND_RESPONSE, Do.START_J),
        (S.COMPLETED, I.REQUEST): _e(S.COMPLETED, Do.RESEND_RESPONSE),
        (S.COMPLETED, I.TIMER_J): _e(_T),
    }),
    network_inputs=frozenset({I.REQUEST}),
    tu_inputs=RESPONSE_INPUTS,
)

MACHINES = (INVITE_CLIENT, NON_INVITE_CLIENT, INVITE_SERVER, NON_INVITE_SERVER)

# Which timer each START_* action arms.
TIMER_OF_START = MappingProxyType({
    Do.START_A: I.TIMER_A, Do.START_B: I.TIMER_B, Do.START_D: I.TIMER_D,
    Do.START_E: I.TIMER_E, Do.START_F: I.TIMER_F, Do.START_G: I.TIMER_G,
    Do.START_H: I.TIMER_H, Do.START_I: I.TIMER_I, Do.START_J: I.TIMER_J,
    Do.START_K: I.TIMER_K, Do.START_L: I.TIMER_L, Do.START_M: I.TIMER_M,
})


def live_states(machine: Machine) -> frozenset[TxnState]:
    """States a transaction of this kind can be in before it terminates."""
    return frozenset(s for s, _ in machine.table)
