"""Configuration of targets, rooms, supervisors, supervision codes and transfers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ccswitch.config import SwitchConfig, parse_config
from ccswitch.config.features import RoomConfig, SupervisionConfig, TransferConfig
from ccswitch.dialplan import (
    DEFAULT_CODES,
    DEFAULT_KEYS,
    Dialplan,
    HangupTarget,
    NumberTarget,
    QueueTarget,
    RoomTarget,
    SuperviseTarget,
    Supervisor,
    UserTarget,
    may_supervise,
)
from ccswitch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.toml"


@pytest.fixture(scope="module")
def demo() -> SwitchConfig:
    return parse_config(DEMO.read_text(encoding="utf-8"), "demo.toml")


# -- the demo (CONTRACT "Demo additions") ---------------------------------------------------


def test_demo_rooms(demo: SwitchConfig) -> None:
    # 850 is recorded (issue 9: "the room recording holds all three"); 851 is not
    assert demo.rooms == {"850": RoomConfig("850", record=True),
                          "851": RoomConfig("851", pin="4321")}
    assert demo.dialplan.numbers["850"] == RoomTarget("850")
    assert demo.dialplan.numbers["851"] == RoomTarget("851")


def test_demo_supervisor_and_codes(demo: SwitchConfig) -> None:
    assert demo.supervisors == {"1020": Supervisor("1020", frozenset({"support", "sales"}))}
    assert demo.supervision == SupervisionConfig()
    assert demo.supervision.codes == {"*31": "listen", "*32": "whisper", "*33": "barge"}
    assert demo.supervision.keys == {"4": "listen", "5": "whisper", "6": "barge"}
    agents = {name: u.agent.queues for name, u in demo.agents.items() if u.agent}
    sup = demo.supervisors.get
    assert all(may_supervise(sup("1020"), a, agents) for a in agents)
    assert not any(may_supervise(sup(u), "2001", agents) for u in demo.users if u != "1020")


def test_demo_transfers(demo: SwitchConfig) -> None:
    assert demo.transfer == TransferConfig(ring_timeout=30.0, recall=True)
    assert all(u.transfer for u in demo.users.values())


def test_demo_dialplan_resolves_the_contract_numbers(demo: SwitchConfig) -> None:
    plan = Dialplan.from_config(demo)
    assert plan.resolve("1001", caller="1002") == UserTarget("1001")
    assert plan.resolve("850", caller="1001") == RoomTarget("850")
    assert plan.resolve("*312001", caller="1020") == SuperviseTarget("listen", "2001")
    assert plan.resolve("*322010", caller="1020") == SuperviseTarget("whisper", "2010")
    assert plan.resolve("*332005", caller="1020") == SuperviseTarget("barge", "2005")
    assert plan.resolve("*311001", caller="1020") is None  # not an agent
    assert plan.resolve("*97", caller="1001") is None  # voicemail comes later


def test_check_config_accepts_the_demo_and_refuses_a_bad_room(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ccswitch", "check-config", str(path)],
                              capture_output=True, text=True, cwd=ROOT, timeout=60,
                              env={"PYTHONPATH": str(ROOT / "src")}, check=False)
    assert check(DEMO).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace('pin = "4321"', "pin = 4321"),
                   encoding="utf-8")
    proc = check(bad)
    assert proc.returncode == 2
    assert "rooms.851.pin" in proc.stderr and "string of digits" in proc.stderr


# -- defaults and values ----------------------------------------------------------------------


def test_defaults_when_left_out() -> None:
    cfg = parse_config('[[users]]\nname = "a"\npassword = "p"\n', "f.toml")
    assert (cfg.rooms, cfg.supervisors) == ({}, {})
    assert cfg.supervision == SupervisionConfig("*31", "*32", "*33", "4", "5", "6")
    assert (cfg.supervision.codes, cfg.supervision.keys) == (DEFAULT_CODES, DEFAULT_KEYS)
    assert cfg.transfer == TransferConfig(30.0, True)
    assert cfg.users["a"].transfer is True
    assert RoomConfig("r") == RoomConfig("r", None, 20, True, False, None)


def test_every_room_key() -> None:
    cfg = parse_config('[moh.jazz]\npath = "jazz/"\n[rooms.board]\npin = "0042"\n'
                       'max_members = 5\njoin_tones = false\nrecord = false\n'
                       'moh_when_alone = "jazz"\n[dialplan.numbers]\n860 = "room:board"\n',
                       "f.toml")
    assert cfg.rooms["board"] == RoomConfig("board", "0042", 5, False, False, "jazz")
    assert cfg.dialplan.numbers["860"] == RoomTarget("board")


def test_a_room_may_be_recorded() -> None:
    cfg = parse_config('[rooms.r]\nrecord = true\n[rooms.s]\n', "f.toml")
    assert cfg.rooms["r"].record and not cfg.rooms["s"].record


QS = '[queues.support]\n[queues.sales]\n[[users]]\nrange = "1-3"\npassword = "p"\n'


@pytest.mark.parametrize(("table", "queues"), [
    ("", None),
    ('queues = ["*"]\n', None),
    ('queues = ["sales"]\n', frozenset({"sales"})),
    ('queues = ["support", "sales"]\n', frozenset({"support", "sales"})),
])
def test_supervisor_queues(table: str, queues: frozenset[str] | None) -> None:
    cfg = parse_config(QS + "[supervisors.2]\n" + table, "f.toml")
    assert cfg.supervisors == {"2": Supervisor("2", queues)}


def test_supervision_codes_and_keys_are_configurable() -> None:
    cfg = parse_config(QS + '[supervision]\nlisten = "#1"\nwhisper = "#2"\nbarge = "#3"\n'
                       'listen_key = "*"\nwhisper_key = "#"\nbarge_key = "0"\n', "f.toml")
    assert cfg.supervision.codes == {"#1": "listen", "#2": "whisper", "#3": "barge"}
    assert cfg.supervision.keys == {"*": "listen", "#": "whisper", "0": "barge"}


def test_transfer_table_and_per_user_switch() -> None:
    cfg = parse_config('[transfer]\nring_timeout = 12.5\nrecall = false\n'
                       '[[users]]\nname = "lobby"\npassword = "p"\ntransfer = false\n', "f.toml")
    assert cfg.transfer == TransferConfig(12.5, False)
    assert cfg.users["lobby"].transfer is False


def test_transfer_targets_reach_dial_plan_numbers_everywhere() -> None:
    queues = QS.replace("[queues.support]\n", '[queues.support]\noverflow = "transfer:101"\n'
                        'max_wait = 60\non_timeout = "hangup"\n')
    cfg = parse_config(
        queues + '[dialplan.numbers]\n100 = "user:1"\n101 = "transfer:100"\n'
        '102 = "transfer:2"\n103 = "queue:sales;priority=5"\n'
        '[ivr.m]\nprompt = "main-menu"\n'
        'choices = { 1 = "transfer:102", 2 = "queue:sales;priority=05" }\n', "f.toml")
    numbers = cfg.dialplan.numbers
    assert numbers["101"] == NumberTarget("100") and numbers["102"] == NumberTarget("2")
    assert numbers["103"] == QueueTarget("sales", 5)
    support = cfg.queues["support"]
    assert (support.overflow, support.on_timeout) == (NumberTarget("101"), HangupTarget())
    assert cfg.menus["m"].choices == {"1": ("transfer:102",), "2": ("queue:sales;priority=5",)}
    plan = Dialplan.from_config(cfg)
    assert plan.resolve("101") == UserTarget("1") and plan.resolve("102") == UserTarget("2")


# -- errors: file, key, line, fault -------------------------------------------------------------

U = '[[users]]\nrange = "1-3"\npassword = "p"\n'  # 3 lines
Q = '[queues.support]\n'
ERRORS = [
    # rooms
    ('[rooms."a b"]\n', 'rooms."a b"', 1, "not a valid room name"),
    ('[rooms.r]\npin = 4321\n', "rooms.r.pin", 2, 'must be a string of digits (pin = "4321")'),
    ('[rooms.r]\npin = "12a"\n', "rooms.r.pin", 2, "1-16 digits"),
    ('[rooms.r]\npin = ""\n', "rooms.r.pin", 2, "must not be empty"),
    ('[rooms.r]\nmax_members = 1\n', "rooms.r.max_members", 2, "must be 2-1000"),
    ('[rooms.r]\njoin_tones = "yes"\n', "rooms.r.join_tones", 2, "true or false"),
    ('[rooms.r]\nrecord = 1\n', "rooms.r.record", 2, "true or false"),
    ('[rooms.r]\nmoh_when_alone = "jazz"\n', "rooms.r.moh_when_alone", 2,
     "music class 'jazz' does not exist"),
    ('[rooms.r]\npine = "1"\n', "rooms.r.pine", 2, "did you mean 'pin'"),
    ('rooms = 3\n', "rooms", 1, "must be a table"),
    ('[dialplan.numbers]\n850 = "room:850"\n', "dialplan.numbers.850", 2,
     "room '850' does not exist (no [rooms.850])"),
    # supervisors
    (U + '[supervisors.9]\n', "supervisors.9", 4, "user '9' does not exist"),
    (U + '[supervisors.1]\nqueues = ["support"]\n', "supervisors.1.queues[0]", 5,
     "queue 'support' is not declared"),
    (Q + U + '[supervisors.1]\nqueues = ["*", "support"]\n', "supervisors.1.queues", 6,
     "stands alone"),
    (Q + U + '[supervisors.1]\nqueues = []\n', "supervisors.1.queues", 6, "must not be empty"),
    (Q + U + '[supervisors.1]\nqueues = ["support", "support"]\n', "supervisors.1.queues[1]",
     6, "listed twice"),
    (Q + U + '[supervisors.1]\nqueue = ["support"]\n', "supervisors.1.queue", 6,
     "did you mean 'queues'"),
    # supervision
    ('[supervision]\nlisten = "*3a"\n', "supervision.listen", 2, "not a valid feature code"),
    ('[supervision]\nlisten = "*32"\n', "supervision.listen", 2,
     "whisper '*32' and listen '*32' start alike"),
    ('[supervision]\nbarge = "*3"\n', "supervision.barge", 2, "start alike"),
    ('[supervision]\nlisten = "*21"\nwhisper = "*5"\n', "supervision.listen", 2,
     "clashes with the agent codes *21-*24"),
    ('[supervision]\nlisten = "*"\nwhisper = "#2"\nbarge = "#3"\n', "supervision.listen", 2,
     "clashes with the agent codes"),
    (U + '[supervision]\nlisten = "1"\nwhisper = "#2"\nbarge = "#3"\n', "supervision.listen", 5,
     "user '1' starts with the code '1'"),
    ('[supervision]\nlisten_key = "45"\n', "supervision.listen_key", 2, "not a valid key"),
    ('[supervision]\nbarge_key = "4"\n', "supervision.barge_key", 2,
     "barge_key and listen_key are both '4'"),
    ('[supervision]\nlisen = "*31"\n', "supervision.lisen", 2, "did you mean 'listen'"),
    ('[dialplan.numbers]\n"*312001" = "echo"\n', 'dialplan.numbers."*312001"', 2,
     "starts with the feature code '*31'"),
    ('[dialplan.numbers]\n"*25" = "echo"\n', 'dialplan.numbers."*25"', 2,
     "starts with the feature code '*2'"),
    # transfer
    ('[transfer]\nring_timeout = 0\n', "transfer.ring_timeout", 2, "positive number of seconds"),
    ('[transfer]\nrecall = "yes"\n', "transfer.recall", 2, "true or false"),
    ('[transfer]\nrecal = true\n', "transfer.recal", 2, "did you mean 'recall'"),
    ('[[users]]\nname = "a"\npassword = "p"\ntransfer = "no"\n', "users[0].transfer", 4,
     "true or false"),
    # targets
    ('[dialplan.numbers]\n1 = "transfer:2"\n2 = "transfer:1"\n', "dialplan.numbers.1", 2,
     "transfer loop: 1 -> 2 -> 1"),
    ('[dialplan.numbers]\n1 = "transfer:1"\n', "dialplan.numbers.1", 2, "transfer loop: 1 -> 1"),
    ('[dialplan.numbers]\n1 = "transfer:2"\n', "dialplan.numbers.1", 2,
     "'2' is not a number of this dial plan"),
    ('[dialplan.numbers]\n1 = "listen:2"\n', "dialplan.numbers.1", 2, "cannot be used here"),
    ('[dialplan.numbers]\n1 = "hangup"\n', "dialplan.numbers.1", 2, "cannot be used here"),
    ('[dialplan.numbers]\n1 = "voicemail:1"\n', "dialplan.numbers.1", 2,
     "mailbox '1' does not exist"),
    ('[dialplan.numbers]\n1 = "queue:bad name"\n', "dialplan.numbers.1", 2,
     "not a valid queue name"),
    ('[dialplan.numbers]\n1 = "transfer:"\n', "dialplan.numbers.1", 2, "needs an argument"),
    (Q + 'overflow = "transfer:5550000"\n', "queues.support.overflow", 2,
     "not a number of this dial plan"),
    (Q + 'overflow = "barge:2001"\n', "queues.support.overflow", 2, "cannot be used here"),
    (Q + 'overflow = "room:r"\n', "queues.support.overflow", 2, "room 'r' does not exist"),
    ('[ivr.m]\nprompt = "main-menu"\nchoices = { 1 = "transfer:77" }\n', "ivr.m.choices.1", 3,
     "'77' is not a number of this dial plan"),
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


def test_the_documented_examples_parse() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Targets"):doc.index("## Not supported yet")]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    # the carrier example has its own users: test_config_trunks parses it
    blocks = [b for b in blocks if "[trunks." not in b]
    assert len(blocks) == 8  # + [[webhooks]], [crm], [store]
    # the [[api.tokens]] example is the demo configuration's, word for word (parsed there)
    (tokens,) = [b for b in blocks if "[[api.tokens]]" in b]
    demo = (ROOT / "configs" / "demo.toml").read_text(encoding="utf-8")
    assert tokens.strip() in demo
    blocks.remove(tokens)
    base = (QS.replace('range = "1-3"', 'range = "1001-1020"')
            + '[[users]]\nrange = "2001-2002"\npassword = "p"\nagent = { queues = ["sales"] }\n'
            + '[rooms.850]\n')
    for block in blocks:
        text = base.replace("[rooms.850]\n", "") if "[rooms.850]" in block else base
        parse_config(text + block, "doc.toml")
