"""The demo's carrier trunks end to end (CONTRACT "Demo additions" -> "Trunks"): SIPp plays
the carriers on 127.0.0.1:5070 (`carrier`) and 127.0.0.1:5072 (`carrier2`), as the demo
configuration names them, and an authenticated SIPp phone dials out.

The carriers' ports are fixed by the contract: a SIPp run on them takes a machine-wide lock
first (e2e_sipp.Sipp), so other test runs that play a carrier wait for this test to end.

The tests on the demo configuration share one daemon (``demo``), each with its own users and
numbers, each reading only what the daemon logged during it (``logged``); the silent carrier's
test has a daemon of its own, as its unanswered INVITE to 5070 is still retransmitted after
the call went to carrier2 and must not reach the next test's carrier."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import Sipp, SippProcess, SippResult, dial_args
from e2e_util import free_port

from peers import require_peer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0
CARRIER, CARRIER2 = 5070, 5072


@dataclass(frozen=True)
class Demo:
    """The module's daemon on the demo configuration, and where its log stood when the test
    began."""

    daemon: Daemon
    mark: int

    def logged(self) -> str:
        """What the daemon logged since the test began."""
        return self.daemon.log.since(self.mark)


@pytest.fixture(scope="module")
def demo_daemon(module_start_daemon: DaemonFactory) -> Daemon:
    return module_start_daemon()


@pytest.fixture
def demo(demo_daemon: Daemon) -> Demo:
    return Demo(demo_daemon, demo_daemon.log.count())


def creds(sipp: Sipp, user: str) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(user, f"pw{user}")))


def dial(sipp: Sipp, daemon: Daemon, scenario: str, caller: str, number: str) -> SippResult:
    return sipp.run(scenario, *dial_args(number, daemon.sip_port), *creds(sipp, caller),
                    remote=daemon.sip_port, timeout=TIMEOUT)


def carrier(sipp: Sipp, scenario: str, port: int, timeout: float = TIMEOUT) -> SippProcess:
    return sipp.start(scenario, local_port=port, timeout=timeout)


def request_uri(result: SippResult) -> str:
    invites = result.requests("INVITE", "received")
    assert invites, result.describe()
    return invites[0].first_line


def test_a_ten_digit_number_reaches_carrier_as_e164(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    uas = carrier(sipp, "uas_answer.xml", CARRIER)
    try:
        uac = dial(sipp, daemon, "uac_call.xml", "1001", "5550700123")
        far = uas.wait(TIMEOUT + 5)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert far.ok, far.describe()
    assert request_uri(far).startswith(f"INVITE sip:+15550700123@127.0.0.1:{CARRIER} "), \
        far.describe()
    assert "outbound_call" in demo.logged()


def test_503_from_carrier_and_carrier2_takes_the_call(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    first = carrier(sipp, "uas_unavailable.xml", CARRIER)
    second = carrier(sipp, "uas_answer.xml", CARRIER2)
    try:
        uac = dial(sipp, daemon, "uac_call.xml", "1002", "5550700124")
        refused = first.wait(TIMEOUT + 5)
        took = second.wait(TIMEOUT + 5)
    finally:
        first.stop()
        second.stop()
    assert uac.ok, uac.describe()
    assert refused.ok, refused.describe()
    assert took.ok, took.describe()
    assert request_uri(took).startswith(f"INVITE sip:+15550700124@127.0.0.1:{CARRIER2} ")
    assert "trunk_failover" in demo.logged()


@pytest.mark.parametrize("number", ["011442079460000", "+442079460000"])
def test_international_is_403_and_nothing_reaches_carrier(sipp: Sipp, demo: Demo,
                                                          number: str) -> None:
    daemon = demo.daemon
    uas = carrier(sipp, "uas_answer.xml", CARRIER, timeout=6)
    try:
        uac = dial(sipp, daemon, "uac_call_fail.xml", "1003", number)
        far = uas.wait(12)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert 403 in uac.received_statuses(), uac.describe()
    assert not far.requests("INVITE", "received"), far.describe()


def test_a_did_from_carrier_reaches_the_ivr_without_digest(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    uac = sipp.run("uac_carrier.xml", "-s", "5550700", remote=daemon.sip_port,
                   local_port=CARRIER, timeout=TIMEOUT)
    assert uac.ok, uac.describe()
    assert 407 not in uac.received_statuses() and 401 not in uac.received_statuses()
    assert '"did": "5550700"' in demo.logged() or "did=5550700" in demo.logged()


def test_a_did_from_carrier2_reaches_the_support_queue(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    uac = sipp.run("uac_carrier.xml", "-s", "5550800", remote=daemon.sip_port,
                   local_port=CARRIER2, timeout=TIMEOUT)
    assert uac.ok, uac.describe()
    assert "inbound_call" in demo.logged()


def test_an_unknown_did_is_404(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    uac = sipp.run("uac_carrier_404.xml", "-s", "5550999", remote=daemon.sip_port,
                   local_port=CARRIER, timeout=TIMEOUT)
    assert uac.ok, uac.describe()
    assert "did_not_found" in demo.logged()


def test_a_silent_carrier_and_carrier2_takes_the_call(sipp: Sipp, daemon: Daemon) -> None:
    """Nothing answers on 5070: after the route's 5 s carrier2 gets the INVITE."""
    second = carrier(sipp, "uas_answer.xml", CARRIER2, timeout=TIMEOUT + 10)
    try:
        uac = sipp.run("uac_call.xml", *dial_args("5550700125", daemon.sip_port),
                       *creds(sipp, "1004"), remote=daemon.sip_port, timeout=TIMEOUT + 10)
        took = second.wait(TIMEOUT + 15)
    finally:
        second.stop()
    assert uac.ok, uac.describe()
    assert took.ok, took.describe()
    assert request_uri(took).startswith(f"INVITE sip:+15550700125@127.0.0.1:{CARRIER2} ")
    assert "trunk_no_answer" in daemon.tail() or "trunk_failover" in daemon.tail()


