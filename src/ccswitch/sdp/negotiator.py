"""SDP offer/answer (RFC 3264) for the one audio stream of a leg, pure.

* ``build_offer`` writes our offer; ``answer`` answers a peer's offer; ``accept_answer`` checks
  the peer's answer to our offer.  Both of the latter return ``Negotiated`` (what the media side
  needs: codec, DTMF payload type, remote RTP/RTCP addresses, ptime, our direction) or
  ``NotAcceptable`` (the SIP layer answers 488, or ends the call when it was our offer).
* ``SdpSession`` is the per-leg machine: the offer/answer state (Idle, OfferSent, OfferReceived,
  Stable) as a ``(state, input) -> state`` table, and our ``o=`` line, whose version goes up by
  one each time we send an SDP that differs from the last one we sent (RFC 3264 §8).
* ``media_changes`` compares two negotiations: hold/resume (``sendonly``/``inactive`` or the
  RFC 2543 ``c=0.0.0.0``), a moved remote address (to re-latch media), a new codec.

Payload type numbers: an answer keeps the offerer's numbers, dynamic ones included.  A
``Negotiated`` carries the numbers of the *remote* SDP, i.e. the ones to send with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import ClassVar, Literal

from ..errors import CcswitchError, SipProtocolError
from ..memo import small_memo, text_memo
from .session import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    Timing,
)

ACCEPTED_PROTOS = frozenset({"RTP/AVP", "RTP/AVPF"})
DTMF_NAME = "telephone-event"
PTIME_RANGE = range(1, 301)  # ms; a=ptime outside it is ignored
_DYNAMIC_PTS = range(96, 128)
_MAX_EVENT = 255

Prefer = Literal["offerer", "ours"]


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format: ``name/clock_rate[/channels]``, payload type, format parameters.

    ``pt`` None means "assign one" (the static number if there is one, else 96-127).
    """

    name: str
    clock_rate: int
    channels: int = 1
    pt: int | None = None
    fmtp: str | None = None

    @property
    def is_dtmf(self) -> bool:
        return self.name.lower() == DTMF_NAME

    def matches(self, m: RtpMap) -> bool:
        """Same encoding (any case), clock rate and channel count (absent means 1)."""
        return (self.name.lower() == m.encoding.lower() and self.clock_rate == m.clock_rate
                and self.channels == (m.channels or 1))

    def rtpmap(self, pt: int) -> RtpMap:
        return RtpMap(pt, self.name, self.clock_rate, self.channels if self.channels != 1 else None)


PCMU = Codec("PCMU", 8000, 1, 0)
PCMA = Codec("PCMA", 8000, 1, 8)
TELEPHONE_EVENT = Codec(DTMF_NAME, 8000, 1, 101, "0-16")
G722 = Codec("G722", 8000, 1, 9)  # RFC 3551: the rtpmap says 8000 though G.722 samples at 16k
OPUS = Codec("opus", 48000, 2, 111, "useinbandfec=1")
DEFAULT_CODECS: tuple[Codec, ...] = (PCMU, PCMA, TELEPHONE_EVENT)


class HoldPolicy(Enum):
    """How we answer an offer that puts us on hold."""

    RECVONLY = "recvonly"  # RFC 3264 §8.4: sendonly -> recvonly; c=0.0.0.0 -> we do not send
    INACTIVE = "inactive"  # answer every hold inactive (we neither send nor receive)


