"""A machine's plays on a call's leg ``a`` (pure): the glue an IVR flow and a voicemail
machine share.

A machine asks for a play (an id of its own and a list of prompt names or files); the worker
plays one file at a time, so ``LegPlayer`` sends a ``Play`` per item, the next one when the
worker reports the previous one ended (or failed: a missing prompt is logged and skipped), and
tells the session which machine play is over once its last item is.  ``stop`` ends what
plays (the machine stopped it, a key, a hand-over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from ..media.commands import Play, PlayDone, PlayFile, StopPlay
from .anchor import CallMedia

log = structlog.get_logger()


class LegPlayer:
    """Plays the items of one machine play after the other on leg ``a`` of ``media``;
    ``path(item)`` is the file to play for an item."""

    __slots__ = ("_current", "_media_play", "_queue", "call_id", "media", "path")

    def __init__(self, *, call_id: str, media: CallMedia, path: Callable[[str], str]) -> None:
        self.call_id = call_id
        self.media = media
        self.path = path
        self._queue: list[str] = []  # items still to play for the current machine play
        self._current: int | None = None  # the machine's play id
        self._media_play: int | None = None  # the worker's play id

    @property
    def leg(self) -> int:
        return self.media.leg("a")

    def play(self, play_id: int, items: Sequence[str]) -> bool:
        """Start machine play ``play_id`` (what played before stops); False when it has no
        item (the caller reports its end at once)."""
        self.stop()
        if not items:
            return False
        self._current = play_id
        self._queue = list(items)
        self._next()
        return True

    def on_play_done(self, ev: PlayDone) -> int | None:
        """The worker's report; the machine play id once its last item has ended, else
        None (another item started, a stop, or not ours)."""
        if ev.play_id != self._media_play:
            return None
        self._media_play = None
        if ev.reason == "error":
            log.warning("prompt_failed", call_id=self.call_id, leg=ev.leg)
        if ev.reason not in ("end", "error"):
            return None
        if self._queue:
            self._next()
            return None
        done, self._current = self._current, None
        return done

    def playing(self, play_id: int) -> bool:
        return self._current == play_id

    def stop(self) -> None:
        self._queue = []
        self._current = None
        if self._media_play is not None:
            self.media.plan.send(self.media.worker, StopPlay(self.leg, self._media_play))
            self._media_play = None

    def _next(self) -> None:
        item = self._queue.pop(0)
        plan = self.media.plan
        self._media_play = plan.next_id()
        plan.send(self.media.worker, Play(self.leg, self._media_play, PlayFile(self.path(item))))
