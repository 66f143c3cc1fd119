"""What a report computes with: the time zone, the short-abandon threshold and each queue's
service-level threshold.

They come from the configuration (``[reports]``, ``[queues.X] service_level``) when the caller
has it (the daemon's API, ``ccswitch report --config``), else from the last ``SwitchStarted``
the daemon wrote (it records the figures it ran with), else the defaults (the machine's zone,
5 s, 20 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config.locate import Locator
from ..config.reports import ReportsConfig
from ..config.schema import SwitchConfig
from ..errors import ConfigError
from .zone import local_zone

DEFAULT_THRESHOLD = 20.0  # s: a queue's service_level when nothing says otherwise


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """``thresholds``: queue -> service-level seconds (queues not listed: 20 s)."""

    tz: tzinfo = UTC
    short_abandon: float = 5.0
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def threshold(self, queue: str) -> float:
        return self.thresholds.get(queue, DEFAULT_THRESHOLD)


def zone(name: str | None) -> tzinfo:
    """The zone named ``name`` (``None``: the machine's); ``KeyError`` if there is none."""
    if name is None:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KeyError(name) from None


def check_timezone(config: SwitchConfig, filename: str, text: str | None) -> None:
    """ConfigError when ``[reports] timezone`` names no zone of the time-zone database."""
    name = config.reports.timezone
    if name is None:
        return
    try:
        zone(name)
    except KeyError:
        line = Locator(text).line(("reports", "timezone")) if text is not None else None
        raise ConfigError(filename, "reports.timezone",
                          f"{name!r} is not a known time zone (e.g. \"Europe/Berlin\")",
                          line) from None


def from_config(config: SwitchConfig) -> ReportSettings:
    return _settings(config.reports,
                     {name: q.service_level for name, q in config.queues.items()})


def from_started(fields: Mapping[str, Any] | None) -> ReportSettings:
    """The settings a ``SwitchStarted`` row's fields record (``None``: the defaults)."""
    if fields is None:
        return _settings(ReportsConfig(), {})
    zone_name = fields.get("timezone")
    cfg = ReportsConfig(timezone=zone_name if isinstance(zone_name, str) else None,
                        short_abandon=float(fields.get("short_abandon", 5.0)))
    pairs = fields.get("thresholds") or []
    return _settings(cfg, {str(q): float(s) for q, s in pairs})


def _settings(cfg: ReportsConfig, thresholds: Mapping[str, float]) -> ReportSettings:
    try:
        tz = zone(cfg.timezone)
    except KeyError:  # a zone the daemon's machine knew and this one does not
        tz = local_zone()
    return ReportSettings(tz=tz, short_abandon=cfg.short_abandon,
                          thresholds=MappingProxyType(dict(thresholds)))
