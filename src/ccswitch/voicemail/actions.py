"""What the voicemail machines ask of the call, and what they report (frozen dataclasses).

A ``Play`` item is a prompt name (``vm/options``, ``digits/3``) or an absolute file path (a
recorded message or greeting): the same two forms as any prompt value of the configuration
(``config/audio.py``).  Each play has an id; the shell reports its end with
``prompt_ended(play_id, now)``, including after a ``StopPlay``.  A ``StartRecording`` ends with
``recording_ended(seconds, reason, now)``, once, whoever stopped it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``items`` one after the other as play ``play_id`` (keys interrupt it)."""

    play_id: int
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StopPlay:
    play_id: int


@dataclass(frozen=True, slots=True)
class StartRecording:
    """Record the caller into ``file``; the media ends it after ``max_seconds`` or after
    ``silence_seconds`` of silence (0: never) and reports how long it ran."""

    file: str
    max_seconds: float
    silence_seconds: float


@dataclass(frozen=True, slots=True)
class StopRecording:
    file: str


@dataclass(frozen=True, slots=True)
class HangUp:
    pass


@dataclass(frozen=True, slots=True)
class MessageKept:
    """A deposited message to store: ``duration`` already without trailing silence."""

    box: str
    caller: str
    received: float
    duration: float
    file: str


@dataclass(frozen=True, slots=True)
class RecordingDiscarded:
    """The recording ``file`` is not kept (``reason``: too_short, failed, lost; for a
    greeting also redo, cancelled, hangup).  ``finished``: the media is known to be done
    with the file (it was played back), so it may go at once."""

    box: str
    file: str
    reason: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class GreetingKept:
    """The recording ``file`` becomes ``box``'s greeting."""

    box: str
    file: str


@dataclass(frozen=True, slots=True)
class SaveMessage:
    """Move a message from new to saved (heard, or saved with the key)."""

    box: str
    message_id: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    box: str
    message_id: str


@dataclass(frozen=True, slots=True)
class MailboxChanged:
    """The box's counts changed: update its message-waiting state."""

    box: str


VoicemailAction = (Play | StopPlay | StartRecording | StopRecording | HangUp | MessageKept
                   | RecordingDiscarded | GreetingKept | SaveMessage | DeleteMessage
                   | MailboxChanged)

RECORDING_END_REASONS = ("stopped", "silence", "max_length", "hangup", "failed")
"""How a recording ended, as the shell reports it."""
