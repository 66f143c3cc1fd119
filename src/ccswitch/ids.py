"""Identifiers (branches, tags, Call-IDs, nonces, SSRCs) from an injected random source."""

from __future__ import annotations

import random

MAGIC_COOKIE = "z9hG4bK"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# every two base-36 digits, least significant first: one divmod per two characters
_PAIRS = tuple(_ALPHABET[i % 36] + _ALPHABET[i // 36] for i in range(36 * 36))


class Ids:
    """Makes identifiers from ``rng``: seeded ``random.Random`` in tests, else SystemRandom."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def token(self, n: int = 16) -> str:
        """``n`` characters of ``[a-z0-9]`` from one draw of the random source (SystemRandom
        reads the OS once per draw: one read per id, not one per character)."""
        value = self._rng.getrandbits(6 * n + 32)  # the modulo bias is under 2**-32
        pairs = _PAIRS
        out = []
        for _ in range(n >> 1):  # the base-36 digits of ``value``, lowest first
            value, pair = divmod(value, 1296)
            out.append(pairs[pair])
        if n & 1:
            out.append(_ALPHABET[value % 36])
        return "".join(out)

    def branch(self) -> str:
        return MAGIC_COOKIE + self.token(16)

    def tag(self) -> str:
        return self.token(10)

    def call_id(self, host: str) -> str:
        return f"{self.token(20)}@{host}"

    def nonce(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def rseq(self) -> int:
        """The first RSeq of an INVITE's reliable provisionals: 1 to 2**31 - 1 (RFC 3262 §3)."""
        return self._rng.getrandbits(31) % (2**31 - 1) + 1

    def below(self, n: int) -> int:
        """A whole number from 0 to ``n`` - 1 (a Retry-After chosen at random, RFC 3311)."""
        return self._rng.randrange(n)

    def ssrc(self) -> int:
        return self._rng.getrandbits(32)
