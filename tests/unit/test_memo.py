"""small_memo: memoize pure functions of short text only, so network input cannot pin memory."""

from __future__ import annotations

from ccswitch.memo import MEMO_KEY_CHARS, small_memo, str_size
from ccswitch.sdp.negotiator import Codec, _choose_for, _key_text
from ccswitch.sdp.session import Attribute, _attribute, parse_sdp


def test_sizes_count_the_text_of_strings_attributes_and_codecs() -> None:
    assert str_size(("abc", 7, None, ("not", "counted"))) == 3
    assert _key_text((("0", "101"), (Attribute("rtpmap", "0 PCMU/8000"), Attribute("x")),
                      (Codec("opus", 48000, 2, fmtp="useinbandfec=1"),), "ours")) == 44


def test_short_calls_are_memoized_and_long_ones_computed_every_time() -> None:
    calls: list[str] = []

    @small_memo(8, limit=10)
    def upper(s: str) -> str:
        calls.append(s)
        return s.upper()

    assert upper("short") == upper("short") == "SHORT"
    assert calls == ["short"]
    long = "x" * 11
    assert upper(long) == upper(long) == long.upper()
    assert calls == ["short", long, long]
    assert upper.cache_info().currsize == 1  # type: ignore[attr-defined]


def test_an_sdp_with_a_huge_attribute_leaves_no_memo_entry_holding_it() -> None:
    _attribute.cache_clear()  # type: ignore[attr-defined]
    _choose_for.cache_clear()  # type: ignore[attr-defined]
    huge = "x" * (MEMO_KEY_CHARS * 8)
    body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=note:{huge}\r\n").encode()
    m = parse_sdp(body).media[0]
    assert any(a.value == huge for a in m.attributes)
    assert _attribute.cache_info().currsize == 1  # type: ignore[attr-defined]  # the rtpmap
    pcmu = Codec("PCMU", 8000, pt=0)
    assert _choose_for(m.formats, m.attributes, (pcmu,), "offerer") is not None
    assert _choose_for.cache_info().currsize == 0  # type: ignore[attr-defined]
