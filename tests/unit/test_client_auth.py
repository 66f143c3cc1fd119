"""Answering 401/407 as a client: RFC vectors, the round trip against our own server
(``sip/auth.py``), algorithm and qop choice, stale nonces, rejected credentials, realms."""

from __future__ import annotations

import random

import pytest

from ccswitch.ids import Ids
from ccswitch.sip.auth import AuthOutcome, Credentials, DigestAuthenticator, parse_auth_header
from ccswitch.sip.client_auth import DigestClient, parse_challenges
from ccswitch.sip.message import Headers, Request, Response, make_response

REALM = "carrier.example"
URI = "sip:carrier.example"
SRC = "192.0.2.10"


class FixedIds(Ids):
    """Ids whose tokens are given in advance (to reproduce an RFC example's cnonce)."""

    def __init__(self, *tokens: str) -> None:
        super().__init__(random.Random(0))
        self._tokens = list(tokens)

    def token(self, n: int = 16) -> str:
        return self._tokens.pop(0)


def register(*, auth: tuple[tuple[str, str], ...] = (), method: str = "REGISTER",
             uri: str = URI) -> Request:
    headers = Headers([
        ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx"),
        ("From", "<sip:trunk@carrier.example>;tag=a"),
        ("To", "<sip:trunk@carrier.example>"),
        ("Call-ID", "c1"),
        ("CSeq", f"1 {method}"),
    ])
    for name, value in auth:
        headers.add(name, value)
    return Request(method, uri, headers)


def challenge(*values: str, status: int = 401) -> Response:
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    return make_response(register(), status, "Unauthorized",
                         headers=[(name, v) for v in values])


def server(**kw: object) -> DigestAuthenticator:
    args: dict[str, object] = {"realm": REALM, "ids": Ids(random.Random(3)),
                               "lookup": {"trunk": Credentials("s3cret")}.get}
    args.update(kw)
    return DigestAuthenticator(**args)  # type: ignore[arg-type]


def client(password: str = "s3cret", realm: str | None = None, seed: int = 1) -> DigestClient:
    return DigestClient(user="trunk", password=password, ids=Ids(random.Random(seed)),
                        realm=realm)


def server_challenge(a: DigestAuthenticator, req: Request, *, now: float = 0.0,
                     proxy: bool = False) -> tuple[AuthOutcome, Response]:
    res = a.check(req, source_host=SRC, now=now, proxy=proxy)
    resp = make_response(req, res.status or 200, res.reason or "OK", headers=res.headers)
    return res.outcome, resp


