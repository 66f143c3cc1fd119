"""SIP message, header, URI and grammar units: parsing decisions, typed views, make_response."""

from __future__ import annotations

from typing import Any

import pytest

from ccswitch.errors import SipParseError
from ccswitch.sip.grammar import (
    is_digits,
    parse_params,
    parse_uint,
    quote,
    split_commas,
    split_outside_quotes,
    unquote,
)
from ccswitch.sip.headers import CSeq, Via, canonical, normalize
from ccswitch.sip.message import (
    MAX_MESSAGE_SIZE,
    Headers,
    Request,
    Response,
    find_head_end,
    make_response,
    parse_message,
)
from ccswitch.sip.uri import NameAddr, SipUri, split_hostport

HEAD = (
    "INVITE sip:1002@ccswitch.local SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1;rport\r\n"
    "Via: SIP/2.0/TCP 192.0.2.11;branch=z9hG4bKa0, SIP/2.0/UDP 192.0.2.12;branch=z9hG4bKzz\r\n"
    "Record-Route: <sip:192.0.2.1;lr>\r\n"
    'From: "Alice" <sip:1001@ccswitch.local>;tag=from1\r\n'
    "To: <sip:1002@ccswitch.local>\r\n"
    "Call-ID: call-1@192.0.2.10\r\n"
    "CSeq: 4 INVITE\r\n"
    "Contact: <sip:1001@192.0.2.10>\r\n"
    "Max-Forwards: 70\r\n"
)


def msg(extra: str = "", *, head: str = HEAD, body: bytes = b"", cl: int | None = -1) -> bytes:
    length = "" if cl is None else f"Content-Length: {len(body) if cl == -1 else cl}\r\n"
    return (head + extra + length + "\r\n").encode() + body


def req(extra: str = "", **kw: object) -> Request:
    m = parse_message(msg(extra, **kw))  # type: ignore[arg-type]
    assert isinstance(m, Request)
    return m


def err(data: bytes, **kw: Any) -> tuple[int, str]:
    with pytest.raises(SipParseError) as e:
        parse_message(data, **kw)
    return e.value.status, e.value.reason


def view_err(m: Request | Response, view: str) -> tuple[int, str]:
    with pytest.raises(SipParseError) as e:
        getattr(m, view)
    return e.value.status, e.value.reason


# ---------------------------------------------------------------- grammar
def test_is_digits_only_accepts_ascii_digits() -> None:
    assert is_digits("0123")
    for s in ("", "1a", "²", "\u0661\u0662", "-1", " 1", "1.0"):
        assert not is_digits(s), s


def test_parse_uint_bounds_and_huge_inputs() -> None:
    assert parse_uint("0", max_value=9, reason="x") == 0
    assert parse_uint("000000000000000000000042", max_value=100, reason="x") == 42
    assert parse_uint("255", max_value=255, reason="x") == 255
    for bad in ("256", "9" * 5000, "", "+1", "1e3", "²"):
        with pytest.raises(SipParseError) as e:
            parse_uint(bad, max_value=255, reason="Bad Thing")
        assert (e.value.status, e.value.reason) == (400, "Bad Thing")


def test_split_outside_quotes_respects_quotes_escapes_and_brackets() -> None:
    assert split_outside_quotes('"a,\\"b,c" <sip:x;y,z>, d', ",") == [
        '"a,\\"b,c" <sip:x;y,z>', " d"]
    assert split_commas(" a ,, b , ") == ["a", "b"]
    assert split_commas("") == []
    with pytest.raises(SipParseError):
        split_outside_quotes('"open, never closed', ",")
    # nothing quoted or bracketed: every separator cuts, empty parts kept, a lone ">" is text
    assert split_outside_quotes("SIP/2.0/UDP h:5060;rport;;branch=z9hG4bK1", ";") == [
        "SIP/2.0/UDP h:5060", "rport", "", "branch=z9hG4bK1"]
    assert split_outside_quotes("a>b;c\\;d", ";") == ["a>b", "c\\", "d"]
    assert split_outside_quotes(";", ";") == ["", ""]
    assert split_outside_quotes("", ",") == [""]
    # a quote or a bracket anywhere: the scan (here the "<" protects the comma)
    assert split_outside_quotes("<sip:a,b>;x, c", ",") == ["<sip:a,b>;x", " c"]


