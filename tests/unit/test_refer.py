"""Transfers on the wire (sip.refer): Refer-To with an embedded Replaces (RFC 3515, RFC 3891),
Referred-By (RFC 3892), Refer-Sub (RFC 4488), the sipfrag NOTIFY contents and the notifier's
refer subscription table."""

from __future__ import annotations

import pytest

from ccswitch.errors import SipParseError
from ccswitch.sip.message import Request, parse_message
from ccswitch.sip.refer import (
    REFER_TABLE,
    SIPFRAG,
    Event,
    Notify,
    ReferAction,
    ReferInput,
    ReferredBy,
    ReferSubscription,
    ReferSubscriptionError,
    ReferTo,
    Replaces,
    SubState,
    escape_uri_header,
    parse_refer_sub,
    parse_sipfrag,
    parse_uri_headers,
    refer_event,
    refer_sub_of,
    refer_to_of,
    referred_by_of,
    replaces_of,
    sipfrag,
    subscription_state,
    unescape_uri_header,
)
from ccswitch.sip.status import reason_phrase
from ccswitch.sip.uri import SipUri

ATTENDED = ("<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345"
            "%3Bfrom-tag%3D5FFE-3994>")


def request(method: str, *extra: str) -> bytes:
    """A REFER-style request with ``extra`` header lines (each without its CRLF)."""
    lines = [
        f"{method} sip:b@atlanta.example.com SIP/2.0",
        "Via: SIP/2.0/UDP agenta.atlanta.example.com;branch=z9hG4bK2293940223",
        "To: <sip:b@atlanta.example.com>;tag=4992",
        "From: <sip:a@atlanta.example.com>;tag=193402342",
        "Call-ID: 898234234@agenta.atlanta.example.com",
        f"CSeq: 93809823 {method}",
        "Max-Forwards: 70",
        *extra,
        "Contact: <sip:a@atlanta.example.com>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parsed(method: str, *extra: str) -> Request:
    msg = parse_message(request(method, *extra))
    assert isinstance(msg, Request)
    return msg


def fault(fn: object, *args: object) -> tuple[int, str]:
    with pytest.raises(SipParseError) as e:
        fn(*args)  # type: ignore[operator]
    return e.value.status, e.value.reason


# -- the messages ------------------------------------------------------------------------------


def test_refer_is_a_request_and_transfer_headers_survive_byte_for_byte() -> None:
    raw = request("REFER", f"Refer-To: {ATTENDED}",
                  'Referred-By: <sip:a@atlanta.example.com>;cid="2UWQFN309shb3@atlanta.example"',
                  "r: sip:carol@cleveland.example.org", "b: sip:a@atlanta.example.com",
                  "Refer-Sub: false",
                  "Replaces: 98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
    msg = parse_message(raw)
    assert isinstance(msg, Request) and msg.method == "REFER" and msg.cseq.method == "REFER"
    msg.validate()
    assert msg.to_bytes() == raw
    assert msg.headers.get_raw_all("refer-to") == [ATTENDED, "sip:carol@cleveland.example.org"]
    assert msg.headers.get_raw_all("Referred-By")[1] == "sip:a@atlanta.example.com"


def test_invite_with_replaces_survives_byte_for_byte() -> None:
    raw = request("INVITE", "Replaces: 12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only",
                  "Require: replaces", "Referred-By: <sip:a@atlanta.example.com>")
    msg = parsed("INVITE", "Replaces: 12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only",
                 "Require: replaces", "Referred-By: <sip:a@atlanta.example.com>")
    assert msg.to_bytes() == raw
    assert replaces_of(msg) == Replaces("12adf2f34456gs5", "12345", "54321", early_only=True)
    by = referred_by_of(msg)
    assert by is not None and str(by.uri) == "sip:a@atlanta.example.com"


# -- Refer-To ----------------------------------------------------------------------------------


def test_refer_to_with_an_embedded_replaces() -> None:
    rt = refer_to_of(parsed("REFER", f"Refer-To: {ATTENDED}"))
    assert rt.target == SipUri(host="denver.example.org", user="dave")
    assert rt.target.headers == ""
    assert rt.replaces == Replaces("12345@192.168.118.3", to_tag="12345", from_tag="5FFE-3994")
    assert rt.headers == () and rt.method == "INVITE"
    assert str(rt) == ATTENDED  # written back with the same escapes
    assert ReferTo.parse(str(rt)) == rt


def test_refer_to_blind_forms() -> None:
    assert ReferTo.parse("sip:800@ccswitch.local").target == SipUri(host="ccswitch.local",
                                                                    user="800")
    rt = ReferTo.parse('"Support queue" <sip:800@ccswitch.local;user=phone>;x-foo=1')
    assert rt.display == "Support queue" and rt.params == {"x-foo": "1"}
    assert rt.target.params == {"user": "phone"} and rt.replaces is None
    # the compact name reads the same
    assert refer_to_of(parsed("REFER", "r: <sip:1002@ccswitch.local>")).target.user == "1002"


def test_refer_to_keeps_other_uri_headers_unescaped() -> None:
    # RFC 3515 §2.1's example escapes the "=" of its second header: split once unescaped
    rt = ReferTo.parse("<sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net"
                       "&Call-ID%3D55432%40alicepc.atlanta.example.com>")
    assert rt.headers == (("Accept-Contact", "sip:bobsdesk.biloxi.example.net"),
                          ("Call-ID", "55432@alicepc.atlanta.example.com"))
    assert rt.replaces is None
    rt2 = ReferTo.parse("<sip:x@y?Require=replaces&replaces=a%40b%3bfrom-tag%3d1%3bto-tag%3d2>")
    assert rt2.headers == (("Require", "replaces"),)
    assert rt2.replaces == Replaces("a@b", to_tag="2", from_tag="1")
    assert str(rt2.uri) == ("sip:x@y?Replaces=a%40b%3Bto-tag%3D2%3Bfrom-tag%3D1"
                            "&Require=replaces")
    assert ReferTo.parse(str(rt2)) == rt2


def test_refer_to_method_parameter() -> None:
    assert ReferTo.parse("<sip:x@y;method=bye>").method == "BYE"


@pytest.mark.parametrize(("value", "status", "reason"), [
    ("", 400, "Missing Refer-To URI"),
    ("  ", 400, "Missing Refer-To URI"),
    ("<>", 400, "Bad Refer-To"),
    ("Bob <>", 400, "Bad Refer-To"),
    (";x=1", 400, "Bad Refer-To"),
    ("*", 400, "Bad Refer-To"),
    ("<sip:a@b>, <sip:c@d>", 400, "Multiple Refer-To"),
    ("sip:a@b, sip:c@d", 400, "Multiple Refer-To"),
    ('"Bob <sip:a@b>', 400, "Bad Refer-To"),
    ("<sip:a@b", 400, "Bad Refer-To"),
    ("sip:a@b?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2", 400, "Bad Refer-To"),  # ? needs <>
    ("<sip:a@b?Replaces=x%3Bto-tag%3D1>", 400, "Bad Replaces"),  # no from-tag
    ("<sip:a@b?Replaces=%3Bto-tag%3D1%3Bfrom-tag%3D2>", 400, "Bad Replaces"),  # no Call-ID
    ("<sip:a@b?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=y%3Bto-tag%3D1%3Bfrom-tag%3D2>",
     400, "Multiple Replaces in Refer-To"),
    ("<sip:a@b?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2%>", 400, "Bad Refer-To"),  # broken %
    ("<sip:a@b?Replaces=x%zz>", 400, "Bad Refer-To"),
    ("<sip:a@b?Replaces>", 400, "Bad Refer-To"),  # no "="
    ("<sip:a@b?=x>", 400, "Bad Refer-To"),
    ("<sip:a@b?X=%C3>", 400, "Bad Refer-To"),  # not UTF-8
    ("<tel:+15551234567>", 416, "Unsupported URI Scheme"),
    ("<mailto:bob@example.org>", 416, "Unsupported URI Scheme"),
])
def test_bad_refer_to(value: str, status: int, reason: str) -> None:
    assert fault(ReferTo.parse, value) == (status, reason)


def test_refer_needs_exactly_one_refer_to() -> None:
    assert fault(refer_to_of, parsed("REFER")) == (400, "Missing Refer-To")
    two = parsed("REFER", "Refer-To: <sip:a@b>", "r: <sip:c@d>")
    assert fault(refer_to_of, two) == (400, "Multiple Refer-To")
    one_list = parsed("REFER", "Refer-To: <sip:a@b>, <sip:c@d>")
    assert fault(refer_to_of, one_list) == (400, "Multiple Refer-To")
    empty = parsed("REFER", "Refer-To: ")
    assert fault(refer_to_of, empty)[0] == 400


def test_bad_refer_to_is_answered_not_raised_elsewhere() -> None:
    """A bad Refer-To does not stop the message from parsing: only reading it faults."""
    msg = parsed("REFER", "Refer-To: <sip:a@b?Replaces=%zz>")
    msg.validate()
    assert fault(refer_to_of, msg) == (400, "Bad Refer-To")


# -- Replaces ----------------------------------------------------------------------------------


def test_replaces_examples() -> None:
    r = Replaces.parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
    assert (r.call_id, r.to_tag, r.from_tag, r.early_only) == (
        "98732@sip.example.com", "ff87ff", "r33th4x0r", False)
    e = Replaces.parse("12adf2f34456gs5 ; To-Tag=12345 ; FROM-TAG=54321 ; Early-Only")
    assert (e.call_id, e.to_tag, e.from_tag, e.early_only) == ("12adf2f34456gs5", "12345",
                                                               "54321", True)
    assert str(e) == "12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only"
    g = Replaces.parse('a@b;to-tag=1;from-tag=2;x-vendor="q;v";flag')
    assert g.params == {"x-vendor": '"q;v"', "flag": None}
    assert Replaces.parse(str(g)) == g


def test_replaces_names_the_dialog_as_its_recipient_sees_it() -> None:
    r = Replaces.parse("c1@h;to-tag=ours;from-tag=theirs")
    assert r.matches("c1@h", local_tag="ours", remote_tag="theirs")
    assert not r.matches("c1@h", local_tag="theirs", remote_tag="ours")
    assert not r.matches("C1@h", local_tag="ours", remote_tag="theirs")  # Call-ID is exact


@pytest.mark.parametrize("value", [
    "", ";to-tag=1;from-tag=2", "a b;to-tag=1;from-tag=2", "a@;to-tag=1;from-tag=2",
    "@b;to-tag=1;from-tag=2", "a@b@c;to-tag=1;from-tag=2", "a;to-tag=1", "a;from-tag=2",
    "a;to-tag;from-tag=2", "a;to-tag=;from-tag=2", "a;to-tag=1;to-tag=1;from-tag=2",
    "a;to-tag=1;from-tag=2;from-tag=3", "a;to-tag=1 2;from-tag=3", "a;to-tag=1;from-tag=2;=x",
    "a;to-tag=1;from-tag=2;x=1;x=2", 'a;to-tag=1;from-tag=2;x="open', "a;to-tag=<1>;from-tag=2",
])
def test_bad_replaces(value: str) -> None:
    assert fault(Replaces.parse, value) == (400, "Bad Replaces")


def test_replaces_header_rules() -> None:
    assert replaces_of(parsed("INVITE")) is None
    two = parsed("INVITE", "Replaces: a;to-tag=1;from-tag=2", "Replaces: b;to-tag=1;from-tag=2")
    assert fault(replaces_of, two) == (400, "Multiple Replaces")
    assert fault(replaces_of, parsed("BYE", "Replaces: a;to-tag=1;from-tag=2")) == (
        400, "Replaces outside INVITE")
    assert fault(replaces_of, parsed("INVITE", "Replaces: a;to-tag=1")) == (400, "Bad Replaces")


# -- Referred-By, Refer-Sub, URI header escapes --------------------------------------------------


def test_referred_by() -> None:
    by = ReferredBy.parse('<sip:referrer@referrer.example>;cid="20398823.2UWQFN309shb3@'
                          'referrer.example"')
    assert by.uri == SipUri(host="referrer.example", user="referrer")
    assert by.cid == "20398823.2UWQFN309shb3@referrer.example"
    assert ReferredBy.parse(str(by)) == by
    assert ReferredBy.parse("sip:a@b").cid is None
    assert referred_by_of(parsed("REFER")) is None
    got = referred_by_of(parsed("REFER", 'b: "Alice" <sip:1001@ccswitch.local>'))
    assert got is not None and got.address.display == "Alice"


@pytest.mark.parametrize("value", ["", "<>", "*", "<sip:a@b", "sip:a@b?x=1", "<tel:+1555>"])
def test_bad_referred_by(value: str) -> None:
    assert fault(ReferredBy.parse, value) == (400, "Bad Referred-By")


def test_one_referred_by() -> None:
    two = parsed("REFER", "Referred-By: <sip:a@b>", "b: <sip:c@d>")
    assert fault(referred_by_of, two) == (400, "Multiple Referred-By")


def test_refer_sub() -> None:
    assert parse_refer_sub("false") is False
    assert parse_refer_sub(" TRUE ;x=1") is True
    assert refer_sub_of(parsed("REFER")) is True
    assert refer_sub_of(parsed("REFER", "Refer-Sub: false")) is False
    assert fault(parse_refer_sub, "no") == (400, "Bad Refer-Sub")
    assert fault(parse_refer_sub, "") == (400, "Bad Refer-Sub")
    assert fault(refer_sub_of, parsed("REFER", "Refer-Sub: true", "Refer-Sub: false")) == (
        400, "Multiple Refer-Sub")


def test_uri_header_escapes() -> None:
    assert escape_uri_header("12345@192.168.118.3;to-tag=12345") == (
        "12345%40192.168.118.3%3Bto-tag%3D12345")
    assert escape_uri_header("a b&c%é") == "a%20b%26c%25%C3%A9"
    assert escape_uri_header("sip:x/y?[z]+$") == "sip:x/y?[z]+$"  # hnv-unreserved stay
    assert unescape_uri_header("a%20b%26c%25%c3%a9") == "a b&c%é"
    for bad in ("%", "%4", "%G0", "abc%", "%C3", "%FF"):
        assert fault(unescape_uri_header, bad) == (400, "Bad URI header")
    assert parse_uri_headers("") == []
    assert parse_uri_headers("a=&b=%3D") == [("a", ""), ("b", "=")]
    assert fault(parse_uri_headers, "a=1&") == (400, "Bad URI header")


# -- NOTIFY contents ---------------------------------------------------------------------------


def test_sipfrag_bodies() -> None:
    assert sipfrag(100) == b"SIP/2.0 100 Trying\r\n"
    assert sipfrag(200) == b"SIP/2.0 200 OK\r\n"
    assert sipfrag(503) == b"SIP/2.0 503 Service Unavailable\r\n"
    assert sipfrag(603, "Declined") == b"SIP/2.0 603 Declined\r\n"
    assert sipfrag(486, "Busy\r\nX: injected") == b"SIP/2.0 486 Busy  X: injected\r\n"
    assert sipfrag(299) == b"SIP/2.0 299 OK\r\n"  # unknown code: its class's phrase
    with pytest.raises(ValueError):
        sipfrag(99)
    assert parse_sipfrag(b"SIP/2.0 180 Ringing\r\nContact: <sip:x@y>\r\n") == (180, "Ringing")
    assert parse_sipfrag(b"SIP/2.0 200 OK") == (200, "OK")
    for bad in (b"", b"SIP/2.0 20 OK", b"SIP/3.0 200 OK", b"HTTP/1.1 200 OK", b"SIP/2.0 099 x",
                b"SIP/2.0 700 x", b"\xff\xfe", b"SIP/2.0 2OO OK"):
        assert fault(parse_sipfrag, bad) == (400, "Bad sipfrag")


def test_event_and_subscription_state_values() -> None:
    assert refer_event(93809824) == "refer;id=93809824"
    assert refer_event() == "refer"
    assert Event.parse("refer;id=93809824") == Event("refer", "93809824")
    assert Event.parse("refer") == Event("refer")
    assert Event.parse("refer ; ID=7;x") == Event("refer", "7", {"x": None})
    for bad in ("", ";id=1", "re fer", "refer;=1"):
        assert fault(Event.parse, bad) == (400, "Bad Event")
    assert subscription_state(SubState.ACTIVE, expires=60) == "active;expires=60"
    assert subscription_state(SubState.TERMINATED, reason="noresource") == (
        "terminated;reason=noresource")
    assert subscription_state(SubState.PENDING) == "pending"
    assert reason_phrase(481) == "Call/Transaction Does Not Exist"


# -- The notifier's refer subscription ---------------------------------------------------------


def test_blind_transfer_that_succeeds() -> None:
    sub = ReferSubscription(event_id=93809823, expires=60, now=10.0)
    assert sub.state is SubState.PENDING and sub.next_deadline() is None
    first = sub.accept(10.0)
    assert first == Notify(100, "Trying", SubState.ACTIVE, "refer;id=93809823", expires=60)
    assert first.body == b"SIP/2.0 100 Trying\r\n"
    assert first.headers() == [("Event", "refer;id=93809823"),
                               ("Subscription-State", "active;expires=60"),
                               ("Content-Type", SIPFRAG)]
    assert sub.next_deadline() == 70.0
    ringing = sub.progress(180, 12.5)
    assert ringing is not None and ringing.body == b"SIP/2.0 180 Ringing\r\n"
    assert ringing.subscription_state == "active;expires=58"  # seconds left, rounded up
    done = sub.final(200, 20.0)
    assert done is not None and done.body == b"SIP/2.0 200 OK\r\n"
    assert done.subscription_state == "terminated;reason=noresource"
    assert sub.state is SubState.TERMINATED and sub.next_deadline() is None
    # the call goes on; nothing more to report, and a later timer does nothing
    assert sub.progress(183, 21.0) is None and sub.final(200, 22.0) is None
    assert sub.handle_timer(100.0) is None


@pytest.mark.parametrize(("status", "body"), [
    (486, b"SIP/2.0 486 Busy Here\r\n"), (404, b"SIP/2.0 404 Not Found\r\n"),
    (408, b"SIP/2.0 408 Request Timeout\r\n"), (503, b"SIP/2.0 503 Service Unavailable\r\n"),
    (603, b"SIP/2.0 603 Decline\r\n"),
])
def test_transfer_that_fails_reports_the_failure(status: int, body: bytes) -> None:
    sub = ReferSubscription(event_id=None, now=0.0)
    sub.accept(0.0)
    n = sub.final(status, 1.0)
    assert n is not None and n.body == body and n.event == "refer"
    assert n.subscription_state == "terminated;reason=noresource"


def test_refer_sub_false_sends_no_notify() -> None:
    sub = ReferSubscription(event_id=5, now=0.0)
    assert sub.no_subscription(0.0) is None
    assert sub.state is SubState.TERMINATED and sub.next_deadline() is None
    assert sub.progress(180, 1.0) is None and sub.final(200, 2.0) is None


def test_subscription_expires_before_the_call_ends() -> None:
    sub = ReferSubscription(event_id=5, expires=30, now=0.0)
    sub.accept(0.0)
    sub.progress(180, 1.0)
    assert sub.handle_timer(29.9) is None and sub.state is SubState.ACTIVE
    n = sub.handle_timer(30.0)
    assert n is not None and n.body == b"SIP/2.0 180 Ringing\r\n"  # the last status
    assert n.subscription_state == "terminated;reason=timeout"
    assert sub.state is SubState.TERMINATED
    assert sub.final(200, 31.0) is None


def test_subscribe_refreshes_and_unsubscribes() -> None:
    sub = ReferSubscription(event_id=5, expires=30, now=0.0)
    sub.accept(0.0)
    n = sub.subscribe(120, 25.0)
    assert n is not None and n.subscription_state == "active;expires=120"
    assert n.body == b"SIP/2.0 100 Trying\r\n"
    assert sub.next_deadline() == 145.0 and sub.handle_timer(30.0) is None
    end = sub.subscribe(0, 40.0)
    assert end is not None and end.subscription_state == "terminated"
    assert sub.state is SubState.TERMINATED
    assert sub.subscribe(60, 41.0) is None  # the caller answers such a SUBSCRIBE 481


def test_misuse_raises() -> None:
    sub = ReferSubscription(event_id=5, now=0.0)
    for call in (lambda: sub.progress(180, 0.0), lambda: sub.final(200, 0.0),
                 lambda: sub.subscribe(60, 0.0)):
        with pytest.raises(ReferSubscriptionError):
            call()
    assert sub.state is SubState.PENDING
    sub.accept(0.0)
    with pytest.raises(ReferSubscriptionError):
        sub.accept(0.0)
    with pytest.raises(ReferSubscriptionError):
        sub.no_subscription(0.0)
    with pytest.raises(ReferSubscriptionError):
        sub.progress(200, 0.0)
    with pytest.raises(ReferSubscriptionError):
        sub.final(180, 0.0)
    assert sub.state is SubState.ACTIVE and sub.status == 100


def test_table_shape() -> None:
    """Every live state handles what the referred call can do; only ACTIVE arms the timer;
    TERMINATED never notifies and never leaves."""
    for inp in (ReferInput.PROGRESS, ReferInput.FINAL):
        assert (SubState.ACTIVE, inp) in REFER_TABLE
        assert (SubState.TERMINATED, inp) in REFER_TABLE
    assert {s for s, i in REFER_TABLE if i is ReferInput.TIMEOUT} == {SubState.ACTIVE}
    for (state, _), edge in REFER_TABLE.items():
        if state is SubState.TERMINATED:
            assert edge.do is ReferAction.NOTHING and edge.next is SubState.TERMINATED
        if edge.do in (ReferAction.NOTIFY_NORESOURCE, ReferAction.NOTIFY_TIMEOUT,
                       ReferAction.NOTIFY_TERMINATED):
            assert edge.next is SubState.TERMINATED
        if edge.do is ReferAction.NOTIFY_ACTIVE:
            assert edge.next is SubState.ACTIVE
