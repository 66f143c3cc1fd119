"""Top-level test setup: import ccswitch from this checkout's src/ even when not installed,
and the hypothesis profiles.

`bin/test` installs the package (editable) into .venv; the path only helps a bare
`python3 -m pytest` run from the repository root. This directory is on `sys.path` too (pytest
puts a conftest's directory there), so every test can `from peers import require_peer`.

Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default `ci`, what `bin/test` and CI run):
`ci` keeps hypothesis' own budget (100 examples where a test sets none) without deadlines (two
cores are shared, timing says nothing); `quick` is a tenth of it for a fast local loop;
`thorough` ten times it, for a long run before a release; `noshrink` is `ci` without
shrinking, to learn quickly whether a test catches a deliberate fault. A test that names its own
`max_examples` keeps it; the router's stateful test scales with the profile.

The store fixtures: ``store_at`` runs a test once on SQLite and once on PostgreSQL (a fresh
database on the session's private server, ``pg_server``/``pg_dsn``: tests/pgserver.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from ccswitch.store.db import POSTGRESQL, SQLITE, Location  # noqa: E402
from peers import missing_peer, require_peer  # noqa: E402
from pgserver import PgServer  # noqa: E402

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=10)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=1000)
settings.register_profile("noshrink", settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- the store's two backends (store/db.py): SQLite, and PostgreSQL on a private server --------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for the session (tests/pgserver.py); without Debian's
    ``postgresql`` the test is skipped with the reason (fails as root: bin/test installs it)."""
    require_peer("postgresql")
    server = PgServer()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        server.stop()
        missing_peer(f"cannot start a private PostgreSQL server: {e}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """The DSN of a fresh database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=[SQLITE, POSTGRESQL])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """Where a store test keeps its tables: a SQLite file, then a PostgreSQL database."""
    path = tmp_path / "ccswitch.db"
    if request.param == POSTGRESQL:
        return Location(path, dsn=request.getfixturevalue("pg_dsn"))
    return Location(path)
