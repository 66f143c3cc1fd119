"""Recording compliance keys: ``[recordings] keep_days``, ``[queues.X]
recording_retention_days`` and ``[ivr.NAME] sensitive``; each fault names its key and line."""

from __future__ import annotations

import pytest

from ccswitch.config import parse_config
from ccswitch.errors import ConfigError

BASE = '[queues.support]\n[queues.sales]\nrecording_retention_days = 7\n'
MENU = '[ivr.cards]\nprompt = "main-menu"\n'


def test_every_key_and_the_defaults() -> None:
    cfg = parse_config(BASE + "[recordings]\nkeep_days = 90\n" + MENU + "sensitive = true\n",
                       "t.toml")
    assert cfg.recordings.keep_days == 90.0
    assert cfg.queues["sales"].recording_retention_days == 7.0
    assert cfg.queues["support"].recording_retention_days is None  # the global default
    assert cfg.menus["cards"].sensitive is True
    plain = parse_config(BASE + MENU, "t.toml")
    assert plain.recordings.keep_days == 0.0  # kept forever unless configured
    assert plain.menus["cards"].sensitive is False and plain.menus["demo"].sensitive is False


@pytest.mark.parametrize(("text", "key", "line", "fault"), [
    (BASE + "[recordings]\nkeep_days = -1\n", "recordings.keep_days", 5,
     "must be a non-negative number of days"),
    (BASE + "[recordings]\nkeep_days = \"90\"\n", "recordings.keep_days", 5,
     "must be a number of days, got a string"),
    (BASE + "[recordings]\nkeep = 3\n", "recordings.keep", 5, "unknown key"),
    ('[queues.sales]\nrecording_retention_days = true\n', "queues.sales.recording_retention_days",
     2, "must be a number of days, got a boolean"),
    (BASE + MENU + 'sensitive = "yes"\n', "ivr.cards.sensitive", 6, "must be true or false"),
])
def test_faults_name_the_key_and_line(text: str, key: str, line: int, fault: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "t.toml")
    assert (err.value.key, err.value.line) == (key, line)
    assert fault in err.value.fault
