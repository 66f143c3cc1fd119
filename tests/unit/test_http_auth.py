"""Bearer tokens, scope rules and the slowing of repeated failures (pure)."""

from __future__ import annotations

import re

import pytest
from callworld import demo_config

from ccswitch.config.schema import parse_config
from ccswitch.errors import ConfigError
from ccswitch.http.auth import (
    FailureGate,
    GateSettings,
    Principal,
    bearer,
    may_read_queue,
    may_see_agent,
    may_see_call,
    principals,
)

AGENT_QUEUES = {"2001": ("support",), "2005": ("sales",), "2008": ("support", "sales")}
ADMIN = Principal("admin")
SUP_SUPPORT = Principal("supervisor", "1020", frozenset({"support"}))
SUP_ALL = Principal("supervisor", "1019", None)
AGENT = Principal("agent", "2001")


def table():
    cfg = demo_config()
    return principals(((t.token, t.role, t.user) for t in cfg.api.tokens),
                      {u: s.queues for u, s in cfg.supervisors.items()})


def test_the_demo_tokens_are_those_of_the_contract() -> None:
    t = table()
    assert t.lookup("demo-admin-token") == ADMIN
    sup = t.lookup("demo-supervisor-token")
    assert sup == Principal("supervisor", "1020", frozenset({"support", "sales"}))
    for ext in range(2001, 2011):
        assert t.lookup(f"demo-agent-{ext}") == Principal("agent", str(ext))
    assert len(t) == 12


@pytest.mark.parametrize("token", ["", "demo-admin-toke", "demo-admin-token ", "DEMO-ADMIN-TOKEN",
                                   "demo-agent-2011", "demo-agent-{user}", "x" * 5000])
def test_wrong_tokens_are_unknown(token: str) -> None:
    assert table().lookup(token) is None


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None),
    ("Bearer ", None), (None, None), ("", None)])
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_scope_of_agents() -> None:
    assert may_see_agent(ADMIN, "2005", AGENT_QUEUES)
    assert may_see_agent(ADMIN, "9999", AGENT_QUEUES)  # the admin then gets 404
    assert may_see_agent(AGENT, "2001", AGENT_QUEUES)
    assert not may_see_agent(AGENT, "2008", AGENT_QUEUES)
    assert may_see_agent(SUP_SUPPORT, "2001", AGENT_QUEUES)
    assert may_see_agent(SUP_SUPPORT, "2008", AGENT_QUEUES)  # support and sales
    assert not may_see_agent(SUP_SUPPORT, "2005", AGENT_QUEUES)  # sales only
    assert not may_see_agent(SUP_SUPPORT, "9999", AGENT_QUEUES)  # same answer: no probing
    assert may_see_agent(SUP_ALL, "2005", AGENT_QUEUES)
    assert not may_see_agent(SUP_ALL, "1001", AGENT_QUEUES)


def test_scope_of_queues() -> None:
    assert may_read_queue(SUP_SUPPORT, "support", AGENT_QUEUES)
    assert not may_read_queue(SUP_SUPPORT, "sales", AGENT_QUEUES)
    assert may_read_queue(SUP_ALL, "sales", AGENT_QUEUES)
    assert may_read_queue(AGENT, "support", AGENT_QUEUES)  # an agent reads its own queues
    assert not may_read_queue(AGENT, "sales", AGENT_QUEUES)
    assert may_read_queue(ADMIN, "nosuch", AGENT_QUEUES)


def test_scope_of_calls() -> None:
    def see(who: Principal, **kw: str | None) -> bool:
        args: dict[str, str | None] = {"queue": None, "agent": None, "caller": "1001",
                                       "callee": "800", **kw}
        return may_see_call(who, queue=args["queue"], agent=args["agent"],
                            caller=str(args["caller"]), callee=str(args["callee"]),
                            agent_queues=AGENT_QUEUES)

    assert see(ADMIN)
    assert see(SUP_SUPPORT, queue="support")
    assert not see(SUP_SUPPORT, queue="sales", agent="2005")
    assert see(SUP_SUPPORT, callee="2001")  # a direct call to one of its agents
    assert not see(SUP_SUPPORT)  # 1001 -> 800, no queue yet
    assert see(AGENT, queue="support", agent="2001")
    assert not see(AGENT, queue="support", agent="2008")
    assert see(AGENT, caller="2001", callee="1002")


