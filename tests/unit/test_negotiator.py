"""Offer/answer (RFC 3264): answering real-world offers, checking answers, the per-leg machine."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from test_sdp import ASTERISK, BARESIP, LINPHONE, POLYCOM, SIPP, WEBRTC, YEALINK

from ccswitch.errors import SipProtocolError
from ccswitch.sdp import (
    DEFAULT_CODECS,
    G722,
    OPUS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Attribute,
    Codec,
    Direction,
    HoldPolicy,
    Negotiated,
    NotAcceptable,
    OfferAnswerMisuse,
    OfferAnswerState,
    SdpSession,
    SessionDescription,
    accept_answer,
    answer,
    build_offer,
    media_changes,
    parse_sdp,
)
from ccswitch.sdp.negotiator import PEER_FAULTS, PEER_INPUTS, TABLE, OfferAnswerInput

LOCAL = {"local_ip": "198.51.100.7", "port": 30000}


def accepted(result: Negotiated | NotAcceptable) -> Negotiated:
    assert isinstance(result, Negotiated), result
    # whatever we answer parses back to itself
    assert parse_sdp(result.answer.to_bytes()) == result.answer
    return result


def offer_of(media: str, *, session: str = "", conn: str = "10.1.1.1") -> SessionDescription:
    """A minimal offer around the given media section(s) (LF lines)."""
    return parse_sdp(f"v=0\no=- 5 5 IN IP4 {conn}\ns=-\nc=IN IP4 {conn}\nt=0 0\n{session}"
                     + media)


def attrs(sdp: SessionDescription, index: int = 0) -> list[str]:
    return [str(a) for a in sdp.media[index].attributes]


# -- answering -----------------------------------------------------------------------------

def test_sipp_pcmu_only_offer() -> None:
    n = accepted(answer(parse_sdp(SIPP), **LOCAL, session_id=77, version=3))
    assert n.codec == Codec("PCMU", 8000, 1, 0, None)
    assert n.telephone_event_pt is None
    assert (n.remote_address, n.remote_port) == ("127.0.0.1", 6000)
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("127.0.0.1", 6001)
    assert not n.rtcp_mux
    assert n.ptime == 20 and n.direction is Direction.SENDRECV and not n.remote_hold
    assert n.answer.to_bytes() == (
        b"v=0\r\no=ccswitch 77 3 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n"
        b"t=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
        b"a=sendrecv\r\n")


def test_asterisk_pcma_first_is_kept_when_offerer_preference_rules() -> None:
    n = accepted(answer(parse_sdp(ASTERISK), **LOCAL))
    assert n.codec.name == "PCMA" and n.codec.pt == 8
    assert n.telephone_event_pt == 101
    assert n.answer.media[0].formats == ("8", "101")
    assert attrs(n.answer) == ["rtpmap:8 PCMA/8000", "rtpmap:101 telephone-event/8000",
                               "fmtp:101 0-16", "ptime:20", "sendrecv"]


def test_our_preference_picks_pcmu_from_the_same_offer() -> None:
    n = accepted(answer(parse_sdp(ASTERISK), **LOCAL, prefer="ours"))
    assert n.codec.name == "PCMU" and n.codec.pt == 0
    assert n.answer.media[0].formats == ("0", "101")
    only_pcma = accepted(answer(parse_sdp(ASTERISK), **LOCAL, prefer="ours",
                                supported=(PCMA, PCMU, TELEPHONE_EVENT)))
    assert only_pcma.codec.name == "PCMA"


def test_no_common_codec_is_not_acceptable() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 18 101\na=rtpmap:18 G729/8000\n"
                     "a=rtpmap:101 telephone-event/8000\n")
    result = answer(offer, **LOCAL)
    assert result == NotAcceptable("no common audio codec")
    assert result.status == 488
    # telephone-event alone is not an audio codec
    assert isinstance(answer(offer, **LOCAL, supported=(TELEPHONE_EVENT,)), NotAcceptable)


def test_no_audio_at_all_is_not_acceptable() -> None:
    result = answer(offer_of("m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\n"), **LOCAL)
    assert result == NotAcceptable("no audio stream in the offer")
    rejected = answer(offer_of("m=audio 0 RTP/AVP 0\n"), **LOCAL)
    assert isinstance(rejected, NotAcceptable) and "rejected" in rejected.reason


def test_webrtc_offer_is_not_acceptable_without_srtp() -> None:
    result = answer(parse_sdp(WEBRTC), **LOCAL)
    assert isinstance(result, NotAcceptable)
    assert "UDP/TLS/RTP/SAVPF" in result.reason


@pytest.mark.parametrize(("te_pt", "fmtp", "expected_fmtp"),
                         [(101, "0-16", "0-16"), (96, "0-15", "0-15"), (127, None, "0-16"),
                          (100, "0-15,66,70", "0-15"), (101, "0-255", "0-16")])
def test_telephone_event_keeps_the_offerers_payload_type(te_pt: int, fmtp: str | None,
                                                         expected_fmtp: str) -> None:
    lines = f"m=audio 4000 RTP/AVP 0 {te_pt}\na=rtpmap:{te_pt} telephone-event/8000\n"
    if fmtp:
        lines += f"a=fmtp:{te_pt} {fmtp}\n"
    n = accepted(answer(offer_of(lines), **LOCAL))
    assert n.telephone_event_pt == te_pt
    assert n.answer.media[0].formats == ("0", str(te_pt))
    assert n.answer.media[0].rtpmap(te_pt).encoding == "telephone-event"
    assert n.answer.media[0].fmtp(te_pt) == expected_fmtp


def test_negotiation_follows_each_offers_own_mappings_back_to_back() -> None:
    """Offers that differ only in an rtpmap or fmtp line, answered in turn (the negotiation
    is memoized by the m-line's formats and attributes: each gets its own answer)."""
    pcma = offer_of("m=audio 4000 RTP/AVP 97 0 101\na=rtpmap:97 PCMA/8000\n"
                    "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n")
    g729 = offer_of("m=audio 4000 RTP/AVP 97 0 101\na=rtpmap:97 G729/8000\n"
                    "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-11\n")
    for _ in range(2):
        a = accepted(answer(pcma, **LOCAL))
        b = accepted(answer(g729, **LOCAL))
        assert (a.codec.name, a.codec.pt) == ("PCMA", 97)
        assert (b.codec.name, b.codec.pt) == ("PCMU", 0)
        assert a.answer.media[0].fmtp(101) == "0-15"
        assert b.answer.media[0].fmtp(101) == "0-11"
        only_pcmu = accepted(answer(pcma, **LOCAL, supported=(PCMU, TELEPHONE_EVENT)))
        assert only_pcmu.codec.name == "PCMU"
    ours = build_offer("198.51.100.7", 30000, DEFAULT_CODECS, session_id=1, version=1)
    for _ in range(2):
        for name, pt in (("PCMU", 0), ("PCMA", 8)):
            got = accept_answer(ours, offer_of(f"m=audio 5000 RTP/AVP {pt}\n"))
            assert isinstance(got, Negotiated) and got.codec.name == name
        refused = accept_answer(ours, offer_of("m=audio 5000 RTP/AVP 18\n"))
        assert isinstance(refused, NotAcceptable)


def test_telephone_event_is_dropped_when_we_do_not_support_it() -> None:
    n = accepted(answer(parse_sdp(ASTERISK), **LOCAL, supported=(PCMU, PCMA)))
    assert n.telephone_event_pt is None
    assert n.answer.media[0].formats == ("8",)


def test_polycom_g722_only_when_passed_in() -> None:
    default = accepted(answer(parse_sdp(POLYCOM), **LOCAL))
    assert default.codec.name == "PCMU"  # G722 (9) and G7221 are not ours by default
    assert default.telephone_event_pt == 127
    assert default.direction is Direction.SENDRECV  # session-level a=sendrecv
    wide = accepted(answer(parse_sdp(POLYCOM), **LOCAL,
                           supported=(G722, *DEFAULT_CODECS)))
    assert wide.codec == Codec("G722", 8000, 1, 9, None)
    assert wide.answer.media[0].formats == ("9", "127")


def test_yealink_fmtp_before_rtpmap_and_explicit_ptime() -> None:
    n = accepted(answer(parse_sdp(YEALINK), **LOCAL))
    assert n.codec.pt == 0 and n.telephone_event_pt == 101
    assert n.answer.media[0].fmtp(101) == "0-15"


def test_linphone_video_rejected_with_port_zero_audio_accepted() -> None:
    offer = parse_sdp(LINPHONE)
    n = accepted(answer(offer, **LOCAL))
    assert n.media_index == 0
    assert len(n.answer.media) == 2
    audio, video = n.answer.media
    assert (audio.media, audio.port) == ("audio", 30000)
    assert (video.media, video.port, video.proto) == ("video", 0, "RTP/AVP")
    assert video.formats == ("96", "97")
    assert video.attributes == ()
    # PCMU (0) is the first offered codec we know; telephone-event/8000 is pt 100 here,
    # not 101 (which Linphone maps to telephone-event/48000)
    assert n.codec.pt == 0 and n.telephone_event_pt == 100
    assert n.answer.media[0].formats == ("0", "100")


def test_linphone_opus_with_its_48k_telephone_events() -> None:
    te48 = Codec("telephone-event", 48000, 1, None, "0-16")
    n = accepted(answer(parse_sdp(LINPHONE), **LOCAL,
                        supported=(OPUS, PCMU, TELEPHONE_EVENT, te48)))
    assert n.codec == Codec("opus", 48000, 2, 96, "useinbandfec=1")
    assert n.telephone_event_pt == 101  # the 48 kHz one, matching the codec's clock
    assert attrs(n.answer)[:2] == ["rtpmap:96 opus/48000/2", "fmtp:96 useinbandfec=1"]
    # without a 48 kHz telephone-event of ours, opus goes without DTMF events
    plain = accepted(answer(parse_sdp(LINPHONE), **LOCAL, supported=(OPUS, *DEFAULT_CODECS)))
    assert plain.codec.name == "opus" and plain.telephone_event_pt is None


def test_baresip_offer_answered_with_pcmu() -> None:
    n = accepted(answer(parse_sdp(BARESIP), **LOCAL))
    assert n.codec.pt == 0 and n.telephone_event_pt == 101
    assert (n.remote_address, n.remote_port, n.remote_rtcp_port) == ("192.168.1.20", 10170,
                                                                     10171)


def test_second_audio_stream_is_rejected() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0\n")
    n = accepted(answer(offer, **LOCAL))
    assert [m.port for m in n.answer.media] == [30000, 0]


def test_first_audio_without_common_codec_then_a_usable_one() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 18\nm=audio 4002 RTP/AVP 8\n")
    n = accepted(answer(offer, **LOCAL))
    assert n.media_index == 1 and n.codec.name == "PCMA"
    assert [m.port for m in n.answer.media] == [0, 30000]


@pytest.mark.parametrize(("offered", "ours", "hold"), [
    ("sendrecv", Direction.SENDRECV, False),
    ("sendonly", Direction.RECVONLY, True),
    ("recvonly", Direction.SENDONLY, False),
    ("inactive", Direction.INACTIVE, True),
])
def test_answer_direction_mirrors_the_offer(offered: str, ours: Direction, hold: bool) -> None:
    n = accepted(answer(offer_of(f"m=audio 4000 RTP/AVP 0\na={offered}\n"), **LOCAL))
    assert n.direction is ours and n.remote_hold is hold
    assert n.answer.media[0].direction is ours


def test_session_level_hold_applies_unless_media_overrides() -> None:
    held = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\n", session="a=sendonly\n"),
                           **LOCAL))
    assert held.direction is Direction.RECVONLY and held.remote_hold
    override = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\na=sendrecv\n",
                                        session="a=sendonly\n"), **LOCAL))
    assert override.direction is Direction.SENDRECV and not override.remote_hold


