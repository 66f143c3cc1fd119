"""SDP parse/serialize (RFC 8866) on SDPs in the style of real phones and servers."""

from __future__ import annotations

import pytest

from ccswitch.errors import CcswitchError
from ccswitch.sdp import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
    parse_sdp,
)


def crlf(text: str) -> bytes:
    """Sample text (one line per line, LF) as SDP bytes with CRLF."""
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode()


BARESIP = crlf("""
v=0
o=- 1987341263 2108371549 IN IP4 192.168.1.20
s=-
c=IN IP4 192.168.1.20
t=0 0
a=tool:baresip 1.0.0
m=audio 10170 RTP/AVP 96 9 0 8 101
b=AS:64
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:2863212347 cname:7a1cd9e8-3f55-4bd6-9c51-4ea2c3a3f1bd
a=rtcp-rsize
a=ptime:20
""")

LINPHONE = crlf("""
v=0
o=1001 3265 1811 IN IP4 192.168.1.30
s=Talk
c=IN IP4 192.168.1.30
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm fir
a=rtcp-fb:* nack
""")

POLYCOM = crlf("""
v=0
o=- 1699987321 1699987321 IN IP4 10.20.0.50
s=Polycom IP Phone
c=IN IP4 10.20.0.50
t=0 0
a=sendrecv
m=audio 2222 RTP/AVP 9 102 0 8 18 127
a=rtpmap:9 G722/8000
a=rtpmap:102 G7221/16000
a=fmtp:102 bitrate=32000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:127 telephone-event/8000
""")

YEALINK = crlf("""
v=0
o=- 20010 20010 IN IP4 10.20.0.51
s=SDP data
c=IN IP4 10.20.0.51
t=0 0
m=audio 11800 RTP/AVP 0 8 18 9 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:9 G722/8000
a=fmtp:101 0-15
a=rtpmap:101 telephone-event/8000
a=ptime:20
a=sendrecv
""")

SIPP = crlf("""
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
""")

ASTERISK = crlf("""
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
""")

FINGERPRINT = ("4F:1A:0C:9E:77:2B:D3:58:60:AA:E1:19:3D:C2:7F:05:B4:8E:91:6A:2C:D0:33:7B:E8:41:9F:"
               "56:0D:C7:A2:18")
WEBRTC = crlf(f"""
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS 3e9b5f2a
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Qx3v
a=ice-pwd:5b8Fq2Hs9kRz0pLm1NvC7aTe
a=ice-options:trickle
a=fingerprint:sha-256 {FINGERPRINT}
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=sendrecv
a=msid:3e9b5f2a 8c1d7b44
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1843261203 cname:kQ2v7yJm3oUe0sXn
a=ssrc:1843261203 msid:3e9b5f2a 8c1d7b44
a=candidate:1467250027 1 udp 2122260223 192.168.1.40 46243 typ host generation 0
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=mid:1
a=sendrecv
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
""")

SAMPLES = {"baresip": BARESIP, "linphone": LINPHONE, "polycom": POLYCOM, "yealink": YEALINK,
           "sipp": SIPP, "asterisk": ASTERISK, "webrtc": WEBRTC}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_round_trips_byte_for_byte(name: str) -> None:
    data = SAMPLES[name]
    sdp = parse_sdp(data)
    assert sdp.to_bytes() == data
    assert parse_sdp(sdp.to_bytes()) == sdp
    assert str(sdp).encode() == data


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_lf_only_and_trailing_whitespace_are_tolerated(name: str) -> None:
    data = SAMPLES[name]
    lf = data.replace(b"\r\n", b"\n")
    assert parse_sdp(lf) == parse_sdp(data)
    messy = data.replace(b"\r\n", b" \t\r\n") + b"\r\n\r\n"
    assert parse_sdp(messy) == parse_sdp(data)
    assert parse_sdp(data.decode()) == parse_sdp(data)


