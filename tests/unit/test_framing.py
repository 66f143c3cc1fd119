"""StreamFramer: cutting a TCP/TLS byte stream into messages by Content-Length."""

from __future__ import annotations

import time

import pytest

from ccswitch.errors import SipParseError
from ccswitch.sip.framing import KEEPALIVE_PING, KEEPALIVE_PONG, FramingError, Ping, StreamFramer
from ccswitch.sip.message import parse_message


def message(n: int, body: bytes = b"", *, cl: str | None = None, eol: bytes = b"\r\n") -> bytes:
    length = str(len(body)) if cl is None else cl
    lines = [
        "OPTIONS sip:1002@ccswitch.local SIP/2.0",
        f"Via: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKf{n}",
        f"From: <sip:1001@ccswitch.local>;tag=f{n}",
        "To: <sip:1002@ccswitch.local>",
        f"Call-ID: framing-{n}",
        f"CSeq: {n} OPTIONS",
        f"Content-Length: {length}",
    ]
    return eol.join(s.encode() for s in lines) + eol + eol + body


def feed_all(chunks: list[bytes], **kw: int) -> tuple[list[bytes | Ping], FramingError | None]:
    f = StreamFramer(**kw)
    out: list[bytes | Ping] = []
    for c in chunks:
        try:
            out += f.feed(c)
        except FramingError as e:
            return out + e.frames, e
    return out, None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_keepalive_constants() -> None:
    assert (KEEPALIVE_PING, KEEPALIVE_PONG) == (b"\r\n\r\n", b"\r\n")


def test_one_message_whole_and_in_pieces() -> None:
    m = message(1, b"hello")
    f = StreamFramer()
    assert f.feed(m[:10]) == [] and f.pending == 10
    assert f.feed(m[10:-1]) == []
    assert f.feed(m[-1:]) == [m] and f.pending == 0


def test_pipelined_messages_pings_and_stray_crlf() -> None:
    a, b = message(1, b"x\r\n\r\ny"), message(2)
    stream = b"\r\n\r\n" + a + b"\r\n" + b + b"\r\n\r\n\r\n"
    whole, e = feed_all([stream])
    assert e is None
    assert whole == [Ping(), a, b, Ping()]
    assert feed_all(bytewise(stream)) == (whole, None)
    f = StreamFramer()
    assert f.feed(stream) == whole and f.pending == 2  # a lone CRLF waits: maybe a ping


def test_frames_parse_as_stream_messages() -> None:
    frames, _ = feed_all([message(1, b"body") + message(2)])
    parsed = [parse_message(fr, stream=True) for fr in frames if isinstance(fr, bytes)]
    assert [p.call_id for p in parsed] == ["framing-1", "framing-2"]
    assert parsed[0].body == b"body"


def test_compact_folded_and_bare_lf_content_length() -> None:
    compact = message(1, b"abc").replace(b"Content-Length: 3", b"l :3")
    folded = message(2, b"abcd").replace(b"Content-Length: 4", b"Content-Length:\r\n 4")
    lf = message(3, b"ab\r\n\r\n", eol=b"\n")
    for m, body in ((compact, b"abc"), (folded, b"abcd"), (lf, b"ab\r\n\r\n")):
        frames, e = feed_all(bytewise(m + message(9)))
        assert e is None and frames == [m, message(9)]
        assert parse_message(m, stream=True).body == body


def test_missing_content_length_is_400_and_keeps_earlier_frames() -> None:
    good, bad = message(1), message(2).replace(b"Content-Length: 0\r\n", b"")
    f = StreamFramer()
    with pytest.raises(FramingError) as e:
        f.feed(b"\r\n\r\n" + good + bad)
    assert isinstance(e.value, SipParseError)
    assert (e.value.status, e.value.reason) == (400, "Missing Content-Length")
    assert e.value.frames == [Ping(), good]
    assert e.value.pending == bad
    with pytest.raises(FramingError) as e2:  # framing is lost: it stays lost
        f.feed(b"")
    assert e2.value.frames == [] and e2.value.status == 400


@pytest.mark.parametrize("value,reason", [
    ("-1", "Bad Content-Length"), ("x", "Bad Content-Length"), ("²", "Bad Content-Length"),
    ("9" * 5000, "Bad Content-Length"), ("1 1", "Bad Content-Length"),
])
def test_bad_content_length(value: str, reason: str) -> None:
    m = message(1).replace(b"Content-Length: 0", f"Content-Length: {value}".encode())
    for chunks in ([m], bytewise(m)):
        frames, e = feed_all(chunks)
        assert frames == [] and e is not None and (e.status, e.reason) == (400, reason)


def test_multiple_content_length() -> None:
    two = message(1, b"abcd").replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 2")
    _, e = feed_all([two])
    assert e is not None and (e.status, e.reason) == (400, "Multiple Content-Length")
    same = message(1, b"abcd").replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 4")
    assert feed_all([same]) == ([same], None)


def test_oversized_header_section_is_413_before_it_ends() -> None:
    f = StreamFramer(max_size=200)
    assert f.feed(b"OPTIONS sip:x SIP/2.0\r\nX: " + b"a" * 150) == []
    with pytest.raises(FramingError) as e:
        f.feed(b"a" * 50)
    assert e.value.status == 413


def test_message_bigger_than_max_is_413_as_soon_as_its_length_is_known() -> None:
    m = message(1, b"z" * 500)
    f = StreamFramer(max_size=300)
    with pytest.raises(FramingError) as e:
        f.feed(m[: len(m) - 500])
    assert e.value.status == 413


def test_max_size_boundary_is_the_same_whole_or_bytewise() -> None:
    m = message(1, b"z" * 50)
    for limit in (len(m) - 51, len(m) - 50, len(m) - 1, len(m)):
        whole = feed_all([m, b""], max_size=limit)
        single = feed_all([*bytewise(m), b""], max_size=limit)
        w_status = whole[1].status if whole[1] else None
        s_status = single[1].status if single[1] else None
        assert (whole[0], w_status) == (single[0], s_status), limit
        assert (w_status is None) == (limit >= len(m)), limit


def test_slow_peer_costs_linear_time() -> None:
    """Byte-by-byte delivery of a near-limit header section must not rescan the buffer."""
    big = b"OPTIONS sip:x SIP/2.0\r\nX: " + b"a" * 60000
    f = StreamFramer()
    start = time.process_time()
    for i in range(len(big)):
        f.feed(big[i : i + 1])
    # linear: ~0.05 s; rescanning the whole buffer on every byte took ~3 s here
    assert time.process_time() - start < 1.0
    assert f.pending == len(big)
    with pytest.raises(FramingError):
        f.feed(b"a" * 6000)
