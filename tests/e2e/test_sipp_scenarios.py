"""The SIPp scenarios proven against SIPp test doubles (scenarios/mock/), no daemon needed.

Each scenario the daemon tests use runs here against a mock of the switch side, so a
daemon test that fails points at the daemon, not at the XML. The mocks check the digest
with SIPp's verifyauth, and the wrong-credential cases prove that check is real.
"""

from __future__ import annotations

import time

import pytest
from e2e_sipp import SipMessage, Sipp, SippResult, dial_args, digest_valid
from e2e_util import free_port

pytestmark = pytest.mark.e2e

USER, PASSWORD = "1001", "pw1001"


def pair(
    sipp: Sipp,
    server: str,
    client: str,
    *client_args: str,
    dial: str | None = None,
    server_args: tuple[str, ...] = (),
    transport: str = "u1",
    timeout: float = 10.0,
) -> tuple[SippResult, SippResult]:
    """Run `server` in the background, `client` against it; return (server, client).

    `dial` adds the arguments for the client to call that number.
    """
    port = free_port()
    if dial is not None:
        client_args = (*dial_args(dial, port), *client_args)
    srv = sipp.start(server, *server_args, local_port=port, transport=transport, timeout=timeout)
    try:
        time.sleep(0.3)  # let the server SIPp bind its port
        cli = sipp.run(client, *client_args, remote=port, transport=transport, timeout=timeout)
        return srv.wait(timeout + 5), cli
    finally:
        srv.stop()


def creds(sipp: Sipp, password: str = PASSWORD) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(USER, password)))


MOCK_USER = ("-set", "user", USER, "-set", "pass", PASSWORD)


def test_register_auth_against_mock_registrar(sipp: Sipp) -> None:
    srv, cli = pair(
        sipp, "mock/registrar.xml", "register_auth.xml", *creds(sipp), server_args=MOCK_USER
    )
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    assert cli.received_statuses() == [401, 200, 401, 200]
    sent = cli.sent()
    assert digest_valid(sent[1], PASSWORD)
    assert sent[2].header("Expires") == "0"


def test_register_auth_fails_on_a_wrong_password(sipp: Sipp) -> None:
    _srv, cli = pair(
        sipp,
        "mock/registrar.xml",
        "register_auth.xml",
        *creds(sipp, "wrong"),
        server_args=MOCK_USER,
    )
    assert not cli.ok, cli.describe()
    assert 403 in cli.received_statuses()


def test_register_only_against_mock_registrar(sipp: Sipp) -> None:
    srv, cli = pair(sipp, "mock/registrar.xml", "register.xml", *creds(sipp), server_args=MOCK_USER)
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    assert cli.received_statuses() == [401, 200]


def test_register_wrong_password_accepts_403(sipp: Sipp) -> None:
    _srv, cli = pair(
        sipp,
        "mock/registrar.xml",
        "register_wrong_password.xml",
        *creds(sipp, "wrong"),
        server_args=MOCK_USER,
    )
    assert cli.ok, cli.describe()
    assert cli.received_statuses() == [401, 403]


def test_register_wrong_password_fails_when_accepted(sipp: Sipp) -> None:
    # The right password gets 200 from the mock: the scenario must call that a failure.
    _srv, cli = pair(
        sipp,
        "mock/registrar.xml",
        "register_wrong_password.xml",
        *creds(sipp),
        server_args=MOCK_USER,
    )
    assert not cli.ok, cli.describe()
    assert 200 in cli.received_statuses()


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_options(sipp: Sipp, transport: str) -> None:
    srv, cli = pair(sipp, "mock/options_uas.xml", "options.xml", transport=transport)
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    assert cli.received_statuses() == [200]


def test_uac_call(sipp: Sipp) -> None:
    srv, cli = pair(sipp, "mock/switch_answer.xml", "uac_call.xml", *creds(sipp), dial="1002")
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    statuses = cli.received_statuses()
    assert statuses[:2] == [100, 407]
    assert statuses[-2:] == [200, 200]  # 200 INVITE, 200 BYE
    sent = [m.first_line.split()[0] for m in cli.sent()]
    assert sent == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    first, second = cli.requests("INVITE")
    assert first.header("Proxy-Authorization") is None
    assert digest_valid(second, PASSWORD)
    ack = cli.requests("ACK")[0]
    assert ack.header("Via") == first.header("Via")  # non-2xx ACK: same branch