def test_legacy_hold_with_zero_address() -> None:
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\n", conn="0.0.0.0"), **LOCAL))
    assert n.remote_hold
    assert n.direction is Direction.RECVONLY  # never send to 0.0.0.0
    assert n.remote_address == "0.0.0.0"
    assert n.answer.connection.address == "198.51.100.7"


def test_hold_policy_inactive() -> None:
    for media, conn in (("m=audio 4000 RTP/AVP 0\na=sendonly\n", "10.1.1.1"),
                        ("m=audio 4000 RTP/AVP 0\n", "0.0.0.0")):
        n = accepted(answer(offer_of(media, conn=conn), **LOCAL,
                            hold_policy=HoldPolicy.INACTIVE))
        assert n.direction is Direction.INACTIVE and n.remote_hold
    # not a hold: the policy does not apply
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\n"), **LOCAL,
                        hold_policy=HoldPolicy.INACTIVE))
    assert n.direction is Direction.SENDRECV


def test_our_own_direction_limits_the_answer() -> None:
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\n"), **LOCAL,
                        direction=Direction.SENDONLY))
    assert n.direction is Direction.SENDONLY and not n.remote_hold


@pytest.mark.parametrize(("lines", "expected"), [
    ("a=ptime:30\n", 30), ("", 20), ("a=ptime:40\na=maxptime:30\n", 30),
    ("a=maxptime:150\n", 20), ("a=ptime:0\n", 20), ("a=ptime:junk\n", 20),
])
def test_ptime_is_honoured(lines: str, expected: int) -> None:
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\n" + lines), **LOCAL))
    assert n.ptime == expected
    assert n.answer.media[0].ptime == expected


