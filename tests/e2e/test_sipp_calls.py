"""B2BUA calls between registered users through the daemon, SIPp on both sides.

The callee first registers with register.xml from a port, then a UAS scenario takes
that port (SIPp matches requests to calls by Call-ID, so one process cannot do both).
The caller authenticates its INVITE (407 first).

The tests on a running daemon share the module's (``daemon`` below): each has users of its own,
and none calls a user another registered.  The restart, shutdown and reload tests start
daemons of their own.
"""

from __future__ import annotations

import signal
import time

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_sipp import Sipp, SippProcess, SippResult, dial_args, digest_valid
from e2e_util import free_port

pytestmark = pytest.mark.e2e

TIMEOUT = 15.0


@pytest.fixture
def daemon(module_daemon: Daemon) -> Daemon:
    """The module's daemon (demo configuration)."""
    return module_daemon


def creds(sipp: Sipp, user: str, password: str | None = None) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(user, password or f"pw{user}")))


def callee(sipp: Sipp, daemon: Daemon, user: str, scenario: str) -> SippProcess:
    """Register `user` from a fresh port, then run the UAS `scenario` on that port."""
    port = free_port()
    reg = sipp.run(
        "register.xml", *creds(sipp, user), remote=daemon.sip_port, local_port=port, timeout=10
    )
    assert reg.ok, reg.describe()
    return sipp.start(scenario, local_port=port, timeout=TIMEOUT)


def call(sipp: Sipp, daemon: Daemon, scenario: str, caller: str, number: str) -> SippResult:
    return sipp.run(
        scenario,
        *dial_args(number, daemon.sip_port),
        *creds(sipp, caller),
        remote=daemon.sip_port,
        timeout=TIMEOUT,
    )


def finish(uas: SippProcess) -> SippResult:
    return uas.wait(TIMEOUT + 5)


def test_call_answered_and_hung_up_by_the_caller(sipp: Sipp, daemon: Daemon) -> None:
    uas = callee(sipp, daemon, "1002", "uas_answer.xml")
    try:
        uac = call(sipp, daemon, "uac_call.xml", "1001", "1002")
        uas_result = finish(uas)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    assert 407 in uac.received_statuses()[:2]  # challenged first (100 Trying may precede)
    assert digest_valid(uac.requests("INVITE")[1], "pw1001")
    (invite,) = uas_result.requests("INVITE", "received")
    assert "1001" in (invite.header("From") or ""), "caller id lost: " + invite.text
    assert invite.header("Proxy-Authorization") is None  # credentials stay on the A leg
    assert "application/sdp" in (invite.header("Content-Type") or ""), invite.text
    assert invite.header("Call-ID") != uac.requests("INVITE")[1].header("Call-ID")  # B2BUA


def test_call_cancelled_while_ringing(sipp: Sipp, daemon: Daemon) -> None:
    uas = callee(sipp, daemon, "1006", "uas_cancelled.xml")
    try:
        uac = call(sipp, daemon, "uac_cancel.xml", "1005", "1006")
        uas_result = finish(uas)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    assert 487 in uac.received_statuses()


def test_call_hung_up_by_the_callee(sipp: Sipp, daemon: Daemon) -> None:
    uas = callee(sipp, daemon, "1008", "uas_bye.xml")
    try:
        uac = call(sipp, daemon, "uac_callee_bye.xml", "1007", "1008")
        uas_result = finish(uas)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    (bye,) = uac.requests("BYE", "received")
    invite = uac.requests("INVITE")[1]
    assert bye.header("Call-ID") == invite.header("Call-ID")


def test_busy_callee_486_is_relayed(sipp: Sipp, daemon: Daemon) -> None:
    # an agent: phones 1001-1020 have a mailbox, which takes a busy call (test_voicemail.py)
    uas = callee(sipp, daemon, "2010", "uas_busy.xml")
    try:
        uac = call(sipp, daemon, "uac_call_fail.xml", "1009", "2010")
        uas_result = finish(uas)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    assert uac.received_statuses()[-1] == 486


def test_unknown_number_gets_404(sipp: Sipp, daemon: Daemon) -> None:
    uac = call(sipp, daemon, "uac_call_fail.xml", "1011", "55555")
    assert uac.ok, uac.describe()
    assert uac.received_statuses()[-1] == 404


