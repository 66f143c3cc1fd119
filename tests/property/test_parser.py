"""The parser's contract (DESIGN.md convention 4), proved with hypothesis.

- For any bytes, ``parse_message`` returns a Request/Response or raises ``SipParseError``, and
  reading any typed view of what it returns raises nothing but ``SipParseError``.
- ``StreamFramer`` gives the same messages (and the same fault) whole, byte by byte or in any
  chunking, and never raises anything but ``SipParseError``.
- ``parse(serialize(m))`` equals ``m`` for generated valid messages: start line, headers in
  order with their values, body, and the typed views they were built from.
- Mutations of valid messages (byte flips, deletions, duplications, insertions) keep the above.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccswitch.errors import SipParseError
from ccswitch.sip.framing import FramingError, Ping, StreamFramer
from ccswitch.sip.grammar import TOKEN_CHARS
from ccswitch.sip.headers import CSeq, Via, normalize
from ccswitch.sip.message import Headers, Request, Response, parse_message
from ccswitch.sip.uri import NameAddr, SipUri

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VECTORS = sorted((Path(__file__).parent.parent / "vectors" / "valid").glob("*.sip"))
CORPUS = [p.read_bytes() for p in VECTORS]
VIEWS = ("vias", "top_via", "contacts", "from_", "to", "cseq", "call_id", "expires",
         "content_type", "uri", "max_forwards")


def parse_or_error(data: bytes, **kw: bool) -> Request | Response | None:
    """The contract: a message whose views raise only SipParseError, or SipParseError."""
    try:
        msg = parse_message(data, **kw)
    except SipParseError as e:
        assert 400 <= e.status <= 599 and e.reason
        return None
    assert isinstance(msg, Request | Response)
    for view in VIEWS:
        if isinstance(msg, Response) and view in ("uri", "max_forwards"):
            continue
        with contextlib.suppress(SipParseError):
            getattr(msg, view)
    return msg


def frame(chunks: list[bytes]) -> tuple[list[bytes | Ping], tuple[int, str] | None]:
    f = StreamFramer()
    out: list[bytes | Ping] = []
    for c in chunks:
        try:
            out += f.feed(c)
        except FramingError as e:
            return out + e.frames, (e.status, e.reason)
    return out, None


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)] + [b""]


# ---------------------------------------------------------------- generators
token = st.text(alphabet=sorted(TOKEN_CHARS), min_size=1, max_size=10)
lower_token = token.map(str.lower)
label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
hostname = st.lists(label, min_size=1, max_size=3).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=8).map(
    lambda g: "[" + ":".join(f"{x:x}" for x in g[:-1]) + "::" + f"{g[-1]:x}" + "]")
host = st.one_of(hostname, ipv4, ipv6)
port = st.one_of(st.none(), st.integers(1, 65535))
user = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()%+&=$,",
    min_size=1, max_size=12)
params = st.dictionaries(lower_token, st.one_of(st.none(), token), max_size=3)
# any text but controls and surrogates; TAB allowed inside
text = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cc", "Cs")), st.just("\t")),
               max_size=30)
value = text.map(lambda s: s.strip(" \t"))


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    u = draw(st.one_of(st.none(), user))
    pw = draw(st.one_of(st.none(), token)) if u is not None else None  # no password sans user
    return SipUri(host=draw(host), user=u, port=draw(port),
                  scheme=draw(st.sampled_from(["sip", "sips"])), password=pw, params=draw(params),
                  headers=draw(st.one_of(st.just(""), st.builds("{}={}".format, token, token))))


@st.composite
def name_addrs(draw: st.DrawFn, tag: bool = False) -> NameAddr:
    p = draw(params)
    if tag:
        p = {**p, "tag": draw(token)}
    display = draw(st.one_of(st.none(), text.filter(bool)))
    return NameAddr(uri=draw(sip_uris()), display=display, params=p)


@st.composite
def vias(draw: st.DrawFn) -> Via:
    p = {"branch": "z9hG4bK" + draw(token), **draw(params)}
    return Via(transport=draw(token).upper(), host=draw(host), port=draw(port), params=p)


KNOWN = {"via", "from", "to", "call-id", "cseq", "max-forwards", "content-length", "contact",
         "expires"}
extra_header = st.tuples(token.filter(lambda n: normalize(n) not in KNOWN), value)


@st.composite
def messages(draw: st.DrawFn) -> tuple[Request | Response, dict[str, object]]:
    """A valid message and the typed values it was built from."""
    method = draw(st.one_of(st.sampled_from(["INVITE", "ACK", "BYE", "REGISTER", "OPTIONS"]),
                            token))
    via_list = draw(st.lists(vias(), min_size=1, max_size=4))
    frm, to = draw(name_addrs(tag=True)), draw(name_addrs())
    contacts = draw(st.lists(name_addrs(), max_size=3))
    cseq = CSeq(draw(st.integers(0, 2**31 - 1)), method)
    call_id = draw(token) + draw(st.sampled_from(["", "@192.0.2.1", "@h.example"]))
    typed: list[tuple[str, str]] = []
    if draw(st.booleans()):  # Vias one per header line or comma-joined on one
        typed += [(draw(st.sampled_from(["Via", "v", "VIA"])), str(v)) for v in via_list]
    else:
        typed.append(("Via", ", ".join(str(v) for v in via_list)))
    typed += [(draw(st.sampled_from(["From", "f"])), str(frm)),
              (draw(st.sampled_from(["To", "t"])), str(to)),
              (draw(st.sampled_from(["Call-ID", "i"])), call_id), ("CSeq", str(cseq))]
    if contacts:
        typed.append(("Contact", ", ".join(str(c) for c in contacts)))
    if draw(st.booleans()):
        typed.append(("Max-Forwards", str(draw(st.integers(0, 255)))))
    extras = draw(st.lists(extra_header, max_size=5))
    items = draw(st.permutations(typed + extras))
    # any order of header lines, except that the Via lines keep their own relative order
    via_lines = [it for it in typed if normalize(it[0]) == "via"]
    slots = [i for i, it in enumerate(items) if normalize(it[0]) == "via"]
    for i, it in zip(slots, via_lines, strict=True):
        items[i] = it
    body = draw(st.binary(max_size=64))
    msg: Request | Response
    if draw(st.booleans()):
        uri = draw(sip_uris())
        msg = Request(method, uri, Headers(items), body)
    else:
        reason = draw(text.filter(lambda s: "\t" not in s))
        msg = Response(draw(st.integers(100, 699)), reason, Headers(items), body)
    expect = {"vias": via_list, "from_": frm, "to": to, "contacts": contacts, "cseq": cseq,
              "call_id": call_id}
    return msg, expect


def _sans_length(m: Request | Response) -> list[tuple[str, str]]:
    return [(normalize(n), v) for n, v in m.headers.items() if normalize(n) != "content-length"]


# ---------------------------------------------------------------- properties
@SETTINGS
@given(messages())
def test_parse_of_serialize_is_the_message(
    mt: tuple[Request | Response, dict[str, object]],
) -> None:
    msg, expect = mt
    wire = msg.to_bytes()
    got = parse_message(wire)
    assert type(got) is type(msg)
    if isinstance(msg, Request):
        assert isinstance(got, Request)
        assert (got.method, got.uri_text, got.uri) == (msg.method, msg.uri_text, msg.uri)
    else:
        assert isinstance(got, Response)
        assert (got.status, got.reason) == (msg.status, msg.reason)
    assert _sans_length(got) == _sans_length(msg)
    assert got.headers.get("content-length") == str(len(msg.body))
    assert got.body == msg.body
    for view, want in expect.items():
        assert getattr(got, view) == want, view
    assert got.to_bytes() == wire  # and serializing again is stable


@SETTINGS
@given(st.lists(messages(), min_size=1, max_size=4),
       st.lists(st.sampled_from([b"", b"\r\n\r\n", b"\r\n"]), min_size=4, max_size=4),
       st.lists(st.integers(0, 10**6), max_size=12))
def test_framer_cuts_generated_streams_the_same_however_chunked(
    mts: list[tuple[Request | Response, dict[str, object]]], gaps: list[bytes], cuts: list[int]
) -> None:
    wires = [m.to_bytes() for m, _ in mts]
    stream = b"".join(g + w for g, w in zip(gaps, wires, strict=False))
    whole = frame([stream])
    assert whole[1] is None
    assert [f for f in whole[0] if isinstance(f, bytes)] == wires
    assert frame(chunked(stream, cuts)) == whole
    assert frame([stream[i : i + 1] for i in range(len(stream))]) == whole
    for w in wires:
        assert _sans_length(parse_message(w, stream=True)) == _sans_length(parse_message(w))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_sip_parse_error(data: bytes) -> None:
    parse_or_error(data)
    parse_or_error(data, stream=True)


FRAGMENTS = [
    b"INVITE ", b"sip:", b"sips:", b"tel:", b"SIP/2.0", b"SIP/3.0", b" ", b"\t", b"\r\n", b"\n",
    b"\r", b"\r\n\r\n", b"Via: ", b"v:", b"SIP / 2.0 / UDP ", b"From:", b"To:", b"t:", b"Call-ID:",
    b"CSeq:", b"Contact:", b"m:", b"*", b"Content-Length:", b"l:", b"Expires:", b"Max-Forwards:",
    b"<", b">", b'"', b"\\", b";", b",", b":", b"=", b"@", b"[", b"]", b"::1", b"tag=", b"branch=",
    b"0", b"1", b"70", b"65536", b"2147483648", b"99999999999", b"\xc2\xb2", b"\xd9\xa1", b"\x00",
    b"\xff", b"a", b"host", b"example.com", b"200", b" OK", b"SIP/2.0 ", b"INVITE", b"%", b"?",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
def test_sip_like_byte_soup_parses_or_raises_sip_parse_error(parts: list[bytes]) -> None:
    data = b"".join(parts)
    parse_or_error(data)
    whole = frame([data, b""])
    assert frame([data[i : i + 1] for i in range(len(data))] + [b""]) == whole


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = draw(st.one_of(st.sampled_from(CORPUS), messages().map(lambda mt: mt[0].to_bytes())))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        i = draw(st.integers(0, max(n - 1, 0)))
        j = draw(st.integers(i, min(n, i + 40)))
        op = draw(st.sampled_from(["flip", "delete", "duplicate", "insert"]))
        if op == "flip" and n:
            data[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[i:j]
        elif op == "duplicate":
            data[i:i] = data[i:j]
        else:
            data[i:i] = draw(st.sampled_from(FRAGMENTS))
    return bytes(data)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutations_of_valid_messages_parse_or_raise_sip_parse_error(data: bytes) -> None:
    parse_or_error(data)
    parse_or_error(data, stream=True)


@SETTINGS
@given(st.lists(st.one_of(mutated(), st.sampled_from(CORPUS), st.just(b"\r\n\r\n")),
                min_size=1, max_size=3),
       st.lists(st.integers(0, 10**6), max_size=8))
def test_framer_on_damaged_streams_agrees_however_chunked(
    parts: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(parts)
    whole = frame([stream, b""])
    assert frame(chunked(stream, cuts)) == whole
    assert frame([stream[i : i + 1] for i in range(len(stream))] + [b""]) == whole
    for f in whole[0]:
        if isinstance(f, bytes):
            parse_or_error(f, stream=True)
