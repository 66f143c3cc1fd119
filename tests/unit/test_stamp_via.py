"""``stamp_via``: the Via view it leaves cached is the one a fresh parse of the stamped header
gives (it re-reads only the parameters when the sent-by is unchanged)."""

from __future__ import annotations

import pytest

from ccswitch.sip.addr import Address
from ccswitch.sip.headers import Via
from ccswitch.sip.message import Request, parse_message
from ccswitch.sip.transaction import stamp_via


def _invite(via_line: str) -> Request:
    text = ("INVITE sip:1002@127.0.0.1 SIP/2.0\r\n"
            f"{via_line}\r\n"
            "From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1002@127.0.0.1>\r\n"
            "Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    req = parse_message(text.encode())
    assert isinstance(req, Request)
    return req


@pytest.mark.parametrize(("via_line", "source", "stamped"), [
    # nothing to stamp (same host, no rport): the header and its view are left as they were
    ("Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-6",
     Address("udp", "127.0.0.1", 9999),
     "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-6"),
    # rport asked, same host: rport filled with the source port, received added last
    ("Via: SIP/2.0/UDP 127.0.0.1:5071;rport;branch=z9hG4bK-1",
     Address("udp", "127.0.0.1", 5071),
     "SIP/2.0/UDP 127.0.0.1:5071;rport=5071;branch=z9hG4bK-1;received=127.0.0.1"),
    # another host, an old received dropped, names kept as written (RPort), compact name
    ("v: SIP/2.0/udp 10.0.0.5:5060;Branch=z9hG4bK-2;received=1.2.3.4;RPort",
     Address("udp", "203.0.113.7", 40000),
     "SIP/2.0/udp 10.0.0.5:5060;Branch=z9hG4bK-2;rport=40000;received=203.0.113.7"),
    # IPv6 sent-by and source, no rport: only received
    ("Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-3;x",
     Address("udp", "[2001:db8::2]", 5060),
     "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-3;x;received=2001:db8::2"),
    # a quoted parameter: the slow path (split outside quotes, full re-parse)
    ('Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-4;x="a;b";rport',
     Address("udp", "10.0.0.9", 6000),
     'SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-4;x="a;b";rport=6000;received=10.0.0.9'),
    # two values in the top header: the slow path
    ("Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-5;rport, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bK-x",
     Address("udp", "10.0.0.5", 7000),
     "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-5;rport=7000;received=10.0.0.5"),
])
def test_the_cached_view_is_a_fresh_parse_of_the_stamped_value(
        via_line: str, source: Address, stamped: str) -> None:
    req = _invite(via_line)
    before = req.top_via  # parsed before stamping, as the transaction layer does
    stamp_via(req, source)
    assert req.headers.get_all("via")[0] == stamped
    assert req.top_via == Via.parse(stamped)
    assert req.vias[0] == Via.parse(stamped)
    if via_line.endswith(stamped):  # nothing stamped: the very view is kept, the header too
        assert req.top_via is before
        assert req.headers.get_all("via") == [stamped]
    else:
        assert next(iter(req.headers.items())) == ("Via", stamped)  # moved first, spelled long