def test_quote_unquote_round_trip() -> None:
    for s in ("", "plain", 'with "quotes"', "back\\slash", 'both \\" mixed', "ünï"):
        assert unquote(quote(s)) == s


def test_parse_params_order_case_and_flags() -> None:
    p = parse_params(";Transport=TCP;lr; maddr = 192.0.2.1 ;x")
    assert list(p.items()) == [("transport", "TCP"), ("lr", None), ("maddr", "192.0.2.1"),
                               ("x", None)]
    with pytest.raises(SipParseError):
        parse_params(";=value")


# ---------------------------------------------------------------- URIs
def test_sip_uri_parts_and_str_round_trip() -> None:
    text = "sips:alice:pw@Example.COM:5061;transport=tls;lr?subject=hi"
    u = SipUri.parse(text)
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "alice", "pw",
                                                              "example.com", 5061)
    assert u.params == {"transport": "tls", "lr": None}
    assert u.headers == "subject=hi"
    assert SipUri.parse(str(u)) == u
    assert u.transport == "tls"
    assert SipUri.parse("sip:h").transport == "udp"
    assert u.with_(port=None).port is None


@pytest.mark.parametrize("text,status", [
    ("tel:+15550100", 416), ("urn:service:sos", 416), ("sip:", 400), ("sip:a@", 400),
    ("sip:host:0", 400), ("sip:host:65536", 400), ("sip:host:²", 400), ("sip:host:", 400),
    ("sip:host:" + "1" * 5000, 400), ("sip:[2001:db8::1", 400), ("sip:[]", 400),
    ("sip:[zz::1]", 400), ("sip:[2001:db8::1]x", 400), ("sip:ho st", 400), ("sip:a<b", 400),
    ("sip:*", 400), ("sip:h\u00e9te", 400), ("nocolon", 400), ("sip:a@b;=x", 400),
])
def test_bad_uris_raise_sip_parse_error(text: str, status: int) -> None:
    with pytest.raises(SipParseError) as e:
        SipUri.parse(text)
    assert e.value.status == status


def test_split_hostport_ipv6_and_spaces() -> None:
    assert split_hostport("[2001:DB8::1]:5060") == ("[2001:db8::1]", 5060)
    assert split_hostport("[::ffff:192.0.2.1]") == ("[::ffff:192.0.2.1]", None)
    assert split_hostport("host : 5070") == ("host", 5070)  # sent-by allows SWS ":" SWS
    assert split_hostport("a_b.example-1.com") == ("a_b.example-1.com", None)


def test_name_addr_forms() -> None:
    na = NameAddr.parse('"Bob \\"B\\" <x>" <sip:bob@h;transport=tcp>;tag=7;expires=10')
    assert na.display == 'Bob "B" <x>'
    assert na.uri.params == {"transport": "tcp"}
    assert na.params == {"tag": "7", "expires": "10"}
    assert NameAddr.parse(str(na)) == na
    spec = NameAddr.parse("sip:bob@h;tag=9")  # addr-spec: the params belong to the header
    assert spec.uri.params == {} and spec.tag == "9"
    assert NameAddr.parse("Bob <sip:b@h>").display == "Bob"
    assert NameAddr.parse("*").wildcard
    assert spec.with_tag("x").tag == "x"
    # the tag replaced in place, the rest kept: equal to the parse of the written form
    tagged = na.with_tag("8")
    assert tagged.params == {"tag": "8", "expires": "10"} and na.tag == "7"
    assert tagged == NameAddr.parse('"Bob \\"B\\" <x>" <sip:bob@h;transport=tcp>;tag=8;expires=10')
    assert NameAddr.parse("<sip:a@h>").with_tag("t") == NameAddr.parse("<sip:a@h>;tag=t")
    for bad in ("<sip:a@h", "<sip:a@h> junk", "<>", '"open <sip:a@h>'):
        with pytest.raises(SipParseError):
            NameAddr.parse(bad)


