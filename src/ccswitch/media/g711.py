"""G.711 µ-law (PCMU) and A-law (PCMA) by numpy lookup tables (ITU-T G.711).

The tables are built once at import from the companding rules and made read-only:

* decode: 256 ``int16`` values, one per code, on the 16-bit linear scale (µ-law codes
  reconstruct 14-bit values times 4, A-law codes 13-bit values times 8);
* encode: 65,536 ``uint8`` codes indexed by the 16-bit sample reinterpreted as ``uint16``.  The
  sample is first shifted down to the law's input precision (an arithmetic shift: µ-law keeps 14
  bits, A-law 13), then quantised by the law's segments — the 16-bit convention of the classic
  public-domain implementation and of Python's ``audioop``, which the tests check it against.

Every function takes arrays of any shape, so a media tick encodes or decodes all its legs
(``legs x samples``) in one call; ``out=`` reuses a buffer.  µ-law has two codes for zero
(0xFF and 0x7F); encoding produces 0xFF, and decode∘encode is the identity on every other code.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ALAW_DECODE",
    "ALAW_ENCODE",
    "ALAW_SILENCE",
    "ALAW_TO_ULAW",
    "ULAW_DECODE",
    "ULAW_ENCODE",
    "ULAW_SILENCE",
    "ULAW_TO_ALAW",
    "alaw_decode",
    "alaw_encode",
    "transcode_alaw_to_ulaw",
    "transcode_ulaw_to_alaw",
    "ulaw_decode",
    "ulaw_encode",
]

ULAW_SILENCE = 0xFF
"""The µ-law code for linear 0 (positive zero)."""
ALAW_SILENCE = 0xD5
"""The A-law code nearest linear 0 (+8 on the 16-bit scale; A-law has no zero level)."""

_ULAW_BIAS = 33  # on the 14-bit scale (0x84 on the 16-bit scale)
_ULAW_CLIP = 8158  # largest 14-bit magnitude that, biased, stays in segment 7
_ALAW_AMI = 0x55  # A-law inverts the even bits on the line


def _readonly(a: NDArray[np.generic]) -> None:
    a.flags.writeable = False


def _build_ulaw_decode() -> NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF  # µ-law sends every bit inverted
    seg = (code >> 4) & 7
    mant = code & 0xF
    mag = (((2 * mant + _ULAW_BIAS) << seg) - _ULAW_BIAS) * 4
    out = np.where(code & 0x80, -mag, mag).astype(np.int16)
    _readonly(out)
    return out


def _build_alaw_decode() -> NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ _ALAW_AMI
    seg = (code >> 4) & 7
    mant = code & 0xF
    # segment 0: 2m+1; segment s >= 1: (2m+33) << (s-1); in 13-bit units, times 8
    mag = np.where(seg == 0, 2 * mant + 1, (2 * mant + 33) << np.maximum(seg - 1, 0)) * 8
    out = np.where(code & 0x80, mag, -mag).astype(np.int16)
    _readonly(out)
    return out


def _segment(value: NDArray[np.int32], low_bits: int) -> NDArray[np.int32]:
    """floor(log2(value)) - low_bits, for value >= 1, as int32 (exact: compares powers of 2)."""
    seg = np.zeros(value.shape, dtype=np.int32)
    for s in range(1, 8):
        seg += value >= (1 << (low_bits + s))
    return seg


def _sample_space() -> NDArray[np.int32]:
    """Every int16 sample, laid out in the order of its uint16 bit pattern (the table index)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> NDArray[np.uint8]:
    y = _sample_space() >> 2  # 14-bit input
    neg = y < 0
    mag = np.minimum(np.where(neg, -y, y), _ULAW_CLIP) + _ULAW_BIAS  # 33 .. 8191
    seg = _segment(mag, 5)  # mag in [32 << seg, 64 << seg)
    mant = (mag >> (seg + 1)) & 0xF
    code = (np.where(neg, 0x80, 0) | (seg << 4) | mant) ^ 0xFF
    out: NDArray[np.uint8] = code.astype(np.uint8)
    _readonly(out)
    return out