def test_rtcp_attribute_port_and_address() -> None:
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\na=rtcp:53020 IN IP4 10.9.9.9\n"),
                        **LOCAL))
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("10.9.9.9", 53020)
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\na=rtcp:4011\n"), **LOCAL))
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("10.1.1.1", 4011)
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\na=rtcp:bogus\n"), **LOCAL))
    assert n.remote_rtcp_port == 4001


def test_rtcp_mux_accepted_or_declined() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0\na=rtcp-mux\n")
    n = accepted(answer(offer, **LOCAL))
    assert n.rtcp_mux and (n.remote_rtcp_address, n.remote_rtcp_port) == ("10.1.1.1", 4000)
    assert n.answer.media[0].rtcp_mux
    off = accepted(answer(offer, **LOCAL, rtcp_mux=False))
    assert not off.rtcp_mux and off.remote_rtcp_port == 4001
    assert not off.answer.media[0].rtcp_mux


def test_media_level_connection_wins() -> None:
    n = accepted(answer(offer_of("m=audio 4000 RTP/AVP 0\nc=IN IP4 10.2.2.2\n"), **LOCAL))
    assert n.remote_address == "10.2.2.2"


def test_answer_keeps_the_offers_timing_and_uses_ipv6_when_local() -> None:
    offer = parse_sdp("v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\n"
                      "t=3034423619 3042462419\nm=audio 4000 RTP/AVP 0\n")
    n = accepted(answer(offer, local_ip="2001:db8::7", port=30000))
    assert n.answer.timings == offer.timings
    assert n.answer.origin.addrtype == "IP6" and n.answer.connection.addrtype == "IP6"
    assert n.remote_address == "2001:db8::1"


