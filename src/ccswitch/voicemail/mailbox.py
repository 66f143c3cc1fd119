"""A mailbox's messages and their order (pure model; ``store/voicemail.py`` persists it).

Order, everywhere a list is shown or played: new messages oldest to newest, then saved ones
oldest to newest (ties by id).  ``summary`` gives the message-waiting state of RFC 3842.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from ..sip.mwi import MessageSummary


class Folder(Enum):
    NEW = "new"  # not heard yet: lights the phone's lamp
    SAVED = "saved"  # heard or saved ("old" in RFC 3842 terms)


@dataclass(frozen=True, slots=True)
class Message:
    """One voice message: ``received`` in wall-clock seconds, ``duration`` in seconds,
    ``file`` the recording's name within the mailbox's directory."""

    id: str
    box: str
    caller: str
    received: float
    duration: float
    file: str
    folder: Folder = Folder.NEW


def ordered(messages: Iterable[Message]) -> list[Message]:
    """New first, oldest to newest, then saved, oldest to newest."""
    return sorted(messages, key=lambda m: (m.folder is not Folder.NEW, m.received, m.id))


class Mailbox:
    """The messages of one box, by id."""

    __slots__ = ("_messages", "name")

    def __init__(self, name: str, messages: Iterable[Message] = ()) -> None:
        self.name = name
        self._messages = {m.id: m for m in messages}

    def messages(self) -> list[Message]:
        return ordered(self._messages.values())

    def get(self, message_id: str) -> Message | None:
        return self._messages.get(message_id)

    def counts(self) -> tuple[int, int]:
        """(new, saved)."""
        new = sum(m.folder is Folder.NEW for m in self._messages.values())
        return new, len(self._messages) - new

    def summary(self, account: str | None = None) -> MessageSummary:
        new, saved = self.counts()
        return MessageSummary.voice(new, saved, account=account)

    def add(self, message: Message) -> None:
        assert message.box == self.name and message.id not in self._messages
        self._messages[message.id] = message

    def save(self, message_id: str) -> bool:
        """Move a message to the saved folder; False when there is no such message."""
        m = self._messages.get(message_id)
        if m is None:
            return False
        self._messages[message_id] = replace(m, folder=Folder.SAVED)
        return True

    def delete(self, message_id: str) -> bool:
        return self._messages.pop(message_id, None) is not None

    def __len__(self) -> int:
        return len(self._messages)
