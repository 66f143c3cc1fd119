"""Where a call goes: one typed :data:`Target`, parsed once from its text (pure).

The dial plan, IVR menu actions and queue overflow rules all name where a call goes with the
same text, parsed here by :func:`parse_target`; ``str(target)`` gives the canonical text back,
so ``parse_target(str(t)) == t`` for every target and code that still passes strings keeps
working.

=========================  ===============================================================
text                       target
=========================  ===============================================================
``user:1001``              :class:`UserTarget`: ring every registered contact of the user
``queue:support``          :class:`QueueTarget` (``queue:support;priority=5``: enter with
                           that priority, higher is served first)
``ivr:demo``               :class:`IvrTarget`: run a tone menu
``echo`` / ``tone``        :class:`ServiceTarget`: the echo test, a steady 1000 Hz tone
``room:850``               :class:`RoomTarget`: join a conference room
``listen:2001``            :class:`SuperviseTarget`: listen to (``whisper:``, ``barge:``)
                           an agent's live call
``transfer:1002``          :class:`NumberTarget`: whatever that number of the dial plan is
``voicemail:1002``         :class:`VoicemailTarget`: leave a message in that mailbox
``hangup``                 :class:`HangupTarget`
``number:+15551234567``    :class:`OutsideTarget`: an outside number, called through the
                           outbound routes' trunks (``dialplan/outbound.py``)
=========================  ===============================================================

Names are checked for their form only; whether a user, queue, menu or room exists is the
configuration's business (``config/schema.py``).  ``number:`` parses, but only the dialled
path places it yet: the configuration refuses it in menus, queue rules and DIDs
(``config/dialplan.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

from ..errors import CcswitchError

ServiceName: TypeAlias = Literal["echo", "tone"]
SuperviseMode: TypeAlias = Literal["listen", "whisper", "barge"]
SERVICES: Final[tuple[ServiceName, ...]] = get_args(ServiceName)
SUPERVISE_MODES: Final[tuple[SuperviseMode, ...]] = get_args(SuperviseMode)
UNBUILT: Final[dict[str, str]] = {}
"""Target kinds of features to come: refused with "not supported yet"."""
TARGET_FORMS: Final = ("user:NAME", "queue:NAME", "ivr:NAME", "echo", "tone", "room:NAME",
                       "listen:AGENT", "whisper:AGENT", "barge:AGENT", "transfer:NUMBER",
                       "voicemail:BOX", "hangup", "number:NUMBER")
"""Every form :func:`parse_target` accepts, for messages and documentation."""
KINDS: Final = frozenset(form.partition(":")[0] for form in TARGET_FORMS)
"""The words a target's text starts with (``queue`` of ``queue:support``)."""

USER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
"""A user (and agent) name."""
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
"""A queue, menu or room name."""
NUMBER: Final = re.compile(r"[A-Za-z0-9*#+][A-Za-z0-9._*#+-]*")
"""A dialled number: the user part of a Request-URI as the dial plan knows it."""
_PRIORITY = re.compile(r"-?[0-9]{1,9}")


class TargetError(CcswitchError, ValueError):
    """Text that is not a target; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class UserTarget:
    """Ring every registered contact of ``user`` at once (first answer wins)."""

    user: str

    def __str__(self) -> str:
        return f"user:{self.user}"


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """Enter ``queue``; ``priority`` overrides the caller's (``None``: keep it)."""

    queue: str
    priority: int | None = None

    def __str__(self) -> str:
        if self.priority is None:
            return f"queue:{self.queue}"
        return f"queue:{self.queue};priority={self.priority}"


@dataclass(frozen=True, slots=True)
class IvrTarget:
    """Run the tone menu ``menu``."""

    menu: str

    def __str__(self) -> str:
        return f"ivr:{self.menu}"


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A service the switch answers itself: ``echo`` (the caller hears what it sends) or
    ``tone`` (a steady 1000 Hz tone)."""

    name: ServiceName

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class RoomTarget:
    """Join the conference room ``room`` (a ``[rooms.NAME]`` table)."""

    room: str

    def __str__(self) -> str:
        return f"room:{self.room}"


@dataclass(frozen=True, slots=True)
class SuperviseTarget:
    """Join ``agent``'s live call as a supervisor: ``listen`` (hear both, heard by none),
    ``whisper`` (heard by the agent only) or ``barge`` (all hear each other).  Whether the
    caller may is the call layer's check (``dialplan.plan.may_supervise``)."""

    mode: SuperviseMode
    agent: str

    def __str__(self) -> str:
        return f"{self.mode}:{self.agent}"


