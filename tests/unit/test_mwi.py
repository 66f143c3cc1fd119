"""Message-waiting: the message-summary body (RFC 3842) and the notifier's subscriptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccswitch.errors import SipParseError
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
