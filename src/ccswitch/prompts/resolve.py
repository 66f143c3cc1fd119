"""Prompt values and music classes turned into absolute audio files, once, at load time.

The configuration parser (pure) checks the form of every prompt value and records where it is
written; this module (shell: it reads the disk and opens files with PyAV) proves them before
anything starts, for ``check-config`` and ``serve`` alike:

- a *name* is looked for as ``DIR/NAME.EXT`` in each of ``[media] prompt_dirs`` in order
  (relative ones from the configuration file's directory; EXT any of :data:`AUDIO_EXTS`,
  in that order of preference), then among the shipped prompts;
- a *file* value is taken as written when absolute, else from the configuration file's
  directory;
- a ``[moh.NAME]`` class's ``path`` is a file or a directory whose audio files play by name.

Every file found must open and decode with PyAV.  The first fault raises one
:class:`~ccswitch.errors.ConfigError` naming the file, key and line.  The result is the same
configuration with absolute paths: ``prompt_files`` maps every playable name (site ones first,
then shipped) and every configured value to its file, ``media.prompt_dirs`` and each class's
``files`` are absolute, so a media worker with another working directory finds them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

from ..config.audio import PROMPT_NAME, SHIPPED_MOH, MohClass, is_file_value
from ..config.locate import Locator, format_path
from ..config.locate import Path as KeyPath
from ..config.schema import SwitchConfig
from ..errors import ConfigError
from . import UnknownPromptError, prompt_names, prompt_path

AUDIO_EXTS = ("wav", "flac", "opus", "ogg", "oga", "mp3", "m4a", "aac", "webm", "mka",
              "aiff", "aif", "au")
"""File extensions taken for prompts and music, in order of preference within a directory."""


def probe_audio(path: str) -> str | None:
    """Why PyAV cannot play ``path`` (no audio stream, nothing decodes), or None.

    Opens the file and decodes up to its first audio frame, so a long music file costs little.
    """
    import av  # PyAV: what the media workers decode prompts with

    try:
        with av.open(path) as container:
            if not container.streams.audio:
                return "no audio stream"
            for _frame in container.decode(container.streams.audio[0]):
                return None
            return "no audio samples"
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return f"cannot decode: {getattr(exc, 'strerror', None) or exc}"


def audio_files(directory: Path) -> list[Path]:
    """The audio files (by extension) directly in ``directory``, sorted by name."""
    exts = {f".{e}" for e in AUDIO_EXTS}
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in exts)


class PromptFinder:
    """Prompt names to files: the site directories in order, then the shipped prompts."""

    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs = list(dirs)
        self.site: dict[str, tuple[str, int]] = {}  # name -> (file, index of its directory)
        for index, directory in enumerate(self.dirs):
            for name, path in _names_in(directory).items():
                self.site.setdefault(name, (path, index))

    def find(self, name: str) -> str | None:
        """The file of prompt ``name``, or None."""
        found = self.site.get(name)
        if found is not None:
            return found[0]
        try:
            return prompt_path(name)
        except UnknownPromptError:
            return None

    def table(self) -> dict[str, str]:
        """Every name that can be played (shipped, then overridden by the site's) -> file."""
        out = {name: prompt_path(name) for name in prompt_names()}
        out.update((name, path) for name, (path, _) in self.site.items())
        return out


def _names_in(directory: Path) -> dict[str, str]:
    """The prompt names of the audio files under ``directory`` (preferred extension first)."""
    rank = {f".{e}": i for i, e in enumerate(AUDIO_EXTS)}
    best: dict[str, tuple[int, str]] = {}
    for path in directory.rglob("*"):
        r = rank.get(path.suffix.lower())
        if r is None or not path.is_file():
            continue
        name = path.relative_to(directory).with_suffix("").as_posix()
        if PROMPT_NAME.fullmatch(name) and (name not in best or r < best[name][0]):
            best[name] = (r, str(path))
    return {name: path for name, (_, path) in sorted(best.items())}


class _Resolver:
    def __init__(self, config: SwitchConfig, filename: str, text: str | None,
                 base: Path, probe: bool) -> None:
        self.config = config
        self.filename = filename
        self.text = text
        self.base = base
        self.probe = probe
        self.probed: dict[str, str | None] = {}

    def fail(self, key: KeyPath, fault: str) -> NoReturn:
        line = Locator(self.text).line(key) if self.text is not None else None
        raise ConfigError(self.filename, format_path(key), fault, line)

    def absolute(self, value: str) -> Path:
        return Path(os.path.normpath(self.base / value))

    def check_file(self, key: KeyPath, path: str) -> None:
        """``path`` exists, is a file and decodes, else a ConfigError at ``key``."""
        if not os.path.exists(path):
            self.fail(key, f"no such file: {path}")
        if not os.path.isfile(path):
            self.fail(key, f"not a file: {path}")
        if not os.access(path, os.R_OK):
            self.fail(key, f"cannot read: {path}")
        if self.probe:
            if path not in self.probed:
                self.probed[path] = probe_audio(path)
            fault = self.probed[path]
            if fault is not None:
                self.fail(key, f"{path}: {fault}")

    def dirs(self) -> list[Path]:
        out = []
        for i, value in enumerate(self.config.media.prompt_dirs):
            path = self.absolute(value)
            if not path.is_dir():
                self.fail(("media", "prompt_dirs", i), f"no such directory: {path}")
            out.append(path)
        return out

    def prompts(self, finder: PromptFinder) -> dict[str, str]:
        files = finder.table()
        for name, (path, index) in finder.site.items():
            self.check_file(("media", "prompt_dirs", index), path)
            files[name] = path
        for use in self.config.prompt_uses:
            if is_file_value(use.value):
                path = str(self.absolute(use.value))
            else:
                found = finder.find(use.value)
                if found is None:
                    where = ", ".join(str(d) for d in finder.dirs)
                    self.fail(use.key, f"unknown prompt {use.value!r}: no such file in "
                                       + (f"prompt_dirs ({where}) nor " if where else "")
                                       + "the shipped prompts")
                path = found
            self.check_file(use.key, path)
            files[use.value] = path
        return files

    def moh(self, cls: MohClass, finder: PromptFinder) -> MohClass:
        key: KeyPath = ("moh", cls.name, "path")
        if cls.path is None:
            found = finder.find(SHIPPED_MOH)
            if found is None:
                self.fail(("moh",), f"no music for class {cls.name!r}: prompt {SHIPPED_MOH} "
                                    "is missing")
            self.check_file(key, found)
            return replace(cls, files=(found,))
        path = self.absolute(cls.path)
        if path.is_dir():
            found_files = [str(p) for p in audio_files(path)]
            if not found_files:
                self.fail(key, f"no audio files ({', '.join(AUDIO_EXTS)}) in {path}")
        elif path.exists():
            found_files = [str(path)]
        else:
            self.fail(key, f"no such file or directory: {path}")
        for f in found_files:
            self.check_file(key, f)
        return replace(cls, files=tuple(found_files))


def resolve_config(config: SwitchConfig, *, filename: str, text: str | None = None,
                   base_dir: str | Path | None = None, probe: bool = True) -> SwitchConfig:
    """``config`` with every prompt value and music class resolved to absolute files.

    ``filename`` and ``text``: the configuration file and its text (for the key's line in
    errors); ``base_dir``: where relative paths start (default: ``filename``'s directory);
    ``probe``: also prove that every file decodes.  Raises ConfigError on the first fault.
    """
    base = Path(base_dir) if base_dir is not None else Path(filename).parent
    r = _Resolver(config, filename, text, Path(os.path.abspath(base)), probe)
    dirs = r.dirs()
    finder = PromptFinder(dirs)
    files = r.prompts(finder)
    moh = {name: r.moh(cls, finder) for name, cls in config.moh.items()}
    media = replace(config.media, prompt_dirs=tuple(str(d) for d in dirs))
    return replace(config, media=media, moh=MappingProxyType(moh),
                   prompt_files=MappingProxyType(files))
