"""The dialect layer (store/db.py): one SQL for SQLite and PostgreSQL, migrations that run
once and all-or-nothing, DSNs that never show their password."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccswitch.sip.addr import Address
from ccswitch.sip.registrar import Binding
from ccswitch.store.bindings import BindingStore
from ccswitch.store.db import Db, Location, is_dsn, like_escape, migrate, redact


def test_a_password_is_never_shown() -> None:
    assert redact("postgresql://cc:s3cret@db.example.com:5432/cc") == (
        "postgresql://cc:***@db.example.com:5432/cc")
    assert redact("postgresql://cc@db/cc") == "postgresql://cc@db/cc"
    assert Location(Path("/x/ccswitch.db"), dsn="postgres://a:b@h/d").name == (
        "postgres://a:***@h/d")
    assert Location(Path("/x/ccswitch.db")).name == "ccswitch.db"
    assert is_dsn("postgres://h/d") and is_dsn("postgresql://") and not is_dsn("/var/x.db")


def test_like_patterns_keep_their_wildcards_literal() -> None:
    assert like_escape("a_b%c!") == "a!_b!%c!!"


def test_one_sql_on_both(store_at: Location) -> None:
    db = store_at.connect()
    db.script("CREATE TABLE t (id {serial}, n {int8} NOT NULL, name TEXT, x DOUBLE PRECISION);"
              "CREATE INDEX t_n ON t (n)")
    db.executemany("INSERT INTO t (n, name, x) VALUES (?, ?, ?)",
                   [(2**40, "a_b", 0.1), (2, "axb", 1_700_000_000.123456)])
    rows = db.execute("SELECT id, n, name, x FROM t ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(1, 2**40, "a_b", 0.1), (2, 2, "axb", 1_700_000_000.123456)]
    got = db.execute("SELECT name FROM t WHERE name LIKE ? ESCAPE '!'",
                     (f"%{like_escape('a_b')}%",)).fetchall()
    assert [r[0] for r in got] == ["a_b"]
    assert db.execute("UPDATE t SET x = 5 WHERE n > ?", (100,)).rowcount == 1
    assert db.columns("t") == {"id", "n", "name", "x"}
    assert not db.in_transaction
    db.close()


def test_a_failing_migration_changes_nothing(store_at: Location) -> None:
    db = store_at.connect()
    assert migrate(db, "demo", ("CREATE TABLE a (x INTEGER)",)) == 1

    def boom(d: Db) -> None:
        raise RuntimeError("step 3 is broken")

    with pytest.raises(RuntimeError, match="step 3"):
        migrate(db, "demo", ("CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)", boom))
    assert not db.in_transaction
    assert db.columns("b") == set()  # step 2 rolled back with step 3
    assert db.execute("SELECT version FROM schema_version WHERE component = 'demo'"
                      ).fetchone()[0] == 1
    assert migrate(db, "other", ("CREATE TABLE b (y INTEGER)",)) == 1  # versions per store
    db.close()


def test_registrations_are_replaced_per_user_and_read_back(store_at: Location) -> None:
    a1 = Binding("1001", "<sip:1001@10.0.0.1:5060>", 1_700_000_060.5, "cid1", 3,
                 Address("udp", "10.0.0.1", 5060), 0.5, "baresip")
    a2 = Binding("1001", "<sip:1001@10.0.0.2:5060>", 1_700_000_070.0, "cid2", 1,
                 Address("tcp", "10.0.0.2", 5060))
    b = Binding("2001", "<sip:2001@[::1]:5062>", 1_700_000_080.0, "cid3", 7,
                Address("udp", "::1", 5062))
    store = BindingStore(store_at.connect())
    store.replace({"1001": (a1, a2), "2001": (b,)})
    store.replace({"1001": (a2,)})  # a1 unregistered
    store.close()
    back = BindingStore(store_at.connect()).load()
    assert sorted(back, key=lambda x: x.contact) == [a2, b]