def test_digest_check_rejects_a_wrong_password(sipp: Sipp) -> None:
    # The mock cannot verify Proxy-Authorization (SIPp's verifyauth reads only
    # Authorization), so the tests check the digest from the trace: prove that check.
    _srv, cli = pair(
        sipp,
        "mock/switch_answer.xml",
        "uac_call.xml",
        *creds(sipp, "bad"),
        dial="1002",
    )
    assert cli.ok, cli.describe()
    invite = cli.requests("INVITE")[1]
    assert not digest_valid(invite, PASSWORD)
    assert digest_valid(invite, "bad")


def test_uac_callee_bye(sipp: Sipp) -> None:
    srv, cli = pair(
        sipp, "mock/switch_callee_bye.xml", "uac_callee_bye.xml", *creds(sipp), dial="1002"
    )
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    (bye,) = cli.requests("BYE", "received")
    assert_in_dialog(bye, local=cli.requests("INVITE")[1])


@pytest.mark.parametrize("mock", ["switch_cancel_cancel_first", "switch_cancel_487_first"])
def test_uac_cancel_either_order(sipp: Sipp, mock: str) -> None:
    srv, cli = pair(sipp, f"mock/{mock}.xml", "uac_cancel.xml", *creds(sipp), dial="1002")
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    assert 487 in cli.received_statuses()
    cancel = next(m for m in cli.trace() if m.first_line.startswith("CANCEL "))
    invite = [m for m in cli.trace() if m.first_line.startswith("INVITE ")][-1]
    assert cancel.header("Via") == invite.header("Via")  # same branch (RFC 3261 9.1)


def test_uac_call_fail_reports_486(sipp: Sipp) -> None:
    srv, cli = pair(sipp, "mock/switch_busy.xml", "uac_call_fail.xml", *creds(sipp), dial="1002")
    assert cli.ok, cli.describe()
    assert srv.ok, srv.describe()
    assert cli.received_statuses()[-1] == 486


def test_uac_call_fail_fails_when_answered(sipp: Sipp) -> None:
    _srv, cli = pair(sipp, "mock/switch_answer.xml", "uac_call_fail.xml", *creds(sipp), dial="1002")
    assert not cli.ok, cli.describe()


@pytest.mark.parametrize(
    ("uas", "mock", "requests"),
    [
        ("uas_answer.xml", "mock/caller_bye.xml", ["INVITE", "ACK", "BYE"]),
        ("uas_bye.xml", "mock/caller_wait_bye.xml", ["INVITE", "ACK"]),
        ("uas_busy.xml", "mock/caller_busy.xml", ["INVITE", "ACK"]),
        ("uas_cancelled.xml", "mock/caller_cancel.xml", ["INVITE", "CANCEL", "ACK"]),
    ],
)
def test_uas(sipp: Sipp, uas: str, mock: str, requests: list[str]) -> None:
    srv, cli = pair(sipp, uas, mock)
    assert srv.ok, srv.describe()
    assert cli.ok, cli.describe()
    got = [m.first_line.split()[0] for m in srv.received() if m.status is None]
    assert got == requests
    for bye in srv.requests("BYE") + srv.requests("BYE", "received"):
        assert tag(bye.header("From")) and tag(bye.header("To")), bye.text


def tag(value: str | None) -> str | None:
    """The tag parameter of a From/To value."""
    if value is None or ";tag=" not in value:
        return None
    return value.split(";tag=", 1)[1].split(";")[0]


def assert_in_dialog(bye: SipMessage, *, local: SipMessage) -> None:
    """A BYE received by the caller: its To is the caller's From, its From has a tag."""
    assert tag(bye.header("To")) == tag(local.header("From")), bye.text
    assert tag(bye.header("From")), bye.text
    assert bye.header("Call-ID") == local.header("Call-ID")
