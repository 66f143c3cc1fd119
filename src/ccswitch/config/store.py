"""``[store]`` (pure): where CDRs, queue events, registrations, recordings rows, the event log
and voicemail rows are kept (``docs/storage.md``).

```toml
[store]
dsn = "postgresql://ccswitch@db.example.com:5432/ccswitch"   # optional
```
Without ``dsn`` everything is in SQLite, ``DATA_DIR/ccswitch.db`` (the default).  With it, the
same tables are in that PostgreSQL database; the password is best left out of the file (libpq
reads ``PGPASSWORD`` or ``~/.pgpass``).  ``--store-dsn`` on the command line overrides it.
Part of the configuration parser: every fault goes through ``_Parser.fail`` with its key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import Path, _Parser

DSN = re.compile(r"postgres(ql)?://[^\s]*")
"""A PostgreSQL URI (libpq's ``postgresql://[user[:password]@][host][:port][/dbname][?...]``)."""


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """``dsn`` ``None``: SQLite in the data dir."""

    dsn: str | None = None


def check_dsn(text: str) -> str | None:
    """What is wrong with ``text`` as a DSN (``None``: nothing)."""
    if not DSN.fullmatch(text):
        return f"{text[:40]!r} is not a PostgreSQL URI (postgresql://user@host:port/database)"
    return None


def parse_store(p: _Parser, value: object, path: Path) -> StoreConfig:
    """The ``[store]`` table."""
    t = p.table(value, path)
    p.check_keys(t, tuple(f.name for f in fields(StoreConfig)), path)
    if "dsn" not in t:
        return StoreConfig()
    dsn = p.string(t["dsn"], (*path, "dsn"))
    fault = check_dsn(dsn)
    if fault:
        p.fail((*path, "dsn"), fault)
    return StoreConfig(dsn=dsn)
