"""Digest authentication: RFC 7616 vectors, the challenge/answer cycle, stale nonces, replays,
failure blocking, no user enumeration, algorithm order and malformed credentials."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ids import Ids
from ccswitch.sip import auth as auth_module
from ccswitch.sip.auth import (
    AuthOutcome,
    AuthResult,
    Credentials,
    DigestAuthenticator,
    DigestError,
    _parse_auth_plain,
    _parse_auth_scan,
    build_authorization,
    digest_response,
    parse_auth_header,
)
from ccswitch.sip.message import Headers, Request

REALM = "ccswitch.local"
URI = "sip:ccswitch.local"
SRC = "192.0.2.10"

# RFC 7616 §3.9.1
RFC_USER = "Mufasa"
RFC_PASSWORD = "Circle of Life"
RFC_REALM = "http-auth@example.org"
RFC_URI = "/dir/index.html"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_MD5 = "8ca523f5e9506fed4657c9700eebdbec"
RFC_SHA256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

USERS = {
    "1001": Credentials("secret1001"),
    "1002": Credentials("secret1002", algorithms=("SHA-256", "MD5")),
    "1003": Credentials("secret1003", algorithms=("SHA-256",)),
}


def make_auth(**kw: object) -> DigestAuthenticator:
    args: dict[str, object] = {"realm": REALM, "lookup": USERS.get,
                               "ids": Ids(random.Random(7))}
    args.update(kw)
    return DigestAuthenticator(**args)  # type: ignore[arg-type]


def request(method: str = "REGISTER", uri: str = URI, *, auth: tuple[str, ...] = (),
            header: str = "Authorization") -> Request:
    headers = Headers([
        ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx"),
        ("From", "<sip:1001@ccswitch.local>;tag=a"),
        ("To", "<sip:1001@ccswitch.local>"),
        ("Call-ID", "c1"),
        ("CSeq", f"1 {method}"),
    ])
    for value in auth:
        headers.add(header, value)
    return Request(method, uri, headers)


def params_of(header_value: str) -> dict[str, str]:
    scheme, params = parse_auth_header(header_value)
    assert scheme == "Digest"
    return params


def answer(result: AuthResult, *, user: str = "1001", password: str = "secret1001",
           method: str = "REGISTER", uri: str = URI, index: int = 0, nc: int = 1,
           cnonce: str = "cn0") -> str:
    """The client's credentials answering the ``index``-th challenge of ``result``."""
    return build_authorization(result.headers[index][1], method=method, uri=uri, user=user,
                               password=password, cnonce=cnonce, nc=nc)


def first_challenge(a: DigestAuthenticator, now: float = 0.0,
                    proxy: bool = False) -> AuthResult:
    res = a.check(request(), source_host=SRC, now=now, proxy=proxy)
    assert res.outcome is AuthOutcome.CHALLENGE
    return res


def check(a: DigestAuthenticator, creds: str, *, now: float = 1.0, source: str = SRC,
          method: str = "REGISTER", uri: str = URI, proxy: bool = False) -> AuthResult:
    header = "Proxy-Authorization" if proxy else "Authorization"
    req = request(method, uri, auth=(creds,), header=header)
    return a.check(req, source_host=source, now=now, proxy=proxy)


def algorithms(res: AuthResult) -> list[str]:
    return [params_of(v)["algorithm"] for _, v in res.headers]


# -- RFC 7616 §3.9.1 vectors ---------------------------------------------------------------
@pytest.mark.parametrize(("alg", "expected"), [("MD5", RFC_MD5), ("SHA-256", RFC_SHA256)])
def test_rfc7616_vectors(alg: str, expected: str) -> None:
    got = digest_response(algorithm=alg, user=RFC_USER, realm=RFC_REALM, password=RFC_PASSWORD,
                          method="GET", uri=RFC_URI, nonce=RFC_NONCE, qop="auth",
                          nc="00000001", cnonce=RFC_CNONCE)
    assert got == expected


