"""``[dialplan.numbers]`` and every target written in the configuration (pure).

Part of the configuration parser (like ``config/acd.py``): every fault goes through
``_Parser.fail`` with its key path and line.  Dial-plan actions, queue overflow rules and IVR
hand-offs are all parsed by :func:`ccswitch.dialplan.parse_target`; each place allows the
target kinds that make sense there (:data:`NUMBER_KINDS`, :data:`OVERFLOW_KINDS`) and every
name must exist: a user, a queue, a menu, a room.  A ``transfer:NUMBER`` must reach a number
of this dial plan (a user, a ``[dialplan.numbers]`` entry, a supervision code + agent), and
chains of them must not loop; those are checked once the whole dial plan is known
(:func:`check_numbers`).  Outside numbers (``number:``) are dialled only, through
``[[routes]]``: refused here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from ..dialplan import (
    RESERVED_PREFIXES,
    Dialplan,
    HangupTarget,
    IvrTarget,
    NumberTarget,
    OutsideTarget,
    QueueTarget,
    RoomTarget,
    ServiceTarget,
    SuperviseMode,
    Target,
    TargetError,
    UserTarget,
    VoicemailTarget,
    parse_target,
)
from ..dialplan.plan import chain
from ..dialplan.targets import KINDS, NUMBER, UNBUILT

if TYPE_CHECKING:
    from .schema import Path, _Parser

NUMBER_KINDS: Final[tuple[type[Target], ...]] = (
    ServiceTarget, IvrTarget, QueueTarget, UserTarget, RoomTarget, NumberTarget,
    VoicemailTarget)
"""What a ``[dialplan.numbers]`` entry may be."""
OVERFLOW_KINDS: Final[tuple[type[Target], ...]] = (*NUMBER_KINDS, HangupTarget, OutsideTarget)
"""Where a queue rule may send a caller (``number:`` an outside number, through a trunk)."""
NUMBER_FORMS: Final = ("echo", "tone", "ivr:NAME", "queue:NAME", "user:NAME", "room:NAME",
                       "transfer:NUMBER", "voicemail:BOX")


def _frozen(d: Mapping[str, Target] | None = None) -> Mapping[str, Target]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class DialplanConfig:
    """``numbers``: dialled numbers (Request-URI user parts) -> their target."""

    numbers: Mapping[str, Target] = field(default_factory=_frozen)


@dataclass(frozen=True, slots=True)
class Names:
    """What targets may name: the configured users, queues, menus and rooms."""

    users: Collection[str] = ()
    queues: Collection[str] = ()
    menus: Collection[str] = ()
    rooms: Collection[str] = ()


def target(p: _Parser, value: object, path: Path,
           kinds: tuple[type[Target], ...] = OVERFLOW_KINDS) -> Target:
    """The target written at ``path``, of one of ``kinds`` (its names are checked later, by
    :func:`check_target`, once they are all known)."""
    text = p.string(value, path)
    forms = (f"{', '.join(NUMBER_FORMS)}{', hangup' if HangupTarget in kinds else ''}"
             f"{', number:NUMBER' if OutsideTarget in kinds else ''}")
    if text.partition(":")[0] not in KINDS | UNBUILT.keys():
        p.fail(path, f"unknown action {text!r} (one of {forms})")
    try:
        parsed = parse_target(text)
    except TargetError as exc:
        p.fail(path, f"action {text!r}: {exc}")
    if not isinstance(parsed, kinds):
        p.fail(path, f"action {text!r} cannot be used here (one of {forms})")
    if isinstance(parsed, NumberTarget):
        p.number_refs.append((parsed.number, path))
    return parsed


def check_target(p: _Parser, t: Target, path: Path, names: Names) -> None:
    """Fail unless the user, queue, menu or room ``t`` names exists."""
    if isinstance(t, UserTarget) and t.user not in names.users:
        p.fail(path, f"user {t.user!r} does not exist")
    if isinstance(t, QueueTarget) and t.queue not in names.queues:
        p.fail(path, f"queue {t.queue!r} does not exist")
    if isinstance(t, IvrTarget) and t.menu not in names.menus:
        p.fail(path, f"IVR {t.menu!r} does not exist")
    if isinstance(t, RoomTarget) and t.room not in names.rooms:
        p.fail(path, f"room {t.room!r} does not exist (no [rooms.{t.room}])")


def parse_dialplan(p: _Parser, value: object, path: Path, names: Names,
                   codes: Collection[str]) -> DialplanConfig:
    """The ``[dialplan]`` table: ``numbers`` -> targets; no number is a user, starts with a
    supervision code or a code the switch reserves."""
    t = p.table(value, path)
    p.check_keys(t, ("numbers",), path)
    np = (*path, "numbers")
    numbers: dict[str, Target] = {}
    for number, action in p.table(t.get("numbers", {}), np).items():
        kp = (*np, number)
        if not NUMBER.fullmatch(number):
            p.fail(kp, f"{number!r} is not a valid number")
        if number in names.users:
            p.fail(kp, f"{number!r} is also a user; a number cannot be both")
        for code in (*codes, *RESERVED_PREFIXES):
            if number.startswith(code):
                p.fail(kp, f"{number!r} starts with the feature code {code!r}")
        numbers[number] = target(p, action, kp, NUMBER_KINDS)
        check_target(p, numbers[number], kp, names)
    return DialplanConfig(_frozen(numbers))


def check_numbers(p: _Parser, numbers: Mapping[str, Target], path: Path, *,
                  users: Collection[str], agents: Collection[str],
                  codes: Mapping[str, SuperviseMode]) -> Dialplan:
    """Once the dial plan is known: no chain of ``transfer:NUMBER`` entries loops, and every
    ``transfer:NUMBER`` written anywhere reaches a number of it.  The dial plan, proven."""
    for number in numbers:
        try:
            chain(number, numbers)
        except TargetError as exc:
            p.fail((*path, number), str(exc))
    plan = Dialplan(users=users, numbers=numbers, agents=agents, codes=codes)
    for number, where in p.number_refs:
        if plan.resolve(number) is None:
            p.fail(where, f"{number!r} is not a number of this dial plan (calls to outside "
                          "numbers are not supported yet here: a menu or a queue rule takes "
                          "number:NUMBER)")
    return plan
