"""Hot reload and the admin CLI on a real daemon: a SIPp caller waits in support while
SIGHUP applies a file that adds a queue and changes the admin token (the caller stays, the
new token works, the old one is refused); a bad file is refused with its file:line:key and
the running configuration stays; ``ccswitch reload``/``calls``/``queue show``/``cdr export``
talk to the daemon; CDRs are listed and exported by the API after the call; an agent call's
recording is listed and downloaded whole and by byte range."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_daemon import Daemon, DaemonFactory, ccswitch_command, child_env
from e2e_media import settle
from e2e_queue import agent, caller, wait_queue_event
from e2e_sipp import Sipp
from e2e_util import LOOPBACK

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
BILLING = '\n[queues.billing]\nstrategy = "longest_idle"\nring_timeout = 20\nwrapup = 5\n'


def cli(daemon: Daemon, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ccswitch_command(*args, "--url", f"http://{LOOPBACK}:{daemon.http_port}",
                         "--token", token),
        env=child_env(), capture_output=True, text=True, timeout=30)


def queues(client: httpx.Client, token: str) -> dict[str, Any]:
    r = client.get("/api/v1/queues", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {q["name"]: q for q in r.json()}


def wait_log(daemon: Daemon, event: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in daemon.log.events() if e.get("event") == event]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"no {event}\n{daemon.tail()}"
            return found
        time.sleep(0.1)


def test_sighup_reload_keeps_a_waiting_caller_and_the_cli_talks_to_the_daemon(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    demo = (REPO / "configs" / "demo.toml").read_text()
    conf = tmp_path / "site.toml"
    conf.write_text(demo)
    daemon = settle(start_daemon(extra_args=["--config", str(conf)]))
    base = f"http://{LOOPBACK}:{daemon.http_port}"
    with httpx.Client(base_url=base, timeout=10) as client:
        waiting = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=60)
        try:
            wait_queue_event(daemon, "CallerEntered", 15)
            assert queues(client, "demo-admin-token")["support"]["waiting"] == 1

            # SIGHUP: a new queue and a new admin token; the caller keeps waiting
            conf.write_text(demo.replace('"demo-admin-token"', '"site-admin-token"') + BILLING)
            daemon.proc.send_signal(signal.SIGHUP)
            [done] = wait_log(daemon, "config_reloaded", 1)
            assert "queues" in done["changed"] and "api" in done["changed"], done
            assert done["needs_restart"] == [] and done["kept"] == [], done
            assert client.get("/api/v1/queues", headers={
                "Authorization": "Bearer demo-admin-token"}).status_code == 401
            now = queues(client, "site-admin-token")
            assert now["support"]["waiting"] == 1 and "billing" in now
            assert waiting.proc.poll() is None  # still in line, no BYE

            # a bad file: refused with file:line:key, the running configuration stays
            conf.write_text(demo.replace('strategy = "longest_idle"',
                                         'strategy = "nosuch"', 1))
            daemon.proc.send_signal(signal.SIGHUP)
            [refused] = wait_log(daemon, "config_reload_refused", 1)
            assert f"{conf}:" in refused["error"] and "queues.support.strategy" in \
                refused["error"], refused
            assert "billing" in queues(client, "site-admin-token")

            # the CLI: reload (the bad file again: exit 1, the message), calls, queue show
            r = cli(daemon, "site-admin-token", "reload")
            assert r.returncode == 1 and "queues.support.strategy" in r.stderr, r
            conf.write_text(demo.replace('"demo-admin-token"', '"site-admin-token"'))
            r = cli(daemon, "site-admin-token", "reload")
            assert r.returncode == 0 and "changed: queues" in r.stdout, r
            r = cli(daemon, "site-admin-token", "calls", "--json")
            assert r.returncode == 0, r
            [call] = json.loads(r.stdout)
            assert (call["caller"], call["state"], call["queue"]) == ("1001", "queued",
                                                                      "support")
            r = cli(daemon, "site-admin-token", "queue", "show", "support")
            assert r.returncode == 0 and "1001" in r.stdout, r
            r = cli(daemon, "wrong-token", "calls")
            assert r.returncode == 4 and "token" in r.stderr, r
            follower = subprocess.Popen(
                ccswitch_command("events", "--follow", "--json", "--url", base, "--token",
                                 "site-admin-token", "--since", "0"),
                env=child_env(), stdout=subprocess.PIPE, text=True)
            lines: list[dict[str, Any]] = []
            reader = threading.Thread(target=lambda: lines.extend(
                json.loads(x) for x in follower.stdout or ()), daemon=True)
            reader.start()
            r = cli(daemon, "site-admin-token", "hangup", call["id"])
            assert r.returncode == 0, r
            assert waiting.wait(15).ok
        finally:
            waiting.stop()

        # the finished call's CDR: listed by the API and exported by the CLI
        deadline = time.monotonic() + 10
        while True:
            r = client.get("/api/v1/cdrs", headers={"Authorization": "Bearer site-admin-token"})
            assert r.status_code == 200, r.text
            if r.json()["items"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        [cdr] = r.json()["items"]
        assert cdr["caller"] == "1001" and cdr["queue"] == "support", cdr
        r = cli(daemon, "site-admin-token", "cdr", "export", "--format", "csv")
        assert r.returncode == 0, r
        [row] = list(csv.DictReader(io.StringIO(r.stdout)))
        assert row["call_id"] == cdr["call_id"]
        # the follower saw the whole story live (replayed from 0, then the hang-up)
        deadline = time.monotonic() + 15
        while not any(e["type"] == "call.ended" for e in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        follower.terminate()
        follower.wait(5)
        seqs = [e["seq"] for e in lines]
        assert seqs == sorted(set(seqs)) and any(e["type"] == "call.ended" for e in lines), lines
        r = cli(daemon, "site-admin-token", "events")
        assert r.returncode == 0 and "call.ended" in r.stdout, r


def test_an_agent_call_recording_is_listed_and_downloaded_with_range(
        sipp: Sipp, start_daemon: DaemonFactory) -> None:
    """A SIPp caller is answered by a SIPp agent (recorded, CONTRACT); the API lists the
    recording with the call's queue and agent and serves it whole and by byte ranges; an
    agent token out of its scope gets 403."""
    daemon = settle(start_daemon())
    admin = {"Authorization": "Bearer demo-admin-token"}
    answering = agent(sipp, daemon, "2002", "uas_answer.xml", timeout=60)
    wait_queue_event(daemon, "AgentLoggedIn", 10, agent="2002")
    result = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=1500).wait(30)
    assert result.ok, result.describe()
    assert answering.wait(15).ok
    wait_queue_event(daemon, "CallCompleted", 20)
    with httpx.Client(base_url=f"http://{LOOPBACK}:{daemon.http_port}", timeout=10) as client:
        deadline = time.monotonic() + 15
        while True:  # the recording's row is complete once the worker closed the file
            recs = client.get("/api/v1/recordings", headers=admin).json()["items"]
            if (recs and recs[0]["state"] == "complete") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        [rec] = recs
        assert rec["state"] == "complete" and rec["queue"] == "support", rec
        assert rec["agent"] == "2002" and rec["caller"] == "1001" and rec["size"] > 44, rec
        whole = client.get(f"/api/v1/recordings/{rec['id']}", headers=admin)
        assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
        assert len(whole.content) == rec["size"]
        part = client.get(f"/api/v1/recordings/{rec['id']}",
                          headers={**admin, "Range": "bytes=8-15"})
        assert part.status_code == 206 and part.content == whole.content[8:16]
        assert part.headers["content-range"] == f"bytes 8-15/{rec['size']}"
        past = client.get(f"/api/v1/recordings/{rec['id']}",
                          headers={**admin, "Range": f"bytes={rec['size'] + 10}-"})
        assert past.status_code == 416
        mine = client.get(f"/api/v1/recordings/{rec['id']}",
                          headers={"Authorization": "Bearer demo-agent-2002"})
        assert mine.status_code == 200
        other = client.get(f"/api/v1/recordings/{rec['id']}",
                           headers={"Authorization": "Bearer demo-agent-2003"})
        assert other.status_code == 403
    assert daemon.log.find("recording_download") is not None
