"""DTMF interworking with real peers: a baresip phone (RFC 4733 telephone-events) calls out
through the demo trunk ``carrier`` configured ``dtmf = "info"``, whose SIPp far end
(127.0.0.1:5070, as in test_trunks.py: run this file alone) takes and sends digits only as
SIP INFO.  The phone's 5 reaches the far end as an INFO; the far end's INFO 7 reaches the
phone as RFC 4733 events."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_baresip import PhoneFactory
from e2e_calls import CALLER_HZ, phone, uri
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import settle
from e2e_sipp import Sipp

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CARRIER = 5070
MARK = 'caller_id = "+15550700000"\n\n[trunks.carrier2]'


@pytest.fixture
def info_daemon(start_daemon: DaemonFactory, tmp_path: Path) -> Daemon:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    assert MARK in demo
    conf = tmp_path / "info-carrier.toml"
    conf.write_text(demo.replace(MARK, 'caller_id = "+15550700000"\ndtmf = "info"\n\n'
                                       "[trunks.carrier2]"))
    return settle(start_daemon(extra_args=["--config", str(conf)]))


def test_rfc4733_phone_and_info_carrier_exchange_digits(
        sipp: Sipp, phones: PhoneFactory, info_daemon: Daemon, tmp_path: Path) -> None:
    d = info_daemon
    far = sipp.start("uas_info_dtmf.xml", local_port=CARRIER, timeout=60.0)
    try:
        caller = phone(phones, d, tmp_path, "caller-1001", "1001", CALLER_HZ)
        caller.dial(uri(d, "5550700123"))
        caller.wait_event("CALL_ESTABLISHED", timeout=15)
        caller.send_digits("5")
        seven = caller.wait_event("CALL_DTMF_START", timeout=20)
        assert seven.get("param") == "7", seven
        caller.hangup()
        result = far.wait(40.0)
    finally:
        far.stop()
    assert result.ok, result.describe()
    infos = result.requests("INFO", "received")
    assert len(infos) == 1, result.describe()
    assert infos[0].header("Content-Type") == "application/dtmf-relay"
    assert "Signal=5" in infos[0].text, infos[0].text
    relayed = d.log.find("digit_relayed", key="5", mode="info")
    assert relayed is not None, d.tail()
    assert d.log.find("digit_relayed", key="7", mode="rfc4733") is not None, d.tail()
