"""``[[webhooks]]`` and ``[events]`` (pure): URLs that receive every event of the stream, and
how long the stream is kept (``docs/events.md``).

```toml
[[webhooks]]
url = "https://crm.example.com/ccswitch"   # http or https
secret = "s3cret"                          # HMAC-SHA256 key of X-Ccswitch-Signature
name = "crm"                               # optional (default: the url); keys its outbox
types = ["queue", "call.ended"]            # optional: types or families
queues = ["support"]                       # optional: only events about these queues
timeout = 5                                # optional: s per POST
retry_max = 30                             # optional: longest wait between retries (s)
```
```toml
[events]
keep_days = 30       # events older than this are deleted (0: kept for ever)
```
Part of the configuration parser: every fault goes through ``_Parser.fail`` with its key path.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import Path, _Parser

_URL = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?", re.IGNORECASE)
_TYPE = re.compile(r"[a-z_]+(\.[a-z_]+|\.\*)?")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """One hook: ``types``/``queues`` ``None`` mean every event."""

    url: str
    secret: str
    name: str = ""
    types: tuple[str, ...] | None = None
    queues: tuple[str, ...] | None = None
    timeout: float = 5.0
    retry_max: float = 30.0


_KEYS = tuple(f.name for f in fields(WebhookConfig))


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """``keep_days``: stored events older than this many days are deleted (0: never)."""

    keep_days: float = 30.0


def parse_events(p: _Parser, value: object, path: Path) -> EventsConfig:
    """The ``[events]`` table."""
    return p.typed_table(value, path, EventsConfig,
                         keep_days=lambda v, q: p.number(v, q, "days"))


def parse_webhooks(p: _Parser, value: object, path: Path, *,
                   queues: Collection[str]) -> tuple[WebhookConfig, ...]:
    """The ``[[webhooks]]`` array of tables."""
    hooks: list[WebhookConfig] = []
    names: set[str] = set()
    for i, raw in enumerate(p.array(value, path)):
        at = (*path, i)
        t = p.table(raw, at)
        p.check_keys(t, _KEYS, at)
        for key in ("url", "secret"):
            if key not in t:
                p.fail((*at, key), "is required")
        url = p.string(t["url"], (*at, "url"), _URL, "http(s) URL")
        name = p.string(t["name"], (*at, "name")) if "name" in t else url
        if name in names:
            p.fail((*at, "name" if "name" in t else "url"), f"{name!r} is used by another hook")
        names.add(name)
        types = None
        if "types" in t:
            types = tuple(p.strings(t["types"], (*at, "types"),
                                    lambda v, q: p.string(v, q, _TYPE, "event type")))
        hook_queues = None
        if "queues" in t:
            def queue(v: object, q: Path) -> str:
                name = p.string(v, q)
                if name not in queues:
                    p.fail(q, f"unknown queue {name!r}")
                return name
            hook_queues = tuple(p.strings(t["queues"], (*at, "queues"), queue))
        d = WebhookConfig(url="", secret="")
        hooks.append(WebhookConfig(
            url=url, secret=p.string(t["secret"], (*at, "secret")), name=name, types=types,
            queues=hook_queues,
            timeout=p.opt(t, "timeout", at, d.timeout, p.seconds),
            retry_max=p.opt(t, "retry_max", at, d.retry_max, p.seconds)))
    return tuple(hooks)
