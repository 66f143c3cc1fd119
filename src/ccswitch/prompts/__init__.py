"""The audio prompts shipped with ccswitch, found by name.

Speech lives in ``<lang>/<name>.wav`` (``en/welcome.wav``, ``en/digits/5.wav``); music on hold,
which no language owns, in ``moh/<name>.wav``.  Every file is 8 kHz mono 16-bit PCM, made by
``scripts/make_prompts.py`` (espeak-ng and numpy) and committed; ``moh/default`` also comes as
Ogg/Opus.  Names are lower-case words joined by ``-`` or ``_``, in ``/``-separated folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CcswitchError

PROMPTS_DIR = Path(__file__).resolve().parent
"""The directory of the shipped prompt files."""

DEFAULT_LANG = "en"
NEUTRAL_FOLDERS = ("moh",)
"""Top folders whose prompts belong to no language (found whatever ``lang`` says)."""

_WORD = r"[a-z0-9]+(?:[-_][a-z0-9]+)*"
_NAME = re.compile(rf"{_WORD}(?:/{_WORD})*")
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_EXT = re.compile(r"[a-z0-9]{1,5}")


class UnknownPromptError(CcswitchError, LookupError):
    """A prompt name (or language, or file type) with no shipped file."""


def prompt_path(name: str, lang: str = DEFAULT_LANG, *, ext: str = "wav") -> str:
    """The path of the shipped prompt ``name`` in ``lang`` (``"digits/7"``, ``"moh/default"``).

    ``ext`` picks the file type (``"wav"``; ``"opus"`` exists for ``moh/default``).  Raises
    :class:`UnknownPromptError` naming what was looked for when there is no such file, or when
    ``name``/``lang``/``ext`` is malformed (no ``..``, no absolute paths, no upper case).
    """
    if not _NAME.fullmatch(name):
        raise UnknownPromptError(f"bad prompt name {name!r}: use lower-case words joined by "
                                 f"'-' or '_', in '/'-separated folders (like 'digits/7')")
    if not _LANG.fullmatch(lang):
        raise UnknownPromptError(f"bad prompt language {lang!r} (like 'en' or 'en-us')")
    if not _EXT.fullmatch(ext):
        raise UnknownPromptError(f"bad prompt file type {ext!r} (like 'wav')")
    folder = PROMPTS_DIR if name.split("/", 1)[0] in NEUTRAL_FOLDERS else PROMPTS_DIR / lang
    path = folder / f"{name}.{ext}"
    if not path.is_file():
        raise UnknownPromptError(f"unknown prompt {name!r} (language {lang!r}): "
                                 f"no file {path}")
    return str(path)


def prompt_names(lang: str = DEFAULT_LANG) -> list[str]:
    """Every prompt name shipped as WAV for ``lang``, language-neutral ones included, sorted."""
    if not _LANG.fullmatch(lang):
        raise UnknownPromptError(f"bad prompt language {lang!r} (like 'en' or 'en-us')")
    found: set[str] = set()
    lang_dir = PROMPTS_DIR / lang
    if lang_dir.is_dir():
        found.update(p.relative_to(lang_dir).with_suffix("").as_posix()
                     for p in lang_dir.rglob("*.wav"))
    for folder in NEUTRAL_FOLDERS:
        if (PROMPTS_DIR / folder).is_dir():
            found.update(p.relative_to(PROMPTS_DIR).with_suffix("").as_posix()
                         for p in (PROMPTS_DIR / folder).rglob("*.wav"))
    # only what prompt_path finds: well-formed names, neutral folders from the top only
    return sorted(n for n in found if _NAME.fullmatch(n) and (
        n.split("/", 1)[0] not in NEUTRAL_FOLDERS or (PROMPTS_DIR / f"{n}.wav").is_file()))