@pytest.mark.parametrize(("alg", "expected"), [("MD5", RFC_MD5), ("SHA-256", RFC_SHA256)])
def test_build_authorization_reproduces_rfc7616_example(alg: str, expected: str) -> None:
    challenge = (f'Digest realm="{RFC_REALM}",\t qop="auth, auth-int", algorithm={alg}, '
                 f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"')
    value = build_authorization(challenge, method="GET", uri=RFC_URI, user=RFC_USER,
                                password=RFC_PASSWORD, cnonce=RFC_CNONCE, nc=1)
    p = params_of(value)
    assert p["response"] == expected
    assert p["nc"] == "00000001"
    assert p["qop"] == "auth"
    assert p["opaque"] == RFC_OPAQUE
    assert p["algorithm"] == alg
    assert p["uri"] == RFC_URI


def test_rfc2069_form_without_qop() -> None:
    # RFC 2617 §3.5 without qop reduces to H(HA1:nonce:HA2); cross-check by hand.
    import hashlib

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1, ha2 = md5("u:r:p"), md5("REGISTER:sip:x")
    assert digest_response(algorithm="md5", user="u", realm="r", password="p",
                           method="REGISTER", uri="sip:x", nonce="n") == md5(f"{ha1}:n:{ha2}")
    value = build_authorization('Digest realm="r", nonce="n"', method="REGISTER",
                                uri="sip:x", user="u", password="p", cnonce="c")
    assert "qop" not in params_of(value) and "cnonce" not in params_of(value)


# -- header parsing --------------------------------------------------------------------------
def test_parse_quoted_escapes_commas_case_and_whitespace() -> None:
    scheme, p = parse_auth_header(
        '  digest  USERNAME = "a\\"b,c" ,realm="r, s",, nc=00000001 ,'
        '\tAlgorithm=SHA-256,uri="sip:x@y;a=b"  ')
    assert scheme == "digest"
    assert p == {"username": 'a"b,c', "realm": "r, s", "nc": "00000001",
                 "algorithm": "SHA-256", "uri": "sip:x@y;a=b"}


@pytest.mark.parametrize("bad", [
    "", "Digest realm", 'Digest realm="unterminated', "Digest realm=a b",
    'Digest realm="a" nonce="b"', "Digest =x", "Digest realm=", 'Digest realm="a", realm="b"',
    'Digest,realm="a"', 'Digest realm=a"b"', 'Digest realm="a\\',
])
def test_parse_rejects_malformed(bad: str) -> None:
    with pytest.raises(DigestError):
        parse_auth_header(bad)


def test_build_authorization_rejects_unusable_challenges() -> None:
    for challenge in ('Basic realm="r"', 'Digest nonce="n"', 'Digest realm="r"',
                      'Digest realm="r", nonce="n", algorithm=SHA-512-256',
                      'Digest realm="r", nonce="n", qop="auth-int"', "Digest realm"):
        with pytest.raises(DigestError):
            build_authorization(challenge, method="INVITE", uri="sip:x", user="u",
                                password="p", cnonce="c")


# -- the challenge / answer cycle -----------------------------------------------------------
def test_register_round_trip_401() -> None:
    a = make_auth()
    ch = first_challenge(a)
    assert (ch.status, ch.reason) == (401, "Unauthorized")
    assert len(ch.headers) == 1
    name, value = ch.headers[0]
    assert name == "WWW-Authenticate"
    assert value.startswith('Digest realm="ccswitch.local", nonce="')
    assert value.endswith('", algorithm=MD5, qop="auth"')
    p = params_of(value)
    assert len(p["nonce"]) == 32 and int(p["nonce"], 16) >= 0
    ok = check(a, answer(ch))
    assert ok == AuthResult(AuthOutcome.OK, user="1001")
    assert a.counters["ok"] == 1 and a.counters["failure"] == 0


def test_invite_round_trip_407_uses_proxy_headers_only() -> None:
    a = make_auth()
    ch = first_challenge(a, proxy=True)
    assert (ch.status, ch.reason) == (407, "Proxy Authentication Required")
    assert [n for n, _ in ch.headers] == ["Proxy-Authenticate"]
    creds = answer(ch, method="INVITE", uri="sip:2001@ccswitch.local")
    # Authorization (not Proxy-Authorization) does not count for a proxy challenge.
    req = request("INVITE", "sip:2001@ccswitch.local", auth=(creds,), header="Authorization")
    wrong_header = a.check(req, source_host=SRC, now=1.0, proxy=True)
    assert wrong_header.outcome is AuthOutcome.CHALLENGE and wrong_header.status == 407
    assert a.counters["failure"] == 0
    ok = check(a, creds, method="INVITE", uri="sip:2001@ccswitch.local", proxy=True)
    assert ok.outcome is AuthOutcome.OK and ok.user == "1001"


def test_method_is_part_of_the_digest() -> None:
    a = make_auth()
    creds = answer(first_challenge(a), method="INVITE")
    res = check(a, creds, method="REGISTER")
    assert res.outcome is AuthOutcome.CHALLENGE
    assert a.counters["failure"] == 1


def test_wrong_password_challenges_without_stale() -> None:
    a = make_auth()
    res = check(a, answer(first_challenge(a), password="nope"))
    assert res.outcome is AuthOutcome.CHALLENGE and res.status == 401
    assert "stale" not in params_of(res.headers[0][1])
    assert a.counters["failure"] == 1


def test_uri_must_be_the_request_uri() -> None:
    a = make_auth()
    ch = first_challenge(a)
    mismatch = check(a, answer(ch, uri="sip:other.example"), uri=URI)
    assert mismatch.outcome is AuthOutcome.CHALLENGE
    assert a.counters["failure"] == 1
    # The same URI spelt differently (host case, spaces) is tolerated.
    creds = answer(ch, uri="sip:CCSWITCH.local")
    assert check(a, creds, uri=URI).outcome is AuthOutcome.OK


def test_uri_naming_the_same_server_with_another_user_is_accepted() -> None:
    """SIPp 3.6 signs sip:HOST:PORT of the server instead of the Request-URI."""
    a = make_auth()
    ruri = "sip:1002@127.0.0.1:5060"
    ok = check(a, answer(first_challenge(a), uri="sip:127.0.0.1:5060"), uri=ruri)
    assert ok.outcome is AuthOutcome.OK
    other_port = check(a, answer(first_challenge(a), uri="sip:127.0.0.1:5070"), uri=ruri)
    assert other_port.outcome is AuthOutcome.CHALLENGE


def test_qop_other_than_auth_is_refused_even_with_matching_digest() -> None:
    a = make_auth()
    nonce = params_of(first_challenge(a).headers[0][1])["nonce"]
    resp = digest_response(algorithm="MD5", user="1001", realm=REALM, password="secret1001",
                           method="REGISTER", uri=URI, nonce=nonce, qop="auth-int",
                           nc="00000001", cnonce="c")
    creds = (f'Digest username="1001", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
             f'response="{resp}", qop=auth-int, nc=00000001, cnonce="c"')
    assert check(a, creds).outcome is AuthOutcome.CHALLENGE
    assert a.counters["failure"] == 1


def test_upper_case_hex_response_accepted() -> None:
    a = make_auth()
    creds = answer(first_challenge(a))
    resp = params_of(creds)["response"]
    creds = creds.replace(resp, resp.upper())
    assert check(a, creds).outcome is AuthOutcome.OK


def test_unknown_user_cannot_pass_with_the_dummy_secret() -> None:
    a = make_auth()
    dummy = a._dummy_secret  # the secret unknown users are checked against
    res = check(a, answer(first_challenge(a), user="9999", password=dummy))
    assert res.outcome is AuthOutcome.CHALLENGE
    assert a.counters["failure"] == 1


def test_rfc2069_answer_accepted_for_md5_only() -> None:
    a = make_auth(algorithms=("SHA-256", "MD5"))
    ch = first_challenge(a)
    nonce = params_of(ch.headers[0][1])["nonce"]
    for alg, ok in (("MD5", True), ("SHA-256", False)):
        resp = digest_response(algorithm=alg, user="1001", realm=REALM, password="secret1001",
                               method="REGISTER", uri=URI, nonce=nonce)
        creds = (f'Digest username="1001", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
                 f'response="{resp}", algorithm={alg}')
        res = check(a, creds)
        assert (res.outcome is AuthOutcome.OK) is ok, alg


@pytest.mark.parametrize("alg", ["MD5-sess", "SHA-256-sess"])
def test_sess_variants_round_trip(alg: str) -> None:
    a = make_auth(algorithms=(alg,))
    ch = first_challenge(a)
    assert algorithms(ch) == [alg]
    assert check(a, answer(ch)).outcome is AuthOutcome.OK


# -- nonces ----------------------------------------------------------------------------------
def test_expired_nonce_gets_stale_challenge_not_failure() -> None:
    a = make_auth(nonce_ttl=30.0)
    ch = first_challenge(a, now=0.0)
    res = check(a, answer(ch), now=30.5)
    assert res.outcome is AuthOutcome.CHALLENGE
    p = params_of(res.headers[0][1])
    assert p["stale"] == "true"
    assert p["nonce"] != params_of(ch.headers[0][1])["nonce"]
    assert a.counters["failure"] == 0 and a.counters["stale"] == 1
    assert check(a, answer(res), now=31.0).outcome is AuthOutcome.OK


def test_nonce_still_valid_just_before_ttl() -> None:
    a = make_auth(nonce_ttl=30.0)
    ch = first_challenge(a, now=0.0)
    assert check(a, answer(ch), now=29.9).outcome is AuthOutcome.OK


def test_unknown_nonce_after_restart_is_stale_only_if_digest_correct() -> None:
    ch = first_challenge(make_auth())
    restarted = make_auth(ids=Ids(random.Random(99)))
    good = check(restarted, answer(ch))
    assert params_of(good.headers[0][1]).get("stale") == "true"
    bad = check(restarted, answer(ch, password="guess"))
    assert bad.outcome is AuthOutcome.CHALLENGE
    assert "stale" not in params_of(bad.headers[0][1])
    assert restarted.counters["failure"] == 1


def test_nonce_count_replay_is_challenged_and_not_a_failure() -> None:
    a = make_auth(max_failures=1)
    ch = first_challenge(a)
    assert check(a, answer(ch, nc=1)).outcome is AuthOutcome.OK
    replay = check(a, answer(ch, nc=1))
    assert replay.outcome is AuthOutcome.CHALLENGE
    assert params_of(replay.headers[0][1])["stale"] == "true"
    assert a.counters["replay"] == 1 and a.counters["failure"] == 0
    assert check(a, answer(ch, nc=3)).outcome is AuthOutcome.OK
    assert check(a, answer(ch, nc=2)).outcome is AuthOutcome.CHALLENGE  # went backwards
    assert check(a, answer(ch, nc=4)).outcome is AuthOutcome.OK
    assert a.counters["replay"] == 2
    # With max_failures=1 a failure would have blocked the pair; replays did not.
    assert check(a, answer(ch, nc=5)).outcome is AuthOutcome.OK


def test_timer_prunes_nonces_and_reports_deadlines() -> None:
    a = make_auth(nonce_ttl=10.0, failure_window=100.0)
    assert a.next_deadline() is None
    first_challenge(a, now=0.0)
    first_challenge(a, now=4.0)
    assert a.next_deadline() == 10.0
    a.handle_timer(10.0)
    assert a.next_deadline() == 14.0
    a.handle_timer(14.0)
    assert a.next_deadline() is None
    check(a, 'Digest realm="ccswitch.local", username="1001"', now=20.0)  # a failure
    assert a.next_deadline() == 30.0  # the new challenge's nonce first, then the record
    a.handle_timer(30.0)
    assert a.next_deadline() == 120.0
    a.handle_timer(120.0)
    assert a.next_deadline() is None


def test_state_is_bounded_oldest_entries_evicted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, "MAX_NONCES", 2)
    monkeypatch.setattr(auth_module, "MAX_FAILURE_RECORDS", 1)
    a = make_auth(max_failures=2)
    oldest = first_challenge(a)
    first_challenge(a)
    first_challenge(a)
    res = check(a, answer(oldest))
    assert params_of(res.headers[0][1])["stale"] == "true"  # its nonce was evicted
    assert check(a, answer(res, password="bad"), source="198.51.100.1").status == 401
    assert check(a, answer(res, password="bad"), source="198.51.100.2").status == 401
    # The first source's record was evicted, so its next failure starts a new count.
    assert check(a, answer(res, password="bad"), source="198.51.100.1").status == 401
    assert check(a, answer(res, password="bad"), source="198.51.100.1").status == 401
    assert check(a, answer(res, password="bad"), source="198.51.100.1").status == 403
    assert a.counters["evicted"] >= 3