@dataclass(frozen=True, slots=True)
class NumberTarget:
    """Whatever ``number`` is in the dial plan (looked up again: an IVR ``transfer:NUMBER``,
    a dial-plan alias, the target of a SIP transfer)."""

    number: str

    def __str__(self) -> str:
        return f"transfer:{self.number}"


@dataclass(frozen=True, slots=True)
class VoicemailTarget:
    """Leave a message in the mailbox ``box`` (a user's or a queue's, ``[voicemail]``)."""

    box: str

    def __str__(self) -> str:
        return f"voicemail:{self.box}"


@dataclass(frozen=True, slots=True)
class HangupTarget:
    """End the call."""

    def __str__(self) -> str:
        return "hangup"


@dataclass(frozen=True, slots=True)
class OutsideTarget:
    """An outside number (E.164 once the outbound router normalised it), reached through a
    carrier trunk: a trunk leg, tried on the route's trunks in order."""

    number: str

    def __str__(self) -> str:
        return f"number:{self.number}"


Target: TypeAlias = (UserTarget | QueueTarget | IvrTarget | ServiceTarget | RoomTarget
                     | SuperviseTarget | NumberTarget | VoicemailTarget | HangupTarget
                     | OutsideTarget)
"""Where a call goes: one of the target classes of this module."""
TARGET_TYPES: Final = get_args(Target)


def parse_target(text: str) -> Target:
    """The target ``text`` names (see the module docstring), or :class:`TargetError`."""
    kind, sep, arg = text.partition(":")
    if kind in UNBUILT:
        raise TargetError(f"{kind} is not supported yet")
    if kind in SERVICES or kind == "hangup":
        if sep:
            raise TargetError(f"{kind} takes no argument")
        return HangupTarget() if kind == "hangup" else ServiceTarget(_service(kind))
    if kind not in _WITH_ARGUMENT:
        raise TargetError(f"unknown target {text!r} (one of {', '.join(TARGET_FORMS)})")
    if not arg:
        raise TargetError(f"{kind} needs an argument ({kind}:{_WITH_ARGUMENT[kind][1]})")
    if kind == "queue":
        return _queue(arg)
    pattern, form, what = _WITH_ARGUMENT[kind]
    if not pattern.fullmatch(arg):
        raise TargetError(f"{arg!r} is not a valid {what} ({kind}:{form})")
    if kind == "user":
        return UserTarget(arg)
    if kind == "ivr":
        return IvrTarget(arg)
    if kind == "room":
        return RoomTarget(arg)
    if kind == "transfer":
        return NumberTarget(arg)
    if kind == "number":
        return OutsideTarget(arg)
    if kind == "voicemail":
        return VoicemailTarget(arg)
    return SuperviseTarget(_mode(kind), arg)


_WITH_ARGUMENT: Final[dict[str, tuple[re.Pattern[str], str, str]]] = {
    "user": (USER_NAME, "NAME", "user name"), "queue": (NAME, "NAME", "queue name"),
    "ivr": (NAME, "NAME", "menu name"), "room": (NAME, "NAME", "room name"),
    "transfer": (NUMBER, "NUMBER", "number"), "number": (NUMBER, "NUMBER", "number"),
    "voicemail": (USER_NAME, "BOX", "mailbox name"),
    **{mode: (USER_NAME, "AGENT", "agent name") for mode in SUPERVISE_MODES},
}
"""Kinds that take an argument: (its pattern, placeholder, what it is called)."""


def _queue(arg: str) -> QueueTarget:
    name, sep, param = arg.partition(";")
    if not NAME.fullmatch(name):
        raise TargetError(f"{name!r} is not a valid queue name (letters, digits, _ and -)")
    if not sep:
        return QueueTarget(name)
    key, eq, value = param.partition("=")
    if key != "priority" or not eq:
        raise TargetError(f"unknown queue parameter {param!r} (queue:NAME;priority=N)")
    if not _PRIORITY.fullmatch(value):
        raise TargetError(f"priority must be an integer, got {value!r}")
    return QueueTarget(name, int(value))


def _service(kind: str) -> ServiceName:
    for name in SERVICES:
        if name == kind:
            return name
    raise AssertionError(kind)


def _mode(kind: str) -> SuperviseMode:
    for mode in SUPERVISE_MODES:
        if mode == kind:
            return mode
    raise AssertionError(kind)
