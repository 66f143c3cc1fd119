"""``[ivr.NAME]`` tables: tone menus (:class:`~ccswitch.ivr.menu.Menu`) read and proven.

Pure, and part of the configuration parser: every fault goes through ``_Parser.fail`` with its
key path and line.  A menu's actions pass ``check_action`` and are cross-checked: ``menu:X``
names a menu of the file or a built-in one, ``queue:X`` a configured queue, ``user:X`` a
user, ``room:X`` a room, ``transfer:N`` a number of the dial plan (checked with the dial plan),
``play:X`` a prompt (``voicemail:`` is not supported yet); nothing may follow an action that
hands the call over or goes to another menu.  Targets are stored as their canonical text
(``str(parse_target(action))``): ``Menu`` keeps strings, as ``TransferReq`` does.  Prompt
values (names or audio files, see ``config/audio.py``) are checked for their form here and
recorded; whether the file exists and decodes is proven by the shell at load time
(``ccswitch.prompts.resolve``).
The built-in menus (``DEMO_MENUS``) stay available unless the file redefines them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ..dialplan import parse_target
from ..ivr.menu import (
    DEMO_MENUS,
    HANDOFF_KINDS,
    SERVICE_ACTIONS,
    TARGET_KINDS,
    Menu,
    check_action,
)
from .audio import PROMPT_NAME as PROMPT_NAME
from .audio import prompt_value

if TYPE_CHECKING:
    from .schema import Path, _Parser

MENU_KEYS: Final = ("prompt", "greeting", "timeout", "retries", "max_digits", "invalid",
                    "default", "choices", "sensitive")
MAX_DIGITS: Final = 20
MAX_RETRIES: Final = 10
ENDING_KINDS: Final = frozenset({"menu", "hangup", *HANDOFF_KINDS, *SERVICE_ACTIONS})
"""Actions after which a list of actions stops: nothing may follow them."""

_MENU_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_KEYS = re.compile(r"[0-9*#]+")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SKILL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_PRIORITY = re.compile(r"-?[0-9]{1,9}")


def parse_menus(parser: _Parser, value: object, path: Path, *,
                queues: Collection[str] = (), users: Collection[str] = (),
                rooms: Collection[str] = (),
                prompts: Collection[str] | None = None) -> dict[str, Menu]:
    """The menus of the ``[ivr]`` table ``value`` (at ``path``), then the built-in ones the
    file does not redefine.  ``queues``/``users``/``rooms`` are the configured names actions
    may use; ``prompts``, when given, the prompt names that exist."""
    table = parser.table(value, path)
    names = {*table, *DEMO_MENUS}
    check = _MenuChecker(parser, names, queues, users, rooms, prompts)
    menus: dict[str, Menu] = {}
    for name, entry in table.items():
        p = (*path, name)
        if not _MENU_NAME.fullmatch(name):
            parser.fail(p, f"{name!r} is not a valid menu name (letters, digits, _ and -)")
        menus[name] = check.menu(name, parser.table(entry, p), p)
    for name, menu in DEMO_MENUS.items():
        menus.setdefault(name, menu)
    return menus


class _MenuChecker:
    """Converts one menu table; the names it may refer to are fixed at construction."""

    def __init__(self, parser: _Parser, menus: Collection[str], queues: Collection[str],
                 users: Collection[str], rooms: Collection[str],
                 prompts: Collection[str] | None) -> None:
        self.p = parser
        self.menus = menus
        self.queues = queues
        self.users = users
        self.rooms = rooms
        self.prompts = prompts

    def menu(self, name: str, t: Mapping[str, Any], path: Path) -> Menu:
        p = self.p
        p.check_keys(t, MENU_KEYS, path)
        if "prompt" not in t:
            p.fail((*path, "prompt"), "missing (every menu needs a prompt)")
        d = Menu(name, ())
        max_digits = p.opt(t, "max_digits", path, d.max_digits,
                           lambda v, q: p.integer(v, q, 1, MAX_DIGITS))
        return Menu(
            name=name,
            prompt=self.prompt_list(t["prompt"], (*path, "prompt")),
            choices=self.choices(t.get("choices", {}), (*path, "choices"), max_digits),
            greeting=p.opt(t, "greeting", path, d.greeting, self.prompt_list),
            timeout=p.opt(t, "timeout", path, d.timeout, p.seconds),
            retries=p.opt(t, "retries", path, d.retries,
                          lambda v, q: p.integer(v, q, 0, MAX_RETRIES)),
            max_digits=max_digits,
            invalid=p.opt(t, "invalid", path, d.invalid, self.prompt_list),
            default=p.opt(t, "default", path, d.default, self.actions),
            sensitive=p.opt(t, "sensitive", path, d.sensitive, p.boolean),
        )

    def choices(self, value: object, path: Path, max_digits: int,
                ) -> Mapping[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for keys, actions in self.p.table(value, path).items():
            p = (*path, keys)
            if not _KEYS.fullmatch(keys):
                self.p.fail(p, f"{keys!r} is not a key sequence (digits 0-9, * and #)")
            if len(keys) > max_digits:
                self.p.fail(p, f"{keys!r} has more keys than max_digits ({max_digits})")
            out[keys] = self.actions(actions, p)
        return MappingProxyType(out)

    def items(self, value: object, path: Path, what: str,
              one: Callable[[object, Path], str]) -> tuple[str, ...]:
        """A string, or a non-empty array of strings, each converted by ``one``."""
        if isinstance(value, str):
            return (one(value, path),)
        if not isinstance(value, list):
            self.p.fail(path, f"must be {what} or an array of them, got {_kind(value)}")
        if not value:
            self.p.fail(path, "must not be empty")
        return tuple(one(item, (*path, i)) for i, item in enumerate(value))

    def prompt_list(self, value: object, path: Path) -> tuple[str, ...]:
        return self.items(value, path, "a prompt (name or audio file)", self.prompt)

    def prompt(self, value: object, path: Path) -> str:
        return prompt_value(self.p, value, path)

    def actions(self, value: object, path: Path) -> tuple[str, ...]:
        out = self.items(value, path, "an action", self.action)
        for i, action in enumerate(out[:-1]):
            kind = action.partition(":")[0]
            if kind in ENDING_KINDS:
                ends = {"menu": "goes to another menu", "hangup": "hangs up"}.get(
                    kind, "hands the call over")
                self.p.fail((*path, i + 1), f"never runs: the action before it ({action!r}) "
                                            f"{ends}")
        return out

    def action(self, value: object, path: Path) -> str:
        action = self.p.string(value, path)
        fault = check_action(action) or self.argument_fault(action, path)
        if fault is not None and action.startswith("ivr:"):
            fault += " (a menu goes to another menu with menu:NAME)"
        if fault is not None:
            self.p.fail(path, fault)
        if action.partition(":")[0] in TARGET_KINDS:
            target = parse_target(action)
            if action.startswith("transfer:"):
                self.p.number_refs.append((action.partition(":")[2], path))
            return str(target)
        return action

    def argument_fault(self, action: str, path: Path) -> str | None:
        """What is wrong with the argument of a well-formed action, or None."""
        kind, _, arg = action.partition(":")
        name, _, level = arg.partition("=")
        if kind == "menu" and arg not in self.menus:
            return f"menu {arg!r} does not exist"
        if kind == "queue" and arg.partition(";")[0] not in self.queues:
            return f"queue {arg.partition(';')[0]!r} does not exist"
        if kind == "room" and arg not in self.rooms:
            return f"room {arg!r} does not exist (no [rooms.{arg}])"
        if kind == "user" and arg not in self.users:
            return f"user {arg!r} does not exist"
        if kind == "play":
            self.prompt(arg, path)
        if kind == "set" and not _VAR.fullmatch(name):
            return f"{name!r} is not a valid variable name (letters, digits and _)"
        if kind == "skill" and not _SKILL.fullmatch(name):
            return f"{name!r} is not a valid skill name"
        if kind == "skill" and not (level.isascii() and level.isdigit() and 1 <= int(level) <= 10):
            return "skill level must be a number 1-10"
        if kind == "priority" and not _PRIORITY.fullmatch(arg):
            return "priority must be an integer"
        return None


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", dict: "a table"}
    return names.get(type(value), type(value).__name__)