def test_failures_are_free_then_slowed_then_banned_per_address() -> None:
    gate = FailureGate(GateSettings(free=2, base_delay=0.5, max_delay=2.0, ban_after=6,
                                    ban=60.0, window=100.0))
    delays = [gate.failed("10.0.0.1", 1.0 + i) for i in range(5)]
    assert delays == [0.0, 0.0, 0.5, 1.0, 2.0]
    assert gate.failed("10.0.0.2", 6.0) == 0.0  # another address is not slowed
    assert not gate.banned("10.0.0.1", 6.0)
    gate.failed("10.0.0.1", 7.0)  # the sixth: banned for 60 s
    assert gate.banned("10.0.0.1", 8.0) and gate.banned("10.0.0.1", 66.9)
    assert not gate.banned("10.0.0.1", 67.1)
    gate.succeeded("10.0.0.1")  # a ban is not lifted by a good token in between
    assert gate.banned("10.0.0.1", 9.0)
    assert gate.failures == 7 and gate.blocked == 3


def test_a_good_token_forgets_failures_and_old_ones_expire() -> None:
    gate = FailureGate(GateSettings(free=1, base_delay=1.0, window=10.0))
    gate.failed("a", 0.0)
    assert gate.failed("a", 1.0) == 1.0
    gate.succeeded("a")
    assert gate.failed("a", 2.0) == 0.0
    assert gate.failed("a", 20.0) == 0.0  # the window is over: counting starts again


def test_the_table_of_addresses_is_bounded() -> None:
    gate = FailureGate(GateSettings(max_entries=3))
    for i in range(10):
        gate.failed(f"10.0.0.{i}", float(i))
    assert len(gate) == 3


DEMO_HEAD = "[supervisors.1020]\nqueues = [\"support\"]\n[queues.support]\n" \
    "[[users]]\nrange = \"2001-2002\"\npassword = \"p\"\nagent = { queues = [\"support\"] }\n" \
    "[[users]]\nname = \"1020\"\npassword = \"p\"\n"


@pytest.mark.parametrize(("entry", "key", "fault"), [
    ('token = "short"\nrole = "admin"', "api.tokens[0].token", "at least 12"),
    ('token = "a long token with spaces"\nrole = "admin"', "api.tokens[0].token", "no spaces"),
    ('token = "long-enough-token"\nrole = "root"', "api.tokens[0].role", "not a role"),
    ('token = "long-enough-token"\nrole = "admin"\nuser = "1020"', "api.tokens[0].user",
     "no user"),
    ('token = "long-enough-token"\nrole = "agent"\nuser = "1020"', "api.tokens[0].user",
     "not an agent"),
    ('token = "long-enough-token"\nrole = "supervisor"\nuser = "2001"', "api.tokens[0].user",
     "not in [supervisors]"),
    ('token = "long-enough-token"\nrole = "agent"\nrange = "2001-2002"', "api.tokens[0].token",
     "{user}"),
    ('token = "long-enough-token"\nrole = "agent"', "api.tokens[0]", "exactly one"),
    ('role = "admin"', "api.tokens[0].token", "missing"),
    ('token = "long-enough-token"\nrole = "admin"\nsecret = 1', "api.tokens[0].secret",
     "unknown key"),
])
def test_bad_token_entries_name_the_key_and_line(entry: str, key: str, fault: str) -> None:
    text = DEMO_HEAD + "[[api.tokens]]\n" + entry + "\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "site.toml")
    msg = str(err.value)
    assert "site.toml" in msg and key in msg and fault in msg, msg
    assert re.match(r"site\.toml:\d+: ", msg), msg


def test_a_token_given_twice_is_refused() -> None:
    text = DEMO_HEAD + ('[[api.tokens]]\ntoken = "same-token-here"\nrole = "admin"\n'
                        '[[api.tokens]]\ntoken = "same-token-here"\nrole = "agent"\n'
                        'user = "2001"\n')
    with pytest.raises(ConfigError, match="same as another"):
        parse_config(text, "site.toml")


def test_tokens_stay_out_of_the_configurations_repr() -> None:
    assert "demo-admin-token" not in repr(demo_config())
