"""The voicemail store: a file and a row per message, new -> saved, delete, counts; on SQLite
and on PostgreSQL (``store_at``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ccswitch.store.db import Location
from ccswitch.store.voicemail import VoicemailStore, VoicemailStoreError
from ccswitch.store.writer import Writer
from ccswitch.voicemail import Folder, MessageKept


def deposit(store: VoicemailStore, box: str, caller: str, at: float) -> str:
    message_id, path = store.new_message(box)
    path.write_bytes(b"RIFF fake audio")
    store.add(message_id, MessageKept(box, caller, at, 7.5, str(path)), wall_offset=1000.0)
    return message_id


def test_a_message_is_a_file_in_its_box_directory_and_a_row(
        store_at: Location, tmp_path: Path) -> None:
    store = VoicemailStore(store_at.connect(), tmp_path / "voicemail")
    mid = deposit(store, "1002", "1001", 5.0)
    (msg,) = store.messages("1002")
    assert (msg.id, msg.caller, msg.received, msg.duration, msg.folder) == (
        mid, "1001", 1005.0, 7.5, Folder.NEW)
    assert store.path(msg) == tmp_path / "voicemail" / "1002" / f"{mid}.wav"
    assert store.path(msg).read_bytes() == b"RIFF fake audio"
    assert store.counts("1002") == (1, 0) and store.counts("1003") == (0, 0)
    store.close()
    assert VoicemailStore(store_at.connect(), tmp_path / "voicemail").get(mid) == msg


def test_save_delete_and_order(
        store_at: Location, tmp_path: Path) -> None:
    store = VoicemailStore(store_at.connect(), tmp_path / "vm")
    a = deposit(store, "1002", "1001", 30.0)
    b = deposit(store, "1002", "1003", 10.0)
    c = deposit(store, "1002", "1004", 20.0)
    assert [m.id for m in store.messages("1002")] == [b, c, a]
    assert store.save(b) and store.counts("1002") == (2, 1)
    assert [m.id for m in store.messages("1002")] == [c, a, b]
    path = store.path(store.messages("1002")[0])
    assert store.delete(c) and not path.exists()
    assert not store.delete(c) and not store.save(c)
    assert store.counts("1002") == (1, 1) and store.boxes() == ["1002"]


def test_a_discarded_recording_leaves_no_file_and_no_row(
        store_at: Location, tmp_path: Path) -> None:
    store = VoicemailStore(store_at.connect(), tmp_path / "vm")
    _, path = store.new_message("1002")
    path.write_bytes(b"x")
    store.discard("1002", str(path))
    assert not path.exists() and store.messages("1002") == []


@pytest.mark.parametrize("box", ["..", "a/b", "", "/etc"])
def test_box_names_cannot_escape_the_root(tmp_path: Path, box: str) -> None:
    store = VoicemailStore(tmp_path / "c.db", tmp_path / "vm")
    with pytest.raises(VoicemailStoreError):
        store.new_message(box)


def test_through_the_writer_thread_rows_are_committed_before_done(
        store_at: Location, tmp_path: Path) -> None:
    db = store_at
    seen: list[tuple[int, int]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        writer = Writer(db, loop=loop)
        store = writer.open(lambda conn: VoicemailStore(conn, tmp_path / "vm"))
        mid, path = writer.call(lambda: store.new_message("1002"))
        path.write_bytes(b"x")
        done = asyncio.Event()

        def committed() -> None:
            other = db.connect(read_only=True)
            seen.append(tuple(other.execute(
                "SELECT COUNT(*), SUM(CASE WHEN folder = 'new' THEN 1 ELSE 0 END)"
                " FROM voicemail").fetchone()))
            other.close()
            done.set()

        writer.submit(lambda: store.add(mid, MessageKept("1002", "1001", 1.0, 3.0, str(path))),
                      committed, what="voicemail")
        await asyncio.wait_for(done.wait(), 10)
        writer.submit(lambda: store.save(mid))
        assert writer.call(lambda: store.counts("1002")) == (0, 1)
        assert await writer.aclose()

    asyncio.run(main())
    assert seen == [(1, 1)]
