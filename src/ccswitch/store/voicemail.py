"""Voice messages on disk: a file each under ``DATA_DIR/voicemail/BOX/`` and a row each (SQLite
or PostgreSQL, see ``db``: caller, time, duration, folder new/saved).

Like the CDR store, it is opened on the writer thread's connection (``Writer.open``) and its
writing methods run in writer jobs, so a message's row is committed before the ``done``
callback tells the switch (which then updates the message-waiting lamps).  File removal
happens in the same job as the row's.  ``root`` is ``DATA_DIR/voicemail``.

The life of a message: ``new_message(box)`` gives its id and the path to record into; the
deposit machine (``ccswitch.voicemail.Deposit``) records it and reports ``MessageKept`` (then
``add``) or ``RecordingDiscarded`` (then ``discard``).  ``save`` moves a message from new to
saved, ``delete`` removes row and file.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from pathlib import Path

from ..voicemail import Folder, Message, MessageKept, ordered
from .db import Db, Step, migrate

SCHEMA = """
CREATE TABLE IF NOT EXISTS voicemail (
  id TEXT PRIMARY KEY, box TEXT NOT NULL, caller TEXT NOT NULL, received DOUBLE PRECISION NOT NULL,
  duration DOUBLE PRECISION NOT NULL, file TEXT NOT NULL, folder TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS voicemail_box ON voicemail (box, folder);
"""
MIGRATIONS: tuple[Step, ...] = (SCHEMA,)
_COLUMNS = "id, box, caller, received, duration, file, folder"
_BOX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
EXTENSION = ".wav"


class VoicemailStoreError(ValueError):
    """A box name that cannot be a directory (API misuse: names come from the config)."""


def _row(r: tuple[str, str, str, float, float, str, str]) -> Message:
    return Message(r[0], r[1], r[2], r[3], r[4], r[5], Folder(r[6]))


class VoicemailStore:
    """Messages of every mailbox; times are wall-clock seconds."""

    def __init__(self, db: Path | str | Db | sqlite3.Connection, root: Path) -> None:
        """Open the file (or DSN) ``db``, or use a connection (the writer thread's, see
        writer.py); the schema is migrated to this version."""
        self._db = Db.wrap(db)
        migrate(self._db, "voicemail", MIGRATIONS)
        self.root = root

    def box_dir(self, box: str) -> Path:
        if not _BOX.fullmatch(box) or box in (".", ".."):
            raise VoicemailStoreError(f"bad mailbox name {box!r}")
        return self.root / box

    def new_message(self, box: str) -> tuple[str, Path]:
        """A fresh message id and the file to record it into (its directory created)."""
        d = self.box_dir(box)
        d.mkdir(parents=True, exist_ok=True)
        while True:
            message_id = secrets.token_hex(8)
            path = d / f"{message_id}{EXTENSION}"
            if not path.exists():
                return message_id, path

    def path(self, message: Message) -> Path:
        return self.box_dir(message.box) / message.file

    def add(self, message_id: str, kept: MessageKept, *, wall_offset: float = 0.0) -> Message:
        """Store a kept message (``kept.file`` may be a path: only its name is kept)."""
        msg = Message(message_id, kept.box, kept.caller, kept.received + wall_offset,
                      kept.duration, Path(kept.file).name, Folder.NEW)
        self.box_dir(msg.box)  # checks the name
        self._db.execute(f"INSERT INTO voicemail ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                         (msg.id, msg.box, msg.caller, msg.received, msg.duration, msg.file,
                          msg.folder.value))
        return msg

    def discard(self, box: str, file: str) -> None:
        """Remove a recording that did not become a message."""
        (self.box_dir(box) / Path(file).name).unlink(missing_ok=True)

    def get(self, message_id: str) -> Message | None:
        r = self._db.execute(f"SELECT {_COLUMNS} FROM voicemail WHERE id = ?",
                             (message_id,)).fetchone()
        return None if r is None else _row(r)

    def messages(self, box: str) -> list[Message]:
        """The box's messages in mailbox order (new oldest first, then saved)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM voicemail WHERE box = ?",
                                (box,)).fetchall()
        return ordered(_row(r) for r in rows)

    def counts(self, box: str) -> tuple[int, int]:
        """(new, saved)."""
        got = dict(self._db.execute(
            "SELECT folder, COUNT(*) FROM voicemail WHERE box = ? GROUP BY folder",
            (box,)).fetchall())
        return got.get(Folder.NEW.value, 0), got.get(Folder.SAVED.value, 0)

    def boxes(self) -> list[str]:
        """Boxes holding at least one message."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT box FROM voicemail ORDER BY box").fetchall()]

    def save(self, message_id: str) -> bool:
        """Move a message to saved; False when there is no such message."""
        cur = self._db.execute("UPDATE voicemail SET folder = ? WHERE id = ?",
                               (Folder.SAVED.value, message_id))
        return cur.rowcount > 0

    def delete(self, message_id: str) -> bool:
        """Remove the row and the file; False when there is no such message."""
        msg = self.get(message_id)
        if msg is None:
            return False
        self._db.execute("DELETE FROM voicemail WHERE id = ?", (message_id,))
        self.path(msg).unlink(missing_ok=True)
        return True

    def close(self) -> None:
        self._db.close()
