"""Leaving a message: greeting, beep, recording, then keep or discard it (pure, table-driven).

The caller hears the box's greeting (its recorded file, or the default spoken one), then a
beep, then is recorded until ``#``, hang-up, ``silence_seconds`` of silence or
``max_seconds``.  ``#`` during the greeting skips to the beep.  A recording shorter than
``min_seconds`` once the trailing silence is taken off is discarded
(``RecordingDiscarded``), else ``MessageKept`` and ``MailboxChanged`` are emitted (the shell
stores the row, then updates the lamps).  A caller still on the line then hears
``vm/saved`` (when kept) and ``goodbye``, and is hung up.

Inputs: ``start``, ``digit``, ``prompt_ended``, ``recording_ended``, ``hangup`` and
``handle_timer`` at ``next_deadline()`` (a guard: if the media never reports the recording's
end, it is stopped ``GRACE`` seconds after ``max_seconds``, and discarded as ``lost`` if no end
comes ``GRACE`` seconds after the stop).  ``actions()`` drains what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from .actions import (
    HangUp,
    MailboxChanged,
    MessageKept,
    RecordingDiscarded,
    StartRecording,
    StopRecording,
)
from .machine import PromptMachine

DEFAULT_GREETING = ("leave-message",)
"""What a box without a recorded greeting says (then the beep)."""
BEEP = "vm/beep"
GRACE = 5.0
"""Seconds the machine waits for the media beyond what it asked before giving up."""


@dataclass(frozen=True, slots=True)
class DepositSettings:
    max_seconds: float = 180.0
    min_seconds: float = 1.0
    silence_seconds: float = 5.0  # 0: silence does not end a recording


class DepositState(Enum):
    IDLE = "idle"
    GREETING = "greeting"
    BEEP = "beep"
    RECORDING = "recording"
    SAVING = "saving"  # stopped by us, waiting for the media's end report
    SAVING_GONE = "saving_gone"  # the same, the caller has hung up
    CLOSING = "closing"  # saying goodbye
    DONE = "done"


class DepositInput(Enum):
    START = "start"
    HASH = "# pressed"
    PROMPT_ENDED = "the current play ended"
    RECORDING_ENDED = "the media reported the recording's end"
    HANGUP = "the caller hung up"
    TIMEOUT = "the guard deadline passed"


class Do(Enum):
    PLAY_GREETING = "play the greeting"
    SKIP_GREETING = "stop the greeting, play the beep"
    PLAY_BEEP = "play the beep"
    RECORD = "start recording"
    STOP = "stop recording"
    FINISH = "keep or discard, then say goodbye"
    FINISH_GONE = "keep or discard (nobody to tell)"
    LOST = "discard as lost, say goodbye"
    LOST_GONE = "discard as lost"
    HANG_UP = "hang up"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class DepositEdge:
    do: Do
    next: DepositState


_S = DepositState
_I = DepositInput


def _e(do: Do, nxt: DepositState) -> DepositEdge:
    return DepositEdge(do, nxt)


DEPOSIT_TABLE: Mapping[tuple[DepositState, DepositInput], DepositEdge] = MappingProxyType({
    (_S.IDLE, _I.START): _e(Do.PLAY_GREETING, _S.GREETING),
    (_S.IDLE, _I.HANGUP): _e(Do.NOTHING, _S.DONE),
    (_S.GREETING, _I.PROMPT_ENDED): _e(Do.PLAY_BEEP, _S.BEEP),
    (_S.GREETING, _I.HASH): _e(Do.SKIP_GREETING, _S.BEEP),
    (_S.GREETING, _I.HANGUP): _e(Do.NOTHING, _S.DONE),
    (_S.BEEP, _I.PROMPT_ENDED): _e(Do.RECORD, _S.RECORDING),
    (_S.BEEP, _I.HASH): _e(Do.NOTHING, _S.BEEP),
    (_S.BEEP, _I.HANGUP): _e(Do.NOTHING, _S.DONE),
    (_S.RECORDING, _I.HASH): _e(Do.STOP, _S.SAVING),
    (_S.RECORDING, _I.TIMEOUT): _e(Do.STOP, _S.SAVING),
    (_S.RECORDING, _I.HANGUP): _e(Do.STOP, _S.SAVING_GONE),
    (_S.RECORDING, _I.RECORDING_ENDED): _e(Do.FINISH, _S.CLOSING),
    (_S.SAVING, _I.RECORDING_ENDED): _e(Do.FINISH, _S.CLOSING),
    (_S.SAVING, _I.HASH): _e(Do.NOTHING, _S.SAVING),
    (_S.SAVING, _I.HANGUP): _e(Do.NOTHING, _S.SAVING_GONE),
    (_S.SAVING, _I.TIMEOUT): _e(Do.LOST, _S.CLOSING),
    (_S.SAVING_GONE, _I.RECORDING_ENDED): _e(Do.FINISH_GONE, _S.DONE),
    (_S.SAVING_GONE, _I.TIMEOUT): _e(Do.LOST_GONE, _S.DONE),
    (_S.CLOSING, _I.PROMPT_ENDED): _e(Do.HANG_UP, _S.DONE),
    (_S.CLOSING, _I.HASH): _e(Do.NOTHING, _S.CLOSING),
    (_S.CLOSING, _I.HANGUP): _e(Do.NOTHING, _S.DONE),
    (_S.DONE, _I.HANGUP): _e(Do.NOTHING, _S.DONE),
    (_S.DONE, _I.HASH): _e(Do.NOTHING, _S.DONE),
    (_S.DONE, _I.PROMPT_ENDED): _e(Do.NOTHING, _S.DONE),
})
"""``(state, input) -> edge``; an input with no entry is ignored (a late report)."""


class Deposit(PromptMachine):
    """One caller leaving a message in ``box``, recorded into ``file`` (the shell's name)."""

    def __init__(self, *, box: str, caller: str, file: str,
                 settings: DepositSettings = DepositSettings(),
                 greeting: str | None = None) -> None:
        super().__init__()
        self.box = box
        self.caller = caller
        self.file = file
        self.settings = settings
        self.greeting: tuple[str, ...] = (greeting,) if greeting else DEFAULT_GREETING
        self.state = DepositState.IDLE
        self.kept: MessageKept | None = None
        self._started = 0.0  # when recording began (wall clock of the shell's choosing)
        self._ended: tuple[float, str] | None = None

    # -- the shell's side ----------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state is DepositState.DONE

    def start(self, now: float) -> None:
        self._step(DepositInput.START, now)

    def digit(self, key: str, now: float) -> None:
        """Only ``#`` means something here; other keys are ignored."""
        if key == "#":
            self._step(DepositInput.HASH, now)

    def prompt_ended(self, play_id: int, now: float) -> None:
        if self._ended_play(play_id):
            self._step(DepositInput.PROMPT_ENDED, now)

    def recording_ended(self, seconds: float, reason: str, now: float) -> None:
        self._ended = (max(0.0, seconds), reason)
        self._step(DepositInput.RECORDING_ENDED, now)

    def hangup(self, now: float) -> None:
        self._step(DepositInput.HANGUP, now)

    def handle_timer(self, now: float) -> None:
        if self._due(now):
            self._step(DepositInput.TIMEOUT, now)

    # -- the table ---------------------------------------------------------------------
    def _step(self, inp: DepositInput, now: float) -> None:
        edge = DEPOSIT_TABLE.get((self.state, inp))
        if edge is None:
            return
        self.state = edge.next
        do = edge.do
        if do is Do.PLAY_GREETING:
            self._play(self.greeting)
        elif do is Do.SKIP_GREETING:
            self._play((BEEP,))  # stops the greeting
        elif do is Do.PLAY_BEEP:
            self._play((BEEP,))
        elif do is Do.RECORD:
            self._started = now
            s = self.settings
            self._actions.append(StartRecording(self.file, s.max_seconds, s.silence_seconds))
            self._deadline = now + s.max_seconds + GRACE
        elif do is Do.STOP:
            self._actions.append(StopRecording(self.file))
            self._deadline = now + GRACE
        elif do in (Do.FINISH, Do.FINISH_GONE):
            self._deadline = None
            kept = self._finish()
            if do is Do.FINISH:
                self._play(("vm/saved", "goodbye") if kept else ("goodbye",))
        elif do in (Do.LOST, Do.LOST_GONE):
            self._actions.append(RecordingDiscarded(self.box, self.file, "lost"))
            if do is Do.LOST:
                self._play(("goodbye",))
        elif do is Do.HANG_UP:
            self._actions.append(HangUp())
        if self.state is DepositState.DONE:
            self._deadline = None

    def _finish(self) -> bool:
        assert self._ended is not None
        seconds, reason = self._ended
        if reason == "failed":
            self._actions.append(RecordingDiscarded(self.box, self.file, "failed"))
            return False
        if reason == "silence":
            seconds = max(0.0, seconds - self.settings.silence_seconds)
        if seconds < self.settings.min_seconds:
            self._actions.append(RecordingDiscarded(self.box, self.file, "too_short"))
            return False
        self.kept = MessageKept(self.box, self.caller, self._started, seconds, self.file)
        self._actions += [self.kept, MailboxChanged(self.box)]
        return True
