"""Prompt values and ``[moh.NAME]`` music-on-hold classes: their form, read and proven (pure).

A prompt value (an IVR menu's ``greeting``/``prompt``/``invalid``, ``play:X``, a queue's
``entry_prompt``/``announce_prompts``) is either a *name* (``welcome``, ``digits/7``: lower-case
words joined by ``-`` or ``_``, in ``/``-separated folders), looked up in ``[media] prompt_dirs``
and then among the shipped prompts, or a *file*: any value that starts with ``/`` or contains a
``.`` (``prompts/hello.wav``, ``/srv/audio/intro.mp3``), absolute or relative to the
configuration file's directory.  The parser checks the form and records where each value is
written (``SwitchConfig.prompt_uses``); whether the file exists and decodes is the shell's to
prove (``ccswitch.prompts.resolve``), which also turns every value into an absolute path once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .schema import Path, _Parser

MOH_MODES: Final = ("order", "shuffle")
"""How a music class made of several files plays them."""
MOH_KEYS: Final = ("path", "mode")
DEFAULT_MOH: Final = "default"
"""The class queues use when they name none (and call hold will use): the shipped music
(prompt ``moh/default``) unless ``[moh.default]`` is configured."""
SHIPPED_MOH: Final = "moh/default"

_WORD = r"[a-z0-9]+(?:[-_][a-z0-9]+)*"
PROMPT_NAME: Final = re.compile(rf"{_WORD}(?:/{_WORD})*")
"""The form of a prompt name (``main-menu``, ``digits/7``)."""
_CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PROMPT_WHAT: Final = ("prompt name (lower-case words joined by '-' or '_', in '/'-separated "
                      "folders) or audio file (a path with an extension, or absolute)")


def is_file_value(value: str) -> bool:
    """Whether a prompt value names a file (absolute, or holding a ``.``) rather than a name."""
    return value.startswith("/") or "." in value


@dataclass(frozen=True, slots=True)
class MohClass:
    """A music-on-hold class: a file or a directory of files (``path``, as written; ``None``:
    the prompt ``moh/default``, found like any prompt), played in ``order`` (by file name)
    or shuffled (``shuffle``: a new order for each caller).  ``files``: the absolute paths
    to play, filled at load time by the shell."""

    name: str
    path: str | None = None
    mode: str = "order"
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptUse:
    """Where a prompt value is written: its key path (``ivr.main.greeting[1]``) and value."""

    key: Path
    value: str


def default_moh() -> Mapping[str, MohClass]:
    """The classes of a configuration without ``[moh]``: only the shipped default."""
    return MappingProxyType({DEFAULT_MOH: MohClass(DEFAULT_MOH)})


def prompt_value(p: _Parser, value: object, path: Path) -> str:
    """A prompt name or audio file value at ``path``; recorded for the load-time check."""
    text = p.string(value, path)
    if is_file_value(text):
        if _CONTROL.search(text):
            p.fail(path, "must not contain control characters")
    elif not PROMPT_NAME.fullmatch(text):
        p.fail(path, f"{text!r} is not a valid {PROMPT_WHAT}")
    elif p.prompts is not None and text not in p.prompts:
        p.fail(path, f"unknown prompt {text!r}")
    p.prompt_uses.append(PromptUse(path, text))
    return text


def prompt_list(p: _Parser, value: object, path: Path, *, empty_ok: bool = False,
                ) -> tuple[str, ...]:
    """A prompt value or a non-empty array of them (``false``/``[]`` give ``()`` when
    ``empty_ok``)."""
    if isinstance(value, str):
        return (prompt_value(p, value, path),)
    if empty_ok and (value is False or value == []):
        return ()
    if not isinstance(value, list):
        alt = ", an array of them or false" if empty_ok else " or an array of them"
        p.fail(path, f"must be a prompt{alt}, got {p.kind(value)}")
    if not value:
        p.fail(path, "must not be empty")
    return tuple(prompt_value(p, item, (*path, i)) for i, item in enumerate(value))


def parse_moh(p: _Parser, value: object, path: Path) -> Mapping[str, MohClass]:
    """The ``[moh]`` table: class name -> MohClass; ``default`` is always there."""
    out: dict[str, MohClass] = {}
    for name, entry in p.table(value, path).items():
        cp = (*path, name)
        if not _CLASS_NAME.fullmatch(name):
            p.fail(cp, f"{name!r} is not a valid music class name (letters, digits, _ and -)")
        t: Mapping[str, Any] = p.table(entry, cp)
        p.check_keys(t, MOH_KEYS, cp)
        if "path" not in t:
            p.fail((*cp, "path"), "missing (an audio file or a directory of them)")
        mode = p.opt(t, "mode", cp, "order", p.string)
        if mode not in MOH_MODES:
            p.fail((*cp, "mode"), f"{mode!r} is not a mode ({' or '.join(MOH_MODES)})")
        out[name] = MohClass(name, p.string(t["path"], (*cp, "path")), mode)
    out.setdefault(DEFAULT_MOH, MohClass(DEFAULT_MOH))
    return MappingProxyType(out)


def check_moh_name(p: _Parser, value: object, path: Path, classes: Mapping[str, MohClass],
                   ) -> str:
    """A queue's ``moh``: the name of a ``[moh.NAME]`` class (or ``default``)."""
    name = p.string(value, path)
    if name not in classes:
        known = ", ".join(sorted(classes))
        p.fail(path, f"music class {name!r} does not exist (configured: {known})")
    return name
