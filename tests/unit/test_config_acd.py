"""Queue and agent tables in the configuration: every key parsed, mapped onto the router's
settings and seen in the real router's behaviour (fake clock), and every fault with its line."""

from __future__ import annotations

import dataclasses
import random

import pytest

from ccswitch.acd import events as ev
from ccswitch.acd.model import (
    AgentSettings,
    AgentState,
    EscalationStep,
    QueueSettings,
    Target,
)
from ccswitch.acd.router import Router
from ccswitch.call.acdconfig import agent_settings, build_router, queue_settings
from ccswitch.config import SwitchConfig, parse_config
from ccswitch.config.acd import AGENT_KEYS, QUEUE_KEYS, AgentConfig, QueueConfig
from ccswitch.dialplan import IvrTarget, QueueTarget, ServiceTarget, UserTarget
from ccswitch.errors import ConfigError

FULL = """\
[queues.support]
strategy = "linear"
ring_timeout = 15
wrapup = 0
skills = { english = 5, billing = 3 }
priority_ageing = 0.5
max_wait = 300
max_waiting = 10
overflow = "queue:sales"
on_timeout = "ivr:demo"
on_full = "user:1001"
join_empty = ["logged_out", "paused"]
leave_empty = []
on_leave_empty = "echo"
service_level = 30
announce_interval = 45
announce_on_entry = false
rejoin_window = 120
callback_attempts = 3
callback_retry = 90
handle_window = 50
default_handle_time = 180
linear_order = ["2002", "2001"]
record = false
display = "Customer support"

[[queues.support.escalation]]
after = 30
lower_by = 1

[[queues.support.escalation]]
after = 60.5
drop = ["billing"]
levels = { english = 2 }

[queues.sales]
strategy = "weighted_random"
announce_interval = false

[[users]]
name = "1001"
password = "p"

[[users]]
range = "2001-2003"
password = "p"
[users.agent]
queues = { support = 0, sales = 2 }
skills = { english = 5, billing = 3 }
weight = 2.5
auto_pause_after = 0
no_answer_delay = 1
busy_delay = 2
reject_delay = 0

[[users]]
name = "2004"
password = "p"
[users.agent]
queues = ["sales"]
auto_pause_after = 2
auto_answer = true
"""


@pytest.fixture(scope="module")
def full() -> SwitchConfig:
    return parse_config(FULL, "full.toml")


def test_every_queue_key_is_parsed(full: SwitchConfig) -> None:
    q = full.queues["support"]
    assert set(QUEUE_KEYS) == {f.name for f in dataclasses.fields(QueueConfig)} - {"name"}
    assert (q.strategy, q.ring_timeout, q.wrapup, dict(q.skills)) == (
        "linear", 15.0, 0.0, {"english": 5, "billing": 3})
    assert (q.priority_ageing, q.max_wait, q.max_waiting, q.overflow) == (
        0.5, 300.0, 10, QueueTarget("sales"))
    assert (q.on_timeout, q.on_full, q.on_join_empty, q.on_leave_empty) == (
        IvrTarget("demo"), UserTarget("1001"), None, ServiceTarget("echo"))
    assert q.join_empty == frozenset({AgentState.PAUSED})  # logged_out is always absent
    assert q.leave_empty == frozenset()
    assert (q.service_level, q.announce_interval, q.announce_on_entry, q.rejoin_window) == (
        30.0, 45.0, False, 120.0)
    assert (q.callback_attempts, q.callback_retry, q.handle_window, q.default_handle_time) == (
        3, 90.0, 50, 180.0)
    assert (q.linear_order, q.record) == (("2002", "2001"), False)
    assert q.escalation == (EscalationStep(30.0, lower_by=1),
                            EscalationStep(60.5, drop=frozenset({"billing"}),
                                           levels={"english": 2}))
    assert full.queues["sales"].announce_interval is None
    assert (q.display, full.queues["sales"].display) == ("Customer support", None)


