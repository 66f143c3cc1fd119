"""Recording a mailbox's own greeting from ``*97`` (key ``0``), pure.

1. ``vm/record-greeting`` ("After the tone, say your greeting, then press pound") and the
   beep; ``*`` cancels.
2. The recording into a new file of the box's directory (``new_file()``, one per take),
   ended by ``#``,
   ``silence_seconds`` of silence or ``max_seconds``; shorter than ``min_seconds`` (silence
   aside): ``vm/greeting-too-short`` and step 1 again.
3. ``vm/your-greeting``, the recording, ``vm/greeting-options`` ("Press 1 to keep it, 2 to
   record it again, star to cancel"): ``1`` keeps it (``GreetingKept``: the shell makes it
   the box's greeting) and says ``vm/greeting-saved``; ``2`` records again; ``*`` or no key
   after the options said ``review_repeats`` + 1 times gives it up.

A recording that is not kept is reported as ``RecordingDiscarded`` (the shell removes the
file once the media has finished it), also when the caller hangs up.  ``done`` turns true at
the end; the ``*97`` menu (``retrieve.py``) then goes on with its options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .actions import GreetingKept, RecordingDiscarded, StartRecording, StopRecording
from .machine import PromptMachine

BEEP = "vm/beep"


@dataclass(frozen=True, slots=True)
class GreetingSettings:
    max_seconds: float = 60.0
    min_seconds: float = 1.0
    silence_seconds: float = 3.0
    review_timeout: float = 10.0
    review_repeats: int = 1


class GreetingState(Enum):
    INTRO = "intro"  # the instructions and the beep
    RECORDING = "recording"
    STOPPING = "stopping"  # stopped by us, waiting for the media's end report
    TOO_SHORT = "too_short"
    REVIEW = "review"  # the recording played back, then the choice
    SAVED = "saved"  # "greeting saved"
    GONE = "gone"  # the caller hung up while recording: waiting for the end report
    DONE = "done"


class GreetingRecorder(PromptMachine):
    """One greeting recording session (see the module docstring)."""

    def __init__(self, *, box: str, new_file: Callable[[], str],
                 next_play_id: Callable[[], int],
                 settings: GreetingSettings = GreetingSettings()) -> None:
        super().__init__(next_play_id)
        self.box = box
        self._new_file = new_file
        self.file = ""
        self.settings = settings
        self.state = GreetingState.INTRO
        self._asked = 0
        self._recorded = False  # the file holds a recording not yet kept or discarded

    # -- the shell's side ----------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state is GreetingState.DONE

    def start(self, now: float) -> None:
        self._intro()

    def digit(self, key: str, now: float) -> None:
        st = self.state
        if st is GreetingState.INTRO and key == "*":
            self._finish()
        elif st is GreetingState.RECORDING and key == "#":
            self.state = GreetingState.STOPPING
            self._actions.append(StopRecording(self.file))
        elif st is GreetingState.REVIEW:
            self._review_key(key)

    def prompt_ended(self, play_id: int, now: float) -> None:
        if not self._ended_play(play_id):
            return
        st = self.state
        if st is GreetingState.INTRO:
            self.state = GreetingState.RECORDING
            self.file = self._new_file()
            s = self.settings
            self._actions.append(StartRecording(self.file, s.max_seconds, s.silence_seconds))
        elif st is GreetingState.TOO_SHORT:
            self._intro()
        elif st is GreetingState.REVIEW:
            self._deadline = now + self.settings.review_timeout
        elif st is GreetingState.SAVED:
            self.state = GreetingState.DONE

    def recording_ended(self, seconds: float, reason: str, now: float) -> None:
        if self.state not in (GreetingState.RECORDING, GreetingState.STOPPING,
                              GreetingState.GONE):
            return
        self._recorded = True
        if self.state is GreetingState.GONE or reason in ("hangup", "failed"):
            self._finish("failed" if reason == "failed" else "hangup")
            return
        if reason == "silence":
            seconds = max(0.0, seconds - self.settings.silence_seconds)
        if seconds < self.settings.min_seconds:
            self._discard("too_short")
            self.state = GreetingState.TOO_SHORT
            self._play(("vm/greeting-too-short",))
            return
        self.state = GreetingState.REVIEW
        self._asked = 0
        self._play(("vm/your-greeting", self.file, "vm/greeting-options"))

    def hangup(self, now: float) -> None:
        self._deadline = None
        self._stop_play()
        if self.state is GreetingState.RECORDING:
            self.state = GreetingState.GONE
            self._actions.append(StopRecording(self.file))
        elif self.state is GreetingState.STOPPING:
            self.state = GreetingState.GONE
        elif self.state is not GreetingState.GONE:
            self._finish("hangup")

    def handle_timer(self, now: float) -> None:
        if not self._due(now):
            return
        if self.state is GreetingState.REVIEW:
            self._asked += 1
            if self._asked > self.settings.review_repeats:
                self._finish()
            else:
                self._play(("vm/greeting-options",))

    # -- steps ---------------------------------------------------------------------------
    def _review_key(self, key: str) -> None:
        self._deadline = None
        if key == "1":
            self._recorded = False
            self._actions.append(GreetingKept(self.box, self.file))
            self.state = GreetingState.SAVED
            self._play(("vm/greeting-saved",))
        elif key == "2":
            self._discard("redo", finished=True)
            self._intro()
        elif key == "*":
            self._finish()
        else:
            self._play(("invalid", "vm/greeting-options"))

    def _intro(self) -> None:
        self.state = GreetingState.INTRO
        self._play(("vm/record-greeting", BEEP))

    def _discard(self, reason: str, *, finished: bool = False) -> None:
        """Give the take up; ``finished``: it was played back, the media is done with it."""
        if self._recorded:
            self._recorded = False
            self._actions.append(RecordingDiscarded(self.box, self.file, reason, finished))

    def _finish(self, reason: str = "cancelled") -> None:
        self._stop_play()
        self._deadline = None
        self._discard(reason, finished=self.state is GreetingState.REVIEW)
        self.state = GreetingState.DONE
