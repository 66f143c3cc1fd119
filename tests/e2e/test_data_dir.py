"""A relative data dir (issue 8, point 2): the daemon runs in a directory of its own with
`--data-dir var`, a SIPp caller reaches a SIPp agent through a queue, and the call's
recording is where its row says (an absolute path under DATA_DIR/recordings/DAY/), not under
`var/recordings/var/recordings/`, and the row reaches `complete`."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_daemon import DaemonFactory
from e2e_media import query, settle, wav_info
from e2e_queue import agent, caller, sip_call_id, wait_queue_event, write_config
from e2e_sipp import Sipp
from e2e_util import wait_until

pytestmark = pytest.mark.e2e

HOLD_MS = 3000


def test_a_relative_data_dir_records_a_queue_call_where_its_row_says(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    conf = write_config(tmp_path / "queue.toml", """
        domains = ["ccswitch.local"]

        [[users]]
        range = "1001-1020"
        password = "pw{user}"

        [[users]]
        name = "2002"
        password = "pw2002"
        agent = { queues = ["support"] }

        [queues.support]
        ring_timeout = 5
        wrapup = 0.5

        [dialplan.numbers]
        800 = "queue:support"
        """)  # fmt: skip
    daemon = settle(start_daemon(data_dir=Path("var"), extra_args=["--config", str(conf)]))
    data = daemon.workdir / "var"

    answering = agent(sipp, daemon, "2002", "uas_answer.xml")
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2002")
    try:
        result = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=HOLD_MS).wait(30)
        agent_result = answering.wait(10)
    finally:
        answering.stop()
    assert result.ok, result.describe()
    assert agent_result.ok, agent_result.describe()

    sql = "SELECT path, call_id, state, seconds FROM recordings"
    assert wait_until(lambda: [r["state"] for r in query(data, sql)] == ["complete"],
                      timeout=5), f"{query(data, sql)}\n{daemon.tail()}"  # fmt: skip
    (row,) = query(data, sql)
    path = Path(row["path"])
    assert path.is_absolute() and path.parent.parent == data / "recordings", row
    assert path.name == f"{row['call_id']}.wav", row  # named by the switch's call id
    assert path.is_file(), sorted(str(p) for p in (data / "recordings").rglob("*"))
    assert not (data / "recordings" / "var").exists(), "written under a doubled path"
    info = wav_info(path)
    assert info.channels == 2 and abs(info.seconds - row["seconds"]) < 0.5, (info, row)
    done = daemon.log.wait_for("recording_done", timeout=5)
    assert done is not None and done.get("path") == str(path) and done.get("ok"), done
    cdrs = query(data, "SELECT call_id, sip_call_id, recording, recording_state FROM cdr"
                       " WHERE recording IS NOT NULL")
    assert cdrs == [{"call_id": row["call_id"], "sip_call_id": sip_call_id(result),
                     "recording": str(path), "recording_state": "complete"}], cdrs
    assert daemon.ready.get("data_dir") == str(data), daemon.ready  # logged resolved