# -- our offer and its answer ----------------------------------------------------------------

def our_offer(**kw: object) -> SessionDescription:
    args: dict[str, object] = {"session_id": 900, "version": 1}
    args.update(kw)
    return build_offer("198.51.100.7", 30000, **args)  # type: ignore[arg-type]


def test_build_offer() -> None:
    offer = our_offer()
    assert offer.to_bytes() == (
        b"v=0\r\no=ccswitch 900 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n"
        b"t=0 0\r\nm=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
        b"a=ptime:20\r\na=sendrecv\r\n")
    hold = our_offer(direction=Direction.SENDONLY, ptime=30)
    assert hold.media[0].direction is Direction.SENDONLY and hold.media[0].ptime == 30


def test_build_offer_assigns_payload_types() -> None:
    offer = build_offer("10.0.0.1", 4000, (Codec("PCMA", 8000), Codec("opus", 48000, 2),
                                           Codec("telephone-event", 8000, fmtp="0-15")),
                        session_id=1, version=1)
    m = offer.media[0]
    assert m.formats == ("8", "96", "97")
    assert m.rtpmap(96).encoding == "opus" and m.rtpmap(96).channels == 2
    with pytest.raises(ValueError, match="duplicate"):
        build_offer("10.0.0.1", 4000, (PCMU, Codec("PCMA", 8000, 1, 0)), session_id=1,
                    version=1)
    with pytest.raises(ValueError, match="audio codec"):
        build_offer("10.0.0.1", 4000, (TELEPHONE_EVENT,), session_id=1, version=1)


