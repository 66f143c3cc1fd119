"""``[ivr.NAME]`` menus in the configuration: what parses, and every fault with its key and line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_ivr_flow import Line

from ccswitch.config import BUILTIN_IVRS, SwitchConfig, parse_config
from ccswitch.config.ivr import MENU_KEYS, PROMPT_NAME
from ccswitch.dialplan import IvrTarget
from ccswitch.errors import ConfigError
from ccswitch.ivr.flow import CancelPlay, HandOff, QueueReq, StartPlay
from ccswitch.ivr.menu import DEMO_MENUS, Menu, check_action, menu_flow
from ccswitch.prompts import prompt_names

ROOT = Path(__file__).resolve().parents[2]

SITE = """\
[queues.support]
[queues.sales]

[[users]]
name = "1001"
password = "x"
"""

MAIN = SITE + """
[ivr.main]
greeting = ["welcome", "please-hold"]
prompt = "main-menu"
timeout = 7.5
retries = 2
max_digits = 2
invalid = ["invalid", "digits/1"]
default = ["play:goodbye", "hangup"]

[ivr.main.choices]
1 = "queue:sales"
2 = ["priority:5", "skill:english=3", "set:lang=en", "queue:support"]
"0" = "user:1001"
"*" = "menu:sub"
"#" = "menu:main"
12 = "user:1001"
"99" = ["play:recorded", "hangup"]
7 = "echo"
8 = "tone"

[ivr.sub]
prompt = "main-menu"
choices = { 1 = "menu:demo", 2 = "menu:main" }

