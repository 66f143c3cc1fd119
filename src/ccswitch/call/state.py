"""The state of one B2BUA call: its legs (the caller's dialog, the forks to the callee), the
requests relayed between them and the media and IVR attached to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ..sdp.negotiator import OfferAnswerState
from ..sip.dialog import Dialog, LocalContact
from ..sip.message import Request, Response
from ..sip.prack import Mode
from ..sip.session_timer import LegSession
from .anchor import CallMedia
from .events import LegRecord, TransferStep
from .ivr import IvrSession
from .voicemail import VoicemailSession

if TYPE_CHECKING:
    from .transfer import Transfer

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, NOTIFY, REFER, PRACK"
"""The methods the switch accepts, for Allow headers."""


def set_sdp(dest: Request | Response, sdp: bytes) -> None:
    """Make ``sdp`` the body of ``dest``."""
    dest.body = sdp
    dest.headers.set("Content-Type", "application/sdp")


class Phase(Enum):
    """What a call is doing; leg events are dispatched on it (``call/phase.py``).

    Whether the caller's leg has ACKed our 2xx is that leg's own state (``Leg.ok``), read
    through ``Call.answering``/``Call.confirmed``."""

    __hash__ = object.__hash__  # identity, in C (Enum's hashes the name in Python; singletons)

    RINGING = "ringing"  # the caller's INVITE is not answered; forks ring for it
    SERVICE = "service"  # the switch answers it: echo, tone, a supervisor's or third party's
    IVR = "ivr"  # a flow runs: a menu, a prompt, a PIN check
    QUEUED = "queued"  # waiting in a queue, no agent rung
    BRIDGING = "bridging"  # answered, ringing onward: a user (transfer, menu) or queue agents
    TALKING = "talking"  # a two-party call: the caller's leg and the answered leg
    ROOM = "room"  # a member of a conference room
    ENDED = "ended"


LegId = str
"""A leg's id: the id of the INVITE transaction that made it (unique in the switch)."""


@dataclass(slots=True)
class Leg:
    """One INVITE session of a call, either way: the caller's INVITE we answer, or an INVITE
    we send (a fork to a callee's contact, an agent, a transfer's target).  Its dialog, our
    contact on its transport, the INVITE transaction, and the per-leg session state: the 2xx
    we resend to it until its ACK, the ACK we hold for it, the music it hears."""

    txn_id: str
    invite: Request
    dialog: Dialog
    me: LocalContact
    incoming: bool = False  # the INVITE came to us (we answer it)
    early: bool = False  # a provisional with a To-tag arrived
    final: int | None = None
    agent: str | None = None  # the queue agent this fork offers the call to
    cancelled: bool = False  # we CANCELled it (its failure is not the agent's)
    ok: Response | None = None  # our 2xx to its INVITE, resent until its ACK (incoming)
    retx_interval: float = 0.0
    retx_deadline: float = 0.0
    held_ack: Request | None = None  # our ACK to it, held until the peer's ACK brings the SDP
    unacked: PendingTwoHundred | None = None  # our 2xx to its re-INVITE, until its ACK
    music: int | None = None  # play id of the music on hold it hears
    session: LegSession | None = None  # its session timer (RFC 4028), if it may have one
    dtmf: str = "auto"  # how digits reach it: rfc4733, info, inband, auto (call/dtmfwork.py)
    # what its CDR row says (``call/legrecord.py``): when it was made, answered and ended,
    # why, by whom, its role and party when not the default (see ``LegRecord``), its codec
    at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    reason: str = ""
    ended_by: str | None = None
    role: str = ""
    party: str = ""
    codec: str | None = None
    media: int | None = None  # the media leg it had when it left its call (its quality)

    @property
    def id(self) -> LegId:
        return self.txn_id


@dataclass(slots=True)
class Relay:
    """A request relayed from one leg to its peer, waiting for its answer."""

    call: Call
    server_txn: str  # the transaction on the leg the request came from
    from_leg: LegId  # the leg the request came from
    to_leg: LegId  # where the request went
    method: str
    request: Request  # the request as we sent it
    delayed_ack: bool = False  # a re-INVITE without offer: the ACK waits for the answer
    ack: Request | None = None  # our ACK for its 2xx (kept to answer 2xx retransmissions)


@dataclass(slots=True)
class EarlySdp:
    """The offer/answer of a call's legs before its 2xx (``call/earlyoffer.py``): each leg's
    RFC 3264 state once moved from its INVITE's, our PRACKs waiting for the caller's answer."""

    states: dict[LegId, OfferAnswerState] = field(default_factory=dict)
    held_pracks: dict[LegId, Request] = field(default_factory=dict)  # fork -> our PRACK
    held_offers: dict[LegId, bytes] = field(default_factory=dict)  # fork -> its offer
    offer_to_caller: Response | None = None  # our reliable provisional offering to the caller
    # a fork's early dialogs (fork, remote tag) -> the last CSeq of a request from it
    remote_seqs: dict[tuple[LegId, str], int] = field(default_factory=dict)


