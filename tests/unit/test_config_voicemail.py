"""``[voicemail]`` and ``mailbox``: parsed by ``parse_voicemail``, refused by the main loader."""

from __future__ import annotations

import pytest

from ccswitch.config import parse_config
from ccswitch.config.voicemail import MailboxConfig, VoicemailSettings, parse_voicemail
from ccswitch.errors import ConfigError
from ccswitch.voicemail import DepositSettings, GreetingSettings

USERS = ('[[users]]\nrange = "1001-1020"\npassword = "pw{user}"\nmailbox = true\n'
         '[[users]]\nrange = "2001-2002"\npassword = "pw{user}"\n')
QUEUES = '[queues.support]\nmailbox = { pin = "4321", greeting = "please-hold" }\n'


def test_defaults_and_the_demo_mailboxes() -> None:
    config, vm = parse_voicemail(USERS, "v.toml")
    assert vm.settings == VoicemailSettings()
    assert vm.settings.no_answer == 20.0 and vm.settings.greetings_dir is None
    assert sorted(vm.mailboxes) == [str(n) for n in range(1001, 1021)]
    assert vm.mailboxes["1002"] == MailboxConfig("1002", "user", "1002")
    assert "2001" in config.users and "2001" not in vm.mailboxes


def test_settings_queue_boxes_pins_and_greetings() -> None:
    text = ('[voicemail]\nmax_length = 120\nmin_length = 2\nsilence = 0\nno_answer = 15\n'
            'greetings_dir = "/srv/greetings"\npin_attempts = 5\nmax_messages = 10\n'
            '[[users]]\nname = "1001"\npassword = "x"\nmailbox = { pin = "9{user}" }\n'
            '[[users]]\nname = "1003"\npassword = "x"\nmailbox = false\n' + QUEUES)
    _, vm = parse_voicemail(text, "v.toml")
    s = vm.settings
    assert (s.max_length, s.min_length, s.silence, s.no_answer, s.greetings_dir,
            s.pin_attempts, s.max_messages) == (120.0, 2.0, 0.0, 15.0, "/srv/greetings", 5, 10)
    assert s.deposit() == DepositSettings(120.0, 2.0, 0.0)
    assert s.retrieval().pin_attempts == 5
    assert s.greeting() == GreetingSettings(60.0, 1.0, 3.0)  # the recorder's defaults
    assert vm.mailboxes["1001"].pin == "91001"
    assert "1003" not in vm.mailboxes
    assert vm.mailboxes["support"] == MailboxConfig("support", "queue", "4321", "please-hold")


def test_the_greeting_recorders_limits() -> None:
    text = ('[voicemail]\ngreeting_max_length = 45\ngreeting_min_length = 0.5\n'
            'greeting_silence = 0\n')
    _, vm = parse_voicemail(text, "v.toml")
    g = vm.settings.greeting()
    assert (g.max_seconds, g.min_seconds, g.silence_seconds) == (45.0, 0.5, 0.0)


def test_a_queue_box_without_a_pin_has_no_phone_access() -> None:
    _, vm = parse_voicemail('[queues.sales]\nmailbox = true\n', "v.toml")
    assert vm.mailboxes["sales"] == MailboxConfig("sales", "queue", None)


