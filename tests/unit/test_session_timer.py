"""Session timer rules (RFC 4028, ``sip/session_timer.py``), table-driven, and the per-trunk
configuration keys."""

from __future__ import annotations

import pytest

from ccswitch.config.trunks import parse_trunking
from ccswitch.errors import ConfigError
from ccswitch.sip.message import Headers
from ccswitch.sip.session_timer import (
    BadHeader,
    LegSession,
    LegTimer,
    Negotiated,
    SessionExpires,
    TimerPolicy,
    TooSmall,
    answer_2xx,
    answer_request,
    is_refresh,
    offer_headers,
    parse_session_expires,
    retry_after_422,
    sdp_origin,
)

DEFAULT = TimerPolicy()  # supported, 1800 s asked, 90 s minimum
SUP = ("Supported", "timer")
REQ_TIMER = ("Require", "timer")


def h(*items: tuple[str, str]) -> Headers:
    return Headers(items)


@pytest.mark.parametrize(("policy", "headers", "expected"), [
    # a peer that knows nothing of timers and sent none: no timer on the leg
    (DEFAULT, (), None),
    # it supports them but asked nothing: our 1800 s, it refreshes (we pick uac)
    (DEFAULT, (SUP,), Negotiated(1800, False, (("Session-Expires", "1800;refresher=uac"),
                                                REQ_TIMER))),
    # it asks 90 s (= our minimum) and refreshes itself
    (DEFAULT, (SUP, ("Session-Expires", "90;refresher=uac")),
     Negotiated(90, False, (("Session-Expires", "90;refresher=uac"), REQ_TIMER))),
    # it names us the refresher
    (DEFAULT, (SUP, ("Session-Expires", "600;refresher=UAS")),
     Negotiated(600, True, (("Session-Expires", "600;refresher=uas"), REQ_TIMER))),
    # 60 s < our 90 s minimum: 422 with Min-SE 90
    (DEFAULT, (SUP, ("Session-Expires", "60")), TooSmall(90)),
    # below a configured minimum of 300: 422 with 300
    (TimerPolicy(min_se=300, expires=1800), (SUP, ("Session-Expires", "200")), TooSmall(300)),
    # Session-Expires without Supported (a proxy put it in): we refresh, no Require
    (DEFAULT, (("Session-Expires", "300"),),
     Negotiated(300, True, (("Session-Expires", "300;refresher=uas"),))),
    # compact form x, Require: timer counts as support
    (DEFAULT, (REQ_TIMER, ("x", "120;refresher=uac")),
     Negotiated(120, False, (("Session-Expires", "120;refresher=uac"), REQ_TIMER))),
    # its Min-SE 3600 > our 1800: we ask max(1800, 3600) = 3600
    (DEFAULT, (SUP, ("Min-SE", "3600")),
     Negotiated(3600, False, (("Session-Expires", "3600;refresher=uac"), REQ_TIMER))),
    # required: a peer without support still gets a timer, we refresh at our 1800 s
    (TimerPolicy("required"), (),
     Negotiated(1800, True, (("Session-Expires", "1800;refresher=uas"),))),
    # off: headers ignored, even a short interval
    (TimerPolicy("off"), (SUP, ("Session-Expires", "60")), None),
])
def test_answer_request(policy: TimerPolicy, headers: tuple[tuple[str, str], ...],
                        expected: Negotiated | TooSmall | None) -> None:
    assert answer_request(policy, h(*headers)) == expected


@pytest.mark.parametrize("value", ["abc", "", "0", "90;refresher=proxy", "-5", "1e3"])
def test_unreadable_session_expires(value: str) -> None:
    with pytest.raises(BadHeader):
        answer_request(DEFAULT, h(SUP, ("Session-Expires", value)))


def test_too_small_carries_min_se() -> None:
    assert TooSmall(90).headers == (("Min-SE", "90"),)
    assert (TooSmall(90).status, TooSmall(90).reason) == (422, "Session Interval Too Small")


def test_session_expires_parse_and_print() -> None:
    assert parse_session_expires(" 1800 ; refresher = uac ;foo=1") == SessionExpires(1800,
                                                                                    "uac")
    assert parse_session_expires("90") == SessionExpires(90, None)
    assert SessionExpires(90, "uas").header() == "90;refresher=uas"


@pytest.mark.parametrize(("policy", "args", "expected"), [
    (DEFAULT, {}, (("Session-Expires", "1800"), ("Min-SE", "90"))),
    (TimerPolicy("required", 600, 120), {},
     (("Session-Expires", "600"), ("Min-SE", "120"), ("Require", "timer"))),
    # a refresh of a 90 s session that we refresh
    (DEFAULT, {"interval": 90, "refresher": "uac"},
     (("Session-Expires", "90;refresher=uac"), ("Min-SE", "90"))),
    # the retry after a 422 with Min-SE 3600 asks 3600 and says 3600
    (DEFAULT, {"interval": 3600, "min_se": 3600},
     (("Session-Expires", "3600"), ("Min-SE", "3600"))),
    (TimerPolicy("off"), {}, ()),
])
def test_offer_headers(policy: TimerPolicy, args: dict[str, object],
                       expected: tuple[tuple[str, str], ...]) -> None:
    assert offer_headers(policy, **args) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("headers", "expected"), [
    ((("Session-Expires", "90;refresher=uas"),), Negotiated(90, False)),  # the UAS refreshes
    ((("Session-Expires", "90;refresher=uac"),), Negotiated(90, True)),
    ((("Session-Expires", "1800"),), Negotiated(1800, True)),  # no refresher: the UAC's
    ((), None),  # §7.2: no Session-Expires in the 2xx, no expiration
])
def test_answer_2xx(headers: tuple[tuple[str, str], ...], expected: Negotiated | None) -> None:
    assert answer_2xx(DEFAULT, h(*headers)) == expected
    assert answer_2xx(TimerPolicy("off"), h(*headers)) is None