# -- enumeration -----------------------------------------------------------------------------
def shape(res: AuthResult) -> tuple[object, ...]:
    """What goes on the wire (``user`` and ``failure`` are for the operator's log only)."""
    return (res.outcome, res.status, res.reason,
            [(n, sorted(params_of(v)), params_of(v)["algorithm"], params_of(v).get("stale"))
             for n, v in res.headers])


@pytest.mark.parametrize("proxy", [False, True])
def test_unknown_user_indistinguishable_from_wrong_password(proxy: bool) -> None:
    a = make_auth(algorithms=("SHA-256", "MD5"))
    ch = first_challenge(a, proxy=proxy)
    wrong = check(a, answer(ch, user="1001", password="x"), proxy=proxy)
    unknown = check(a, answer(ch, user="9999", password="x", cnonce="cn1"), proxy=proxy)
    assert shape(wrong) == shape(unknown)
    assert (wrong.failure, unknown.failure) == ("wrong_password", "unknown_user")  # the log's
    assert wrong.outcome is AuthOutcome.CHALLENGE
    assert algorithms(unknown) == ["SHA-256", "MD5"]
    # With a nonce the server does not know (after a restart): still alike, neither stale.
    restarted = make_auth(algorithms=("SHA-256", "MD5"), ids=Ids(random.Random(3)))
    assert shape(check(restarted, answer(ch, user="9999", password=""), proxy=proxy)) == \
        shape(check(restarted, answer(ch, user="1001", password=""), proxy=proxy))


