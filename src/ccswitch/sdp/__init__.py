"""SDP: session descriptions (RFC 8866) and offer/answer negotiation (RFC 3264)."""

from .negotiator import (
    DEFAULT_CODECS,
    G722,
    OPUS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Codec,
    HoldPolicy,
    MediaChanges,
    Negotiated,
    NotAcceptable,
    OfferAnswerMisuse,
    OfferAnswerState,
    SdpSession,
    accept_answer,
    answer,
    build_offer,
    media_changes,
)
from .session import (
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

__all__ = [
    "DEFAULT_CODECS", "G722", "OPUS", "PCMA", "PCMU", "STATIC_PAYLOAD_TYPES", "TELEPHONE_EVENT",
    "Attribute", "Bandwidth", "Codec", "Connection", "Direction", "HoldPolicy", "MediaChanges",
    "MediaDescription", "Negotiated", "NotAcceptable", "OfferAnswerMisuse", "OfferAnswerState",
    "Origin", "Rtcp", "RtpMap", "SdpError", "SdpSession", "SessionDescription", "Timing",
    "accept_answer", "answer", "build_offer", "media_changes", "parse_sdp",
]