@pytest.mark.parametrize(("asked", "headers", "expected"), [
    (1800, (("Min-SE", "3600"),), 3600),
    (1800, (("Min-SE", "1800"),), None),  # not larger: retrying cannot help
    (1800, (), None),
    (1800, (("Min-SE", "many"),), None),
])
def test_retry_after_422(asked: int, headers: tuple[tuple[str, str], ...],
                         expected: int | None) -> None:
    assert retry_after_422(DEFAULT, asked, h(*headers)) == expected


@pytest.mark.parametrize(("interval", "we_refresh", "since", "deadline"), [
    (1800, True, 10.0, 910.0),  # 10 + 1800/2
    (1800, False, 10.0, 1778.0),  # 10 + 1800 - min(32, 600)
    (90, True, 0.0, 45.0),  # 90/2
    (90, False, 0.0, 60.0),  # 90 - min(32, 30)
    (120, False, 5.0, 93.0),  # 5 + 120 - min(32, 40) = 5 + 88
])
def test_leg_timer_deadlines(interval: int, we_refresh: bool, since: float,
                             deadline: float) -> None:
    assert LegTimer(interval, we_refresh, since).deadline == deadline


SDP_V1 = b"v=0\r\no=- 42 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
SDP_V2 = SDP_V1.replace(b"o=- 42 1 ", b"o=- 42 2 ")
SDP_OTHER = SDP_V1.replace(b"o=- 42 1 ", b"o=- 43 1 ")
V1 = b"o=- 42 1 IN IP4 192.0.2.1"


@pytest.mark.parametrize(("method", "body", "peer", "expected"), [
    ("UPDATE", b"", None, True),  # an UPDATE without a body changes nothing
    ("UPDATE", b"", V1, True),
    ("INVITE", b"", V1, False),  # a re-INVITE without a body asks us to offer
    ("INVITE", SDP_V1, V1, True),  # the same o= line: the same session
    ("UPDATE", SDP_V1, V1, True),
    ("INVITE", SDP_V2, V1, False),  # a new version: a change
    ("INVITE", SDP_OTHER, V1, False),  # another session id
    ("INVITE", SDP_V1, None, False),  # nothing heard from the peer yet
    ("INVITE", b"v=0\r\ns=-\r\n", V1, False),  # no o= line
])
def test_is_refresh(method: str, body: bytes, peer: bytes | None, expected: bool) -> None:
    assert is_refresh(method, body, peer) is expected


def test_sdp_origin_and_what_the_peer_sent_last() -> None:
    assert sdp_origin(SDP_V1) == V1
    assert sdp_origin(b"") is None
    s = LegSession(DEFAULT)
    s.heard(SDP_V1)
    s.heard(b"")  # no SDP: what it sent last stays
    assert s.peer_origin == V1
    s.heard(SDP_V2)
    assert s.peer_origin == sdp_origin(SDP_V2)


def test_a_refresh_restarts_the_timer_and_may_change_it() -> None:
    s = LegSession(DEFAULT)
    s.negotiated(Negotiated(90, False), 0.0)
    assert s.timer is not None and s.timer.deadline == 60.0
    s.negotiated(Negotiated(120, True), 40.0)
    assert s.timer.deadline == 100.0  # 40 + 120/2
    s.negotiated(None, 50.0)
    assert s.timer is None


@pytest.mark.parametrize(("mode", "expires", "min_se"), [
    ("off", 1800, 90), ("supported", 90, 90), ("required", 3600, 120)])
def test_policy_bounds_accept(mode: str, expires: int, min_se: int) -> None:
    TimerPolicy(mode, expires, min_se)  # type: ignore[arg-type]


@pytest.mark.parametrize(("expires", "min_se"), [(1800, 89), (100, 120)])
def test_policy_bounds_refuse(expires: int, min_se: int) -> None:
    with pytest.raises(ValueError):
        TimerPolicy("supported", expires, min_se)


# -- configuration -------------------------------------------------------------------------
BASE = '[[users]]\nrange = "1001-1003"\npassword = "pw{user}"\n'
TRUNK = '[trunks.c]\naddress = "udp:192.0.2.7:5060"\n'


def test_trunk_session_timer_keys() -> None:
    _, t = parse_trunking(BASE + TRUNK + 'session_timers = "required"\nsession_expires = 600\n'
                          'min_se = 120\n', "t.toml")
    assert t.trunks["c"].session_timer == TimerPolicy("required", 600, 120)
    _, d = parse_trunking(BASE + TRUNK, "t.toml")
    assert d.trunks["c"].session_timer == TimerPolicy("supported", 1800, 90)
    _, big = parse_trunking(BASE + TRUNK + "min_se = 3600\n", "t.toml")
    assert big.trunks["c"].session_timer == TimerPolicy("supported", 3600, 3600)


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('session_timers = "sometimes"\n', "trunks.c.session_timers", "off, supported, required"),
    ("min_se = 60\n", "trunks.c.min_se", "90"),
    ("session_expires = 100\nmin_se = 120\n", "trunks.c.session_expires", "min_se (120)"),
    ('session_expires = "long"\n', "trunks.c.session_expires", "integer"),
])
def test_trunk_session_timer_faults(extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_trunking(BASE + TRUNK + extra, "t.toml")
    err = info.value
    assert (err.file, err.key) == ("t.toml", key)
    assert words in err.fault, err.fault
    assert err.line is not None
