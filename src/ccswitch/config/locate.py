"""Finding where a configuration key is written: the line of a key path in TOML text.

Pure and best effort: tables, arrays of tables (counted, so ``users[2]`` is the third
``[[users]]``), dotted and inline keys; comments are skipped.  Used for error messages only.
"""

from __future__ import annotations

import json
import re

Path = tuple[str | int, ...]
"""A key path: table keys and 0-based array indexes, ``("users", 2, "password")``."""


def format_path(path: Path) -> str:
    """``("users", 2, "password")`` -> ``users[2].password`` (odd keys quoted)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(?:#.*)?")


class Locator:
    """Finds the line of a key path in TOML text (best effort: tables, keys, inline tables)."""

    def __init__(self, text: str) -> None:
        self.lines = [_strip_comment(line) for line in text.split("\n")]  # as TOML counts
        self.sections: list[tuple[int, Path]] = [(-1, ())]  # (header line index, path)
        counts: dict[tuple[str, ...], int] = {}
        for no, line in enumerate(self.lines):
            m = _HEADER.fullmatch(line)
            if m is None:
                continue
            keys = _split_dotted(m.group(2))
            resolved: list[str | int] = []
            for k in range(len(keys)):
                resolved.append(keys[k])
                raw = tuple(keys[: k + 1])
                if m.group(1) == "[[" and k == len(keys) - 1:
                    counts[raw] = counts.get(raw, 0) + 1
                if raw in counts:
                    resolved.append(counts[raw] - 1)
            self.sections.append((no, tuple(resolved)))

    def line(self, path: Path) -> int | None:
        """1-based line of ``path`` (or of the nearest enclosing key found), else ``None``."""
        best = 0
        for i, (_, spath) in enumerate(self.sections):
            if path[: len(spath)] == spath and len(spath) >= len(self.sections[best][1]):
                best = i
        start, spath = self.sections[best]
        end = self.sections[best + 1][0] if best + 1 < len(self.sections) else len(self.lines)
        found = start if start >= 0 else None
        cursor = start + 1
        for part in path[len(spath):]:
            if isinstance(part, int):
                continue
            pattern = re.compile(
                r"(?:^|[\s{,.])(?:\"%s\"|'%s'|%s)\s*[=.]" % ((re.escape(part),) * 3))
            for no in range(cursor, end):
                if pattern.search(self.lines[no]):
                    found = cursor = no
                    break
            else:
                break
        return None if found is None else found + 1


def _strip_comment(line: str) -> str:
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            return line[:i]
        i += 1
    return line


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", text)
    return [p.strip().strip("\"'") if p.strip()[:1] in "\"'" else p.strip() for p in parts]
