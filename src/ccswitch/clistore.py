"""``ccswitch store copy --from DATA_DIR --to DSN``: move a SQLite data dir's history to
PostgreSQL (``store/copy.py``); one line per table on stdout."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

EXIT_FAILED = 1
EXIT_USAGE = 2


def store_copy(data_dir: str, dsn: str) -> int:
    """Copy ``data_dir``'s store into the PostgreSQL database ``dsn``; the exit status."""
    from .config.store import check_dsn
    from .store.copy import Copied, copy_store, open_source
    from .store.db import DB_ERRORS, Db, redact

    fault = check_dsn(dsn)
    if fault:
        print(f"ccswitch store copy: --to: {fault}", file=sys.stderr)
        return EXIT_USAGE
    try:
        src = open_source(Path(data_dir))
    except (FileNotFoundError, sqlite3.Error) as e:  # the source is a SQLite file
        print(f"ccswitch store copy: --from: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        dst = Db.postgresql(dsn)
    except DB_ERRORS as e:
        src.close()
        print(f"ccswitch store copy: --to {redact(dsn)}: {e}", file=sys.stderr)
        return EXIT_USAGE

    def show(c: Copied) -> None:
        print(f"{c.table}: {c.read} read, {c.added} added"
              f" ({c.read - c.added} already there)", flush=True)

    try:
        copy_store(src, dst, progress=show)
    except DB_ERRORS as e:
        print(f"ccswitch store copy: failed: {e} (run it again: what is there is kept)",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        src.close()
        dst.close()
    return 0
