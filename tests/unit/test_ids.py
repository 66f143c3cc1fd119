"""Identifiers: the characters of a token are the base-36 digits of one draw, lowest first."""

from __future__ import annotations

import random

import pytest

from ccswitch.ids import MAGIC_COOKIE, Ids


class _Fixed(random.Random):
    """A random source whose every draw is ``value`` (checks the bit count asked for)."""

    def __init__(self, value: int) -> None:
        super().__init__(0)
        self.value = value
        self.asked: list[int] = []

    def getrandbits(self, k: int) -> int:
        self.asked.append(k)
        return self.value


@pytest.mark.parametrize(("n", "expected"), [
    (1, "b"),     # 3961 % 36 = 1 -> "b"
    (2, "bc"),    # then 3961 // 36 = 110, 110 % 36 = 2 -> "c"
    (3, "bcd"),   # then 110 // 36 = 3 -> "d"
    (4, "bcda"),  # then 3 // 36 = 0 -> "a"
    (5, "bcdaa"),
])
def test_token_is_the_draws_base36_digits_lowest_first(n: int, expected: str) -> None:
    # 3961 = 1 + 2*36 + 3*36**2: digits 1, 2, 3 = "b", "c", "d" (a=0 … z=25, 0=26 … 9=35)
    rng = _Fixed(1 + 2 * 36 + 3 * 36 * 36)
    assert Ids(rng).token(n) == expected
    assert rng.asked == [6 * n + 32]


def test_token_digits_past_letters_and_the_top_digit() -> None:
    # 35 + 26*36 + 35*36**2 + 0*36**3 + 9*36**4: digits 35, 26, 35, 0, 9 -> "9", "0", "9", "a", "j"
    value = 35 + 26 * 36 + 35 * 36**2 + 9 * 36**4
    assert Ids(_Fixed(value)).token(5) == "909aj"
    assert Ids(_Fixed(value)).token(6) == "909aja"


def test_seeded_sources_give_distinct_well_formed_ids() -> None:
    ids = Ids(random.Random(7))
    tokens = {ids.token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) == 16 and t.isalnum() and t == t.lower() for t in tokens)
    branch = ids.branch()
    assert branch.startswith(MAGIC_COOKIE) and len(branch) == len(MAGIC_COOKIE) + 16
    assert len(ids.tag()) == 10
    assert ids.call_id("h").endswith("@h") and len(ids.call_id("h")) == 22
