"""An IVR flow attached to a call the switch answered: the glue between a ``FlowRunner`` and
the media worker carrying the caller's leg (pure).

Prompts of one ``StartPlay`` are played one after the other (a ``Play`` per file, the next one
when the worker reports the previous done); digits and play ends come back from the worker
(``on_digit``, ``on_play_done``).  What the flow hands over (queue, transfer, hang up) is
returned by ``pump`` for the B2BUA to carry out.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ..ivr.flow import CancelPlay, FlowDone, FlowRunner, HandOff, Sensitive, StartPlay
from ..media.commands import Detect, Play, PlayDone, PlayFile, StopPlay
from .anchor import CallMedia

log = structlog.get_logger()

PromptPath = Callable[[str], str]
OnSensitive = Callable[[str | None, float], None]


class IvrSession:
    """One running flow on leg ``a`` of ``media``; ``on_sensitive(menu, now)`` hears when the
    flow enters (a menu's name) or leaves (``None``) a sensitive menu."""

    def __init__(self, *, call_id: str, runner: FlowRunner, media: CallMedia,
                 prompt_path: PromptPath,
                 on_sensitive: OnSensitive = lambda menu, now: None) -> None:
        self.call_id = call_id
        self._on_sensitive = on_sensitive
        self.runner = runner
        self.media = media
        self._prompt_path = prompt_path
        self._queue: list[str] = []  # prompts still to play for the flow's current play
        self._flow_play: int | None = None
        self._media_play: int | None = None
        self.finished: FlowDone | None = None

    @property
    def leg(self) -> int:
        return self.media.leg("a")

    def start(self, now: float) -> list[HandOff]:
        self.media.plan.send(self.media.worker, Detect(self.leg, inband=True))
        self.runner.start(now)
        return self.pump(now)

    def on_digit(self, key: str, now: float) -> list[HandOff]:
        self.runner.on_digit(key, now)
        return self.pump(now)

    def on_play_done(self, ev: PlayDone, now: float) -> list[HandOff]:
        if ev.play_id != self._media_play:
            return []
        self._media_play = None
        if ev.reason == "error":
            log.warning("prompt_failed", call_id=self.call_id, leg=ev.leg)
        if ev.reason in ("end", "error") and self._queue:
            self._play_next()
            return []
        if ev.reason in ("end", "error") and self._flow_play is not None:
            pid, self._flow_play = self._flow_play, None
            self.runner.on_play_done(pid, now)
        return self.pump(now)

    def on_timer(self, now: float) -> list[HandOff]:
        self.runner.on_timer(now)
        return self.pump(now)

    def on_result(self, result: str, now: float) -> list[HandOff]:
        self.runner.on_result(result, now)
        return self.pump(now)

    def next_deadline(self) -> float | None:
        return self.runner.next_deadline()

    def hangup(self, now: float) -> None:
        self.runner.on_hangup(now)
        self._stop()

    def pump(self, now: float) -> list[HandOff]:
        """Carry out the runner's actions; returns what it hands over to the B2BUA."""
        out: list[HandOff] = []
        for action in self.runner.actions():
            if isinstance(action, StartPlay):
                self._stop()
                self._flow_play = action.play_id
                self._queue = list(action.prompts)
                if self._queue:
                    self._play_next()
                else:
                    self.runner.on_play_done(action.play_id, now)
            elif isinstance(action, CancelPlay):
                if action.play_id == self._flow_play:
                    self._stop()
            elif isinstance(action, Sensitive):
                self._on_sensitive(action.menu, now)
            elif isinstance(action, HandOff):
                self._stop()
                out.append(action)
            else:
                self._stop()
                self.finished = action
                if action.error:
                    log.error("ivr_flow_failed", call_id=self.call_id, error=action.error)
        return out

    def _play_next(self) -> None:
        name = self._queue.pop(0)
        plan = self.media.plan
        self._media_play = plan.next_id()
        plan.send(self.media.worker, Play(self.leg, self._media_play,
                                          PlayFile(self._prompt_path(name))))

    def _stop(self) -> None:
        self._queue = []
        self._flow_play = None
        if self._media_play is not None:
            self.media.plan.send(self.media.worker, StopPlay(self.leg, self._media_play))
            self._media_play = None
