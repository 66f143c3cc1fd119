"""Voicemail, the pure part: mailboxes, the deposit flow and the ``*97`` retrieval menu.

- :mod:`.mailbox`: messages and their order (new oldest first, then saved oldest first);
- :mod:`.actions`: what the machines ask of the call (play, record, hang up) and report;
- :mod:`.deposit`: greeting, beep, record, keep or discard (:class:`Deposit`);
- :mod:`.retrieve`: PIN, counts, play/next/previous/replay/delete/save (:class:`Retrieval`);
- :mod:`.greeting`: recording the box's own greeting from ``*97`` (:class:`GreetingRecorder`).

No I/O and no clock: the time is a parameter, files are names the shell chose.  The wiring
into calls is described in ``docs/voicemail.md``.
"""

from .actions import (
    DeleteMessage,
    GreetingKept,
    HangUp,
    MailboxChanged,
    MessageKept,
    Play,
    RecordingDiscarded,
    SaveMessage,
    StartRecording,
    StopPlay,
    StopRecording,
    VoicemailAction,
)
from .deposit import Deposit, DepositSettings
from .greeting import GreetingSettings
from .mailbox import Folder, Mailbox, Message, ordered
from .retrieve import KEYS, Retrieval, RetrievalSettings

__all__ = [
    "KEYS",
    "DeleteMessage",
    "Deposit",
    "DepositSettings",
    "Folder",
    "GreetingKept",
    "GreetingSettings",
    "HangUp",
    "Mailbox",
    "MailboxChanged",
    "Message",
    "MessageKept",
    "Play",
    "RecordingDiscarded",
    "Retrieval",
    "RetrievalSettings",
    "SaveMessage",
    "StartRecording",
    "StopPlay",
    "StopRecording",
    "VoicemailAction",
    "ordered",
]
