"""ccswitch.dialplan: targets parsed from text and back, and the dial plan's lookups."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccswitch.dialplan import (
    DEFAULT_CODES,
    TARGET_FORMS,
    Dialplan,
    HangupTarget,
    IvrTarget,
    NumberTarget,
    QueueTarget,
    RoomTarget,
    ServiceTarget,
    SuperviseTarget,
    Supervisor,
    Target,
    TargetError,
    UserTarget,
    may_supervise,
    parse_target,
)

# -- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "target"), [
    ("user:1001", UserTarget("1001")),
    ("user:alice.smith", UserTarget("alice.smith")),
    ("queue:support", QueueTarget("support")),
    ("queue:support;priority=5", QueueTarget("support", 5)),
    ("queue:vip;priority=-2", QueueTarget("vip", -2)),
    ("ivr:demo", IvrTarget("demo")),
    ("echo", ServiceTarget("echo")),
    ("tone", ServiceTarget("tone")),
    ("room:850", RoomTarget("850")),
    ("listen:2001", SuperviseTarget("listen", "2001")),
    ("whisper:2001", SuperviseTarget("whisper", "2001")),
    ("barge:2001", SuperviseTarget("barge", "2001")),
    ("transfer:1002", NumberTarget("1002")),
    ("transfer:*312001", NumberTarget("*312001")),
    ("hangup", HangupTarget()),
])
def test_parse_target_and_its_canonical_text(text: str, target: Target) -> None:
    assert parse_target(text) == target
    assert str(target) == text


def test_canonical_text_normalises_the_priority() -> None:
    assert str(parse_target("queue:q;priority=007")) == "queue:q;priority=7"


@pytest.mark.parametrize(("text", "fault"), [
    ("", "unknown target ''"),
    ("echoo", "unknown target 'echoo' (one of user:NAME"),
    ("goto:x", "unknown target"),
    ("echo:loud", "echo takes no argument"),
    ("echo:", "echo takes no argument"),
    ("hangup:now", "hangup takes no argument"),
    ("queue", "queue needs an argument (queue:NAME)"),
    ("user:", "user needs an argument (user:NAME)"),
    ("transfer:", "transfer needs an argument (transfer:NUMBER)"),
    ("listen:", "listen needs an argument (listen:AGENT)"),
    ("queue:bad name", "'bad name' is not a valid queue name"),
    ("queue:q;prio=1", "unknown queue parameter 'prio=1'"),
    ("queue:q;priority=high", "priority must be an integer"),
    ("queue:q;priority=", "priority must be an integer"),
    ("user:-x", "'-x' is not a valid user name (user:NAME)"),
    ("ivr:a.b", "not a valid menu name"),
    ("room:a b", "not a valid room name"),
    ("barge:", "barge needs an argument"),
    ("whisper:a b", "not a valid agent name"),
    ("transfer:12 34", "'12 34' is not a valid number (transfer:NUMBER)"),
    ("voicemail:a b", "not a valid mailbox name"),
    ("number:+33 12345", "'+33 12345' is not a valid number (number:NUMBER)"),
])
def test_parse_target_refuses(text: str, fault: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert fault in str(info.value)
    assert isinstance(info.value, ValueError)


def test_every_documented_form_parses() -> None:
    for form in TARGET_FORMS:
        text = form.replace("NAME", "x").replace("AGENT", "2001").replace("NUMBER", "100")
        assert str(parse_target(text)) == text


def test_targets_are_frozen_and_hashable() -> None:
    target = QueueTarget("q")
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.queue = "r"  # type: ignore[misc]
    assert len({QueueTarget("q"), QueueTarget("q"), QueueTarget("q", 1)}) == 2


@given(st.text(max_size=30))
def test_parse_target_either_parses_or_says_why(text: str) -> None:
    try:
        target = parse_target(text)
    except TargetError as exc:
        assert str(exc)
    else:
        assert parse_target(str(target)) == target


# -- the dial plan --------------------------------------------------------------------------

USERS = ("1001", "1002", "1020", "2001", "2002")
AGENTS = ("2001", "2002")
NUMBERS: dict[str, Target] = {
    "9196": ServiceTarget("echo"), "700": IvrTarget("demo"), "800": QueueTarget("support"),
    "850": RoomTarget("850"), "100": UserTarget("1001"), "101": NumberTarget("100"),
    "102": NumberTarget("101"), "103": NumberTarget("1002"), "104": NumberTarget("*322001"),
}


@pytest.fixture
def plan() -> Dialplan:
    return Dialplan(users=USERS, numbers=NUMBERS, agents=AGENTS)


@pytest.mark.parametrize(("number", "target"), [
    ("1001", UserTarget("1001")),
    ("2002", UserTarget("2002")),
    ("9196", ServiceTarget("echo")),
    ("700", IvrTarget("demo")),
    ("800", QueueTarget("support")),
    ("850", RoomTarget("850")),
    ("100", UserTarget("1001")),
    ("101", UserTarget("1001")),  # transfer:100 -> user:1001
    ("102", UserTarget("1001")),  # two hops
    ("103", UserTarget("1002")),  # transfer:USER
    ("104", SuperviseTarget("whisper", "2001")),
    ("*312001", SuperviseTarget("listen", "2001")),
    ("*322002", SuperviseTarget("whisper", "2002")),
    ("*332001", SuperviseTarget("barge", "2001")),
])
def test_resolve(plan: Dialplan, number: str, target: Target) -> None:
    assert plan.resolve(number, caller="1020") == target


@pytest.mark.parametrize("number", [
    "9999", "", "*31", "*311001",  # 1001 is a user, not an agent
    "*312003", "*34" + "2001", "*3120011",
])
def test_resolve_unknown(plan: Dialplan, number: str) -> None:
    assert plan.resolve(number, caller="1020") is None


def test_nobody_supervises_itself(plan: Dialplan) -> None:
    assert plan.resolve("*312001", caller="2001") is None
    assert plan.resolve("*312001", caller="2002") == SuperviseTarget("listen", "2001")


def test_codes_are_configurable_longest_first() -> None:
    plan = Dialplan(users=USERS, agents=AGENTS, codes={"#7": "listen", "#77": "barge"})
    assert plan.resolve("#72001") == SuperviseTarget("listen", "2001")
    assert plan.resolve("#772001") == SuperviseTarget("barge", "2001")
    assert plan.resolve("*312001") is None


def test_numbers_come_before_users_and_codes() -> None:
    plan = Dialplan(users=["2001"], agents=["2001"],
                    numbers={"*312001": ServiceTarget("tone")})
    assert plan.resolve("*312001") == ServiceTarget("tone")
    assert DEFAULT_CODES == {"*31": "listen", "*32": "whisper", "*33": "barge"}


def test_a_transfer_to_nowhere_resolves_to_nothing() -> None:
    plan = Dialplan(users=(), numbers={"1": NumberTarget("2")})
    assert plan.resolve("1") is None


@pytest.mark.parametrize(("numbers", "loop"), [
    ({"1": NumberTarget("1")}, "1 -> 1"),
    ({"1": NumberTarget("2"), "2": NumberTarget("1")}, "1 -> 2 -> 1"),
    ({"0": NumberTarget("1"), "1": NumberTarget("2"), "2": NumberTarget("1")}, "1 -> 2 -> 1"),
])
def test_transfer_loops_are_refused(numbers: dict[str, Target], loop: str) -> None:
    with pytest.raises(TargetError, match=f"transfer loop: {loop}"):
        Dialplan(users=(), numbers=numbers)


# -- who may supervise ----------------------------------------------------------------------

AGENT_QUEUES = {"2001": ("support",), "2002": ("sales",), "2003": ("support", "sales"),
                "2004": ()}


@pytest.mark.parametrize(("supervisor", "agent", "allowed"), [
    (Supervisor("1020"), "2001", True),
    (Supervisor("1020"), "2004", True),  # every queue: every agent
    (Supervisor("1020"), "1001", False),  # not an agent
    (Supervisor("1020", frozenset({"support"})), "2001", True),
    (Supervisor("1020", frozenset({"support"})), "2002", False),
    (Supervisor("1020", frozenset({"support"})), "2003", True),
    (Supervisor("1020", frozenset({"support"})), "2004", False),
    (Supervisor("2001"), "2001", False),  # itself
    (None, "2001", False),  # not a supervisor
])
def test_may_supervise(supervisor: Supervisor | None, agent: str, allowed: bool) -> None:
    assert may_supervise(supervisor, agent, AGENT_QUEUES) is allowed
