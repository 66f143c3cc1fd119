"""The shipped prompt files: every name the IVR can say exists, decodes as 8 kHz mono speech at a
steady level, and the music-on-hold loop has no seam."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from ccswitch.ivr import say_number, say_position, say_wait
from ccswitch.prompts import (
    PROMPTS_DIR,
    UnknownPromptError,
    prompt_names,
    prompt_path,
)

RATE = 8000
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_prompts.py"

# what the demo IVR 700 and the queue's waiting experience play (CONTRACT.md, issues 3 and 4)
DEMO = ["welcome", "main-menu", "invalid", "goodbye", "please-hold", "you-are-caller",
        "expected-wait", "minutes", "minute", "less-than-a-minute", "thank-you-for-holding",
        "callback-offer", "callback-confirm", "recorded", "echo-test", "leave-message",
        "moh/default"]


def spoken_names() -> set[str]:
    """Every prompt name the say functions can produce."""
    names: set[str] = set()
    for n in range(10_000):
        names.update(say_number(n))
    for n in (1, 2, 21, 100, 1000):
        names.update(say_position(n))
    for seconds in (0, 30, 60, 61, 3600):
        names.update(say_wait(seconds))
    return names


SPEECH = sorted(n for n in prompt_names() if not n.startswith("moh/"))


@pytest.fixture(scope="module")
def av() -> ModuleType:
    module: ModuleType = pytest.importorskip(
        "av", reason="PyAV (the `media` extra) decodes the prompt files")
    return module


def decode(av: ModuleType, path: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The file's samples as float (full scale 1.0) at its own rate, and what its stream says."""
    with av.open(path) as container:
        stream = container.streams.audio[0]
        info = {"codec": stream.codec_context.name, "rate": stream.rate,
                "channels": stream.codec_context.channels, "format": stream.format.name}
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
    samples = np.concatenate(chunks, axis=1).astype(np.float64)
    if info["format"] == "s16":
        samples /= 32768.0
    return samples[0], info