[dialplan.numbers]
700 = "ivr:main"
701 = "ivr:demo"
"""


def parse(text: str, prompts: list[str] | None = None) -> SwitchConfig:
    return parse_config(text, "site.toml", prompts=prompts)


# -- what parses ----------------------------------------------------------------------------------


def test_a_full_menu() -> None:
    cfg = parse(MAIN)
    main = cfg.menus["main"]
    assert main == Menu(
        name="main", prompt=("main-menu",), greeting=("welcome", "please-hold"), timeout=7.5,
        retries=2, max_digits=2, invalid=("invalid", "digits/1"),
        default=("play:goodbye", "hangup"),
        choices={
            "1": ("queue:sales",),
            "2": ("priority:5", "skill:english=3", "set:lang=en", "queue:support"),
            "0": ("user:1001",), "*": ("menu:sub",), "#": ("menu:main",),
            "12": ("user:1001",), "99": ("play:recorded", "hangup"),
            "7": ("echo",), "8": ("tone",),
        })
    assert isinstance(main.timeout, float)
    assert list(cfg.menus) == ["main", "sub", "demo"]
    assert cfg.menus["demo"] is DEMO_MENUS["demo"]
    assert cfg.menus["sub"] == Menu("sub", ("main-menu",),
                                    {"1": ("menu:demo",), "2": ("menu:main",)})
    assert cfg.dialplan.numbers["700"] == IvrTarget("main")


def test_menus_are_immutable() -> None:
    cfg = parse(MAIN)
    with pytest.raises(TypeError):
        cfg.menus["x"] = cfg.menus["main"]  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.menus["main"].choices["5"] = ("hangup",)  # type: ignore[index]


def test_defaults_of_a_menu() -> None:
    cfg = parse('[ivr.m]\nprompt = "main-menu"\n')
    assert cfg.menus["m"] == Menu("m", ("main-menu",))
    assert cfg.menus["m"].default == ("hangup",) and cfg.menus["m"].choices == {}


def test_no_ivr_table_keeps_the_builtin_demo() -> None:
    assert parse("").menus == DEMO_MENUS == SwitchConfig().menus
    assert tuple(DEMO_MENUS) == BUILTIN_IVRS
    assert parse('[dialplan.numbers]\n700 = "ivr:demo"\n').menus == DEMO_MENUS


def test_the_file_may_redefine_the_demo() -> None:
    cfg = parse(SITE + '[ivr.demo]\nprompt = "main-menu"\nchoices = { 5 = "queue:sales" }\n')
    assert cfg.menus["demo"] == Menu("demo", ("main-menu",), {"5": ("queue:sales",)})
    assert list(cfg.menus) == ["demo"]


def test_shipped_demo_spells_out_the_builtin_menu() -> None:
    for path in (ROOT / "configs" / "demo.toml",
                 ROOT / "src" / "ccswitch" / "config" / "demo.toml"):
        text = path.read_text(encoding="utf-8")
        assert "[ivr.demo]" in text
        cfg = parse_config(text, "demo.toml", prompts=prompt_names())
        assert cfg.menus == DEMO_MENUS


def test_a_parsed_menu_runs() -> None:
    cfg = parse(MAIN)
    line = Line(menu_flow(cfg.menus, "main"))
    assert line.start() == [StartPlay(1, ("welcome", "please-hold"))]
    assert line.play_done() == [StartPlay(2, ("main-menu",))]
    assert line.digits("2") == [CancelPlay(2)]  # max_digits 2: waits for another key
    assert line.fire() == [HandOff(QueueReq("support", 5, {"english": 3}))]
    assert line.call.vars == {"lang": "en", "menu_main": "2"}


def test_every_parsed_action_passes_check_action() -> None:
    for menu in parse(MAIN).menus.values():
        for actions in (*menu.choices.values(), menu.default):
            assert all(check_action(a) is None for a in actions)


def test_known_prompts_when_given() -> None:
    known = prompt_names()
    assert {"welcome", "main-menu", "invalid", "digits/1", "goodbye", "recorded",
            "please-hold"} <= set(known)
    assert parse(MAIN, prompts=known).menus["main"].greeting == ("welcome", "please-hold")
    assert all(PROMPT_NAME.fullmatch(name) for name in known)
    # without the list, any well-formed name passes; the switch checks at start-up
    assert parse('[ivr.m]\nprompt = "not-shipped"\n').menus["m"].prompt == ("not-shipped",)


def test_menu_keys_are_the_menu_fields() -> None:
    assert set(MENU_KEYS) == {f.name for f in dataclasses.fields(Menu)} - {"name"}


# -- errors: the file, the key path, the line, the fault -

M = "[ivr.m]\n"  # line 1
P = 'prompt = "main-menu"\n'  # line 2

# (toml text, dotted key, line, a piece of the fault)
ERRORS = [
    ("ivr = 3\n", "ivr", 1, "must be a table"),
    ("[ivr]\nm = 3\n", "ivr.m", 2, "must be a table"),
    ('[ivr."bad name"]\n' + P, 'ivr."bad name"', 1, "not a valid menu name"),
    (M + "timeout = 5\n", "ivr.m.prompt", 1, "missing"),
    (M + P + "promt = 'x'\n", "ivr.m.promt", 3, "did you mean 'prompt'"),
    (M + P + "choice = {}\n", "ivr.m.choice", 3, "did you mean 'choices'"),
    (M + "prompt = 5\n", "ivr.m.prompt", 2, "must be a prompt (name or audio file) or an array"),
    (M + "prompt = []\n", "ivr.m.prompt", 2, "must not be empty"),
    (M + 'prompt = ""\n', "ivr.m.prompt", 2, "must not be empty"),
    (M + 'prompt = "Main Menu"\n', "ivr.m.prompt", 2, "not a valid prompt name"),
    (M + 'prompt = "bell\\u0007.wav"\n', "ivr.m.prompt", 2, "must not contain control"),
    (M + 'prompt = ["welcome", "Welcome"]\n', "ivr.m.prompt[1]", 2, "not a valid prompt name"),
    (M + 'prompt = ["welcome", 3]\n', "ivr.m.prompt[1]", 2, "must be a string"),
    (M + P + 'greeting = "a//b"\n', "ivr.m.greeting", 3, "not a valid prompt name"),
    (M + P + 'invalid = { a = 1 }\n', "ivr.m.invalid", 3, "got a table"),
    (M + P + "timeout = 0\n", "ivr.m.timeout", 3, "positive number of seconds"),
    (M + P + 'timeout = "5"\n', "ivr.m.timeout", 3, "number of seconds"),
    (M + P + "retries = -1\n", "ivr.m.retries", 3, "must be 0-10"),
    (M + P + "retries = 11\n", "ivr.m.retries", 3, "must be 0-10"),
    (M + P + "retries = 1.5\n", "ivr.m.retries", 3, "must be an integer"),
    (M + P + "max_digits = 0\n", "ivr.m.max_digits", 3, "must be 1-20"),
    (M + P + "max_digits = true\n", "ivr.m.max_digits", 3, "must be an integer"),
    (M + P + "default = []\n", "ivr.m.default", 3, "must not be empty"),
    (M + P + 'default = "jump"\n', "ivr.m.default", 3, "unknown action 'jump'"),
    (M + P + 'default = ["play:bye", 7]\n', "ivr.m.default[1]", 3, "must be a string"),
    (M + P + "choices = 1\n", "ivr.m.choices", 3, "must be a table"),
    (M + P + "[ivr.m.choices]\n1 = []\n", "ivr.m.choices.1", 4, "must not be empty"),
    (M + P + "[ivr.m.choices]\n1 = 2\n", "ivr.m.choices.1", 4,
     "must be an action or an array of them, got an integer"),
    (M + P + '[ivr.m.choices]\n1 = "hangup"\nA = "hangup"\n', "ivr.m.choices.A", 5,
     "not a key sequence"),
    (M + P + '[ivr.m.choices]\n"" = "hangup"\n', 'ivr.m.choices.""', 4, "not a key sequence"),
    (M + P + '[ivr.m.choices]\n"1 " = "hangup"\n', 'ivr.m.choices."1 "', 4,
     "not a key sequence"),
    (M + P + '[ivr.m.choices]\n12 = "hangup"\n', "ivr.m.choices.12", 4,
     "more keys than max_digits (1)"),
    (M + P + 'max_digits = 2\n[ivr.m.choices]\n"1*#" = "hangup"\n', 'ivr.m.choices."1*#"', 5,
     "max_digits (2)"),
    (M + P + '[ivr.m.choices]\n1 = "hangup:now"\n', "ivr.m.choices.1", 4, "takes no argument"),
    (M + P + '[ivr.m.choices]\n1 = "ivr:demo"\n', "ivr.m.choices.1", 4,
     "unknown action 'ivr:demo' (a menu goes to another menu with menu:NAME)"),
    (M + P + '[ivr.m.choices]\n1 = "menu:nowhere"\n', "ivr.m.choices.1", 4,
     "menu 'nowhere' does not exist"),
    (M + P + '[ivr.m.choices]\n1 = "queue:sales"\n', "ivr.m.choices.1", 4,
     "queue 'sales' does not exist"),
    (M + P + '[ivr.m.choices]\n1 = "user:1002"\n', "ivr.m.choices.1", 4,
     "user '1002' does not exist"),
    (M + P + '[ivr.m.choices]\n1 = "voicemail:a b"\n', "ivr.m.choices.1", 4,
     "not a valid mailbox name"),
    (M + P + '[ivr.m.choices]\n1 = "transfer:1234"\n', "ivr.m.choices.1", 4,
     "'1234' is not a number of this dial plan (calls to outside numbers are not"),
    (M + P + '[ivr.m.choices]\n1 = "room:x"\n', "ivr.m.choices.1", 4,
     "room 'x' does not exist"),
    ('[rooms.x]\n' + M + P + '[ivr.m.choices]\n1 = ["room:x", "hangup"]\n',
     "ivr.m.choices.1[1]", 5,
     "never runs"),
    (M + P + '[ivr.m.choices]\n1 = "play:Hello"\n', "ivr.m.choices.1", 4,
     "not a valid prompt name"),
    (M + P + '[ivr.m.choices]\n1 = "play:"\n', "ivr.m.choices.1", 4, "needs an argument"),
    (M + P + '[ivr.m.choices]\n1 = "set:lang"\n', "ivr.m.choices.1", 4, "NAME=VALUE"),
    (M + P + '[ivr.m.choices]\n1 = "set:=en"\n', "ivr.m.choices.1", 4,
     "set needs NAME=VALUE"),
    (M + P + '[ivr.m.choices]\n1 = "set:my var=en"\n', "ivr.m.choices.1", 4,
     "not a valid variable name"),
    (M + P + '[ivr.m.choices]\n1 = "set:x=a\\u0000b"\n', "ivr.m.choices.1", 4,
     "control characters"),
    (M + P + '[ivr.m.choices]\n1 = "skill:=3"\n', "ivr.m.choices.1", 4,
     "skill needs NAME=VALUE"),
    (M + P + '[ivr.m.choices]\n1 = "skill:english=0"\n', "ivr.m.choices.1", 4, "1-10"),
    (M + P + '[ivr.m.choices]\n1 = "skill:english=11"\n', "ivr.m.choices.1", 4, "1-10"),
    (M + P + '[ivr.m.choices]\n1 = "skill:english=\u00b2"\n', "ivr.m.choices.1", 4, "1-10"),
    (M + P + '[ivr.m.choices]\n1 = "priority:--5"\n', "ivr.m.choices.1", 4, "integer"),
    (M + P + '[ivr.m.choices]\n1 = "priority:\u00b2"\n', "ivr.m.choices.1", 4, "integer"),
    (M + P + '[ivr.m.choices]\n1 = "priority:1e3"\n', "ivr.m.choices.1", 4, "integer"),
    (M + P + '[ivr.m.choices]\n1 = ["hangup", "play:welcome"]\n', "ivr.m.choices.1[1]", 4,
     "never runs: the action before it ('hangup') hangs up"),
    (M + P + '[ivr.m.choices]\n1 = ["echo", "hangup"]\n', "ivr.m.choices.1[1]", 4,
     "hands the call over"),
    (M + P + '[ivr.m.choices]\n1 = ["play:welcome", "menu:m", "set:a=b"]\n',
     "ivr.m.choices.1[2]", 4, "goes to another menu"),
    (M + P + 'default = ["menu:demo", "hangup"]\n', "ivr.m.default[1]", 3,
     "goes to another menu"),
    (SITE + '\n[ivr.m]\nprompt = "main-menu"\n\n[ivr.m.choices]\n1 = "queue:support"\n'
     '2 = ["priority:x", "queue:sales"]\n', "ivr.m.choices.2[0]", 13, "integer"),
    (M + P + '\n[ivr.n]\nprompt = "main-menu"\ndefault = "menu:o"\n', "ivr.n.default", 6,
     "menu 'o' does not exist"),
    ('[dialplan.numbers]\n700 = "ivr:main"\n', "dialplan.numbers.700", 2,
     "IVR 'main' does not exist"),
    (M + P + '[dialplan.numbers]\n700 = "ivr:m"\n701 = "ivr:n"\n', "dialplan.numbers.701", 5,
     "IVR 'n' does not exist"),
    (M + P + '[queues.q]\noverflow = "ivr:x"\n', "queues.q.overflow", 4,
     "IVR 'x' does not exist"),
]


@pytest.mark.parametrize(("text", "key", "line", "fault"), ERRORS,
                         ids=[f"{i}-{e[1]}" for i, e in enumerate(ERRORS)])
def test_error_names_file_key_line_and_fault(text: str, key: str, line: int,
                                              fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    err = info.value
    assert (err.file, err.key, err.line) == ("site.toml", key, line), str(err)
    assert fault in err.fault, err.fault
    assert str(err) == f"site.toml:{line}: {key}: {err.fault}"


@pytest.mark.parametrize(("text", "key", "line"), [
    (M + 'prompt = "no-such-prompt"\n', "ivr.m.prompt", 2),
    (M + P + 'greeting = ["welcome", "nope"]\n', "ivr.m.greeting[1]", 3),
    (M + P + 'invalid = "nope"\n', "ivr.m.invalid", 3),
    (M + P + 'default = ["play:nope", "hangup"]\n', "ivr.m.default[0]", 3),
    (M + P + '[ivr.m.choices]\n"#" = "play:nope"\n', 'ivr.m.choices."#"', 4),
])
def test_unknown_prompts_are_errors_when_the_known_names_are_given(text: str, key: str,
                                                                    line: int) -> None:
    parse(text)  # well-formed names
    with pytest.raises(ConfigError) as info:
        parse(text, prompts=prompt_names())
    assert (info.value.key, info.value.line) == (key, line), str(info.value)
    assert info.value.fault.startswith("unknown prompt '")


def test_ivr_is_a_known_top_level_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse("ivrs = {}\n")
    assert info.value.fault == "unknown key (did you mean 'ivr'?)"