@dataclass(frozen=True, slots=True)
class NotAcceptable:
    """No acceptable audio stream (``reason`` says why); the SIP layer answers ``status``."""

    reason: str
    status: ClassVar[int] = 488


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of one offer/answer exchange, for the media side.

    ``codec`` and ``telephone_event_pt`` use the remote SDP's payload type numbers.
    ``direction`` is ours: ``direction.sends`` means we send RTP to ``remote_address``.
    ``remote_hold``: the peer will not receive what we would send (``sendonly``, ``inactive``
    or ``c=0.0.0.0``).  ``answer`` is the answer of the exchange (ours or the peer's).
    """

    codec: Codec
    telephone_event_pt: int | None
    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    remote_rtcp_port: int
    rtcp_mux: bool
    ptime: int
    direction: Direction
    remote_hold: bool
    media_index: int
    answer: SessionDescription


@dataclass(frozen=True, slots=True)
class MediaChanges:
    """What a new negotiation changed compared with the one before it."""

    hold: bool  # the peer put us on hold
    resume: bool  # the peer took us off hold
    moved: bool  # remote RTP or RTCP address/port changed (re-latch)
    codec: bool  # codec, its payload type or the DTMF payload type changed
    direction: bool  # our direction changed


def media_changes(before: Negotiated | None, after: Negotiated) -> MediaChanges:
    """Compare ``after`` with ``before`` (None: the first negotiation)."""
    if before is None:
        return MediaChanges(after.remote_hold, False, False, False, False)
    return MediaChanges(
        hold=after.remote_hold and not before.remote_hold,
        resume=before.remote_hold and not after.remote_hold,
        moved=(before.remote_address, before.remote_port, before.remote_rtcp_address,
               before.remote_rtcp_port) != (after.remote_address, after.remote_port,
                                            after.remote_rtcp_address, after.remote_rtcp_port),
        codec=(before.codec, before.telephone_event_pt) != (after.codec, after.telephone_event_pt),
        direction=before.direction is not after.direction,
    )


# -- building ------------------------------------------------------------------------------

def _text(values: tuple[object, ...]) -> int:
    """Characters of text in a memo key's tuple of strings, ``Attribute``s or ``Codec``s (what
    ``small_memo`` bounds: names, values and fmtp strings may come from a peer's SDP)."""
    n = 0
    for v in values:
        if type(v) is str:
            n += len(v)
        elif type(v) is Attribute:
            n += len(v.name) + (len(v.value) if v.value is not None else 0)
        elif type(v) is Codec:
            n += len(v.name) + (len(v.fmtp) if v.fmtp is not None else 0)
    return n


def _key_text(args: tuple[object, ...]) -> int:
    """``small_memo``'s size of a call whose arguments are strings and tuples of the above."""
    n = 0
    for a in args:
        if type(a) is tuple:
            n += _text(a)
        elif type(a) is str:
            n += len(a)
    return n


def assign_payload_types(codecs: Iterable[Codec]) -> tuple[Codec, ...]:
    """Give each codec without ``pt`` its static number, else a free dynamic one (96-127)."""
    return _assign_payload_types(tuple(codecs))


@small_memo(256, _key_text)
def _assign_payload_types(codecs: tuple[Codec, ...]) -> tuple[Codec, ...]:
    """``assign_payload_types``, memoized: every offer of a call assigns the same lists."""
    taken = [c.pt for c in codecs if c.pt is not None]
    if len(taken) != len(set(taken)):
        raise ValueError(f"duplicate payload types in {codecs}")
    used = set(taken)
    out = []
    for c in codecs:
        if c.pt is None:
            pt = next((s for s, m in STATIC_PAYLOAD_TYPES.items() if c.matches(m)), None)
            if pt is None or pt in used:
                pt = next((p for p in _DYNAMIC_PTS if p not in used), None)
            if pt is None:
                raise ValueError("no free dynamic payload type")
            used.add(pt)
            c = dataclasses.replace(c, pt=pt)
        out.append(c)
    return tuple(out)


# Memoized below: pure functions of a few immutable values (addresses, codec lists, fmtp
# strings) that repeat for every call; an anchored call negotiates four times.
@text_memo(256)
def _connection(ip: str) -> Connection:
    return Connection("IN", "IP6" if ":" in ip else "IP4", ip)


def _origin(username: str, session_id: int, version: int, ip: str) -> Origin:
    c = _connection(ip)
    return Origin(username, str(session_id), version, c.nettype, c.addrtype, c.address)


@small_memo(512, _key_text)
def _audio_attributes(codecs: tuple[Codec, ...], ptime: int, direction: Direction,
                      rtcp_mux: bool) -> tuple[Attribute, ...]:
    attrs: list[Attribute] = []
    for c in codecs:
        assert c.pt is not None
        attrs.append(c.rtpmap(c.pt).to_attribute())
        if c.fmtp:
            attrs.append(Attribute("fmtp", f"{c.pt} {c.fmtp}"))
    attrs.append(Attribute("ptime", str(ptime)))
    if rtcp_mux:
        attrs.append(Attribute("rtcp-mux"))
    attrs.append(Attribute(direction.value))
    return tuple(attrs)


def build_offer(local_ip: str, port: int, codecs: Iterable[Codec] = DEFAULT_CODECS, *,
                direction: Direction = Direction.SENDRECV, ptime: int = 20, session_id: int,
                version: int, username: str = "ccswitch",
                rtcp_mux: bool = False) -> SessionDescription:
    """Our offer: one ``m=audio`` line with ``codecs`` in order of preference."""
    chosen = assign_payload_types(codecs)
    if not any(not c.is_dtmf for c in chosen):
        raise ValueError("an offer needs at least one audio codec")
    media = MediaDescription("audio", port, "RTP/AVP", tuple(str(c.pt) for c in chosen),
                             attributes=_audio_attributes(tuple(chosen), ptime, direction,
                                                          rtcp_mux))
    return SessionDescription(_origin(username, session_id, version, local_ip), "-",
                              _connection(local_ip), (Timing(),), media=(media,))


# -- answering -----------------------------------------------------------------------------

def _events(fmtp: str | None) -> set[int] | None:
    """The events of a telephone-event ``fmtp`` (``0-15,66``), None when absent or malformed."""
    if fmtp is None:
        return None
    out: set[int] = set()
    for part in fmtp.replace(" ", "").split(","):
        lo_text, dash, hi_text = part.partition("-")
        if not (lo_text.isascii() and lo_text.isdigit() and len(lo_text) <= 3):
            return None
        lo = int(lo_text)
        hi = lo
        if dash:
            if not (hi_text.isascii() and hi_text.isdigit() and len(hi_text) <= 3):
                return None
            hi = int(hi_text)
        if lo > hi or hi > _MAX_EVENT:
            return None
        out.update(range(lo, hi + 1))
    return out


def _format_events(events: set[int]) -> str:
    parts: list[str] = []
    ordered = sorted(events)
    start = prev = ordered[0]
    for e in [*ordered[1:], -2]:
        if e != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = e
        prev = e
    return ",".join(parts)


@small_memo(256)
def _dtmf_fmtp(offered: str | None, ours: str | None) -> str | None:
    """The answer's telephone-event events: what both sides support."""
    theirs, mine = _events(offered), _events(ours)
    if theirs is None or mine is None:
        return offered if offered is not None else ours
    common = theirs & mine
    return _format_events(common) if common else offered


def _offered(m: MediaDescription) -> list[tuple[int, RtpMap]]:
    """The payload types of ``m`` in order, with their mapping where one is known."""
    maps = m.rtpmaps()
    out = []
    for pt in m.payload_types:
        rm = maps.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)
        if rm is not None:
            out.append((pt, rm))
    return out


