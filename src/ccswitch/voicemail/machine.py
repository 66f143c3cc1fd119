"""What every voicemail machine shares (pure): the actions queued for the shell, one play at a
time with its id, and one deadline.

``Deposit``, ``Retrieval`` and ``GreetingRecorder`` derive from :class:`PromptMachine`: the
shell drains ``actions()``, calls ``handle_timer`` at ``next_deadline()`` and reports a play's
end with its id; a machine asks ``_ended_play(play_id)`` whether that was its current play, and
``_due(now)`` whether its deadline has come (each answers True once).  A machine running
inside another (the greeting recorder inside ``*97``) takes its play ids from the outer one
so that they never collide.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from .actions import Play, StopPlay, VoicemailAction


class PromptMachine:
    """Actions, the current play and the deadline of one voicemail machine."""

    def __init__(self, next_play_id: Callable[[], int] | None = None) -> None:
        self._actions: list[VoicemailAction] = []
        self._playing: int | None = None
        self._deadline: float | None = None
        self._next_play_id: Callable[[], int] = (
            itertools.count(1).__next__ if next_play_id is None else next_play_id)

    def actions(self) -> list[VoicemailAction]:
        """What to do and report since the last call, in order."""
        out, self._actions = self._actions, []
        return out

    def next_deadline(self) -> float | None:
        return self._deadline

    def _ended_play(self, play_id: int) -> bool:
        """Whether ``play_id`` is the current play (which is then over)."""
        if play_id != self._playing:
            return False
        self._playing = None
        return True

    def _due(self, now: float) -> bool:
        """Whether the deadline has come (it is then cleared)."""
        if self._deadline is None or now < self._deadline:
            return False
        self._deadline = None
        return True

    def _stop_play(self) -> None:
        if self._playing is not None:
            self._actions.append(StopPlay(self._playing))
            self._playing = None

    def _play(self, items: tuple[str, ...]) -> None:
        """Stop what plays, then play ``items`` as a new play."""
        self._stop_play()
        self._playing = self._next_play_id()
        self._actions.append(Play(self._playing, items))
