#!/usr/bin/env python3
"""Regenerate the shipped prompt files in src/ccswitch/prompts/.

Speech comes from espeak-ng (one voice, ``VOICE`` at ``SPEED`` words a minute), is resampled by
PyAV to 8 kHz mono, trimmed to ``PAD_S`` of silence at each end and normalised to an active
speech level of ``SPEECH_DBFS`` RMS (peaks kept below ``PEAK_DBFS``).  Music on hold is
synthesised with numpy: a calm chord progression of soft pads, a bass and a slow arpeggio,
rendered circularly so the loop is seamless; it is written as 8 kHz WAV and as Ogg/Opus.

    .venv/bin/python scripts/make_prompts.py [--out DIR] [--only NAME ...]

The output is deterministic for a given espeak-ng and FFmpeg; commit the files it writes.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

RATE = 8000
VOICE = "en-us"
SPEED = 150  # words a minute
PAD_S = 0.05  # silence kept before and after speech
SPEECH_DBFS = -16.0  # active speech level (RMS over the frames carrying speech)
PEAK_DBFS = -1.0  # no sample above this
GATE_DB = 30.0  # a 10 ms frame within this of the loudest one carries speech
SILENCE_DB = 45.0  # a 10 ms frame within this of the loudest one is not silence (trimming)
MOH_DBFS = -19.0  # music on hold sits a little below speech
MOH_OPUS_RATE = 48000
MOH_OPUS_BITRATE = 32000

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "ccswitch" / "prompts"

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen", "twenty"]
_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
         90: "ninety"}

class Tone(NamedTuple):
    """A prompt that is a plain sine tone (the voicemail beep), not speech."""

    hz: float
    seconds: float


# name -> what espeak-ng says (or a Tone); files land in <out>/en/<name>.wav
PROMPTS: dict[str, str | Tone] = {
    "welcome": "Welcome to ccswitch.",
    "main-menu": "For sales, press 1. For support, press 2. For the echo test, press 9.",
    "invalid": "Sorry, that is not a valid choice.",
    "goodbye": "Thank you for calling. Goodbye.",
    "enter-pin": "Please enter the conference PIN, followed by the hash key.",
    "wrong-pin": "That PIN is not correct.",
    "conference-full": "Sorry, this conference is full.",
    "not-allowed": "Sorry, you are not allowed to do that.",
    "nobody-to-supervise": "That agent is not on a call.",
    "please-hold": "All our agents are busy. Please hold, and you will be connected to the "
                   "next available agent.",
    "you-are-caller": "You are caller number",
    "in-line": "in line.",
    "expected-wait": "Your expected wait time is about",
    "minutes": "minutes.",
    "minute": "minute.",
    "less-than-a-minute": "less than one minute.",
    "thank-you-for-holding": "Thank you for holding.",
    "callback-offer": "To be called back instead of waiting, press 1. Your place in line will "
                      "be kept.",
    "callback-confirm": "Thank you. We will call you back.",
    "recorded": "This call may be recorded.",
    "echo-test": "Echo test. Speak, and you will hear yourself.",
    "leave-message": "Please leave a message after the tone.",
    # voicemail (ccswitch.voicemail): the deposit and the *97 menu
    "vm/beep": Tone(1000.0, 0.4),
    "vm/saved": "Message saved.",
    "vm/deleted": "Message deleted.",
    "vm/enter-password": "Please enter your password.",
    "vm/you-have": "You have",
    "vm/new-message": "new message",
    "vm/new-messages": "new messages",
    "vm/and": "and",
    "vm/saved-message": "saved message.",
    "vm/saved-messages": "saved messages.",
    "vm/no-messages": "You have no messages.",
    "vm/message": "Message",
    "vm/no-more": "No more messages.",
    "vm/options": "Press 4 for the previous message, 5 to repeat, 6 for the next, 7 to "
                  "delete, 9 to save.",
    "vm/options-greeting": "0 to record your greeting.",
    "vm/record-greeting": "Say your greeting after the tone, then press pound.",
    "vm/your-greeting": "Your greeting is:",
    "vm/greeting-options": "Press 1 to keep it, 2 to record again, star to cancel.",
    "vm/greeting-too-short": "Your greeting was too short.",
    "vm/greeting-saved": "Greeting saved.",
    **{f"digits/{n}": word for n, word in enumerate(_ONES)},
    **{f"digits/{n}": word for n, word in _TENS.items()},
    "digits/hundred": "hundred",
    "digits/thousand": "thousand",
}
MOH_NAME = "moh/default"  # <out>/moh/default.wav and .opus (no language)


# -- speech ------------------------------------------------------------------------------------


def espeak(text: str, workdir: Path) -> Path:
    """``text`` spoken by espeak-ng into a WAV file (its native 22,050 Hz)."""
    out = workdir / "speech.wav"
    subprocess.run(["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", str(out), text],
                   check=True)
    return out


def decode(path: Path | str, rate: int = RATE) -> np.ndarray:
    """Any audio file PyAV reads, as float32 mono samples at ``rate`` (full scale 1.0)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def frame_rms(x: np.ndarray, ms: int = 10) -> np.ndarray:
    """RMS of consecutive ``ms`` frames (the last partial frame dropped)."""
    n = RATE * ms // 1000
    frames = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    rms: np.ndarray = np.sqrt(np.mean(frames**2, axis=1))
    return rms


