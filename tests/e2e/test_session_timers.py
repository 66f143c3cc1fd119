"""Session timers (RFC 4028) with a SIPp carrier (on 127.0.0.1:5070, the demo's trunk
``carrier``, as in test_trunks.py: run this file alone, not next to another user of 5070).

Both tests use the smallest interval RFC 4028 allows, 90 s, so each takes about a minute:
- the carrier requires timers and refreshes itself, then never does: we BYE at the expiry,
  90 - min(32, 90/3) = 60 s after our 200 (the CDR's reason is ``session_expired``);
- the carrier names us the refresher and allows UPDATE: our UPDATE comes at 90/2 = 45 s.

The daemon runs the demo configuration with ``rtp_timeout = 0``: SIPp sends no RTP, and the
demo's 30 s RTP timeout would end the call before the session timer does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import Sipp

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CARRIER = 5070
ROOM_DID = "5550850"  # room:850: a call that stays up until someone hangs up


@pytest.fixture
def quiet_daemon(start_daemon: DaemonFactory, tmp_path: Path) -> Daemon:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    marker = "rtp_timeout = 30 "
    assert marker in demo
    conf = tmp_path / "no-rtp-timeout.toml"
    conf.write_text(demo.replace(marker, "rtp_timeout = 0 "))
    return start_daemon(extra_args=["--config", str(conf)])


def test_a_carrier_that_stops_refreshing_is_hung_up_at_expiry(sipp: Sipp,
                                                               quiet_daemon: Daemon) -> None:
    d = quiet_daemon
    started = time.monotonic()
    uac = sipp.run("uac_carrier_timer_expires.xml", "-s", ROOM_DID, remote=d.sip_port,
                   local_port=CARRIER, timeout=120.0)
    took = time.monotonic() - started
    assert uac.ok, uac.describe()
    ok = next(m for m in uac.received() if m.status == 200)
    assert ok.header("Session-Expires") == "90;refresher=uac"
    assert ok.header("Require") == "timer"
    assert uac.requests("BYE", "received"), uac.describe()
    # the BYE comes 60 s after the 200 (90 - min(32, 30)); the run also holds the call setup
    assert 58.0 <= took < 90.0, took
    expired = d.log.wait_for("session_expired", 10.0, interval=90)
    assert expired is not None, d.tail()
    ended = d.log.wait_for("call_ended", 10.0, reason="session_expired")
    assert ended is not None and ended["ended_by"] == "switch", d.tail()


def test_we_refresh_a_carrier_that_names_us_refresher(sipp: Sipp, quiet_daemon: Daemon) -> None:
    d = quiet_daemon
    started = time.monotonic()
    uac = sipp.run("uac_carrier_timer_refresh.xml", "-s", ROOM_DID, remote=d.sip_port,
                   local_port=CARRIER, timeout=100.0)
    took = time.monotonic() - started
    assert uac.ok, uac.describe()
    ok = next(m for m in uac.received() if m.status == 200)
    assert ok.header("Session-Expires") == "90;refresher=uas"
    update = uac.requests("UPDATE", "received")
    assert update, uac.describe()
    assert update[0].header("Session-Expires") == "90;refresher=uac"
    # UPDATE at 45 s (90/2), then 1 s pause and the BYE
    assert 44.0 <= took < 75.0, took
    assert d.log.find("session_expired") is None, d.tail()