def test_unknown_user_blocked_like_known_user() -> None:
    a = make_auth(max_failures=2)
    results = {}
    for user in ("1001", "9999"):
        ch = first_challenge(a)
        seq = [check(a, answer(ch, user=user, password="x", cnonce=str(i))).status
               for i in range(3)]
        results[user] = seq
    assert results["1001"] == results["9999"] == [401, 401, 403]


# -- failures and blocking -------------------------------------------------------------------
def test_forbidden_after_max_failures_and_recovery_after_window() -> None:
    a = make_auth(max_failures=3, failure_window=60.0)
    ch = first_challenge(a)
    results = [check(a, answer(ch, password="bad", cnonce=str(i)), now=1.0 + i)
               for i in range(3)]
    assert [r.status for r in results] == [401, 401, 401]
    assert [(r.failure, r.failures, r.blocked, r.user) for r in results] == [
        ("wrong_password", 1, False, "1001"), ("wrong_password", 2, False, "1001"),
        ("wrong_password", 3, True, "1001")]  # the third failure starts the block
    # Blocked from here: even the right password is refused.
    blocked = check(a, answer(ch, nc=2), now=5.0)
    assert shape(blocked) == shape(AuthResult(AuthOutcome.FORBIDDEN, status=403,
                                              reason="Forbidden"))
    assert (blocked.failure, blocked.blocked, blocked.user) == ("blocked", False, "1001")
    assert check(a, answer(ch, password="bad"), now=6.0).status == 403
    # Another source, and another user from the same source, are not blocked.
    other = first_challenge(a, now=7.0)
    assert check(a, answer(other), now=7.0, source="198.51.100.1").outcome is AuthOutcome.OK
    other = first_challenge(a, now=7.0)
    creds = answer(other, user="1002", password="secret1002")
    assert check(a, creds, now=7.0).outcome is AuthOutcome.OK
    # The block ends one window after it began (at t=3).
    ch = first_challenge(a, now=62.9)
    assert check(a, answer(ch), now=62.9).status == 403
    assert check(a, answer(ch, nc=2), now=63.0).outcome is AuthOutcome.OK
    assert a.counters["forbidden"] == 3 and a.counters["blocked"] == 1


