"""Tone menus declared in configuration, run as a flow (``menu_flow``), pure.

A menu plays its greeting once, then its prompt, and waits ``timeout`` seconds for up to
``max_digits`` keys.  A choice runs its actions; no key or an unknown one (after the
``invalid`` prompt) repeats the menu, ``retries`` times at most, then runs ``default``.

Actions (strings): ``menu:NAME``, ``play:PROMPT``, ``set:VAR=VALUE``, ``priority:N``,
``skill:NAME=LEVEL``, and the targets of :func:`ccswitch.dialplan.parse_target` a caller can
be handed to: ``queue:NAME`` (``queue:NAME;priority=N``), ``user:NAME``, ``echo``, ``tone``,
``room:NAME``, ``transfer:NUMBER`` (a number of the dial plan) and ``hangup``.  A choice may list
several; they run in order until one hands the call over or goes to another menu.
``voicemail:`` is refused as not supported yet until voicemail exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..dialplan import QueueTarget, TargetError, parse_target
from .flow import Flow, IvrCall

_INT = re.compile(r"-?[0-9]{1,6}")
HANDOFF_KINDS = frozenset({"queue", "user", "room", "transfer"})
UNBUILT_KINDS = frozenset({"voicemail"})
"""Actions of features to come, refused with "not supported yet"."""
SERVICE_ACTIONS = frozenset({"echo", "tone"})
TARGET_KINDS = frozenset({"hangup", *HANDOFF_KINDS, *SERVICE_ACTIONS, *UNBUILT_KINDS})
"""Actions that are targets, parsed by ``ccswitch.dialplan.parse_target``."""
ACTION_KINDS = frozenset({"menu", "play", "set", "priority", "skill", "hangup",
                          *HANDOFF_KINDS, *SERVICE_ACTIONS})


class MenuError(ValueError):
    """A menu definition that cannot run (the configuration parser reports it)."""


def _frozen(d: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True)
class Menu:
    """One tone menu; ``choices`` maps keys (or key strings) to actions."""

    name: str
    prompt: tuple[str, ...]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen({}))
    greeting: tuple[str, ...] = ()
    timeout: float = 5.0
    retries: int = 1
    max_digits: int = 1
    invalid: tuple[str, ...] = ("invalid",)
    default: tuple[str, ...] = ("hangup",)
    sensitive: bool = False  # the call's recording is paused while the caller is in it


def check_action(action: str) -> str | None:
    """Why ``action`` is not a valid menu action, or None."""
    kind, _, arg = action.partition(":")
    if kind in TARGET_KINDS:
        try:
            parse_target(action)
        except TargetError as exc:
            return f"action {action!r}: {exc}"
        return None
    if kind not in ACTION_KINDS:
        return f"unknown action {action!r}"
    if not arg:
        return f"{kind} needs an argument ({kind}:...)"
    name, eq, value = arg.partition("=")
    if kind in ("set", "skill") and (not eq or not name):
        return f"{kind} needs NAME=VALUE"
    if kind == "skill" and not (_INT.fullmatch(value) and 1 <= int(value) <= 10):
        return "skill level must be a number 1-10"
    if kind == "priority" and not _INT.fullmatch(arg):
        return "priority must be an integer"
    return None


DEMO_MENUS: Mapping[str, Menu] = MappingProxyType({
    "demo": Menu(
        name="demo", greeting=("welcome",), prompt=("main-menu",), timeout=5.0, retries=1,
        choices=_frozen({"1": ("queue:sales",), "2": ("queue:support",), "9": ("echo",)}),
        default=("queue:support",),
    ),
})


def menu_flow(menus: Mapping[str, Menu], start: str) -> Flow:
    """The flow that runs ``menus`` from ``start``."""
    if start not in menus:
        raise MenuError(f"no menu {start!r}")

    async def flow(call: IvrCall) -> None:
        name: str | None = start
        greeted: set[str] = set()
        while name is not None:
            menu = menus[name]
            call.sensitive = name if menu.sensitive else None
            if menu.greeting and name not in greeted:
                greeted.add(name)
                await call.play(*menu.greeting)
            actions = await _choose(call, menu)
            name = await run_actions(call, actions, menus)

    return flow


async def _choose(call: IvrCall, menu: Menu) -> Sequence[str]:
    hash_choice = any("#" in k for k in menu.choices)
    for _ in range(menu.retries + 1):
        key = await call.collect(menu.max_digits, menu.timeout, prompt=menu.prompt,
                                 terminator="" if hash_choice else "#")
        if key in menu.choices:
            call.vars[f"menu_{menu.name}"] = key
            return menu.choices[key]
        if key:
            await call.play(*menu.invalid)
    return menu.default


async def run_actions(call: IvrCall, actions: Sequence[str],
                      menus: Mapping[str, Menu]) -> str | None:
    """Run ``actions``; the next menu's name, or None when the call was handed over."""
    for action in actions:
        kind, _, arg = action.partition(":")
        if kind == "menu":
            if arg not in menus:
                raise MenuError(f"no menu {arg!r}")
            return arg
        if kind == "play":
            await call.play(arg, interruptible=False)
        elif kind == "set":
            var, _, value = arg.partition("=")
            call.vars[var] = value
        elif kind == "priority":
            call.priority = int(arg)
        elif kind == "skill":
            skill, _, level = arg.partition("=")
            call.skills[skill] = int(level)
        elif kind == "hangup":
            await call.hangup()
            return None
        elif kind == "queue":
            target = parse_target(action)
            assert isinstance(target, QueueTarget)
            await call.queue(target.queue, priority=target.priority)
            return None
        else:  # user:, echo, tone, room:, transfer:
            await call.transfer(action)
            return None
    return None
