"""Registration with digest authentication against the daemon, driven by SIPp.

The tests share the module's daemon (``daemon`` below): each has users of its own, and the
daemon counts failed attempts per source address and user."""

from __future__ import annotations

import pytest
from e2e_daemon import Daemon
from e2e_sipp import SipMessage, Sipp, SippResult, digest_params, digest_valid

pytestmark = pytest.mark.e2e


@pytest.fixture
def daemon(module_daemon: Daemon) -> Daemon:
    """The module's daemon (demo configuration)."""
    return module_daemon


def register(
    sipp: Sipp,
    daemon: Daemon,
    scenario: str,
    user: str,
    password: str,
    transport: str = "u1",
) -> SippResult:
    creds = sipp.credentials(user, password)
    return sipp.run(
        scenario, "-inf", str(creds), remote=daemon.sip_port, transport=transport, timeout=15
    )


def challenge(msg: SipMessage) -> dict[str, str]:
    value = msg.header("WWW-Authenticate")
    assert value is not None and value.lower().startswith("digest "), msg.text
    return digest_params(value)


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_register_then_unregister_with_digest(sipp: Sipp, daemon: Daemon, transport: str) -> None:
    result = register(sipp, daemon, "register_auth.xml", "1001", "pw1001", transport)
    assert result.ok, result.describe()
    assert result.received_statuses() == [401, 200, 401, 200]
    first_401, first_200, _, last_200 = result.received()
    params = challenge(first_401)
    assert params.get("realm") == "ccswitch.local"
    assert params.get("algorithm", "MD5").upper() == "MD5"  # demo: MD5 only (CONTRACT)
    assert params.get("nonce")
    assert digest_valid(result.sent()[1], "pw1001")
    # RFC 3261 10.3 step 8: the 200 lists the current bindings, ours included...
    contact = result.sent()[1].header("Contact") or ""
    uri = contact.split("<", 1)[1].split(">", 1)[0]
    assert uri in (first_200.header("Contact") or ""), first_200.text
    # ...and after Expires: 0 it is gone.
    assert uri not in (last_200.header("Contact") or ""), last_200.text


def test_wrong_password_is_never_accepted(sipp: Sipp, daemon: Daemon) -> None:
    result = register(sipp, daemon, "register_wrong_password.xml", "1003", "not-pw1003")
    assert result.ok, result.describe()  # the scenario fails on any 200
    assert 200 not in result.received_statuses()
    assert set(result.received_statuses()) <= {401, 403}


def test_unknown_user_gets_the_same_answers_as_a_wrong_password(sipp: Sipp, daemon: Daemon) -> None:
    known = register(sipp, daemon, "register_wrong_password.xml", "1004", "guess")
    unknown = register(sipp, daemon, "register_wrong_password.xml", "1999", "guess")
    assert known.ok, known.describe()
    assert unknown.ok, unknown.describe()

    def shape(result: SippResult) -> list[tuple[str, list[str], list[str]]]:
        """Per answer: status line, header names, challenge parameter names (no values)."""
        out = []
        for msg in result.received():
            names = sorted(
                line.split(":", 1)[0].strip().lower()
                for line in msg.text.split("\n")[1:]
                if ":" in line and line.strip()
            )
            www = msg.header("WWW-Authenticate")
            params = sorted(digest_params(www)) if www else []
            out.append((msg.first_line, names, params))
        return out

    assert shape(known) == shape(unknown)
    known_realms = {challenge(m).get("realm") for m in known.received() if m.status == 401}
    unknown_realms = {challenge(m).get("realm") for m in unknown.received() if m.status == 401}
    assert known_realms == unknown_realms == {"ccswitch.local"}


def test_repeated_wrong_passwords_end_in_403(sipp: Sipp, daemon: Daemon) -> None:
    # The demo allows 5 failures in 300 s; three runs make 6 credentialed attempts.
    statuses: list[int] = []
    for _ in range(3):
        result = register(sipp, daemon, "register_wrong_password.xml", "1005", "not-pw1005")
        assert result.ok, result.describe()
        statuses += result.received_statuses()
    assert 403 in statuses, statuses
    assert 200 not in statuses
