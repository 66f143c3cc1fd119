"""Outbound registration of a trunk, against our own registrar and authenticator as the
carrier (in memory, on a fake clock), and against scripted answers."""

from __future__ import annotations

import random

import pytest

from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.auth import AuthOutcome, Credentials, DigestAuthenticator
from ccswitch.sip.client_auth import DigestClient
from ccswitch.sip.dialog import LocalContact
from ccswitch.sip.message import Request, Response, make_response, parse_message
from ccswitch.sip.registrar import Registrar
from ccswitch.sip.registration_client import (
    TABLE,
    Registered,
    RegistrationClient,
    RegistrationError,
    RegistrationFailed,
    RegistrationMoved,
    RegState,
    Retrying,
    Unregistered,
)

ME = LocalContact("udp", "127.0.0.1", 5060)
REGISTRAR = "sip:carrier.example"
AOR = "sip:trunk1@carrier.example"
SRC = Address("udp", "127.0.0.1", 5060)


class Carrier:
    """A digest-challenging registrar: our own server side."""

    def __init__(self, *, password: str = "s3cret", min_expires: int = 60,
                 max_expires: int = 3600) -> None:
        self.auth = DigestAuthenticator(realm="carrier.example", ids=Ids(random.Random(9)),
                                        lookup={"trunk1": Credentials(password)}.get,
                                        algorithms=("SHA-256", "MD5"), nonce_ttl=3600.0,
                                        max_failures=100)
        self.registrar = Registrar(min_expires=min_expires, max_expires=max_expires)
        self.seen: list[Request] = []

    def answer(self, req: Request, now: float) -> Response:
        wire = parse_message(req.to_bytes())
        assert isinstance(wire, Request)
        self.seen.append(wire)
        res = self.auth.check(wire, source_host=SRC.host, now=now, proxy=False)
        if res.outcome is not AuthOutcome.OK:
            resp = make_response(wire, res.status, res.reason, to_tag="t", headers=res.headers)
        else:
            ans = self.registrar.handle(wire, "trunk1", SRC, now)
            resp = make_response(wire, ans.status, ans.reason, to_tag="t", headers=ans.headers)
        parsed = parse_message(resp.to_bytes())
        assert isinstance(parsed, Response)
        return parsed


def client(password: str = "s3cret", **kw: object) -> RegistrationClient:
    args: dict[str, object] = {
        "trunk": "carrier", "registrar": REGISTRAR, "aor": AOR, "me": ME,
        "ids": Ids(random.Random(1)), "rng": random.Random(2), "expires": 600,
        "auth": DigestClient(user="trunk1", password=password, ids=Ids(random.Random(3))),
        "contact_user": "trunk1"}
    args.update(kw)
    return RegistrationClient(**args)  # type: ignore[arg-type]


def pump(c: RegistrationClient, carrier: Carrier, now: float) -> None:
    """Deliver every request to the carrier and its answers back, at ``now``."""
    for _ in range(10):
        out = c.outbox()
        if not out:
            return
        for req in out:
            c.receive(carrier.answer(req, now), now)
    raise AssertionError("request loop")


def test_registers_with_digest_and_refreshes_preemptively() -> None:
    carrier, c = Carrier(), client()
    c.start(0.0)
    pump(c, carrier, 0.0)
    assert c.state is RegState.REGISTERED
    assert c.events() == [Registered("carrier", 600, 0.0, 300.0)]
    assert [r.headers.get("Authorization") is None for r in carrier.seen] == [True, False]
    assert carrier.registrar.lookup("trunk1", 1.0)[0].contact == "sip:trunk1@127.0.0.1:5060"
    assert c.next_deadline() == 300.0
    c.handle_timer(299.0)
    assert c.outbox() == []
    c.handle_timer(300.0)
    pump(c, carrier, 300.0)
    assert len(carrier.seen) == 3  # the refresh carried credentials: no new challenge
    assert carrier.seen[2].headers.get("Authorization") is not None
    assert carrier.seen[2].cseq.seq == 3
    assert {r.call_id for r in carrier.seen} == {carrier.seen[0].call_id}
    assert c.events() == [Registered("carrier", 600, 300.0, 600.0)]


def test_a_refresh_after_the_nonce_expired_answers_stale() -> None:
    carrier, c = Carrier(), client()
    carrier.auth = DigestAuthenticator(realm="carrier.example", ids=Ids(random.Random(9)),
                                       lookup={"trunk1": Credentials("s3cret")}.get,
                                       nonce_ttl=100.0)
    c.start(0.0)
    pump(c, carrier, 0.0)
    c.handle_timer(300.0)
    pump(c, carrier, 300.0)
    assert c.state is RegState.REGISTERED
    assert [type(e) for e in c.events()] == [Registered, Registered]
    assert len(carrier.seen) == 4  # preemptive (stale nonce), answered once


