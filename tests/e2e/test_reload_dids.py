"""Hot reload of the trunk sections on a real daemon: while a SIPp caller waits in support,
SIGHUP applies a file that moves the support DID from 5550800 to 5550900; the waiting caller
stays, a carrier's (SIPp from the carrier's address) call to 5550900 is taken and one to
5550800 is now 404.  A changed trunk address in the next file is reported as needing a
restart and the DIDs stay."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from e2e_daemon import DaemonFactory
from e2e_media import settle
from e2e_queue import caller, wait_queue_event
from e2e_sipp import Sipp
from e2e_util import free_port
from test_reload_cli import wait_log

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


def test_a_did_moved_by_sighup_takes_the_next_carrier_call_and_keeps_the_waiting_one(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    # the demo's carriers on free ports (5070/5072 may be another test's on a shared host)
    carrier, carrier2, elsewhere = free_port(), free_port(), free_port()
    demo = ((REPO / "configs" / "demo.toml").read_text()
            .replace("127.0.0.1:5070", f"127.0.0.1:{carrier}")
            .replace("127.0.0.1:5072", f"127.0.0.1:{carrier2}"))
    moved = demo.replace('5550800 = "queue:support"', '5550900 = "queue:support"')
    assert moved != demo
    conf = tmp_path / "site.toml"
    conf.write_text(demo)
    daemon = settle(start_daemon(extra_args=["--config", str(conf)]))
    waiting = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=90)
    try:
        wait_queue_event(daemon, "CallerEntered", 15)
        conf.write_text(moved)
        daemon.proc.send_signal(signal.SIGHUP)
        [done] = wait_log(daemon, "config_reloaded", 1)
        assert done["changed"] == ["dids"] and done["needs_restart"] == [], done
        # the new DID: answered (the support queue plays to the carrier's caller), 200 then BYE
        new = sipp.run("uac_carrier.xml", "-s", "5550900", remote=daemon.sip_port,
                       local_port=carrier, timeout=TIMEOUT)
        assert new.ok, new.describe()
        old = sipp.run("uac_carrier_404.xml", "-s", "5550800", remote=daemon.sip_port,
                       local_port=carrier, timeout=TIMEOUT)
        assert old.ok, old.describe()
        assert waiting.proc.poll() is None  # still in line, no BYE

        # a trunk's address changes: needs a restart, and the DIDs stay as they run
        address = f'"udp:127.0.0.1:{carrier2}"'
        conf.write_text(moved.replace(address, f'"udp:127.0.0.1:{elsewhere}"')
                        .replace('5550900 = "queue:support"', '5550901 = "queue:support"'))
        daemon.proc.send_signal(signal.SIGHUP)
        [_, second] = wait_log(daemon, "config_reloaded", 2)
        assert second["needs_restart"] == ["trunks", "dids"], second
        again = sipp.run("uac_carrier.xml", "-s", "5550900", remote=daemon.sip_port,
                         local_port=carrier, timeout=TIMEOUT)
        assert again.ok, again.describe()
        assert waiting.proc.poll() is None
    finally:
        waiting.stop()
