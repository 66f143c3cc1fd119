"""An IVR flow attached to a call the switch answered: the glue between a ``FlowRunner`` and
the media worker carrying the caller's leg (pure).

Prompts of one ``StartPlay`` are played one after the other by a ``LegPlayer``
(``call/legplayer.py``, shared with voicemail); digits and play ends come back from the worker
(``on_digit``, ``on_play_done``).  What the flow hands over (queue, transfer, hang up) is
returned by ``pump`` for the B2BUA to carry out.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ..ivr.flow import CancelPlay, FlowDone, FlowRunner, HandOff, Sensitive, StartPlay
from ..media.commands import Detect, PlayDone
from .anchor import CallMedia
from .legplayer import LegPlayer

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
        self._player = LegPlayer(call_id=call_id, media=media, path=prompt_path)
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
        done = self._player.on_play_done(ev)
        if done is None:
            return []
        self.runner.on_play_done(done, now)
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
        self._player.stop()

    def pump(self, now: float) -> list[HandOff]:
        """Carry out the runner's actions; returns what it hands over to the B2BUA."""
        out: list[HandOff] = []
        for action in self.runner.actions():
            if isinstance(action, StartPlay):
                if not self._player.play(action.play_id, action.prompts):
                    self.runner.on_play_done(action.play_id, now)
            elif isinstance(action, CancelPlay):
                if self._player.playing(action.play_id):
                    self._player.stop()
            elif isinstance(action, Sensitive):
                self._on_sensitive(action.menu, now)
            elif isinstance(action, HandOff):
                self._player.stop()
                out.append(action)
            else:
                self._player.stop()
                self.finished = action
                if action.error:
                    log.error("ivr_flow_failed", call_id=self.call_id, error=action.error)
        return out