def test_baresip_fields() -> None:
    sdp = parse_sdp(BARESIP)
    assert sdp.origin == Origin("-", "1987341263", 2108371549, "IN", "IP4", "192.168.1.20")
    assert sdp.name == "-"
    assert sdp.connection == Connection("IN", "IP4", "192.168.1.20")
    assert sdp.timings == (Timing(0, 0),)
    assert sdp.attributes == (Attribute("tool", "baresip 1.0.0"),)
    (m,) = sdp.media
    assert (m.media, m.port, m.port_count, m.proto) == ("audio", 10170, None, "RTP/AVP")
    assert m.formats == ("96", "9", "0", "8", "101")
    assert m.payload_types == (96, 9, 0, 8, 101)
    assert m.bandwidths == (Bandwidth("AS", 64),)
    assert m.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert m.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert m.fmtp(96) == "stereo=1;sprop-stereo=1"
    assert m.fmtp(101) == "0-15"
    assert m.fmtp(0) is None
    assert m.ptime == 20
    assert m.maxptime is None
    assert m.direction is Direction.SENDRECV
    assert sdp.media_direction(m) is Direction.SENDRECV
    assert m.rtcp is None
    assert not m.rtcp_mux
    assert m.has_attribute("rtcp-rsize")
    assert m.attribute("rtcp-rsize") == ""
    assert m.attribute("label") == "1"
    assert m.attribute("nothing") is None
    # unknown attributes stay in order
    names = [a.name for a in m.attributes]
    assert names.index("label") < names.index("ssrc") < names.index("rtcp-rsize")


def test_linphone_two_media_and_dynamic_telephone_events() -> None:
    sdp = parse_sdp(LINPHONE)
    audio, video = sdp.media
    assert sdp.name == "Talk"
    assert sdp.origin.username == "1001" and sdp.origin.sess_version == 1811
    assert [a.name for a in sdp.attributes] == ["rtcp-xr", "record"]
    assert audio.rtpmap(100) == RtpMap(100, "telephone-event", 8000)
    assert audio.rtpmap(101) == RtpMap(101, "telephone-event", 48000)
    # pt 18 has an fmtp but no rtpmap: the static table knows it
    assert audio.rtpmap(18) == RtpMap(18, "G729", 8000)
    assert audio.fmtp(18) == "annexb=yes"
    assert audio.attribute_values("rtcp-fb") == ["* trr-int 1000", "* ccm tmmbr"]
    assert (video.media, video.port) == ("video", 9078)
    assert video.rtpmap(96) == RtpMap(96, "VP8", 90000)  # per-m-line rtpmaps
    assert audio.connection is None and sdp.media_connection(audio) == sdp.connection


def test_static_payload_types_known_without_rtpmap() -> None:
    sdp = parse_sdp(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                    b"m=audio 5004 RTP/AVP 0 8 9 18 3 96\r\n")
    (m,) = sdp.media
    assert m.rtpmaps() == {}
    assert m.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert m.rtpmap(8) == RtpMap(8, "PCMA", 8000)
    assert m.rtpmap(9) == RtpMap(9, "G722", 8000)
    assert m.rtpmap(18) == RtpMap(18, "G729", 8000)
    assert m.rtpmap(3) == RtpMap(3, "GSM", 8000)
    assert m.rtpmap(96) is None  # dynamic without rtpmap: unknown
    assert STATIC_PAYLOAD_TYPES[10] == RtpMap(10, "L16", 44100, 2)


def test_rtpmap_overrides_static_table() -> None:
    m = MediaDescription("audio", 5004, "RTP/AVP", ("0",),
                         attributes=(Attribute("rtpmap", "0 PCMU/16000"),))
    assert m.rtpmap(0) == RtpMap(0, "PCMU", 16000)


def test_polycom_session_level_direction_and_asterisk_maxptime() -> None:
    poly = parse_sdp(POLYCOM)
    (m,) = poly.media
    assert poly.direction is Direction.SENDRECV and m.direction is None
    assert poly.media_direction(m) is Direction.SENDRECV
    assert m.rtpmap(127) == RtpMap(127, "telephone-event", 8000)
    ast = parse_sdp(ASTERISK)
    assert ast.media[0].ptime == 20 and ast.media[0].maxptime == 150


