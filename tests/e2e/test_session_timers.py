"""Session timers (RFC 4028) with SIPp carriers: every flow at the smallest interval RFC 4028
allows, 90 s, all at once against one daemon (about a minute in all, not a minute each).

The carriers' ports are the demo's (``carrier`` 5070, ``carrier2`` 5072, as in
test_trunks.py, plus 5074 added to ``carrier``'s peers here): run this file alone, not next to
another user of those ports.

- from 5074 (``carrier``), to room 850: the carrier requires timers and refreshes itself, then
  never does: we BYE at the expiry, 90 - min(32, 90/3) = 60 s after our 200 (the CDR's reason
  is ``session_expired``);
- from 5072 (``carrier2``), to room 850: the carrier names us the refresher and allows UPDATE:
  our UPDATE comes at 90/2 = 45 s;
- phone 1001 (SIPp) dials out to ``carrier`` (SIPp on 5070), which names us the refresher of
  its leg without allowing UPDATE: its own refresh (a re-INVITE repeating its SDP) is answered
  200 by us and the phone sees no re-INVITE; our re-INVITE refresh 45 s later is answered 422,
  asked again with the 422's Min-SE, answered 200 and ACKed.

The daemon runs the demo configuration with ``rtp_timeout = 0``: SIPp sends no RTP, and the
demo's 30 s RTP timeout would end the calls before the session timers do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import SipMessage, Sipp, dial_args

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CARRIER, CARRIER2, CARRIER_TOO = 5070, 5072, 5074
ROOM_DID = "5550850"  # room:850: a call that stays up until someone hangs up
OUT_NUMBER = "5550700123"  # national: to carrier as +15550700123


@pytest.fixture
def quiet_daemon(start_daemon: DaemonFactory, tmp_path: Path) -> Daemon:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    changes = {"rtp_timeout = 30 ": "rtp_timeout = 0 ",
               'peers = ["127.0.0.1:5070"]': 'peers = ["127.0.0.1:5070", "127.0.0.1:5074"]'}
    for old, new in changes.items():
        assert old in demo
        demo = demo.replace(old, new)
    conf = tmp_path / "session-timers.toml"
    conf.write_text(demo)
    return start_daemon(extra_args=["--config", str(conf)])


def origin(msg: SipMessage) -> str:
    """The o= line of a message's SDP."""
    return next(line.strip() for line in msg.text.split("\n") if line.startswith("o="))


def test_session_timers_with_carriers_both_ways(sipp: Sipp, quiet_daemon: Daemon) -> None:
    d = quiet_daemon
    started = time.monotonic()
    far = sipp.start("uas_carrier_timer_refresher.xml", local_port=CARRIER, timeout=100.0)
    phone = sipp.start("uac_callee_bye.xml", *dial_args(OUT_NUMBER, d.sip_port), "-inf",
                       str(sipp.credentials("1001", "pw1001")), remote=d.sip_port,
                       timeout=100.0)
    expires = sipp.start("uac_carrier_timer_expires.xml", "-s", ROOM_DID, remote=d.sip_port,
                         local_port=CARRIER_TOO, timeout=120.0)
    refresh = sipp.start("uac_carrier_timer_refresh.xml", "-s", ROOM_DID, remote=d.sip_port,
                         local_port=CARRIER2, timeout=100.0)
    try:
        uac = expires.wait(130.0)
        expired_after = time.monotonic() - started
        upd = refresh.wait(110.0)
        out = far.wait(110.0)
        ph = phone.wait(110.0)
    finally:
        for p in (far, phone, expires, refresh):
            p.stop()

    # a carrier that stops refreshing is hung up at expiry
    assert uac.ok, uac.describe()
    ok = next(m for m in uac.received() if m.status == 200)
    assert ok.header("Session-Expires") == "90;refresher=uac"
    assert ok.header("Require") == "timer"
    assert uac.requests("BYE", "received"), uac.describe()
    # the BYE comes 60 s after the 200 (90 - min(32, 30)); the run also holds the call setup
    assert 58.0 <= expired_after < 90.0, expired_after
    expired = d.log.wait_for("session_expired", 10.0, interval=90)
    assert expired is not None, d.tail()
    ended = d.log.wait_for("call_ended", 10.0, reason="session_expired")
    assert ended is not None and ended["ended_by"] == "switch", d.tail()

    # a carrier naming us refresher (UPDATE allowed) gets our UPDATE
    assert upd.ok, upd.describe()
    ok = next(m for m in upd.received() if m.status == 200)
    assert ok.header("Session-Expires") == "90;refresher=uas"
    update = upd.requests("UPDATE", "received")
    assert update, upd.describe()
    assert update[0].header("Session-Expires") == "90;refresher=uac"

    # the outbound call: the carrier's refresh answered here, ours read and ACKed
    assert out.ok, out.describe()
    assert ph.ok, ph.describe()
    invites = out.requests("INVITE", "received")
    assert len(invites) == 3, out.describe()  # the call, our refresh, its retry after 422
    first, ours, retry = invites
    local = next(m for m in out.received() if m.status == 200 and
                 m.header("CSeq") == "1 INVITE")
    assert local.header("Session-Expires") == "90;refresher=uas"
    assert origin(local) == origin(first)  # our SDP on that leg, unchanged
    assert not ph.requests("INVITE", "received"), ph.describe()  # the phone saw nothing
    assert d.log.find("session_refreshed", method="INVITE") is not None, d.tail()
    assert ours.header("Session-Expires") == "90;refresher=uac"
    assert (retry.header("Session-Expires"), retry.header("Min-SE")) == \
        ("120;refresher=uac", "120")
    assert origin(ours) == origin(retry) == origin(first)
    acks = out.requests("ACK", "received")
    assert acks and acks[-1].header("CSeq") == f"{retry.header('CSeq').split()[0]} ACK", \
        out.describe()
    assert d.log.find("session_refresh_failed") is None, d.tail()
