"""G.722 and Opus: the pure resampler and codec table, and the worker's PyAV codecs with a real
PyAV (a 1 kHz tone through encode and decode keeps its frequency and level)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from ccswitch.media.mixer import Resampler, is_g711, rtp_clock
from ccswitch.mediaworker.codecs import AvCodecs, available

SPF = 160


def sine(freq: float, n: int, rate: int = 8000, amp: float = 10000.0) -> NDArray[np.int16]:
    return np.rint(amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.int16)


def dominant(x: NDArray[np.int16], rate: int = 8000) -> float:
    spec = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def rms(x: NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(x.astype(float) ** 2)))


def test_rtp_clocks_follow_rfc_3551_and_7587() -> None:
    assert [rtp_clock(c) for c in ("PCMU", "PCMA", "G722", "opus")] == [8000, 8000, 8000, 48000]
    assert is_g711("PCMA") and is_g711(None) and not is_g711("G722")


@pytest.mark.parametrize(("up", "down", "rate_in"), [(2, 1, 8000), (1, 2, 16000),
                                                      (1, 6, 48000)])
def test_resampler_keeps_frame_lengths_tone_and_level(up: int, down: int, rate_in: int) -> None:
    r = Resampler(up=up, down=down)
    n = 20 * rate_in // 1000
    x = sine(1000, n * 50, rate_in)
    frames = [r(x[i * n:(i + 1) * n]) for i in range(50)]
    assert {len(f) for f in frames} == {n * up // down}
    y = np.concatenate(frames)[400:]
    rate_out = rate_in * up // down
    assert dominant(y, rate_out) == pytest.approx(1000, abs=rate_out / len(y) * 2)
    assert rms(y) == pytest.approx(10000 / np.sqrt(2), rel=0.03)


def test_downsampling_removes_what_8khz_cannot_hold() -> None:
    y = Resampler(down=2)(sine(6000, 3200, 16000))  # 6 kHz would alias to 2 kHz
    assert rms(y[100:]) < 100


def test_resampler_rejects_a_length_it_cannot_divide() -> None:
    with pytest.raises(ValueError):
        Resampler(down=6)(np.zeros(100, dtype=np.int16))
    with pytest.raises(ValueError):
        Resampler(up=2, down=2)


needs_av = pytest.mark.skipif(available() != {"G722", "opus"},
                              reason=f"PyAV has only {sorted(available())}")


@needs_av
@pytest.mark.parametrize("codec", ["G722", "opus"])
def test_a_1khz_tone_survives_encode_and_decode(codec: str) -> None:
    enc, dec = AvCodecs(), AvCodecs()
    x = sine(1000, SPF * 50)
    payloads = [enc.encode(1, codec, x[i * SPF:(i + 1) * SPF]) for i in range(50)]
    if codec == "G722":
        assert {len(p) for p in payloads} == {160}  # 64 kbit/s, 20 ms
    else:
        assert all(10 < len(p) < 200 for p in payloads)
    out = [dec.decode(2, codec, p) for p in payloads]
    assert {len(o) for o in out} == {SPF}
    y = np.concatenate(out)[-4000:]
    assert dominant(y) == pytest.approx(1000, abs=4)
    assert rms(y) == pytest.approx(rms(x), rel=0.1)
    assert enc.errors == dec.errors == 0


@needs_av
def test_codec_state_is_per_leg_and_dropped() -> None:
    c = AvCodecs()
    c.encode(1, "G722", sine(1000, SPF))
    c.encode(2, "opus", sine(1000, SPF))
    c.drop(1)
    assert c.supports("G722") and not c.supports("PCMU")
    assert [k for k in c._states] == [(2, "opus")]


@needs_av
def test_a_payload_pyav_rejects_decodes_as_nothing_and_is_counted() -> None:
    c = AvCodecs()
    out = c.decode(1, "opus", b"\xff" * 3)
    assert len(out) == 0 and c.errors == 1


def test_a_codec_left_out_is_not_supported() -> None:
    c = AvCodecs(frozenset({"opus"}))
    assert not c.supports("G722")
    with pytest.raises(ValueError):
        c.encode(1, "G722", sine(1000, SPF))


def test_media_codecs_option_is_checked_and_normalised() -> None:
    from ccswitch.config.schema import ConfigError, parse_config

    assert parse_config("", "x").media.codecs == ("PCMU", "PCMA", "G722", "opus")
    assert parse_config('[media]\ncodecs = ["g722", "Opus", "pcmu"]\n', "x").media.codecs == \
        ("G722", "opus", "PCMU")
    for bad in ('["G729"]', "[]", '["PCMU", "pcmu"]'):
        with pytest.raises(ConfigError):
            parse_config(f"[media]\ncodecs = {bad}\n", "x")