def test_media_level_direction_overrides_session_level() -> None:
    base = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
    sdp = parse_sdp(base + "a=sendonly\nm=audio 4000 RTP/AVP 0\na=sendrecv\n"
                    "m=audio 4002 RTP/AVP 0\n")
    first, second = sdp.media
    assert sdp.direction is Direction.SENDONLY
    assert sdp.media_direction(first) is Direction.SENDRECV
    assert sdp.media_direction(second) is Direction.SENDONLY
    plain = parse_sdp(base + "m=audio 4000 RTP/AVP 0\n")
    assert plain.media_direction(plain.media[0]) is Direction.SENDRECV
    for d in Direction:
        one = parse_sdp(base + f"m=audio 4000 RTP/AVP 0\na={d.value}\n")
        assert one.media_direction(one.media[0]) is d


def test_rtcp_attribute_and_mux() -> None:
    sdp = parse_sdp(WEBRTC)
    audio = sdp.media[0]
    assert audio.rtcp == Rtcp(9, Connection("IN", "IP4", "0.0.0.0"))
    assert audio.rtcp_mux
    assert audio.rtcp.to_attribute() == Attribute("rtcp", "9 IN IP4 0.0.0.0")
    m = MediaDescription("audio", 4000, "RTP/AVP", ("0",),
                         attributes=(Attribute("rtcp", "53021"),))
    assert m.rtcp == Rtcp(53021)
    for bad in ("x", "70000", "9 IN IP4", ""):
        assert MediaDescription("audio", 1, "RTP/AVP",
                                attributes=(Attribute("rtcp", bad),)).rtcp is None


def test_webrtc_attributes_pass_through() -> None:
    sdp = parse_sdp(WEBRTC)
    assert sdp.connection is None
    assert sdp.attribute("msid-semantic") == " WMS 3e9b5f2a"
    assert sdp.attribute("group") == "BUNDLE 0 1"
    audio, video = sdp.media
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert audio.connection == Connection("IN", "IP4", "0.0.0.0")
    assert audio.connection.is_hold
    assert audio.attribute("candidate") == ("1467250027 1 udp 2122260223 192.168.1.40 46243 "
                                              "typ host generation 0")
    assert audio.attribute_values("ssrc") == ["1843261203 cname:kQ2v7yJm3oUe0sXn",
                                              "1843261203 msid:3e9b5f2a 8c1d7b44"]
    assert video.fmtp(97) == "apt=96"
    assert sdp.origin.sess_id == "4611731400430051336"


def test_unknown_lines_and_optional_fields_pass_through() -> None:
    text = ("v=0\r\no=alice 2890844526 2890842807 IN IP4 10.47.16.5\r\ns=SDP Seminar\r\n"
            "i=A Seminar on the session description protocol\r\n"
            "u=http://www.example.com/seminars/sdp.pdf\r\ne=j.doe@example.com (Jane Doe)\r\n"
            "p=+1 617 555-6011\r\nc=IN IP4 224.2.17.12/127\r\nb=CT:1000\r\n"
            "t=2873397496 2873404696\r\nr=7d 1h 0 25h\r\nt=0 0\r\n"
            "z=2882844526 -1h 2898848070 0\r\nk=prompt\r\na=recvonly\r\ny=unknown line\r\n"
            "m=audio 49170/2 RTP/AVP 0\r\ni=voice\r\nc=IN IP4 224.2.17.12/127\r\n"
            "c=IN IP4 224.2.17.13/127\r\nb=AS:64\r\nk=prompt\r\na=quality:10\r\nx=other\r\n"
            "m=application 32416 udp wb\r\na=orient:portrait\r\n")
    sdp = parse_sdp(text)
    # a second c= (multicast) travels with the unknown lines, at the end of its section
    second_c = "c=IN IP4 224.2.17.13/127\r\n"
    moved = text.replace(second_c, "").replace("x=other\r\n", second_c + "x=other\r\n")
    assert sdp.to_bytes() == moved.encode()
    assert parse_sdp(moved) == sdp
    assert sdp.info == "A Seminar on the session description protocol"
    assert sdp.uri == "http://www.example.com/seminars/sdp.pdf"
    assert sdp.emails == ("j.doe@example.com (Jane Doe)",)
    assert sdp.phones == ("+1 617 555-6011",)
    assert sdp.bandwidths == (Bandwidth("CT", 1000),)
    assert sdp.timings == (Timing(2873397496, 2873404696, ("7d 1h 0 25h",)), Timing(0, 0))
    assert sdp.zone == "2882844526 -1h 2898848070 0"
    assert sdp.key == "prompt"
    assert sdp.extra == (("y", "unknown line"),)
    audio, app = sdp.media
    assert (audio.port, audio.port_count) == (49170, 2)
    assert audio.info == "voice" and audio.key == "prompt"
    assert audio.connection == Connection("IN", "IP4", "224.2.17.12/127")
    assert audio.extra == (("c", "IN IP4 224.2.17.13/127"), ("x", "other"))
    assert app.formats == ("wb",) and app.payload_types == ()


