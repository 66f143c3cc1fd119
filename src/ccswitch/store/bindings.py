"""Registrations kept in the store (SQLite or PostgreSQL, see ``db``) so a restart keeps every
phone registered.

Expiry times are stored as wall-clock seconds; the switch converts to and from its
monotonic clock when it saves and restores.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..sip.addr import Address
from ..sip.registrar import Binding
from .db import Db, Step, migrate, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
  "user" TEXT NOT NULL, contact TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
  call_id TEXT NOT NULL, cseq INTEGER NOT NULL, transport TEXT NOT NULL,
  host TEXT NOT NULL, port INTEGER NOT NULL, q DOUBLE PRECISION NOT NULL,
  user_agent TEXT NOT NULL,
  PRIMARY KEY ("user", contact)
);
"""
MIGRATIONS: tuple[Step, ...] = (SCHEMA,)


class BindingStore:
    """Replace-per-user persistence of registrar bindings."""

    def __init__(self, db: Path | str | Db | sqlite3.Connection) -> None:
        """Open the file (or DSN) ``db``, or use a connection (the writer thread's, see
        writer.py); the schema is migrated to this version."""
        self._db = Db.wrap(db)
        migrate(self._db, "bindings", MIGRATIONS)

    def load(self) -> list[Binding]:
        rows = self._db.execute(
            "SELECT \"user\", contact, expires_at, call_id, cseq, transport, host, port, q,"
            " user_agent FROM bindings").fetchall()
        return [Binding(u, c, e, ci, cs, Address(t, h, p), q, ua)
                for u, c, e, ci, cs, t, h, p, q, ua in rows]

    def replace(self, changes: dict[str, tuple[Binding, ...]]) -> None:
        """Write the current bindings of each user in ``changes`` in one transaction."""
        with transaction(self._db) as db:
            for user, bindings in changes.items():
                db.execute("DELETE FROM bindings WHERE \"user\" = ?", (user,))
                db.executemany(
                    "INSERT INTO bindings VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(b.user, b.contact, b.expires_at, b.call_id, b.cseq, b.source.transport,
                      b.source.host, b.source.port, b.q, b.user_agent) for b in bindings])

    def close(self) -> None:
        self._db.close()
