"""The SDP parser's and the negotiator's contracts, proved with hypothesis.

- For any text or bytes, ``parse_sdp`` returns a ``SessionDescription`` or raises ``SdpError``;
  whatever it returns serializes, and parses back to itself.
- ``parse_sdp(d.to_bytes()) == d`` for generated descriptions.
- Mutations and truncations of real-world SDPs keep the contract.
- ``answer`` on generated offers: ``NotAcceptable`` exactly when no audio m-line has a codec in
  common; otherwise the answer keeps m-line count, order and payload type numbers, accepts one
  m-line, mirrors the direction, and passes our own ``accept_answer``.
- ``SdpSession`` under random call sequences: errors exactly where the table has no entry, the
  ``o=`` session id never changes and the version goes up by one per changed SDP.
"""

from __future__ import annotations

import itertools
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccswitch.errors import SipProtocolError
from ccswitch.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Negotiated,
    NotAcceptable,
    OfferAnswerMisuse,
    Origin,
    SdpError,
    SdpSession,
    SessionDescription,
    Timing,
    accept_answer,
    answer,
    parse_sdp,
)
from ccswitch.sdp.negotiator import (
    DEFAULT_CODECS,
    G722,
    OPUS,
    PCMA,
    PCMU,
    TABLE,
    TELEPHONE_EVENT,
    OfferAnswerInput,
    OfferAnswerState,
    choose,
)
from ccswitch.sdp.session import _PLAIN, _split_lines, _split_lines_checked


def crlf(text: str) -> bytes:
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode()