def fault(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_voicemail(text, "v.toml")
    return info.value


@pytest.mark.parametrize(("text", "key", "line", "what"), [
    ('[voicemail]\nmax_lenght = 10\n', "voicemail.max_lenght", 2, "did you mean 'max_length'"),
    ('[voicemail]\nmax_length = 0\n', "voicemail.max_length", 2, "positive"),
    ('[voicemail]\nmin_length = 200\n', "voicemail.min_length", 2, "below max_length"),
    ('[voicemail]\nsilence = -1\n', "voicemail.silence", 2, "non-negative"),
    ('[voicemail]\ngreeting_max_length = 0\n', "voicemail.greeting_max_length", 2, "positive"),
    ('[voicemail]\ngreeting_max_length = 5\ngreeting_min_length = 5\n',
     "voicemail.greeting_min_length", 3, "below greeting_max_length (5 s)"),
    ('[voicemail]\ngreeting_silence = "3"\n', "voicemail.greeting_silence", 2, "got a string"),
    ('[voicemail]\npin_attempts = 0\n', "voicemail.pin_attempts", 2, "must be 1-10"),
    ('[voicemail]\nmwi_max_expires = 30\n', "voicemail.mwi_max_expires", 2,
     "must be 60-86400"),
    ('voicemail = 3\n', "voicemail", 1, "must be a table"),
    ('[[users]]\nname = "1001"\npassword = "x"\nmailbox = "yes"\n', "users[0].mailbox", 4,
     "true, false or a table"),
    ('[[users]]\nname = "1001"\npassword = "x"\nmailbox = { pin = "12a" }\n',
     "users[0].mailbox.pin", 4, "1 to 10 digits"),
    ('[[users]]\nname = "1001"\npassword = "x"\nmailbox = { pn = "12" }\n',
     "users[0].mailbox.pn", 4, "did you mean 'pin'"),
    ('[[users]]\nname = "alice"\npassword = "x"\nmailbox = true\n', "users[0].mailbox", 4,
     "give the mailbox a pin"),
    ('[[users]]\nname = "1001"\npassword = "x"\nmailbox = { greeting = "Bad Name" }\n',
     "users[0].mailbox.greeting", 4, "not a valid prompt name"),
    ('[[users]]\nname = "sales"\npassword = "x"\nmailbox = { pin = "1" }\n'
     '[queues.sales]\nmailbox = true\n', "queues.sales.mailbox", 6, "already a user's mailbox"),
])
def test_faults_name_the_key_and_line(text: str, key: str, line: int, what: str) -> None:
    err = fault(text)
    assert (err.key, err.line) == (key, line), err
    assert what in err.fault


def test_the_main_loader_takes_voicemail_into_the_config() -> None:
    text = ('[voicemail]\nno_answer = 15\n[[users]]\nname = "1001"\npassword = "x"\n'
            'mailbox = true\n[[users]]\nname = "1002"\npassword = "y"\n')
    config = parse_config(text, "v.toml")
    assert config.voicemail.settings.no_answer == 15
    assert set(config.voicemail.mailboxes) == {"1001"}
    assert config.voicemail.mailboxes["1001"].pin == "1001"
    assert set(config.users) == {"1001", "1002"}  # mailbox is not a user key any more


def test_the_demo_gives_every_phone_a_mailbox_and_no_agent_one() -> None:
    from ccswitch.cli import demo_config

    boxes = demo_config().voicemail.mailboxes
    assert set(boxes) == {str(n) for n in range(1001, 1021)}
    assert all(boxes[b].pin == b and boxes[b].owner == "user" for b in boxes)


def test_a_greeting_must_be_a_shipped_prompt_when_the_prompt_list_is_given() -> None:
    text = '[[users]]\nname = "1001"\npassword = "x"\nmailbox = { greeting = "no-such" }\n'
    with pytest.raises(ConfigError) as info:
        parse_voicemail(text, "v.toml", prompts=["leave-message"])
    assert "unknown prompt 'no-such'" in info.value.fault
    config, vm = parse_voicemail(text.replace("no-such", "leave-message"), "v.toml",
                                 prompts=["leave-message"])
    assert vm.mailboxes["1001"].greeting == "leave-message"
    assert config.prompt_uses == vm.prompt_uses
    assert [(u.key, u.value) for u in vm.prompt_uses] == [
        (("users", 0, "mailbox", "greeting"), "leave-message")]


def test_unsolicited_mwi_is_a_users_option_only() -> None:
    text = ('[[users]]\nname = "1001"\npassword = "x"\n'
            'mailbox = { unsolicited = true }\n')
    assert parse_config(text, "v.toml").voicemail.mailboxes["1001"].unsolicited is True
    with pytest.raises(ConfigError) as info:
        parse_config('[queues.sales]\nmailbox = { unsolicited = true }\n', "v.toml")
    assert info.value.key == "queues.sales.mailbox.unsolicited"