def _choose(m: MediaDescription, supported: Sequence[Codec],
            prefer: Prefer) -> tuple[Codec, tuple[Codec, Codec] | None] | None:
    """The audio codec (with the offer's pt and fmtp) and the DTMF codec (offered, ours).

    Memoized by what it reads (the formats and attributes of ``m``): a call negotiates its
    offer twice (``choose``, then ``answer``), and phones send the same few from call to
    call; the result is immutable."""
    return _choose_for(m.formats, m.attributes, tuple(supported), prefer)


@small_memo(512, _key_text)
def _choose_for(formats: tuple[str, ...], attributes: tuple[Attribute, ...],
                supported: tuple[Codec, ...],
                prefer: Prefer) -> tuple[Codec, tuple[Codec, Codec] | None] | None:
    m = MediaDescription("audio", 0, "RTP/AVP", formats, attributes=attributes)
    offered = _offered(m)
    audio = [c for c in supported if not c.is_dtmf]
    pairs = [(pt, c) for pt, rm in offered for c in audio if c.matches(rm)]
    if not pairs:
        return None
    if prefer == "ours":
        pairs.sort(key=lambda p: audio.index(p[1]))
    pt, ours = pairs[0]
    fmtp = ours.fmtp if ours.fmtp is not None else m.fmtp(pt)
    codec = Codec(ours.name, ours.clock_rate, ours.channels, pt, fmtp)
    dtmf = None
    for dpt, drm in offered:
        mine = next((c for c in supported if c.is_dtmf and c.matches(drm)), None)
        if mine is not None and drm.clock_rate == codec.clock_rate:
            dtmf = (Codec(mine.name, mine.clock_rate, mine.channels, dpt,
                          _dtmf_fmtp(m.fmtp(dpt), mine.fmtp)), mine)
            break
    return codec, dtmf