# compact real-world shapes (the full set is in tests/unit/test_sdp.py)
SAMPLES = {
    "sipp": crlf("""
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""),
    "asterisk": crlf("""
v=0
o=- 1716201312 1716201312 IN IP4 203.0.113.5
s=Asterisk
c=IN IP4 203.0.113.5
t=0 0
m=audio 12000 RTP/AVP 8 0 3 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
"""),
    "linphone": crlf("""
v=0
o=1001 3265 1811 IN IP4 192.168.1.30
s=Talk
c=IN IP4 192.168.1.30
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 0 8 101 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:101 telephone-event/48000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
m=video 9078 RTP/AVP 96
a=rtpmap:96 VP8/90000
"""),
    "webrtc": crlf("""
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS 3e9b5f2a
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Qx3v
a=fingerprint:sha-256 4F:1A:0C:9E:77:2B:D3:58:60:AA:E1:19:3D:C2:7F:05:B4:8E:91:6A
a=mid:0
a=sendrecv
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:126 telephone-event/8000
a=ssrc:1843261203 cname:kQ2v7yJm3oUe0sXn
"""),
}

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def parse_or_error(data: bytes | str) -> SessionDescription | None:
    """The contract: a description that round-trips, or SdpError with a reason."""
    try:
        sdp = parse_sdp(data)
    except SdpError as e:
        assert e.reason
        return None
    assert isinstance(sdp, SessionDescription)
    wire = sdp.to_bytes()
    assert parse_sdp(wire) == sdp
    assert parse_sdp(wire).to_bytes() == wire
    for m in sdp.media:  # the helpers never raise
        m.rtpmaps(), m.ptime, m.maxptime, m.direction, m.rtcp, m.rtcp_mux, m.payload_types
        for pt in m.payload_types:
            m.rtpmap(pt), m.fmtp(pt)
        sdp.media_direction(m), sdp.media_connection(m)
    return sdp


@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    parse_or_error(text)


@SETTINGS
@given(st.binary())
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_error(data)


# lines of SDP shape: mostly a value that suits the letter, sometimes noise
VALID = {
    "a": ["sendonly", "rtpmap:101 telephone-event/8000", "ptime:30", "rtcp:4001 IN IP4 10.0.0.2",
          "rtcp-mux", "fmtp:101 0-16", "x"],
    "m": ["audio 4000 RTP/AVP 0 101", "video 0 RTP/AVP 96", "audio 4000/2 RTP/AVP 8"],
    "c": ["IN IP4 10.0.0.1", "IN IP4 0.0.0.0", "IN IP6 ::1"], "b": ["AS:64", "CT:1000"],
    "t": ["0 0", "3034423619 3042462419"], "r": ["7d 1h 0 25h"], "v": ["0"],
    "o": ["- 1 1 IN IP4 10.0.0.1"], "s": ["-", "call"], "i": ["info"], "u": ["http://x"],
    "e": ["a@b"], "p": ["+1 555"], "z": ["0 -1h"], "k": ["prompt"], "x": ["y"], "y": [""],
}
noise = st.text(alphabet=" 0123456789aIN IP4/:.-=*\t", max_size=20)
sdp_ish_lines = st.lists(st.sampled_from("aaaammccbtirzkuepxyvos").flatmap(
    lambda k: st.tuples(st.just(k), st.integers(0, 5).flatmap(
        lambda n, k=k: noise if n == 0 else st.sampled_from(VALID[k])))), max_size=12)
HEADER = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\n"


@SETTINGS
@given(sdp_ish_lines, st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_sdp_shaped_lines(lines: list[tuple[str, str]], header: bool, eol: str) -> None:
    text = (HEADER if header else "") + "".join(f"{k}={v}\n" for k, v in lines)
    parse_or_error(text.replace("\n", eol))


@SETTINGS
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutations_of_real_sdps(name: str, data: st.DataObject) -> None:
    lines = SAMPLES[name].split(b"\r\n")
    op = data.draw(st.sampled_from(["drop", "dup", "swap", "insert", "flip"]))
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines) - 1))
    if op == "drop":
        del lines[i]
    elif op == "dup":
        lines.insert(j, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "insert":
        lines.insert(i, data.draw(st.binary(max_size=20)))
    else:
        line = bytearray(lines[i])
        if line:
            k = data.draw(st.integers(0, len(line) - 1))
            line[k] = data.draw(st.integers(0, 255))
        lines[i] = bytes(line)
    result = parse_or_error(b"\r\n".join(lines))
    if op == "swap" and i == j:
        assert result == parse_sdp(SAMPLES[name])


def test_truncation_sweep() -> None:
    """Every prefix of every sample parses or raises SdpError."""
    for data in SAMPLES.values():
        for n in range(len(data) + 1):
            parse_or_error(data[:n])


# -- generated descriptions ------------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-./:;<>?@[]^_`{|}~"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
names = st.text(alphabet=TOKEN_CHARS.replace(":", ""), max_size=12)
# free text: anything but CR, LF and NUL, without trailing blanks (the parser strips those)
texts = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
                max_size=24).map(lambda s: s.rstrip(" \t"))
uints = st.integers(0, 10**19)
connections = st.builds(Connection, tokens, tokens, tokens)
bandwidths = st.builds(Bandwidth, names.filter(bool), uints)
attributes = st.builds(Attribute, names, st.none() | texts)
extras = st.lists(st.tuples(st.sampled_from("dfghjlnqwxyDQZ"), texts), max_size=2).map(tuple)


def tuples(strategy: st.SearchStrategy[object], n: int = 3) -> st.SearchStrategy[tuple]:
    return st.lists(strategy, max_size=n).map(tuple)


media_descriptions = st.builds(
    MediaDescription, tokens, st.integers(0, 65535), tokens, tuples(tokens, 5),
    port_count=st.none() | st.integers(1, 1000), info=st.none() | texts,
    connection=st.none() | connections, bandwidths=tuples(bandwidths),
    key=st.none() | texts, attributes=tuples(attributes, 6), extra=extras)
session_descriptions = st.builds(
    SessionDescription, st.builds(Origin, tokens, tokens, uints, tokens, tokens, tokens), texts,
    connection=st.none() | connections,
    timings=st.lists(st.builds(Timing, uints, uints, tuples(texts, 2)), min_size=1,
                     max_size=2).map(tuple),
    bandwidths=tuples(bandwidths), attributes=tuples(attributes, 5),
    media=tuples(media_descriptions, 3), info=st.none() | texts, uri=st.none() | texts,
    emails=tuples(texts, 2), phones=tuples(texts, 2), zone=st.none() | texts,
    key=st.none() | texts, extra=extras)


@SETTINGS
@given(session_descriptions)
def test_parse_serialize_round_trip(sdp: SessionDescription) -> None:
    wire = sdp.to_bytes()
    assert parse_sdp(wire) == sdp
    assert parse_sdp(wire.replace(b"\r\n", b"\n")) == sdp
    assert parse_sdp(str(sdp)) == sdp


# -- negotiation on generated offers ---------------------------------------------------------

POOL = [  # (encoding, clock, channels, static pt or None)
    ("PCMU", 8000, 1, 0), ("PCMA", 8000, 1, 8), ("G722", 8000, 1, 9), ("G729", 8000, 1, 18),
    ("GSM", 8000, 1, 3), ("telephone-event", 8000, 1, None), ("opus", 48000, 2, None),
    ("telephone-event", 48000, 1, None), ("speex", 16000, 1, None), ("iLBC", 8000, 1, None),
]
OURS = {("pcmu", 8000, 1), ("pcma", 8000, 1)}


@st.composite
def media_sections(draw: st.DrawFn) -> tuple[str, bool]:
    """One m= section as text, and whether it is usable with our default codecs."""
    kind = draw(st.sampled_from(["audio", "audio", "audio", "video"]))
    port = draw(st.sampled_from([0, 4000, 5004, 40000]))
    proto = draw(st.sampled_from(["RTP/AVP", "RTP/AVP", "RTP/AVPF", "RTP/SAVP"]))
    chosen = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True))
    dynamic = iter(draw(st.permutations(range(96, 128))))
    pts, lines, usable = [], [], False
    for enc, clock, ch, static in chosen:
        pt = static if static is not None else next(dynamic)
        pts.append(pt)
        if static is None or draw(st.booleans()):
            suffix = f"/{ch}" if ch != 1 else ""
            lines.append(f"a=rtpmap:{pt} {enc}/{clock}{suffix}")
        if enc == "telephone-event" and draw(st.booleans()):
            lines.append(f"a=fmtp:{pt} {draw(st.sampled_from(['0-15', '0-16', '0-11,16']))}")
        usable |= (enc.lower(), clock, ch) in OURS
    d = draw(st.none() | st.sampled_from([d.value for d in Direction]))
    if d:
        lines.append(f"a={d}")
    if draw(st.booleans()):
        lines.append(f"a=ptime:{draw(st.sampled_from([10, 20, 30, 40, 60]))}")
    if draw(st.booleans()):
        lines.append("a=rtcp-mux")
    if draw(st.booleans()):
        lines.append(f"a=rtcp:{port + 1} IN IP4 10.9.9.9")
    text = "\n".join([f"m={kind} {port} {proto} {' '.join(map(str, pts))}", *lines]) + "\n"
    ok = kind == "audio" and port != 0 and proto in ("RTP/AVP", "RTP/AVPF") and usable
    return text, ok


@st.composite
def offers(draw: st.DrawFn) -> tuple[SessionDescription, bool]:
    sections = draw(st.lists(media_sections(), min_size=1, max_size=3))
    conn = draw(st.sampled_from(["10.1.1.1", "10.1.1.1", "0.0.0.0"]))
    session_dir = draw(st.sampled_from(["", "a=sendonly\n", "a=inactive\n"]))
    text = (f"v=0\no=- 7 7 IN IP4 {conn}\ns=-\nc=IN IP4 {conn}\nt=0 0\n{session_dir}"
            + "".join(t for t, _ in sections))
    return parse_sdp(text), any(ok for _, ok in sections)


@SETTINGS
@given(offers(), st.sampled_from(["offerer", "ours"]))
def test_answer_invariants(generated: tuple[SessionDescription, bool], prefer: str) -> None:
    offer, usable = generated
    result = answer(offer, local_ip="198.51.100.7", port=30000, prefer=prefer)  # type: ignore[arg-type]
    assert isinstance(result, Negotiated) == usable, result
    if isinstance(result, NotAcceptable):
        assert result.reason
        return
    sdp, i = result.answer, result.media_index
    assert parse_sdp(sdp.to_bytes()) == sdp
    assert [m.media for m in sdp.media] == [m.media for m in offer.media]
    assert [m.port != 0 for m in sdp.media] == [k == i for k in range(len(offer.media))]
    om, am = offer.media[i], sdp.media[i]
    assert set(am.formats) <= set(om.formats)
    assert am.formats[0] == str(result.codec.pt)
    offered = om.rtpmap(result.codec.pt)
    assert offered is not None
    assert (offered.encoding.lower(), offered.clock_rate, offered.channels or 1) in OURS
    if result.telephone_event_pt is not None:
        te = om.rtpmap(result.telephone_event_pt)
        assert te is not None and te.encoding == "telephone-event" and te.clock_rate == 8000
    offer_dir = offer.media_direction(om)
    assert am.direction is result.direction
    assert not result.direction.sends or offer_dir.receives
    assert not result.direction.receives or offer_dir.sends
    if offer.media_connection(om).is_hold:
        assert result.remote_hold and not result.direction.sends
    assert result.ptime == (am.ptime or 20)
    back = accept_answer(offer, sdp)
    assert isinstance(back, Negotiated), back
    assert (back.codec.pt, back.telephone_event_pt) == (result.codec.pt,
                                                        result.telephone_event_pt)
    assert back.direction is result.direction.reversed()
    assert back.media_index == i


# -- the per-leg machine under random call sequences -------------------------------------------

OPS = ["offer", "offer_hold", "receive_offer", "receive_hold", "receive_answer",
       "receive_bad_answer", "answer_sent", "rollback"]
INPUT_OF = {"offer": OfferAnswerInput.SEND_OFFER, "offer_hold": OfferAnswerInput.SEND_OFFER,
            "receive_offer": OfferAnswerInput.RECEIVE_OFFER,
            "receive_hold": OfferAnswerInput.RECEIVE_OFFER,
            "receive_answer": OfferAnswerInput.RECEIVE_ANSWER,
            "receive_bad_answer": OfferAnswerInput.RECEIVE_ANSWER,
            "answer_sent": OfferAnswerInput.SEND_ANSWER, "rollback": OfferAnswerInput.ROLLBACK}
PEER_OFFER = parse_sdp(SAMPLES["asterisk"])
PEER_HOLD = parse_sdp(SAMPLES["asterisk"].replace(b"a=sendrecv", b"a=sendonly"))
PEER_ANSWER = parse_sdp("v=0\no=p 1 1 IN IP4 10.3.3.3\ns=-\nc=IN IP4 10.3.3.3\nt=0 0\n"
                        "m=audio 5000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n")
BAD_ANSWER = parse_sdp("v=0\no=p 1 1 IN IP4 10.3.3.3\ns=-\nc=IN IP4 10.3.3.3\nt=0 0\n"
                       "m=audio 5000 RTP/AVP 18\n")


@SETTINGS
@given(st.lists(st.sampled_from(OPS), max_size=30))
def test_session_follows_its_table(ops: list[str]) -> None:
    s = SdpSession(local_ip="198.51.100.7", port=30000, session_id=99, version=5)
    sent: list[SessionDescription] = []
    for op in ops:
        before, allowed = s.state, (s.state, INPUT_OF[op]) in TABLE
        if op == "rollback" and before is OfferAnswerState.OFFER_RECEIVED:
            sent.pop()  # our answer never went out
        try:
            out = run(s, op)
        except (SipProtocolError, OfferAnswerMisuse):
            assert not allowed, (before, op)
            assert s.state is before
            continue
        assert allowed, (before, op)
        if isinstance(out, SessionDescription):
            sent.append(out)
        elif isinstance(out, Negotiated) and op.startswith("receive_") and "answer" not in op:
            sent.append(out.answer)
        assert s.state in OfferAnswerState
    for a, b in itertools.pairwise(sent):
        assert a.origin.sess_id == b.origin.sess_id == "99"
        step = b.origin.sess_version - a.origin.sess_version
        same = (a.media, a.connection) == (b.media, b.connection)
        assert step == (0 if same else 1), (a, b)


def run(s: SdpSession, op: str) -> object:
    if op == "offer":
        return s.create_offer(direction=Direction.SENDRECV)
    if op == "offer_hold":
        return s.create_offer(direction=Direction.SENDONLY)
    if op == "receive_offer":
        return s.receive_offer(PEER_OFFER)
    if op == "receive_hold":
        return s.receive_offer(PEER_HOLD)
    if op == "receive_answer":
        return s.receive_answer(PEER_ANSWER)
    if op == "receive_bad_answer":
        result = s.receive_answer(BAD_ANSWER)
        assert isinstance(result, NotAcceptable)
        assert s.state in (OfferAnswerState.IDLE, OfferAnswerState.STABLE)
        return result
    if op == "answer_sent":
        return s.answer_sent()
    s.rollback()
    return None


@SETTINGS
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_plain_line_split_and_choose_agree_with_the_full_paths(name: str,
                                                               data: st.DataObject) -> None:
    """The fast paths: a plain CRLF description is split as the checked splitter splits it,
    and ``choose`` picks what ``answer`` would answer with."""
    lines = SAMPLES[name].decode().split("\r\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    lines[i] += data.draw(st.sampled_from(["", " ", "\t \t", "x", "\r", "\0", " a=b"]))
    lines[-1:-1] = data.draw(st.sampled_from([[], ["a=ptime:30"], ["a=maxptime:10"]]))
    text = "\r\n".join(lines)
    try:
        checked: object = _split_lines_checked(text)
    except SdpError:
        checked = SdpError
    if _PLAIN.fullmatch(text):
        assert _split_lines(text) == checked
    offer = parse_or_error(text)
    if offer is None:
        return
    supported = data.draw(st.sampled_from([DEFAULT_CODECS, (PCMA, TELEPHONE_EVENT),
                                           (G722, OPUS, PCMU, TELEPHONE_EVENT)]))
    picked = choose(offer, supported)
    full = answer(offer, local_ip="10.0.0.1", port=4000, supported=supported)
    if isinstance(full, NotAcceptable):
        assert picked == full
    else:
        assert picked == (full.media_index, full.codec, full.ptime)
