#!/usr/bin/env python3
"""Write the audio files of the example site configuration, configs/site-example/.

German prompts from espeak-ng (voice ``de``) replace two shipped prompts through the site's
``prompt_dirs``; an English welcome is a file named by path; the music class is two short
numpy-synthesised pieces, one as FLAC and one as Ogg/Opus, to show that any format PyAV
reads works.  All 8 kHz mono (Opus at 48 kHz).

    .venv/bin/python scripts/make_site_example.py
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "configs" / "site-example"
RATE = 8000
SPEECH = {
    "prompts/de/please-hold.wav": ("de", "Bitte bleiben Sie am Apparat."),
    "prompts/de/main-menu.wav": ("de", "Für den Support drücken Sie die Eins."),
    "prompts/welcome-support.wav": ("en-us", "Welcome to support."),
}


def speak(voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text],
                       check=True)
        with av.open(str(raw)) as c:
            res = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            chunks = [f.to_ndarray().reshape(-1) for fr in c.decode(audio=0)
                      for f in res.resample(fr)]
    return np.concatenate(chunks).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def tune(notes: list[float], seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    env = np.minimum(1.0, t / 0.03) * np.exp(-3.0 * t)
    parts = [0.25 * env * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
             for f in notes]
    return (np.concatenate(parts) * 32767 * 0.5).astype(np.int16)


def encode(path: Path, samples: np.ndarray, codec: str, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if codec == "libopus":
            stream.bit_rate = 16000
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        res = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for f in res.resample(frame):
            out.mux(stream.encode(f))
        for f in res.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))


def main() -> None:
    for name, (voice, text) in SPEECH.items():
        write_wav(OUT / name, speak(voice, text))
    encode(OUT / "music" / "1-morning.flac", tune([262, 330, 392, 523, 392, 330] * 2), "flac",
           RATE)
    encode(OUT / "music" / "2-evening.opus", tune([220, 262, 330, 440, 330, 262] * 2), "libopus",
           48000)


if __name__ == "__main__":
    main()