def _build_alaw_encode() -> NDArray[np.uint8]:
    y = _sample_space() >> 3  # 13-bit input
    neg = y < 0
    mag = np.where(neg, ~y, y)  # negative values fold as one's complement: 0 .. 4095
    seg = _segment(np.maximum(mag, 1), 4)  # segment 0 holds 0..31, s >= 1 holds [16 << s, 32 << s)
    mant = (mag >> np.maximum(seg, 1)) & 0xF
    code = (np.where(neg, 0, 0x80) | (seg << 4) | mant) ^ _ALAW_AMI
    out: NDArray[np.uint8] = code.astype(np.uint8)
    _readonly(out)
    return out


ULAW_DECODE: NDArray[np.int16] = _build_ulaw_decode()
"""µ-law code → linear int16 (256 entries, read-only)."""
ALAW_DECODE: NDArray[np.int16] = _build_alaw_decode()
"""A-law code → linear int16 (256 entries, read-only)."""
ULAW_ENCODE: NDArray[np.uint8] = _build_ulaw_encode()
"""int16 sample (indexed as uint16) → µ-law code (65,536 entries, read-only)."""
ALAW_ENCODE: NDArray[np.uint8] = _build_alaw_encode()
"""int16 sample (indexed as uint16) → A-law code (65,536 entries, read-only)."""


def _build_transcode(decode: NDArray[np.int16], encode: NDArray[np.uint8]) -> NDArray[np.uint8]:
    out: NDArray[np.uint8] = np.take(encode, decode.view(np.uint16))
    _readonly(out)
    return out


ULAW_TO_ALAW: NDArray[np.uint8] = _build_transcode(ULAW_DECODE, ALAW_ENCODE)
"""µ-law code → A-law code, as decode then encode (256 entries, read-only)."""
ALAW_TO_ULAW: NDArray[np.uint8] = _build_transcode(ALAW_DECODE, ULAW_ENCODE)
"""A-law code → µ-law code, as decode then encode (256 entries, read-only)."""


def _codes(data: bytes | bytearray | memoryview | ArrayLike) -> NDArray[np.uint8]:
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        raise TypeError(f"G.711 codes must be bytes or a uint8 array, not {arr.dtype}")
    return arr


def _sample_index(samples: ArrayLike) -> NDArray[np.uint16]:
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise TypeError(f"G.711 encoders take int16 samples, not {arr.dtype}")
    return arr.view(np.uint16)


def ulaw_decode(
    data: bytes | bytearray | memoryview | ArrayLike, *, out: NDArray[np.int16] | None = None
) -> NDArray[np.int16]:
    """µ-law codes (bytes or a uint8 array of any shape) → int16 samples of the same shape."""
    return np.take(ULAW_DECODE, _codes(data), out=out)


def alaw_decode(
    data: bytes | bytearray | memoryview | ArrayLike, *, out: NDArray[np.int16] | None = None
) -> NDArray[np.int16]:
    """A-law codes (bytes or a uint8 array of any shape) → int16 samples of the same shape."""
    return np.take(ALAW_DECODE, _codes(data), out=out)


def ulaw_encode(samples: ArrayLike, *, out: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
    """int16 samples (any shape) → µ-law codes (uint8, same shape; ``.tobytes()`` for RTP)."""
    return np.take(ULAW_ENCODE, _sample_index(samples), out=out)


def alaw_encode(samples: ArrayLike, *, out: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
    """int16 samples (any shape) → A-law codes (uint8, same shape; ``.tobytes()`` for RTP)."""
    return np.take(ALAW_ENCODE, _sample_index(samples), out=out)


def transcode_ulaw_to_alaw(
    data: bytes | bytearray | memoryview | ArrayLike, *, out: NDArray[np.uint8] | None = None
) -> NDArray[np.uint8]:
    """µ-law codes → A-law codes by the single 256-entry table ``ULAW_TO_ALAW``."""
    return np.take(ULAW_TO_ALAW, _codes(data), out=out)


def transcode_alaw_to_ulaw(
    data: bytes | bytearray | memoryview | ArrayLike, *, out: NDArray[np.uint8] | None = None
) -> NDArray[np.uint8]:
    """A-law codes → µ-law codes by the single 256-entry table ``ALAW_TO_ULAW``."""
    return np.take(ALAW_TO_ULAW, _codes(data), out=out)