def test_lines_out_of_order_inside_a_section_are_accepted() -> None:
    sdp = parse_sdp("v=0\ns=-\no=- 1 2 IN IP4 10.0.0.1\nt=0 0\nc=IN IP4 10.0.0.1\n"
                    "m=audio 4000 RTP/AVP 0\na=sendonly\nc=IN IP4 10.0.0.2\n")
    assert sdp.origin.sess_version == 2
    assert sdp.media[0].connection == Connection("IN", "IP4", "10.0.0.2")
    assert sdp.to_bytes().startswith(b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=")


def test_non_utf8_bytes_round_trip() -> None:
    data = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=Caf\xe9\r\nt=0 0\r\n"
    assert parse_sdp(data).to_bytes() == data


def test_empty_session_name_serializes_as_space() -> None:
    sdp = parse_sdp("v=0\no=- 1 1 IN IP4 10.0.0.1\ns= \nt=0 0\n")
    assert sdp.name == ""
    assert b"\r\ns= \r\n" in sdp.to_bytes()
    assert parse_sdp(sdp.to_bytes()) == sdp


def test_serializer_refuses_line_breaks_in_values() -> None:
    sdp = SessionDescription(Origin("-", "1", 1, "IN", "IP4", "10.0.0.1"),
                             name="x\r\na=injected")
    with pytest.raises(ValueError, match="line break"):
        sdp.to_bytes()


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\r\n"])
def test_serializer_refuses_a_break_or_nul_in_a_media_attribute(bad: str) -> None:
    ok = MediaDescription("audio", 4000, "RTP/AVP", ("0",),
                          attributes=(Attribute("rtpmap", "0 PCMU/8000"),))
    bad_m = MediaDescription("audio", 4000, "RTP/AVP", ("0",),
                             attributes=(Attribute("x", f"a{bad}b"), Attribute("sendrecv")))
    sdp = SessionDescription(Origin("-", "1", 1, "IN", "IP4", "10.0.0.1"), media=(ok,))
    assert sdp.to_bytes().endswith(b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    with pytest.raises(ValueError, match="line break or NUL"):
        SessionDescription(sdp.origin, media=(ok, bad_m)).to_bytes()


def test_built_description_serializes_in_rfc_order() -> None:
    sdp = SessionDescription(
        Origin("ccswitch", "42", 7, "IN", "IP4", "10.0.0.1"), "call",
        Connection("IN", "IP4", "10.0.0.1"),
        attributes=(Attribute("sendrecv"),),
        media=(MediaDescription("audio", 4000, "RTP/AVP", ("0", "101"),
                                attributes=(RtpMap(0, "PCMU", 8000).to_attribute(),
                                            RtpMap(101, "telephone-event", 8000).to_attribute(),
                                            Attribute("fmtp", "101 0-16"))),))
    assert sdp.to_bytes() == crlf("""
v=0
o=ccswitch 42 7 IN IP4 10.0.0.1
s=call
c=IN IP4 10.0.0.1
t=0 0
a=sendrecv
m=audio 4000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
""")


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.RECVONLY.reversed() is Direction.SENDONLY
    assert Direction.SENDRECV.reversed() is Direction.SENDRECV
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.SENDRECV & Direction.SENDONLY is Direction.SENDONLY
    assert Direction.SENDONLY & Direction.RECVONLY is Direction.INACTIVE
    assert Direction.SENDONLY.sends and not Direction.SENDONLY.receives


GOOD = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("\r\n\r\n", "empty"),
    (GOOD.replace("v=0\n", ""), "missing v="),
    (GOOD.replace("v=0", "v=1"), "unsupported SDP version"),
    (GOOD.replace("s=-\n", "s=-\nv=0\n"), "v= is not the first"),
    (GOOD.replace("o=- 1 1 IN IP4 10.0.0.1\n", ""), "missing o="),
    (GOOD.replace("s=-\n", ""), "missing s="),
    (GOOD.replace("t=0 0\n", ""), "missing t="),
    (GOOD.replace("o=- 1 1 IN IP4 10.0.0.1", "o=- 1 IN IP4 10.0.0.1"), "bad o= line"),
    (GOOD.replace("o=- 1 1 IN", "o=- 1 x IN"), "bad o= line"),
    (GOOD.replace("s=-\n", "s=-\no=- 2 2 IN IP4 10.0.0.1\n"), "more than one o="),
    (GOOD.replace("s=-\n", "s=-\ns=again\n"), "more than one s="),
    (GOOD.replace("t=0 0\n", "t=0 0\nc=IN IP4 10.0.0.2\n"), "more than one c="),
    (GOOD.replace("c=IN IP4 10.0.0.1", "c=IN IP4"), "bad c= line"),
    (GOOD.replace("c=IN IP4 10.0.0.1", "c=IN IP4 10.0.0.1 extra"), "bad c= line"),
    (GOOD + "c=IP4 10.0.0.1\n", "bad c= line"),
    (GOOD.replace("t=0 0", "t=0"), "bad t= line"),
    (GOOD.replace("t=0 0", "t=now 0"), "bad t= line"),
    (GOOD.replace("t=0 0\n", "r=1d 1h 0\nt=0 0\n"), "r= line before"),
    (GOOD + "b=AS\n", "bad b= line"),
    (GOOD + "b=AS:lots\n", "bad b= line"),
    (GOOD.replace("m=audio 4000 RTP/AVP 0", "m=audio 4000"), "bad m= line"),
    (GOOD.replace("m=audio 4000 RTP/AVP 0", "m=audio"), "bad m= line"),
    (GOOD.replace("4000", "70000"), "bad port"),
    (GOOD.replace("4000", "-1"), "bad port"),
    (GOOD.replace("4000", "port"), "bad port"),
    (GOOD.replace("4000", "\u0664\u0660\u0660\u0660"), "bad port"),  # Arabic-Indic digits
    (GOOD.replace("4000", "4000/0"), "bad port count"),
    (GOOD.replace("4000", "4000/x"), "bad port count"),
    (GOOD + "no equals sign\n", "bad line"),
    (GOOD + "ab=cd\n", "bad line"),
    (GOOD + "1=x\n", "bad line"),
    (GOOD + "=x\n", "bad line"),
    (GOOD + "a=x\ry\n", "control character"),
    (GOOD + "a=x\0y\n", "control character"),
])
def test_malformed_input_raises_sdp_error_with_reason(text: str, reason: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(text)
    assert reason in info.value.reason
    assert isinstance(info.value, CcswitchError)


def test_ports_at_the_edges_are_accepted() -> None:
    assert parse_sdp(GOOD.replace("4000", "0")).media[0].port == 0
    assert parse_sdp(GOOD.replace("4000", "65535")).media[0].port == 65535


def test_attribute_without_value_and_with_empty_value_differ() -> None:
    sdp = parse_sdp(GOOD + "a=flag\na=empty:\n")
    assert sdp.media[0].attributes == (Attribute("flag"), Attribute("empty", ""))
    assert b"a=flag\r\na=empty:\r\n" in sdp.to_bytes()


@pytest.mark.parametrize(("value", "expected"), [
    ("20", 20), ("30", 30), ("20.0", 20), ("", None), ("x", None), ("-5", None),
])
def test_ptime_values(value: str, expected: int | None) -> None:
    m = MediaDescription("audio", 1, "RTP/AVP", ("0",), attributes=(Attribute("ptime", value),))
    assert m.ptime == expected


@pytest.mark.parametrize("value", ["x PCMU/8000", "0", "0 PCMU", "0 PCMU/x", "200 PCMU/8000",
                                   "0 /8000", "0 opus/48000/0", "0 a/1/2/3"])
def test_malformed_rtpmap_is_ignored(value: str) -> None:
    m = MediaDescription("audio", 1, "RTP/AVP", ("96",), attributes=(Attribute("rtpmap", value),))
    assert m.rtpmaps() == {}
    assert m.rtpmap(96) is None
