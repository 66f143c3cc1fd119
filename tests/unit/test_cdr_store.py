"""The call-detail store: a CDR per call, recordings tracked from start to closed file."""

from __future__ import annotations

from pathlib import Path

from ccswitch.call.events import CallEnded
from ccswitch.store.cdr import CdrStore


def ended(call_id: str, recording: str | None = None) -> CallEnded:
    return CallEnded(call_id, "1001", "1002", 200, "OK", 10.0, 12.0, 70.0, "caller", recording)


def test_rows_survive_a_reopen_with_wall_clock_times(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = CdrStore(db)
    store.add(ended("c1"), wall_offset=1000.0)
    store.close()
    (row,) = CdrStore(db).rows()
    assert (row.call_id, row.started, row.answered, row.ended) == ("c1", 1010.0, 1012.0, 1070.0)
    assert row.recording is None and row.recording_state is None


def test_a_recording_is_open_until_its_file_is_reported_closed(tmp_path: Path) -> None:
    store = CdrStore(tmp_path / "c.db")
    store.recording_started("c1", "/r/c1.wav", at=5.0)
    assert store.unfinished_recordings() == ["/r/c1.wav"]
    store.add(ended("c1", "/r/c1.wav"), wall_offset=0.0)
    assert store.rows()[0].recording_state == "recording"
    store.recording_done("/r/c1.wav", state="complete", seconds=58.0)
    assert store.unfinished_recordings() == []
    row = store.rows()[0]
    assert (row.recording, row.recording_state, row.recording_seconds) == \
        ("/r/c1.wav", "complete", 58.0)
    assert store.recordings() == [("/r/c1.wav", "c1", "complete", 58.0)]


def test_a_file_closed_before_the_cdr_is_written_is_complete_in_the_cdr(tmp_path: Path) -> None:
    store = CdrStore(tmp_path / "c.db")
    store.recording_started("c2", "/r/c2.wav", at=5.0)
    store.recording_done("/r/c2.wav", state="complete", seconds=3.0)
    store.add(ended("c2", "/r/c2.wav"), wall_offset=0.0)
    assert store.rows()[0].recording_state == "complete"
