"""Message-waiting: the message-summary body (RFC 3842) and the notifier's subscriptions."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccswitch.errors import SipParseError
from ccswitch.sip.message import Request, parse_message
from ccswitch.sip.mwi import (
    CONTENT_TYPE,
    MESSAGE_CLASSES,
    MWI_TABLE,
    Counts,
    MessageSummary,
    MwiAction,
    MwiInput,
    MwiNotifier,
    MwiState,
    Subscribe,
    SubscriptionEnded,
    subscribe_of,
)
from ccswitch.sip.refer import SubState

RFC_EXAMPLE = (b"Messages-Waiting: yes\r\n"
               b"Message-Account: sip:alice@vmail.example.com\r\n"
               b"Voice-Message: 2/8 (0/2)\r\n")


def test_the_rfc_3842_example_parses_and_builds_back_byte_for_byte() -> None:
    s = MessageSummary.parse(RFC_EXAMPLE)
    assert s.waiting and s.account == "sip:alice@vmail.example.com"
    assert s.voice_counts == Counts(2, 8, 0, 2)
    assert s.build() == RFC_EXAMPLE


def test_a_voice_summary_without_urgent_messages_omits_the_parentheses() -> None:
    s = MessageSummary.voice(0, 3, account="sip:1002@ccswitch.local")
    assert s.build() == (b"Messages-Waiting: no\r\nMessage-Account: sip:1002@ccswitch.local\r\n"
                         b"Voice-Message: 0/3\r\n")
    assert MessageSummary.voice(1, 0).waiting


def test_names_are_case_insensitive_and_optional_message_headers_are_skipped() -> None:
    body = (b"messages-waiting: YES\nvoice-message: 1/0\nFax-Message: 0/1 (0/0)\n\n"
            b"To: <sip:alice@example.com>\nSubject: anything goes here\n")
    s = MessageSummary.parse(body)
    assert s.waiting and s.counts["voice-message"] == Counts(1, 0)
    assert s.counts["fax-message"] == Counts(0, 1)


@pytest.mark.parametrize("body", [
    b"", b"\r\n", b"Voice-Message: 1/0\r\n", b"Messages-Waiting: maybe\r\n",
    b"Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
    b"Messages-Waiting: yes\r\nVoice-Message: a/b\r\n",
    b"Messages-Waiting: yes\r\nVoice-Message: 1/0\r\nVoice-Message: 1/0\r\n",
    b"Messages-Waiting: yes\r\nColour-Message: 1/0\r\n",
    b"Messages-Waiting: yes\r\nno colon here\r\n",
    b"Messages-Waiting: yes\r\nVoice-Message: 99999999999/0\r\n",
    b"\xff\xfe",
])
def test_bad_bodies_are_a_400(body: bytes) -> None:
    with pytest.raises(SipParseError) as exc:
        MessageSummary.parse(body)
    assert exc.value.status == 400


_count = st.integers(0, 2**31 - 1)
_counts = st.builds(Counts, _count, _count, _count, _count)
summaries = st.builds(
    MessageSummary, st.booleans(),
    st.none() | st.from_regex(r"sips?:[a-z0-9]{1,8}@[a-z.]{1,12}", fullmatch=True),
    st.dictionaries(st.sampled_from(MESSAGE_CLASSES), _counts, max_size=4))


@given(summaries)
def test_build_then_parse_gives_the_summary_back(s: MessageSummary) -> None:
    got = MessageSummary.parse(s.build())
    assert (got.waiting, got.account, dict(got.counts)) == (s.waiting, s.account, dict(s.counts))
    assert got.build() == s.build()


@given(st.binary(max_size=200))
def test_any_bytes_give_a_summary_or_a_400(data: bytes) -> None:
    try:
        MessageSummary.parse(data)
    except SipParseError as e:
        assert e.status == 400


# -- the notifier ---------------------------------------------------------------------------


def notifier() -> MwiNotifier:
    return MwiNotifier(account={"1002": "sip:1002@ccswitch.local"})


def test_a_subscribe_gets_200_and_an_immediate_notify_with_the_current_state() -> None:
    n = notifier()
    n.update("1002", MessageSummary.voice(1, 2), now=0.0)
    ans = n.receive(Subscribe("d1", "1002", 600), now=10.0)
    assert (ans.status, ans.expires, ans.headers()) == (200, 600, [("Expires", "600")])
    (note,) = n.outbox()
    assert (note.sub_id, note.state, note.expires) == ("d1", SubState.ACTIVE, 600)
    assert note.headers() == [("Event", "message-summary"),
                              ("Subscription-State", "active;expires=600"),
                              ("Content-Type", CONTENT_TYPE)]
    assert note.body == (b"Messages-Waiting: yes\r\nMessage-Account: sip:1002@ccswitch.local\r\n"
                         b"Voice-Message: 1/2\r\n")
    assert n.next_deadline() == 610.0


def test_expires_is_defaulted_capped_and_too_brief_is_423() -> None:
    n = notifier()
    assert n.receive(Subscribe("a", "1002"), now=0.0).expires == 3600
    assert n.receive(Subscribe("b", "1002", 86400), now=0.0).expires == 3600
    ans = n.receive(Subscribe("c", "1002", 10), now=0.0)
    assert (ans.status, ans.headers()) == (423, [("Min-Expires", "60")])
    assert sorted(x.sub_id for x in n.outbox()) == ["a", "b"]
    assert sorted(n.watchers("1002")) == ["a", "b"]


def test_every_mailbox_change_notifies_each_watcher_once_and_no_change_notifies_nobody() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.receive(Subscribe("d2", "1002", 600), now=0.0)
    n.receive(Subscribe("d3", "1003", 600), now=0.0)
    n.outbox()
    n.update("1002", MessageSummary.voice(1, 0), now=100.0)
    got = n.outbox()
    assert sorted(x.sub_id for x in got) == ["d1", "d2"]
    assert all(x.subscription_state == "active;expires=500" for x in got)
    assert all(x.summary.voice_counts == Counts(1, 0) for x in got)
    n.update("1002", MessageSummary.voice(1, 0), now=101.0)
    assert n.outbox() == []


def test_a_refresh_notifies_and_moves_the_expiry() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.outbox()
    ans = n.receive(Subscribe("d1", "1002", 300, initial=False), now=500.0)
    assert ans.status == 200
    (note,) = n.outbox()
    assert note.expires == 300
    n.handle_timer(600.0)  # the old expiry passes: nothing
    assert n.outbox() == [] and n.next_deadline() == 800.0


def test_expires_zero_ends_with_a_terminated_notify() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.outbox()
    assert n.receive(Subscribe("d1", "1002", 0, initial=False), now=5.0).status == 200
    (note,) = n.outbox()
    assert (note.subscription_state, note.state) == ("terminated", SubState.TERMINATED)
    assert n.events() == [SubscriptionEnded("d1", "1002", "unsubscribed")]
    assert n.next_deadline() is None
    assert n.receive(Subscribe("d1", "1002", 600, initial=False), now=6.0).status == 481


def test_an_initial_subscribe_with_expires_zero_is_a_fetch() -> None:
    n = notifier()
    n.update("1002", MessageSummary.voice(3, 0), now=0.0)
    assert n.receive(Subscribe("f", "1002", 0), now=1.0).status == 200
    (note,) = n.outbox()
    assert note.state is SubState.TERMINATED and note.summary.voice_counts.new == 3
    assert n.watchers("1002") == []
    assert n.events() == [SubscriptionEnded("f", "1002", "fetch")]


def test_expiry_sends_terminated_timeout_at_the_deadline_and_not_before() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 120), now=0.0)
    n.outbox()
    n.handle_timer(119.9)
    assert n.outbox() == []
    n.handle_timer(120.0)
    (note,) = n.outbox()
    assert note.subscription_state == "terminated;reason=timeout"
    assert n.events() == [SubscriptionEnded("d1", "1002", "timeout")]
    n.update("1002", MessageSummary.voice(1, 0), now=200.0)
    assert n.outbox() == []


def test_a_failed_notify_ends_the_subscription_silently() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.outbox()
    n.notify_failed("d1", now=1.0)
    n.notify_failed("d1", now=2.0)  # a late one for the same subscription: ignored
    assert n.outbox() == [] and n.watchers("1002") == []
    assert n.events() == [SubscriptionEnded("d1", "1002", "failed")]


def test_close_ends_subscriptions_with_noresource() -> None:
    n = notifier()
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.receive(Subscribe("d2", "1003", 600), now=0.0)
    n.outbox()
    n.close("1002", now=1.0)
    assert [x.subscription_state for x in n.outbox()] == ["terminated;reason=noresource"]
    n.close(None, now=2.0)
    assert [x.sub_id for x in n.outbox()] == ["d2"]


def test_unsolicited_targets_get_an_out_of_dialog_notify_on_every_change() -> None:
    n = notifier()
    n.add_unsolicited("phone-1002", "1002", now=0.0)
    (first,) = n.outbox()
    assert first.unsolicited and first.subscription_state == "active"
    assert not first.summary.waiting
    n.update("1002", MessageSummary.voice(2, 0), now=1.0)
    (note,) = n.outbox()
    assert note.sub_id == "phone-1002" and note.summary.voice_counts.new == 2
    n.remove_unsolicited("phone-1002")
    n.update("1002", MessageSummary.voice(0, 2), now=2.0)
    assert n.outbox() == []


def test_a_refresh_of_an_unknown_subscription_is_481_and_a_repeated_initial_refreshes() -> None:
    n = notifier()
    assert n.receive(Subscribe("x", "1002", 600, initial=False), now=0.0).status == 481
    n.receive(Subscribe("d1", "1002", 600), now=0.0)
    n.receive(Subscribe("d1", "1002", 600), now=1.0)
    assert [x.expires for x in n.outbox()] == [600, 600]
    assert n.watchers("1002") == ["d1"]


def test_every_table_entry_is_reachable_from_a_known_state() -> None:
    for (state, inp), edge in MWI_TABLE.items():
        assert isinstance(state, MwiState) and isinstance(inp, MwiInput)
        assert isinstance(edge.do, MwiAction)
        if state is MwiState.TERMINATED:
            assert edge.do is MwiAction.NOTHING


# -- a model of the subscriptions, against random operations --------------------------------

_op = st.one_of(
    st.tuples(st.just("sub"), st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(["a", "b"]),
              st.sampled_from([None, 0, 30, 60, 600, 7200]), st.booleans()),
    st.tuples(st.just("update"), st.sampled_from(["a", "b"]), st.integers(0, 3)),
    st.tuples(st.just("timer")),
    st.tuples(st.just("wait"), st.integers(1, 700)),
    st.tuples(st.just("fail"), st.sampled_from(["s1", "s2", "s3"])),
    st.tuples(st.just("close"), st.sampled_from(["a", "b"])),
)


@given(st.lists(_op, max_size=40))
def test_watchers_deadlines_and_notifies_follow_a_model(ops: list[tuple[Any, ...]]) -> None:
    n = MwiNotifier()
    active: dict[str, tuple[str, float]] = {}  # sid -> (box, expires at)
    state: dict[str, int] = {"a": 0, "b": 0}
    now = 0.0
    for op in ops:
        before = dict(active)
        fetched: set[str] = set()
        told: set[str] = set()  # who must get a NOTIFY now
        if op[0] == "sub":
            _, sid, box, expires, initial = op
            ans = n.receive(Subscribe(sid, box, expires, initial), now)
            known = before.get(sid)
            if not initial and (known is None or known[0] != box):
                assert ans.status == 481
            elif expires is not None and 0 < expires < 60:
                assert ans.status == 423
            else:
                granted = min(3600 if expires is None else expires, 3600)
                assert (ans.status, ans.expires) == (200, granted)
                told.add(sid)  # the NOTIFY of the SUBSCRIBE (active or terminated)
                if granted:  # a repeated initial SUBSCRIBE refreshes what exists
                    active[sid] = (box if known is None else known[0], now + granted)
                else:
                    active.pop(sid, None)
                    if known is None:
                        fetched.add(sid)
        elif op[0] == "update":
            if state[op[1]] != op[2]:
                told |= {sid for sid, v in active.items() if v[0] == op[1]}
            state[op[1]] = op[2]
            n.update(op[1], MessageSummary.voice(op[2], 0), now)
        elif op[0] in ("timer", "wait"):
            now = max(now, n.next_deadline() or now) if op[0] == "timer" else now + op[1]
            n.handle_timer(now)
            active = {s: v for s, v in active.items() if v[1] > now}
        elif op[0] == "fail":
            n.notify_failed(op[1], now)
            active.pop(op[1], None)
        else:
            n.close(op[1], now)
            active = {s: v for s, v in active.items() if v[0] != op[1]}
        for box in ("a", "b"):
            assert sorted(n.watchers(box)) == sorted(s for s, v in active.items() if v[0] == box)
        deadlines = [v[1] for v in active.values()]
        assert n.next_deadline() == (min(deadlines) if deadlines else None)
        ended = {e.sub_id for e in n.events()}
        notes = n.outbox()
        if op[0] in ("timer", "wait", "close"):
            told = set(before) - set(active)  # terminated NOTIFYs
        assert sorted(x.sub_id for x in notes) == sorted(told)
        for note in notes:
            assert note.summary.voice_counts.new == state[note.mailbox]
            if note.state is SubState.ACTIVE:
                assert note.sub_id in active
                assert note.expires == math.ceil(active[note.sub_id][1] - now)
            else:
                assert note.sub_id not in active and note.sub_id in ended
        assert ended == (set(before) - set(active)) | fetched


# -- reading a SUBSCRIBE ----------------------------------------------------------------------


def subscribe_request(*extra: str, to_tag: str = "") -> Request:
    lines = [
        "SUBSCRIBE sip:1002@ccswitch.local SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK77",
        f"To: <sip:1002@ccswitch.local>{to_tag}",
        "From: <sip:1002@ccswitch.local>;tag=abc",
        "Call-ID: mwi-1@127.0.0.1",
        "CSeq: 1 SUBSCRIBE",
        "Max-Forwards: 70",
        "Contact: <sip:1002@127.0.0.1:5062>",
        *extra,
        "Content-Length: 0",
    ]
    msg = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def test_a_message_summary_subscribe_is_read_into_a_subscribe() -> None:
    req = subscribe_request("Event: message-summary", "Expires: 600",
                            "Accept: application/simple-message-summary")
    assert subscribe_of(req, sub_id="d1", mailbox="1002") == Subscribe("d1", "1002", 600, True)
    refresh = subscribe_request("Event: Message-Summary;id=1", to_tag=";tag=xyz")
    assert subscribe_of(refresh, sub_id="d1", mailbox="1002") == Subscribe(
        "d1", "1002", None, False)


@pytest.mark.parametrize(("extra", "status"), [
    ((), 489),
    (("Event: presence",), 489),
    (("Event: message-summary", "Event: message-summary"), 489),
    (("Event: bad event",), 489),
    (("Event: message-summary", "Accept: application/pidf+xml"), 406),
    (("Event: message-summary", "Expires: soon"), 400),
])
def test_a_subscribe_for_another_package_or_body_is_refused(extra: tuple[str, ...],
                                                             status: int) -> None:
    with pytest.raises(SipParseError) as exc:
        subscribe_of(subscribe_request(*extra), sub_id="d1", mailbox="1002")
    assert exc.value.status == status
