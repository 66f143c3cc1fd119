"""Prompt loading: files PyAV itself encodes (WAV, MP3, Ogg/Opus, FLAC) decode to 8 kHz mono
int16 with the right tone and length; the cache follows the file's mtime and its byte budget."""

from __future__ import annotations

import os
from pathlib import Path

import av  # PyAV: a dependency of the media worker (decoding prompts, Opus/MP3)
import numpy as np
import pytest

from ccswitch.mediaworker.audiofile import AudioCache, AudioFileError, decode_audio, load_audio

# (container, encoder, suffix, source rate, layout): none of them at 8 kHz mono, so every
# file is resampled and down-mixed.
FORMATS = [
    ("wav", "pcm_s16le", ".wav", 16000, "stereo"),
    ("mp3", "libmp3lame", ".mp3", 44100, "stereo"),
    ("ogg", "libopus", ".opus", 48000, "mono"),
    ("flac", "flac", ".flac", 22050, "stereo"),
]


def encode_tone(path: Path, container: str, codec: str, rate: int, layout: str,
                hz: float = 440.0, seconds: float = 1.5) -> None:
    t = np.arange(int(rate * seconds)) / rate
    tone = (10000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    channels = 2 if layout == "stereo" else 1
    interleaved = np.repeat(tone, channels).reshape(1, -1)
    with av.open(str(path), "w", format=container) as c:
        st = c.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout=layout)
        frame.rate = rate
        for packet in st.encode(frame):
            c.mux(packet)
        for packet in st.encode(None):
            c.mux(packet)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    x = x.astype(np.float64)
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


@pytest.mark.parametrize("container, codec, suffix, rate, layout", FORMATS)
def test_decodes_to_8k_mono(tmp_path: Path, container: str, codec: str, suffix: str, rate: int,
                            layout: str) -> None:
    path = tmp_path / ("tone" + suffix)
    encode_tone(path, container, codec, rate, layout)
    samples = load_audio(str(path))
    assert samples.dtype == np.int16 and samples.ndim == 1
    assert samples.size / 8000 == pytest.approx(1.5, abs=0.06)
    body = samples[2000:-2000]
    assert dominant_hz(body, 8000) == pytest.approx(440, abs=5)
    assert 0.5 * 10000 < np.abs(body).max() <= 1.1 * 10000  # level kept, not summed to 2x
    wide = load_audio(str(path), rate=16000)
    assert wide.size / 16000 == pytest.approx(1.5, abs=0.06)
    assert dominant_hz(wide[4000:-4000], 16000) == pytest.approx(440, abs=5)


def test_unreadable_files_raise_one_error_type(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        load_audio(str(tmp_path / "missing.wav"))
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(os.urandom(64) + b"\x00" * 4000)
    with pytest.raises(AudioFileError) as err:
        load_audio(str(junk))
    assert err.value.path == str(junk)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError):
        load_audio(str(empty))
    with pytest.raises(AudioFileError):
        load_audio(str(tmp_path))  # a directory
    cache = AudioCache()
    with pytest.raises(AudioFileError):
        cache.load(str(tmp_path / "missing.wav"))


def test_cache_hits_follow_mtime_and_rate(tmp_path: Path) -> None:
    path = tmp_path / "p.flac"
    encode_tone(path, "flac", "flac", 8000, "mono", hz=440.0)
    cache = AudioCache()
    assert cache.get(str(path)) is None
    first = cache.load(str(path))
    assert cache.load(str(path)) is first
    link = tmp_path / "link.flac"
    link.symlink_to(path)
    assert cache.load(str(link)) is first  # keyed by the real path
    assert (cache.hits, cache.misses) == (2, 1)
    assert not first.flags.writeable
    other_rate = cache.load(str(path), 16000)
    assert other_rate.size == 2 * first.size
    encode_tone(path, "flac", "flac", 8000, "mono", hz=1000.0)  # replaced in place
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = cache.load(str(path))
    assert again is not first
    assert dominant_hz(again[1000:-1000], 8000) == pytest.approx(1000, abs=5)
    assert len(cache) == 2  # the old 8 kHz entry was replaced, the 16 kHz one stays
    assert cache.nbytes == again.nbytes + other_rate.nbytes


def test_cache_drops_least_recently_used(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        p = tmp_path / f"{i}.wav"
        encode_tone(p, "wav", "pcm_s16le", 8000, "mono", seconds=1.0)
        paths.append(str(p))
    cache = AudioCache(max_bytes=2 * 16000 + 100)  # room for two 1 s prompts
    a = cache.load(paths[0])
    cache.load(paths[1])
    assert cache.load(paths[0]) is a  # 0 is now the most recent
    cache.load(paths[2])  # evicts 1
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
    assert cache.get(paths[1]) is None
    assert cache.get(paths[0]) is a


def test_decode_without_cache(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    encode_tone(path, "wav", "pcm_s16le", 8000, "mono", seconds=0.5)
    a, b = decode_audio(str(path)), decode_audio(str(path))
    assert a is not b
    np.testing.assert_array_equal(a, b)
    assert a.size == 4000
