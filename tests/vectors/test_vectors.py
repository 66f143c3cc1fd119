"""SIP torture-style vectors (in the spirit of RFC 4475, written for this project).

``valid/*.sip`` must parse to what ``valid/expected.toml`` says; ``invalid/*.sip`` must raise the
``SipParseError`` that ``invalid/expected.toml`` names (from ``parse_message``, or from the typed
view named by ``view``).  Every prefix of every vector parses or raises ``SipParseError``, and the
stream framer cuts the valid vectors the same whole or byte by byte.

Decisions pinned here (UDP, ``parse_message`` without ``stream``):
- Content-Length larger than the bytes after the header section: 400.
- Content-Length smaller: the body is cut to it, the rest of the datagram ignored.
- Content-Length absent: the body is the rest of the datagram (on a stream it is a 400).
"""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ccswitch.errors import SipParseError
from ccswitch.sip.framing import FramingError, Ping, StreamFramer
from ccswitch.sip.message import Request, Response, parse_message

HERE = Path(__file__).parent
VALID = HERE / "valid"
INVALID = HERE / "invalid"
RFC4475 = HERE / "rfc4475"  # our own vectors after RFC 4475 §3; answers in answers.toml
VALID_INDEX: dict[str, dict[str, Any]] = tomllib.loads((VALID / "expected.toml").read_text())
INVALID_INDEX: dict[str, dict[str, Any]] = tomllib.loads((INVALID / "expected.toml").read_text())
VIEWS = ("vias", "top_via", "contacts", "from_", "to", "cseq", "call_id", "expires",
         "content_type", "uri", "max_forwards")
BARE_LF_VECTORS = {"bare_lf", "bare_cr"}  # written without CRLF on purpose


def _load(directory: Path, name: str) -> bytes:
    return (directory / f"{name}.sip").read_bytes()


def read_views(msg: Request | Response) -> None:
    """Read every typed view; only SipParseError may come out."""
    for view in VIEWS:
        if isinstance(msg, Response) and view in ("uri", "max_forwards"):
            continue
        with contextlib.suppress(SipParseError):
            getattr(msg, view)


def _sans_length(msg: Request | Response) -> list[tuple[str, str]]:
    return [(n.lower(), v) for n, v in msg.headers.items()
            if n.lower() not in ("content-length", "l")]


def assert_same(a: Request | Response, b: Request | Response) -> None:
    assert type(a) is type(b)
    if isinstance(a, Request):
        assert isinstance(b, Request)
        assert (a.method, a.uri_text) == (b.method, b.uri_text)
    else:
        assert isinstance(b, Response)
        assert (a.status, a.reason) == (b.status, b.reason)
    assert _sans_length(a) == _sans_length(b)
    assert a.body == b.body


def test_every_vector_file_is_indexed_and_every_entry_has_a_file() -> None:
    assert {p.stem for p in VALID.glob("*.sip")} == set(VALID_INDEX)
    assert {p.stem for p in INVALID.glob("*.sip")} == set(INVALID_INDEX)
    assert len(VALID_INDEX) >= 15 and len(INVALID_INDEX) >= 30


@pytest.mark.parametrize("path", sorted([*VALID.glob("*.sip"), *INVALID.glob("*.sip"),
                                         *RFC4475.glob("*.sip")]),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector_files_keep_their_crlf_line_endings(path: Path) -> None:
    """Guards against a checkout that rewrote line endings (see .gitattributes)."""
    data = path.read_bytes()
    if path.stem in BARE_LF_VECTORS or path.stem == "only_crlf":
        return
    head = data.lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0]
    assert b"\r\n" in head
    assert head.count(b"\n") == head.count(b"\r\n"), "a bare LF in a CRLF vector"


def _via_summary(msg: Request | Response) -> list[str]:
    out = []
    for v in msg.vias:
        port = f":{v.port}" if v.port is not None else ""
        out.append(f"{v.transport} {v.host}{port} {v.branch}")
    return out


def _check_expectations(msg: Request | Response, exp: dict[str, Any]) -> None:
    assert isinstance(msg, Request if exp["kind"] == "request" else Response)
    if isinstance(msg, Request):
        if "method" in exp:
            assert msg.method == exp["method"]
        if "uri" in exp:
            assert msg.uri_text == exp["uri"]
        uri = msg.uri
        if "uri_user" in exp:
            assert uri.user == exp["uri_user"]
        if "uri_host" in exp:
            assert uri.host == exp["uri_host"]
        if "uri_port" in exp:
            assert uri.port == exp["uri_port"]
        if "uri_params" in exp:
            assert uri.params == {k: (v or None) for k, v in exp["uri_params"].items()}
        if "max_forwards" in exp:
            assert msg.max_forwards == exp["max_forwards"]
    else:
        if "status" in exp:
            assert msg.status == exp["status"]
        if "reason" in exp:
            assert msg.reason == exp["reason"]
    if "call_id" in exp:
        assert msg.call_id == exp["call_id"]
    if "cseq" in exp:
        assert str(msg.cseq) == exp["cseq"]
    if "vias" in exp:
        assert _via_summary(msg) == exp["vias"]
    if "contacts" in exp:
        assert [str(c) for c in msg.contacts] == exp["contacts"]
    for side in ("from", "to"):
        na = msg.from_ if side == "from" else msg.to
        if f"{side}_display" in exp:
            assert na.display == exp[f"{side}_display"]
        if f"{side}_tag" in exp:
            assert na.tag == (exp[f"{side}_tag"] or None)
    if "expires" in exp:
        assert msg.expires == exp["expires"]
    if "body" in exp:
        assert msg.body == exp["body"].encode()
    if "body_len" in exp:
        assert len(msg.body) == exp["body_len"]
    for name, value in exp.get("headers", {}).items():
        assert msg.headers.get(name) == value, name


