"""FlowRunner: coroutine flows driven by a fake switch and a fake clock.

Plays, collects (timeouts from the end of the prompt, interdigit, terminator, max digits),
barge-in and type-ahead, sleep, hand-off and resumption, hangup (finally blocks run) and
failing flows; then a hypothesis property over random event sequences.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.ivr.flow import (
    Action,
    CallerHungUp,
    CancelPlay,
    Flow,
    FlowDone,
    FlowRunner,
    HandOff,
    HangupReq,
    IvrCall,
    QueueReq,
    StartPlay,
    TransferReq,
)
from ccswitch.ivr.menu import DEMO_MENUS, menu_flow


class Line:
    """A fake switch around one runner: the clock, the play in progress, every action seen."""

    def __init__(self, flow: Flow, *, caller: str = "1001", dialled: str = "700") -> None:
        self.call = IvrCall(caller, dialled)
        self.runner = FlowRunner(flow, self.call)
        self.now = 0.0
        self.playing: int | None = None
        self.log: list[Action] = []

    def _pull(self) -> list[Action]:
        acts = self.runner.actions()
        for act in acts:
            if isinstance(act, StartPlay):
                assert self.playing is None, f"{act} while play {self.playing} runs"
                self.playing = act.play_id
            elif isinstance(act, CancelPlay):
                assert act.play_id == self.playing, f"{act} but play {self.playing} runs"
                self.playing = None
        self.log += acts
        return acts

    def at(self, t: float) -> Line:
        assert t >= self.now
        self.now = t
        return self

    def start(self) -> list[Action]:
        self.runner.start(self.now)
        return self._pull()

    def digit(self, key: str) -> list[Action]:
        self.runner.on_digit(key, self.now)
        return self._pull()

    def digits(self, keys: str) -> list[Action]:
        out: list[Action] = []
        for key in keys:
            out += self.digit(key)
        return out

    def play_done(self) -> list[Action]:
        assert self.playing is not None, "nothing is playing"
        play_id, self.playing = self.playing, None
        self.runner.on_play_done(play_id, self.now)
        return self._pull()

    def deadline(self) -> float:
        when = self.runner.next_deadline()
        assert when is not None, "no timer armed"
        return when

    def fire(self) -> list[Action]:
        """Advance the clock to the next deadline and fire it."""
        self.at(self.deadline())
        self.runner.on_timer(self.now)
        return self._pull()

    def result(self, outcome: str) -> list[Action]:
        self.runner.on_result(outcome, self.now)
        return self._pull()

    def hangup(self) -> list[Action]:
        self.runner.on_hangup(self.now)
        return self._pull()


def record(call: IvrCall, key: str, value: object) -> None:
    call.vars[key] = repr(value)


# -- play and collect -------------------------------------------------------------------------


async def play_then_collect(call: IvrCall) -> None:
    record(call, "play", await call.play("hello", "world"))
    record(call, "got", await call.collect(2, 5, prompt=("menu",)))


def test_play_then_collect_with_a_prompt() -> None:
    line = Line(play_then_collect)
    assert line.start() == [StartPlay(1, ("hello", "world"))]
    assert line.runner.next_deadline() is None  # a play has no timer: the switch reports its end
    assert line.at(3).play_done() == [StartPlay(2, ("menu",))]
    assert line.call.vars["play"] == "None"
    assert line.runner.next_deadline() is None  # the collect timeout waits for the prompt's end
    assert line.at(6).play_done() == []
    assert line.deadline() == 11.0
    assert line.at(7).digit("4") == []
    assert line.deadline() == 10.0  # interdigit 3 s from the key
    assert line.digit("2") == [FlowDone()]
    assert line.call.vars["got"] == "'42'"
    assert line.runner.done and not line.runner.handed_off
    assert line.runner.next_deadline() is None


def test_collect_without_prompt_times_out_from_its_start() -> None:
    async def flow(call: IvrCall) -> None:
        await call.sleep(2)
        record(call, "got", await call.collect(1, 4))

    line = Line(flow)
    assert line.start() == []
    assert line.deadline() == 2.0
    assert line.fire() == []
    assert line.deadline() == 6.0
    assert line.fire() == [FlowDone()]
    assert line.call.vars["got"] == "''"
    assert line.now == 6.0


def test_collect_timeout_runs_from_the_end_of_the_prompt() -> None:
    line = Line(play_then_collect)
    line.start()
    line.at(1).play_done()
    line.at(30).play_done()  # a long prompt: 29 s
    assert line.deadline() == 35.0
    line.runner.on_timer(34.99)
    assert line._pull() == [] and not line.runner.done
    assert line.fire() == [FlowDone()]
    assert line.call.vars["got"] == "''"


def test_interdigit_timeout_ends_a_partial_collect() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "got", await call.collect(4, 10, interdigit=2))

    line = Line(flow)
    line.start()
    assert line.deadline() == 10.0
    line.at(1).digit("1")
    assert line.deadline() == 3.0
    line.at(2.5).digit("2")
    assert line.deadline() == 4.5
    line.runner.on_timer(4.4)
    assert line._pull() == []
    assert line.fire() == [FlowDone()]
    assert line.call.vars["got"] == "'12'"


@pytest.mark.parametrize(("keys", "terminator", "expected"), [
    ("12#", "#", "12"),
    ("#12#", "#", "12"),  # a terminator before any digit is ignored
    ("1*", "*", "1"),
    ("1#2*", "*", "1#2"),  # '#' is an ordinary key when '*' terminates
])
def test_terminator_ends_the_collect_early(keys: str, terminator: str, expected: str) -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "got", await call.collect(5, 10, terminator=terminator))

    line = Line(flow)
    line.start()
    assert line.at(1).digits(keys) == [FlowDone()]
    assert line.call.vars["got"] == repr(expected)


def test_lone_terminator_does_not_restart_the_timeout() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "got", await call.collect(2, 5))

    line = Line(flow)
    line.start()
    line.at(4).digit("#")
    assert line.deadline() == 5.0
    assert line.fire() == [FlowDone()]
    assert line.call.vars["got"] == "''"


def test_max_digits_ends_the_collect_and_extra_keys_wait_for_the_next() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "first", await call.collect(3, 5))
        await call.sleep(1)
        record(call, "second", await call.collect(1, 5, prompt=("again",)))

    line = Line(flow)
    line.start()
    line.at(1).digits("123")
    assert line.call.vars["first"] == "'123'"
    assert line.deadline() == 2.0  # the sleep; the collect timer was cancelled
    line.digit("4")  # typed during the sleep
    assert line.fire() == [FlowDone()]  # the prompt is skipped: a key is waiting
    assert line.call.vars["second"] == "'4'"
    assert not any(isinstance(a, StartPlay) for a in line.log)


# -- barge-in and type-ahead --------------------------------------------------------------------


def test_barge_in_stops_the_prompt_and_the_key_feeds_the_next_collect() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "play", await call.play("long-prompt"))
        record(call, "got", await call.collect(1, 5, prompt=("menu",)))

    line = Line(flow)
    assert line.start() == [StartPlay(1, ("long-prompt",))]
    assert line.at(2).digit("7") == [CancelPlay(1), FlowDone()]
    assert line.call.vars == {"play": "'7'", "got": "'7'"}


def test_barge_in_into_a_collect_prompt() -> None:
    line = Line(play_then_collect)
    line.start()
    line.at(1).play_done()
    assert line.at(2).digit("3") == [CancelPlay(2)]
    assert line.deadline() == 5.0  # interdigit from the key, not the timeout
    line.runner.on_play_done(2, 2.1)  # the switch's late report of the cancelled play
    assert line._pull() == [] and line.deadline() == 5.0
    assert line.fire() == [FlowDone()]
    assert line.call.vars["got"] == "'3'"


def test_non_interruptible_play_keeps_playing_and_types_ahead() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "play", await call.play("legal-notice", interruptible=False))
        record(call, "got", await call.collect(2, 5, prompt=("menu",)))

    line = Line(flow)
    line.start()
    assert line.at(1).digits("98") == []
    assert line.playing == 1
    assert line.at(4).play_done() == [FlowDone()]  # both keys were typed ahead
    assert line.call.vars == {"play": "None", "got": "'98'"}


def test_type_ahead_skips_later_interruptible_prompts() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "a", await call.play("a"))
        record(call, "b", await call.play("b"))
        record(call, "c", await call.play("c", interruptible=False))
        record(call, "got", await call.collect(2, 5, prompt=("menu",)))

    line = Line(flow)
    line.start()
    assert line.at(1).digit("1") == [CancelPlay(1), StartPlay(2, ("c",))]
    # the key that interrupted a stays typed ahead; b is skipped by it and uses it up
    assert line.call.vars == {"a": "'1'", "b": "'1'"}
    assert line.at(2).digit("2") == []  # c cannot be interrupted
    assert line.at(3).play_done() == []
    assert line.deadline() == 6.0  # one key collected: waiting for a second
    line.digit("3")
    assert line.call.vars["got"] == "'23'"
    assert [a for a in line.log if isinstance(a, StartPlay)] == [
        StartPlay(1, ("a",)), StartPlay(2, ("c",))]


def test_keys_while_waiting_on_a_handoff_are_typed_ahead() -> None:
    async def flow(call: IvrCall) -> None:
        record(call, "queue", await call.queue("support"))
        record(call, "got", await call.collect(1, 5, prompt=("menu",)))

    line = Line(flow)
    line.start()
    assert line.digit("5") == []
    assert line.result("timeout") == [FlowDone()]
    assert line.call.vars == {"queue": "'timeout'", "got": "'5'"}


# -- sleep, handoff, results ----------------------------------------------------------------------


def test_sleep_resumes_at_its_deadline() -> None:
    async def flow(call: IvrCall) -> None:
        await call.sleep(2.5)
        await call.play("after")

    line = Line(flow)
    assert line.at(1).start() == []
    assert line.deadline() == 3.5
    line.runner.on_timer(3.4)
    assert line._pull() == []
    assert line.fire() == [StartPlay(1, ("after",))]
    assert line.runner.next_deadline() is None


def test_queue_handoff_resumes_with_the_outcome() -> None:
    async def flow(call: IvrCall) -> None:
        outcome = await call.queue("sales", priority=5, skills={"english": 3})
        record(call, "outcome", outcome)
        if outcome == "overflow":
            record(call, "transfer", await call.transfer("user:1001"))

    line = Line(flow)
    assert line.start() == [HandOff(QueueReq("sales", 5, {"english": 3}))]
    assert line.runner.handed_off and not line.runner.done
    assert line.runner.next_deadline() is None
    assert line.at(40).result("overflow") == [HandOff(TransferReq("user:1001"))]
    assert line.runner.handed_off
    assert line.call.vars["outcome"] == "'overflow'"
    assert line.result("busy") == [FlowDone()]
    assert line.call.vars["transfer"] == "'busy'"
    assert not line.runner.handed_off and line.runner.done


def test_queue_takes_the_calls_priority_and_skills_by_default() -> None:
    async def flow(call: IvrCall) -> None:
        await call.queue("a")
        call.priority, call.skills["french"] = 9, 4
        await call.queue("b")
        await call.queue("c", priority=1, skills={})

    line = Line(flow)
    assert line.start() == [HandOff(QueueReq("a", 0, None))]
    assert line.result("x") == [HandOff(QueueReq("b", 9, {"french": 4}))]
    assert line.result("x") == [HandOff(QueueReq("c", 1, {}))]


def test_result_is_ignored_unless_the_flow_waits_for_one() -> None:
    line = Line(play_then_collect)
    line.start()
    assert line.result("answered") == []
    line.play_done()
    assert line.result("answered") == [] and line.playing == 2


def test_hangup_request_hands_off_and_ends_the_flow() -> None:
    async def flow(call: IvrCall) -> None:
        try:
            await call.hangup()
            call.vars["after"] = "ran"
        finally:
            call.vars["finally"] = "ran"

    line = Line(flow)
    assert line.start() == [HandOff(HangupReq())]
    assert line.runner.done and line.runner.handed_off
    assert line.call.vars == {"finally": "ran"}
    assert line.result("x") == [] and line.hangup() == []


# -- hangup and failures ---------------------------------------------------------------------------


async def guarded(call: IvrCall) -> None:
    try:
        await call.play("welcome")
        await call.collect(1, 5, prompt=("menu",))
        await call.queue("support")
        await call.sleep(1)
    except CallerHungUp:
        call.vars["caught"] = "yes"
        raise
    finally:
        call.vars["finally"] = "ran"


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_hangup_runs_the_flows_finally_and_silences_the_runner(steps: int) -> None:
    line = Line(guarded)
    line.start()
    for advance in (line.play_done, line.play_done, lambda: line.digit("1"))[:steps]:
        advance()
    assert line.at(10).hangup() == []
    assert line.call.vars == {"caught": "yes", "finally": "ran"}
    assert line.runner.done and line.runner.next_deadline() is None
    line.runner.on_digit("1", 11)
    line.runner.on_play_done(1, 11)
    line.runner.on_play_done(2, 11)
    line.runner.on_timer(100)
    line.runner.on_result("x", 11)
    line.runner.on_hangup(12)
    assert line.runner.actions() == []


def test_a_flow_that_plays_on_after_hangup_is_closed() -> None:
    async def flow(call: IvrCall) -> None:
        try:
            await call.collect(1, 5)
        except CallerHungUp:
            try:
                await call.play("goodbye")  # nobody listens
                call.vars["after"] = "ran"
            finally:
                call.vars["closed"] = "yes"

    line = Line(flow)
    line.start()
    assert line.hangup() == []
    assert line.call.vars == {"closed": "yes"}
    assert line.runner.done


def test_hangup_before_the_flow_starts() -> None:
    line = Line(guarded)
    assert line.hangup() == []
    assert line.runner.done
    assert line.call.vars == {}  # the flow never ran, so neither did its finally


def test_a_flow_that_raises_ends_with_an_error() -> None:
    async def flow(call: IvrCall) -> None:
        key = await call.collect(1, 5)
        raise ValueError(f"no branch for {key}")

    line = Line(flow)
    line.start()
    assert line.digit("4") == [FlowDone("ValueError: no branch for 4")]
    assert line.runner.done and line.runner.next_deadline() is None
    assert line.digit("5") == [] and line.hangup() == []


def test_a_flow_that_raises_at_once_and_one_that_returns() -> None:
    async def bad(call: IvrCall) -> None:
        raise RuntimeError("broken")

    async def empty(call: IvrCall) -> None:
        call.vars["ran"] = "yes"

    assert Line(bad).start() == [FlowDone("RuntimeError: broken")]
    line = Line(empty)
    assert line.start() == [FlowDone()]
    assert line.call.vars == {"ran": "yes"}


def test_a_flow_that_raises_caller_hung_up_itself_ends_cleanly() -> None:
    async def flow(call: IvrCall) -> None:
        await call.sleep(1)
        raise CallerHungUp

    line = Line(flow)
    line.start()
    assert line.fire() == [FlowDone()]


def test_stale_play_done_and_early_timer_are_ignored() -> None:
    line = Line(play_then_collect)
    line.start()
    line.runner.on_play_done(7, 1)
    line.runner.on_timer(1000)
    assert line._pull() == [] and line.playing == 1
    line.play_done()
    line.runner.on_play_done(1, 2)  # the first play again
    assert line._pull() == [] and line.playing == 2


# -- bugs found by these tests, fixed -


def test_a_flow_failing_in_its_finally_on_hangup_does_not_escape() -> None:
    async def flow(call: IvrCall) -> None:
        try:
            await call.collect(1, 5)
        finally:
            call.vars["missing"] = call.vars["not-set"]  # a user's bug: KeyError

    line = Line(flow)
    line.start()
    line.runner.on_hangup(1)  # must not raise into the switch
    assert line.runner.done


def test_start_after_hangup_does_nothing() -> None:
    line = Line(guarded)
    line.hangup()
    line.runner.start(1)
    assert line.runner.actions() == []


def test_many_typed_ahead_keys_do_not_end_the_call() -> None:
    async def flow(call: IvrCall) -> None:
        await call.sleep(60)  # or a queue wait: keys pile up
        count = 0
        while await call.collect(1, 5):
            count += 1
        call.vars["count"] = str(count)

    line = Line(flow)
    line.start()
    for i in range(300):
        line.at(i * 0.1).digit("1")
    line.fire()
    while not line.runner.done:
        line.fire()
    assert FlowDone() in line.log, line.log[-1:]
    assert int(line.call.vars["count"]) >= 1


def test_a_queue_request_is_a_snapshot_of_the_calls_skills() -> None:
    async def flow(call: IvrCall) -> None:
        call.skills["english"] = 3
        await call.queue("support")
        call.skills["english"] = 9

    line = Line(flow)
    handoff = line.start()[0]
    line.result("overflow")
    assert handoff == HandOff(QueueReq("support", 0, {"english": 3}))


# -- property: any event sequence -----------------------------------------------------------------


async def busy_flow(call: IvrCall) -> None:
    """Touches every request kind, with a finally that records what happened."""
    try:
        await call.play("welcome")
        while True:
            key = await call.collect(2, 3, prompt=("menu",), interdigit=1)
            if key == "1":
                await call.sleep(2)
            elif key == "2":
                if await call.queue("support", priority=2) != "overflow":
                    return
            elif key == "3":
                await call.transfer("user:1001")
            elif key == "4":
                await call.hangup()
            elif key == "5":
                raise ValueError("five")
            elif key == "":
                await call.play("goodbye", interruptible=False)
                return
            else:
                await call.play("invalid")
    finally:
        call.vars["finally"] = "ran"


FLOWS: dict[str, Flow] = {"busy": busy_flow, "demo": menu_flow(DEMO_MENUS, "demo")}

EVENTS = st.one_of(
    st.tuples(st.just("digit"), st.sampled_from("0123456789*#")),
    st.tuples(st.just("play_done"), st.booleans()),  # True: the current play, False: a stale id
    st.tuples(st.just("timer"), st.none()),
    st.tuples(st.just("result"), st.sampled_from(["answered", "overflow", "busy"])),
    st.tuples(st.just("hangup"), st.none()),
    st.tuples(st.just("wait"), st.floats(0, 10)),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(FLOWS)), st.lists(EVENTS, max_size=40))
def test_any_event_sequence_is_handled(name: str, events: list[tuple[str, Any]]) -> None:
    call = IvrCall("1001", "700")
    runner = FlowRunner(FLOWS[name], call)
    now = 0.0
    playing: int | None = None
    last_play = 0
    ended = False  # hung up, or FlowDone / HandOff(hangup) seen
    flow_done = 0

    def pull() -> None:
        nonlocal playing, last_play, ended, flow_done
        for act in runner.actions():
            if isinstance(act, StartPlay):
                assert not ended, f"{act} after the end"
                assert playing is None, f"{act} while play {playing} runs"
                assert act.play_id > last_play
                playing = last_play = act.play_id
            elif isinstance(act, CancelPlay):
                assert act.play_id == playing
                playing = None
            elif isinstance(act, FlowDone):
                flow_done += 1
                ended = True
            elif isinstance(act, HandOff):
                assert not ended
                ended = ended or isinstance(act.request, HangupReq)
        assert flow_done <= 1
        if ended:
            assert runner.done and runner.next_deadline() is None

    runner.start(now)
    pull()
    for kind, arg in events:
        if kind == "digit":
            runner.on_digit(arg, now)
        elif kind == "play_done":
            if arg and playing is not None:
                play_id, playing = playing, None
                runner.on_play_done(play_id, now)
            else:
                runner.on_play_done(last_play + 1000, now)
        elif kind == "timer":
            when = runner.next_deadline()
            if when is not None:
                now = max(now, when)
                runner.on_timer(now)
        elif kind == "result":
            runner.on_result(arg, now)
        elif kind == "hangup":
            runner.on_hangup(now)
            ended = True
            assert runner.done
        else:
            now += arg
        pull()
    if ended and name == "busy":
        assert call.vars.get("finally") == "ran"