def peer_answer(media: str, conn: str = "10.3.3.3") -> SessionDescription:
    return parse_sdp(f"v=0\no=peer 1 1 IN IP4 {conn}\ns=-\nc=IN IP4 {conn}\nt=0 0\n" + media)


def test_accept_answer_subset() -> None:
    n = accept_answer(our_offer(), peer_answer(
        "m=audio 5000 RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n"
        "a=ptime:30\na=sendrecv\n"))
    assert isinstance(n, Negotiated)
    assert n.codec == Codec("PCMA", 8000, 1, 8, None)
    assert n.telephone_event_pt == 101
    assert (n.remote_address, n.remote_port, n.remote_rtcp_port) == ("10.3.3.3", 5000, 5001)
    assert n.ptime == 30 and n.direction is Direction.SENDRECV


def test_accept_answer_static_payload_without_rtpmap() -> None:
    n = accept_answer(our_offer(), peer_answer("m=audio 5000 RTP/AVP 0\n"))
    assert isinstance(n, Negotiated) and n.codec.name == "PCMU" and n.ptime == 20
    assert n.telephone_event_pt is None


def test_accept_answer_with_another_telephone_event_number() -> None:
    n = accept_answer(our_offer(), peer_answer(
        "m=audio 5000 RTP/AVP 0 96\na=rtpmap:96 telephone-event/8000\n"))
    assert isinstance(n, Negotiated) and n.telephone_event_pt == 96


@pytest.mark.parametrize(("media", "reason"), [
    ("m=audio 5000 RTP/AVP 18\na=rtpmap:18 G729/8000\n", "18 (G729) was not offered"),
    ("m=audio 5000 RTP/AVP 0 9\n", "9 (G722) was not offered"),
    ("m=audio 5000 RTP/AVP 101\na=rtpmap:101 telephone-event/8000\n", "no audio codec"),
    ("m=audio 5000 RTP/AVP 96\n", "unknown"),
    ("m=audio 0 RTP/AVP 0\n", "rejects the audio stream"),
    ("m=audio 5000 RTP/AVP 0\nm=video 0 RTP/AVP 96\n", "2 m-lines, the offer 1"),
    ("", "0 m-lines"),
    ("m=video 5000 RTP/AVP 0\n", "m=video for m=audio"),
    ("m=audio 5000 RTP/SAVP 0\n", "transport"),
])
def test_accept_answer_rejects(media: str, reason: str) -> None:
    result = accept_answer(our_offer(), peer_answer(media))
    assert isinstance(result, NotAcceptable)
    assert reason in result.reason


