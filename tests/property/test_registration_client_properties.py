"""The trunk registration machine under random sequences of answers, timeouts, timer
deadlines, stops and starts: one request at a time, a deadline exactly while running, bounded
back-off, no endless challenge loop, a binding only after a 2xx."""

from __future__ import annotations

import contextlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.client_auth import DigestClient
from ccswitch.sip.dialog import LocalContact
from ccswitch.sip.message import Request, make_response
from ccswitch.sip.registration_client import (
    Registered,
    RegistrationClient,
    RegistrationError,
    RegistrationFailed,
    RegistrationMoved,
    RegState,
    Retrying,
)

BASE, CAP = 10.0, 300.0
ANSWERS = ("200", "200-other", "401", "401-stale", "423", "500", "503", "403", "100")
STEPS = st.lists(st.one_of(st.sampled_from(ANSWERS),
                           st.sampled_from(("timer", "timeout", "stop", "start"))),
                 max_size=60)


def answer(req: Request, kind: str, n: int) -> object:
    headers: list[tuple[str, str]] = []
    status = int(kind[:3])
    if kind == "200":
        headers.append(("Contact", "<sip:t@127.0.0.1:5060>;expires=120"))
    elif kind == "200-other":
        headers.append(("Contact", "<sip:x@192.0.2.9>;expires=120"))
    elif kind.startswith("401"):
        stale = ", stale=true" if kind.endswith("stale") else ""
        headers.append(("WWW-Authenticate", f'Digest realm="r", nonce="n{n}", qop="auth"{stale}'))
    elif kind == "423":
        headers.append(("Min-Expires", "900"))
    elif kind == "503":
        headers.append(("Retry-After", "20"))
    return make_response(req, status, "X", to_tag="t", headers=headers)


@settings(max_examples=300, deadline=None)
@given(STEPS, st.integers(0, 2**32))
def test_random_sequences_keep_the_invariants(steps: list[str], seed: int) -> None:
    c = RegistrationClient(
        trunk="t", registrar="sip:r.example", aor="sip:t@r.example",
        me=LocalContact("udp", "127.0.0.1", 5060), ids=Ids(random.Random(seed)),
        rng=random.Random(seed + 1), expires=600, base_backoff=BASE, max_backoff=CAP,
        auth=DigestClient(user="t", password="p", ids=Ids(random.Random(seed + 2))),
        contact_user="t")
    now = 0.0
    c.start(now)
    (first,) = c.outbox()
    pending: Request | None = first
    challenges_in_a_row = 0
    for n, step in enumerate(steps):
        now += 0.5
        last_answer = ""
        if step in ANSWERS:
            if pending is None:
                continue
            resp = answer(pending, step, n)
            c.receive(resp, now)  # type: ignore[arg-type]
            last_answer = step
        elif step == "timer":
            deadline = c.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                c.handle_timer(now)
        elif step == "timeout":
            c.timed_out(now)
        elif step == "stop":
            c.stop(now)
        elif step == "start":
            try:
                c.start(now)
            except RegistrationError:
                assert c.state not in (RegState.IDLE, RegState.STOPPED)
        out = c.outbox()
        assert len(out) <= 1, "one request per input"
        if out:
            pending = out[0]
            assert pending.cseq.method == "REGISTER"
            expires = int(pending.headers.get("Expires") or "-1")
            assert expires in (0, 600, 900)
        elif c.state not in (RegState.REGISTERING, RegState.UNREGISTERING):
            pending = None
        if out:  # a request answering a challenge, else a new attempt
            challenges_in_a_row = challenges_in_a_row + 1 if last_answer.startswith("401") else 0
        assert challenges_in_a_row <= 2, "a challenge loop"
        running = c.state not in (RegState.IDLE, RegState.STOPPED)
        assert (c.next_deadline() is not None) is running
        for ev in c.events():
            if isinstance(ev, Retrying):
                assert BASE / 2 <= ev.delay <= CAP
                assert c.state is RegState.BACKING_OFF
            if isinstance(ev, Registered):
                assert last_answer == "200"
                assert ev.expires == 120
                assert ev.refresh_at == now + 60


ADDRS = tuple(Address("udp", f"192.0.2.{i}", 5060) for i in range(1, 5))
TARGET_STEPS = st.lists(st.one_of(
    st.sampled_from(("200", "401", "503", "500", "timeout", "timer", "stop", "start")),
    st.lists(st.sampled_from(ADDRS), min_size=1, max_size=4, unique=True).map(tuple)),
    max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ADDRS), min_size=1, max_size=4, unique=True), TARGET_STEPS,
       st.integers(0, 2**32))
def test_with_targets_every_register_goes_to_a_listed_one_and_each_once_per_attempt(
        first: list[Address], steps: list[object], seed: int) -> None:
    """Whatever answers, timeouts, timers and new DNS answers arrive: each REGISTER goes to a
    target of the current list; an attempt that fails by timeouts/503 tried every target once
    before it backs off; a move is always to a target not yet tried in this attempt."""
    targets = tuple(first)
    c = RegistrationClient(
        trunk="t", registrar="sip:r.example", aor="sip:t@r.example",
        me=LocalContact("udp", "127.0.0.1", 5060), ids=Ids(random.Random(seed)),
        rng=random.Random(seed + 1), expires=600, base_backoff=BASE, max_backoff=CAP,
        auth=DigestClient(user="t", password="p", ids=Ids(random.Random(seed + 2))),
        contact_user="t", targets=targets)
    now = 0.0
    c.start(now)
    (pending,) = c.outbox()
    tried: list[Address] = [c.dest] if c.dest else []
    for n, step in enumerate(steps):
        now += 0.5
        if isinstance(step, tuple):
            targets = step
            c.retarget(targets, now)
        elif step in ("200", "401", "503", "500"):
            if pending is None:
                continue
            c.receive(answer(pending, step, n), now)  # type: ignore[arg-type]
        elif step == "timer":
            deadline = c.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                c.handle_timer(now)
        elif step == "timeout":
            c.timed_out(now)
        elif step == "stop":
            c.stop(now)
        else:
            with contextlib.suppress(RegistrationError):
                c.start(now)
        out = c.outbox()
        assert len(out) <= 1
        if out:
            pending = out[0]
            assert c.dest in targets, "a REGISTER to a target no longer listed"
        elif c.state not in (RegState.REGISTERING, RegState.UNREGISTERING):
            pending = None
        for ev in c.events():
            if isinstance(ev, RegistrationMoved):
                if ev.status:  # a failover within the attempt
                    assert ev.next not in tried and ev.next in targets
                    tried.append(ev.next)
                else:  # a new DNS answer: a new attempt
                    tried = [ev.next]
            elif isinstance(ev, RegistrationFailed) and ev.why == "timeout" \
                    and c.state is RegState.BACKING_OFF:
                assert set(targets) <= set(tried), "backed off with a target untried"
            if isinstance(ev, (Registered, Retrying)):
                tried = []
        if out and not tried:
            tried = [c.dest] if c.dest else []
        assert len(tried) == len(set(tried))
