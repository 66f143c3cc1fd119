"""The machine's local time zone as a ``ZoneInfo`` (with its daylight-saving rules, which a
fixed UTC offset would not have): ``$TZ``, else the zone ``/etc/localtime`` links to, else
UTC."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = "/etc/localtime"


def local_zone() -> ZoneInfo:
    """The local zone (``UTC`` when it has no IANA name)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        target = os.path.realpath(LOCALTIME)
        name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