def test_accept_answer_directions() -> None:
    held = accept_answer(our_offer(direction=Direction.SENDONLY),
                         peer_answer("m=audio 5000 RTP/AVP 0\na=recvonly\n"))
    assert isinstance(held, Negotiated)
    assert held.direction is Direction.SENDONLY and not held.remote_hold
    refused = accept_answer(our_offer(), peer_answer("m=audio 5000 RTP/AVP 0\na=inactive\n"))
    assert isinstance(refused, Negotiated)
    assert refused.direction is Direction.INACTIVE and refused.remote_hold
    legacy = accept_answer(our_offer(), peer_answer("m=audio 5000 RTP/AVP 0\n", "0.0.0.0"))
    assert isinstance(legacy, Negotiated)
    assert legacy.direction is Direction.RECVONLY and legacy.remote_hold


def test_accept_answer_keeps_rejected_video_rejected() -> None:
    offer = dataclasses.replace(our_offer(), media=(
        our_offer().media[0],
        parse_sdp(peer_answer("m=video 0 RTP/AVP 96\n").to_bytes()).media[0]))
    bad = accept_answer(offer, peer_answer("m=audio 5000 RTP/AVP 0\nm=video 6000 RTP/AVP 96\n"))
    assert isinstance(bad, NotAcceptable) and "rejected" in bad.reason
    ok = accept_answer(offer, peer_answer("m=audio 5000 RTP/AVP 0\nm=video 0 RTP/AVP 96\n"))
    assert isinstance(ok, Negotiated) and ok.media_index == 0


def test_our_answer_is_accepted_by_our_own_check() -> None:
    for sample in (SIPP, ASTERISK, POLYCOM, YEALINK, LINPHONE, BARESIP):
        offer = parse_sdp(sample)
        n = accepted(answer(offer, **LOCAL))
        back = accept_answer(offer, n.answer)
        assert isinstance(back, Negotiated), back
        assert back.codec.pt == n.codec.pt
        assert back.telephone_event_pt == n.telephone_event_pt


# -- the per-leg machine ---------------------------------------------------------------------

def session(**kw: object) -> SdpSession:
    args: dict[str, object] = {"local_ip": "198.51.100.7", "port": 30000,
                               "session_id": 4242, "version": 1}
    args.update(kw)
    return SdpSession(**args)  # type: ignore[arg-type]


def test_table_covers_every_state_and_input() -> None:
    for key in itertools.product(OfferAnswerState, OfferAnswerInput):
        _, event = key
        if key not in TABLE and event in PEER_INPUTS:
            assert key in PEER_FAULTS, key


def test_uac_offer_answer_then_hold_reoffer_increments_version() -> None:
    s = session()
    assert s.state is OfferAnswerState.IDLE
    first = s.create_offer()
    assert s.state is OfferAnswerState.OFFER_SENT
    assert (first.origin.sess_id, first.origin.sess_version) == ("4242", 1)
    n = s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 0 101\n"
                                     "a=rtpmap:101 telephone-event/8000\n"))
    assert isinstance(n, Negotiated) and s.negotiated == n
    assert s.state is OfferAnswerState.STABLE
    # the same offer again (a session refresh) keeps the version
    same = s.create_offer()
    assert same.origin.sess_version == 1 and same == first
    s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 0\n"))
    hold = s.create_offer(direction=Direction.SENDONLY)
    assert hold.origin.sess_version == 2 and hold.media[0].direction is Direction.SENDONLY
    assert hold.origin.sess_id == "4242"
    s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 0\na=recvonly\n"))
    assert s.negotiated is not None and s.negotiated.direction is Direction.SENDONLY
    resume = s.create_offer(direction=Direction.SENDRECV)
    assert resume.origin.sess_version == 3
    assert s.local_sdp == resume and s.version == 3


def test_reoffer_puts_the_codec_in_use_first() -> None:
    s = session()
    s.create_offer()
    s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 8\n"))
    again = s.create_offer()
    assert again.media[0].formats == ("8", "0", "101")