def _acceptable(offer: SessionDescription, m: MediaDescription) -> str | None:
    """Why the m-line cannot be our audio stream, or None."""
    if m.media != "audio":
        return f"m={m.media} is not audio"
    if m.port == 0:
        return "audio stream rejected by the offerer"
    if m.proto not in ACCEPTED_PROTOS:
        return f"unsupported transport {m.proto}"
    if offer.media_connection(m) is None:
        return "no c= line for the audio stream"
    return None


def _valid_ptime(value: int | None) -> int | None:
    return value if value is not None and value in PTIME_RANGE else None


def _ptime(m: MediaDescription, default: int) -> int:
    """The offer's ``a=ptime`` (else ``default``), capped at its ``a=maxptime``."""
    p = _valid_ptime(m.ptime) or default
    cap = _valid_ptime(m.maxptime)
    return cap if cap is not None and cap < p else p


def _remote_rtcp(m: MediaDescription, address: str, port: int,
                 mux: bool) -> tuple[str, int]:
    """RTCP goes to ``a=rtcp`` (RFC 3605), the RTP port when muxed, else RTP port + 1."""
    if mux:
        return address, port
    rtcp = m.rtcp
    if rtcp is not None:
        return (rtcp.connection.address if rtcp.connection else address), rtcp.port
    return address, min(port + 1, 65535)


def _first_usable(offer: SessionDescription, supported: Sequence[Codec], prefer: Prefer
                  ) -> tuple[int, Codec, tuple[Codec, Codec] | None] | NotAcceptable:
    """The first audio m-line we can take, with its codec and DTMF codec."""
    reason: str | None = None  # why the first audio m-line was refused
    for i, m in enumerate(offer.media):
        why = _acceptable(offer, m)
        if why is None:
            pick = _choose(m, supported, prefer)
            if pick is not None:
                return (i, *pick)
            why = "no common audio codec"
        if m.media == "audio" and reason is None:
            reason = why
    return NotAcceptable(reason or "no audio stream in the offer")


def choose(offer: SessionDescription, supported: Sequence[Codec] = DEFAULT_CODECS, *,
           prefer: Prefer = "offerer", ptime: int = 20) -> tuple[int, Codec, int] | NotAcceptable:
    """What ``answer`` would pick, without building the answer: the index of the audio
    m-line, the codec (with the offer's payload type and fmtp) and the ptime."""
    chosen = _first_usable(offer, supported, prefer)
    if isinstance(chosen, NotAcceptable):
        return chosen
    index, codec, _ = chosen
    return index, codec, _ptime(offer.media[index], ptime)


