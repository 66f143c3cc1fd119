"""Identifiers (branches, tags, Call-IDs, nonces, SSRCs) from an injected random source."""

from __future__ import annotations

import random

MAGIC_COOKIE = "z9hG4bK"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class Ids:
    """Makes identifiers from ``rng``: seeded ``random.Random`` in tests, else SystemRandom."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def token(self, n: int = 16) -> str:
        """``n`` characters of ``[a-z0-9]`` from one draw of the random source (SystemRandom
        reads the OS once per draw: one read per id, not one per character)."""
        value = self._rng.getrandbits(6 * n + 32)  # the modulo bias is under 2**-32
        out = []
        for _ in range(n):
            value, digit = divmod(value, 36)
            out.append(_ALPHABET[digit])
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

    def ssrc(self) -> int:
        return self._rng.getrandbits(32)
