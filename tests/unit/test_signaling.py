"""The signaling core end to end in memory: register with digest, call, answer, hang up."""

from __future__ import annotations

import random

import pytest

from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import SwitchConfig
from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.auth import build_authorization
from ccswitch.sip.message import Request, Response, parse_message
from ccswitch.sip.registrar import BindingsChanged

SW = Address("udp", "127.0.0.1", 5060)



class Phone:
    """A scripted UA that speaks raw SIP to the core through memory."""

    def __init__(self, sig: Signaling, user: str, port: int) -> None:
        self.sig = sig
        self.user = user
        self.addr = Address("udp", "127.0.0.1", port)
        self.inbox: list[Request | Response] = []
        self.n = 0

    def send(self, text: str, now: float) -> None:
        self.sig.receive(text.replace("\n", "\r\n").encode(), self.addr, now)

    def request(self, method: str, ruri: str, *, call_id: str, cseq: int, to: str,
                from_tag: str = "ft", extra: str = "", body: str = "") -> str:
        self.n += 1
        hdrs = (f"{method} {ruri} SIP/2.0\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.addr.port};branch=z9hG4bK{self.user}{self.n};rport\n"
                f"Max-Forwards: 70\nFrom: <sip:{self.user}@ccswitch.local>;tag={from_tag}\n"
                f"To: {to}\nCall-ID: {call_id}\nCSeq: {cseq} {method}\n"
                f"Contact: <sip:{self.user}@127.0.0.1:{self.addr.port}>\n{extra}")
        ctype = "Content-Type: application/sdp\n" if body else ""
        return f"{hdrs}{ctype}Content-Length: {len(body.replace(chr(10), chr(13) + chr(10)))}\n\n{body}"


def deliver(sig: Signaling, phones: list[Phone]) -> None:
    for data, dest in sig.outbox():
        for p in phones:
            if dest.port == p.addr.port:
                p.inbox.append(parse_message(data))


def challenge(resp: Response, name: str) -> str:
    v = resp.headers.get(name)
    assert v is not None
    return v


@pytest.fixture
def sig() -> Signaling:
    from ccswitch.config.schema import parse_config

    text = open("configs/demo.toml").read()
    return Signaling(config=parse_config(text, "demo.toml"),
                     listeners=[Listener("udp", "127.0.0.1", 5060)],
                     ids=Ids(random.Random(7)))


def register(sig: Signaling, phone: Phone, password: str, now: float) -> Response:
    to = f"<sip:{phone.user}@ccswitch.local>"
    phone.send(phone.request("REGISTER", "sip:ccswitch.local", call_id=f"reg{phone.user}",
                             cseq=1, to=to, extra="Expires: 600\n"), now)
    deliver(sig, [phone])
    r401 = phone.inbox.pop()
    assert isinstance(r401, Response) and r401.status == 401
    auth = build_authorization(challenge(r401, "WWW-Authenticate"), method="REGISTER",
                               uri="sip:ccswitch.local", user=phone.user, password=password,
                               cnonce="abc")
    phone.send(phone.request("REGISTER", "sip:ccswitch.local", call_id=f"reg{phone.user}",
                             cseq=2, to=to, extra=f"Expires: 600\nAuthorization: {auth}\n"), now)
    deliver(sig, [phone])
    resp = phone.inbox.pop()
    assert isinstance(resp, Response)
    return resp


