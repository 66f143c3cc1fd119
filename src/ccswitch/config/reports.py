"""``[reports]`` (pure): the settings of ``ccswitch report`` and the reports API
(``docs/reports.md``).

```toml
[reports]
timezone = "Europe/Berlin"   # intervals and "today" in this zone (default: the machine's)
short_abandon = 5            # a caller who hangs up within this many seconds: a short abandon
```
The zone's name is checked here for its form only; whether the zone exists is checked when the
file is loaded (``reports.settings.check_timezone``: the time-zone database is on disk).
Part of the configuration parser: every fault goes through ``_Parser.fail`` with its key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import Path, _Parser

ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
"""An IANA zone name (``UTC``, ``Europe/Berlin``, ``America/Argentina/Buenos_Aires``)."""
MAX_SHORT_ABANDON = 3600.0


@dataclass(frozen=True, slots=True)
class ReportsConfig:
    """``timezone``: IANA name, ``None`` for the machine's zone; ``short_abandon``: seconds of
    waiting under which an abandoned caller is also counted as a short abandon (0: none)."""

    timezone: str | None = None
    short_abandon: float = 5.0


def parse_reports(p: _Parser, value: object, path: Path) -> ReportsConfig:
    """The ``[reports]`` table."""
    t = p.table(value, path)
    p.check_keys(t, tuple(f.name for f in fields(ReportsConfig)), path)
    d = ReportsConfig()
    zone = d.timezone
    if "timezone" in t:
        zone = p.string(t["timezone"], (*path, "timezone"), ZONE_NAME,
                        "time-zone name such as \"Europe/Berlin\"")
    short = p.opt(t, "short_abandon", path, d.short_abandon,
                  lambda v, q: p.number(v, q, "seconds"))
    if short > MAX_SHORT_ABANDON:
        p.fail((*path, "short_abandon"), f"must be at most {MAX_SHORT_ABANDON:g} seconds")
    return ReportsConfig(timezone=zone, short_abandon=short)
