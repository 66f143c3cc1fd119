"""Scripted SIP phones for unit tests: raw SIP text into a ``Signaling`` core, messages out.

A ``Phone`` writes requests and responses as text the way a real UA would, sends them with
``Phone.send`` (the core parses the bytes) and collects what the core sends it through
``deliver``.  Nothing here decides anything: tests assert on the messages themselves.
"""

from __future__ import annotations

import random
from pathlib import Path

from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import parse_config
from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.auth import build_authorization
from ccswitch.sip.message import Request, Response, parse_message

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"
SW_UDP = Address("udp", "127.0.0.1", 5060)
SW_TCP = Address("tcp", "127.0.0.1", 5060)

Msg = Request | Response


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def make_signaling(seed: int = 7, *, tcp: bool = False) -> Signaling:
    """A ``Signaling`` core on the demo configuration, listening on UDP (and TCP) 5060."""
    listeners = [Listener("udp", "127.0.0.1", 5060)]
    if tcp:
        listeners.append(Listener("tcp", "127.0.0.1", 5060))
    return Signaling(config=parse_config(DEMO.read_text(), "demo.toml"), listeners=listeners,
                     ids=Ids(random.Random(seed)))


class Phone:
    """A scripted UA at 127.0.0.1:``port`` (UDP, or TCP connection ``conn``)."""

    def __init__(self, sig: Signaling, user: str, port: int, *, transport: str = "udp",
                 conn: int | None = None, host: str = "127.0.0.1",
                 password: str | None = None) -> None:
        self.sig = sig
        self.user = user
        self.password = password if password is not None else f"pw{user}"
        self.addr = Address(transport, host, port, conn)
        self.inbox: list[Msg] = []
        self.n = 0
        self.last_branch = ""

    # -- wire --------------------------------------------------------------------------
    def send(self, text: str, now: float) -> None:
        self.sig.receive(crlf(text).encode(), self.addr, now)

    def owns(self, dest: Address) -> bool:
        a = self.addr
        if dest.transport != a.transport or dest.port != a.port or dest.host != a.host:
            return False
        return a.conn is None or dest.conn == a.conn

    # -- building messages ------------------------------------------------------------
    @property
    def contact(self) -> str:
        t = "" if self.addr.transport == "udp" else f";transport={self.addr.transport}"
        return f"<sip:{self.user}@{self.addr.host}:{self.addr.port}{t}>"

    def request(self, method: str, ruri: str, *, call_id: str, cseq: int, to: str,
                from_tag: str = "ft", extra: str = "", body: str = "",
                branch: str | None = None, contact: str | None = "",
                cseq_method: str | None = None) -> str:
        """A request as text; ``contact=None`` leaves the Contact out, "" uses ours."""
        self.n += 1
        self.last_branch = branch or f"z9hG4bK{self.user}x{self.n}"
        proto = self.addr.transport.upper()
        ct = self.contact if contact == "" else contact
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/{proto} {self.addr.host}:{self.addr.port}"
                 f";branch={self.last_branch};rport",
                 "Max-Forwards: 70", f"From: <sip:{self.user}@ccswitch.local>;tag={from_tag}",
                 f"To: {to}", f"Call-ID: {call_id}", f"CSeq: {cseq} {cseq_method or method}"]
        if ct is not None:
            lines.append(f"Contact: {ct}")
        text = "\n".join(lines) + "\n" + extra
        return _with_body(text, body)

    def response(self, req: Request, status: int, reason: str, *, to_tag: str | None = None,
                 body: str = "", extra: str = "", contact: bool = True) -> str:
        """Our answer to ``req`` as text (Via, From, To, Call-ID, CSeq copied)."""
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in req.headers.get_raw_all("via")]
        to = req.headers.get("to") or ""
        if to_tag and ";tag=" not in to:
            to = f"{to};tag={to_tag}"
        lines += [f"From: {req.headers.get('from')}", f"To: {to}",
                  f"Call-ID: {req.call_id}", f"CSeq: {req.cseq}"]
        if contact and 100 < status < 300:
            lines.append(f"Contact: {self.contact}")
        return _with_body("\n".join(lines) + "\n" + extra, body)

    def reply(self, req: Request, status: int, reason: str, now: float, **kw: object) -> None:
        self.send(self.response(req, status, reason, **kw), now)  # type: ignore[arg-type]

    def in_dialog(self, method: str, got: Request | Response, *, cseq: int, body: str = "",
                  extra: str = "", branch: str | None = None, my_tag: str = "") -> str:
        """A request inside the dialog that ``got`` set up: a request we received (we are its
        UAS and answered with To-tag ``my_tag``) or a response to a request we sent."""
        if isinstance(got, Request):  # we are the UAS of that dialog
            local, remote = got.headers.get("to") or "", got.headers.get("from") or ""
            if my_tag and ";tag=" not in local:
                local = f"{local};tag={my_tag}"
            target = str(got.contacts[0].uri) if got.contacts else str(got.from_.uri)
        else:
            local, remote = got.headers.get("from") or "", got.headers.get("to") or ""
            target = str(got.contacts[0].uri) if got.contacts else "sip:127.0.0.1:5060"
        text = self.request(method, target, call_id=got.call_id, cseq=cseq, to=remote,
                            extra=extra, body=body, branch=branch)
        # replace our default From with the dialog's local party
        head, sep, rest = text.partition("\nFrom: ")
        _, nl, tail = rest.partition("\n")
        return f"{head}{sep}{local}{nl}{tail}"

    # -- reading what arrived ---------------------------------------------------------
    def requests(self, method: str | None = None) -> list[Request]:
        return [m for m in self.inbox
                if isinstance(m, Request) and (method is None or m.method == method)]

    def responses(self, status: int | None = None) -> list[Response]:
        return [m for m in self.inbox
                if isinstance(m, Response) and (status is None or m.status == status)]

    def statuses(self) -> list[int]:
        return [m.status for m in self.inbox if isinstance(m, Response)]

    def methods(self) -> list[str]:
        return [m.method for m in self.inbox if isinstance(m, Request)]

    def take(self, method: str) -> Request:
        """The only ``method`` request in the inbox, removed from it."""
        found = self.requests(method)
        assert len(found) == 1, f"{self.user}@{self.addr.port}: {method} x{len(found)}: " \
                                f"{self.inbox}"
        self.inbox.remove(found[0])
        return found[0]

    def last(self) -> Msg:
        assert self.inbox, f"{self.user}@{self.addr.port}: nothing arrived"
        return self.inbox[-1]

    def last_response(self) -> Response:
        m = self.last()
        assert isinstance(m, Response), m
        return m

    # -- flows ------------------------------------------------------------------------
    def register(self, now: float, *, expires: int | None = 600, call_id: str | None = None,
                 cseq: int = 1, aor: str | None = None, password: str | None = None,
                 contact: str | None = "", extra: str = "") -> Response:
        """REGISTER, answer the 401 with digest, return the final answer (cseq and cseq+1)."""
        to = f"<sip:{aor or self.user}@ccswitch.local>"
        cid = call_id or f"reg-{self.user}-{self.addr.port}"
        hdrs = extra + (f"Expires: {expires}\n" if expires is not None else "")
        self.send(self.request("REGISTER", "sip:ccswitch.local", call_id=cid, cseq=cseq, to=to,
                               extra=hdrs, contact=contact), now)
        deliver(self.sig, [self])
        first = self.last_response()
        if first.status != 401:
            return first
        auth = build_authorization(header(first, "WWW-Authenticate"), method="REGISTER",
                                   uri="sip:ccswitch.local", user=self.user,
                                   password=password if password is not None else self.password,
                                   cnonce="c0ffee")
        self.send(self.request("REGISTER", "sip:ccswitch.local", call_id=cid, cseq=cseq + 1,
                               to=to, extra=f"{hdrs}Authorization: {auth}\n", contact=contact),
                  now)
        deliver(self.sig, [self])
        return self.last_response()

    def invite(self, number: str, now: float, *, call_id: str, body: str = "",
               extra: str = "", phones: list[Phone] | None = None) -> str:
        """INVITE ``number`` answering the 407 challenge; returns the authenticated INVITE's
        text (its branch is ``last_branch``, its CSeq 2)."""
        ruri = f"sip:{number}@127.0.0.1"
        to = f"<sip:{number}@ccswitch.local>"
        self.send(self.request("INVITE", ruri, call_id=call_id, cseq=1, to=to, extra=extra,
                               body=body), now)
        deliver(self.sig, [self])
        r407 = self.last_response()
        assert r407.status == 407, r407
        self.send(self.request("ACK", ruri, call_id=call_id, cseq=1,
                               to=r407.headers.get("to") or "", branch=self.last_branch,
                               contact=None), now)
        auth = build_authorization(header(r407, "Proxy-Authenticate"), method="INVITE",
                                   uri=ruri, user=self.user, password=self.password,
                                   cnonce="beef")
        self.inbox.clear()
        text = self.request("INVITE", ruri, call_id=call_id, cseq=2, to=to,
                            extra=f"{extra}Proxy-Authorization: {auth}\n", body=body)
        self.send(text, now)
        deliver(self.sig, [self, *(phones or [])])
        return text


def _with_body(head: str, body: str) -> str:
    body = crlf(body)
    ctype = "Content-Type: application/sdp\n" if body and "Content-Type:" not in head else ""
    return f"{head}{ctype}Content-Length: {len(body.encode())}\n\n{body}"


def header(msg: Msg, name: str) -> str:
    v = msg.headers.get(name)
    assert v is not None, f"{msg!r} lacks {name}"
    return v


def deliver(sig: Signaling, phones: list[Phone]) -> list[tuple[Msg, Address]]:
    """Hand every message in the core's outbox to the phone it is addressed to.

    Returns everything sent, in order, with its destination (also what no phone took).
    """
    sent: list[tuple[Msg, Address]] = []
    for data, dest in sig.outbox():
        msg = parse_message(data, stream=dest.reliable)
        sent.append((msg, dest))
        for p in phones:
            if p.owns(dest):
                p.inbox.append(msg)
                break
    return sent


def sdp(port: int, *, direction: str = "sendrecv", version: int = 1) -> str:
    return (f"v=0\no=- 1 {version} IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {port} RTP/AVP 0 8\na=rtpmap:0 PCMU/8000\na={direction}\n")
