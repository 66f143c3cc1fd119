"""Every leg of a call in its CDR, through a real daemon and real phones (baresip): a ring-all
queue rings two agents, one answers (the other's fork is CANCELled, 487), the agent then
blind-transfers the caller to 1002; ``GET /api/v1/cdrs`` gives the call's four legs and its
transfer chain (docs/storage.md "Every leg of a call"), and ``ccswitch cdr export --format
csv`` their compact text."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_baresip import PhoneFactory
from e2e_calls import AGENT_HZ, CALLER_HZ, THIRD_HZ, hang_up, phone, uri
from e2e_daemon import REPO, DaemonFactory
from e2e_media import settle
from e2e_queue import write_config
from e2e_util import LOOPBACK
from test_reload_cli import cli

from peers import require_peer

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer demo-admin-token"}
DEMO = (REPO / "src" / "ccswitch" / "config" / "demo.toml").read_text()
RING_ALL = DEMO.replace('[queues.support]\nstrategy = "longest_idle"',
                        '[queues.support]\nstrategy = "ring_all"')


def cdr_of(port: int, caller: str, timeout: float = 20.0) -> dict[str, Any]:
    """The one CDR of ``caller`` once it is written with its quality figures (they come a
    moment after the row)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"http://{LOOPBACK}:{port}/api/v1/cdrs", params={"caller": caller},
                      headers=ADMIN, timeout=5.0)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if (items and items[0]["mos_caller"] is not None) or time.monotonic() > deadline:
            assert len(items) == 1, items
            return dict(items[0])
        time.sleep(0.3)


def t(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_a_ring_all_queue_call_transferred_has_every_leg_in_its_cdr(
        phones: PhoneFactory, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    require_peer("baresip")
    assert RING_ALL != DEMO
    daemon = settle(start_daemon(extra_args=(
        "--config", str(write_config(tmp_path / "ringall.toml", RING_ALL)))))
    ringing = phone(phones, daemon, tmp_path, "agent-2001", "2001", AGENT_HZ, register=True)
    agent = phone(phones, daemon, tmp_path, "agent-2002", "2002", AGENT_HZ, register=True,
                  auto=True)  # fmt: skip
    target = phone(phones, daemon, tmp_path, "target-1002", "1002", THIRD_HZ, register=True,
                   auto=True)  # fmt: skip
    caller = phone(phones, daemon, tmp_path, "caller-1001", "1001", CALLER_HZ)
    caller.dial(uri(daemon, "800"))
    caller.wait_event("CALL_ESTABLISHED", timeout=15)
    agent.wait_event("CALL_ESTABLISHED", timeout=25)
    ringing.wait_event("CALL_CLOSED", timeout=15)  # its fork was CANCELled
    time.sleep(2.0)
    agent.transfer(uri(daemon, "1002"))
    target.wait_event("CALL_ESTABLISHED", timeout=15)
    agent.wait_event("CALL_CLOSED", timeout=10)  # baresip hangs up on the final NOTIFY
    time.sleep(1.0)
    caller.hangup()
    target.wait_event("CALL_CLOSED", timeout=10)
    hang_up(caller, target, agent, ringing)

    cdr = cdr_of(daemon.http_port, "1001")
    legs = cdr["legs"]
    assert [(g["role"], g["party"], g["status"]) for g in legs] == [
        ("caller", "1001", 200), ("agent", "2001", 487), ("agent", "2002", 200),
        ("transfer", "1002", 200)], legs
    caller_leg, missed, answered, xfer = legs
    assert missed["answered"] is None and missed["codec"] is None
    assert missed["ended_by"] == "switch"  # we CANCELled it when 2002 answered
    assert answered["ended_by"] == "party"  # 2002 hung up itself after the transfer
    assert caller_leg["ended_by"] == "party" and caller_leg["call_end"] == "caller"
    assert xfer["ended_by"] == "peer" and xfer["call_end"] == "callee"
    for g in (caller_leg, answered, xfer):  # the answered legs negotiated a codec
        assert g["codec"], g
        assert t(g["started"]) <= t(g["answered"]) <= t(g["ended"]), g
    # quality: the two ends', and the transferor's (it left first: its figures were kept)
    for g in (caller_leg, answered, xfer):
        assert g["mos"] is not None and g["loss"] is not None, g
    assert missed["mos"] is None
    # the order of things: 2002 answered before the transfer, which came before 1002 answered
    (step,) = cdr["transfers"]
    assert (step["kind"], step["by"], step["target"], step["via"], step["result"]) == (
        "blind", "2002", "1002", "refer", "answered")
    assert t(answered["answered"]) < t(step["at"]) <= t(xfer["started"]) <= t(xfer["answered"])
    assert t(answered["ended"]) <= t(cdr["ended"]) and xfer["ended"] == caller_leg["ended"]

    # the admin CLI's export: the same legs as compact text (ROLE:PARTY:STATUS[:CODEC])
    r = cli(daemon, "demo-admin-token", "cdr", "export", "--format", "csv", "--caller", "1001")
    assert r.returncode == 0, r
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    codec = caller_leg["codec"]
    assert row["legs"] == (f"caller:1001:200:{codec};agent:2001:487;"
                           f"agent:2002:200:{answered['codec']};transfer:1002:200:{xfer['codec']}")
    assert row["transfers"] == "blind:1002>2002>answered"