def answer(offer: SessionDescription, *, local_ip: str, port: int,
           supported: Sequence[Codec] = DEFAULT_CODECS, prefer: Prefer = "offerer",
           hold_policy: HoldPolicy = HoldPolicy.RECVONLY,
           direction: Direction = Direction.SENDRECV, ptime: int = 20, rtcp_mux: bool = True,
           session_id: int = 0, version: int = 0,
           username: str = "ccswitch") -> Negotiated | NotAcceptable:
    """Answer ``offer``: the first acceptable audio m-line is accepted, every other one gets
    port 0; m-line count and order, and the offer's payload type numbers, are kept.

    ``direction`` is what we want (e.g. sendonly while we hold the peer); the answer's is that
    intersected with the reverse of the offer's.  ``rtcp_mux``: accept ``a=rtcp-mux`` if offered.
    """
    chosen = _first_usable(offer, supported, prefer)
    if isinstance(chosen, NotAcceptable):
        return chosen
    index, codec, dtmf = chosen
    m = offer.media[index]
    conn = offer.media_connection(m)
    assert conn is not None
    offer_dir = offer.media_direction(m)
    remote_hold = not offer_dir.receives or conn.is_hold
    ours = offer_dir.reversed() & direction
    if conn.is_hold:
        ours = ours & Direction.RECVONLY
    if remote_hold and hold_policy is HoldPolicy.INACTIVE:
        ours = Direction.INACTIVE
    p = _ptime(m, ptime)
    mux = rtcp_mux and m.rtcp_mux
    codecs = (codec,) if dtmf is None else (codec, dtmf[0])
    ours_m = MediaDescription("audio", port, m.proto, tuple(str(c.pt) for c in codecs),
                              attributes=_audio_attributes(codecs, p, ours, mux))
    media = tuple(ours_m if i == index else
                  MediaDescription(om.media, 0, om.proto, om.formats or ("0",))
                  for i, om in enumerate(offer.media))
    sdp = SessionDescription(_origin(username, session_id, version, local_ip), "-",
                             _connection(local_ip), offer.timings, media=media)
    rtcp_address, rtcp_port = _remote_rtcp(m, conn.address, m.port, mux)
    return Negotiated(codec, None if dtmf is None else dtmf[0].pt, conn.address, m.port,
                      rtcp_address, rtcp_port, mux, p, ours, remote_hold, index, sdp)


def accept_answer(offer: SessionDescription,
                  answer: SessionDescription) -> Negotiated | NotAcceptable:
    """Check the peer's ``answer`` to our ``offer`` (same m-lines, codecs a subset of ours)."""
    if len(answer.media) != len(offer.media):
        return NotAcceptable(f"answer has {len(answer.media)} m-lines, the offer "
                             f"{len(offer.media)}")
    index = None
    for i, (om, am) in enumerate(zip(offer.media, answer.media, strict=True)):
        if am.media != om.media:
            return NotAcceptable(f"m-line {i}: answer has m={am.media} for m={om.media}")
        if om.port == 0 and am.port != 0:
            return NotAcceptable(f"m-line {i}: answer accepts a stream the offer rejected")
        if index is None and am.port != 0 and _acceptable(offer, om) is None:
            index = i
    if index is None:
        return NotAcceptable("the answer rejects the audio stream")
    om, am = offer.media[index], answer.media[index]
    if am.proto != om.proto:
        return NotAcceptable(f"answer changes the transport to {am.proto}")
    conn = answer.media_connection(am)
    if conn is None:
        return NotAcceptable("no c= line for the audio stream in the answer")
    picked = _answer_codecs(om, am)
    if isinstance(picked, NotAcceptable):
        return picked
    codec, dtmf_pt = picked
    offer_dir, answer_dir = offer.media_direction(om), answer.media_direction(am)
    ours = offer_dir & answer_dir.reversed()
    if conn.is_hold:
        ours = ours & Direction.RECVONLY
    remote_hold = (offer_dir.sends and not answer_dir.receives) or conn.is_hold
    p = _valid_ptime(am.ptime) or _ptime(om, 20)
    mux = om.rtcp_mux and am.rtcp_mux
    rtcp_address, rtcp_port = _remote_rtcp(am, conn.address, am.port, mux)
    return Negotiated(codec, dtmf_pt, conn.address, am.port, rtcp_address, rtcp_port, mux, p,
                      ours, remote_hold, index, answer)


def _answer_codecs(om: MediaDescription,
                   am: MediaDescription) -> tuple[Codec, int | None] | NotAcceptable:
    """The audio codec and DTMF pt of the answer, each one a codec of the offer (memoized
    by the formats and attributes of both, all it reads; the result is immutable)."""
    return _answer_codecs_for(om.formats, om.attributes, am.formats, am.attributes)


