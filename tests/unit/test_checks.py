"""RFC 3261 §8.2 checks (``call/checks.py``): each answer, with the header present or absent."""

from __future__ import annotations

import pytest

from ccswitch.call.checks import Refusal, refusal
from ccswitch.errors import SipParseError
from ccswitch.sip.message import Request, parse_message

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0\r\n")


def _req(extra: str = "", method: str = "INVITE", body: str = SDP,
         ctype: str = "application/sdp") -> Request:
    lines = [f"{method} sip:1002@127.0.0.1 SIP/2.0",
             "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-1", "Max-Forwards: 70",
             "From: <sip:1001@127.0.0.1>;tag=a", "To: <sip:1002@127.0.0.1>", "Call-ID: c1",
             f"CSeq: 1 {method}", "Contact: <sip:1001@127.0.0.1:5071>"]
    lines += [ln for ln in extra.split("\n") if ln]
    if body:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body)}")
    msg = parse_message(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
    assert isinstance(msg, Request)
    return msg


@pytest.mark.parametrize(("extra", "expected"), [
    ("", None),
    ("Require: replaces", None),  # supported
    ("Require: foo, replaces\nProxy-Require: bar, foo",  # each unsupported tag once, in order
     Refusal(420, "Bad Extension", (("Unsupported", "foo, bar"),))),
    ("Content-Encoding: gzip", Refusal(415, "Unsupported Media Type",
                                       (("Accept-Encoding", "identity"),))),
    ("Content-Encoding: Identity", None),
    ("Accept: application/sdp;q=1, text/plain", None),
    ("Accept: text/plain", Refusal(406, "Not Acceptable", (
        ("Accept", "application/sdp"),
        ("Warning", '399 ccswitch "answers carry application/sdp"')))),
    ("Date: Sat, 13 Nov 2010 23:29:00 GMT", None),
    ("Expires: 60", None),
])
def test_invite_answers(extra: str, expected: Refusal | None) -> None:
    assert refusal(_req(extra), in_dialog=False) == expected


def test_a_body_we_cannot_read_is_415_with_accept() -> None:
    assert refusal(_req(ctype="text/plain"), in_dialog=False) == Refusal(
        415, "Unsupported Media Type", (("Accept", "application/sdp"),))


def test_in_dialog_only_require_is_checked() -> None:
    assert refusal(_req("Accept: text/plain"), in_dialog=True) is None
    assert refusal(_req("Require: foo"), in_dialog=True) == Refusal(
        420, "Bad Extension", (("Unsupported", "foo"),))
    # CANCEL: Require does not apply (§9.2)
    assert refusal(_req("Require: foo", method="CANCEL", body=""), in_dialog=False) is None


@pytest.mark.parametrize(("extra", "reason"), [
    ("Date: yesterday", "Bad Date"),
    ("Expires: soon", "Bad Expires"),
    ("m: <sip:1001@127.0.0.1", "Bad Contact"),  # compact Contact, unterminated
])
def test_faults_in_read_headers_are_400(extra: str, reason: str) -> None:
    with pytest.raises(SipParseError) as err:
        refusal(_req(extra, method="OPTIONS", body=""), in_dialog=False)
    assert (err.value.status, err.value.reason) == (400, reason)
