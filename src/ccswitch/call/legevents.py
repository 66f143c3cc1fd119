"""Leg events (pure): what happens on a leg of a call, as frozen dataclasses.  The call
dispatches them on its phase through one table (``call/phase.py``).

``leg`` is the leg's id (``LegId``) for signalling events and the media leg (an int, a port on
a worker) for media events; the media workers' own ``Digit`` and ``PlayDone`` (from
``media/commands.py``, a digit by SIP INFO included) are leg events as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..media.commands import Digit, PlayDone
from ..sip.message import Request, Response


@dataclass(frozen=True, slots=True)
class Ringing:
    """A fork's provisional answer (180/183, with or without early media)."""

    leg: str
    response: Response


@dataclass(frozen=True, slots=True)
class Answered:
    """A fork answered 2xx (``ack`` is the ACK to send it)."""

    leg: str
    response: Response
    ack: Request


@dataclass(frozen=True, slots=True)
class Failed:
    """A fork's final failure (a timeout is 408)."""

    leg: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ended:
    """A leg of the call hung up (BYE)."""

    leg: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The caller CANCELled its INVITE."""

    leg: str


@dataclass(frozen=True, slots=True)
class HoldChanged:
    """A leg offered (re-INVITE/UPDATE): it may hold or resume its peer."""

    leg: str


@dataclass(frozen=True, slots=True)
class MediaLost:
    """A leg's media is gone: RTP timeout, the leg failed, its worker died."""

    leg: int
    why: str


@dataclass(frozen=True, slots=True)
class RingTimeout:
    """Nobody answered the call's forks in time (a timer, on no leg)."""


LegEvent = (Ringing | Answered | Failed | Ended | Cancelled | HoldChanged | Digit | PlayDone
            | MediaLost | RingTimeout)

__all__ = ["Answered", "Cancelled", "Digit", "Ended", "Failed", "HoldChanged", "LegEvent",
           "MediaLost", "PlayDone", "RingTimeout", "Ringing"]