@small_memo(512, _key_text)
def _answer_codecs_for(offer_formats: tuple[str, ...], offer_attributes: tuple[Attribute, ...],
                       answer_formats: tuple[str, ...], answer_attributes: tuple[Attribute, ...],
                       ) -> tuple[Codec, int | None] | NotAcceptable:
    om = MediaDescription("audio", 0, "RTP/AVP", offer_formats, attributes=offer_attributes)
    am = MediaDescription("audio", 0, "RTP/AVP", answer_formats, attributes=answer_attributes)
    offered = _offered(om)
    maps = am.rtpmaps()
    codec: Codec | None = None
    dtmf_pt: int | None = None
    for f in am.formats:
        pt = int(f) if f.isascii() and f.isdigit() and len(f) <= 3 else None
        rm = None if pt is None else (maps.get(pt) or om.rtpmap(pt))
        if pt is None or rm is None:
            return NotAcceptable(f"answer format {f[:10]} is unknown")
        ours = next((o for _, o in offered if _same(o, rm)), None)
        if ours is None:
            return NotAcceptable(f"answer format {pt} ({rm.encoding}) was not offered")
        if ours.encoding.lower() == DTMF_NAME:
            if dtmf_pt is None:
                dtmf_pt = pt
        elif codec is None:
            fmtp = am.fmtp(pt)
            if fmtp is None:
                fmtp = om.fmtp(next(p for p, o in offered if _same(o, rm)))
            codec = Codec(ours.encoding, ours.clock_rate, ours.channels or 1, pt, fmtp)
    if codec is None:
        return NotAcceptable("no audio codec in the answer")
    if dtmf_pt is not None:
        te = am.rtpmap(dtmf_pt)
        if te is None or te.clock_rate != codec.clock_rate:
            dtmf_pt = None
    return codec, dtmf_pt


def _same(a: RtpMap, b: RtpMap) -> bool:
    return (a.encoding.lower() == b.encoding.lower() and a.clock_rate == b.clock_rate
            and (a.channels or 1) == (b.channels or 1))


# -- the per-leg machine -------------------------------------------------------------------

class OfferAnswerState(Enum):
    """RFC 3264 offer/answer states of a leg."""

    IDLE = "Idle"
    OFFER_SENT = "OfferSent"
    OFFER_RECEIVED = "OfferReceived"
    STABLE = "Stable"


class OfferAnswerInput(Enum):
    SEND_OFFER = "send offer"
    RECEIVE_OFFER = "receive offer"
    SEND_ANSWER = "send answer"
    RECEIVE_ANSWER = "receive answer"
    ROLLBACK = "offer rejected, cancelled or unanswered"


_S, _I = OfferAnswerState, OfferAnswerInput
# (state, input) -> next state; None: back to where the offer started (Idle or Stable).
TABLE: Mapping[tuple[OfferAnswerState, OfferAnswerInput], OfferAnswerState | None] = \
    MappingProxyType({
        (_S.IDLE, _I.SEND_OFFER): _S.OFFER_SENT,
        (_S.IDLE, _I.RECEIVE_OFFER): _S.OFFER_RECEIVED,
        (_S.STABLE, _I.SEND_OFFER): _S.OFFER_SENT,
        (_S.STABLE, _I.RECEIVE_OFFER): _S.OFFER_RECEIVED,
        (_S.OFFER_SENT, _I.RECEIVE_ANSWER): _S.STABLE,
        (_S.OFFER_SENT, _I.ROLLBACK): None,
        (_S.OFFER_RECEIVED, _I.SEND_ANSWER): _S.STABLE,
        (_S.OFFER_RECEIVED, _I.ROLLBACK): None,
    })