def test_uas_answers_then_hold_and_unhold() -> None:
    s = session()
    n = s.receive_offer(parse_sdp(ASTERISK))
    assert isinstance(n, Negotiated) and s.state is OfferAnswerState.OFFER_RECEIVED
    assert s.negotiated is None  # not committed before the answer goes out
    assert n.answer.origin.sess_version == 1 and n.answer.origin.sess_id == "4242"
    assert s.answer_sent() == n and s.negotiated == n
    assert s.state is OfferAnswerState.STABLE
    hold_offer = parse_sdp(ASTERISK.replace(b"a=sendrecv", b"a=sendonly")
                           .replace(b"1716201312 1716201312", b"1716201312 1716201313"))
    held = s.receive_offer(hold_offer)
    assert isinstance(held, Negotiated)
    assert held.direction is Direction.RECVONLY and held.answer.origin.sess_version == 2
    changes = media_changes(s.negotiated, held)
    assert changes.hold and not changes.resume and not changes.moved and not changes.codec
    assert changes.direction
    s.answer_sent()
    resumed = s.receive_offer(parse_sdp(ASTERISK))
    assert isinstance(resumed, Negotiated) and resumed.answer.origin.sess_version == 3
    changes = media_changes(s.negotiated, resumed)
    assert changes.resume and not changes.hold
    s.answer_sent()
    # an unchanged re-offer gets an unchanged answer, same version
    again = s.receive_offer(parse_sdp(ASTERISK))
    assert isinstance(again, Negotiated) and again.answer == resumed.answer
    assert media_changes(s.negotiated, again) == media_changes(again, again)


