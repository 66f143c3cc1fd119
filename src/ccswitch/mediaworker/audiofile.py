"""Prompts and music from any audio file PyAV reads (WAV, MP3, Ogg/Opus, FLAC, …), decoded
once to mono int16 at the leg's rate and kept in an LRU cache keyed by (real path, mtime, rate).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np
import structlog

from ..errors import CcswitchError

log = structlog.get_logger()

Samples = np.ndarray[Any, np.dtype[np.int16]]


class AudioFileError(CcswitchError):
    """An audio file that cannot be played: missing, unreadable, not audio, or empty."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def decode_audio(path: str, rate: int = 8000) -> Samples:
    """Decode the first audio stream of ``path`` to mono int16 at ``rate`` Hz (no cache)."""
    import av  # PyAV is the optional "media" dependency

    try:
        container = av.open(path)
    except FileNotFoundError as exc:
        raise AudioFileError(path, "no such file") from exc
    except (OSError, av.error.FFmpegError) as exc:
        raise AudioFileError(path, f"cannot open: {exc}") from exc
    chunks: list[np.ndarray[Any, Any]] = []
    try:
        with container:
            if not container.streams.audio:
                raise AudioFileError(path, "no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(container.streams.audio[0]):
                frame.pts = None
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (OSError, av.error.FFmpegError) as exc:
        raise AudioFileError(path, f"cannot decode: {exc}") from exc
    samples = np.concatenate(chunks).astype(np.int16, copy=False) if chunks else None
    if samples is None or not samples.size:
        raise AudioFileError(path, "no audio samples")
    samples.flags.writeable = False
    return samples


class AudioCache:
    """Decoded files, least recently used dropped first once ``max_bytes`` is passed.

    A file is decoded again when its mtime changes.  Returned arrays are shared and read-only.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, int, int], Samples] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(path: str, rate: int) -> tuple[str, int, int]:
        """(real path, mtime in ns, rate); raises ``AudioFileError`` if ``path`` is missing."""
        real = os.path.realpath(path)
        try:
            mtime = os.stat(real).st_mtime_ns
        except OSError as exc:
            raise AudioFileError(path, f"cannot stat: {exc.strerror or exc}") from exc
        return real, mtime, rate

    def get(self, path: str, rate: int = 8000) -> Samples | None:
        """The cached samples of ``path`` at ``rate``, or None (never decodes)."""
        key = self.key(path, rate)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return found

    def load(self, path: str, rate: int = 8000) -> Samples:
        """The samples of ``path`` at ``rate``, decoded on a miss."""
        found = self.get(path, rate)
        if found is not None:
            return found
        key = self.key(path, rate)
        samples = decode_audio(path, rate)
        self.misses += 1
        self.put(key, samples)
        log.debug("audio_decoded", path=key[0], rate=rate, seconds=samples.size / rate)
        return samples

    def put(self, key: tuple[str, int, int], samples: Samples) -> None:
        """Keep ``samples`` under ``key`` (older versions of the same path and rate go)."""
        for old in [k for k in self._entries if k[0] == key[0] and k[2] == key[2]]:
            self.nbytes -= self._entries.pop(old).nbytes
        self._entries[key] = samples
        self.nbytes += samples.nbytes
        while self.nbytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self.nbytes -= dropped.nbytes


def load_audio(path: str, rate: int = 8000, *, cache: AudioCache | None = None) -> Samples:
    """Mono int16 samples of ``path`` at ``rate`` Hz, through ``cache`` when given.

    Raises ``AudioFileError`` for a missing, unreadable or empty file.
    """
    if cache is None:
        return decode_audio(path, rate)
    return cache.load(path, rate)