def trim(x: np.ndarray) -> np.ndarray:
    """``x`` cut to its speech plus ``PAD_S`` each side, with 5 ms fades at the cut ends."""
    rms = frame_rms(x)
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-SILENCE_DB / 20))
    n = RATE // 100
    pad = round(PAD_S * RATE)
    start = max(0, int(loud[0]) * n - pad)
    stop = min(len(x), (int(loud[-1]) + 1) * n + pad)
    y = x[start:stop].astype(np.float64)
    fade = np.linspace(0.0, 1.0, RATE * 5 // 1000)
    y[: len(fade)] *= fade
    y[len(y) - len(fade):] *= fade[::-1]
    return y


def active_rms(x: np.ndarray) -> float:
    """The RMS over the 10 ms frames within ``GATE_DB`` of the loudest (a simple P.56)."""
    rms = frame_rms(x)
    active = rms[rms > rms.max() * 10 ** (-GATE_DB / 20)]
    return float(np.sqrt(np.mean(active**2)))


def limit(x: np.ndarray, ceiling: float, window_ms: int = 10) -> np.ndarray:
    """``x`` with its peaks brought under ``ceiling`` by a smooth look-ahead gain (no clipping).

    The gain each sample needs is min-filtered then box-averaged over the same window, so it
    changes over ``window_ms`` and is never above what any sample needs.
    """
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-12))
    w = RATE * window_ms // 1000
    floor = sliding_window_view(np.pad(need, w, constant_values=1.0), 2 * w + 1).min(axis=1)
    gain = sliding_window_view(np.pad(floor, w, mode="edge"), 2 * w + 1).mean(axis=1)
    y: np.ndarray = x * np.minimum(gain, need)  # min() only absorbs float rounding
    return y


def normalise(x: np.ndarray, level_dbfs: float) -> tuple[np.ndarray, float]:
    """``x`` scaled to an active level of ``level_dbfs``, peaks limited to ``PEAK_DBFS``;
    returns the samples and the largest gain reduction of the limiter in dB."""
    y = x * (10 ** (level_dbfs / 20) / active_rms(x))
    peak = float(np.max(np.abs(y)))
    limited = limit(y, 10 ** (PEAK_DBFS / 20))
    return limited, 20 * math.log10(peak / float(np.max(np.abs(limited))))


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32767.0), -32767, 32767).astype("<i2")