def test_success_resets_the_failure_count() -> None:
    a = make_auth(max_failures=3)
    ch = first_challenge(a)
    nc = iter(range(1, 100))
    for _ in range(2):
        assert check(a, answer(ch, password="bad")).status == 401
        assert check(a, answer(ch, password="bad")).status == 401
        assert check(a, answer(ch, nc=next(nc))).outcome is AuthOutcome.OK


def test_failures_outside_the_window_do_not_add_up() -> None:
    a = make_auth(max_failures=2, failure_window=10.0)
    ch = first_challenge(a)
    assert check(a, answer(ch, password="bad"), now=1.0).status == 401
    assert check(a, answer(ch, password="bad"), now=11.0).status == 401
    assert check(a, answer(ch, password="bad"), now=11.5).status == 401  # 2nd in window
    assert check(a, answer(ch), now=12.0).status == 403


def test_no_credentials_never_blocked_or_counted() -> None:
    a = make_auth(max_failures=1)
    for t in range(5):
        assert first_challenge(a, now=float(t)).status == 401
    assert a.counters["failure"] == 0


# -- algorithms ------------------------------------------------------------------------------
def test_global_algorithms_offered_in_configured_order() -> None:
    a = make_auth(algorithms=("sha-256", "MD5"))
    ch = first_challenge(a)
    assert algorithms(ch) == ["SHA-256", "MD5"]
    nonces = {params_of(v)["nonce"] for _, v in ch.headers}
    assert len(nonces) == 1
    assert check(a, answer(ch, index=0)).outcome is AuthOutcome.OK
    assert check(a, answer(ch, index=1, nc=2)).outcome is AuthOutcome.OK
    b = make_auth(algorithms=("MD5", "SHA-256"))
    assert algorithms(first_challenge(b)) == ["MD5", "SHA-256"]


