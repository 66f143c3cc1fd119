"""Log values are plain strings and numbers: call sites format their own, and the
``plain_values`` processor turns anything else into a plain string, never a repr."""

from __future__ import annotations

import enum
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from ccswitch import logs
from ccswitch.call.services import handoff_fields
from ccswitch.ivr.flow import HangupReq, QueueReq, TransferReq


class Color(enum.Enum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Thing:
    queue: str
    priority: int


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def json_log() -> io.StringIO:
    out = io.StringIO()
    logs.configure_logging("json", "info", stream=out)
    return out


def test_non_plain_values_become_plain_strings(json_log: io.StringIO) -> None:
    structlog.get_logger().info("x", thing=Thing("sales", 2), color=Color.RED,
                                pair=("127.0.0.1", 5060), raw=b"INVITE", n=3, ok=True,
                                none=None, items=["a", Color.RED], mapping={"a": 1})
    line = json.loads(json_log.getvalue())
    assert line["thing"] == "queue=sales priority=2"
    assert (line["color"], line["pair"], line["raw"]) == ("red", "127.0.0.1,5060", "INVITE")
    assert (line["n"], line["ok"], line["none"], line["items"]) == (3, True, None, ["a", "red"])
    assert line["mapping"] == "a=1"
    assert "Thing(" not in json_log.getvalue() and "Color." not in json_log.getvalue()


def test_console_lines_hold_no_repr() -> None:
    out = io.StringIO()
    logs.configure_logging("console", "info", stream=out)
    structlog.get_logger().info("ivr_handoff", call_id="c1",
                                **handoff_fields(QueueReq("sales", 1)))
    structlog.get_logger().info("y", req=QueueReq("support"))
    text = out.getvalue()
    assert "to=queue:sales" in text and "priority=1" in text
    assert "QueueReq(" not in text, text


def test_handoffs_are_logged_as_fields() -> None:
    assert handoff_fields(QueueReq("sales", 2, {"fr": 3})) == {
        "to": "queue:sales", "priority": 2, "skills": "fr:3"}
    assert handoff_fields(TransferReq("user:1001")) == {"to": "user:1001"}
    assert handoff_fields(HangupReq()) == {"to": "hangup"}


def test_plain_keeps_plain_values_and_lists() -> None:
    for v in ("s", 1, 2.5, False, None):
        assert logs.plain(v) == v
    assert logs.plain([1, ("a", "b")]) == [1, "a,b"]



DOCS = Path(__file__).resolve().parents[2] / "docs" / "logs.md"
HOST = r"(?P<host>[0-9a-fA-F.:]+)"  # stands in for fail2ban's <HOST>


def _doc_regexes() -> list[str]:
    found = re.findall(r"failregex = (.+?)(?:`|$)", DOCS.read_text(), flags=re.M)
    assert len(found) == 2, found
    return [r.strip().replace("<HOST>", HOST) for r in found]


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_documented_fail2ban_regex_matches_the_auth_failed_line(fmt: str) -> None:
    out = io.StringIO()
    logs.configure_logging(fmt, "info", stream=out)
    structlog.get_logger().info("auth_failed", user="1014", source="192.0.2.9:5062",
                                ip="192.0.2.9", reason="wrong_password", method="INVITE",
                                transport="udp", failures=1)
    line = out.getvalue().splitlines()[0]
    hits = [m for r in _doc_regexes() if (m := re.search(r, line))]
    assert hits and all(m.group("host") == "192.0.2.9" for m in hits), (line, _doc_regexes())
