"""G.711 µ-law/A-law tables: code points, round trips, error bounds, audioop agreement, 2-D."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from ccswitch.media import g711

ALL_CODES = np.arange(256, dtype=np.uint8)
ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # removed in Python 3.13
        audioop = None  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xFF, 0), (0x7F, 0), (0x00, -32124), (0x80, 32124), (0xFE, 8), (0x7E, -8),
     (0xF0, 120), (0xEF, 132), (0x1E, -8828), (0x0B, -20860)],
)
def test_ulaw_code_points(code: int, value: int) -> None:
    assert g711.ulaw_decode(bytes([code]))[0] == value


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24), (0xC5, 264),
     (0x34, -8960), (0x21, -20992)],
)
def test_alaw_code_points(code: int, value: int) -> None:
    assert g711.alaw_decode(bytes([code]))[0] == value


def test_silence_codes() -> None:
    assert g711.ulaw_encode(np.zeros(3, np.int16)).tolist() == [g711.ULAW_SILENCE] * 3
    assert g711.alaw_encode(np.zeros(3, np.int16)).tolist() == [g711.ALAW_SILENCE] * 3


def test_tables_shape_dtype_readonly() -> None:
    tables: list[tuple[np.ndarray, int, type]] = [
        (g711.ULAW_DECODE, 256, np.int16), (g711.ALAW_DECODE, 256, np.int16),
        (g711.ULAW_ENCODE, 65536, np.uint8), (g711.ALAW_ENCODE, 65536, np.uint8),
        (g711.ULAW_TO_ALAW, 256, np.uint8), (g711.ALAW_TO_ULAW, 256, np.uint8),
    ]
    for table, size, dtype in tables:
        assert table.shape == (size,) and table.dtype == dtype
        with pytest.raises(ValueError):
            table[0] = 1


def test_decode_is_odd_symmetric() -> None:
    # bit 7 is the sign: code c and c ^ 0x80 decode to opposite values
    assert np.array_equal(g711.ULAW_DECODE[ALL_CODES ^ 0x80], -g711.ULAW_DECODE)
    assert np.array_equal(g711.ALAW_DECODE[ALL_CODES ^ 0x80], -g711.ALAW_DECODE)


def test_encode_decode_identity_on_every_code() -> None:
    expected = ALL_CODES.copy()
    expected[0x7F] = 0xFF  # µ-law negative zero re-encodes as positive zero
    assert np.array_equal(g711.ulaw_encode(g711.ulaw_decode(ALL_CODES)), expected)
    assert np.array_equal(g711.alaw_encode(g711.alaw_decode(ALL_CODES)), ALL_CODES)


def _ulaw_step(code: np.ndarray) -> np.ndarray:
    return 8 << ((~code.astype(np.int32) >> 4) & 7)  # 16-bit step of the code's segment


def _alaw_step(code: np.ndarray) -> np.ndarray:
    seg = ((code.astype(np.int32) ^ 0x55) >> 4) & 7
    step: np.ndarray = 16 << np.maximum(seg - 1, 0)
    return step


@pytest.mark.parametrize(
    ("encode", "decode", "step", "shift", "top"),
    [(g711.ulaw_encode, g711.ulaw_decode, _ulaw_step, 4, 32124 + 512),
     (g711.alaw_encode, g711.alaw_decode, _alaw_step, 8, 32256 + 512)],
    ids=["ulaw", "alaw"],
)
def test_quantisation_error_within_half_a_step(
    encode: Callable[..., np.ndarray], decode: Callable[..., np.ndarray],
    step: Callable[[np.ndarray], np.ndarray], shift: int, top: int,
) -> None:
    codes = encode(ALL_SAMPLES)
    back = decode(codes).astype(np.int32)
    x = ALL_SAMPLES.astype(np.int32)
    err = np.abs(back - x)
    inside = np.abs(x) < top  # beyond the last decision level the law clips
    # half the segment's step, plus the bits the law drops before quantising
    assert np.all(err[inside] <= step(codes[inside]) // 2 + shift)
    assert np.all(back[~inside] * np.sign(x[~inside]) > 31000)
    # quantisation is monotonic
    assert np.all(np.diff(back) >= 0)


@pytest.mark.skipif(audioop is None, reason="audioop is not in this Python (removed in 3.13)")
def test_agrees_with_audioop_everywhere() -> None:
    assert audioop is not None
    pcm = ALL_SAMPLES.tobytes()
    codes = bytes(range(256))
    assert g711.ulaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2ulaw(pcm, 2)
    assert g711.alaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2alaw(pcm, 2)
    assert g711.ulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)
    assert g711.alaw_decode(codes).tobytes() == audioop.alaw2lin(codes, 2)


def test_two_dimensional_batches_match_rows() -> None:
    rng = np.random.default_rng(7)
    legs = rng.integers(-32768, 32768, size=(50, 160)).astype(np.int16)
    for encode, decode in [(g711.ulaw_encode, g711.ulaw_decode),
                           (g711.alaw_encode, g711.alaw_decode)]:
        codes = encode(legs)
        assert codes.shape == (50, 160) and codes.dtype == np.uint8
        for i in (0, 17, 49):
            assert np.array_equal(codes[i], encode(legs[i]))
            assert np.array_equal(decode(codes)[i], decode(codes[i].tobytes()))
        # a strided view works and an out= buffer is filled in place
        assert np.array_equal(encode(legs[:, ::2]), codes[:, ::2])
        buf = np.empty((50, 160), np.int16)
        assert decode(codes, out=buf) is buf
        assert np.array_equal(buf, decode(codes))


def test_transcoding_tables_are_decode_then_encode() -> None:
    assert np.array_equal(g711.ULAW_TO_ALAW, g711.alaw_encode(g711.ulaw_decode(ALL_CODES)))
    assert np.array_equal(g711.ALAW_TO_ULAW, g711.ulaw_encode(g711.alaw_decode(ALL_CODES)))
    grid = ALL_CODES.reshape(16, 16)
    assert np.array_equal(g711.transcode_ulaw_to_alaw(grid), g711.ULAW_TO_ALAW.reshape(16, 16))
    assert g711.transcode_alaw_to_ulaw(b"\xd5\x55").tolist() == [0xFE, 0x7E]  # ±8 exactly
    # µ -> A -> µ moves a sample by at most one µ-law step
    there_back = g711.ulaw_decode(g711.transcode_alaw_to_ulaw(g711.ULAW_TO_ALAW))
    error = np.abs(there_back.astype(np.int32) - g711.ULAW_DECODE)
    assert np.all(error <= _ulaw_step(ALL_CODES))


def test_wrong_dtypes_are_refused() -> None:
    with pytest.raises(TypeError):
        g711.ulaw_encode(np.zeros(4, dtype=np.int32))
    with pytest.raises(TypeError):
        g711.alaw_decode(np.zeros(4, dtype=np.int16))