def test_423_raises_the_expiry_to_min_expires() -> None:
    carrier, c = Carrier(min_expires=900), client()
    c.start(0.0)
    pump(c, carrier, 0.0)
    assert c.state is RegState.REGISTERED
    (ev,) = c.events()
    assert isinstance(ev, Registered)
    assert ev.expires == 900
    assert carrier.seen[-1].headers.get("Expires") == "900"


def test_a_shorter_grant_is_honoured() -> None:
    carrier, c = Carrier(max_expires=120), client()
    c.start(0.0)
    pump(c, carrier, 0.0)
    (ev,) = c.events()
    assert isinstance(ev, Registered)
    assert (ev.expires, ev.refresh_at) == (120, 60.0)


def test_wrong_password_backs_off_exponentially_with_jitter_and_a_cap() -> None:
    carrier = Carrier(password="other")
    c = client(base_backoff=10.0, max_backoff=60.0)
    c.start(0.0)
    now = 0.0
    delays = []
    for attempt in range(1, 7):
        pump(c, carrier, now)
        evs = c.events()
        assert evs[0] == RegistrationFailed("carrier", 401, "auth", now)
        retry = evs[1]
        assert isinstance(retry, Retrying)
        assert retry.attempt == attempt
        delays.append(retry.delay)
        full = min(60.0, 10.0 * 2 ** (attempt - 1))
        assert full / 2 <= retry.delay < full
        assert c.state is RegState.BACKING_OFF
        now = c.next_deadline() or 0.0
        c.handle_timer(now)
    assert max(delays) < 60.0


def test_jitter_comes_from_the_injected_random() -> None:
    def first_delay(seed: int) -> float:
        c = client(rng=random.Random(seed))
        c.start(0.0)
        c.outbox()
        c.handle_timer(32.0)  # no answer at all
        retry = c.events()[1]
        assert isinstance(retry, Retrying)
        return retry.delay

    assert first_delay(1) == first_delay(1)
    assert first_delay(1) != first_delay(2)


def answer_with(c: RegistrationClient, status: int, now: float,
                headers: tuple[tuple[str, str], ...] = ()) -> None:
    (req,) = c.outbox()
    c.receive(make_response(req, status, "X", to_tag="t", headers=headers), now)


def test_retry_after_is_honoured_and_capped() -> None:
    c = client(base_backoff=10.0, max_backoff=100.0)
    c.start(0.0)
    answer_with(c, 503, 0.0, (("Retry-After", "75 (maintenance);duration=10"),))
    assert c.next_deadline() == 75.0
    c.handle_timer(75.0)
    answer_with(c, 503, 75.0, (("Retry-After", "5000"),))
    assert c.next_deadline() == 175.0


def test_success_resets_the_failure_count() -> None:
    c = client(base_backoff=10.0)
    c.start(0.0)
    answer_with(c, 500, 0.0)
    c.handle_timer(c.next_deadline() or 0.0)
    answer_with(c, 200, 20.0, (("Contact", "<sip:trunk1@127.0.0.1:5060>;expires=60"),))
    assert c.failures == 0
    assert c.state is RegState.REGISTERED
    assert c.registered


def test_a_2xx_listing_other_bindings_only_is_a_failure() -> None:
    c = client()
    c.start(0.0)
    answer_with(c, 200, 0.0, (("Contact", "<sip:someone@192.0.2.1>;expires=60"),))
    assert c.state is RegState.BACKING_OFF
    assert c.events()[0] == RegistrationFailed("carrier", 200, "not_bound", 0.0)


def test_a_2xx_with_reordered_parameters_binds_us() -> None:
    c = client()
    c.start(0.0)
    answer_with(c, 200, 0.0,
                (("Contact", "<sip:trunk1@127.0.0.1;transport=udp>;expires=90;q=1"),))
    (ev,) = c.events()
    assert isinstance(ev, Registered)
    assert ev.expires == 90


def test_challenge_without_credentials_fails() -> None:
    carrier, c = Carrier(), client(auth=None)
    c.start(0.0)
    pump(c, carrier, 0.0)
    assert c.events()[0] == RegistrationFailed("carrier", 401, "auth", 0.0)


def test_stop_unregisters_with_credentials() -> None:
    carrier, c = Carrier(), client()
    c.start(0.0)
    pump(c, carrier, 0.0)
    c.events()
    c.stop(10.0)
    pump(c, carrier, 10.0)
    assert c.state is RegState.STOPPED
    assert c.events() == [Unregistered("carrier", 10.0)]
    assert carrier.seen[-1].headers.get("Expires") == "0"
    assert carrier.registrar.lookup("trunk1", 11.0) == []
    assert c.next_deadline() is None
    c.start(20.0)  # may start again
    pump(c, carrier, 20.0)
    assert c.state is RegState.REGISTERED


