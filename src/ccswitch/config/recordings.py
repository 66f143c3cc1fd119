"""``[recordings]`` (pure): how long call recordings are kept (``docs/configuration.md``).

```toml
[recordings]
keep_days = 90        # delete recordings older than this many days (0: keep forever)
```
A queue's ``recording_retention_days`` overrides it for the recordings of that queue's calls.
Part of the configuration parser: every fault goes through ``_Parser.fail`` with its key path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import Path, _Parser


@dataclass(frozen=True, slots=True)
class RecordingsConfig:
    """``keep_days``: recordings older than this many days are deleted (0: never)."""

    keep_days: float = 0.0


def parse_recordings(p: _Parser, value: object, path: Path) -> RecordingsConfig:
    """The ``[recordings]`` table."""
    return p.typed_table(value, path, RecordingsConfig,
                         keep_days=lambda v, q: p.number(v, q, "days"))