@pytest.mark.parametrize("name", sorted(VALID_INDEX))
def test_valid_vector_parses_to_what_the_index_says(name: str) -> None:
    msg = parse_message(_load(VALID, name))
    _check_expectations(msg, VALID_INDEX[name])
    msg.validate()
    for view in VIEWS:  # every typed view of a valid vector reads without error
        if isinstance(msg, Response) and view in ("uri", "max_forwards"):
            continue
        getattr(msg, view)


@pytest.mark.parametrize("name", sorted(VALID_INDEX))
def test_valid_vector_round_trips_and_passes_headers_through(name: str) -> None:
    msg = parse_message(_load(VALID, name))
    wire = msg.to_bytes()
    again = parse_message(wire)
    assert_same(msg, again)
    assert again.headers.get("content-length") == str(len(msg.body))
    for n, v in msg.headers.items():  # unknown and known headers travel byte for byte
        if n.lower() not in ("content-length", "l"):
            assert f"\r\n{n}: {v}\r\n".encode() in wire
    assert parse_message(again.to_bytes()).to_bytes() == again.to_bytes()


def test_content_length_decisions_on_udp() -> None:
    """Smaller: body cut; absent: body is the rest; larger: 400 (see the invalid vector)."""
    smaller = parse_message(_load(VALID, "content_length_smaller"))
    assert smaller.body == b"hello"
    absent = parse_message(_load(VALID, "no_content_length"))
    assert absent.body == b"the whole rest of the datagram\r\n"
    with pytest.raises(SipParseError) as e:
        parse_message(_load(VALID, "no_content_length"), stream=True)
    assert (e.value.status, e.value.reason) == (400, "Missing Content-Length")
    with pytest.raises(SipParseError) as e:
        parse_message(_load(INVALID, "content_length_larger"))
    assert (e.value.status, e.value.reason) == (400, "Content-Length larger than body")


@pytest.mark.parametrize("name", sorted(INVALID_INDEX))
def test_invalid_vector_raises_the_indexed_answer(name: str) -> None:
    exp = INVALID_INDEX[name]
    data = _load(INVALID, name)
    with pytest.raises(SipParseError) as e:
        msg = parse_message(data)
        assert "view" in exp, "parsed, but the index expects parse_message to fail"
        getattr(msg, exp["view"])
    assert (e.value.status, e.value.reason) == (exp["status"], exp["reason"])


def _prefixes(data: bytes) -> range:
    # every prefix of the small vectors; a stride over the big ones keeps this fast
    return range(len(data) + 1) if len(data) <= 8192 else range(0, len(data) + 1, 97)


@pytest.mark.parametrize("path", sorted([*VALID.glob("*.sip"), *INVALID.glob("*.sip"),
                                         *RFC4475.glob("*.sip")]),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_truncation_sweep(path: Path) -> None:
    """Every prefix either parses (and its views raise only SipParseError) or raises it."""
    data = path.read_bytes()
    parsed = 0
    for n in _prefixes(data):
        try:
            msg = parse_message(data[:n])
        except SipParseError as e:
            assert e.status in (400, 413, 416, 505)
            continue
        parsed += 1
        read_views(msg)
    if path.parent == VALID and not VALID_INDEX[path.stem].get("udp_only"):
        # with a Content-Length that frames it, no proper prefix of a message parses
        assert parsed == 1


def _frame_all(framer: StreamFramer, chunks: list[bytes]) -> tuple[list[bytes | Ping], int | None]:
    frames: list[bytes | Ping] = []
    for c in chunks:
        try:
            frames += framer.feed(c)
        except FramingError as e:
            return frames + e.frames, e.status
    return frames, None


def test_framer_cuts_the_valid_vectors_the_same_whole_or_byte_by_byte() -> None:
    names = [n for n in sorted(VALID_INDEX) if not VALID_INDEX[n].get("udp_only")]
    stream = b"\r\n\r\n".join(_load(VALID, n) for n in names) + b"\r\n\r\n"
    whole, err = _frame_all(StreamFramer(), [stream])
    assert err is None
    single, err = _frame_all(StreamFramer(), [stream[i : i + 1] for i in range(len(stream))])
    assert err is None
    assert single == whole
    messages = [f for f in whole if isinstance(f, bytes)]
    assert len(messages) == len(names)
    for name, frame in zip(names, messages, strict=True):
        assert_same(parse_message(frame, stream=True), parse_message(_load(VALID, name)))
    assert whole.count(Ping()) >= len(names)


@pytest.mark.parametrize("name", sorted(INVALID_INDEX))
def test_framer_on_invalid_vectors_agrees_whole_and_byte_by_byte(name: str) -> None:
    data = _load(INVALID, name)
    whole = _frame_all(StreamFramer(), [data, b""])
    single = _frame_all(StreamFramer(), [data[i : i + 1] for i in range(len(data))] + [b""])
    assert whole == single
    for f in whole[0]:
        if isinstance(f, bytes):
            with contextlib.suppress(SipParseError):
                read_views(parse_message(f, stream=True))