def test_per_user_algorithms_only_for_requests_naming_that_user() -> None:
    a = make_auth()  # global: MD5 only
    ch = first_challenge(a)
    assert algorithms(ch) == ["MD5"]  # no credentials: global
    wrong = check(a, answer(ch, user="1002", password="bad"))
    assert algorithms(wrong) == ["SHA-256", "MD5"]  # names 1002: its own order
    assert algorithms(check(a, answer(ch, user="9998", password="bad"))) == ["MD5"]
    assert algorithms(check(a, answer(ch, user="1001", password="bad"))) == ["MD5"]
    ok = check(a, answer(wrong, user="1002", password="secret1002", index=0))
    assert ok.outcome is AuthOutcome.OK and ok.user == "1002"


def test_user_not_offered_an_algorithm_gets_stale_challenge_with_its_own() -> None:
    a = make_auth()  # global MD5; 1003 allows SHA-256 only
    ch = first_challenge(a)
    res = check(a, answer(ch, user="1003", password="secret1003"))
    assert res.outcome is AuthOutcome.CHALLENGE
    assert algorithms(res) == ["SHA-256"]
    assert params_of(res.headers[0][1])["stale"] == "true"
    assert a.counters["failure"] == 0
    ok = check(a, answer(res, user="1003", password="secret1003"))
    assert ok.outcome is AuthOutcome.OK


def test_bad_configuration_rejected() -> None:
    for kw in ({"algorithms": ()}, {"algorithms": ("SHA-512",)}, {"nonce_ttl": 0.0},
               {"max_failures": 0}):
        with pytest.raises(ValueError):
            make_auth(**kw)


