"""The configuration schema: the demo, defaults, value parsers, overrides and every error kind."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.config import (
    ConfigValueError,
    ListenUri,
    SwitchConfig,
    apply_overrides,
    parse_config,
    parse_hostport,
    parse_listen,
    parse_port_range,
)
from ccswitch.dialplan import QueueTarget, ServiceTarget
from ccswitch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.toml"
PACKAGED_DEMO = ROOT / "src" / "ccswitch" / "config" / "demo.toml"


@pytest.fixture(scope="module")
def demo() -> SwitchConfig:
    return parse_config(DEMO.read_text(encoding="utf-8"), "demo.toml")


# -- the demo -------------------------------------------------------------------------------


def test_packaged_demo_is_identical_to_configs_demo() -> None:
    assert PACKAGED_DEMO.read_bytes() == DEMO.read_bytes()


def test_demo_users_and_passwords(demo: SwitchConfig) -> None:
    expected = [str(n) for n in range(1001, 1021)] + [str(n) for n in range(2001, 2011)]
    assert list(demo.users) == expected
    for name, user in demo.users.items():
        assert user.name == name
        assert user.password == f"pw{name}"
    assert demo.users["1001"].agent is None
    assert demo.users["1005"].display == "Phone 1005"
    assert demo.domains == ("ccswitch.local",)
    assert demo.realm == "ccswitch.local"


def test_demo_agents_and_queues(demo: SwitchConfig) -> None:
    assert list(demo.agents) == [str(n) for n in range(2001, 2011)]
    assert list(demo.queues) == ["support", "sales"]
    members = {name: u.agent.queues for name, u in demo.agents.items() if u.agent}
    for n in range(2001, 2005):
        assert members[str(n)] == ("support",)
    for n in range(2005, 2008):
        assert members[str(n)] == ("sales",)
    for n in range(2008, 2011):
        assert members[str(n)] == ("support", "sales")


def test_demo_dialplan_and_auth(demo: SwitchConfig) -> None:
    assert {n: str(t) for n, t in demo.dialplan.numbers.items()} == {
        "9196": "echo", "9197": "tone", "700": "ivr:demo",
        "800": "queue:support", "801": "queue:sales", "850": "room:850", "851": "room:851",
    }
    assert demo.dialplan.numbers["800"] == QueueTarget("support")
    assert demo.auth.algorithms == ("MD5",)
    assert demo.algorithms_for("1001") == ("MD5",)


def test_demo_matches_documented_defaults(demo: SwitchConfig) -> None:
    """The demo spells out the defaults: parsing it and an empty file must agree on them."""
    empty = parse_config("", "empty.toml")
    for key in ("listen", "rtp_ports", "data_dir", "http", "log_format", "log_level", "auth",
                "registrar", "sip", "domains", "realm"):
        assert getattr(demo, key) == getattr(empty, key), key


# -- defaults and value types ----------------------------------------------------------------


def test_empty_file_gives_the_defaults() -> None:
    cfg = parse_config("", "empty.toml")
    assert cfg == SwitchConfig()
    assert cfg.listen == (ListenUri("udp", "127.0.0.1", 5060), ListenUri("tcp", "127.0.0.1", 5060))
    assert cfg.rtp_ports == (20000, 20999)
    assert cfg.data_dir == "./var"
    assert cfg.http == ("127.0.0.1", 8080)
    assert cfg.log_format is None
    assert cfg.auth.algorithms == ("MD5",)
    assert (cfg.auth.nonce_ttl, cfg.auth.max_failures, cfg.auth.failure_window) == (300, 5, 300)
    assert (cfg.registrar.min_expires, cfg.registrar.max_expires,
            cfg.registrar.default_expires) == (60, 3600, 3600)
    assert (cfg.sip.t1, cfg.sip.t2, cfg.sip.t4, cfg.sip.max_message_size) == (0.5, 4.0, 5.0, 65535)
    assert cfg.sip.user_agent == "ccswitch/0.1"
    assert cfg.sip.overload_lag == 0.1
    assert cfg.realm == "ccswitch.local"
    assert cfg.users == {} and cfg.queues == {} and cfg.dialplan.numbers == {}


def test_realm_defaults_to_first_domain_and_can_be_set() -> None:
    assert parse_config('domains = ["Example.COM", "b.org"]', "f").realm == "example.com"
    assert parse_config('domains = ["a.org"]\nrealm = "Call Center"', "f").realm == "Call Center"


def test_config_is_immutable(demo: SwitchConfig) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.data_dir = "/tmp"  # type: ignore[misc]
    with pytest.raises(TypeError):
        demo.users["x"] = demo.users["1001"]  # type: ignore[index]


def test_passwords_stay_out_of_repr(demo: SwitchConfig) -> None:
    assert "pw1001" not in repr(demo)


@pytest.mark.parametrize(("text", "expected"), [
    ("udp:127.0.0.1:5060", ListenUri("udp", "127.0.0.1", 5060)),
    ("TCP:example.com:5080", ListenUri("tcp", "example.com", 5080)),
    ("tcp:0.0.0.0:5061", ListenUri("tcp", "0.0.0.0", 5061)),
    ("udp:localhost:8088", ListenUri("udp", "localhost", 8088)),
    ("tcp:[::1]:443", ListenUri("tcp", "::1", 443)),
    ("udp:[2001:db8::5]:5060", ListenUri("udp", "2001:db8::5", 5060)),
])
def test_parse_listen(text: str, expected: ListenUri) -> None:
    uri = parse_listen(text)
    assert uri == expected
    assert parse_listen(str(uri)) == uri


@pytest.mark.parametrize(("text", "fault"), [
    ("127.0.0.1:5060", "unknown transport"),
    ("udp", "expected TRANSPORT:HOST:PORT"),
    ("sctp:1.2.3.4:5060", "unknown transport"),
    ("udp:1.2.3.4", "expected HOST:PORT"),
    ("udp:1.2.3.4:0", "port must be"),
    ("udp:1.2.3.4:65536", "port must be"),
    ("udp:1.2.3.4:50x", "port must be"),
    ("udp:1.2.3.4:", "port must be"),
    ("udp:::1:5060", "brackets"),
    ("udp:[::1:5060", "unclosed"),
    ("udp:[::g]:5060", "bad IPv6"),
    ("udp:[::1]5060", "expected [IPV6]:PORT"),
    ("udp:1.2.3.400:5060", "bad IPv4"),
    ("udp:bad host:5060", "bad host"),
    ("udp::5060", "bad host"),
])
def test_parse_listen_rejects(text: str, fault: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(fault)):
        parse_listen(text)


def test_config_value_error_is_a_value_error() -> None:
    assert issubclass(ConfigValueError, ValueError)


def test_parse_port_range_and_hostport() -> None:
    assert parse_port_range("20000-20999") == (20000, 20999)
    assert parse_port_range("10000 - 10001") == (10000, 10001)
    for bad, fault in [("20000", "LO-HI"), ("20001-20999", "even"), ("20000-20000", "below"),
                       ("3000-2000", "below"), ("0-100", "port"), ("2-70000", "port")]:
        with pytest.raises(ConfigValueError, match=fault):
            parse_port_range(bad)
    assert parse_hostport("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_hostport("[::1]:80") == ("::1", 80)
    with pytest.raises(ConfigValueError):
        parse_hostport("8080")


# -- users -------------------------------------------------------------------------------------


def test_user_ranges_names_and_templates() -> None:
    cfg = parse_config("""