def test_register_and_call_and_bye(sig: Signaling) -> None:
    a, b = Phone(sig, "1001", 7001), Phone(sig, "1002", 7002)
    assert register(sig, b, "pw1002", 0.0).status == 200
    assert any(isinstance(e, BindingsChanged) and e.user == "1002" for e in sig.events())
    assert register(sig, a, "wrong", 0.0).status == 401

    sdp = "v=0\no=a 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
    to_b = "<sip:1002@ccswitch.local>"
    a.send(a.request("INVITE", "sip:1002@127.0.0.1", call_id="c1", cseq=1, to=to_b, body=sdp), 1.0)
    deliver(sig, [a, b])
    r407 = a.inbox[-1]
    assert isinstance(r407, Response) and r407.status == 407
    # ACK for the 407 is absorbed by the transaction
    auth = build_authorization(challenge(r407, "Proxy-Authenticate"), method="INVITE",
                               uri="sip:1002@127.0.0.1", user="1001", password="pw1001",
                               cnonce="xyz")
    a.inbox.clear()
    a.send(a.request("INVITE", "sip:1002@127.0.0.1", call_id="c1", cseq=2, to=to_b,
                     extra=f"Proxy-Authorization: {auth}\n", body=sdp), 1.1)
    deliver(sig, [a, b])
    assert [m.status for m in a.inbox if isinstance(m, Response)] == [100]
    inv = b.inbox.pop()
    assert isinstance(inv, Request) and inv.method == "INVITE"
    assert inv.uri.user == "1002" and inv.body == sdp.replace("\n", "\r\n").encode()
    assert inv.from_.uri.user == "1001"

    def answer(status: int, reason: str, body: str = "") -> None:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in inv.headers.get_all("via")]
        lines += [f"From: {inv.headers.get('from')}", f"To: {inv.headers.get('to')};tag=btag",
                  f"Call-ID: {inv.call_id}", f"CSeq: {inv.cseq}",
                  "Contact: <sip:1002@127.0.0.1:7002>"]
        if body:
            lines.append("Content-Type: application/sdp")
        b.send("\n".join(lines) + f"\nContent-Length: {len(body.replace(chr(10), chr(13)+chr(10)))}\n\n{body}", 2.0)
        deliver(sig, [a, b])

    answer(180, "Ringing")
    assert a.inbox[-1].status == 180  # type: ignore[union-attr]
    answer(200, "OK", sdp.replace("4000", "4002"))
    ok = a.inbox[-1]
    assert isinstance(ok, Response) and ok.status == 200 and b"4002" in ok.body
    ack_b = b.inbox.pop()
    assert isinstance(ack_b, Request) and ack_b.method == "ACK"
    a_tag = ok.to.tag
    a.send(a.request("ACK", "sip:127.0.0.1:5060", call_id="c1", cseq=2,
                     to=f"{to_b};tag={a_tag}"), 2.1)
    a.send(a.request("BYE", "sip:127.0.0.1:5060", call_id="c1", cseq=3,
                     to=f"{to_b};tag={a_tag}"), 3.0)
    deliver(sig, [a, b])
    assert a.inbox[-1].status == 200  # type: ignore[union-attr]
    bye = b.inbox.pop()
    assert isinstance(bye, Request) and bye.method == "BYE" and bye.call_id == inv.call_id
    assert len(sig.b2bua) == 0


def test_unknown_number_404_and_unregistered_480(sig: Signaling) -> None:
    a = Phone(sig, "1001", 7001)
    for number, status in (("5555", 404), ("1003", 480)):
        to = f"<sip:{number}@ccswitch.local>"
        a.send(a.request("INVITE", f"sip:{number}@127.0.0.1", call_id=number, cseq=1, to=to), 0)
        deliver(sig, [a])
        r407 = a.inbox[-1]
        assert isinstance(r407, Response) and r407.status == 407
        auth = build_authorization(challenge(r407, "Proxy-Authenticate"), method="INVITE",
                                   uri=f"sip:{number}@127.0.0.1", user="1001",
                                   password="pw1001", cnonce="c")
        a.send(a.request("INVITE", f"sip:{number}@127.0.0.1", call_id=number, cseq=2, to=to,
                         extra=f"Proxy-Authorization: {auth}\n"), 0.1)
        deliver(sig, [a])
        assert a.inbox[-1].status == status  # type: ignore[union-attr]


def test_garbage_answered_or_dropped(sig: Signaling) -> None:
    a = Phone(sig, "1001", 7001)
    sig.receive(b"\x00\xff garbage", a.addr, 0)
    assert sig.counters["bad_dropped"] == 1
    msg = a.request("OPTIONS", "sip:127.0.0.1", call_id="x", cseq=1, to="<sip:x@y>")
    a.send(msg.replace("Call-ID: x\n", ""), 0)
    out = sig.outbox()
    assert len(out) == 1 and out[0][1] == a.addr
    assert out[0][0].startswith(b"SIP/2.0 400 Missing Call-ID\r\n")
    a.send(msg, 0)
    deliver(sig, [a])
    assert a.inbox[-1].status == 200  # type: ignore[union-attr]
