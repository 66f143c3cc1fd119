"""The registrar (RFC 3261 §10.3) with a fake clock, alone and through ``Signaling``."""

from __future__ import annotations

import random

import pytest
from sipphone import DEMO, Phone, deliver, header, make_signaling
from structlog.testing import capture_logs

from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import parse_config
from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.auth import parse_auth_header
from ccswitch.sip.message import Request, parse_message
from ccswitch.sip.registrar import Binding, BindingsChanged, RegisterAnswer, Registrar

SRC = Address("udp", "192.0.2.10", 5062)


def reg(*contacts: str, expires: int | str | None = None, call_id: str = "cid-1",
        cseq: int = 1, user: str = "1001", ua: str | None = None) -> Request:
    lines = ["REGISTER sip:ccswitch.local SIP/2.0",
             "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKr1",
             f"From: <sip:{user}@ccswitch.local>;tag=f1", f"To: <sip:{user}@ccswitch.local>",
             f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER"]
    lines += [f"Contact: {c}" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if ua is not None:
        lines.append(f"User-Agent: {ua}")
    msg = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def contacts_of(ans: RegisterAnswer) -> dict[str, int]:
    """The Contact list of a 200: URI -> expires."""
    out: dict[str, int] = {}
    for name, value in ans.headers:
        assert name == "Contact"
        uri, _, exp = value.partition(">;expires=")
        out[uri.lstrip("<")] = int(exp)
    return out


@pytest.fixture
def r() -> Registrar:
    return Registrar(min_expires=60, max_expires=3600, default_expires=1800, max_contacts=10)


A, B, C = "sip:1001@192.0.2.10:5062", "sip:1001@192.0.2.11:5062", "sip:1001@192.0.2.12:5062"


# -- bindings and expiry values --------------------------------------------------------------

def test_several_contacts_per_user(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>", f"<{B}>", expires=600, ua="phone/1"), "1001", SRC, 0.0)
    assert (ans.status, ans.reason) == (200, "OK")
    assert contacts_of(ans) == {A: 600, B: 600}
    ans = r.handle(reg(f"<{C}>", expires=300, call_id="cid-2"), "1001", SRC, 10.0)
    assert contacts_of(ans) == {A: 590, B: 590, C: 300}
    bs = {b.contact: b for b in r.lookup("1001", 10.0)}
    assert set(bs) == {A, B, C}
    assert bs[A].user_agent == "phone/1" and bs[A].source == SRC and bs[A].call_id == "cid-1"
    assert bs[C].expires_at == 310.0 and bs[C].cseq == 1
    assert r.lookup("1002", 10.0) == []
    assert len(r) == 3
    ev = r.events()
    assert [e.user for e in ev] == ["1001", "1001"]
    assert {b.contact for b in ev[-1].bindings} == {A, B, C}
    assert r.events() == []


def test_contact_param_beats_header_and_default_applies(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>;expires=120", f"<{B}>", expires=900), "1001", SRC, 0.0)
    assert contacts_of(ans) == {A: 120, B: 900}
    ans = r.handle(reg(f"<{C}>", call_id="cid-2"), "1001", SRC, 0.0)  # no Expires anywhere
    assert contacts_of(ans)[C] == 1800


def test_expiry_clamped_to_max(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>", f"<{B}>;expires=7200", expires=99999), "1001", SRC, 0.0)
    assert contacts_of(ans) == {A: 3600, B: 3600}
    assert {b.expires_at for b in r.lookup("1001", 0.0)} == {3600.0}


@pytest.mark.parametrize(("contact", "expires"), [(f"<{A}>", 59), (f"<{A}>;expires=1", 600),
                                                  (f"<{A}>;expires=30", None)])
def test_too_brief_is_423_with_min_expires(r: Registrar, contact: str,
                                           expires: int | None) -> None:
    ans = r.handle(reg(contact, expires=expires), "1001", SRC, 0.0)
    assert (ans.status, ans.reason) == (423, "Interval Too Brief")
    assert ans.headers == (("Min-Expires", "60"),)
    assert r.lookup("1001", 0.0) == [] and r.events() == []
    ok = r.handle(reg(f"<{A}>", expires=60, cseq=2), "1001", SRC, 0.0)  # the minimum is fine
    assert contacts_of(ok) == {A: 60}


def test_one_brief_contact_rejects_the_whole_request(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>", f"<{B}>;expires=5", expires=600), "1001", SRC, 0.0)
    assert ans.status == 423
    assert r.lookup("1001", 0.0) == []


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "\u00b2"])
def test_bad_contact_expires_is_400(r: Registrar, bad: str) -> None:
    ans = r.handle(reg(f"<{A}>;expires={bad}"), "1001", SRC, 0.0)
    assert ans.status == 400
    assert r.lookup("1001", 0.0) == []


def test_bad_expires_header_is_400(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>", expires="soon"), "1001", SRC, 0.0)
    assert (ans.status, ans.reason) == (400, "Bad Expires")


# -- removal ---------------------------------------------------------------------------------

def test_expires_zero_removes_one_contact(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", f"<{B}>", expires=600), "1001", SRC, 0.0)
    r.events()
    ans = r.handle(reg(f"<{A}>;expires=0", cseq=2), "1001", SRC, 5.0)
    assert ans.status == 200 and contacts_of(ans) == {B: 595}
    assert [b.contact for b in r.lookup("1001", 5.0)] == [B]
    (ev,) = r.events()
    assert ev.user == "1001" and [b.contact for b in ev.bindings] == [B]
    # the removed binding's timer is gone: the next deadline is B's
    assert r.next_deadline() == 600.0
    ans = r.handle(reg(f"<{B}>", expires=0, cseq=3), "1001", SRC, 6.0)
    assert ans.status == 200 and ans.headers == ()
    assert r.events() == [BindingsChanged("1001", ())]
    assert len(r) == 0 and r.next_deadline() is None


def test_removing_an_unknown_contact_is_200_without_event(r: Registrar) -> None:
    ans = r.handle(reg(f"<{A}>", expires=0), "1001", SRC, 0.0)
    assert ans.status == 200 and ans.headers == ()
    assert r.events() == []


def test_wildcard_with_expires_zero_removes_all(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", f"<{B}>", expires=600), "1001", SRC, 0.0)
    r.handle(reg(f"<{C}>", expires=600), "1002", SRC, 0.0)
    r.events()
    ans = r.handle(reg("*", expires=0, cseq=2), "1001", SRC, 1.0)
    assert (ans.status, ans.headers) == (200, ())
    assert r.lookup("1001", 1.0) == []
    assert [b.contact for b in r.lookup("1002", 1.0)] == [C]  # other users untouched
    assert r.events() == [BindingsChanged("1001", ())]
    r.handle_timer(600.0)  # the removed bindings' timers report nothing
    assert [e.user for e in r.events()] == ["1002"]


@pytest.mark.parametrize("expires", [None, 600])
def test_wildcard_without_expires_zero_is_400(r: Registrar, expires: int | None) -> None:
    r.handle(reg(f"<{A}>", expires=600), "1001", SRC, 0.0)
    ans = r.handle(reg("*", expires=expires, cseq=2), "1001", SRC, 1.0)
    assert ans.status == 400
    assert [b.contact for b in r.lookup("1001", 1.0)] == [A]


@pytest.mark.parametrize("contacts", [("*", f"<{B}>"), (f"<{B}>", "*"), (f"*, <{B}>",)])
def test_wildcard_mixed_with_contacts_is_400(r: Registrar, contacts: tuple[str, ...]) -> None:
    r.handle(reg(f"<{A}>", expires=600), "1001", SRC, 0.0)
    ans = r.handle(reg(*contacts, expires=0, cseq=2), "1001", SRC, 1.0)
    assert ans.status == 400 and "Contact" in ans.reason
    assert [b.contact for b in r.lookup("1001", 1.0)] == [A]


def test_wildcard_out_of_order_cseq_is_500(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", expires=600, cseq=5), "1001", SRC, 0.0)
    ans = r.handle(reg("*", expires=0, cseq=5), "1001", SRC, 1.0)
    assert ans.status == 500
    assert len(r.lookup("1001", 1.0)) == 1


# -- CSeq ordering ---------------------------------------------------------------------------

def test_out_of_order_cseq_on_same_call_id_is_500(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", expires=600, cseq=10), "1001", SRC, 0.0)
    r.events()
    for cseq in (10, 9):
        ans = r.handle(reg(f"<{A}>", expires=1200, cseq=cseq), "1001", SRC, 1.0)
        assert ans.status == 500
    assert r.lookup("1001", 1.0)[0].expires_at == 600.0
    assert r.events() == []
    # a lower CSeq under another Call-ID (the phone rebooted) replaces the binding
    ans = r.handle(reg(f"<{A}>", expires=1200, cseq=1, call_id="new"), "1001", SRC, 1.0)
    assert ans.status == 200
    (b,) = r.lookup("1001", 1.0)
    assert (b.call_id, b.cseq, b.expires_at) == ("new", 1, 1201.0)
    # and a higher CSeq on the first Call-ID is fine again
    assert r.handle(reg(f"<{A}>", expires=60, cseq=11), "1001", SRC, 2.0).status == 200


def test_out_of_order_cseq_applies_nothing(r: Registrar) -> None:
    """RFC 3261 §10.3 step 7: the updates are committed only if all of them succeed."""
    r.handle(reg(f"<{B}>", expires=600, cseq=10), "1001", SRC, 0.0)
    r.events()
    ans = r.handle(reg(f"<{A}>", f"<{B}>", expires=600, cseq=3), "1001", SRC, 1.0)
    assert ans.status == 500
    assert [b.contact for b in r.lookup("1001", 1.0)] == [B]
    assert r.events() == []


# -- time --------------------------------------------------------------------------------

def test_expiry_sweeps_on_fake_clock(r: Registrar) -> None:
    assert r.next_deadline() is None
    r.handle(reg(f"<{A}>", expires=100), "1001", SRC, 0.0)
    r.handle(reg(f"<{B}>", expires=300, call_id="x"), "1001", SRC, 0.0)
    r.handle(reg(f"<{C}>", expires=200), "1002", SRC, 0.0)
    r.events()
    assert r.next_deadline() == 100.0
    r.handle_timer(99.9)
    assert len(r) == 3 and r.events() == []
    assert [b.contact for b in r.lookup("1001", 99.9)] == [A, B]
    assert [b.contact for b in r.lookup("1001", 100.0)] == [B]  # lookup never returns stale
    r.handle_timer(100.0)
    (ev,) = r.events()
    assert ev.user == "1001" and [b.contact for b in ev.bindings] == [B]
    assert r.next_deadline() == 200.0
    r.handle_timer(250.0)
    assert r.events() == [BindingsChanged("1002", ())]
    assert r.next_deadline() == 300.0
    r.handle_timer(300.0)
    assert r.events() == [BindingsChanged("1001", ())]
    assert len(r) == 0 and r.next_deadline() is None and r.all_bindings() == []


def test_refresh_moves_the_deadline(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", expires=100, cseq=1), "1001", SRC, 0.0)
    r.handle(reg(f"<{A}>", expires=100, cseq=2), "1001", SRC, 90.0)
    r.events()
    assert r.next_deadline() == 190.0
    r.handle_timer(100.0)
    assert r.events() == [] and len(r.lookup("1001", 100.0)) == 1
    r.handle_timer(190.0)
    assert r.events() == [BindingsChanged("1001", ())]


def test_restore_skips_expired_bindings(r: Registrar) -> None:
    live = Binding("1001", A, 500.0, "c1", 3, SRC, 0.5, "ua")
    dead = Binding("1001", B, 99.0, "c2", 1, SRC)
    also = Binding("1002", C, 150.0, "c3", 1, SRC)
    r.restore([live, dead, also], 100.0)
    assert r.lookup("1001", 100.0) == [live]
    assert r.lookup("1002", 100.0) == [also]
    assert r.events() == []  # restoring is not a change to persist
    assert r.next_deadline() == 150.0
    r.handle_timer(150.0)
    assert r.events() == [BindingsChanged("1002", ())]
    # CSeq ordering survives a restart
    assert r.handle(reg(f"<{A}>", expires=600, call_id="c1", cseq=3), "1001", SRC,
                    200.0).status == 500


def test_lookup_orders_by_q(r: Registrar) -> None:
    r.handle(reg(f"<{A}>;q=0.2", f"<{B}>;q=0.9", f"<{C}>", expires=600), "1001", SRC, 0.0)
    assert [(b.contact, b.q) for b in r.lookup("1001", 0.0)] == [(C, 1.0), (B, 0.9), (A, 0.2)]
    ans = r.handle(reg(expires=None, cseq=2), "1001", SRC, 0.0)
    assert list(contacts_of(ans)) == [C, B, A]


def test_max_contacts_evicts_the_soonest_to_expire() -> None:
    r = Registrar(min_expires=60, max_expires=3600, default_expires=1800, max_contacts=2)
    r.handle(reg(f"<{A}>", expires=900, call_id="a"), "1001", SRC, 0.0)
    r.handle(reg(f"<{B}>", expires=300, call_id="b"), "1001", SRC, 0.0)
    r.events()
    ans = r.handle(reg(f"<{C}>", expires=600, call_id="c"), "1001", SRC, 10.0)
    assert ans.status == 200 and set(contacts_of(ans)) == {A, C}
    assert {b.contact for b in r.lookup("1001", 10.0)} == {A, C}
    (ev,) = r.events()
    assert {b.contact for b in ev.bindings} == {A, C}
    assert r.next_deadline() == 610.0  # B's timer went with it
    # refreshing a kept contact evicts nothing
    r.handle(reg(f"<{A}>", expires=900, call_id="a", cseq=2), "1001", SRC, 20.0)
    assert {b.contact for b in r.lookup("1001", 20.0)} == {A, C}


def test_query_without_contact_lists_bindings_counting_down(r: Registrar) -> None:
    r.handle(reg(f"<{A}>", expires=600), "1001", SRC, 0.0)
    r.handle(reg(f"<{B}>;expires=300", call_id="other"), "1001", SRC, 0.0)
    r.events()
    ans = r.handle(reg(cseq=2), "1001", SRC, 100.0)
    assert ans.status == 200 and contacts_of(ans) == {A: 500, B: 200}
    ans = r.handle(reg(cseq=3), "1001", SRC, 250.0)
    assert contacts_of(ans) == {A: 350, B: 50}
    assert r.events() == []  # a query changes nothing
    ans = r.handle(reg(cseq=1, user="1009"), "1009", SRC, 0.0)
    assert (ans.status, ans.headers) == (200, ())
    assert r.events() == [] and len(r) == 2


# -- through Signaling: who may register what ----------------------------------------------

@pytest.fixture
def sig() -> Signaling:
    return make_signaling()


def test_register_through_signaling(sig: Signaling) -> None:
    p = Phone(sig, "1001", 7001)
    ok = p.register(0.0, expires=600)
    assert (ok.status, ok.reason) == (200, "OK")
    assert ok.headers.get_all("contact") == ["<sip:1001@127.0.0.1:7001>;expires=600"]
    assert ok.to.tag  # a final answer carries a To-tag
    evs = [e for e in sig.events() if isinstance(e, BindingsChanged)]
    assert len(evs) == 1 and evs[0].bindings[0].source == p.addr
    assert sig.next_deadline() is not None
    # the binding expires on the fake clock through Signaling.handle_timer
    sig.handle_timer(599.0)
    assert sig.registrar.lookup("1001", 599.0)
    sig.handle_timer(600.0)
    assert any(isinstance(e, BindingsChanged) and e.bindings == () for e in sig.events())


def test_register_another_users_aor_is_403(sig: Signaling) -> None:
    p = Phone(sig, "1001", 7001)
    resp = p.register(0.0, aor="1002")
    assert (resp.status, resp.reason) == (403, "Forbidden")
    assert sig.registrar.lookup("1002", 0.0) == [] and sig.registrar.lookup("1001", 0.0) == []
    assert sig.events() == []


def test_wrong_password_is_401_never_200(sig: Signaling) -> None:
    p = Phone(sig, "1001", 7001)
    statuses = [p.register(float(i), password="nope", cseq=2 * i + 1).status for i in range(4)]
    assert statuses == [401] * 4
    assert all(r.status != 200 for r in p.responses())
    assert sig.registrar.lookup("1001", 10.0) == []


def _challenge_shape(resp_text: str) -> tuple[int, str, list[str], list[str]]:
    msg = parse_message(resp_text.encode())
    names = [n.lower() for n, _ in msg.headers.items()]
    _, params = parse_auth_header(header(msg, "WWW-Authenticate"))
    return msg.status, msg.reason, names, sorted(params)  # type: ignore[union-attr]


def test_unknown_user_answers_like_wrong_password(sig: Signaling) -> None:
    shapes = []
    for user, port in (("1001", 7001), ("4242", 7002)):
        p = Phone(sig, user, port)
        p.register(0.0, password="nope")
        first, second = p.responses()
        assert first.status == second.status == 401
        shapes.append(_challenge_shape(second.to_bytes().decode()))
    assert shapes[0] == shapes[1]
    assert shapes[0][0] == 401


def test_repeated_failures_are_403_even_with_the_right_password(sig: Signaling) -> None:
    p = Phone(sig, "1001", 7001)
    got = [p.register(float(i), password="nope", cseq=10 * i + 1).status for i in range(6)]
    assert got[:5] == [401] * 5 and got[5] == 403
    assert p.register(10.0, cseq=100).status == 403
    assert sig.registrar.lookup("1001", 10.0) == []
    # the unknown user is blocked the same way
    q = Phone(sig, "4242", 7002)
    got = [q.register(float(i), password="nope", cseq=10 * i + 1).status for i in range(6)]
    assert got[:5] == [401] * 5 and got[5] == 403


def test_register_query_through_signaling(sig: Signaling) -> None:
    p = Phone(sig, "1001", 7001)
    assert p.register(0.0, expires=600).status == 200
    resp = p.register(100.0, expires=None, contact=None, cseq=3)
    assert resp.status == 200
    assert resp.headers.get_all("contact") == ["<sip:1001@127.0.0.1:7001>;expires=500"]


def test_config_max_contacts_is_honoured() -> None:
    text = DEMO.read_text().replace("max_contacts = 10", "max_contacts = 2")
    sig = Signaling(config=parse_config(text, "x.toml"),
                    listeners=[Listener("udp", "127.0.0.1", 5060)], ids=Ids(random.Random(1)))
    for i, port in enumerate((7001, 7002, 7003)):
        assert Phone(sig, "1001", port).register(float(i)).status == 200
    assert len(sig.registrar.lookup("1001", 5.0)) == 2
    deliver(sig, [])


@pytest.mark.parametrize(("raw", "q"), [("nan", 1.0), ("inf", 1.0), ("-1", 0.0), ("7", 1.0),
                                        ("x", 1.0), ("0.25", 0.25)])
def test_q_values_are_sane(r: Registrar, raw: str, q: float) -> None:
    r.handle(reg(f"<{A}>;q={raw}", f"<{B}>;q=0.5", expires=600), "1001", SRC, 0.0)
    got = {b.contact: b.q for b in r.lookup("1001", 0.0)}
    assert got == {A: q, B: 0.5}
    assert [b.q for b in r.lookup("1001", 0.0)] == sorted(got.values(), reverse=True)


# -- what the operator reads ---------------------------------------------------------------
def test_unregister_and_expiry_say_so_in_the_log(r: Registrar) -> None:
    with capture_logs() as logs:
        r.handle(reg(f"<{A}>", f"<{B}>", f"<{C}>", expires=600), "1001", SRC, 0.0)
        r.handle(reg(f"<{A}>", expires=0, cseq=2), "1001", SRC, 1.0)
        r.handle(reg("*", expires=0, cseq=3, call_id="cid-2"), "1001", SRC, 2.0)
        r.handle(reg(f"<{A}>", expires=60, cseq=4), "1001", SRC, 3.0)
        r.handle_timer(63.0)
    got = [(e["event"], e.get("contact"), e.get("reason")) for e in logs]
    assert got == [
        ("registered", A, None),
        ("unregistered", A, "expires_0"),
        ("unregistered", B, "wildcard"), ("unregistered", C, "wildcard"),
        ("registered", A, None),
        ("unregistered", A, "expired"),
    ]
    assert all(e["user"] == "1001" for e in logs)
    assert logs[1]["source"] == str(SRC)