[[users]]
range = "0098-0101"
password = "s{ecret}-{user}"
[[users]]
name = "alice.smith"
password = "x"
display = "Alice {user}"
algorithms = ["sha-256", "MD5"]
agent = { skills = { english = 5, billing = 10 }, auto_answer = true }
""", "f.toml")
    assert list(cfg.users) == ["0098", "0099", "0100", "0101", "alice.smith"]
    assert cfg.users["0100"].password == "s{ecret}-0100"
    alice = cfg.users["alice.smith"]
    assert alice.display == "Alice alice.smith"
    assert alice.algorithms == ("SHA-256", "MD5")
    assert cfg.algorithms_for("alice.smith") == ("SHA-256", "MD5")
    assert cfg.algorithms_for("0098") == ("MD5",)
    assert alice.agent is not None
    assert alice.agent.queues == ()
    assert dict(alice.agent.skills) == {"english": 5, "billing": 10}
    assert alice.agent.auto_answer is True


def test_queue_settings_and_overflow() -> None:
    cfg = parse_config("""
[queues.a]
strategy = "round_robin"
ring_timeout = 12.5
max_wait = 60
max_waiting = 3
overflow = "queue:b"
skills = { english = 3 }
record = false
[queues.b]
overflow = "echo"
""", "q.toml")
    a = cfg.queues["a"]
    assert (a.strategy, a.ring_timeout, a.wrapup, a.max_wait, a.max_waiting) == (
        "round_robin", 12.5, 5.0, 60.0, 3)
    assert (a.overflow, dict(a.skills), a.record) == (QueueTarget("b"), {"english": 3}, False)
    assert cfg.queues["b"].overflow == ServiceTarget("echo") and cfg.queues["b"].max_wait is None


# -- overrides -------------------------------------------------------------------------------


def test_apply_overrides_replaces_given_values_only(demo: SwitchConfig) -> None:
    cfg = apply_overrides(demo, listen=["udp:0.0.0.0:5070", "tcp:[::1]:8088"],
                          rtp_ports="30000-30099", data_dir="/srv/cc", http="[::1]:9000",
                          log_format="json", log_level="DEBUG")
    assert cfg.listen == (ListenUri("udp", "0.0.0.0", 5070), ListenUri("tcp", "::1", 8088))
    assert cfg.rtp_ports == (30000, 30099)
    assert (cfg.data_dir, cfg.http) == ("/srv/cc", ("::1", 9000))
    assert (cfg.log_format, cfg.log_level) == ("json", "debug")
    assert cfg.users == demo.users and cfg.queues == demo.queues
    assert apply_overrides(demo) == demo
    assert apply_overrides(demo, listen=[]) == demo
    assert apply_overrides(cfg, log_format="auto").log_format is None


@pytest.mark.parametrize(("kwargs", "key", "fault"), [
    ({"listen": ["udp:1.2.3.4:5060", "bogus"]}, "--listen", "expected TRANSPORT"),
    ({"listen": ["udp:1.2.3.4:5060", "udp:1.2.3.4:5060"]}, "--listen", "twice"),
    ({"rtp_ports": "21-30"}, "--rtp-ports", "even"),
    ({"http": "localhost"}, "--http", "HOST:PORT"),
    ({"data_dir": ""}, "--data-dir", "empty"),
    ({"log_format": "xml"}, "--log-format", "console"),
    ({"log_level": "loud"}, "--log-level", "debug"),
])
def test_apply_overrides_errors_name_the_flag(kwargs: dict[str, object], key: str,
                                              fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(SwitchConfig(), **kwargs)  # type: ignore[arg-type]
    assert info.value.file == "command line"
    assert info.value.key == key
    assert fault in info.value.fault


# -- errors: each names the file, the key and the line ---------------------------------------

USERS = """\
[[users]]
name = "a"
password = "x"

