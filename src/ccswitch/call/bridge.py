"""Bridges: sets of media legs on one worker and the mixer edges that join them (pure).

A ``Bridge`` is the only place that decides who hears whom.  Its members have roles:

* ``PARTY`` talks and hears every other party (a two-party call, a conference member, a
  supervisor who barges);
* ``MUTED`` hears every party, nobody hears it (a muted conference member);
* ``LISTEN`` hears every party, nobody hears it (a supervisor listening);
* ``WHISPER`` hears every party and is heard by one of them only (``coach``: the agent a
  supervisor whispers to; the caller never hears it).

The topology follows from the roles, as a set of edges the bridge keeps in step with the
media worker by sending only the difference: a *mesh* bridge (a call between people, with or
without a supervisor) connects each pair with directed ``Connect`` edges, so a plain two-party
call stays a packet relay and a listening supervisor changes nothing the parties hear; a
*conference* bridge (a room) puts its members on a mixing bus, each hearing all but itself.
Joining, leaving and changing role are the only operations; a transfer, a queue answer, a barge
and a three-way call are compositions of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..media.commands import Command, Connect, Disconnect, JoinBus, LeaveBus


class Role(Enum):
    PARTY = "party"
    MUTED = "muted"
    LISTEN = "listen"
    WHISPER = "whisper"


@dataclass(frozen=True, slots=True)
class Member:
    leg: int
    role: Role = Role.PARTY
    coach: int | None = None  # WHISPER: the one party that hears this member


# an edge: ("edge", src, sink, 0) or ("bus", leg, talk, listen) (talk/listen as 0/1)
Edge = tuple[str, int, int, int]


class BridgeError(ValueError):
    """A bridge operation that makes no sense (a leg not in the bridge, a coach who is not a
    party); the command that asked for it gets this error."""


class Bridge:
    """Legs joined on one media worker.  ``send(worker, command)`` carries the edges out."""

    def __init__(self, *, bridge_id: str, worker: int, send: Callable[[int, Command], None],
                 conference: bool = False, bus: int = 0) -> None:
        self.bridge_id = bridge_id
        self.worker = worker
        self.conference = conference
        self._send = send
        self._bus = bus
        self._members: dict[int, Member] = {}
        self._edges: set[Edge] = set()

    # -- the operations ----------------------------------------------------------------
    def join(self, leg: int, role: Role = Role.PARTY, *, coach: int | None = None) -> None:
        """Add ``leg`` (or change its role when it is already a member)."""
        if role is Role.WHISPER and (coach is None or coach not in self.parties()):
            raise BridgeError("a whisper needs a party of the bridge to hear it")
        self._members[leg] = Member(leg, role, coach if role is Role.WHISPER else None)
        self._apply()

    def leave(self, leg: int) -> bool:
        """Take ``leg`` out; False when it was not in.  A supervisor whispering to it falls
        back to listening."""
        if self._members.pop(leg, None) is None:
            return False
        for m in list(self._members.values()):
            if m.coach == leg:
                self._members[m.leg] = Member(m.leg, Role.LISTEN)
        self._apply()
        return True

    def dissolve(self) -> None:
        """Every member leaves (the edges are taken down)."""
        self._members.clear()
        self._apply()

    # -- what is in it ------------------------------------------------------------------
    def __contains__(self, leg: object) -> bool:
        return leg in self._members

    def __len__(self) -> int:
        return len(self._members)

    def members(self) -> list[Member]:
        return list(self._members.values())

    def role_of(self, leg: int) -> Role | None:
        m = self._members.get(leg)
        return m.role if m is not None else None

    def parties(self) -> list[int]:
        """Members that are heard by the others (PARTY) or could be (MUTED)."""
        return [m.leg for m in self._members.values() if m.role in (Role.PARTY, Role.MUTED)]

    def edges(self) -> frozenset[Edge]:
        return frozenset(self._edges)

    # -- topology -----------------------------------------------------------------------
    def _wanted(self) -> set[Edge]:
        members = list(self._members.values())
        talkers = [m.leg for m in members if m.role is Role.PARTY]
        hearers = [m.leg for m in members]
        out: set[Edge] = set()
        if self.conference:
            for m in members:
                out.add(("bus", m.leg, int(m.role is Role.PARTY), 1))
        else:
            for src in talkers:
                for sink in hearers:
                    if sink != src:
                        out.add(("edge", src, sink, 0))
        for m in members:
            if m.role is Role.WHISPER and m.coach is not None:
                out.add(("edge", m.leg, m.coach, 0))
        return out

    def _apply(self) -> None:
        wanted = self._wanted()
        gone, new = self._edges - wanted, wanted - self._edges
        for e in sorted(gone):
            if e[0] == "edge":
                self._send(self.worker, Disconnect(e[1], e[2]))
            elif not any(n[0] == "bus" and n[1] == e[1] for n in new):
                self._send(self.worker, LeaveBus(self._bus, e[1]))
        for e in sorted(new):
            if e[0] == "edge":
                self._send(self.worker, Connect(e[1], e[2]))
            else:
                self._send(self.worker, JoinBus(self._bus, e[1], bool(e[2]), bool(e[3])))
        self._edges = wanted