# Missing entries for inputs from the peer: the answer the SIP layer sends.
PEER_FAULTS: Mapping[tuple[OfferAnswerState, OfferAnswerInput], tuple[int, str]] = \
    MappingProxyType({
        (_S.OFFER_SENT, _I.RECEIVE_OFFER): (491, "Request Pending"),
        (_S.OFFER_RECEIVED, _I.RECEIVE_OFFER): (500, "Offer Pending"),
        (_S.IDLE, _I.RECEIVE_ANSWER): (400, "SDP Answer Without Offer"),
        (_S.STABLE, _I.RECEIVE_ANSWER): (400, "SDP Answer Without Offer"),
        (_S.OFFER_RECEIVED, _I.RECEIVE_ANSWER): (400, "SDP Answer Without Offer"),
    })
PEER_INPUTS = frozenset({_I.RECEIVE_OFFER, _I.RECEIVE_ANSWER})


class OfferAnswerMisuse(CcswitchError):
    """A local call the offer/answer state does not allow (a programmer error upstream)."""


def _normalized(sdp: SessionDescription) -> SessionDescription:
    return dataclasses.replace(sdp, origin=dataclasses.replace(sdp.origin, sess_version=0))


class SdpSession:
    """Offer/answer for one leg: its state, our ``o=`` identity and the current negotiation.

    The SIP layer calls ``create_offer`` / ``receive_answer`` when it offers, and
    ``receive_offer`` then ``answer_sent`` (or ``rollback`` after answering 488) when the peer
    does.  ``rollback`` also undoes an offer of ours that was rejected or cancelled.
    Inputs from the peer that the state does not allow raise ``SipProtocolError`` with the
    answer (491 on glare); local misuse raises ``OfferAnswerMisuse``.
    """

    __slots__ = ("_before", "_codecs", "_direction", "_hold_policy", "_ip", "_last_sent",
                 "_pending", "_port", "_prefer", "_prev_direction", "_ptime", "_rtcp_mux",
                 "_state", "_unsent", "_username", "_version", "local_sdp", "negotiated",
                 "remote_sdp", "session_id")

    def __init__(self, *, local_ip: str, port: int, session_id: int, version: int = 0,
                 codecs: Sequence[Codec] = DEFAULT_CODECS, ptime: int = 20,
                 prefer: Prefer = "offerer", hold_policy: HoldPolicy = HoldPolicy.RECVONLY,
                 rtcp_mux: bool = True, username: str = "ccswitch") -> None:
        self._ip, self._port, self._ptime = local_ip, port, ptime
        self._codecs = assign_payload_types(codecs)
        self._prefer, self._hold_policy, self._rtcp_mux = prefer, hold_policy, rtcp_mux
        self._username = username
        self.session_id = session_id
        self._version = version
        self._last_sent: SessionDescription | None = None  # normalized
        self._state = OfferAnswerState.IDLE
        self._before = OfferAnswerState.IDLE
        self._direction = self._prev_direction = Direction.SENDRECV
        self._pending: Negotiated | None = None
        # what _stamp changed for an answer not sent yet, restored if it never goes out
        self._unsent: tuple[int, SessionDescription | None, SessionDescription | None,
                            SessionDescription | None] | None = None
        self.local_sdp: SessionDescription | None = None  # the last SDP we sent
        self.remote_sdp: SessionDescription | None = None  # the last SDP the peer sent
        self.negotiated: Negotiated | None = None  # the current, committed negotiation

    @property
    def state(self) -> OfferAnswerState:
        return self._state

    @property
    def version(self) -> int:
        """The ``o=`` version of the last SDP we sent (the initial one before any)."""
        return self._version

    @property
    def local_direction(self) -> Direction:
        """What we want (sendonly or inactive while we hold the peer)."""
        return self._direction

    def _check(self, event: OfferAnswerInput) -> None:
        """Raise unless the table has ``event`` in the current state."""
        key = (self._state, event)
        if key in TABLE:
            return
        if key in PEER_FAULTS:
            raise SipProtocolError(*PEER_FAULTS[key])
        if event in PEER_INPUTS:
            raise AssertionError(f"no table entry for {key}")
        raise OfferAnswerMisuse(f"{event.value} in state {self._state.value}")

    def _step(self, event: OfferAnswerInput) -> None:
        self._check(event)
        nxt = TABLE[(self._state, event)]
        if event in (OfferAnswerInput.SEND_OFFER, OfferAnswerInput.RECEIVE_OFFER):
            self._before = self._state
        self._state = self._before if nxt is None else nxt

    def _stamp(self, sdp: SessionDescription) -> SessionDescription:
        """Give ``sdp`` our version: unchanged if it equals the last SDP we sent, else +1."""
        norm = _normalized(sdp)
        if self._last_sent is not None and norm != self._last_sent:
            self._version += 1
        self._last_sent = norm
        out = dataclasses.replace(sdp, origin=dataclasses.replace(
            sdp.origin, sess_version=self._version))
        self.local_sdp = out
        return out

    def create_offer(self, *, direction: Direction | None = None) -> SessionDescription:
        """Our (re-)offer; ``direction`` changes what we want (sendonly to hold the peer)."""
        self._step(OfferAnswerInput.SEND_OFFER)
        self._prev_direction = self._direction
        if direction is not None:
            self._direction = direction
        codecs = self._codecs
        if self.negotiated is not None:  # a re-offer keeps the codec in use first
            used = self.negotiated.codec
            codecs = tuple(sorted(codecs, key=lambda c: not (
                c.name.lower() == used.name.lower() and c.clock_rate == used.clock_rate)))
        return self._stamp(build_offer(
            self._ip, self._port, codecs, direction=self._direction, ptime=self._ptime,
            session_id=self.session_id, version=self._version, username=self._username))

    def receive_answer(self, sdp: SessionDescription) -> Negotiated | NotAcceptable:
        """The peer's answer to our offer.  NotAcceptable rolls our offer back (end the call
        if it was the first, else keep the media as it was)."""
        self._check(OfferAnswerInput.RECEIVE_ANSWER)
        assert self.local_sdp is not None
        self.remote_sdp = sdp
        result = accept_answer(self.local_sdp, sdp)
        if isinstance(result, NotAcceptable):
            self.rollback()
        else:
            self._step(OfferAnswerInput.RECEIVE_ANSWER)
            self.negotiated = result
        return result

    def receive_offer(self, sdp: SessionDescription) -> Negotiated | NotAcceptable:
        """The peer's (re-)offer: our answer is ``result.answer``, sent by the SIP layer,
        which then calls ``answer_sent``.  NotAcceptable (answer 488) leaves the state and the
        current negotiation as they were."""
        self._check(OfferAnswerInput.RECEIVE_OFFER)
        result = answer(sdp, local_ip=self._ip, port=self._port, supported=self._codecs,
                        prefer=self._prefer, hold_policy=self._hold_policy,
                        direction=self._direction, ptime=self._ptime, rtcp_mux=self._rtcp_mux,
                        session_id=self.session_id, version=self._version,
                        username=self._username)
        if isinstance(result, NotAcceptable):
            return result
        self._step(OfferAnswerInput.RECEIVE_OFFER)
        self._unsent = (self._version, self._last_sent, self.local_sdp, self.remote_sdp)
        self.remote_sdp = sdp
        result = dataclasses.replace(result, answer=self._stamp(result.answer))
        self._pending = result
        return result

    def answer_sent(self) -> Negotiated:
        """Our answer went out: the negotiation from ``receive_offer`` becomes current."""
        self._step(OfferAnswerInput.SEND_ANSWER)
        assert self._pending is not None
        self.negotiated, self._pending, self._unsent = self._pending, None, None
        return self.negotiated

    def rollback(self) -> None:
        """The pending offer failed: back to Idle or Stable.  Ours was sent and keeps its
        version (our direction goes back); our answer to the peer's offer was not sent, so
        its version is taken back."""
        ours = self._state is OfferAnswerState.OFFER_SENT
        self._step(OfferAnswerInput.ROLLBACK)
        if ours:
            self._direction = self._prev_direction
        if self._unsent is not None:
            self._version, self._last_sent, self.local_sdp, self.remote_sdp = self._unsent
        self._pending = self._unsent = None