[[users]]
name = "b"
password = "y"
"""

QUEUES = """\
[queues.support]
wrapup = 5
"""

# (toml text, dotted key, line, a piece of the fault)
ERRORS = [
    ('domains = ["a"\nlisten = 3\n', "TOML syntax", 2, "column"),
    ('listne = ["udp:127.0.0.1:5060"]\n', "listne", 1, "unknown key (did you mean 'listen'?)"),
    ('data_dir = "x"\n\n[auth]\nalgorithms = ["MD5", "SHA-512"]\n', "auth.algorithms[1]", 4,
     "unsupported algorithm"),
    ('[auth]\nalgorithms = []\n', "auth.algorithms", 2, "must not be empty"),
    ('[auth]\nalgorithms = ["MD5", "md5"]\n', "auth.algorithms[1]", 2, "twice"),
    ('[auth]\nnonce_ttl = -1\n', "auth.nonce_ttl", 2, "positive"),
    ('[auth]\nmax_failures = true\n', "auth.max_failures", 2, "must be an integer"),
    ('[auth]\nnonce_tl = 3\n', "auth.nonce_tl", 2, "did you mean 'nonce_ttl'"),
    ('listen = [\n  "udp:127.0.0.1:5060",\n  "udp:127.0.0.1:99999",\n]\n', "listen[1]", 1,
     "port must be"),
    ('listen = ["udp:127.0.0.1:5060", "udp:127.0.0.1:5060"]\n', "listen[1]", 1, "twice"),
    ('listen = "udp:127.0.0.1:5060"\n', "listen", 1, "must be an array"),
    ('rtp_ports = "20999-20000"\n', "rtp_ports", 1, "below"),
    ('rtp_ports = "20001-20999"\n', "rtp_ports", 1, "even"),
    ('http = "127.0.0.1"\n', "http", 1, "HOST:PORT"),
    ('log_format = "text"\n', "log_format", 1, "console"),
    ('log_level = "verbose"\n', "log_level", 1, "debug"),
    ('domains = []\n', "domains", 1, "must not be empty"),
    ('domains = ["bad domain"]\n', "domains[0]", 1, "not a valid domain"),
    ('realm = "a\\"b"\n', "realm", 1, "must not contain"),
    ('data_dir = ""\n', "data_dir", 1, "must not be empty"),
    (USERS + 'display = 5\n', "users[1].display", 8, "must be a string"),
    (USERS + '\n[[users]]\nname = "c"\npassword = 7\n', "users[2].password", 11,
     "must be a string"),
    (USERS + '\n[[users]]\nname = "c"\n', "users[2].password", 9, "missing"),
    (USERS + '\n[[users]]\nname = "c"\npasword = "z"\n', "users[2].pasword", 11,
     "did you mean 'password'"),
    (USERS + '\n[[users]]\nname = "c"\nrange = "1-2"\npassword = "z"\n', "users[2]", 9,
     "exactly one of 'name' or 'range'"),
    (USERS + '\n[[users]]\nrange = "0-5"\npassword = "z{user}"\n[[users]]\nname = "3"\n'
     'password = "z"\n', "users[3].name", 13, "already defined by users[2]"),
    (USERS + '\n[[users]]\nname = "b"\npassword = "z"\n', "users[2].name", 10,
     "already defined by users[1]"),
    (USERS + '\n[[users]]\nname = "bad name"\npassword = "z"\n', "users[2].name", 10,
     "not a valid user name"),
    (USERS + '\n[[users]]\nrange = "20-10"\npassword = "z"\n', "users[2].range", 10,
     "must not exceed"),
    (USERS + '\n[[users]]\nrange = "1001..1020"\npassword = "z"\n', "users[2].range", 10,
     "FIRST-LAST"),
    (USERS + '\n[[users]]\nrange = "1-100000"\npassword = "z"\n', "users[2].range", 10,
     "more than"),
    (USERS + '\n[[users]]\nname = "c"\npassword = "z"\nalgorithms = ["MD5", "SHA1"]\n',
     "users[2].algorithms[1]", 12, "unsupported algorithm"),
    ("users = 5\n", "users", 1, "must be an array"),
    ('users = [5]\n', "users[0]", 1, "must be a table"),
    (QUEUES + USERS + 'agent = { queues = ["support", "sales"] }\n', "users[1].agent.queues[1]",
     10, "queue 'sales' is not declared"),
    (QUEUES + USERS + 'agent = { queues = ["support"], skils = { a = 1 } }\n',
     "users[1].agent.skils", 10, "did you mean 'skills'"),
    (QUEUES + USERS + 'agent = { skills = { english = 11 } }\n',
     "users[1].agent.skills.english", 10, "must be 1-10"),
    (QUEUES + USERS + 'agent = { auto_answer = "yes" }\n', "users[1].agent.auto_answer", 10,
     "true or false"),
    # features to come are refused, never accepted and ignored
    (QUEUES + '[[users]]\nrange = "1-2"\npassword = "p"\nagent = { token = "t{user}" }\n',
     "users[0].agent.token", 6, "is an [[api.tokens]] entry with role = \"agent\""),
    ('[api_tokens]\nadmin = "t1"\n', "api_tokens", 1, "API tokens are [[api.tokens]] entries"),
    ('listen = ["tls:127.0.0.1:5061"]\n', "listen[0]", 1, "transport 'tls' is not supported yet"),
    ('listen = ["udp:127.0.0.1:5060", "ws:127.0.0.1:8088"]\n', "listen[1]", 1,
     "transport 'ws' is not supported yet"),
    ('listen = ["wss:127.0.0.1:8089"]\n', "listen[0]", 1, "not supported yet"),
    (QUEUES + 'overflow = "voicemail:a b"\n', "queues.support.overflow", 3,
     "not a valid mailbox name"),
    (QUEUES + 'on_timeout = "transfer:5551234"\n', "queues.support.on_timeout", 3,
     "'5551234' is not a number of this dial plan (calls to outside numbers are not supported yet"),
    ('[dialplan.numbers]\n555 = "transfer:5551234"\n', "dialplan.numbers.555", 2,
     "a menu or a queue rule takes number:NUMBER"),
    ('[dialplan.numbers]\n555 = "number:5551234"\n', "dialplan.numbers.555", 2,
     "cannot be used here"),
    (QUEUES + 'strategy = "fastest"\n', "queues.support.strategy", 3, "unknown strategy"),
    (QUEUES + 'overflow = "queue:support"\n', "queues.support.overflow", 3, "itself"),
    (QUEUES + 'overflow = "queue:nowhere"\n', "queues.support.overflow", 3,
     "queue 'nowhere' does not exist"),
    (QUEUES + 'ring_timeout = "20"\n', "queues.support.ring_timeout", 3, "number of seconds"),
    (QUEUES + 'max_waiting = 0\n', "queues.support.max_waiting", 3, "at least 1"),
    ('[queues."bad name"]\n', "queues.\"bad name\"", 1, "not a valid queue name"),
    ('[queues]\nsupport = 3\n', "queues.support", 2, "must be a table"),
    (QUEUES + '\n[dialplan.numbers]\n800 = "queue:sales"\n', "dialplan.numbers.800", 5,
     "queue 'sales' does not exist"),
    ('[dialplan.numbers]\n"9196" = "echo"\n"700" = "ivr:main"\n', "dialplan.numbers.700", 3,
     "IVR 'main' does not exist"),
    ('[dialplan.numbers]\n9196 = "echoo"\n', "dialplan.numbers.9196", 2, "unknown action"),
    ('[dialplan.numbers]\n9196 = "echo:loud"\n', "dialplan.numbers.9196", 2,
     "echo takes no argument"),
    ('[dialplan.numbers]\n555 = "user:nobody"\n', "dialplan.numbers.555", 2,
     "user 'nobody' does not exist"),
    (USERS + '[dialplan.numbers]\nb = "echo"\n', "dialplan.numbers.b", 9, "also a user"),
    ('[dialplan]\nnumber = { 1 = "echo" }\n', "dialplan.number", 2, "did you mean 'numbers'"),
    ('[registrar]\nmin_expires = 7200\n', "registrar.min_expires", 2, "max_expires"),
    ('[registrar]\ndefault_expires = 10\n', "registrar.default_expires", 2, "between"),
    ('[registrar]\nmax_contacts = 0\n', "registrar.max_contacts", 2, "must be 1-"),
    ('[sip]\nt1 = 2\nt2 = 1\n', "sip.t2", 3, "below t1"),
    ('[sip]\nmax_message_size = 100\n', "sip.max_message_size", 2, "must be 1500-"),
    ('[sip]\noverload_lag = 0.0005\n', "sip.overload_lag", 2, "must be 0.001-10 seconds"),
    ('[sip]\noverload_lag = "fast"\n', "sip.overload_lag", 2, "number of seconds"),
    ('[sip]\nuser_agent = "x\\r\\nEvil: 1"\n', "sip.user_agent", 2, "control characters"),
    ('sip = 3\n', "sip", 1, "must be a table"),
]


@pytest.mark.parametrize(("text", "key", "line", "fault"), ERRORS,
                         ids=[f"{i}-{e[1]}" for i, e in enumerate(ERRORS)])
def test_error_names_file_key_line_and_fault(text: str, key: str, line: int,
                                              fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    err = info.value
    assert (err.file, err.key, err.line) == ("site.toml", key, line), str(err)
    assert fault in err.fault
    assert str(err) == f"site.toml:{line}: {key}: {err.fault}"


def test_line_search_skips_comments_and_finds_inline_keys() -> None:
    text = ('# password = "in a comment"\n'
            '[[users]]  # first\n'
            '# name = 1\n'
            'name = "a" # password = 1\n'
            'agent = {"queues" = ["nope"]}\n')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "f")
    assert (info.value.key, info.value.line) == ("users[0].password", 2)
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("name = \"a\"", 'name = "a"\npassword = "p"'), "f")
    assert (info.value.key, info.value.line) == ("users[0].agent.queues[0]", 6)


def test_error_without_a_findable_line_omits_it() -> None:
    # an inline array of tables leaves no header to find, but the top key is still found
    with pytest.raises(ConfigError) as info:
        parse_config('x = 1\nusers = [{ name = "a" }]\n', "f")
    assert info.value.key == "x" and info.value.line == 1
    with pytest.raises(ConfigError) as info:
        parse_config('users = [{ name = "a" }]\n', "f")
    assert info.value.key == "users[0].password"
    assert info.value.line == 1


# -- any text: a config or one ConfigError on one line ---------------------------------------

DEMO_TEXT = DEMO.read_text(encoding="utf-8")


def parses_or_fails_cleanly(text: str) -> None:
    try:
        parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("fuzz.toml")
        assert "\n" not in message and "\r" not in message
        assert exc.line is None or 1 <= exc.line <= text.count("\n") + 1


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(DEMO_TEXT)), st.integers(0, 40), st.text(max_size=12))
def test_mutated_demo_parses_or_fails_cleanly(at: int, cut: int, insert: str) -> None:
    parses_or_fails_cleanly(DEMO_TEXT[:at] + insert + DEMO_TEXT[at + cut:])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    parses_or_fails_cleanly(text)


def test_odd_keys_are_quoted_and_escaped_in_messages() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('"a\\nb" = 1\n', "f")
    assert info.value.key == '"a\\nb"'


def test_line_numbers_count_only_newlines() -> None:
    text = '# a \u2028 line separator is no newline in TOML\r\nrealm = 5\r\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "f")
    assert (info.value.key, info.value.line) == ("realm", 2)


def test_media_wake_mode() -> None:
    assert parse_config('[media]\nwake = "ready"\n', "w.toml").media.wake == "ready"
    assert parse_config("", "w.toml").media.wake == "tick"
    with pytest.raises(ConfigError) as info:
        parse_config('[media]\nwake = "often"\n', "w.toml")
    assert info.value.key == "media.wake" and info.value.line == 2
