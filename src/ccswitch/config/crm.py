"""``[crm]``: the CRM lookup (screen pop), and the call-variable templates it and the queues'
call scripts are written in (pure).

```toml
[crm]
url = "https://crm.example.com/lookup?phone={caller}&queue={queue}&account={var.account}"
timeout = 1.5                                          # s; the offer never waits for it
headers = { Authorization = "Bearer s3cret" }         # optional, sent with the GET
enabled = true                                         # optional (default true)

[queues.support]
script = "Hello {caller_name}, you called {dialled} and chose {digits}."
```

A template names the call's values in braces: ``{caller}``, ``{caller_name}``, ``{dialled}``,
``{queue}``, ``{call_id}``, ``{digits}`` (every key string the IVR collected, in order) and
``{var.NAME}`` (a variable the IVR set: ``set:NAME=VALUE``, ``menu_<menu>`` for a menu's
choice).  ``{{`` and ``}}`` are literal braces.  A value the call does not have is empty.  In
the URL every value is percent-encoded (nothing is left unescaped, ``/`` and ``&`` included);
in a script it is written as is.

Part of the configuration parser: every fault goes through ``_Parser.fail`` with its key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .schema import Path, _Parser

NAMES: Final = ("caller", "caller_name", "dialled", "queue", "call_id", "digits")
"""The plain placeholders a template may use (besides ``var.NAME``)."""
CRM_KEYS: Final = ("url", "timeout", "headers", "enabled")
MAX_TIMEOUT: Final = 10.0
DEFAULT_TIMEOUT: Final = 1.5

_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_VAR = re.compile(r"var\.([A-Za-z0-9_-]+)")
_URL = re.compile(r"https?://[^\s/?#{}]+([/?#][^\s]*)?", re.IGNORECASE)
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


class TemplateError(ValueError):
    """A template that names an unknown value or has an unpaired brace."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholders in turn (``parts``: a literal is
    ``("", text)``, a placeholder ``(name, "")`` with ``name`` one of :data:`NAMES` or
    ``var.NAME``)."""

    text: str
    parts: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Raises :class:`TemplateError` naming the fault."""
        parts: list[tuple[str, str]] = []
        pos = 0
        for m in _PIECE.finditer(text):
            if m.start() > pos:
                parts.append(("", text[pos:m.start()]))
            pos = m.end()
            piece = m.group(0)
            if piece in ("{{", "}}"):
                parts.append(("", piece[0]))
            elif piece in ("{", "}"):
                raise TemplateError(f"unpaired {piece!r} at character {m.start() + 1} "
                                    "(write {{ or }} for a brace)")
            else:
                name = m.group(1).strip()
                if name not in NAMES and not _VAR.fullmatch(name):
                    raise TemplateError(
                        f"unknown placeholder {{{name}}} (one of "
                        f"{', '.join('{' + n + '}' for n in NAMES)}, {{var.NAME}})")
                parts.append((name, ""))
        if pos < len(text):
            parts.append(("", text[pos:]))
        return cls(text, tuple(parts))

    def fill(self, values: Mapping[str, str], variables: Mapping[str, str], *,
             encode: Callable[[str], str] = str) -> str:
        """The text with every placeholder replaced by its value passed through ``encode``
        (``variables`` for ``var.NAME``; a missing value is empty)."""
        out: list[str] = []
        for name, literal in self.parts:
            if not name:
                out.append(literal)
            elif name.startswith("var."):
                out.append(encode(variables.get(name[4:], "")))
            else:
                out.append(encode(values.get(name, "")))
        return "".join(out)


_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def url_encode(value: str) -> str:
    """``value`` as UTF-8, percent-encoded for any part of a URL: only RFC 3986 unreserved
    characters are left as they are (no ``urllib`` in the core: it also opens URLs)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in value.encode())


@dataclass(frozen=True, slots=True)
class CrmConfig:
    """The CRM lookup: a GET of ``url`` (filled in, values URL-encoded) with ``headers``
    (kept out of ``repr``: they hold credentials), given up after ``timeout`` seconds.
    ``url`` None or ``enabled`` false: no lookup."""

    url: Template | None = None
    timeout: float = DEFAULT_TIMEOUT
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    enabled: bool = True

    @property
    def active(self) -> bool:
        return self.enabled and self.url is not None


def parse_template(p: _Parser, value: object, path: Path) -> Template:
    """A template string (a fault names the placeholder)."""
    text = p.string(value, path)
    try:
        return Template.parse(text)
    except TemplateError as exc:
        p.fail(path, str(exc))


def parse_crm(p: _Parser, value: object, path: Path) -> CrmConfig:
    """The ``[crm]`` table."""
    t: Mapping[str, Any] = p.table(value, path)
    p.check_keys(t, CRM_KEYS, path)
    if not t:
        return CrmConfig()
    if "url" not in t:
        p.fail((*path, "url"), "is required (the CRM's lookup URL)")
    url = parse_template(p, t["url"], (*path, "url"))
    if not _URL.fullmatch(url.parts[0][1] if url.parts and not url.parts[0][0] else ""):
        p.fail((*path, "url"), "must be an http(s) URL whose scheme and host are written "
               "out (placeholders only after the host)")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in t:
        timeout = p.number(t["timeout"], (*path, "timeout"), "seconds", above=True)
        if timeout > MAX_TIMEOUT:
            p.fail((*path, "timeout"), f"must be at most {MAX_TIMEOUT:g} s (the lookup is a "
                   "screen pop, not a workflow)")
    headers: list[tuple[str, str]] = []
    if "headers" in t:
        hp = (*path, "headers")
        for name, raw in p.table(t["headers"], hp).items():
            if not _HEADER.fullmatch(name):
                p.fail((*hp, name), "is not a valid header name")
            headers.append((name, p.string(raw, (*hp, name), _HEADER_VALUE,
                                           "header value (visible ASCII)")))
    enabled = p.boolean(t["enabled"], (*path, "enabled")) if "enabled" in t else True
    return CrmConfig(url=url, timeout=timeout, headers=tuple(headers), enabled=enabled)
