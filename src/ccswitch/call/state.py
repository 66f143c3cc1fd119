"""The state of one B2BUA call: its legs (the caller's dialog, the forks to the callee), the
requests relayed between them and the media and IVR attached to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ..sip.dialog import Dialog, LocalContact
from ..sip.message import Request, Response
from .anchor import CallMedia
from .ivr import IvrSession

if TYPE_CHECKING:
    from .transfer import Transfer

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, NOTIFY, REFER"
"""The methods the switch accepts, for Allow headers."""


def set_sdp(dest: Request | Response, sdp: bytes) -> None:
    """Make ``sdp`` the body of ``dest``."""
    dest.body = sdp
    dest.headers.set("Content-Type", "application/sdp")


class CallState(Enum):
    RINGING = "ringing"  # A's INVITE not answered yet
    ANSWERED = "answered"  # 2xx sent to A, waiting for its ACK
    UP = "up"
    ENDED = "ended"


@dataclass(slots=True)
class Leg:
    """One INVITE session of a call, either way: the caller's INVITE we answer (side a), or
    an INVITE we send (a fork to a callee's contact, an agent, a transfer's target; side b
    once it answers).  Its dialog, our contact on its transport and the INVITE transaction."""

    txn_id: str
    invite: Request
    dialog: Dialog
    me: LocalContact
    early: bool = False  # a provisional with a To-tag arrived
    final: int | None = None
    agent: str | None = None  # the queue agent this fork offers the call to
    cancelled: bool = False  # we CANCELled it (its failure is not the agent's)


@dataclass(slots=True)
class Relay:
    """A request relayed from one leg to the other, waiting for its answer."""

    call: Call
    server_txn: str  # the transaction on the leg the request came from
    to_leg: str  # "a" or "b": where the request went
    method: str
    request: Request  # the request as we sent it
    delayed_ack: bool = False  # a re-INVITE without offer: the ACK waits for the answer
    ack: Request | None = None  # our ACK for its 2xx (kept to answer 2xx retransmissions)


@dataclass(slots=True)
class PendingTwoHundred:
    """A 2xx we sent to a re-INVITE from ``leg``, retransmitted until its ACK (UDP)."""

    response: Response
    cseq: int
    interval: float
    deadline: float


@dataclass(slots=True)
class Call:
    """One B2BUA call: its legs, its state and the figures for its CDR."""

    key: str
    caller: str
    callee: str
    a: Leg  # the caller's side
    started: float
    state: CallState = CallState.RINGING
    branches: dict[str, Leg] = field(default_factory=dict)
    b: Leg | None = None
    answered: float | None = None
    failure: tuple[int, str] | None = None
    failure_headers: tuple[tuple[str, str], ...] = ()  # of the failure relayed to the caller
    a_2xx: Response | None = None
    retx_interval: float = 0.0
    retx_deadline: float = 0.0
    pending_b_ack: Request | None = None  # ACK for B held until A's ACK brings the answer
    pending_a_ack: Request | None = None  # ACK for A held until B's ACK brings the answer
    reinvite_txn: str | None = None  # the last relayed re-INVITE answered 2xx
    unacked: dict[str, PendingTwoHundred] = field(default_factory=dict)  # leg -> 2xx sent
    cancelled: bool = False
    media: CallMedia | None = None  # None: SDP passes through untouched (no anchoring)
    service: str | None = None  # a call the switch answers itself: "echo", "tone", "ivr"
    ivr: IvrSession | None = None
    bridging: bool = False  # an answered call ringing a new callee (IVR transfer, queue)
    ringback: int | None = None  # play id of the ringback tone while bridging
    queue: str | None = None  # the queue the caller waits in (or was answered from)
    queue_agent: str | None = None  # the agent who answered it
    queue_name: str | None = None  # the last queue it entered (for its CDR; kept after leaving)
    moh: int | None = None  # play id of the music on hold
    moh_files: tuple[str, ...] = ()  # the music class's files, in this caller's order
    moh_next: int = 0  # index of the next music file to play
    moh_failed: int = 0  # music files that failed to play in a row
    announce_turn: int = 0  # periodic announcement prompts played so far
    announce_play: int | None = None  # play id of the announcement prompt playing
    announcing: list[str] = field(default_factory=list)  # its prompts still to play
    announced: bool = False  # the entry announcement was made
    ended_by_agent: bool = False
    caller_registered: bool = False  # the caller can be called back (virtual hold)
    callback_agent: str | None = None  # a virtual-hold callback: the agent reserved for it
    room: str | None = None  # the conference room the caller is in
    supervising: tuple[str, int] | None = None  # a supervisor's call: (agent's call, agent leg)
    supervisors: list[str] = field(default_factory=list)  # supervisor calls in this call
    transfer: Transfer | None = None  # the last transfer of this call (see transfer.py)
    transferred_by: str | None = None  # the user who transferred the call (last transfer)
    sip_call_id: str = ""  # the Call-ID of the caller's first INVITE (kept across transfers)
    queue_entered: float | None = None  # when it first entered a queue (kept across queues)
    queue_priority: int = 0  # the priority it entered with
    users: tuple[str, ...] = ()  # users whose calls prefer this call's media worker
    hold_music: dict[str, int] = field(default_factory=dict)  # held side -> play id of its music
