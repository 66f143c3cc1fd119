"""Typed views parsed on first read, and how the switch answers a fault found only then.

``parse_message`` checks what every consumer needs (start line, mandatory headers, CSeq, top
Via, To, Content-Length); the From and the Request-URI of a request wait for their first read
when they have the usual shape.  A fault found at that read is a ``SipParseError`` naming the
header, which ``Signaling`` answers with a 400 — the switch never lets it escape.
"""

from __future__ import annotations

import pytest
from sipphone import Phone, deliver, make_signaling

from ccswitch.errors import SipParseError
from ccswitch.sip.headers import Via
from ccswitch.sip.message import Request, Response, make_response, parse_head, parse_message
from ccswitch.sip.uri import NameAddr, SipUri

GOOD_FROM = "<sip:1001@ccswitch.local>;tag=ft"
# the usual shape (passes the parse-time check) but a port out of range: found on first read
BROKEN_FROM = "<sip:1001@ccswitch.local:99999>;tag=ft"


def wire(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def request(method: str = "OPTIONS", *, ruri: str = "sip:1002@ccswitch.local",
            frm: str = GOOD_FROM, to: str = "<sip:1002@ccswitch.local>",
            branch: str = "z9hG4bKlazy1") -> bytes:
    return wire(f"{method} {ruri} SIP/2.0\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:7001;branch={branch};rport\n"
                f"From: {frm}\nTo: {to}\nCall-ID: lazy-1\nCSeq: 1 {method}\n"
                "Max-Forwards: 70\nContent-Length: 0\n\n")


def view_error(msg: Request | Response, view: str) -> tuple[int, str]:
    with pytest.raises(SipParseError) as e:
        getattr(msg, view)
    return e.value.status, e.value.reason


def parse_error(data: bytes) -> tuple[int, str]:
    with pytest.raises(SipParseError) as e:
        parse_message(data)
    return e.value.status, e.value.reason


# ---------------------------------------------------------------- what waits, what does not
@pytest.mark.parametrize("frm", [
    BROKEN_FROM,
    "<sip:1001@ccswitch.local>;tag=ft;=x",  # a parameter without a name
    '"Alice" <sip:1001@cc switch.local>;tag=ft',  # a blank inside the URI
])
def test_a_usual_looking_from_is_parsed_on_first_read(frm: str) -> None:
    msg = parse_message(request(frm=frm))
    assert isinstance(msg, Request)
    assert msg.headers.get("from") == frm  # kept byte for byte
    assert view_error(msg, "from_") == (400, "Bad From")
    assert view_error(msg, "from_") == (400, "Bad From")  # a fault is not cached away
    with pytest.raises(SipParseError):
        msg.validate()  # validate() still checks everything
    assert msg.to.uri.user == "1002" and msg.cseq.seq == 1  # the rest reads fine


@pytest.mark.parametrize("frm", [
    "*", "<tel:+15550100>;tag=1", "sip:1001@ccswitch.local:99999;tag=1",  # no <sip:…>
    '"Alice <sip:1001@ccswitch.local>;tag=1',  # unterminated quote
    "<sip:1001@[2001:db8::1>;tag=1",  # IPv6 reference
    "<sip:1001@ccswitch.local;tag=1",  # no closing bracket
])
def test_an_unusual_from_is_parsed_at_once(frm: str) -> None:
    assert parse_error(request(frm=frm)) == (400, "Bad From")


def test_from_of_responses_and_rfc2543_requests_is_parsed_at_once() -> None:
    # a response cannot be answered; an RFC 2543 request is matched by its From tag
    assert parse_error(request(frm=BROKEN_FROM, branch="oldstyle1")) == (400, "Bad From")
    resp = request(frm=BROKEN_FROM).replace(b"OPTIONS sip:1002@ccswitch.local SIP/2.0",
                                            b"SIP/2.0 200 OK")
    assert parse_error(resp) == (400, "Bad From")
    # the same From in an ACK with an RFC 3261 branch waits (nothing matches ACKs by From)
    ack = parse_message(request("ACK", frm=BROKEN_FROM))
    assert view_error(ack, "from_") == (400, "Bad From")


@pytest.mark.parametrize("method", ["OPTIONS", "ACK", "INVITE"])
def test_to_is_always_parsed_at_once(method: str) -> None:
    """Every consumer reads the To tag first, the B2BUA's ACK matching where nobody answers."""
    assert parse_error(request(method, to="<sip:1002@ccswitch.local:99999>")) == (400, "Bad To")


def test_request_uri_waits_for_its_first_read_unless_unusual() -> None:
    msg = parse_message(request(ruri="sip:1002@ccswitch.local:99999"))
    assert isinstance(msg, Request) and msg.uri_text == "sip:1002@ccswitch.local:99999"
    assert view_error(msg, "uri") == (400, "Bad Request-URI")
    for ruri in ("sip:", "sips:1002@", "sip:1002@[2001:db8::1", "sip:1002@host:"):
        assert parse_error(request(ruri=ruri)) == (400, "Bad Request-URI"), ruri
    assert parse_error(request(ruri="tel:+15550100")) == (416, "Unsupported URI Scheme")


def test_top_via_is_parsed_alone_and_the_others_on_first_read() -> None:
    data = request().replace(b"Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bKlazy1;rport\r\n",
                             b"Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bKlazy1;rport\r\n"
                             b"Via: SIP/2.0/UDP 192.0.2.1:99999;branch=z9hG4bKold\r\n")
    msg = parse_message(data)
    assert msg.top_via.branch == "z9hG4bKlazy1" and msg.top_via.port == 7001
    assert view_error(msg, "vias") == (400, "Bad Via")
    # a broken top Via is still found at parse, alone or first in a comma list
    bad_top = request().replace(b"127.0.0.1:7001", b"127.0.0.1:0")
    assert parse_error(bad_top) == (400, "Bad Via")
    listed = request().replace(b";rport\r\n", b";rport, SIP/2.0/UDP h;branch=z9hG4bKx\r\n")
    assert [v.host for v in parse_message(listed).vias] == ["127.0.0.1", "h"]
    assert parse_error(listed.replace(b"127.0.0.1:7001", b"127.0.0.1:0")) == (400, "Bad Via")


def test_top_via_and_vias_agree_after_invalidate() -> None:
    msg = parse_message(request())
    top = msg.top_via
    msg.headers.pop_first("via")
    msg.headers.add("Via", "SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKnew", first=True)
    assert msg.top_via is top  # cached until invalidated
    msg.invalidate()
    assert msg.top_via == msg.vias[0] == Via.parse("SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKnew")


# ---------------------------------------------------------------- make_response
def test_make_response_copies_raw_values_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [parse_message(request(frm=BROKEN_FROM)),
            parse_message(request(to="<sip:1002@ccswitch.local>;tag=have"))]

    def no_parse(*_: object) -> object:
        raise AssertionError("make_response parsed a header")

    for cls in (NameAddr, SipUri, Via):
        monkeypatch.setattr(cls, "parse", classmethod(no_parse))
    for req in reqs:
        assert isinstance(req, Request)
        resp = make_response(req, 200, "OK", to_tag="new")
        for name in ("via", "from", "call-id", "cseq"):
            assert resp.headers.get_raw_all(name) == req.headers.get_raw_all(name), name
    assert reqs[0].headers.get("to") is not None
    assert make_response(reqs[0], 200, "OK", to_tag="new").headers.get("to") == (
        "<sip:1002@ccswitch.local>;tag=new")
    assert make_response(reqs[1], 200, "OK", to_tag="new").headers.get("to") == (
        "<sip:1002@ccswitch.local>;tag=have")


def test_make_response_judges_an_edited_to_afresh() -> None:
    req = parse_message(request())
    assert isinstance(req, Request) and req.to.tag is None  # cached: no tag
    req.headers.set("To", "<sip:1002@ccswitch.local>;tag=later")  # edited, not invalidated
    assert make_response(req, 200, "OK", to_tag="x").headers.get("to") == (
        "<sip:1002@ccswitch.local>;tag=later")


# ---------------------------------------------------------------- through Signaling
def _callee_registered() -> tuple[Phone, Phone]:
    sig = make_signaling()
    a = Phone(sig, "1001", 7001)
    b = Phone(sig, "1002", 7002)
    assert b.register(0.0).status == 200
    b.inbox.clear()
    return a, b


def _with_from(text: str, frm: str) -> str:
    return text.replace(f"From: {GOOD_FROM}", f"From: {frm}")


def _sent(a: Phone) -> list[tuple[str, dict[str, str]]]:
    """What the switch sent ``a``: (start line, first value of each header).  Read with
    ``parse_head``: a response echoing a broken From would not pass ``parse_message``."""
    out = []
    for data, dest in a.sig.outbox():
        assert a.owns(dest), dest
        start, items = parse_head(data.split(b"\r\n\r\n", 1)[0])
        first: dict[str, str] = {}
        for key, _, value in items:
            first.setdefault(key, value)
        out.append((start, first))
    return out


def test_signaling_answers_a_from_broken_past_the_parse_check_with_400() -> None:
    """The From left for the first read is read before authentication (RFC 3261 §8.2 checks
    come first): 400 at once, with no challenge and nothing reaching the callee."""
    a, b = _callee_registered()
    ruri, to = "sip:1002@127.0.0.1", "<sip:1002@ccswitch.local>"
    a.send(_with_from(a.request("INVITE", ruri, call_id="lz", cseq=1, to=to), BROKEN_FROM), 1.0)
    sent = _sent(a)
    assert [s for s, _ in sent] == ["SIP/2.0 100 Trying", "SIP/2.0 400 Bad From"]
    final = sent[1][1]
    assert final["from"] == BROKEN_FROM and ";tag=" in final["to"]  # echoed byte for byte
    assert final["cseq"] == "1 INVITE"
    # the ACK of the 400 carries the same From: absorbed by the transaction, nothing escapes
    ack = a.request("ACK", ruri, call_id="lz", cseq=1, to=final["to"], branch=a.last_branch,
                    contact=None)
    a.send(_with_from(ack, BROKEN_FROM), 1.1)
    a.sig.handle_timer(40.0)  # no retransmission of the 400 is left
    assert all(s != "SIP/2.0 400 Bad From" for s, _ in _sent(a))
    assert b.inbox == [] and list(a.sig.outbox()) == []  # nothing reached the callee
    assert a.sig.counters["bad_dropped"] == 0 and a.sig.counters["bad_answered"] == 0


def test_signaling_answers_a_broken_request_uri_with_400() -> None:
    a, _ = _callee_registered()
    text = a.request("REGISTER", "sip:ccswitch.local:99999", call_id="lzr", cseq=1,
                     to="<sip:1001@ccswitch.local>")
    a.send(text, 1.0)
    deliver(a.sig, [a])
    r = a.last_response()
    assert (r.status, r.reason) == (400, "Bad Request-URI")


def test_signaling_drops_and_counts_an_ack_whose_to_is_broken() -> None:
    """To is parsed at once, so the ACK path (which reads its tag) never sees a broken one."""
    a, _ = _callee_registered()
    ack = a.request("ACK", "sip:1002@127.0.0.1", call_id="lza", cseq=1,
                    to="<sip:1002@ccswitch.local:99999>;tag=x", contact=None)
    a.send(ack, 1.0)  # must not raise
    assert a.sig.counters["bad_dropped"] == 1
    assert list(a.sig.outbox()) == []
