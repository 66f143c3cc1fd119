"""The facts of a call's legs and transfers for its CDR (pure): ``cdr_legs`` rows and the
transfer chain (``docs/storage.md``).

The core marks a leg's moments as they happen, on the ``Leg`` itself (made: ``at``; answered;
failed or gone mid-call), and keeps the records of legs that leave the call (a replaced leg,
a leg a third party took over, a consultation's target moved into another call) in
``Call.gone``.  When the call ends, ``leg_records`` turns every leg into a ``LegRecord``:
the ones still up end with the call.  Nothing here runs per packet or per message beyond a
few attribute writes.
"""

from __future__ import annotations

from dataclasses import replace

from .anchor import LegMedia
from .events import LegRecord, TransferStep
from .state import Call, Leg

TRANSFEROR_END = "t"  # the media end of a transferor (``transfer.TRANSFEROR``)


def leg_answered(leg: Leg, reason: str, now: float) -> None:
    """Our INVITE on ``leg`` was answered 2xx (the first one counts)."""
    if leg.answered_at is None:
        leg.answered_at = now
        leg.reason = reason


def leg_failed(leg: Leg, status: int, reason: str, now: float) -> None:
    """Our INVITE on ``leg`` got a final failure (or timed out, 408): who ended it is the
    switch for a CANCEL (487) or a timeout (408), else the party (a refusal)."""
    if leg.ended_at is None:
        leg.ended_at = now
        leg.reason = reason
        leg.ended_by = "switch" if leg.cancelled or status in (408, 487) else "party"


def media_of(call: Call, leg: Leg) -> LegMedia | None:
    """The media leg ``leg`` uses now (its call's end ``a``, ``b`` or the transferor's)."""
    cm = call.media
    if cm is None:
        return None
    if leg.id == call.caller_id:
        return cm.legs.get("a")
    if leg.id == call.answered_id:
        return cm.legs.get("b")
    xfer = call.transfer
    if xfer is not None and xfer.leg is leg:
        return cm.legs.get(TRANSFEROR_END)
    return None


def leg_gone(call: Call, leg: Leg, by: str, reason: str, now: float) -> None:
    """``leg`` ended while its call goes on (a transferor, a replaced leg): when, by whom
    (``party`` or ``switch``), and its codec while its media is still known."""
    if leg.ended_at is not None:
        return
    lm = media_of(call, leg)
    if lm is not None:
        leg.codec, leg.media = leg.codec or lm.codec, lm.leg
    leg.ended_at, leg.ended_by, leg.reason = now, by, leg.reason or reason


def remove_leg(call: Call, leg: Leg, by: str, reason: str, now: float, *,
               moving: bool = False) -> None:
    """``leg`` leaves ``call`` for good (deleted from ``call.legs`` by the caller): its
    record is kept in ``call.gone``.  A leg ``moving`` on into another call is recorded
    here as ended, and keeps its own state (the other call records it again, with its
    media leg: its quality is that call's)."""
    lm = media_of(call, leg)
    rec = _record(call, leg, now, status=None, ended_by="switch", end=None, lm=lm)
    call.gone.append(replace(rec, ended=now if leg.ended_at is None else leg.ended_at,
                             ended_by=leg.ended_by or by, reason=leg.reason or reason,
                             media=None if moving else rec.media))


def _role(call: Call, leg: Leg) -> str:
    if call.supervising is not None:
        return "party" if call.service == "party" else "supervisor"
    if leg.role:
        return leg.role
    if leg.incoming:
        return "caller"
    return "agent" if leg.agent is not None else "callee"


def _party(leg: Leg) -> str:
    if leg.party:
        return leg.party
    if leg.agent is not None:
        return leg.agent
    uri = leg.invite.from_.uri if leg.incoming else leg.invite.to.uri
    return uri.user or uri.host


def _record(call: Call, leg: Leg, now: float, *, status: int | None, ended_by: str,
            end: str | None, lm: LegMedia | None) -> LegRecord:
    """``leg`` as a record; ``status`` the call's (for an incoming leg never answered),
    ``ended_by`` what to say when the leg itself has not said."""
    answered = leg.answered_at
    if answered is None and leg.role == "caller":  # the call's first leg: answered with it
        answered = call.answered
    if leg.incoming:
        final = 200 if answered is not None else status
        reason = "OK" if answered is not None else leg.reason
    elif leg.final is None:  # still ringing: we CANCEL it as the call ends
        final, reason, ended_by = 487, "Request Terminated", "switch"
    else:
        final, reason = leg.final, leg.reason
    return LegRecord(leg.id, _role(call, leg), _party(leg),
                     call.started if leg.at is None else leg.at, answered,
                     now if leg.ended_at is None else leg.ended_at, final, reason,
                     leg.ended_by or ended_by, leg.codec or (lm.codec if lm else None), end,
                     leg.media if leg.media is not None else (lm.leg if lm else None))


def leg_records(call: Call, status: int, reason: str, ended_by: str,
                now: float) -> tuple[LegRecord, ...]:
    """Every leg ``call`` had, as it ends with ``status``/``reason``, ended by ``ended_by``
    (``caller``, ``callee``, ``switch``, ``media``), in the order they were made (the gone
    ones among them).  Read before the call's media is closed (the codecs)."""
    out = list(call.gone)
    for leg in call.legs.values():
        end = ("caller" if leg.id == call.caller_id else
               "callee" if leg.id == call.answered_id else None)
        if end is not None and ended_by in ("caller", "callee"):
            by = "party" if end == ended_by else "peer"
        else:
            by = ended_by
        rec = _record(call, leg, now, status=status, ended_by=by, end=end,
                      lm=media_of(call, leg))
        if leg.incoming and rec.answered is None and not rec.reason:
            rec = replace(rec, reason=reason)
        out.append(rec)
    if call.gone:  # by start; at once: the caller's legs first (they made the others ring)
        out.sort(key=lambda g: (g.started, g.role not in ("caller", "replaces")))
    return tuple(out)


def joined_legs(records: tuple[LegRecord, ...]) -> list[LegRecord]:
    """The legs of a supervisor's (or third party's) call that belong in the supervised
    call's record too: the phone's leg (the supervisor's call's caller end), without its
    media leg (its quality goes to its own call's record, which waits for it)."""
    return [replace(r, call_end=None, media=None) for r in records if r.call_end == "caller"]


def transfer_started(call: Call, kind: str, by: str, target: str, via: str,
                     now: float) -> None:
    call.transfers.append(TransferStep(kind, by, target, now, via))


def transfer_result(call: Call, result: str) -> None:
    """How the last transfer went (``answered``, ``failed:STATUS``); set once."""
    if call.transfers and call.transfers[-1].result is None:
        call.transfers[-1] = replace(call.transfers[-1], result=result)