def test_a_carrier_that_stops_answering_its_probes_is_skipped(
        sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    """`carrier` probed every second (down after 2 misses), nothing on 5070: marked down,
    logged, 0 in /metrics, and the next call goes straight to carrier2."""
    demo = (ROOT / "configs" / "demo.toml").read_text()
    marker = "keepalive = 0                # no OPTIONS probes"
    assert marker in demo
    conf = tmp_path / "probed.toml"
    conf.write_text(demo.replace(marker, "keepalive = 1\nkeepalive_misses = 2\n#"))
    d = start_daemon(extra_args=["--config", str(conf)])
    down = d.log.wait_for("trunk_down", 30.0, trunk="carrier")
    assert down is not None, d.tail()
    metrics = httpx.get(f"http://127.0.0.1:{d.http_port}/metrics", timeout=10).text
    assert 'ccswitch_trunk_up{trunk="carrier"} 0.0' in metrics, metrics
    assert 'ccswitch_trunk_up{trunk="carrier2"} 1.0' in metrics
    second = carrier(sipp, "uas_answer.xml", CARRIER2)
    try:
        uac = dial(sipp, d, "uac_call.xml", "1005", "5550700126")
        took = second.wait(TIMEOUT + 5)
    finally:
        second.stop()
    assert uac.ok, uac.describe()
    assert took.ok, took.describe()
    call = d.log.find("outbound_call", number="+15550700126")
    assert call is not None and call["trunks"] == ["carrier2"], d.tail()


# -- Kamailio as the carrier's registrar -------------------------------------------------------
@contextlib.contextmanager
def kamailio_on(tmp_path: Path, cfg: Path, *defines: str) -> Iterator[int]:
    """Kamailio running ``cfg`` (``-A`` ``defines`` besides LISTEN) on a free UDP port;
    yields the port."""
    binary = require_peer("kamailio")
    port = free_port()
    run = tmp_path / f"kamailio-{port}"
    run.mkdir()
    log_path = run / "kamailio.log"
    log = log_path.open("wb")
    args = [binary, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8",
            "-A", f"LISTEN=udp:127.0.0.1:{port}", "-A", "CHILDREN=1", "-Y", str(run)]
    for d in defines:
        args += ["-A", d]
    proc = subprocess.Popen(args, cwd=run, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while "listening on" not in log_path.read_text(errors="replace").lower():
            assert proc.poll() is None and time.monotonic() < deadline, \
                log_path.read_text(errors="replace")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    """Kamailio as a registrar (benchmarks/kamailio/registrar.cfg: digest users 1001-1020,
    password "pw" + the user); yields its port."""
    with kamailio_on(tmp_path, ROOT / "benchmarks" / "kamailio" / "registrar.cfg") as port:
        yield port


def registering(tmp_path: Path, port: int, password: str, username: str = "1001") -> Path:
    demo = (ROOT / "configs" / "demo.toml").read_text()
    old = 'address = "udp:127.0.0.1:5070"'
    assert old in demo
    conf = tmp_path / "registering.toml"
    conf.write_text(demo.replace(old, f'address = "udp:127.0.0.1:{port}"\nregister = true\n'
                                      f'username = "{username}"\npassword = "{password}"\n'
                                      'expires = 600', 1))
    return conf


def test_a_trunk_registers_with_kamailio_through_its_challenge(
        kamailio: int, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    d = start_daemon(extra_args=["--config", str(registering(tmp_path, kamailio, "pw1001"))])
    reg = d.log.wait_for("trunk_registered", 20.0, trunk="carrier")
    assert reg is not None, d.tail()
    assert reg["expires"] == 600
    metrics = httpx.get(f"http://127.0.0.1:{d.http_port}/metrics", timeout=10).text
    assert 'ccswitch_trunk_registered{trunk="carrier"} 1.0' in metrics, metrics


def test_a_wrong_trunk_password_is_not_retried_and_the_trunk_is_skipped(
        kamailio: int, sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path) -> None:
    d = start_daemon(extra_args=["--config", str(registering(tmp_path, kamailio, "wrong"))])
    failed = d.log.wait_for("trunk_registration_failed", 20.0, trunk="carrier")
    assert failed is not None, d.tail()
    second = carrier(sipp, "uas_answer.xml", CARRIER2)
    try:
        uac = dial(sipp, d, "uac_call.xml", "1006", "5550700127")
        took = second.wait(TIMEOUT + 5)
    finally:
        second.stop()
    assert uac.ok, uac.describe()
    assert took.ok, took.describe()
    call = d.log.find("outbound_call", number="+15550700127")
    assert call is not None and call["trunks"] == ["carrier2"], d.tail()


@dataclass(frozen=True)
class CarrierProxy:
    """Kamailio as the carrier (tests/e2e/kamailio/carrier.cfg) in front of a daemon."""

    port: int  # Kamailio's
    far_port: int  # the SIPp "PSTN" far end behind it
    daemon: Daemon


@pytest.fixture
def carrier_proxy(start_daemon: DaemonFactory, tmp_path: Path) -> Iterator[CarrierProxy]:
    """Kamailio as the carrier: our trunk `carrier` points at it, registers with it (account
    acct42), and accepts its calls (its address is the trunk's peer)."""
    far_port, switch_port = free_port(), free_port()
    cfg = ROOT / "tests" / "e2e" / "kamailio" / "carrier.cfg"
    with kamailio_on(tmp_path, cfg, f'FAR="sip:127.0.0.1:{far_port}"',
                     f'SWITCH="sip:127.0.0.1:{switch_port}"', f"SWITCH_PORT={switch_port}",
                     'ACCOUNT="acct42"', 'SECRET="s3cret"') as port:
        conf = registering(tmp_path, port, "s3cret", username="acct42")
        conf.write_text(conf.read_text().replace('peers = ["127.0.0.1:5070"]',
                                                 f'peers = ["127.0.0.1:{port}"]', 1))
        d = start_daemon(sip_port=switch_port, extra_args=["--config", str(conf)])
        assert d.log.wait_for("trunk_registered", 20.0, trunk="carrier") is not None, d.tail()
        yield CarrierProxy(port, far_port, d)


def test_outbound_through_a_carrier_proxy_that_registers_and_challenges_us(
        sipp: Sipp, carrier_proxy: CarrierProxy) -> None:
    """Our trunk registered through Kamailio's challenge (the fixture), our INVITE is
    challenged with 407 and answered once with the trunk's credentials, and the call reaches
    the SIPp far end behind Kamailio as E.164."""
    cp = carrier_proxy
    far = sipp.start("uas_answer.xml", local_port=cp.far_port, timeout=TIMEOUT)
    try:
        uac = dial(sipp, cp.daemon, "uac_call.xml", "1007", "5550700128")
        got = far.wait(TIMEOUT + 5)
    finally:
        far.stop()
    assert uac.ok, uac.describe()
    assert got.ok, got.describe()
    assert request_uri(got).startswith(f"INVITE sip:+15550700128@127.0.0.1:{cp.port} ")
    assert cp.daemon.log.find("trunk_auth", trunk="carrier", status=407) is not None, \
        cp.daemon.tail()


def test_a_pstn_caller_through_the_carrier_proxy_reaches_the_ivr(
        sipp: Sipp, carrier_proxy: CarrierProxy) -> None:
    """A SIPp caller sends its call to Kamailio, which relays it to us: the call is the
    carrier's (no digest) and its DID 5550700 takes it to the IVR."""
    cp = carrier_proxy
    uac = sipp.run("uac_carrier.xml", "-s", "5550700", remote=cp.port, timeout=TIMEOUT)
    assert uac.ok, uac.describe()
    assert 407 not in uac.received_statuses() and 401 not in uac.received_statuses()
    assert cp.daemon.log.find("inbound_call", trunk="carrier", did="5550700") is not None, \
        cp.daemon.tail()


def test_wrong_credentials_never_reach_a_carrier(sipp: Sipp, demo: Demo) -> None:
    daemon = demo.daemon
    uas = carrier(sipp, "uas_answer.xml", CARRIER, timeout=6)
    try:
        uac = sipp.run("uac_call_fail.xml", *dial_args("5550700129", daemon.sip_port),
                       "-inf", str(sipp.credentials("1008", "not-the-password")),
                       remote=daemon.sip_port, timeout=TIMEOUT)
        far = uas.wait(12)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uac.received_statuses()[-1] in (401, 403, 407), uac.describe()
    assert not far.requests("INVITE", "received"), far.describe()


def test_a_flood_of_international_attempts_blocks_the_user(sipp: Sipp, demo: Demo) -> None:
    """5 refused attempts within a minute: fraud_suspected, and then even a national
    number is refused; nothing reaches the carrier."""
    daemon = demo.daemon
    uas = carrier(sipp, "uas_answer.xml", CARRIER, timeout=30)
    try:
        for i in range(5):
            uac = dial(sipp, daemon, "uac_call_fail.xml", "1009", f"01144207946000{i}")
            assert 403 in uac.received_statuses(), uac.describe()
        assert daemon.log.wait_for("fraud_suspected", 5.0, user="1009") is not None
        after = dial(sipp, daemon, "uac_call_fail.xml", "1009", "5550700130")
        assert 403 in after.received_statuses(), after.describe()
        far = uas.wait(35)
    finally:
        uas.stop()
    assert not far.requests("INVITE", "received"), far.describe()