def frame_rms(x: np.ndarray, rate: int = RATE, ms: int = 10) -> np.ndarray:
    n = rate * ms // 1000
    rms: np.ndarray = np.sqrt(np.mean(x[: len(x) // n * n].reshape(-1, n) ** 2, axis=1))
    return rms


def dbfs(value: float) -> float:
    return 20 * math.log10(max(value, 1e-12))


# -- names and paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEMO)
def test_demo_prompts_exist(name: str) -> None:
    path = Path(prompt_path(name))
    assert path.is_file() and path.suffix == ".wav"
    assert PROMPTS_DIR in path.parents


def test_every_spoken_name_is_shipped() -> None:
    shipped = set(prompt_names())
    missing = spoken_names() - shipped
    assert not missing, sorted(missing)
    for name in spoken_names():
        assert Path(prompt_path(name)).is_file()


def test_speech_is_per_language_and_music_is_not() -> None:
    assert prompt_path("digits/7") == str(PROMPTS_DIR / "en" / "digits" / "7.wav")
    assert prompt_path("moh/default") == str(PROMPTS_DIR / "moh" / "default.wav")
    assert prompt_path("moh/default", "fr") == prompt_path("moh/default")
    assert prompt_path("moh/default", ext="opus").endswith("moh/default.opus")
    assert "moh/default" in prompt_names()
    with pytest.raises(UnknownPromptError, match="'fr'"):
        prompt_path("welcome", "fr")
    assert prompt_names("fr") == ["moh/default"]


@pytest.mark.parametrize(("name", "lang", "ext", "said"), [
    ("no-such-prompt", "en", "wav", "unknown prompt 'no-such-prompt'"),
    ("digits/21", "en", "wav", "digits/21"),
    ("welcome", "en", "opus", "welcome.opus"),
    ("../__init__", "en", "wav", "bad prompt name"),
    ("/etc/passwd", "en", "wav", "bad prompt name"),
    ("digits/../welcome", "en", "wav", "bad prompt name"),
    ("digits//1", "en", "wav", "bad prompt name"),
    ("Welcome", "en", "wav", "bad prompt name"),
    ("welcome.wav", "en", "wav", "bad prompt name"),
    ("", "en", "wav", "bad prompt name"),
    ("welcome", "../en", "wav", "bad prompt language"),
    ("welcome", "", "wav", "bad prompt language"),
    ("welcome", "en", "w/av", "bad prompt file type"),
])
def test_unknown_or_malformed_names_are_refused_clearly(name: str, lang: str, ext: str,
                                                        said: str) -> None:
    with pytest.raises(UnknownPromptError, match=said.replace(".", r"\.")) as caught:
        prompt_path(name, lang, ext=ext)
    assert isinstance(caught.value, LookupError)


def test_the_script_and_the_shipped_files_agree(av: ModuleType) -> None:
    spec = importlib.util.spec_from_file_location("make_prompts", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert set(prompt_names()) == {*script.PROMPTS, script.MOH_NAME}
    assert set(DEMO) <= set(prompt_names())


def test_shipped_files_stay_small() -> None:
    total = sum(p.stat().st_size for p in PROMPTS_DIR.rglob("*") if p.suffix != ".py"
                and p.is_file() and "__pycache__" not in p.parts)
    # 2.0 MB until the voicemail greeting prompts (vm/*greeting*, about 190 kB) came
    assert total < 2_250_000, f"{total} bytes of prompts"


# -- speech files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPEECH)
def test_speech_prompt_is_8khz_mono_speech_at_a_steady_level(av: ModuleType, name: str) -> None:
    x, info = decode(av, prompt_path(name))
    assert info == {"codec": "pcm_s16le", "rate": RATE, "channels": 1, "format": "s16"}
    seconds = len(x) / RATE
    assert 0.3 <= seconds <= 8.0, seconds
    assert dbfs(float(np.sqrt(np.mean(x**2)))) > -30.0  # speech energy, not near-silence
    rms = frame_rms(x)
    active = rms[rms > rms.max() * 10 ** (-30 / 20)]
    level = dbfs(float(np.sqrt(np.mean(active**2))))
    assert -18.0 <= level <= -14.5, f"active speech level {level:.1f} dBFS"
    peak = float(np.max(np.abs(x)))
    assert peak < 10 ** (-0.5 / 20), f"peak {dbfs(peak):.1f} dBFS: clipping risk"
    # trimmed: speech starts and ends within ~50 ms of the file's ends (10 ms frames)
    voiced = np.flatnonzero(rms > rms.max() * 10 ** (-40 / 20))
    assert voiced[0] * 10 <= 120, f"{voiced[0] * 10} ms of leading silence"
    assert (len(rms) - 1 - voiced[-1]) * 10 <= 120, "trailing silence"
    # the files start and end quietly (no click when prompts are chained)
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01


def test_chained_numbers_have_matching_levels(av: ModuleType) -> None:
    levels = []
    for name in sorted(spoken_names()):
        rms = frame_rms(decode(av, prompt_path(name))[0])
        levels.append(dbfs(float(np.sqrt(np.mean(rms[rms > rms.max() * 10 ** (-30 / 20)] ** 2)))))
    assert max(levels) - min(levels) < 3.0, levels


# -- music on hold -----------------------------------------------------------------------------


def test_music_on_hold_is_an_8khz_loop_of_20_to_30_seconds(av: ModuleType) -> None:
    x, info = decode(av, prompt_path("moh/default"))
    assert info == {"codec": "pcm_s16le", "rate": RATE, "channels": 1, "format": "s16"}
    assert 20.0 <= len(x) / RATE <= 30.0
    level = dbfs(float(np.sqrt(np.mean(x**2))))
    assert -24.0 <= level <= -14.0, level
    assert np.max(np.abs(x)) < 10 ** (-1 / 20)
    # it plays throughout: no fade to silence at the ends, no gap inside
    edge = RATE // 2
    whole = float(np.sqrt(np.mean(x**2)))
    assert float(np.sqrt(np.mean(x[:edge] ** 2))) > 0.5 * whole
    assert float(np.sqrt(np.mean(x[-edge:] ** 2))) > 0.5 * whole
    assert frame_rms(x, ms=100).min() > 0.2 * whole


def loops_seamlessly(x: np.ndarray) -> bool:
    """Across the jump from the last sample back to the first, the 1st, 2nd and 3rd differences
    (step, curvature, and what a click or a waveform mismatch shows in) stay within the 99th
    percentile of the signal's own."""
    around = np.concatenate([x[-4:], x[:4]])
    return all(np.abs(np.diff(around, order)).max()
               <= np.percentile(np.abs(np.diff(x, order)), 99) for order in (1, 2, 3))


def test_music_on_hold_loops_without_a_click(av: ModuleType) -> None:
    x, _ = decode(av, prompt_path("moh/default"))
    assert loops_seamlessly(x)
    # the check can fail: the same music cut short at arbitrary points mostly has a seam
    cuts = [len(x) - k * len(x) // 23 for k in range(1, 11)]
    assert sum(not loops_seamlessly(x[:cut]) for cut in cuts) >= 8


def test_music_on_hold_opus_matches_the_wav(av: ModuleType) -> None:
    wav, _ = decode(av, prompt_path("moh/default"))
    with av.open(prompt_path("moh/default", ext="opus")) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks = [f.to_ndarray()[0] for frame in container.decode(stream)
                  for f in resampler.resample(frame)]
        chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]
    opus = np.concatenate(chunks).astype(np.float64)
    assert abs(len(opus) - len(wav)) <= RATE // 20, (len(opus), len(wav))
    n = min(len(opus), len(wav)) - 100
    best = max(float(np.corrcoef(wav[50: 50 + n - 50], opus[50 + lag: 50 + lag + n - 50])[0, 1])
               for lag in range(-40, 41))
    assert best > 0.9, best