def test_stop_ends_even_when_the_carrier_is_silent() -> None:
    c = client()
    c.start(0.0)
    c.stop(1.0)  # while the first REGISTER is out: its answer is ignored
    first, unregister = c.outbox()
    assert (first.headers.get("Expires"), unregister.headers.get("Expires")) == ("600", "0")
    c.receive(make_response(first, 200, "OK"), 2.0)
    assert c.state is RegState.UNREGISTERING
    assert c.next_deadline() == 33.0
    c.handle_timer(33.0)
    assert c.state is RegState.STOPPED
    assert c.events() == [Unregistered("carrier", 33.0)]


def test_old_and_provisional_answers_are_ignored() -> None:
    c = client()
    c.start(0.0)
    (req,) = c.outbox()
    c.receive(make_response(req, 100, "Trying"), 0.1)
    c.handle_timer(32.0)  # timeout -> backing off
    c.receive(make_response(req, 200, "OK"), 33.0)  # late answer to the old request
    assert c.state is RegState.BACKING_OFF


def test_misuse_raises() -> None:
    c = client()
    c.start(0.0)
    with pytest.raises(RegistrationError):
        c.start(1.0)
    with pytest.raises(ValueError):
        client(refresh_fraction=1.0)


def test_every_state_is_reachable_in_the_table() -> None:
    reached = {nxt for _, nxt in TABLE.values()} | {s for s, _ in TABLE}
    assert reached == set(RegState)


# -- several registrar addresses (a domain's RFC 3263 targets) ------------------------------
A1, A2, A3 = (Address("udp", "192.0.2.1", 5060), Address("udp", "192.0.2.2", 5060),
              Address("udp", "192.0.2.3", 5070))


def sent_to(c: RegistrationClient) -> Address | None:
    """The target of the one REGISTER just sent (answered by nobody yet)."""
    (req,) = c.outbox()
    c._out.append(req)  # put back for answer_with
    return c.dest


def test_a_timeout_or_503_moves_the_register_to_the_next_target_at_once() -> None:
    c = client(targets=(A1, A2, A3), base_backoff=10.0)
    c.start(0.0)
    assert sent_to(c) == A1
    c.outbox()
    c.timed_out(32.0)
    assert c.state is RegState.REGISTERING and sent_to(c) == A2
    answer_with(c, 503, 32.5, (("Retry-After", "600"),))
    assert c.state is RegState.REGISTERING and sent_to(c) == A3
    moved = c.events()
    assert moved == [RegistrationMoved("carrier", A1, A2, 408, 32.0),
                     RegistrationMoved("carrier", A2, A3, 503, 32.5)]
    answer_with(c, 200, 33.0, (("Contact", "<sip:trunk1@127.0.0.1:5060>;expires=120"),))
    assert c.state is RegState.REGISTERED and c.dest == A3
    # the refresh goes where the binding is, not back to the first target
    c.handle_timer(c.next_deadline() or 0.0)
    assert sent_to(c) == A3


def test_every_target_failing_backs_off_and_the_retry_starts_at_the_first() -> None:
    c = client(targets=(A1, A2), base_backoff=10.0)
    c.start(0.0)
    answer_with(c, 503, 0.0)
    assert sent_to(c) == A2
    c.outbox()
    c.timed_out(32.0)
    assert c.state is RegState.BACKING_OFF
    evs = c.events()
    assert [type(e) for e in evs] == [RegistrationMoved, RegistrationFailed, Retrying]
    c.handle_timer(c.next_deadline() or 0.0)
    assert sent_to(c) == A1
    # other failures (a 500, a 403) do not move: they are the registrar's answer
    answer_with(c, 500, 50.0)
    assert c.state is RegState.BACKING_OFF and c.dest == A1


def test_a_dns_answer_without_the_bound_target_registers_at_the_new_first_at_once() -> None:
    c = client(targets=(A1, A2))
    c.start(0.0)
    answer_with(c, 200, 0.0, (("Contact", "<sip:trunk1@127.0.0.1:5060>;expires=600"),))
    c.events()
    c.retarget((A2, A1), 10.0)  # a new order only: nothing moves
    assert c.outbox() == [] and c.dest == A1 and c.state is RegState.REGISTERED
    c.retarget((A3, A2), 20.0)  # A1 is gone
    assert c.state is RegState.REGISTERING and sent_to(c) == A3
    assert c.events() == [RegistrationMoved("carrier", A1, A3, 0, 20.0)]
    (old,) = c.outbox()
    c.retarget((A2,), 21.0)  # gone again while the REGISTER is out: its answer is not awaited
    (new,) = c.outbox()
    assert c.dest == A2 and new.cseq.seq == old.cseq.seq + 1
    c.receive(make_response(old, 200, "OK", to_tag="t"), 21.5)
    assert c.state is RegState.REGISTERING  # the abandoned REGISTER's answer is ignored


def test_without_targets_the_shell_decides_and_nothing_moves() -> None:
    c = client()
    c.start(0.0)
    assert c.dest is None
    c.timed_out(32.0)
    assert c.state is RegState.BACKING_OFF