# ---------------------------------------------------------------- headers
def test_header_names_long_compact_and_canonical() -> None:
    assert normalize("V") == "via" and normalize("i") == "call-id" and normalize("X-a") == "x-a"
    assert canonical("call-id") == "Call-ID" and canonical("l") == "Content-Length"
    assert canonical("www-authenticate") == "WWW-Authenticate"


def test_via_parse_spacing_and_errors() -> None:
    v = Via.parse("SIP / 2.0 / udp  192.0.2.1 : 5062 ; branch = z9hG4bKx ; rport")
    assert (v.transport, v.host, v.port, v.branch) == ("UDP", "192.0.2.1", 5062, "z9hG4bKx")
    assert v.params == {"branch": "z9hG4bKx", "rport": None}
    assert Via.parse(str(v)) == v
    assert Via.parse("SIP/2.0/TLS\t[2001:db8::2];branch=b").host == "[2001:db8::2]"
    assert Via.parse("SIP/2.0/UDP h").with_params(received="192.0.2.9").params == {
        "received": "192.0.2.9"}
    for bad in ("SIP/3.0/UDP h", "SIP/3.0 / UDP h", "SIP/2.0/UDP", "SIP/2.0/UDP ;b=1",
                "SIP/2.0 h", "HTTP/2.0/UDP h", "SIP/2.0/U<P h", "SIP/2.0/UDP h:99999",
                "SIP/2.0/UDP h:²", "garbage", ""):
        with pytest.raises(SipParseError):
            Via.parse(bad)


def test_cseq_parse_bounds() -> None:
    assert CSeq.parse(" 2147483647\tINVITE ") == CSeq(2**31 - 1, "INVITE")
    assert str(CSeq.parse("0 ACK")) == "0 ACK"
    for bad in ("2147483648 INVITE", "-1 INVITE", "1", "1 INVITE x", "x INVITE",
                "1 INV@ITE", "¹ INVITE", "9" * 5000 + " INVITE", ""):
        with pytest.raises(SipParseError) as e:
            CSeq.parse(bad)
        assert e.value.reason == "Bad CSeq"