def test_every_agent_key_is_parsed(full: SwitchConfig) -> None:
    assert set(AGENT_KEYS) == {f.name for f in dataclasses.fields(AgentConfig)} - {"penalties"}
    a = full.users["2003"].agent
    assert a is not None
    assert (a.queues, dict(a.penalties), dict(a.skills)) == (
        ("support", "sales"), {"support": 0, "sales": 2}, {"english": 5, "billing": 3})
    assert (a.weight, a.auto_pause_after, a.auto_answer) == (2.5, None, False)
    assert (a.no_answer_delay, a.busy_delay, a.reject_delay) == (1.0, 2.0, 0.0)
    b = full.users["2004"].agent
    assert b is not None
    assert (b.queues, dict(b.penalties), b.auto_pause_after, b.auto_answer) == (
        ("sales",), {"sales": 0}, 2, True)
    assert (b.weight, b.no_answer_delay) == (1.0, 5.0)


def test_auto_pause_after_false_or_zero_means_never() -> None:
    for value in ("false", "0"):
        cfg = parse_config(f'[[users]]\nname = "a"\npassword = "p"\n'
                           f'agent = {{ auto_pause_after = {value} }}\n', "a.toml")
        agent = cfg.users["a"].agent
        assert agent is not None and agent.auto_pause_after is None


def test_build_router_maps_every_queue_key(full: SwitchConfig) -> None:
    _, queues = build_router(full, random.Random(1))
    assert queues["support"] == QueueSettings(
        name="support", strategy="linear", ring_timeout=15.0, wrapup=0.0,
        skills={"english": 5, "billing": 3},
        escalation=(EscalationStep(30.0, lower_by=1),
                    EscalationStep(60.5, drop=frozenset({"billing"}), levels={"english": 2})),
        priority_ageing=0.5, max_wait=300.0, max_length=10,
        join_empty=frozenset({AgentState.PAUSED}), leave_empty=frozenset(),
        on_timeout=Target("ivr", "demo"), on_full=Target("number", "user:1001"),
        on_join_empty=Target("queue", "sales"), on_leave_empty=Target("number", "echo"),
        service_level=30.0, announce_interval=45.0, announce_on_entry=False,
        rejoin_window=120.0, callback_attempts=3, callback_retry=90.0, handle_window=50,
        default_handle_time=180.0,
        linear_order=("2002", "2001", "2003"),  # the rest of the members, in file order
    )
    assert queues["sales"] == QueueSettings("sales", strategy="weighted_random",
                                            announce_interval=None)


def test_build_router_maps_every_agent_key(full: SwitchConfig) -> None:
    a = full.users["2001"].agent
    assert a is not None
    assert agent_settings("2001", a) == AgentSettings(
        "2001", skills={"english": 5, "billing": 3}, queues={"support": 0, "sales": 2},
        weight=2.5, auto_pause_after=None, no_answer_delay=1.0, busy_delay=2.0,
        reject_delay=0.0)


def test_defaults_are_the_router_defaults() -> None:
    assert queue_settings(QueueConfig("q")) == QueueSettings("q")
    assert agent_settings("a", AgentConfig()) == AgentSettings("a")
    cfg = parse_config('[queues.q]\n[[users]]\nname = "a"\npassword = "p"\n'
                       'agent = { queues = ["q"] }\n', "d.toml")
    _, queues = build_router(cfg, random.Random(0))
    assert queues["q"] == QueueSettings("q")


def test_per_rule_overflow_falls_back_to_overflow() -> None:
    cfg = parse_config('[queues.q]\noverflow = "echo"\non_timeout = "tone"\n'
                       '[queues.r]\non_timeout = "queue:q"\n', "o.toml")
    q = queue_settings(cfg.queues["q"])
    assert (q.on_timeout, q.on_full, q.on_join_empty, q.on_leave_empty) == (
        Target("number", "tone"), *[Target("number", "echo")] * 3)
    r = queue_settings(cfg.queues["r"])
    assert (r.on_timeout, r.on_full) == (Target("queue", "q"), None)