@dataclass(slots=True)
class PendingTwoHundred:
    """A 2xx we sent to a leg's re-INVITE, retransmitted until its ACK (UDP)."""

    response: Response
    cseq: int
    interval: float
    deadline: float


@dataclass(slots=True)
class Call:
    """One B2BUA call: its legs by id, its state and the figures for its CDR.

    ``caller_id`` names the leg of the party the call is for (the caller's INVITE; after a
    transfer, the party who stays); its media is the call's end ``"a"``.  ``answered_id``
    names the leg that answered and talks with it (end ``"b"``); a transfer's transferor is
    ``transfer.leg`` (end ``"t"``).  Other legs are forks still ringing or that lost."""

    key: str
    caller: str
    callee: str
    caller_id: LegId
    started: float
    legs: dict[LegId, Leg] = field(default_factory=dict)
    phase: Phase = Phase.RINGING
    answered_id: LegId | None = None
    answered: float | None = None
    failure: tuple[int, str] | None = None
    failure_headers: tuple[tuple[str, str], ...] = ()  # of the failure relayed to the caller
    reinvite_txn: str | None = None  # the last relayed re-INVITE answered 2xx
    media: CallMedia | None = None  # None: SDP passes through untouched (no anchoring)
    service: str | None = None  # a call the switch answers itself: "echo", "tone", "ivr"
    ivr: IvrSession | VoicemailSession | None = None  # a flow, or a voicemail machine
    voicemail_box: str | None = None  # a user's call that falls to this mailbox if unanswered
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
    queue_priority: int = 0  # its priority (as it entered, or as a command set it)
    users: tuple[str, ...] = ()  # users whose calls prefer this call's media worker
    digits: str = ""  # what the IVR collected, in order (kept when it hands the call over)
    vars: dict[str, str] = field(default_factory=dict)  # the IVR's variables (same)
    crm: dict[str, object] | None = None  # the CRM's record for the caller (call/crm.py)
    crm_status: str | None = None  # None: no lookup; "pending", "ok", "not_found", ...
    offered: bool = False  # an agent has been offered the call (a later CRM result is news)
    did: str | None = None  # the DID a carrier's call came in on (its IVR's ``did`` variable)
    diversion: str | None = None  # the number a carrier's call was first meant for (``diversion``)
    prack_mode: Mode = "supported"  # 100rel towards the caller (a trunk's ``100rel``)
    early: EarlySdp = field(default_factory=EarlySdp)  # offer/answer before the 2xx
    gone: list[LegRecord] = field(default_factory=list)  # legs that left it (their records)
    transfers: list[TransferStep] = field(default_factory=list)  # every transfer, in order

    @classmethod
    def of(cls, first: Leg, *, key: str, caller: str, callee: str, started: float,
           **more: object) -> Call:
        """A call whose caller is leg ``first``."""
        call = cls(key=key, caller=caller, callee=callee, caller_id=first.id,
                   started=started, **more)  # type: ignore[arg-type]
        first.role = first.role or "caller"
        call.legs[first.id] = first
        return call

    def start_vars(self) -> dict[str, str]:
        """The variables an IVR and the CRM lookup start with: the DID a carrier's call came
        in on and the number it was first meant for (``diversion``), when there are."""
        out = {"did": self.did, "diversion": self.diversion}
        return {k: v for k, v in out.items() if v}

    # -- phase ---------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """Answered and not ended."""
        return self.phase is not Phase.RINGING and self.phase is not Phase.ENDED

    @property
    def answering(self) -> bool:
        """Answered, the caller's ACK to our 2xx still awaited."""
        return self.live and self.legs[self.caller_id].ok is not None

    @property
    def confirmed(self) -> bool:
        """Answered and the caller's leg confirmed (its ACK came, or we placed the call)."""
        return self.live and self.legs[self.caller_id].ok is None

    # -- legs ----------------------------------------------------------------------------
    @property
    def caller_leg(self) -> Leg:
        return self.legs[self.caller_id]

    @property
    def answered_leg(self) -> Leg | None:
        return self.legs[self.answered_id] if self.answered_id is not None else None

    def peer(self, leg_id: LegId) -> Leg | None:
        """The leg ``leg_id`` talks with in a two-party call (None: it has none now)."""
        if leg_id == self.caller_id:
            return self.answered_leg
        if leg_id == self.answered_id:
            return self.legs[self.caller_id]
        return None

    def end(self, leg_id: LegId) -> str:
        """The end of the call's media ``leg_id`` uses: ``"a"`` (the caller's), ``"b"`` (the
        answered leg and the forks ringing for it) or ``"t"`` (a transferor)."""
        if leg_id == self.caller_id:
            return "a"
        if self.transfer is not None and self.transfer.leg.id == leg_id and \
                leg_id != self.answered_id:
            return "t"
        return "b"

    def forks(self) -> list[Leg]:
        """The legs we sent an INVITE for, in the order they were made."""
        return [lg for lg in self.legs.values() if not lg.incoming]

    def add(self, leg: Leg) -> Leg:
        if not leg.role and self.transfer is not None and not self.transfer.done:
            leg.role = "transfer"  # rung for a transfer under way
        self.legs[leg.id] = leg
        return leg
