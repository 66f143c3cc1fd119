"""Tone menus run as flows: the demo IVR 700, retries, invalid keys, actions and check_action."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pytest
from test_ivr_flow import Line

from ccswitch.ivr.flow import (
    Action,
    CancelPlay,
    FlowDone,
    HandOff,
    HangupReq,
    QueueReq,
    StartPlay,
    TransferReq,
)
from ccswitch.ivr.menu import (
    ACTION_KINDS,
    DEMO_MENUS,
    Menu,
    MenuError,
    check_action,
    menu_flow,
)


def menus(*items: Menu) -> Mapping[str, Menu]:
    return MappingProxyType({m.name: m for m in items})


def choices(**by_key: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({k.removeprefix("k"): v for k, v in by_key.items()})


def demo() -> Line:
    line = Line(menu_flow(DEMO_MENUS, "demo"))
    assert line.start() == [StartPlay(1, ("welcome",))]
    assert line.at(2).play_done() == [StartPlay(2, ("main-menu",))]
    assert line.at(6).play_done() == []
    assert line.deadline() == 11.0
    return line


def plays(log: list[Action]) -> list[tuple[str, ...]]:
    return [a.prompts for a in log if isinstance(a, StartPlay)]


# -- the demo IVR 700 (CONTRACT.md) ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "handoff"), [
    ("1", QueueReq("sales")),
    ("2", QueueReq("support")),
    ("9", TransferReq("echo")),
])
def test_demo_choices(key: str, handoff: QueueReq | TransferReq) -> None:
    line = demo()
    assert line.at(7).digit(key) == [HandOff(handoff)]
    assert line.call.vars == {"menu_demo": key}
    assert line.runner.handed_off
    assert line.result("answered") == [FlowDone()]  # the menu ends with the hand-off


def test_demo_without_a_key_repeats_once_then_goes_to_support() -> None:
    line = demo()
    assert line.fire() == [StartPlay(3, ("main-menu",))]
    assert line.now == 11.0
    assert line.at(15).play_done() == []
    assert line.deadline() == 20.0  # 5 s after the repeated prompt ended
    assert line.fire() == [HandOff(QueueReq("support"))]
    assert plays(line.log) == [("welcome",), ("main-menu",), ("main-menu",)]
    assert "menu_demo" not in line.call.vars


def test_demo_key_during_the_greeting_is_the_choice() -> None:
    line = Line(menu_flow(DEMO_MENUS, "demo"))
    line.start()
    assert line.at(1).digit("1") == [CancelPlay(1), HandOff(QueueReq("sales"))]
    assert plays(line.log) == [("welcome",)]


def test_demo_key_during_the_menu_prompt() -> None:
    line = Line(menu_flow(DEMO_MENUS, "demo"))
    line.start()
    line.at(2).play_done()
    assert line.at(3).digit("2") == [CancelPlay(2), HandOff(QueueReq("support"))]


def test_demo_invalid_key_plays_invalid_then_repeats() -> None:
    line = demo()
    assert line.at(7).digit("5") == [StartPlay(3, ("invalid",))]
    assert line.at(8).play_done() == [StartPlay(4, ("main-menu",))]
    assert line.at(12).play_done() == []
    assert line.at(13).digit("9") == [HandOff(TransferReq("echo"))]
    assert plays(line.log) == [("welcome",), ("main-menu",), ("invalid",), ("main-menu",)]


def test_demo_two_invalid_keys_go_to_the_default() -> None:
    line = demo()
    line.at(7).digit("4")
    line.play_done()
    line.play_done()
    line.digit("*")
    assert line.play_done() == [HandOff(QueueReq("support"))]
    assert plays(line.log) == [("welcome",), ("main-menu",), ("invalid",), ("main-menu",),
                               ("invalid",)]


def test_key_during_the_invalid_prompt_is_the_next_choice() -> None:
    line = demo()
    line.at(7).digit("0")
    assert line.digit("1") == [CancelPlay(3), HandOff(QueueReq("sales"))]
    assert plays(line.log) == [("welcome",), ("main-menu",), ("invalid",)]


def test_a_greeting_is_played_once_per_menu() -> None:
    main = Menu("main", ("main-menu",), greeting=("welcome",),
                choices=choices(k1=("menu:sub",)), default=("hangup",))
    sub = Menu("sub", ("sub-menu",), greeting=("sub-hello",),
               choices=choices(k0=("menu:main",), k2=("queue:support",)))
    line = Line(menu_flow(menus(main, sub), "main"))
    line.start()
    line.play_done()
    line.play_done()
    assert line.digit("1") == [StartPlay(3, ("sub-hello",))]
    line.play_done()
    line.play_done()
    assert line.digit("0") == [StartPlay(5, ("main-menu",))]  # no second welcome
    line.play_done()
    line.digit("1")
    line.play_done()
    assert line.digit("2") == [HandOff(QueueReq("support"))]
    assert plays(line.log) == [("welcome",), ("main-menu",), ("sub-hello",), ("sub-menu",),
                               ("main-menu",), ("sub-menu",)]
    assert line.call.vars == {"menu_main": "1", "menu_sub": "2"}


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_retries_count_the_repeats(retries: int) -> None:
    menu = Menu("m", ("p",), choices=choices(k1=("hangup",)), retries=retries, timeout=2,
                default=("queue:fallback",))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    for _ in range(retries + 1):
        line.play_done()
        assert line.deadline() == line.now + 2
        line.fire()
    assert line.log[-1] == HandOff(QueueReq("fallback"))
    assert plays(line.log) == [("p",)] * (retries + 1)


def test_default_hangup_and_a_choice_to_hang_up() -> None:
    menu = Menu("m", ("p",), choices=choices(k3=("play:goodbye", "hangup")), retries=0)
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    line.play_done()
    assert line.fire() == [HandOff(HangupReq())]
    assert line.runner.done
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digit("3") == [CancelPlay(1), StartPlay(2, ("goodbye",))]
    assert line.digit("5") == []  # a play action cannot be interrupted
    assert line.play_done() == [HandOff(HangupReq())]


# -- actions --------------------------------------------------------------------------------------


def test_priority_skill_and_set_then_queue() -> None:
    menu = Menu("m", ("p",), choices=choices(
        k1=("priority:7", "skill:english=5", "skill:billing=2", "set:lang=en", "queue:support"),
        k2=("priority:-3", "queue:sales"),
    ))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digit("1") == [CancelPlay(1), HandOff(QueueReq("support", 7,
                                                               {"english": 5, "billing": 2}))]
    assert line.call.vars == {"menu_m": "1", "lang": "en"}
    assert (line.call.priority, line.call.skills) == (7, {"english": 5, "billing": 2})
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digit("2")[-1] == HandOff(QueueReq("sales", -3, None))


@pytest.mark.parametrize("action", ["user:1001", "echo", "tone"])
def test_other_handoffs_become_transfers(action: str) -> None:
    menu = Menu("m", ("p",), choices=choices(k7=(action,)))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digit("7") == [CancelPlay(1), HandOff(TransferReq(action))]
    assert line.result("failed") == [FlowDone()]


def test_actions_after_a_handoff_never_run() -> None:
    menu = Menu("m", ("p",), choices=choices(k1=("queue:a", "set:x=1", "play:never")))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    line.digit("1")
    assert line.result("overflow") == [FlowDone()]
    assert "x" not in line.call.vars
    assert plays(line.log) == [("p",)]


def test_play_then_menu_then_default_chain() -> None:
    first = Menu("first", ("p1",), retries=0, default=("play:sorry", "set:a=b", "menu:second"))
    second = Menu("second", ("p2",), retries=0, max_digits=3, timeout=4,
                  choices=choices(k123=("hangup",)))
    line = Line(menu_flow(menus(first, second), "first"))
    line.start()
    line.play_done()
    assert line.fire() == [StartPlay(2, ("sorry",))]
    assert line.play_done() == [StartPlay(3, ("p2",))]
    assert line.call.vars == {"a": "b"}
    line.play_done()
    assert line.digits("12") == []
    assert line.digit("3") == [HandOff(HangupReq())]


def test_multi_digit_choices_with_interdigit_and_terminator() -> None:
    menu = Menu("m", ("p",), max_digits=2,
                choices=choices(k1=("queue:one",), k12=("queue:twelve",)))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    line.play_done()
    assert line.digits("12") == [HandOff(QueueReq("twelve"))]
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    line.at(1).play_done()
    line.at(2).digit("1")
    assert line.deadline() == 5.0  # interdigit
    assert line.fire() == [HandOff(QueueReq("one"))]
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digits("1#") == [CancelPlay(1), HandOff(QueueReq("one"))]


def test_unknown_menus() -> None:
    with pytest.raises(MenuError, match="no menu 'nope'"):
        menu_flow(DEMO_MENUS, "nope")
    menu = Menu("m", ("p",), choices=choices(k1=("menu:gone",)))
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    assert line.digit("1") == [CancelPlay(1), FlowDone("MenuError: no menu 'gone'")]


def test_hangup_during_a_menu_ends_it_quietly() -> None:
    line = demo()
    assert line.hangup() == []
    assert line.runner.done
    assert line.digit("1") == [] and line.runner.next_deadline() is None


# -- check_action ---------------------------------------------------------------------------------

VALID = ["menu:main", "queue:support", "user:1001", "echo", "tone", "play:welcome",
         "play:digits/5", "set:lang=en", "set:x=", "priority:5",
         "priority:-2", "skill:english=5", "hangup", "room:850", "transfer:1002",
         "transfer:+33612345678", "queue:support;priority=4", "number:+15550700123"]


@pytest.mark.parametrize("action", VALID)
def test_check_action_accepts(action: str) -> None:
    assert check_action(action) is None


@pytest.mark.parametrize(("action", "fault"), [
    ("goto:main", "unknown action"),
    ("ivr:demo", "unknown action"),
    ("", "unknown action"),
    ("hangup:now", "takes no argument"),
    ("echo:", "takes no argument"),
    ("tone:440", "takes no argument"),
    ("queue", "needs an argument"),
    ("queue:", "needs an argument"),
    ("menu:", "needs an argument"),
    ("set:lang", "NAME=VALUE"),
    ("skill:english", "NAME=VALUE"),
    ("skill:english=high", "1-10"),
    ("priority:high", "integer"),
    ("priority:-", "integer"),
    ("transfer:", "transfer needs an argument"),
    ("transfer:12 34", "not a valid number"),
    ("room:", "room needs an argument"),
    ("voicemail:", "voicemail needs an argument"),
])
def test_check_action_rejects(action: str, fault: str) -> None:
    found = check_action(action)
    assert found is not None and fault in found


def test_every_action_kind_is_checked() -> None:
    assert {a.partition(":")[0] for a in VALID} == ACTION_KINDS


def test_demo_menu_is_valid() -> None:
    demo_menu = DEMO_MENUS["demo"]
    for actions in (*demo_menu.choices.values(), demo_menu.default):
        for action in actions:
            assert check_action(action) is None
    assert (demo_menu.timeout, demo_menu.retries, demo_menu.max_digits) == (5.0, 1, 1)


# -- bugs found by these tests, fixed -


@pytest.mark.parametrize("action", ["priority:--5", "priority:\u00b2", "skill:english=\u00b2",
                                    "skill:english=0", "skill:english=11", "skill:=3", "set:=v"])
def test_check_action_rejects_what_cannot_run(action: str) -> None:
    assert check_action(action) is not None


def test_a_choice_on_the_hash_key_can_be_chosen() -> None:
    menu = Menu("m", ("p",), choices=choices(k1=("queue:one",)) | {"#": ("queue:hash",)})
    line = Line(menu_flow(menus(menu), "m"))
    line.start()
    line.play_done()
    assert line.digit("#") == [HandOff(QueueReq("hash"))]