# -- the router built from the configuration behaves as configured ---------------------------


class FakeClock:
    """Time for the router: ``advance`` runs every router timer due on the way."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.now = 0.0

    def advance(self, to: float) -> None:
        while (due := self.router.next_deadline()) is not None and due <= to:
            self.now = max(self.now, due)
            self.router.handle_timer(self.now)
        self.now = to


def router_for(text: str) -> tuple[Router, FakeClock]:
    router, _ = build_router(parse_config(text, "r.toml"), random.Random(7))
    return router, FakeClock(router)


def offers(router: Router) -> list[tuple[str, tuple[str, ...]]]:
    router.events()
    return [(a.call_id, a.agents) for a in router.actions() if isinstance(a, ev.Offer)]


AGENT_A = '[[users]]\nname = "a"\npassword = "p"\n'


@pytest.mark.parametrize(("ageing", "first"), [(0.1, "old"), (0, "vip")])
def test_priority_ageing_from_the_config_orders_callers(ageing: float, first: str) -> None:
    router, clock = router_for(f"[queues.q]\npriority_ageing = {ageing}\n"
                               + AGENT_A + 'agent = { queues = ["q"] }\n')
    router.enqueue("old", "q", clock.now, priority=0)
    clock.advance(25.0)
    router.enqueue("vip", "q", clock.now, priority=2)
    clock.advance(30.0)  # with ageing: old has 3.0 points, vip 2.5
    assert router.agent_login("a", clock.now)
    assert offers(router) == [(first, ("a",))]


def test_escalation_step_from_the_config_widens_the_agents() -> None:
    router, clock = router_for(
        "[queues.q]\nskills = { english = 5 }\n"
        "[[queues.q.escalation]]\nafter = 30\nlower_by = 2\n"
        + AGENT_A + 'agent = { queues = ["q"], skills = { english = 3 } }\n')
    assert router.agent_login("a", clock.now)
    router.enqueue("c", "q", clock.now)
    clock.advance(29.9)
    assert offers(router) == []  # english 3 < 5
    clock.advance(30.0)
    assert offers(router) == [("c", ("a",))]  # 5 - 2 = 3


def test_escalation_drop_and_level_cap_from_the_config() -> None:
    router, clock = router_for(
        "[queues.q]\nskills = { english = 8, billing = 5 }\n"
        '[[queues.q.escalation]]\nafter = 10\nlevels = { english = 4 }\n'
        '[[queues.q.escalation]]\nafter = 20\ndrop = ["billing"]\n'
        + AGENT_A + 'agent = { queues = ["q"], skills = { english = 4 } }\n')
    assert router.agent_login("a", clock.now)
    router.enqueue("c", "q", clock.now)
    clock.advance(19.0)
    assert offers(router) == []  # english capped at 4, billing 5 still required
    clock.advance(20.0)
    assert offers(router) == [("c", ("a",))]


@pytest.mark.parametrize(("membership", "first"), [
    ("{ low = 0, high = 1 }", "late-in-low"),  # the lower tier first, whatever the wait
    ('["low", "high"]', "early-in-high"),  # one tier: the longest waiting first
])
def test_per_queue_penalty_from_the_config(membership: str, first: str) -> None:
    router, clock = router_for("[queues.low]\n[queues.high]\n" + AGENT_A
                               + f"agent = {{ queues = {membership} }}\n")
    router.enqueue("early-in-high", "high", clock.now)
    clock.advance(10.0)
    router.enqueue("late-in-low", "low", clock.now)
    clock.advance(11.0)
    assert router.agent_login("a", clock.now)
    assert offers(router) == [(first, ("a",))]


def test_linear_order_from_the_config_then_file_order() -> None:
    router, clock = router_for(
        '[queues.q]\nstrategy = "linear"\nlinear_order = ["3"]\nwrapup = 0\n'
        '[[users]]\nrange = "1-3"\npassword = "p"\nagent = { queues = ["q"] }\n')
    for name in ("2", "1", "3"):  # logged in out of order
        assert router.agent_login(name, clock.now)
    for call in ("c1", "c2", "c3"):
        router.enqueue(call, "q", clock.now)
    ringing = [agents for _, agents in offers(router)]
    assert ringing == [("3",), ("1",), ("2",)]


def test_join_empty_refuses_to_the_rule_target() -> None:
    router, clock = router_for(
        '[queues.q]\njoin_empty = ["paused"]\noverflow = "tone"\non_join_empty = "echo"\n'
        + AGENT_A + 'agent = { queues = ["q"] }\n')
    assert not router.enqueue("c0", "q", clock.now)  # nobody logged in
    assert router.actions() == [ev.Overflow("c0", "q", "joinempty", Target("number", "echo"))]
    assert router.agent_login("a", clock.now)
    assert router.agent_pause("a", "lunch", clock.now)
    assert not router.enqueue("c1", "q", clock.now)  # paused counts as absent
    assert router.agent_unpause("a", clock.now)
    assert router.enqueue("c2", "q", clock.now)


@pytest.mark.parametrize(("setting", "state"), [
    ("auto_pause_after = 1", AgentState.PAUSED),
    ("auto_pause_after = 2", AgentState.BACKOFF),
    ("auto_pause_after = false", AgentState.BACKOFF),
])
def test_auto_pause_after_from_the_config(setting: str, state: AgentState) -> None:
    router, clock = router_for("[queues.q]\n" + AGENT_A
                               + f'agent = {{ queues = ["q"], {setting} }}\n')
    assert router.agent_login("a", clock.now)
    router.enqueue("c", "q", clock.now)
    assert offers(router) == [("c", ("a",))]
    assert router.offer_failed("c", "a", 1.0, "noanswer")
    assert router.agent_state("a") is state


def test_no_answer_delay_from_the_config() -> None:
    router, clock = router_for("[queues.q]\n" + AGENT_A
                               + 'agent = { queues = ["q"], no_answer_delay = 7 }\n')
    assert router.agent_login("a", clock.now)
    router.enqueue("c", "q", clock.now)
    assert offers(router) == [("c", ("a",))]
    assert router.offer_failed("c", "a", 1.0, "noanswer")
    clock.advance(7.9)
    assert router.agent_state("a") is AgentState.BACKOFF
    clock.advance(8.0)
    assert offers(router) == [("c", ("a",))]


# -- every fault names the key path and its line ----------------------------------------------

Q = "[queues.support]\nskills = { english = 5 }\n"
USER = '[queues.support]\n[queues.sales]\n[[users]]\nname = "a"\npassword = "p"\n'
ESC = Q + "\n[[queues.support.escalation]]\n"  # the step's keys start at line 5

# (toml text, dotted key, line, a piece of the fault)
ERRORS = [
    (Q + "display = 5\n", "queues.support.display", 3, "must be a string"),
    (Q + 'display = ""\n', "queues.support.display", 3, "must not be empty"),
    (Q + f'display = "{"x" * 41}"\n', "queues.support.display", 3,
     "at most 40 characters, got 41"),
    (Q + 'display = "a\\tb"\n', "queues.support.display", 3, "control characters"),
    (Q + "priority_aging = 1\n", "queues.support.priority_aging", 3,
     "did you mean 'priority_ageing'"),
    (Q + "priority_ageing = -1\n", "queues.support.priority_ageing", 3, "non-negative"),
    (Q + 'priority_ageing = "fast"\n', "queues.support.priority_ageing", 3,
     "must be a number of points per second"),
    (Q + "wrapup = -1\n", "queues.support.wrapup", 3, "non-negative"),
    (Q + "join_empty = true\n", "queues.support.join_empty", 3, "false or an array"),
    (Q + 'join_empty = ["ready"]\n', "queues.support.join_empty[0]", 3, "never absent"),
    (Q + 'leave_empty = ["paused", "lunch"]\n', "queues.support.leave_empty[1]", 3,
     "unknown agent state 'lunch'"),
    (Q + 'leave_empty = ["paused", "paused"]\n', "queues.support.leave_empty[1]", 3, "twice"),
    (Q + "leave_empty = [3]\n", "queues.support.leave_empty[0]", 3, "must be a string"),
    (Q + 'on_timeout = "queue:nowhere"\n', "queues.support.on_timeout", 3,
     "queue 'nowhere' does not exist"),
    (Q + 'max_waiting = 2\non_full = "queue:support"\n', "queues.support.on_full", 4,
     "itself"),
    (Q + "on_timeout = 5\n", "queues.support.on_timeout", 3, "must be a string"),
    (Q + 'on_full = "echo"\n', "queues.support.on_full", 3,
     "never used: max_waiting is not set"),
    (Q + 'on_join_empty = "echo"\n', "queues.support.on_join_empty", 3,
     "never used: join_empty is not set"),
    (Q + 'leave_empty = false\non_leave_empty = "echo"\n', "queues.support.on_leave_empty", 4,
     "never used: leave_empty is not set"),
    (Q + 'on_leave_empty = "listen:2001"\nleave_empty = []\n', "queues.support.on_leave_empty",
     3, "cannot be used here"),
    (Q + 'on_leave_empty = "hangu"\nleave_empty = []\n', "queues.support.on_leave_empty", 3,
     "unknown action 'hangu'"),
    (Q + 'overflow = "queue:support2;priority=3"\n[queues.support2]\n',
     "queues.support.overflow", 3, "keeps its priority"),
    (Q + "service_level = 0\n", "queues.support.service_level", 3, "positive"),
    (Q + 'announce_on_entry = "no"\n', "queues.support.announce_on_entry", 3, "true or false"),
    (Q + "announce_interval = true\n", "queues.support.announce_interval", 3,
     "number of seconds"),
    (Q + "rejoin_window = -5\n", "queues.support.rejoin_window", 3,
     "non-negative number of seconds"),
    (Q + "callback_attempts = 0\n", "queues.support.callback_attempts", 3, "must be 1-100"),
    (Q + "callback_retry = false\n", "queues.support.callback_retry", 3, "number of seconds"),
    (Q + "handle_window = 0\n", "queues.support.handle_window", 3, "must be 1-100000"),
    (Q + "default_handle_time = 0\n", "queues.support.default_handle_time", 3, "positive"),
    (Q + 'linear_order = ["a"]\n', "queues.support.linear_order", 3,
     "only the linear strategy uses it (not longest_idle)"),
    (Q + 'strategy = "linear"\nlinear_order = []\n', "queues.support.linear_order", 4,
     "must not be empty"),
    (Q + 'strategy = "linear"\nlinear_order = ["a b"]\n', "queues.support.linear_order[0]", 4,
     "not a valid agent name"),
    (Q + 'strategy = "linear"\nlinear_order = ["a"]\n[queues.sales]\n[[users]]\nname = "a"\n'
     'password = "p"\nagent = { queues = ["sales"] }\n', "queues.support.linear_order[0]", 4,
     "'a' is not an agent of queue 'support'"),
    (Q + "escalation = 3\n", "queues.support.escalation", 3, "must be an array"),
    (Q + "escalation = [{ after = 5 }]\n", "queues.support.escalation[0]", 3,
     "does nothing"),
    (ESC + "after = 30\nlower_by = 1\n\n[[queues.support.escalation]]\nafter = 30\n"
     "lower_by = 2\n", "queues.support.escalation[1].after", 9,
     "must be later than the step before (30)"),
    (ESC + "lower_by = 1\n", "queues.support.escalation[0].after", 4, "missing"),
    (ESC + "after = 0\nlower_by = 1\n", "queues.support.escalation[0].after", 5, "positive"),
    (ESC + "after = 10\n", "queues.support.escalation[0]", 4,
     "does nothing: give drop, lower_by or levels"),
    (ESC + "after = 10\nlowerby = 1\n", "queues.support.escalation[0].lowerby", 6,
     "did you mean 'lower_by'"),
    (ESC + 'after = 10\ndrop = ["french"]\n', "queues.support.escalation[0].drop[0]", 6,
     "'french' is not one of the queue's skills"),
    (ESC + 'after = 10\ndrop = ["english", "english"]\n',
     "queues.support.escalation[0].drop[1]", 6, "twice"),
    (ESC + "after = 10\nlower_by = 10\n", "queues.support.escalation[0].lower_by", 6,
     "must be 0-9"),
    (ESC + "after = 10\nlevels = { english = 11 }\n",
     "queues.support.escalation[0].levels.english", 6, "must be 1-10"),
    (ESC + "after = 10\nlevels = { french = 2 }\n",
     "queues.support.escalation[0].levels.french", 6, "not one of the queue's skills"),
    (USER + "agent = { queues = { support = -1 } }\n", "users[0].agent.queues.support", 6,
     "must be at least 0"),
    (USER + "agent = { queues = { support = 1.5 } }\n", "users[0].agent.queues.support", 6,
     "must be an integer"),
    (USER + "agent = { queues = { nowhere = 1 } }\n", "users[0].agent.queues.nowhere", 6,
     "queue 'nowhere' is not declared in [queues]"),
    (USER + "agent = { queues = {} }\n", "users[0].agent.queues", 6, "must not be empty"),
    (USER + 'agent = { queues = "support" }\n', "users[0].agent.queues", 6,
     "an array of queue names or a table of queue name -> penalty, got a string"),
    (USER + '[users.agent]\nqueues = { support = 0, sales = "x" }\n',
     "users[0].agent.queues.sales", 7, "must be an integer"),
    (USER + "agent = { weight = 0 }\n", "users[0].agent.weight", 6, "positive"),
    (USER + 'agent = { weight = "heavy" }\n', "users[0].agent.weight", 6, "must be a number"),
    (USER + "agent = { auto_pause_after = true }\n", "users[0].agent.auto_pause_after", 6,
     "0 / false for never"),
    (USER + "agent = { auto_pause_after = -1 }\n", "users[0].agent.auto_pause_after", 6,
     "at least 1"),
    (USER + "agent = { auto_pause_after = 2.5 }\n", "users[0].agent.auto_pause_after", 6,
     "missed offers"),
    (USER + "agent = { no_answer_delay = -1 }\n", "users[0].agent.no_answer_delay", 6,
     "non-negative number of seconds"),
    (USER + 'agent = { busy_delay = "5" }\n', "users[0].agent.busy_delay", 6,
     "must be a number of seconds, got a string"),
    (USER + "agent = { reject_delay = nan }\n", "users[0].agent.reject_delay", 6,
     "non-negative"),
    (USER + "agent = { wieght = 2 }\n", "users[0].agent.wieght", 6, "did you mean 'weight'"),
]


@pytest.mark.parametrize(("text", "key", "line", "fault"), ERRORS,
                         ids=[f"{i}-{e[1]}" for i, e in enumerate(ERRORS)])
def test_error_names_file_key_line_and_fault(text: str, key: str, line: int,
                                              fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    err = info.value
    assert (err.file, err.key, err.line) == ("site.toml", key, line), str(err)
    assert fault in err.fault, err.fault
    assert str(err) == f"site.toml:{line}: {key}: {err.fault}"
