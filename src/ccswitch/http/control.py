"""What the HTTP layer needs from the switch, in one object the routes receive.

The switch builds one ``Control`` (``Switch.start``); the routes read the core through it and
carry out commands through ``command``, which flushes the core's outputs (SIP messages, media
commands, events, the timer) exactly as after a SIP input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from ..call.commands import Command, Done
from .auth import FailureGate, TokenTable

if TYPE_CHECKING:
    from ..call.signaling import Signaling
    from .metrics import Metrics


@dataclass(slots=True)
class Control:
    """The switch as the API sees it.

    ``signaling``: the core (``None`` before start and after stop); ``clock``: the loop's
    monotonic time (the core's ``now``); ``flush``: the switch's ``_after`` (send what the core
    queued, take its events, re-arm its timer); ``wall_offset``: wall time minus ``clock``;
    ``agent_queues``: every configured agent and its queues (scope checks)."""

    signaling: Callable[[], Signaling | None]
    clock: Callable[[], float]
    flush: Callable[[], None]
    tokens: TokenTable
    agent_queues: Mapping[str, tuple[str, ...]]
    gate: FailureGate = field(default_factory=FailureGate)
    wall_offset: Callable[[], float] = lambda: 0.0
    metrics: Metrics | None = None  # set by the switch (``/metrics`` serves it)
    extras: dict[str, object] = field(default_factory=dict)  # for routers added later
    # the worse live MOS of some media legs (None: not sampled yet; call/quality.py)
    live_mos: Callable[[Iterable[int]], float | None] = lambda legs: None

    def core(self) -> Signaling:
        """The running core; ``CoreUnavailable`` (503) when the switch is not running."""
        sig = self.signaling()
        if sig is None:
            raise CoreUnavailable
        return sig

    def command(self, cmd: Command) -> Done:
        """Carry out ``cmd`` now (``CommandError`` when refused), then flush the core."""
        sig = self.core()
        try:
            return sig.command(cmd, self.clock())
        finally:
            self.flush()


class CoreUnavailable(Exception):
    """The switch is starting or stopping: the API answers 503."""


def control_of(request: Request) -> Control:
    """The ``Control`` of the app serving ``request`` (a FastAPI dependency)."""
    ctl = request.app.state.control
    assert isinstance(ctl, Control)
    return ctl