def test_legacy_hold_reinvite_detected() -> None:
    s = session()
    s.receive_offer(parse_sdp(SIPP))
    s.answer_sent()
    legacy = parse_sdp(SIPP.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0"))
    held = s.receive_offer(legacy)
    assert isinstance(held, Negotiated) and held.remote_hold
    assert held.direction is Direction.RECVONLY
    assert media_changes(s.negotiated, held).hold


def test_address_change_detected_for_relatching() -> None:
    s = session()
    s.receive_offer(parse_sdp(SIPP))
    first = s.answer_sent()
    moved = parse_sdp(SIPP.replace(b"m=audio 6000", b"m=audio 6010"))
    n = s.receive_offer(moved)
    assert isinstance(n, Negotiated)
    ch = media_changes(first, n)
    assert ch.moved and not ch.hold and not ch.codec
    assert n.answer.origin.sess_version == 1  # our side did not change
    assert media_changes(None, first) == media_changes(first, first)
    assert not media_changes(first, first).moved


def test_codec_change_detected() -> None:
    a = accepted(answer(parse_sdp(ASTERISK), **LOCAL))
    b = accepted(answer(parse_sdp(ASTERISK), **LOCAL, prefer="ours"))
    assert media_changes(a, b).codec and not media_changes(a, b).moved


def test_unacceptable_reoffer_leaves_the_session_as_it_was() -> None:
    s = session()
    s.receive_offer(parse_sdp(SIPP))
    current = s.answer_sent()
    bad = s.receive_offer(offer_of("m=audio 4000 RTP/AVP 18\n"))
    assert isinstance(bad, NotAcceptable)
    assert s.state is OfferAnswerState.STABLE and s.negotiated == current
    bad_initial = session().receive_offer(parse_sdp(WEBRTC))
    assert isinstance(bad_initial, NotAcceptable)


def test_unacceptable_answer_rolls_back() -> None:
    s = session()
    s.create_offer()
    result = s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 18\n"))
    assert isinstance(result, NotAcceptable)
    assert s.state is OfferAnswerState.IDLE and s.negotiated is None
    s2 = session()
    s2.create_offer()
    good = s2.receive_answer(peer_answer("m=audio 5000 RTP/AVP 0\n"))
    s2.create_offer(direction=Direction.SENDONLY)
    assert isinstance(s2.receive_answer(peer_answer("m=audio 0 RTP/AVP 0\n")), NotAcceptable)
    assert s2.state is OfferAnswerState.STABLE and s2.negotiated == good


def test_glare_and_overlapping_offers_raise_the_sip_answer() -> None:
    s = session()
    s.create_offer()
    with pytest.raises(SipProtocolError) as glare:
        s.receive_offer(parse_sdp(SIPP))
    assert glare.value.status == 491
    s.rollback()  # 491 received for our own re-INVITE too
    assert s.state is OfferAnswerState.IDLE
    s.receive_offer(parse_sdp(SIPP))
    with pytest.raises(SipProtocolError) as pending:
        s.receive_offer(parse_sdp(SIPP))
    assert pending.value.status == 500
    with pytest.raises(SipProtocolError) as stray:
        session().receive_answer(parse_sdp(SIPP))
    assert stray.value.status == 400


def test_local_misuse_raises() -> None:
    s = session()
    with pytest.raises(OfferAnswerMisuse):
        s.answer_sent()
    with pytest.raises(OfferAnswerMisuse):
        s.rollback()
    s.create_offer()
    with pytest.raises(OfferAnswerMisuse):
        s.create_offer()
    with pytest.raises(OfferAnswerMisuse):
        s.answer_sent()


def test_rollback_of_reoffer_returns_to_stable() -> None:
    s = session()
    s.receive_offer(parse_sdp(SIPP))
    current = s.answer_sent()
    hold = s.create_offer(direction=Direction.SENDONLY)  # sent, then 491 or 488
    s.rollback()
    assert s.state is OfferAnswerState.STABLE and s.negotiated == current
    assert s.local_direction is Direction.SENDRECV and s.local_sdp == hold
    # a pending answer to a peer's offer can be dropped too (we answered 488 after all);
    # it was never sent, so its version is taken back
    held = s.receive_offer(parse_sdp(SIPP.replace(b"t=0 0", b"t=0 0\r\na=sendonly")))
    assert isinstance(held, Negotiated)
    assert held.answer.origin.sess_version == hold.origin.sess_version + 1
    s.rollback()
    assert s.state is OfferAnswerState.STABLE and s.negotiated == current
    assert s.local_sdp == hold and s.version == hold.origin.sess_version
    assert s.remote_sdp == parse_sdp(SIPP)
    resumed = s.receive_offer(parse_sdp(SIPP))
    assert isinstance(resumed, Negotiated)
    assert resumed.answer.media == current.answer.media
    assert resumed.answer.origin.sess_version == hold.origin.sess_version + 1


def test_unacceptable_answer_to_hold_keeps_our_direction() -> None:
    s = session()
    s.create_offer()
    s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 0\n"))
    s.create_offer(direction=Direction.SENDONLY)
    assert isinstance(s.receive_answer(peer_answer("m=audio 5000 RTP/AVP 18\n")),
                      NotAcceptable)
    assert s.local_direction is Direction.SENDRECV


def test_we_hold_then_peer_reoffers_sendrecv() -> None:
    s = session()
    s.receive_offer(parse_sdp(SIPP))
    s.answer_sent()
    s.create_offer(direction=Direction.SENDONLY)
    s.receive_answer(peer_answer("m=audio 6000 RTP/AVP 0\na=recvonly\n", "127.0.0.1"))
    # while we hold, the peer's sendrecv re-offer is answered sendonly
    n = s.receive_offer(parse_sdp(SIPP))
    assert isinstance(n, Negotiated) and n.direction is Direction.SENDONLY
    assert s.local_direction is Direction.SENDONLY


def test_session_codec_list_is_configurable() -> None:
    s = session(codecs=(G722, PCMU, TELEPHONE_EVENT))
    offer = s.create_offer()
    assert offer.media[0].formats == ("9", "0", "101")
    assert Attribute("rtpmap", "9 G722/8000") in offer.media[0].attributes
