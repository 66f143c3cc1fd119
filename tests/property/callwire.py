"""The wire of the call state machine test: phones that behave like real user agents and a
ledger that checks every SIP message crossing between them and the switch.

``AutoPhone`` reacts to whatever the switch sends the way a SIP phone does (RFC 3261): it
answers every request (180 to a new INVITE, 200 to BYE, NOTIFY, INFO, re-INVITE with an SDP
answer, 200 + 487 to CANCEL), ACKs every final answer to its INVITEs (2xx in a new transaction,
others in the INVITE's), answers a 407 challenge once with digest credentials, and ACKs
retransmitted 2xx again.  What a person does (dial, answer, refuse, hang up, cancel, hold,
transfer) are its methods; the test's rules call them.

``Ledger`` sees every message in both directions and raises ``WireViolation`` as soon as one
breaks a rule of the INVITE usage: an INVITE transaction answered twice with different finals,
a BYE on a dialog that was never confirmed, a second BYE, a 481 to an in-dialog request of a
dialog the phone still has (the switch dropped it without a BYE).  ``Ledger.settled`` checks
what must hold once everything is hung up: every INVITE got a final answer, every 2xx an ACK,
every confirmed dialog exactly one BYE answered 200.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from ccswitch.sip.addr import Address
from ccswitch.sip.auth import build_authorization
from ccswitch.sip.message import Request, Response

Msg = Request | Response


class WireViolation(AssertionError):
    """A message on the wire broke a rule of the INVITE usage."""


def offer_sdp(port: int, *, direction: str = "sendrecv", version: int = 1) -> str:
    return (f"v=0\r\no=- {port} {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
            f"t=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
            f"a={direction}\r\n")


ANSWER_DIRECTION = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


def answer_direction(offer: bytes) -> str:
    text = offer.decode(errors="replace")
    for d in ("sendonly", "recvonly", "inactive"):
        if f"a={d}" in text:
            return ANSWER_DIRECTION[d]
    return "sendrecv"


def branch_of(msg: Msg) -> str:
    via = msg.headers.get("via") or ""
    for part in via.split(";"):
        if part.strip().lower().startswith("branch="):
            return part.strip()[7:]
    return ""


def _tags(msg: Msg) -> frozenset[str]:
    return frozenset(t for t in (msg.from_.tag, msg.to.tag) if t)


# -- the ledger ------------------------------------------------------------------------------
@dataclass(slots=True)
class InviteTxn:
    call_id: str
    cseq: int
    sender: str  # "phone" or "switch"
    initial: bool
    what: str  # for messages: the request line
    final: int | None = None
    final_tag: str | None = None
    acked: bool = False
    after_bye: bool = False  # a re-INVITE answered 2xx after its dialog's BYE


@dataclass(slots=True)
class DialogRecord:
    call_id: str
    tags: frozenset[str]
    what: str
    bye_branch: str | None = None
    bye_answer: int | None = None


@dataclass(slots=True)
class Ledger:
    invites: dict[str, InviteTxn] = field(default_factory=dict)  # branch -> txn
    dialogs: dict[tuple[str, frozenset[str]], DialogRecord] = field(default_factory=dict)
    byes: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # branch -> dialog
    requests: dict[str, str] = field(default_factory=dict)  # in-dialog branch -> method
    trace: list[str] = field(default_factory=list)
    crossing: set[str] = field(default_factory=set)  # branches of requests crossing a BYE
    switch_requests: set[str] = field(default_factory=set)  # in-dialog, from the switch

    def see(self, msg: Msg, sender: str, who: str, *, crossing: bool = False) -> None:
        """``msg`` went from ``sender`` ("phone" or "switch"); ``who`` names the phone.
        ``crossing``: a phone's in-dialog request sent before it read the switch's BYE of that
        dialog (it may be answered 481, and a BYE then is not a second one)."""
        arrow = "->" if sender == "phone" else "<-"
        line = f"{who} {arrow} {msg.method if isinstance(msg, Request) else msg.status} " \
               f"{msg.cseq.method if isinstance(msg, Response) else ''} {msg.call_id}"
        self.trace.append(line)
        branch = branch_of(msg)
        if isinstance(msg, Request):
            if crossing:
                self.crossing.add(branch)
            self._request(msg, sender, branch)
        else:
            self._response(msg, branch)

    def _request(self, req: Request, sender: str, branch: str) -> None:
        m = req.method
        if m == "INVITE":
            if branch not in self.invites:
                self.invites[branch] = InviteTxn(req.call_id, req.cseq.seq, sender,
                                                 req.to.tag is None, f"{m} {req.uri}")
            return
        if m == "ACK":
            for tx in self.invites.values():
                if tx.call_id == req.call_id and tx.cseq == req.cseq.seq and \
                        tx.sender == sender and tx.final is not None:
                    tx.acked = True
            return
        if req.to.tag is None or m == "CANCEL":
            return
        key = (req.call_id, _tags(req))
        d = self.dialogs.get(key)
        if sender == "switch" and m != "BYE" and branch not in self.switch_requests:
            self.switch_requests.add(branch)  # (a retransmission is not a new request)
            if d is not None and d.bye_branch is not None:
                raise WireViolation(f"the switch sent {m} in {req.call_id} after its BYE")
        if sender == "phone":  # (a phone's 481 to the switch's request may be a crossing)
            self.requests[branch] = m
        if m != "BYE":
            return
        if d is None:
            raise WireViolation(f"BYE from the {sender} on a dialog never confirmed: "
                                f"{req.call_id} {sorted(key[1])}")
        if d.bye_branch is not None and d.bye_branch != branch and branch not in self.crossing:
            raise WireViolation(f"a second BYE (from the {sender}) on {d.what} {req.call_id}")
        if d.bye_branch is None:
            d.bye_branch = branch
            self.byes[branch] = key

    def _response(self, resp: Response, branch: str) -> None:
        method = resp.cseq.method
        if method == "INVITE":
            tx = self.invites.get(branch)
            if tx is None or resp.status < 200:
                return
            tag = resp.to.tag
            if tx.final is not None and (tx.final != resp.status or
                                         (resp.status < 300 and tx.final_tag != tag)):
                raise WireViolation(f"{tx.what} ({tx.call_id}) answered {tx.final} "
                                    f"then {resp.status}")
            tx.final, tx.final_tag = resp.status, tag
            d = self.dialogs.get((resp.call_id, _tags(resp)))
            tx.after_bye = not tx.initial and d is not None and d.bye_branch is not None
            if tx.initial and resp.status < 300:
                key = (resp.call_id, _tags(resp))
                self.dialogs.setdefault(key, DialogRecord(resp.call_id, key[1], tx.what))
            return
        if method == "BYE" and branch in self.byes:
            d = self.dialogs[self.byes[branch]]
            if resp.status >= 200:
                d.bye_answer = resp.status
        if resp.status == 481 and branch in self.requests and branch not in self.crossing:
            raise WireViolation(f"{method} in {resp.call_id} got 481: the dialog was dropped "
                                "without a BYE")

    def settled(self) -> None:
        """Everything was hung up and every timer has run: every INVITE answered once and
        every 2xx ACKed, every confirmed dialog ended by one BYE answered 200."""
        for tx in self.invites.values():
            if tx.final is None:
                raise WireViolation(f"{tx.what} ({tx.call_id}, from the {tx.sender}) never "
                                    "got a final answer")
            # (phones lose ACKs on purpose: only the switch's ACKs are required)
            if tx.final < 300 and not tx.acked and tx.sender == "switch":
                raise WireViolation(f"the 2xx to {tx.what} ({tx.call_id}) was never ACKed")
        for d in self.dialogs.values():
            if d.bye_branch is None:
                raise WireViolation(f"the dialog of {d.what} ({d.call_id}) never got a BYE")
            if d.bye_answer != 200:
                raise WireViolation(f"the BYE of {d.what} ({d.call_id}) was answered "
                                    f"{d.bye_answer}")


# -- the phones ------------------------------------------------------------------------------
@dataclass(slots=True)
class Dialog:
    """A dialog of the phone (confirmed): what it needs to send requests in it."""

    call_id: str
    local: str  # our From (with tag)
    remote: str  # their To (with tag)
    target: str
    cseq: int
    peer: str  # "who": the number dialled or the caller, for reading traces
    ended: bool = False
    held: bool = False
    reinvite: str | None = None  # branch of our re-INVITE still unanswered
    port: int = 0
    version: int = 1


@dataclass(slots=True)
class Incoming:
    """A new INVITE ringing at the phone."""

    req: Request
    tag: str
    final: int | None = None
    last: str = ""  # the text of our last response (resent on a retransmission)


@dataclass(slots=True)
class Outgoing:
    """A call the phone placed."""

    number: str
    call_id: str
    ruri: str
    from_: str
    to: str
    cseq: int
    branch: str
    body: str
    authed: bool = False
    provisional: bool = False
    final: int | None = None


class AutoPhone:
    """A registered SIP UA at 127.0.0.1:``port`` that answers what it gets like a phone."""

    def __init__(self, user: str, port: int, send: Callable[[AutoPhone, str], None], *,
                 name: str | None = None) -> None:
        self.user = user
        self.name = name or user  # a user may have several phones (every one rings)
        self.password = f"pw{user}"
        self.addr = Address("udp", "127.0.0.1", port)
        self.port = port
        self._send = send
        self.n = 0
        self.out: dict[str, Outgoing] = {}  # branch of the INVITE -> call
        self.incoming: dict[str, Incoming] = {}  # branch -> INVITE ringing here
        self.dialogs: dict[tuple[str, str], Dialog] = {}  # (call id, our tag) -> dialog
        self.reinvites: dict[str, tuple[str, str]] = {}  # branch of our re-INVITE -> dialog
        self.answered: dict[str, str] = {}  # branch of an in-dialog request -> our answer
        self.backlog: list[Msg] = []  # what arrived while the phone is slow, unread
        self.slow = False
        self.drop_acks = 0  # 2xx ACKs lost on the way (the switch retransmits its 2xx)
        self.next_port = 10000 + (port % 100) * 500  # our RTP ports (never used)
        self.registered: Response | None = None  # the last answer to a REGISTER
        self.reg_cseq = 0
        # session timers (RFC 4028): None, no support; True, it claims to refresh its calls
        # (90 s) and never does but by its random re-INVITEs (the switch hangs up at
        # expiry); False, it asks the switch to refresh (re-INVITEs from the switch)
        self.refreshes: bool | None = None

    def _timer(self, as_uac: bool) -> str:
        """Our session timer headers (empty without support)."""
        if self.refreshes is None:
            return ""
        who = ("uac" if as_uac else "uas") if self.refreshes else ("uas" if as_uac else "uac")
        return f"Supported: timer\r\nSession-Expires: 90;refresher={who}\r\n"

    # -- building ------------------------------------------------------------------------
    def _branch(self) -> str:
        self.n += 1
        return f"z9hG4bK{self.name}p{self.n}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@127.0.0.1:{self.port}>"

    def _request(self, method: str, ruri: str, *, call_id: str, cseq: int, from_: str,
                 to: str, branch: str, body: str = "", extra: str = "",
                 contact: bool = True) -> str:
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
                 "Max-Forwards: 70", f"From: {from_}", f"To: {to}", f"Call-ID: {call_id}",
                 f"CSeq: {cseq} {method}"]
        if contact:
            lines.append(f"Contact: {self.contact}")
        return _finish(lines, extra, body)

    def _response(self, req: Request, status: int, reason: str, *, tag: str | None = None,
                  body: str = "", extra: str = "") -> str:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in req.headers.get_raw_all("via")]
        to = req.headers.get("to") or ""
        if tag and req.to.tag is None:
            to = f"{to};tag={tag}"
        lines += [f"From: {req.headers.get('from')}", f"To: {to}", f"Call-ID: {req.call_id}",
                  f"CSeq: {req.cseq}"]
        if 100 < status < 300:
            lines.append(f"Contact: {self.contact}")
        return _finish(lines, extra, body)

    def _in_dialog(self, d: Dialog, method: str, *, cseq: int | None = None,
                   branch: str | None = None, body: str = "", extra: str = "") -> str:
        if cseq is None:
            d.cseq += 1
            cseq = d.cseq
        return self._request(method, d.target, call_id=d.call_id, cseq=cseq, from_=d.local,
                             to=d.remote, branch=branch or self._branch(), body=body,
                             extra=extra, contact=method not in ("ACK", "BYE"))

    def sdp(self, d: Dialog | None = None, direction: str = "sendrecv") -> str:
        if d is None:
            self.next_port += 2
            return offer_sdp(self.next_port)
        d.version += 1
        return offer_sdp(d.port, direction=direction, version=d.version)

    # -- what a person does ----------------------------------------------------------------
    def dial(self, number: str, call_id: str) -> None:
        branch = self._branch()
        body = self.sdp()
        o = Outgoing(number, call_id, f"sip:{number}@127.0.0.1",
                     f"<sip:{self.user}@ccswitch.local>;tag=f{call_id.split('@')[0]}",
                     f"<sip:{number}@ccswitch.local>", 1, branch, body)
        self.out[branch] = o
        self._send(self, self._request("INVITE", o.ruri, call_id=call_id, cseq=1,
                                       from_=o.from_, to=o.to, branch=branch, body=body,
                                       extra=self._timer(True)))

    def answer(self, branch: str, status: int) -> None:
        inc = self.incoming[branch]
        if inc.final is not None:
            return
        inc.final = status
        req = inc.req
        if status >= 300:
            inc.last = self._response(req, status, "Busy Here", tag=inc.tag)
            self._send(self, inc.last)
            return
        if req.body:
            self.next_port += 2
            body = offer_sdp(self.next_port, direction=answer_direction(req.body))
        else:
            body = self.sdp()
        d = Dialog(req.call_id, f"{req.headers.get('to')};tag={inc.tag}",
                   req.headers.get("from") or "",
                   str(req.contacts[0].uri) if req.contacts else str(req.from_.uri),
                   0, req.from_.uri.user or "?", port=self.next_port)
        self.dialogs[(req.call_id, inc.tag)] = d
        timer = self._timer(False) if "session-expires" in req.headers else ""
        inc.last = self._response(req, 200, "OK", tag=inc.tag, body=body, extra=timer)
        self._send(self, inc.last)

    def hangup(self, key: tuple[str, str]) -> None:
        d = self.dialogs[key]
        if d.ended:
            return
        d.ended = True
        self._send(self, self._in_dialog(d, "BYE"))

    def cancel(self, branch: str) -> None:
        o = self.out[branch]
        if o.final is not None or not o.provisional:
            return
        self._send(self, self._request("CANCEL", o.ruri, call_id=o.call_id, cseq=o.cseq,
                                       from_=o.from_, to=o.to, branch=o.branch,
                                       contact=False).replace(
            f"CSeq: {o.cseq} INVITE", f"CSeq: {o.cseq} CANCEL"))

    def reinvite(self, key: tuple[str, str], hold: bool) -> None:
        d = self.dialogs[key]
        if d.ended or d.reinvite is not None:
            return
        d.held = hold
        branch = self._branch()
        d.reinvite = branch
        self.reinvites[branch] = key
        self._send(self, self._in_dialog(
            d, "INVITE", branch=branch, body=self.sdp(d, "sendonly" if hold else "sendrecv")))

    def refer(self, key: tuple[str, str], number: str,
              consultation: tuple[str, str] | None = None) -> None:
        """REFER the other party of dialog ``key`` to ``number`` (blind), or to the other
        party of our dialog ``consultation`` (attended: Refer-To with Replaces)."""
        d = self.dialogs[key]
        if d.ended:
            return
        uri = f"sip:{number}@ccswitch.local"
        if consultation is not None:
            c = self.dialogs[consultation]
            remote_tag = c.remote.rsplit("tag=", 1)[1]
            rep = f"{c.call_id};to-tag={remote_tag};from-tag={consultation[1]}"
            uri = f"sip:{c.peer}@ccswitch.local?Replaces={quote(rep, safe='')}"
        self._send(self, self._in_dialog(
            d, "REFER", extra=f"Refer-To: <{uri}>\r\n"
                              f"Referred-By: <sip:{self.user}@ccswitch.local>\r\n"))

    # -- what it does by itself --------------------------------------------------------------
    def receive(self, msg: Msg) -> None:
        if isinstance(msg, Request):
            self._on_request(msg)
        else:
            self._on_response(msg)

    def _on_request(self, req: Request) -> None:
        m, branch = req.method, branch_of(req)
        if m == "ACK":
            return
        if m == "CANCEL":
            inc = self.incoming.get(branch)
            self._send(self, self._response(req, 200 if inc else 481,
                                            "OK" if inc else "No Transaction"))
            if inc is not None and inc.final is None:
                inc.final = 487
                inc.last = self._response(inc.req, 487, "Request Terminated", tag=inc.tag)
                self._send(self, inc.last)
            return
        if m == "INVITE" and req.to.tag is None:
            inc = self.incoming.get(branch)
            if inc is not None:  # a retransmission: our last answer again
                self._send(self, inc.last)
                return
            inc = Incoming(req, f"t{self.name}{self.n}x")
            self.n += 1
            inc.last = self._response(req, 180, "Ringing", tag=inc.tag)
            self.incoming[branch] = inc
            self._send(self, inc.last)
            return
        done = self.answered.get(branch)
        if done is not None:  # a retransmission: the same answer again
            self._send(self, done)
            return
        d = self.dialogs.get((req.call_id, req.to.tag or ""))
        if d is None or (d.ended and m != "BYE"):
            text = self._response(req, 481, "Call Does Not Exist")
        elif m == "BYE":
            d.ended = True
            text = self._response(req, 200, "OK")
        elif m == "INVITE" and d.reinvite is not None:  # glare (RFC 3261 §14.2)
            text = self._response(req, 491, "Request Pending")
        elif m == "INVITE":
            body = offer_sdp(d.port, direction=answer_direction(req.body),
                             version=d.version + 1) if req.body else self.sdp(d)
            d.version += 1
            text = self._response(req, 200, "OK", body=body)
        else:
            text = self._response(req, 200, "OK")
        self.answered[branch] = text
        self._send(self, text)

    def _on_response(self, resp: Response) -> None:
        branch = branch_of(resp)
        if resp.cseq.method == "REGISTER":
            self.registered = resp
        if resp.cseq.method != "INVITE":
            return
        o = self.out.get(branch)
        if o is not None:
            self._call_response(o, resp)
            return
        key = self.reinvites.get(branch)
        if key is None or resp.status < 200:
            return
        d = self.dialogs[key]
        if d.reinvite == branch:
            d.reinvite = None
        if resp.status < 300:  # (a retransmitted 2xx is ACKed again)
            self._ack_2xx(d, resp.cseq.seq)
        else:
            self._send(self, self._in_dialog(d, "ACK", cseq=resp.cseq.seq, branch=branch))

    def _call_response(self, o: Outgoing, resp: Response) -> None:
        if resp.status < 200:
            o.provisional = True  # CANCEL may follow any provisional (RFC 3261 §9.1)
            return
        if resp.status >= 300:
            # the ACK of a failure is part of the INVITE transaction (same branch)
            to = resp.headers.get("to") or o.to
            self._send(self, self._request("ACK", o.ruri, call_id=o.call_id, cseq=o.cseq,
                                           from_=o.from_, to=to, branch=o.branch,
                                           contact=False))
            if resp.status == 407 and not o.authed:
                self._authenticate(o, resp)
                return
            o.final = o.final or resp.status
            return
        key = (o.call_id, o.from_.rsplit("tag=", 1)[1])
        if key not in self.dialogs:
            o.final = resp.status
            target = str(resp.contacts[0].uri) if resp.contacts else "sip:127.0.0.1:5060"
            self.dialogs[key] = Dialog(o.call_id, o.from_, resp.headers.get("to") or "",
                                       target, o.cseq, o.number, port=self.next_port)
        self._ack_2xx(self.dialogs[key], o.cseq)

    def _ack_2xx(self, d: Dialog, cseq: int) -> None:
        if self.drop_acks > 0:
            self.drop_acks -= 1
            return
        self._send(self, self._in_dialog(d, "ACK", cseq=cseq))

    def _authenticate(self, o: Outgoing, r407: Response) -> None:
        auth = build_authorization(r407.headers.get("proxy-authenticate") or "",
                                   method="INVITE", uri=o.ruri, user=self.user,
                                   password=self.password, cnonce="c0ffee")
        del self.out[o.branch]
        o.authed, o.cseq, o.branch = True, o.cseq + 1, self._branch()
        self.out[o.branch] = o
        self._send(self, self._request("INVITE", o.ruri, call_id=o.call_id, cseq=o.cseq,
                                       from_=o.from_, to=o.to, branch=o.branch, body=o.body,
                                       extra=f"Proxy-Authorization: {auth}\r\n"
                                             + self._timer(True)))

    def register(self, expires: int, pump: Callable[[], None]) -> int:
        """REGISTER (``expires=0``: unregister), answering the 401; the final status (a slow
        phone reads what it had first)."""
        self.slow = False
        self.catch_up()
        auth = ""
        for _ in range(2):
            self.reg_cseq += 1
            self.registered = None
            self._send(self, self._request(
                "REGISTER", "sip:ccswitch.local", call_id=f"reg-{self.name}",
                cseq=self.reg_cseq, from_=f"<sip:{self.user}@ccswitch.local>;tag=r1",
                to=f"<sip:{self.user}@ccswitch.local>", branch=self._branch(),
                extra=f"Expires: {expires}\r\n"
                      + (f"Authorization: {auth}\r\n" if auth else "")))
            pump()
            got = self.registered
            assert got is not None
            if got.status != 401:
                return got.status
            auth = build_authorization(got.headers.get("www-authenticate") or "",
                                       method="REGISTER", uri="sip:ccswitch.local",
                                       user=self.user, password=self.password, cnonce="beef")
        return 401

    def unread_bye(self, text: str) -> bool:
        """``text`` (a request we send) is in a dialog whose BYE from the switch we have not
        read yet."""
        head = text.split("\r\n\r\n", 1)[0]
        cid = next((ln[9:] for ln in head.split("\r\n") if ln.startswith("Call-ID: ")), "")
        return any(isinstance(m, Request) and m.method == "BYE" and m.call_id == cid
                   for m in self.backlog)

    def catch_up(self) -> None:
        """Read everything that arrived while slow."""
        while self.backlog:
            self.receive(self.backlog.pop(0))

    # -- reading -------------------------------------------------------------------------------
    def live_dialogs(self) -> list[tuple[str, str]]:
        return sorted(k for k, d in self.dialogs.items() if not d.ended)

    def ringing(self) -> list[str]:
        return sorted(b for b, i in self.incoming.items() if i.final is None)

    def cancellable(self) -> list[str]:
        return sorted(b for b, o in self.out.items() if o.final is None and o.provisional)


def _finish(lines: list[str], extra: str, body: str) -> str:
    head = "\r\n".join(lines) + "\r\n" + extra
    if body:
        head += "Content-Type: application/sdp\r\n"
    return f"{head}Content-Length: {len(body.encode())}\r\n\r\n{body}"
