"""Voicemail on calls (pure): the mailboxes the switch holds, and a deposit or ``*97``
retrieval machine (``ccswitch.voicemail``) run on the caller's anchored leg.

:class:`Voicemail` is the switch's view of every mailbox: the configured boxes, their messages
(restored from the store at start, then kept up to date by the machines), the message-waiting
notifier (``sip/mwi.py``) told of every change, and the events the shell persists
(:class:`VoicemailStored`, :class:`VoicemailDiscarded`, :class:`VoicemailSaved`,
:class:`VoicemailDeleted`: rows and files through ``store/voicemail.py``).  Those events are
emitted before the call's ``CallEnded``, so the writer commits the message's row before the
call's CDR.

:class:`VoicemailSession` runs one machine the way ``call/ivr.py`` runs a flow, with the same
methods, so the call layer drives it as a call's ``ivr``: media events (digits, play ends) go
in, the machine's actions become media-worker commands.  Recording uses the worker's recorder
(one channel: the caller); its length is the session's to measure: ``#``, hang-up and
``max_length`` stop it, and the session reports the end to the machine at once (the worker
finishes the file on its own).  ``silence`` seconds of quiet end it too: the worker watches
the recording (``StartRecord.silence_s``), reports ``RecordSilence`` and cuts the file where
the quiet began.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from ..config.voicemail import MailboxConfig, VoicemailConfig
from ..ivr.flow import HandOff
from ..media.commands import Detect, PlayDone, StartRecord, StopRecord
from ..sip.mwi import MessageSummary, MwiNotifier
from ..voicemail import (
    DeleteMessage,
    Deposit,
    GreetingKept,
    HangUp,
    Mailbox,
    MailboxChanged,
    Message,
    MessageKept,
    RecordingDiscarded,
    Retrieval,
    SaveMessage,
    StartRecording,
    StopRecording,
)
from ..voicemail import Play as VmPlay
from ..voicemail import StopPlay as VmStopPlay
from .anchor import CallMedia
from .legplayer import LegPlayer

log = structlog.get_logger()

VOICEMAIL_CODE = "*97"
"""Dialled from a user's own phone: that user's mailbox menu (PIN asked)."""
DIVERT_STATUSES = frozenset({486, 600, 408, 480})
"""Failures of every contact of a user that send the caller to the user's mailbox: busy
(486, 600), and no answer (408, 480: a contact that timed out or declined to ring)."""


@dataclass(frozen=True, slots=True)
class VoicemailStored:
    """A message to store: its row (``received`` on the loop clock) and its file."""

    call_id: str
    message_id: str
    box: str
    caller: str
    received: float
    duration: float
    file: str


@dataclass(frozen=True, slots=True)
class VoicemailDiscarded:
    """A recording that is not kept (``reason``: too_short, failed, lost…): its file goes,
    once the worker has finished it (at once when ``finished``)."""

    call_id: str
    box: str
    file: str
    reason: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class VoicemailGreeting:
    """The recording ``file`` (in the box's directory) becomes ``box``'s greeting."""

    call_id: str
    box: str
    file: str


@dataclass(frozen=True, slots=True)
class VoicemailSaved:
    box: str
    message_id: str


@dataclass(frozen=True, slots=True)
class VoicemailDeleted:
    box: str
    message_id: str


VoicemailEvent = (VoicemailStored | VoicemailDiscarded | VoicemailGreeting | VoicemailSaved
                  | VoicemailDeleted)
Emit = Callable[[VoicemailEvent], None]


class Voicemail:
    """Every mailbox of the switch, their messages and their message-waiting state.

    ``box_dir(box)`` is the shell's directory of a box's files (it exists); ``new_id()`` a
    fresh message id; ``emit`` takes the events to persist."""

    def __init__(self, *, config: VoicemailConfig, box_dir: Callable[[str], str],
                 new_id: Callable[[], str], emit: Emit, domain: str,
                 recorded_greeting: Callable[[str], str | None] = lambda box: None) -> None:
        """``recorded_greeting(box)``: the box's recorded greeting file, if it has one."""
        self.config = config
        self._recorded_greeting = recorded_greeting
        self.box_dir = box_dir
        self._new_id = new_id
        self._emit = emit
        self.boxes: dict[str, Mailbox] = {name: Mailbox(name) for name in config.mailboxes}
        self.mwi = MwiNotifier(account={name: f"sip:{name}@{domain}"
                                        for name in config.mailboxes})
        self.mwi.set_max_expires(config.settings.mwi_max_expires)

    def has(self, box: str) -> bool:
        return box in self.boxes

    def mailbox(self, box: str) -> MailboxConfig:
        return self.config.mailboxes[box]

    def restore(self, messages: Iterable[Message], now: float) -> None:
        """The stored messages (times already on the loop clock); lamps set from them."""
        for m in messages:
            box = self.boxes.get(m.box)
            if box is not None and box.get(m.id) is None:
                box.add(m)
        for name in self.boxes:
            self.changed(name, now)

    def summary(self, box: str) -> MessageSummary:
        return self.boxes[box].summary()

    def changed(self, box: str, now: float) -> None:
        """Tell the lamps the box's counts."""
        if box in self.boxes:
            self.mwi.update(box, self.boxes[box].summary(), now)

    def full(self, box: str) -> bool:
        return len(self.boxes[box]) >= self.config.settings.max_messages

    def deposit(self, box: str, caller: str) -> tuple[str, Deposit]:
        """A new message's id and the machine that records it."""
        message_id = self._new_id()
        file = f"{self.box_dir(box)}/{message_id}.wav"
        cfg = self.config.mailboxes[box]
        greeting = self._recorded_greeting(box) or cfg.greeting
        return message_id, Deposit(box=box, caller=caller, file=file,
                                   settings=self.config.settings.deposit(), greeting=greeting)

    def retrieval(self, box: str) -> Retrieval:
        def take() -> str:  # a new file for each greeting take, in the box's directory
            return f"{self.box_dir(box)}/greeting-{self._new_id()}.wav"

        return Retrieval(box=box, messages=self.boxes[box].messages(),
                         pin=self.config.mailboxes[box].pin,
                         settings=self.config.settings.retrieval(),
                         file_path=self.box_dir(box) + "/{file}",
                         greeting_file=take,
                         greeting=self.config.settings.greeting())

    # -- what the machines report ------------------------------------------------------
    def kept(self, call_id: str, message_id: str, kept: MessageKept) -> None:
        file = kept.file.rpartition("/")[2]
        self.boxes[kept.box].add(Message(message_id, kept.box, kept.caller, kept.received,
                                         kept.duration, file))
        self._emit(VoicemailStored(call_id, message_id, kept.box, kept.caller, kept.received,
                                   kept.duration, kept.file))
        log.info("voicemail_kept", call_id=call_id, box=kept.box, message=message_id,
                 caller=kept.caller, duration=round(kept.duration, 2))

    def discarded(self, call_id: str, gone: RecordingDiscarded) -> None:
        self._emit(VoicemailDiscarded(call_id, gone.box, gone.file, gone.reason, gone.finished))
        log.info("voicemail_discarded", call_id=call_id, box=gone.box, reason=gone.reason)

    def greeting_kept(self, call_id: str, kept: GreetingKept) -> None:
        self._emit(VoicemailGreeting(call_id, kept.box, kept.file))
        log.info("voicemail_greeting_recorded", call_id=call_id, box=kept.box)

    def save(self, box: str, message_id: str) -> None:
        if box in self.boxes and self.boxes[box].save(message_id):
            self._emit(VoicemailSaved(box, message_id))
            log.info("voicemail_heard", box=box, message=message_id)

    def delete(self, box: str, message_id: str) -> None:
        if box in self.boxes and self.boxes[box].delete(message_id):
            self._emit(VoicemailDeleted(box, message_id))
            log.info("voicemail_deleted", box=box, message=message_id)


Machine = Deposit | Retrieval


class VoicemailSession:
    """A deposit or retrieval machine on leg ``a`` of ``media`` (the methods of
    ``IvrSession``: the call layer drives both alike)."""

    def __init__(self, *, call_id: str, machine: Machine, media: CallMedia,
                 prompt_path: Callable[[str], str], voicemail: Voicemail,
                 message_id: str = "") -> None:
        """``prompt_path`` finds a prompt's file; a message of the box (a file under its
        directory) is played as it is."""
        self.call_id = call_id
        files = voicemail.box_dir(machine.box) + "/"
        self.machine = machine
        self.media = media
        self.message_id = message_id
        self._vm = voicemail
        self._player = LegPlayer(call_id=call_id, media=media, path=lambda item: (
            item if item.startswith(files) else prompt_path(item)))
        self._rec: int | None = None
        self._rec_started = 0.0
        self._rec_until: float | None = None  # max length
        self.finished: object | None = None  # set when the machine hung up (or is done)

    @property
    def leg(self) -> int:
        return self.media.leg("a")

    # -- the IvrSession interface -------------------------------------------------------
    def start(self, now: float) -> list[HandOff]:
        self.media.plan.send(self.media.worker, Detect(self.leg, inband=True))
        self.machine.start(now)
        self._pump(now)
        return []

    def on_digit(self, key: str, now: float) -> list[HandOff]:
        self.machine.digit(key, now)
        self._pump(now)
        return []

    def on_play_done(self, ev: PlayDone, now: float) -> list[HandOff]:
        done = self._player.on_play_done(ev)
        if done is not None:
            self.machine.prompt_ended(done, now)
            self._pump(now)
        return []

    def on_timer(self, now: float) -> list[HandOff]:
        if self._rec_until is not None and now >= self._rec_until:
            self._stop_recording(now, "max_length")
        self.machine.handle_timer(now)
        self._pump(now)
        return []

    def on_result(self, result: str, now: float) -> list[HandOff]:
        return []

    def on_silence(self, rec_id: int, now: float) -> list[HandOff]:
        """The worker heard ``silence`` seconds of quiet on the recording: it ends (the
        worker cuts the file where the quiet began)."""
        if rec_id == self._rec:
            self._stop_recording(now, "silence")
            self._pump(now)
        return []

    def next_deadline(self) -> float | None:
        ds = [d for d in (self.machine.next_deadline(), self._rec_until) if d is not None]
        return min(ds) if ds else None

    def hangup(self, now: float) -> None:
        """The caller is gone: a recording running is stopped and kept (its events come
        before the call's end)."""
        self.machine.hangup(now)
        self._pump(now)
        self._player.stop()

    # -- the machine's actions ------------------------------------------------------------
    def _pump(self, now: float) -> None:
        for _ in range(100):  # a machine's reaction may ask for more (a recording's end)
            actions = self.machine.actions()
            if not actions:
                break
            for action in actions:
                self._do(action, now)
        if self.machine.done and self.finished is None:
            self.finished = True

    def _do(self, action: object, now: float) -> None:
        vm = self._vm
        if isinstance(action, VmPlay):
            if not self._player.play(action.play_id, action.items):
                self.machine.prompt_ended(action.play_id, now)
        elif isinstance(action, VmStopPlay):
            if self._player.playing(action.play_id):
                self._player.stop()
        elif isinstance(action, StartRecording):
            plan = self.media.plan
            self._rec = plan.next_id()
            self._rec_started = now
            self._rec_until = now + action.max_seconds
            level = vm.config.settings.silence_threshold
            plan.send(self.media.worker, StartRecord(self._rec, action.file, (self.leg,), "wav",
                                                     silence_s=action.silence_seconds,
                                                     silence_level=level))
            log.info("voicemail_recording", call_id=self.call_id, box=self.machine.box,
                     path=action.file)
        elif isinstance(action, StopRecording):
            self._stop_recording(now, "stopped")
        elif isinstance(action, HangUp):
            self._player.stop()
            self.finished = action
        elif isinstance(action, MessageKept):
            vm.kept(self.call_id, self.message_id, action)
        elif isinstance(action, RecordingDiscarded):
            vm.discarded(self.call_id, action)
        elif isinstance(action, GreetingKept):
            vm.greeting_kept(self.call_id, action)
        elif isinstance(action, SaveMessage):
            vm.save(action.box, action.message_id)
        elif isinstance(action, DeleteMessage):
            vm.delete(action.box, action.message_id)
        elif isinstance(action, MailboxChanged):
            vm.changed(action.box, now)

    def _stop_recording(self, now: float, reason: str) -> None:
        if self._rec is None:
            return
        self.media.plan.send(self.media.worker, StopRecord(self._rec))
        self._rec = None
        self._rec_until = None
        if isinstance(self.machine, Deposit) and self.machine.state.value == "saving_gone":
            reason = "hangup"
        self.machine.recording_ended(now - self._rec_started, reason, now)