def test_known_user_without_registration_gets_480(sipp: Sipp, daemon: Daemon) -> None:
    # an agent: a phone 1001-1020 without a registration has its mailbox take the call
    uac = call(sipp, daemon, "uac_call_fail.xml", "1012", "2003")
    assert uac.ok, uac.describe()
    assert uac.received_statuses()[-1] == 480


def test_wrong_password_call_never_reaches_the_callee(sipp: Sipp, daemon: Daemon) -> None:
    uas = callee(sipp, daemon, "1015", "uas_answer.xml")
    try:
        uac = sipp.run(
            "uac_call_fail.xml",
            *dial_args("1015", daemon.sip_port),
            *creds(sipp, "1014", "not-the-password"),
            remote=daemon.sip_port,
            timeout=TIMEOUT,
        )
    finally:
        uas.stop()
    uas_result = uas.wait(1)
    assert uac.ok, uac.describe()
    assert uac.received_statuses()[-1] in (401, 403, 407)
    assert not uas_result.requests("INVITE", "received"), uas_result.messages


def test_registration_survives_a_restart(sipp: Sipp, start_daemon: DaemonFactory) -> None:
    first = start_daemon()
    port = free_port()
    reg = sipp.run(
        "register.xml", *creds(sipp, "1017"), remote=first.sip_port, local_port=port, timeout=10
    )
    assert reg.ok, reg.describe()
    rc, _ = first.terminate()
    assert rc == 0, first.tail()

    second = start_daemon(data_dir=first.data_dir)
    uas = sipp.start("uas_answer.xml", local_port=port, timeout=TIMEOUT)
    try:
        uac = call(sipp, second, "uac_call.xml", "1016", "1017")
        uas_result = finish(uas)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()


def test_shutdown_ends_active_calls_with_bye(sipp: Sipp, start_daemon: DaemonFactory) -> None:
    d = start_daemon()
    uas = callee(sipp, d, "1019", "uas_answer.xml")  # waits for a BYE
    uac = sipp.start(  # waits for a BYE too
        "uac_callee_bye.xml",
        *dial_args("1019", d.sip_port),
        *creds(sipp, "1018"),
        remote=d.sip_port,
        timeout=TIMEOUT,
    )
    try:
        time.sleep(1.5)  # call set up and confirmed (takes milliseconds on loopback)
        rc, took = d.terminate()
        uac_result, uas_result = uac.wait(5), uas.wait(5)
    finally:
        uac.stop()
        uas.stop()
    assert rc == 0 and took < 5.0, (rc, took, d.tail())
    assert uac_result.ok, uac_result.describe()
    assert uas_result.ok, uas_result.describe()
    assert uac_result.requests("BYE", "received")
    assert uas_result.requests("BYE", "received")


def test_sighup_reloads_the_configuration_during_a_call(
    sipp: Sipp, start_daemon: DaemonFactory
) -> None:
    """SIGHUP re-reads the configuration (here the unchanged demo): it neither stops the
    daemon nor ends its calls."""
    d = start_daemon()
    uas = callee(sipp, d, "1013", "uas_answer.xml")  # waits for a BYE
    uac = sipp.start(  # waits for a BYE too
        "uac_callee_bye.xml",
        *dial_args("1013", d.sip_port),
        *creds(sipp, "1012"),
        remote=d.sip_port,
        timeout=TIMEOUT,
    )
    try:
        time.sleep(1.5)  # call set up and confirmed
        d.proc.send_signal(signal.SIGHUP)
        ignored = d.log.wait_for("config_reloaded", timeout=10.0)
        time.sleep(0.5)
        alive = d.proc.poll() is None
        early = uac.proc.poll() is not None or uas.proc.poll() is not None  # a BYE would end them
        rc, took = d.terminate()
        uac_result, uas_result = uac.wait(5), uas.wait(5)
    finally:
        uac.stop()
        uas.stop()
    assert ignored is not None, d.tail()
    assert ignored["changed"] == [] and ignored["needs_restart"] == [], ignored
    assert alive, f"SIGHUP stopped the daemon: exit {d.proc.returncode}\n{d.tail()}"
    assert not early, "the call ended after SIGHUP"
    assert rc == 0 and took < 5.0, (rc, took, d.tail())
    assert uac_result.ok, uac_result.describe()
    assert uas_result.ok, uas_result.describe()