# -- RFC vectors ---------------------------------------------------------------------------
def test_rfc2617_example_is_reproduced() -> None:
    """RFC 2617 §3.5: Mufasa / "Circle Of Life", qop=auth, cnonce 0a4f113b."""
    c = DigestClient(user="Mufasa", password="Circle Of Life", ids=FixedIds("0a4f113b"))
    resp = challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                     'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                     'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    ans = c.session().answer(resp, method="GET", uri="/dir/index.html")
    assert ans.ok
    (name, value), = ans.headers
    assert name == "Authorization"
    _, p = parse_auth_header(value)
    assert p["response"] == "6629fae49393a05397450978507c4ef1"
    assert (p["qop"], p["nc"], p["cnonce"]) == ("auth", "00000001", "0a4f113b")
    assert p["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


@pytest.mark.parametrize(("alg", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")])
def test_rfc7616_example_is_reproduced(alg: str, expected: str) -> None:
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    c = DigestClient(user="Mufasa", password="Circle of Life", ids=FixedIds(cnonce))
    resp = challenge(f'Digest realm="http-auth@example.org", qop="auth, auth-int", '
                     f'algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
                     f'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    ans = c.session().answer(resp, method="GET", uri="/dir/index.html")
    _, p = parse_auth_header(ans.headers[0][1])
    assert p["response"] == expected
    assert p["algorithm"] == alg


# -- against our own server ----------------------------------------------------------------
@pytest.mark.parametrize("algorithms", [("MD5",), ("SHA-256",), ("SHA-256", "MD5")])
@pytest.mark.parametrize("proxy", [False, True])
def test_round_trip_with_our_server(algorithms: tuple[str, ...], proxy: bool) -> None:
    a = server(algorithms=algorithms)
    c = client()
    outcome, resp = server_challenge(a, register(), proxy=proxy)
    assert outcome is AuthOutcome.CHALLENGE
    ans = c.session().answer(resp, method="REGISTER", uri=URI)
    assert ans.ok
    (name, value), = ans.headers
    assert name == ("Proxy-Authorization" if proxy else "Authorization")
    assert parse_auth_header(value)[1]["algorithm"] == algorithms[0]  # the server's first
    res = a.check(register(auth=ans.headers), source_host=SRC, now=1.0, proxy=proxy)
    assert res.outcome is AuthOutcome.OK
    assert res.user == "trunk"


def test_preemptive_credentials_count_up_and_are_accepted() -> None:
    a, c = server(), client()
    _, resp = server_challenge(a, register())
    ans = c.session().answer(resp, method="REGISTER", uri=URI)
    assert a.check(register(auth=ans.headers), source_host=SRC, now=1.0,
                   proxy=False).outcome is AuthOutcome.OK
    ncs = []
    for now in (2.0, 3.0):
        pre = c.preemptive(method="REGISTER", uri=URI)
        ncs.append(parse_auth_header(pre[0][1])[1]["nc"])
        assert a.check(register(auth=pre), source_host=SRC, now=now,
                       proxy=False).outcome is AuthOutcome.OK
    assert ncs == ["00000002", "00000003"]
    c.forget()
    assert c.preemptive(method="REGISTER", uri=URI) == ()


def test_no_preemptive_credentials_before_a_challenge() -> None:
    assert client().preemptive(method="REGISTER", uri=URI) == ()


def test_wrong_password_is_answered_once_then_given_up() -> None:
    """Our server re-challenges with a fresh nonce on a wrong digest: the client must not
    loop."""
    a, c = server(), client(password="wrong")
    session = c.session()
    _, resp = server_challenge(a, register())
    first = session.answer(resp, method="REGISTER", uri=URI)
    assert first.ok
    outcome, resp2 = server_challenge(a, register(auth=first.headers), now=1.0)
    assert outcome is AuthOutcome.CHALLENGE
    second = session.answer(resp2, method="REGISTER", uri=URI)
    assert not second.ok
    assert second.reason == "rejected"


def test_the_same_challenge_is_never_answered_twice() -> None:
    session = client().session()
    resp = challenge('Digest realm="r", nonce="n1", qop="auth", stale=true')
    assert session.answer(resp, method="REGISTER", uri=URI).ok
    again = session.answer(resp, method="REGISTER", uri=URI)
    assert (again.ok, again.reason) == (False, "rejected")


def test_stale_is_retried_once() -> None:
    session = client().session()
    assert session.answer(challenge('Digest realm="r", nonce="n1", qop="auth"'),
                          method="REGISTER", uri=URI).ok
    stale1 = session.answer(challenge('Digest realm="r", nonce="n2", qop="auth", stale=TRUE'),
                            method="REGISTER", uri=URI)
    assert stale1.ok
    stale2 = session.answer(challenge('Digest realm="r", nonce="n3", qop="auth", stale=true'),
                            method="REGISTER", uri=URI)
    assert (stale2.ok, stale2.reason) == (False, "stale_again")


def test_stale_nonce_against_our_server() -> None:
    """A nonce our server forgot (expired) draws stale=true; the retry is accepted."""
    a, c = server(nonce_ttl=10.0), client()
    _, resp = server_challenge(a, register())
    ans = c.session().answer(resp, method="REGISTER", uri=URI)
    assert a.check(register(auth=ans.headers), source_host=SRC, now=1.0,
                   proxy=False).outcome is AuthOutcome.OK
    session = c.session()
    pre = c.preemptive(method="REGISTER", uri=URI)
    outcome, resp2 = server_challenge(a, register(auth=pre), now=50.0)
    assert outcome is AuthOutcome.CHALLENGE
    assert parse_challenges(resp2)[0].stale
    retry = session.answer(resp2, method="REGISTER", uri=URI)
    assert retry.ok
    assert a.check(register(auth=retry.headers), source_host=SRC, now=51.0,
                   proxy=False).outcome is AuthOutcome.OK


def test_auth_int_alone_is_refused_cleanly() -> None:
    ans = client().session().answer(challenge('Digest realm="r", nonce="n", qop="auth-int"'),
                                    method="INVITE", uri=URI)
    assert (ans.ok, ans.reason, ans.detail) == (False, "unsupported_qop", "auth-int")


def test_unsupported_algorithm_is_skipped_for_a_supported_one() -> None:
    resp = challenge('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-512-256',
                     'Digest realm="r", nonce="n", qop="auth", algorithm=MD5')
    ans = client().session().answer(resp, method="INVITE", uri=URI)
    assert parse_auth_header(ans.headers[0][1])[1]["algorithm"] == "MD5"
    only = client().session().answer(
        challenge('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-512-256'),
        method="INVITE", uri=URI)
    assert (only.ok, only.reason) == (False, "unsupported_algorithm")


def test_rfc2069_challenge_without_qop() -> None:
    ans = client().session().answer(challenge('Digest realm="r", nonce="n"'),
                                    method="INVITE", uri=URI)
    _, p = parse_auth_header(ans.headers[0][1])
    assert "qop" not in p and "nc" not in p


def test_credentials_are_sent_only_to_their_realm() -> None:
    resp = challenge('Digest realm="evil", nonce="n", qop="auth"')
    ans = client(realm=REALM).session().answer(resp, method="INVITE", uri=URI)
    assert (ans.ok, ans.reason) == (False, "foreign_realm")


def test_two_proxies_two_realms_are_both_answered() -> None:
    resp = challenge('Digest realm="a", nonce="n1", qop="auth"',
                     'Digest realm="b", nonce="n2", qop="auth"', status=407)
    ans = client().session().answer(resp, method="INVITE", uri=URI)
    realms = [parse_auth_header(v)[1]["realm"] for _, v in ans.headers]
    assert realms == ["a", "b"]
    assert {n for n, _ in ans.headers} == {"Proxy-Authorization"}


@pytest.mark.parametrize("resp", [
    challenge(),
    challenge('Basic realm="r"'),
    challenge('Digest realm="r"'),
    challenge('Digest realm="r", nonce="n", nonce="m"'),
])
def test_unusable_challenges(resp: Response) -> None:
    ans = client().session().answer(resp, method="INVITE", uri=URI)
    assert (ans.ok, ans.reason) == (False, "no_usable_challenge")


def test_a_non_challenge_status_is_not_answered() -> None:
    resp = make_response(register(), 403, "Forbidden")
    ans = client().session().answer(resp, method="INVITE", uri=URI)
    assert (ans.ok, ans.reason) == (False, "not_a_challenge")


def test_cnonces_come_from_the_injected_ids() -> None:
    resp = challenge('Digest realm="r", nonce="n", qop="auth"')

    def cnonce(seed: int) -> str:
        ans = client(seed=seed).session().answer(resp, method="INVITE", uri=URI)
        return parse_auth_header(ans.headers[0][1])[1]["cnonce"]

    assert cnonce(5) == cnonce(5)
    assert cnonce(5) != cnonce(6)
