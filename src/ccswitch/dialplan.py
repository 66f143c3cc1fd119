"""The dial plan: what a dialled number means (pure lookup, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserTarget:
    """Ring every registered contact of ``user``."""

    user: str


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A switch service: ``kind`` is echo, tone, ivr, queue…; ``arg`` names which one."""

    kind: str
    arg: str = ""


Target = UserTarget | ServiceTarget


class Dialplan:
    """Maps the user part of a Request-URI to a target."""

    def __init__(self, *, users: Set[str], numbers: Mapping[str, str]) -> None:
        self._users = frozenset(users)
        self._numbers = dict(numbers)

    def resolve(self, number: str) -> Target | None:
        action = self._numbers.get(number)
        if action is not None:
            kind, _, arg = action.partition(":")
            if kind == "user":
                return UserTarget(arg)
            return ServiceTarget(kind, arg)
        if number in self._users:
            return UserTarget(number)
        return None
