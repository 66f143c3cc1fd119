"""Spoken numbers, wait times and positions: the prompt names, in order, for every edge."""

from __future__ import annotations

import math

import pytest

from ccswitch.ivr import MAX_NUMBER, say_number, say_position, say_wait


def value_of(words: list[str]) -> int:
    """The number a list of ``digits/...`` prompts says, read back the way a listener would."""
    total = current = 0
    for word in words:
        kind = word.removeprefix("digits/")
        if kind == "hundred":
            current *= 100
        elif kind == "thousand":
            total, current = total + current * 1000, 0
        else:
            current += int(kind)
    return total + current


def tokens(words: list[str]) -> list[str]:
    assert all(w.startswith("digits/") for w in words), words
    return [w.removeprefix("digits/") for w in words]


def is_well_formed_group(toks: list[str]) -> bool:
    """``toks`` says a number 1..999 the standard way: [N hundred] [teen/tens [unit]]."""
    if len(toks) >= 2 and toks[1] == "hundred":
        if toks[0] not in {str(d) for d in range(1, 10)}:
            return False
        toks = toks[2:]
    if not toks:
        return True
    if len(toks) == 1:
        return toks[0] in {str(d) for d in range(1, 21)} | {str(t) for t in range(30, 100, 10)}
    return (len(toks) == 2 and toks[0] in {str(t) for t in range(20, 100, 10)}
            and toks[1] in {str(d) for d in range(1, 10)})


def is_well_formed(words: list[str]) -> bool:
    toks = tokens(words)
    if toks == ["0"]:
        return True
    if "thousand" in toks:
        i = toks.index("thousand")
        head, tail = toks[:i], toks[i + 1:]
        return bool(head) and is_well_formed_group(head) and is_well_formed_group(tail)
    return bool(toks) and is_well_formed_group(toks)


@pytest.mark.parametrize(("n", "spoken"), [
    (0, "0"),
    (1, "1"),
    (7, "7"),
    (10, "10"),
    (13, "13"),
    (19, "19"),
    (20, "20"),
    (21, "20 1"),
    (30, "30"),
    (45, "40 5"),
    (99, "90 9"),
    (100, "1 hundred"),
    (101, "1 hundred 1"),
    (110, "1 hundred 10"),
    (115, "1 hundred 15"),
    (120, "1 hundred 20"),
    (125, "1 hundred 20 5"),
    (500, "5 hundred"),
    (999, "9 hundred 90 9"),
    (1000, "1 thousand"),
    (1001, "1 thousand 1"),
    (1010, "1 thousand 10"),
    (1100, "1 thousand 1 hundred"),
    (2019, "2 thousand 19"),
    (7070, "7 thousand 70"),
    (9999, "9 thousand 9 hundred 90 9"),
    (12_345, "12 thousand 3 hundred 40 5"),
    (100_000, "1 hundred thousand"),
    (999_999, "9 hundred 90 9 thousand 9 hundred 90 9"),
])
def test_say_number_examples(n: int, spoken: str) -> None:
    assert say_number(n) == [f"digits/{w}" for w in spoken.split()]


def test_say_number_reads_back_and_is_well_formed_for_0_to_9999() -> None:
    for n in range(10_000):
        words = say_number(n)
        assert value_of(words) == n, (n, words)
        assert is_well_formed(words), (n, words)
        assert ("digits/0" in words) == (n == 0), (n, words)


def test_say_number_reads_back_up_to_the_maximum() -> None:
    for n in [*range(10_000, MAX_NUMBER + 1, 997), MAX_NUMBER, 20_000, 21_000, 110_011]:
        words = say_number(n)
        assert value_of(words) == n, (n, words)
        assert is_well_formed(words), (n, words)


def test_well_formedness_check_rejects_odd_wordings() -> None:
    # the checker above must be able to fail, or the sweep proves nothing
    for odd in (["digits/20", "digits/10"], ["digits/hundred"], ["digits/0", "digits/5"],
                ["digits/1", "digits/hundred", "digits/1", "digits/hundred"],
                ["digits/30", "digits/20"], ["digits/15", "digits/hundred"],
                ["digits/thousand"], []):
        assert not is_well_formed(odd), odd


@pytest.mark.parametrize("n", [-1, -1000, MAX_NUMBER + 1, 10**12])
def test_say_number_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match=str(n)):
        say_number(n)


@pytest.mark.parametrize("n", [True, False, 1.0, 2.5, "3", None])
def test_say_number_wants_an_int(n: object) -> None:
    with pytest.raises(TypeError):
        say_number(n)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, ["less-than-a-minute"]),
    (0.0, ["less-than-a-minute"]),
    (1, ["less-than-a-minute"]),
    (59.999, ["less-than-a-minute"]),
    (60, ["digits/1", "minute"]),
    (60.0, ["digits/1", "minute"]),
    (60.5, ["digits/2", "minutes"]),
    (61, ["digits/2", "minutes"]),
    (119.9, ["digits/2", "minutes"]),
    (120, ["digits/2", "minutes"]),
    (0.1 * 3 * 400, ["digits/2", "minutes"]),  # 120.00000000000001: float noise, no more
    (121, ["digits/3", "minutes"]),
    (600, ["digits/10", "minutes"]),
    (1260, ["digits/20", "digits/1", "minutes"]),
    (3600, ["digits/60", "minutes"]),
    (3601, ["digits/60", "digits/1", "minutes"]),
    (6000, ["digits/1", "digits/hundred", "minutes"]),
])
def test_say_wait(seconds: float, expected: list[str]) -> None:
    assert say_wait(seconds) == ["expected-wait", *expected]


def test_say_wait_rounds_up_and_never_understates() -> None:
    for tenths in range(600, 36_000, 7):
        seconds = tenths / 10
        words = say_wait(seconds)
        assert words[0] == "expected-wait"
        assert words[-1] == ("minute" if words[1:-1] == ["digits/1"] else "minutes")
        minutes = value_of(words[1:-1])
        assert minutes == math.ceil(tenths / 600), (seconds, words)
        assert minutes * 60 >= seconds - 1e-6


@pytest.mark.parametrize("seconds", [-0.001, -60, math.nan, math.inf, -math.inf])
def test_say_wait_rejects_impossible_waits(seconds: float) -> None:
    with pytest.raises(ValueError):
        say_wait(seconds)


def test_say_wait_too_long_to_speak() -> None:
    assert value_of(say_wait(MAX_NUMBER * 60.0)[1:-1]) == MAX_NUMBER
    with pytest.raises(ValueError):
        say_wait(MAX_NUMBER * 60.0 + 1)


@pytest.mark.parametrize(("n", "number"), [
    (1, ["digits/1"]),
    (2, ["digits/2"]),
    (20, ["digits/20"]),
    (42, ["digits/40", "digits/2"]),
    (100, ["digits/1", "digits/hundred"]),
    (1234, ["digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30",
            "digits/4"]),
])
def test_say_position(n: int, number: list[str]) -> None:
    assert say_position(n) == ["you-are-caller", *number]


@pytest.mark.parametrize("n", [0, -1])
def test_say_position_starts_at_one(n: int) -> None:
    with pytest.raises(ValueError):
        say_position(n)


def test_say_position_wants_an_int() -> None:
    with pytest.raises(TypeError):
        say_position(True)
    with pytest.raises(TypeError):
        say_position(1.5)  # type: ignore[arg-type]
