"""The transfer headers and the refer subscription (sip.refer), proved with hypothesis.

- Round trips: ``Replaces.parse(str(r)) == r``, ``ReferTo.parse(str(t)) == t`` (embedded
  Replaces and URI headers of any text included), ``unescape(escape(s)) == s``.
- In a REFER on the wire, Refer-To, Referred-By and Replaces survive ``parse_message`` and
  ``to_bytes`` byte for byte, and read back as what was written.
- For any text, each parser returns or raises ``SipParseError`` with a 4xx answer, nothing else.
- In random sequences of steps the subscription moves only along table edges, raises only
  ``ReferSubscriptionError`` on a missing entry (changing nothing), sends no NOTIFY once it has
  sent a terminating one, and reports a non-negative ``expires`` only while active.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.errors import SipParseError
from ccswitch.sip.grammar import TOKEN_CHARS
from ccswitch.sip.message import Request, parse_message
from ccswitch.sip.refer import (
    REFER_TABLE,
    Event,
    Notify,
    ReferAction,
    ReferInput,
    ReferredBy,
    ReferSubscription,
    ReferSubscriptionError,
    ReferTo,
    Replaces,
    SubState,
    escape_uri_header,
    parse_refer_sub,
    parse_sipfrag,
    refer_to_of,
    referred_by_of,
    replaces_of,
    unescape_uri_header,
)
from ccswitch.sip.uri import NameAddr, SipUri

SETTINGS = settings(max_examples=150, deadline=None)
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
tokens = st.text(alphabet="".join(sorted(TOKEN_CHARS)), min_size=1, max_size=12)
words = st.text(alphabet=ALNUM + "-.!%*_+`'~()<>:\\\"/[]?{}", min_size=1, max_size=12)
call_ids = st.builds(lambda a, b: a if b is None else f"{a}@{b}", words, st.none() | words)
# any text a URI header may carry once escaped: no lone surrogates (they have no UTF-8)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
RESERVED = frozenset({"to-tag", "from-tag", "early-only"})


@st.composite
def replaces(draw: st.DrawFn) -> Replaces:
    names = draw(st.lists(tokens.map(str.lower).filter(lambda n: n not in RESERVED),
                          unique=True, max_size=3))
    params = {n: draw(st.none() | tokens) for n in names}
    return Replaces(draw(call_ids), draw(tokens), draw(tokens), draw(st.booleans()), params)


hosts = st.builds(lambda a, b: f"{a}.{b}", st.text(LOWER, min_size=1, max_size=8),
                  st.sampled_from(["example.com", "ccswitch.local", "test"]))
uri_params = st.dictionaries(st.text(LOWER, min_size=1, max_size=6),
                             st.none() | st.text(ALNUM, min_size=1, max_size=6), max_size=2)
targets = st.builds(
    lambda user, host, port, params: SipUri(host=host, user=user, port=port, params=params),
    st.none() | st.text(ALNUM + "-_.", min_size=1, max_size=10), hosts,
    st.none() | st.integers(1, 65535), uri_params)
header_names = tokens.filter(lambda n: n.lower() != "replaces")
displays = st.none() | st.text(ALNUM + " ", min_size=1, max_size=12).map(str.strip).filter(bool)


@st.composite
def refer_tos(draw: st.DrawFn) -> ReferTo:
    return ReferTo(draw(targets), draw(displays), draw(uri_params),
                   tuple(draw(st.lists(st.tuples(header_names, texts), max_size=3))),
                   draw(st.none() | replaces()))


@SETTINGS
@given(replaces())
def test_replaces_round_trip(r: Replaces) -> None:
    assert Replaces.parse(str(r)) == r


@SETTINGS
@given(refer_tos())
def test_refer_to_round_trip(rt: ReferTo) -> None:
    text = str(rt)
    assert ReferTo.parse(text) == rt
    assert rt.target.headers == ""


@SETTINGS
@given(texts)
def test_escape_round_trip(s: str) -> None:
    escaped = escape_uri_header(s)
    assert unescape_uri_header(escaped) == s
    assert not set(escaped) & set(";=&@ <>\"\r\n,")


@SETTINGS
@given(refer_tos(), st.none() | st.builds(NameAddr, targets, displays), st.none() | replaces())
def test_refer_headers_survive_the_wire(rt: ReferTo, by: NameAddr | None,
                                        rep: Replaces | None) -> None:
    lines = ["INVITE sip:b@example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
             "To: <sip:b@example.com>;tag=2", "From: <sip:a@example.com>;tag=1",
             "Call-ID: c1@example.com", "CSeq: 7 INVITE", "Max-Forwards: 70",
             f"Refer-To: {rt}"]
    if by is not None:
        lines.append(f"Referred-By: {by}")
    if rep is not None:
        lines.append(f"Replaces: {rep}")
    raw = ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()
    msg = parse_message(raw)
    assert isinstance(msg, Request)
    assert msg.to_bytes() == raw
    assert refer_to_of(msg) == rt
    got_by = referred_by_of(msg)
    assert (got_by.address if got_by else None) == (by if by is None else NameAddr.parse(str(by)))
    assert replaces_of(msg) == rep


PARSERS: list[Callable[[str], object]] = [
    ReferTo.parse, Replaces.parse, ReferredBy.parse, parse_refer_sub, Event.parse,
    unescape_uri_header, lambda s: parse_sipfrag(s.encode("utf-8", "surrogatepass"))]


def _fragments() -> st.SearchStrategy[str]:
    parts = st.sampled_from(["<", ">", "sip:", "sips:", "tel:", "@", ";", "?", "&", "=", "%",
                             "%3B", "%3D", "%40", "%C3", "to-tag", "from-tag", "early-only",
                             "Replaces", '"', ",", " ", "*", "a", "1", "SIP/2.0 ", "200"])
    return st.lists(parts, max_size=14).map("".join)


@SETTINGS
@given(st.one_of(st.text(max_size=60), _fragments()), st.sampled_from(range(len(PARSERS))))
def test_parsers_answer_or_return(text: str, which: int) -> None:
    try:
        PARSERS[which](text)
    except SipParseError as e:
        assert e.status in (400, 416) and e.reason


STEPS = st.lists(st.tuples(
    st.sampled_from(["accept", "no_sub", "progress", "final", "timer", "subscribe"]),
    st.integers(100, 699), st.floats(0, 40, allow_nan=False), st.sampled_from([0, 10, 60])),
    max_size=12)
INPUT_OF = {"accept": ReferInput.ACCEPT, "no_sub": ReferInput.NO_SUBSCRIPTION,
            "progress": ReferInput.PROGRESS, "final": ReferInput.FINAL,
            "timer": ReferInput.TIMEOUT}


def step(sub: ReferSubscription, op: str, status: int, expires: int, now: float) -> Notify | None:
    if op == "accept":
        return sub.accept(now)
    if op == "no_sub":
        return sub.no_subscription(now)
    if op == "progress":
        return sub.progress(status, now)
    if op == "final":
        return sub.final(status, now)
    if op == "timer":
        return sub.handle_timer(now)
    return sub.subscribe(expires, now)


@SETTINGS
@given(STEPS, st.sampled_from([1, 30, 60]))
def test_subscription_moves_along_the_table(steps: list[tuple[str, int, float, int]],
                                            expires: int) -> None:
    sub = ReferSubscription(event_id=3, expires=expires, now=0.0)
    now = 0.0
    ended = False
    for op, code, dt, sub_expires in steps:
        now += dt
        before = sub.state
        deadline = sub.next_deadline()
        assert (deadline is not None) == (before is SubState.ACTIVE)
        status = 100 + code % 100 if op == "progress" else max(code, 200)
        if op == "timer" and (deadline is None or now < deadline):
            assert step(sub, op, status, sub_expires, now) is None and sub.state is before
            continue
        inp = INPUT_OF.get(op) or (ReferInput.REFRESH if sub_expires else ReferInput.UNSUBSCRIBE)
        edge = REFER_TABLE.get((before, inp))
        if edge is None:
            last = sub.status
            with contextlib.suppress(ReferSubscriptionError):
                step(sub, op, status, sub_expires, now)
                raise AssertionError(f"{op} in {before} should have raised")
            assert sub.state is before and sub.status == last
            continue
        notify = step(sub, op, status, sub_expires, now)
        assert sub.state is edge.next
        assert (notify is None) == (edge.do is ReferAction.NOTHING)
        if notify is None:
            continue
        assert not ended, "a NOTIFY after the terminating one"
        assert notify.event == "refer;id=3"
        if notify.state is SubState.ACTIVE:
            assert notify.expires is not None and notify.expires >= 0 and notify.why is None
        else:
            ended = True
            assert notify.state is SubState.TERMINATED and notify.expires is None
        code_sent, _ = parse_sipfrag(notify.body)
        assert code_sent == sub.status
        if op in ("progress", "final"):
            assert code_sent == status