# -- malformed credentials and header selection ---------------------------------------------
MALFORMED = [
    "Digest",
    "Digest realm",
    'Digest realm="ccswitch.local", username="1001", nonce="unterminated',
    'Digest realm="ccswitch.local", username="1001"',  # no nonce/uri/response
    'Digest realm="ccswitch.local", realm="ccswitch.local", username="1001"',
    'Digest username="1001", nonce="n", uri="sip:ccswitch.local", response="r"',  # no realm
    'Digest realm="ccswitch.local", username="1001", nonce="n", uri="sip:ccswitch.local", '
    'response="r", qop=auth-int, nc=00000001, cnonce="c"',
    'Digest realm="ccswitch.local", username="1001", nonce="n", uri="sip:ccswitch.local", '
    'response="r", qop=auth, nc=xyz, cnonce="c"',
    'Digest realm="ccswitch.local", username="1001", nonce="n", uri="sip:ccswitch.local", '
    'response="r", qop=auth, nc=00000001',
    'Digest realm="ccswitch.local", username="1001", nonce="n", uri="not a uri", '
    'response="r", algorithm=AKAv1-MD5',
    'Digest realm="ccswitch.local", username="1001", nonce="n", uri="sip:ccswitch.local", '
    'response="\u00e9\u00e9"',
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_credentials_are_a_failure_and_a_challenge(value: str) -> None:
    a = make_auth()
    first_challenge(a)
    res = check(a, value)
    assert res.outcome is AuthOutcome.CHALLENGE and res.status == 401
    assert algorithms(res) == ["MD5"]
    assert a.counters["failure"] == 1


def test_header_for_our_realm_is_picked_among_several() -> None:
    a = make_auth()
    ch = first_challenge(a)
    foreign = ('Digest username="x", realm="upstream.example", nonce="n", uri="sip:a", '
               'response="0"')
    req = request(auth=("Basic Zm9vOmJhcg==", foreign, answer(ch)))
    res = a.check(req, source_host=SRC, now=1.0, proxy=False)
    assert res.outcome is AuthOutcome.OK and res.user == "1001"
    # Only another realm's credentials: a plain challenge, not a failure.
    only_foreign = a.check(request(auth=(foreign,)), source_host=SRC, now=1.0, proxy=False)
    assert only_foreign.outcome is AuthOutcome.CHALLENGE
    assert a.counters["failure"] == 0


def test_other_schemes_are_ignored_even_for_our_realm() -> None:
    a = make_auth(max_failures=1)
    for _ in range(3):
        res = check(a, f'NTLM realm="{REALM}", username="1001", nonce="n", uri="{URI}"')
        assert res.outcome is AuthOutcome.CHALLENGE and res.status == 401
    assert a.counters["failure"] == 0


class RepeatingIds(Ids):
    """Ids whose nonces repeat, to force a collision."""

    __slots__ = ("_nonces",)

    def __init__(self) -> None:
        super().__init__(random.Random(1))
        self._nonces = iter(["a" * 32, "a" * 32, "b" * 32])

    def nonce(self) -> str:
        return next(self._nonces)


def test_colliding_nonce_is_never_issued_twice() -> None:
    a = make_auth(ids=RepeatingIds())
    n1 = params_of(first_challenge(a).headers[0][1])["nonce"]
    n2 = params_of(first_challenge(a).headers[0][1])["nonce"]
    assert (n1, n2) == ("a" * 32, "b" * 32)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["", 'Digest realm="ccswitch.local", ']))
def test_check_never_raises_on_arbitrary_credentials(junk: str, prefix: str) -> None:
    a = make_auth()
    res = a.check(request(auth=(prefix + junk,)), source_host=SRC, now=1.0, proxy=False)
    assert res.outcome is AuthOutcome.CHALLENGE


@settings(max_examples=1500, deadline=None)
@given(st.one_of(
    st.text(alphabet='Digest aZ9=",\\\t\r\n-.!%*_+`\'~;:/@', max_size=60),
    st.lists(st.tuples(st.sampled_from(["realm", "Nonce", "uri", "qop", "nc", "", "a b"]),
                       st.sampled_from(["=", " = ", "=\t", " "]),
                       st.text(alphabet='ab9 ,"\\:@', max_size=8),
                       st.booleans(),
                       st.sampled_from([",", ", ", " ,", ",,", " ", ""])),
             max_size=5).map(lambda ps: "Digest " + "".join(
                 f'{k}{eq}"{v}"{sep}' if q else f"{k}{eq}{v}{sep}" for k, eq, v, q, sep in ps)),
))
def test_the_plain_reading_of_credentials_agrees_with_the_scanner(value: str) -> None:
    s = value.strip()
    fast = _parse_auth_plain(s)
    try:
        scanned: object = _parse_auth_scan(s)
    except DigestError:
        scanned = DigestError
    if fast is not None:  # read by the expressions: exactly what the scanner reads
        assert fast == scanned