def test_headers_lookup_multi_values_and_edits() -> None:
    h = Headers([("v", "SIP/2.0/UDP a, SIP/2.0/UDP b"), ("Via", "SIP/2.0/UDP c"),
                 ("Subject", "x, y"), ("i", "cid")])
    assert h.get("VIA") == "SIP/2.0/UDP a, SIP/2.0/UDP b"
    assert h.get_all("via") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    assert h.get_all("subject") == ["x, y"]  # not a list header: never split
    assert h.get_raw_all("v") == ["SIP/2.0/UDP a, SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    assert "Call-ID" in h and "Contact" not in h and 5 not in h
    assert h.pop_first("via") == "SIP/2.0/UDP a"
    assert h.get_all("via") == ["SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    c = h.copy()
    h.set("via", "SIP/2.0/UDP z")
    assert h.get_all("via") == ["SIP/2.0/UDP z"] and len(c.get_all("via")) == 2
    h.add("Route", "<sip:r1>", first=True)
    assert next(iter(h.items())) == ("Route", "<sip:r1>")
    h.remove("route")
    assert "route" not in h and h.pop_first("route") is None
    assert Headers([("i", "x")]) == Headers([("Call-ID", "x")])
    assert Headers([("i", "x")]) != Headers([("Call-ID", "y")])


# ---------------------------------------------------------------- parse_message decisions
def test_parse_request_basics() -> None:
    m = req(body=b"v=0\r\n", extra="Content-Type: Application/SDP; charset=x\r\n")
    assert (m.method, m.uri_text, m.call_id, m.cseq) == ("INVITE", "sip:1002@ccswitch.local",
                                                         "call-1@192.0.2.10", CSeq(4, "INVITE"))
    assert [v.branch for v in m.vias] == ["z9hG4bKa1", "z9hG4bKa0", "z9hG4bKzz"]
    assert m.top_via.branch == "z9hG4bKa1"
    assert m.from_.display == "Alice" and m.from_.tag == "from1" and m.to.tag is None
    assert m.content_type == "application/sdp" and m.body == b"v=0\r\n"
    assert m.max_forwards == 70 and m.expires is None
    assert repr(m) == "<Request INVITE sip:1002@ccswitch.local>"


def test_content_length_bigger_than_the_datagram_is_400() -> None:
    assert err(msg(body=b"abc", cl=4)) == (400, "Content-Length larger than body")


def test_content_length_smaller_than_the_datagram_truncates_the_body() -> None:
    assert req(body=b"abcdef", cl=2).body == b"ab"


def test_content_length_absent_on_udp_takes_the_rest_but_is_400_on_a_stream() -> None:
    assert req(body=b"rest of it", cl=None).body == b"rest of it"
    assert err(msg(body=b"x", cl=None), stream=True) == (400, "Missing Content-Length")


@pytest.mark.parametrize("value", ["-1", "1.0", "x", "²", "\u0661", "0x10", "1 2", "9" * 10,
                                   "9" * 5000, ""])
def test_bad_content_length_values(value: str) -> None:
    assert err(msg(f"Content-Length: {value}\r\n", cl=None)) == (400, "Bad Content-Length")


def test_multiple_content_length() -> None:
    assert err(msg("l: 3\r\n", body=b"abcd", cl=4)) == (400, "Multiple Content-Length")
    assert req("l: 4\r\n", body=b"abcd", cl=4).body == b"abcd"  # repeated, same value


@pytest.mark.parametrize("header,label", [("Via", "Via"), ("Call-ID", "Call-ID"),
                                          ("CSeq", "CSeq"), ("From", "From"), ("To", "To")])
def test_missing_mandatory_header_names_it(header: str, label: str) -> None:
    head = "".join(line + "\r\n" for line in HEAD.split("\r\n")
                   if line and not line.startswith(header + ":"))
    assert err(msg(head=head)) == (400, f"Missing {label}")


def test_empty_call_id_and_via_are_missing() -> None:
    assert err(msg(head=HEAD.replace("Call-ID: call-1@192.0.2.10", "Call-ID:"))) == (
        400, "Missing Call-ID")
    head = "".join(line + "\r\n" for line in HEAD.split("\r\n")
                   if line and not line.startswith("Via:"))
    assert err(msg("Via:  \r\n", head=head)) == (400, "Missing Via")


@pytest.mark.parametrize("name", ["From", "To", "Call-ID", "CSeq", "Max-Forwards"])
def test_single_valued_header_twice_is_400(name: str) -> None:
    value = {"From": "<sip:x@h>;tag=2", "To": "<sip:y@h>", "Call-ID": "other",
             "CSeq": "4 INVITE", "Max-Forwards": "70"}[name]
    assert err(msg(f"{name}: {value}\r\n")) == (400, f"Multiple {name}")


def test_bad_cseq_and_method_mismatch() -> None:
    assert err(msg(head=HEAD.replace("CSeq: 4 INVITE", "CSeq: four INVITE"))) == (400,
                                                                                 "Bad CSeq")
    assert err(msg(head=HEAD.replace("CSeq: 4 INVITE", "CSeq: 4 BYE"))) == (
        400, "CSeq method does not match")


@pytest.mark.parametrize("line,status,reason", [
    ("INVITE sip:1002@ccswitch.local SIP/3.0", 505, "Version Not Supported"),
    ("INVITE sip:1002@ccswitch.local sip/2.0", 505, "Version Not Supported"),
    ("INVITE tel:+15550100 SIP/2.0", 416, "Unsupported URI Scheme"),
    ("INVITE urn:service:sos SIP/2.0", 416, "Unsupported URI Scheme"),
    ("INVITE sip:1002@[2001:db8::1 SIP/2.0", 400, "Bad Request-URI"),
    ("INVITE sip:1002@host: SIP/2.0", 400, "Bad Request-URI"),
    ("INVITE 1002 SIP/2.0", 400, "Bad Request-URI"),
    ("INVITE  sip:1002@ccswitch.local SIP/2.0", 400, "Bad request line"),
    ("INVITE sip:1002@ccswitch.local HTTP/1.1", 400, "Bad request line"),
    ("INV<ITE sip:1002@ccswitch.local SIP/2.0", 400, "Bad method"),
    ("SIP/3.0 200 OK", 505, "Version Not Supported"),
    ("SIP/2.0 99 Low", 400, "Bad status code"),
    ("SIP/2.0 700 High", 400, "Bad status code"),
    ("SIP/2.0 ²⁰⁰ OK", 400, "Bad status code"),
    ("SIP/2.0", 400, "Bad status line"),
])
def test_start_line_errors(line: str, status: int, reason: str) -> None:
    head = line + "\r\n" + HEAD.split("\r\n", 1)[1]
    assert err(msg(head=head)) == (status, reason)


def test_a_usual_looking_request_uri_is_checked_on_first_read() -> None:
    head = "INVITE sip:1002@host:70000 SIP/2.0\r\n" + HEAD.split("\r\n", 1)[1]
    m = req(head=head)  # parses: the switch reads the URI where it can still answer 400
    assert view_err(m, "uri") == (400, "Bad Request-URI")


def test_response_parses_with_empty_or_spaced_reason() -> None:
    body = HEAD.split("\r\n", 1)[1]
    r = parse_message(msg(head="SIP/2.0 183 Session  Progress\r\n" + body))
    assert isinstance(r, Response) and (r.status, r.reason) == (183, "Session  Progress")
    r = parse_message(msg(head="SIP/2.0 200\r\n" + body))
    assert isinstance(r, Response) and r.reason == ""
    assert repr(r) == "<Response 200 >"


@pytest.mark.parametrize("data,reason", [
    (b"", "Empty message"),
    (b"\r\n\r\n", "Empty message"),
    (HEAD.encode(), "Incomplete header section"),
    (msg().replace(b"Call-ID: call", b"Call-ID: c\x00all"), "Bad character in header"),
    (msg().replace(b"Call-ID: call", b"Call-ID: c\x7fall"), "Bad character in header"),
    (msg().replace(b"Call-ID: call", b"Call-ID: c\x1call"), "Bad character in header"),
    (msg().replace(b"Alice", b"Al\xffice"), "Bad encoding"),
    (msg().replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\rX: y\r\n"), "Bad line ending"),
    (msg().replace(b"Max-Forwards: 70", b"Max-Forwards 70"), "Bad header line"),
    (msg().replace(b"Max-Forwards: 70", b"Max Forwards: 70"), "Bad header line"),
    (msg().replace(b"SIP/2.0\r\nVia", b"SIP/2.0\r\n folded\r\nVia"), "Bad header folding"),
])
def test_framing_and_lexical_errors(data: bytes, reason: str) -> None:
    assert err(data) == (400, reason)


def test_nul_and_binary_in_the_body_are_fine() -> None:
    assert req(body=b"\x00\xff\r\n\r\n\x00").body == b"\x00\xff\r\n\r\n\x00"


def test_max_size_boundary() -> None:
    base = msg(cl=None)
    pad = b"x" * (MAX_MESSAGE_SIZE - len(base))
    assert len(parse_message(base + pad).body) == len(pad)
    assert err(base + pad + b"y") == (413, "Message Too Large")
    assert err(base + b"abc", max_size=len(base) + 2) == (413, "Message Too Large")


def test_bare_lf_and_mixed_line_endings() -> None:
    lf = msg(body=b"a\n\nb").replace(b"\r\n", b"\n")
    m = parse_message(lf)
    assert m.body == b"a\n\nb" and m.call_id == "call-1@192.0.2.10"
    # a bare-LF head whose body holds CRLFCRLF: the head ends at the first empty line
    mixed = msg(body=b"x\r\n\r\ny").split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    m = parse_message(mixed + b"\n\nx\r\n\r\ny")
    assert m.body == b"x\r\n\r\ny"
    m = parse_message(msg().replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n"))
    assert isinstance(m, Request) and m.max_forwards == 70


def test_find_head_end() -> None:
    assert find_head_end(b"A\r\nB\r\n\r\nbody") == (4, 8)
    assert find_head_end(b"A\nB\n\nbody") == (3, 5)
    assert find_head_end(b"A\nB\n\nb\r\n\r\n") == (3, 5)
    assert find_head_end(b"A\r\nB\n\r\nb") == (4, 7)
    assert find_head_end(b"A\r\nB\r\n\r") == (-1, -1)
    assert find_head_end(b"A\r\nB\r\n\r\n", 5) == (4, 8)


def test_folded_values_join_with_one_space() -> None:
    m = req("Subject:\r\n   first\r\n\tsecond  \r\n \r\nX-Empty:\r\n")
    assert m.headers.get("subject") == "first second"
    assert m.headers.get("x-empty") == ""


def test_values_keep_unicode_spaces_and_inner_whitespace() -> None:
    m = req("Subject:  a\u00a0 \u2028b\u3000 \r\n")
    assert m.headers.get("subject") == "a\u00a0 \u2028b\u3000"


# ---------------------------------------------------------------- typed views
def test_typed_views_raise_only_sip_parse_error_with_the_header_named() -> None:
    cases = [
        ("Expires: 4294967296\r\n", "expires", "Bad Expires"),
        ("Expires: ²\r\n", "expires", "Bad Expires"),
        ("Expires: " + "9" * 5000 + "\r\n", "expires", "Bad Expires"),
        ("Contact: *, <sip:a@h>\r\n", "contacts", "Bad Contact"),
        ("Contact: <sip:a@h:¹>\r\n", "contacts", "Bad Contact"),
        ("Contact: <tel:+15550100>\r\n", "contacts", "Bad Contact"),
        ('Contact: "unterminated <sip:a@h>\r\n', "contacts", "Bad Contact"),
    ]
    for extra, view, reason in cases:
        assert view_err(req(extra), view) == (400, reason), extra
    m = req("Expires: 4294967295\r\n", head=HEAD.replace("<sip:1001@192.0.2.10>", "*"))
    assert m.expires == 2**32 - 1 and m.contacts[0].wildcard


@pytest.mark.parametrize("old,new,reason", [
    ("Via: SIP/2.0/UDP 192.0.2.10:5060;", "Via: SIP/3.0/UDP 192.0.2.10:5060;", "Bad Via"),
    ("Via: SIP/2.0/UDP 192.0.2.10:5060;", "Via: SIP/2.0/UDP 192.0.2.10:²;", "Bad Via"),
    ("From: \"Alice\" <sip:1001@ccswitch.local>", "From: *", "Bad From"),
    ("From: \"Alice\" <sip:1001@ccswitch.local>", "From: <tel:+15550100>", "Bad From"),
    ("To: <sip:1002@ccswitch.local>", "To: <sip:1002@[::1>", "Bad To"),
    ("Max-Forwards: 70", "Max-Forwards: 256", "Bad Max-Forwards"),
    ("Max-Forwards: 70", "Max-Forwards: ²", "Bad Max-Forwards"),
])
def test_header_faults_found_at_parse(old: str, new: str, reason: str) -> None:
    assert old in HEAD
    assert err(msg(head=HEAD.replace(old, new))) == (400, reason)


def test_views_on_messages_built_in_code() -> None:
    r = Request("OPTIONS", "tel:+1", Headers([("Expires", "x")]))
    assert view_err(r, "uri")[0] == 416
    assert view_err(r, "expires") == (400, "Bad Expires")
    assert view_err(r, "cseq") == (400, "Missing CSeq")
    assert view_err(r, "from_") == (400, "Missing From")
    assert view_err(r, "to") == (400, "Missing To")
    assert view_err(r, "call_id") == (400, "Missing Call-ID")
    assert view_err(r, "top_via") == (400, "Missing Via")
    assert r.vias == [] and r.contacts == [] and r.max_forwards == 70
    r.uri = SipUri(host="h", user="u")
    assert r.uri_text == "sip:u@h" and r.uri.user == "u"


def test_views_are_cached_until_invalidated() -> None:
    m = req()
    assert m.cseq.seq == 4
    m.headers.set("CSeq", "9 INVITE")
    assert m.cseq.seq == 4
    m.invalidate()
    assert m.cseq.seq == 9


# ---------------------------------------------------------------- serialization
def test_serialize_recomputes_content_length_last_and_round_trips() -> None:
    m = req("Content-Type: text/plain\r\n", body=b"hello")
    m.body = b"longer body"
    wire = m.to_bytes()
    assert wire.endswith(b"Content-Length: 11\r\n\r\nlonger body")
    assert wire.count(b"Content-Length") == 1
    again = parse_message(wire)
    assert again.body == b"longer body"
    assert [(n, v) for n, v in again.headers.items()][:-1] == [
        (n, v) for n, v in m.headers.items() if n != "Content-Length"]


def test_serialize_never_lets_a_value_inject_header_lines() -> None:
    m = req()
    m.headers.add("Subject", "hi\r\nVia: SIP/2.0/UDP evil;branch=z9hG4bKevil\r\n\r\nbody")
    m.headers.add("X-Lf", "a\nb\rc")
    again = parse_message(m.to_bytes())
    assert len(again.vias) == 3
    assert again.headers.get("x-lf") == "a b c"
    assert again.body == b""


def test_response_to_bytes() -> None:
    r = Response(486, "Busy Here", Headers([("Via", "SIP/2.0/UDP h;branch=b"), ("To", "<sip:a@h>"),
                                            ("From", "<sip:b@h>;tag=1"), ("Call-ID", "c"),
                                            ("CSeq", "1 INVITE")]))
    wire = r.to_bytes()
    assert wire.startswith(b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=b\r\n")
    again = parse_message(wire)
    assert isinstance(again, Response) and again.status == 486 and again.headers == Headers(
        [*r.headers.items(), ("Content-Length", "0")])


# ---------------------------------------------------------------- make_response
def test_make_response_copies_dialog_headers_and_adds_the_to_tag_once() -> None:
    m = req("Subject: not copied\r\n")
    resp = make_response(m, 180, "Ringing", to_tag="tt1",
                         headers=[("Contact", "<sip:1002@192.0.2.50>")])
    assert resp.headers.get_raw_all("via") == m.headers.get_raw_all("via")
    assert [v.branch for v in resp.vias] == ["z9hG4bKa1", "z9hG4bKa0", "z9hG4bKzz"]
    for name in ("from", "call-id", "cseq", "record-route"):
        assert resp.headers.get(name) == m.headers.get(name), name
    assert resp.to.tag == "tt1" and resp.to.uri == m.to.uri
    assert resp.headers.get("to") == "<sip:1002@ccswitch.local>;tag=tt1"
    assert "subject" not in resp.headers and "max-forwards" not in resp.headers
    assert resp.headers.get_all("contact") == ["<sip:1002@192.0.2.50>"]
    again = parse_message(resp.to_bytes())
    assert isinstance(again, Response) and again.to.tag == "tt1"
    assert again.to_bytes().count(b"tag=tt1") == 1


def test_make_response_keeps_an_existing_to_tag() -> None:
    m = req(head=HEAD.replace("To: <sip:1002@ccswitch.local>",
                              "To: <sip:1002@ccswitch.local>;tag=have"))
    resp = make_response(m, 200, "OK", to_tag="new")
    assert resp.to.tag == "have" and "new" not in (resp.headers.get("to") or "")


def test_make_response_is_not_fooled_by_tag_lookalikes() -> None:
    for to in ('"x;tag=y" <sip:1002@ccswitch.local>', "<sip:1002@ccswitch.local;tag=uri>"):
        m = req(head=HEAD.replace("To: <sip:1002@ccswitch.local>", f"To: {to}"))
        resp = make_response(m, 200, "OK", to_tag="real")
        assert resp.to.tag == "real", to
        assert (resp.headers.get("to") or "").count(";tag=real") == 1


def test_make_response_without_tag_and_record_route_rules() -> None:
    m = req()
    assert make_response(m, 100, "Trying").to.tag is None
    assert "record-route" not in make_response(m, 100, "Trying").headers
    assert "record-route" in make_response(m, 200, "OK", to_tag="t").headers
    assert "record-route" not in make_response(m, 486, "Busy Here", to_tag="t").headers


def test_make_response_on_compact_headers() -> None:
    head = ("OPTIONS sip:1002@ccswitch.local SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKc\r\n"
            "f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: cid\r\nCSeq: 1 OPTIONS\r\n")
    m = req(head=head)
    resp = make_response(m, 200, "OK", to_tag="x", body=b"hi")
    again = parse_message(resp.to_bytes())
    assert again.call_id == "cid" and again.to.tag == "x" and again.top_via.branch == "z9hG4bKc"
    assert again.body == b"hi"


def test_escaped_controls_in_a_quoted_display_and_every_user_character_parse() -> None:
    """RFC 4475 §3.1.1.2: quoted-pairs may escape BEL, NUL and DEL; the user part may hold
    every unreserved and user-unreserved character, "?" and ";" included."""
    user = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    data = (f"OPTIONS sip:{user}:pa$$@ccswitch.local SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKctl\r\n"
            'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:' + user + "@ccswitch.local>\r\n"
            "From: <sip:a@ccswitch.local>;tag=1\r\nCall-ID: ctl\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert msg.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert (msg.to.uri.user, msg.uri.user, msg.uri.password) == (user, user, "pa$$")
    assert msg.uri.headers == ""
    again = parse_message(msg.to_bytes())
    assert again.to.display == msg.to.display  # written back escaped


@pytest.mark.parametrize("raw", [b'To: "a\x07b" <sip:b@h>', b"To: a\\\x07 <sip:b@h>",
                                 b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\x00"])
def test_an_unescaped_control_is_still_refused(raw: bytes) -> None:
    head = (b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc\r\n"
            b"From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n")
    data = head + raw + b"\r\n" + (b"To: <sip:b@h>\r\n" if b"Via" in raw else b"") + b"\r\n"
    with pytest.raises(SipParseError) as e:
        parse_message(data)
    assert (e.value.status, e.value.reason) == (400, "Bad character in header")


@pytest.mark.parametrize(("value", "reason"), [
    ("Bell, Alexander <sip:a@h>;tag=1", "Bad From"),  # display outside token
    ('"Bell" < sip:a@h >;tag=1', "Bad From"),  # LWS inside <>
    ("sip:a@h?Route=x;tag=1", "Bad From"),  # an addr-spec with ? needs <>
])
def test_name_addr_faults_rfc_4475_names_are_400(value: str, reason: str) -> None:
    data = ("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKd\r\n"
            f"From: {value}\r\nTo: <sip:b@h>\r\nCall-ID: d\r\nCSeq: 1 OPTIONS\r\n\r\n").encode()
    with pytest.raises(SipParseError) as e:
        parse_message(data).from_  # noqa: B018
    assert (e.value.status, e.value.reason) == (400, reason)
