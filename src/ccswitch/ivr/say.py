"""Spoken numbers, wait times and queue positions as lists of prompt names (English).

Pure: each function returns the names of the shipped prompts (see ``ccswitch.prompts``) to play
in order, e.g. ``say_number(125) == ["digits/1", "digits/hundred", "digits/20", "digits/5"]``.
Cardinals follow American usage, without "and" ("one hundred twenty-five").
"""

from __future__ import annotations

import math

MAX_NUMBER = 999_999
"""The largest number :func:`say_number` speaks."""

_SECONDS_PER_MINUTE = 60.0
_ROUNDING_SLACK = 1e-9  # minutes: 120.0000000001 s, an artefact of float arithmetic, is 2 minutes


def say_number(n: int) -> list[str]:
    """The prompts speaking the cardinal ``n`` (0 to :data:`MAX_NUMBER`).

    Raises ``ValueError`` outside that range and ``TypeError`` for a non-integer (``bool``
    included: ``True`` is not a number to speak).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"say_number needs an int, not {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"say_number speaks 0 to {MAX_NUMBER}, not {n}")
    if n == 0:
        return ["digits/0"]
    return _below_million(n)


def _below_million(n: int) -> list[str]:
    """``n`` in 1..999,999."""
    thousands, rest = divmod(n, 1000)
    words = [*_below_thousand(thousands), "digits/thousand"] if thousands else []
    return words + (_below_thousand(rest) if rest else [])


def _below_thousand(n: int) -> list[str]:
    """``n`` in 1..999."""
    hundreds, rest = divmod(n, 100)
    words = [f"digits/{hundreds}", "digits/hundred"] if hundreds else []
    if rest == 0:
        return words
    if rest <= 20:
        return [*words, f"digits/{rest}"]
    tens, units = divmod(rest, 10)
    words.append(f"digits/{tens * 10}")
    return [*words, f"digits/{units}"] if units else words


def say_wait(seconds: float) -> list[str]:
    """The expected-wait announcement for ``seconds`` of waiting.

    Under a minute: "expected-wait", "less-than-a-minute".  Otherwise the wait is rounded *up* to
    whole minutes (a caller told "about 2 minutes" should not wait 2.5) and spoken with
    "minute" or "minutes".  Raises ``ValueError`` for a negative, infinite or NaN wait, or one
    too long to speak: an unknown wait (no agent present) is the caller's to leave unsaid.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"say_wait needs a finite wait of 0 seconds or more, not {seconds!r}")
    if seconds < _SECONDS_PER_MINUTE:
        return ["expected-wait", "less-than-a-minute"]
    minutes = math.ceil(seconds / _SECONDS_PER_MINUTE - _ROUNDING_SLACK)
    return ["expected-wait", *say_number(minutes), "minute" if minutes == 1 else "minutes"]


def say_position(n: int) -> list[str]:
    """"You are caller number ``n``" for a caller at position ``n`` (1 is next in line)."""
    if isinstance(n, int) and not isinstance(n, bool) and n < 1:
        raise ValueError(f"say_position needs a position of 1 or more, not {n}")
    return ["you-are-caller", *say_number(n)]