def write_wav(path: Path, x: np.ndarray, rate: int = RATE) -> None:
    """``x`` (float, full scale 1.0) as a mono 16-bit PCM WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_pcm16(x).tobytes())


def make_tone(name: str, spec: Tone, out: Path) -> str:
    """A sine tone at the speech level with 10 ms fades (no click); a line for the log."""
    t = np.arange(round(spec.seconds * RATE)) / RATE
    x = np.sin(2 * np.pi * spec.hz * t)
    fade = np.linspace(0.0, 1.0, RATE // 100)
    x[: len(fade)] *= fade
    x[len(x) - len(fade):] *= fade[::-1]
    y, _ = normalise(x, SPEECH_DBFS)
    path = out / "en" / f"{name}.wav"
    write_wav(path, y)
    return f"{path.relative_to(out)}: {len(y) / RATE:5.2f} s, {spec.hz:g} Hz tone"


def make_speech(name: str, text: str, out: Path, workdir: Path) -> str:
    """Speak, resample, trim, normalise and write one prompt; a line for the log."""
    x = decode(espeak(text, workdir))
    y, reduction = normalise(trim(x), SPEECH_DBFS)
    path = out / "en" / f"{name}.wav"
    write_wav(path, y)
    level = 20 * math.log10(active_rms(y))
    note = f"  (peaks limited by {reduction:.1f} dB)" if reduction > 0.05 else ""
    return f"{path.relative_to(out)}: {len(y) / RATE:5.2f} s, {level:6.1f} dBFS active{note}"


# -- music on hold -----------------------------------------------------------------------------

BEAT_S = 0.75  # 80 beats a minute
BEATS_PER_CHORD = 4
# (bass, pad notes) as MIDI numbers; voice-led so neighbouring chords share notes
CHORDS: list[tuple[int, tuple[int, ...]]] = [
    (48, (55, 59, 64, 67)),  # Cmaj7
    (45, (55, 60, 64, 67)),  # Am7
    (41, (57, 60, 64, 69)),  # Fmaj7
    (43, (55, 59, 62, 67)),  # G
    (40, (55, 59, 62, 64)),  # Em7
    (45, (55, 60, 64, 69)),  # Am7
    (38, (57, 60, 62, 65)),  # Dm7
    (43, (55, 59, 62, 65)),  # G7
]
ARPEGGIO = (0, 2, 3, 1)  # which pad note (an octave up) sounds on each beat


def midi_hz(note: int) -> float:
    return float(440.0 * 2.0 ** ((note - 69) / 12))


def add_circular(buf: np.ndarray, start: int, sound: np.ndarray) -> None:
    """Add ``sound`` into ``buf`` from ``start``, wrapping past the end to the beginning, so the
    buffer is one period of a periodic signal and its loop has no seam."""
    idx = (start + np.arange(len(sound))) % len(buf)
    np.add.at(buf, idx, sound)


def tone(freq: float, t: np.ndarray, partials: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A sum of harmonics ``(multiple, amplitude)`` of ``freq`` at times ``t``."""
    return sum((a * np.sin(2 * np.pi * freq * k * t) for k, a in partials),
               start=np.zeros_like(t))


PAD = ((1, 1.0), (2, 0.18), (3, 0.05))  # soft, mostly sine
TRIANGLE = ((1, 1.0), (3, -1 / 9), (5, 1 / 25), (7, -1 / 49), (9, 1 / 81))
BELL = ((1, 1.0), (2, 0.25), (4, 0.06))


