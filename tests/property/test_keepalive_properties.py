"""The OPTIONS keep-alive under random answers, losses and timeouts: its state follows a model
of the last answers, up and down events alternate, one probe at a time."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ids import Ids
from ccswitch.sip.dialog import LocalContact
from ccswitch.sip.keepalive import Keepalive, KeepaliveState, TrunkDown, TrunkUp
from ccswitch.sip.message import make_response

OUTCOMES = st.sampled_from(("200", "404", "503", "408", "lost", "txn-timeout"))


@settings(max_examples=300, deadline=None)
@given(st.lists(OUTCOMES, max_size=40), st.integers(1, 4))
def test_state_follows_the_answers(outcomes: list[str], down_after: int) -> None:
    k = Keepalive(trunk="c", uri="sip:192.0.2.1", from_uri="sip:s@192.0.2.2",
                  me=LocalContact("udp", "192.0.2.2", 5060), ids=Ids(random.Random(4)),
                  now=0.0, interval=30.0, timeout=5.0, down_after=down_after)
    now = 0.0
    model = KeepaliveState.UNKNOWN
    misses = 0
    last_event: type | None = None
    for outcome in outcomes:
        now = k.next_deadline() or now
        k.handle_timer(now)
        (req,) = k.outbox()
        assert k.outbox() == []
        if outcome in ("200", "404", "503"):
            k.receive(make_response(req, int(outcome), "X"), now + 1)
            misses = 0
            model = KeepaliveState.UP
        else:
            if outcome == "408":
                k.receive(make_response(req, 408, "Request Timeout"), now + 1)
            elif outcome == "txn-timeout":
                k.timed_out(now + 2)
            else:
                k.handle_timer(now + 5)  # nothing came back within the timeout
            misses += 1
            if misses >= down_after:
                model = KeepaliveState.DOWN
        assert k.state is model
        assert k.up is (model is not KeepaliveState.DOWN)
        for ev in k.events():
            assert type(ev) is not last_event, "up and down alternate"
            last_event = type(ev)
            assert isinstance(ev, TrunkUp | TrunkDown)
        assert k.next_deadline() is not None
