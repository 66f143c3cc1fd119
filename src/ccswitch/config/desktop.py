"""``[agent_desktop]`` (pure): the codes the agent desktop page (``GET /agent``) offers.

```toml
[agent_desktop]
pause_reasons = ["break", "lunch", "training"]      # the pause menu (first: the default)
dispositions = ["resolved", "callback", "escalated"]  # the wrap-up codes an agent may set
```
Codes are short words (letters, digits, ``_``, ``-``, up to 32).  The disposition route
refuses any other code; the pause route (``POST /api/v1/agents/{id}/pause``) still takes any
reason, the page offers these.  Part of the configuration parser: every fault goes through
``_Parser.fail`` with its key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import Path, _Parser

_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True, slots=True)
class AgentDesktopConfig:
    """The agent desktop's menus (the defaults are the demo's)."""

    pause_reasons: tuple[str, ...] = ("break", "lunch", "training")
    dispositions: tuple[str, ...] = ("resolved", "callback", "escalated", "wrong_number")


def parse_agent_desktop(p: _Parser, value: object, path: Path) -> AgentDesktopConfig:
    """The ``[agent_desktop]`` table."""
    def codes(v: object, q: Path) -> tuple[str, ...]:
        return tuple(p.strings(v, q, lambda x, r: p.string(x, r, _CODE, "code")))

    return p.typed_table(value, path, AgentDesktopConfig, pause_reasons=codes,
                         dispositions=codes)