def render_moh(rate: int) -> np.ndarray:
    """One seamless period of the music on hold at ``rate`` (peak-free float, level unset)."""
    chord_s = BEAT_S * BEATS_PER_CHORD
    buf = np.zeros(round(len(CHORDS) * chord_s * rate))
    xfade = 0.8  # seconds the pads of neighbouring chords overlap
    span = chord_s + xfade
    t = np.arange(round(span * rate)) / rate
    ramp = np.clip(np.minimum(t, span - t) / xfade, 0.0, 1.0)
    envelope = 0.5 - 0.5 * np.cos(np.pi * ramp)  # raised cosine: overlaps sum to one
    for i, (bass, notes) in enumerate(CHORDS):
        start = round((i * chord_s - xfade / 2) * rate)
        pad = sum((tone(midi_hz(n) * d, t, PAD) for n in notes for d in (0.9985, 1.0015)),
                  start=np.zeros_like(t))
        add_circular(buf, start, envelope * (0.06 * pad + 0.22 * tone(midi_hz(bass), t, TRIANGLE)))
    note_t = np.arange(round(3.0 * rate)) / rate
    pluck = np.minimum(note_t / 0.012, 1.0) * np.exp(-note_t / 0.6)
    pluck[-round(0.2 * rate):] *= np.linspace(1.0, 0.0, round(0.2 * rate))
    for i, (_, notes) in enumerate(CHORDS):
        for beat, which in enumerate(ARPEGGIO):
            start = round((i * chord_s + beat * BEAT_S) * rate)
            add_circular(buf, start, 0.10 * pluck * tone(midi_hz(notes[which] + 12), note_t, BELL))
    # a slow swell, a whole number of cycles per loop so it stays seamless
    swell = 1.0 + 0.12 * np.sin(2 * np.pi * 2 * np.arange(len(buf)) / len(buf))
    return buf * swell


def write_opus(path: Path, x: np.ndarray, rate: int) -> None:
    """``x`` (float mono at ``rate``) as Ogg/Opus through PyAV's libopus."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = rate // 50
    # bitexact: a fixed Ogg serial number and no encoder version tag, so reruns are identical
    with av.open(str(path), "w", format="ogg",
                 container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=rate, layout="mono",
                                      options={"flags": "+bitexact"})
        stream.bit_rate = MOH_OPUS_BITRATE
        samples = to_pcm16(x)
        for pts in range(0, len(samples), frame):
            chunk = samples[pts: pts + frame]
            af = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            af.sample_rate = rate
            af.pts = pts
            container.mux(stream.encode(af))
        container.mux(stream.encode(None))


def make_moh(out: Path) -> list[str]:
    """Write the music-on-hold loop as 8 kHz WAV and 48 kHz Ogg/Opus; lines for the log."""
    wav = render_moh(RATE)
    gain = 10 ** (MOH_DBFS / 20) / float(np.sqrt(np.mean(wav**2)))
    wav_path = out / f"{MOH_NAME}.wav"
    write_wav(wav_path, wav * gain)
    hi = render_moh(MOH_OPUS_RATE) * gain
    opus_path = out / f"{MOH_NAME}.opus"
    write_opus(opus_path, hi, MOH_OPUS_RATE)
    peak = 20 * math.log10(float(np.max(np.abs(wav * gain))))
    return [f"{wav_path.relative_to(out)}: {len(wav) / RATE:.2f} s, {MOH_DBFS:.1f} dBFS RMS, "
            f"peak {peak:.1f} dBFS",
            f"{opus_path.relative_to(out)}: {opus_path.stat().st_size} bytes"]


# -- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory to write into (default: %(default)s)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"regenerate only these prompts ({MOH_NAME} for the music)")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("make_prompts: espeak-ng is not installed (apt-get install espeak-ng)",
              file=sys.stderr)
        return 1
    wanted = set(args.only or [*PROMPTS, MOH_NAME])
    unknown = wanted - {*PROMPTS, MOH_NAME}
    if unknown:
        print(f"make_prompts: unknown prompt(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ccswitch-prompts-") as tmp:
        for name, text in PROMPTS.items():
            if name in wanted:
                print(make_tone(name, text, args.out) if isinstance(text, Tone)
                      else make_speech(name, text, args.out, Path(tmp)))
    if MOH_NAME in wanted:
        for line in make_moh(args.out):
            print(line)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.suffix in {".wav", ".opus"})
    print(f"total {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
