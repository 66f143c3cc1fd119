"""A memo for pure functions of text that may come from the network.

``functools.lru_cache`` bounds the number of entries, not their size: keyed on an attribute line
or a tuple of them, 2,000 entries of a 64 KB datagram's lines would pin over 100 MB for as long
as the process lives.  ``small_memo`` caches a call only when its arguments hold at most
``limit`` characters of text (the few short values phones and carriers repeat from call to
call); a longer one is computed every time and kept nowhere.  How the text of the arguments is
counted is the caller's ``size`` function (a loop over the values it knows, cheap next to the
memoized work); by default the length of every string argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

MEMO_KEY_CHARS = 512
"""Characters of text, over all arguments, above which a call is not memoized."""


def str_size(args: tuple[Any, ...]) -> int:
    """Characters in the string arguments (others count nothing)."""
    n = 0
    for a in args:
        if type(a) is str:
            n += len(a)
    return n


def small_memo(maxsize: int, size: Callable[[tuple[Any, ...]], int] = str_size,
               limit: int = MEMO_KEY_CHARS) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``lru_cache(maxsize)`` for the calls whose ``size(args)`` is at most ``limit``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        cached: Any = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            if kwargs or size(args) > limit:
                return fn(*args, **kwargs)
            return cached(*args)  # type: ignore[no-any-return]

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call

    return decorate


def text_memo(maxsize: int, limit: int = MEMO_KEY_CHARS
              ) -> Callable[[Callable[[str], R]], Callable[[str], R]]:
    """``small_memo`` for a function of one string: its length is the size (one call less)."""

    def decorate(fn: Callable[[str], R]) -> Callable[[str], R]:
        cached: Any = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(value: str) -> R:
            if len(value) > limit:
                return fn(value)
            return cached(value)  # type: ignore[no-any-return]

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call

    return decorate
