"""The dial plan: what a dialled number means (pure lookup, no I/O).

:meth:`Dialplan.resolve` turns the user part of a Request-URI into a
:class:`~ccswitch.dialplan.targets.Target`, in this order:

1. a number of ``[dialplan.numbers]``: its target; a ``transfer:NUMBER`` there is looked up
   again, so a number may alias another (loops are refused when the plan is built);
2. a configured user: :class:`UserTarget`;
3. a supervision code followed by an agent's extension (``*31`` + ``2001``):
   :class:`SuperviseTarget` of that mode, only when the agent exists and is not the caller.

Who may supervise whom is not decided here: the call layer asks :func:`may_supervise` with
the caller's :class:`Supervisor` entry (none for a user who is not a supervisor).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from .targets import NumberTarget, SuperviseMode, SuperviseTarget, Target, TargetError, UserTarget

if TYPE_CHECKING:
    from ..config.schema import SwitchConfig

DEFAULT_CODES: Final[Mapping[str, SuperviseMode]] = MappingProxyType(
    {"*31": "listen", "*32": "whisper", "*33": "barge"})
"""Supervision feature codes (the agent's extension follows) by default."""
DEFAULT_KEYS: Final[Mapping[str, SuperviseMode]] = MappingProxyType(
    {"4": "listen", "5": "whisper", "6": "barge"})
"""DTMF keys a supervisor presses during a supervised call to change mode, by default."""
RESERVED_PREFIXES: Final = ("*2",)
"""Codes the switch decides before the dial plan: ``*21``-``*24`` agent login, logout, pause
and unpause.  No dial-plan number or supervision code may start with them."""


@dataclass(frozen=True, slots=True)
class Supervisor:
    """A user who may supervise agents of ``queues`` (``None``: of every queue)."""

    user: str
    queues: frozenset[str] | None = None


def may_supervise(supervisor: Supervisor | None, agent: str,
                  agents_queues: Mapping[str, Collection[str]]) -> bool:
    """Whether ``supervisor`` (the caller's entry, ``None`` when it is not a supervisor) may
    listen to, whisper to or barge in on ``agent``: ``agent`` is an agent (a key of
    ``agents_queues``, agent -> its queues), not the supervisor itself, and a member of one
    of the supervised queues (any agent when the supervisor has every queue)."""
    if supervisor is None or agent == supervisor.user or agent not in agents_queues:
        return False
    if supervisor.queues is None:
        return True
    return not supervisor.queues.isdisjoint(agents_queues[agent])


class Dialplan:
    """Maps the user part of a Request-URI to a target (see the module docstring).

    ``users``: every configured user; ``numbers``: ``[dialplan.numbers]``; ``agents``: the
    users who are agents; ``codes``: supervision prefix -> mode.  Raises TargetError when a
    chain of ``transfer:NUMBER`` entries loops."""

    def __init__(self, *, users: Collection[str], numbers: Mapping[str, Target] | None = None,
                 agents: Collection[str] = (),
                 codes: Mapping[str, SuperviseMode] = DEFAULT_CODES) -> None:
        self._users = frozenset(users)
        self._numbers = dict(numbers or {})
        self._agents = frozenset(agents)
        self._codes = tuple(sorted(codes.items(), key=lambda c: -len(c[0])))  # longest first
        for number in self._numbers:
            chain(number, self._numbers)

    @classmethod
    def from_config(cls, config: SwitchConfig) -> Dialplan:
        """The dial plan of ``config``: its users, numbers, agents and supervision codes."""
        return cls(users=config.users, numbers=config.dialplan.numbers, agents=config.agents,
                   codes=config.supervision.codes)

    def resolve(self, number: str, *, caller: str | None = None) -> Target | None:
        """What dialling ``number`` reaches, or ``None`` (404).  ``caller``: who dials (the
        authenticated user), for codes that depend on it: nobody supervises itself."""
        final = chain(number, self._numbers)[-1]
        target = self._numbers.get(final)
        if target is not None and not isinstance(target, NumberTarget):
            return target
        if final in self._users:
            return UserTarget(final)
        for prefix, mode in self._codes:
            agent = final[len(prefix):]
            if final.startswith(prefix) and agent in self._agents and agent != caller:
                return SuperviseTarget(mode, agent)
        return None


def chain(number: str, numbers: Mapping[str, Target]) -> tuple[str, ...]:
    """The numbers dialling ``number`` passes through: itself, then the number of each
    ``transfer:NUMBER`` entry of ``numbers`` it leads to.  TargetError when they loop."""
    seen = [number]
    target = numbers.get(number)
    while isinstance(target, NumberTarget):
        if target.number in seen:
            loop = " -> ".join((*seen[seen.index(target.number):], target.number))
            raise TargetError(f"transfer loop: {loop}")
        seen.append(target.number)
        target = numbers.get(target.number)
    return tuple(seen)
