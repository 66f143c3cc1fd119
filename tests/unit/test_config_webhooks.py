"""``[[webhooks]]``, ``[events]`` and ``[store]`` in the configuration: every key, the
defaults, and each fault named with its key path and line."""

from __future__ import annotations

import pytest

from ccswitch.config import parse_config
from ccswitch.config.schema import apply_overrides
from ccswitch.config.store import StoreConfig
from ccswitch.config.webhooks import WebhookConfig
from ccswitch.errors import ConfigError

QUEUES = "[queues.support]\n[queues.sales]\n"


def test_every_key_and_the_defaults() -> None:
    cfg = parse_config(QUEUES + """
[[webhooks]]
url = "https://crm.example.com/hook?x=1"
secret = "s3cret"
name = "crm"
types = ["queue", "agent.*", "call.ended"]
queues = ["support"]
timeout = 2.5
retry_max = 60

[[webhooks]]
url = "http://127.0.0.1:9000/"
secret = "other"
""", "t.toml")
    assert cfg.webhooks == (
        WebhookConfig(url="https://crm.example.com/hook?x=1", secret="s3cret", name="crm",
                      types=("queue", "agent.*", "call.ended"), queues=("support",),
                      timeout=2.5, retry_max=60.0),
        WebhookConfig(url="http://127.0.0.1:9000/", secret="other",
                      name="http://127.0.0.1:9000/"))
    assert parse_config(QUEUES, "t.toml").webhooks == ()


@pytest.mark.parametrize(("body", "key", "fault"), [
    ('url = "ftp://x/"\nsecret = "s"', "webhooks[0].url", "not a valid http(s) URL"),
    ('secret = "s"', "webhooks[0].url", "is required"),
    ('url = "http://x/"', "webhooks[0].secret", "is required"),
    ('url = "http://x/"\nsecret = ""', "webhooks[0].secret", "must not be empty"),
    ('url = "http://x/"\nsecret = "s"\nqueues = ["nope"]', "webhooks[0].queues[0]",
     "unknown queue 'nope'"),
    ('url = "http://x/"\nsecret = "s"\ntypes = ["Queue Stuff"]', "webhooks[0].types[0]",
     "not a valid event type"),
    ('url = "http://x/"\nsecret = "s"\ntimeout = 0', "webhooks[0].timeout",
     "positive number of seconds"),
    ('url = "http://x/"\nsecret = "s"\nsigned = true', "webhooks[0].signed", "unknown key"),
])
def test_faults_name_the_key(body: str, key: str, fault: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(QUEUES + "[[webhooks]]\n" + body + "\n", "t.toml")
    assert key in str(err.value) and fault in str(err.value), str(err.value)
    assert "t.toml:" in str(err.value)


def test_two_hooks_may_not_share_a_name() -> None:
    with pytest.raises(ConfigError, match=r"webhooks\[1\]\.url.*used by another hook"):
        parse_config(QUEUES + """
[[webhooks]]
url = "http://x/"
secret = "a"
[[webhooks]]
url = "http://x/"
secret = "b"
""", "t.toml")


def test_events_keep_days() -> None:
    from ccswitch.config.webhooks import EventsConfig

    assert parse_config(QUEUES, "t.toml").events == EventsConfig(keep_days=30.0)
    assert parse_config("[events]\nkeep_days = 0\n", "t.toml").events.keep_days == 0.0
    assert parse_config("[events]\nkeep_days = 7.5\n", "t.toml").events.keep_days == 7.5
    with pytest.raises(ConfigError, match=r"events\.keep_days.*non-negative number of days"):
        parse_config("[events]\nkeep_days = -1\n", "t.toml")
    with pytest.raises(ConfigError, match=r"events\.keep: unknown key"):
        parse_config("[events]\nkeep = 1\n", "t.toml")


def test_store_dsn_from_the_file_and_the_command_line() -> None:
    assert parse_config("", "t.toml").store == StoreConfig(dsn=None)
    cfg = parse_config('[store]\ndsn = "postgresql://cc@db:5432/cc"\n', "t.toml")
    assert cfg.store.dsn == "postgresql://cc@db:5432/cc"
    assert apply_overrides(cfg, store_dsn="postgres://other/cc").store.dsn == (
        "postgres://other/cc")
    assert apply_overrides(cfg).store == cfg.store
    with pytest.raises(ConfigError, match=r"store\.dsn.*not a PostgreSQL URI"):
        parse_config('[store]\ndsn = "sqlite:///x.db"\n', "t.toml")
    with pytest.raises(ConfigError, match=r"store\.host.*unknown key"):
        parse_config('[store]\nhost = "db"\n', "t.toml")
    with pytest.raises(ConfigError, match=r"--store-dsn.*not a PostgreSQL URI"):
        apply_overrides(cfg, store_dsn="db.example.com")
