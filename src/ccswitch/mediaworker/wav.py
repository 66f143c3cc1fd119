"""Recording files: a streaming PCM WAV writer that stays readable if the process is killed,
``repair_wav`` for the files a killed process left, and Opus/MP3 made from the WAV by PyAV.

The writer puts a canonical 44-byte header first and rewrites its two sizes (RIFF and ``data``)
at most every ``header_interval`` seconds and at close, after flushing the samples they count:
a reader then sees every sample up to the last rewrite, whatever happens to the process later.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CcswitchError

HEADER_LEN = 44
_RIFF_SIZE_AT = 4
_DATA_SIZE_AT = 40
_U32 = struct.Struct("<I")
_MAX_DATA = 0xFFFFFFFF - (HEADER_LEN - 8)
_FMT = struct.Struct("<HHIIHH")  # format tag, channels, rate, byte rate, block align, bits

# Encoder, container and file suffix of each compressed recording format.
FORMATS: dict[str, tuple[str, str, str]] = {
    "opus": ("libopus", "ogg", ".opus"),
    "mp3": ("libmp3lame", "mp3", ".mp3"),
}


class WavError(CcswitchError):
    """A file that is not a PCM WAV this module can repair or convert."""


class ConversionError(CcswitchError):
    """A WAV could not be converted (no such encoder in PyAV, or the encoder failed)."""


def wav_header(channels: int, rate: int, data_bytes: int) -> bytes:
    """The canonical 44-byte header of 16-bit PCM with ``data_bytes`` of samples."""
    block = 2 * channels
    return (b"RIFF" + _U32.pack(HEADER_LEN - 8 + data_bytes) + b"WAVE"
            + b"fmt " + _U32.pack(16) + _FMT.pack(1, channels, rate, rate * block, block, 16)
            + b"data" + _U32.pack(data_bytes))


def wav_path_for(path: str, fmt: str) -> str:
    """Where a recording in ``fmt`` is written as WAV first (``path`` itself for ``"wav"``)."""
    return path if fmt == "wav" else path + ".wav"


class WavWriter:
    """Streams int16 frames of ``channels`` channels at ``rate`` Hz to ``path`` (truncated).

    ``write`` takes an int16 array of shape ``(n, channels)`` (or ``(n,)`` for one channel).
    Not thread-safe: one thread owns a writer.  Past the 4 GiB WAV limit samples are dropped
    and counted in ``dropped_frames``.
    """

    def __init__(self, path: str, channels: int, rate: int = 8000, *,
                 header_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 buffering: int = 64 * 1024) -> None:
        if channels < 1 or rate < 1:
            raise ValueError("channels and rate must be positive")
        self.path = path
        self.channels = channels
        self.rate = rate
        self.frames = 0
        self.dropped_frames = 0
        self._block = 2 * channels
        self._interval = header_interval
        self._clock = clock
        self._file = open(path, "wb", buffering=buffering)  # noqa: SIM115 - held open
        try:
            self._file.write(wav_header(channels, rate, 0))
        except BaseException:
            self._file.close()
            raise
        self._last_sync = clock()
        self.closed = False

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def write(self, samples: np.ndarray[Any, Any]) -> None:
        """Append frames; the header is rewritten when ``header_interval`` has passed."""
        if samples.ndim == 1 and self.channels == 1:
            samples = samples.reshape(-1, 1)
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise ValueError(f"expected shape (n, {self.channels}), got {samples.shape}")
        n = samples.shape[0]
        room = (_MAX_DATA - self.frames * self._block) // self._block
        if n > room:
            self.dropped_frames += n - room
            samples, n = samples[:room], room
        if n:
            self._file.write(np.ascontiguousarray(samples, dtype="<i2").data)
            self.frames += n
        if self._clock() - self._last_sync >= self._interval:
            self.sync_header()

    def sync_header(self) -> None:
        """Push the samples to the OS, then write the sizes that count them."""
        self._file.flush()
        data = self.frames * self._block
        fd = self._file.fileno()
        os.pwrite(fd, _U32.pack(HEADER_LEN - 8 + data), _RIFF_SIZE_AT)
        os.pwrite(fd, _U32.pack(data), _DATA_SIZE_AT)
        self._last_sync = self._clock()

    def truncate(self, frames: int) -> None:
        """Keep only the first ``frames`` frames (a recording's trailing silence cut off)."""
        if 0 <= frames < self.frames:
            self._file.flush()
            self._file.truncate(HEADER_LEN + frames * self._block)
            self._file.seek(0, os.SEEK_END)
            self.frames = frames
            self.sync_header()

    def close(self, *, fsync: bool = True) -> float:
        """Final header, fsync (the file is complete on disk), close; returns the seconds."""
        if not self.closed:
            try:
                self.sync_header()
                if fsync:
                    os.fsync(self._file.fileno())
            finally:
                self.closed = True
                self._file.close()
        return self.seconds


def _find_chunks(f: Any, file_size: int) -> tuple[int, int, int]:
    """(block align, offset of the data chunk's size field, offset of the samples)."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    pos, block = 12, 0
    while pos + 8 <= file_size:
        f.seek(pos)
        cid, size = f.read(4), _U32.unpack(f.read(4))[0]
        if cid == b"fmt ":
            fields = _FMT.unpack(f.read(_FMT.size))
            if fields[0] not in (1, 0xFFFE):
                raise WavError(f"format tag {fields[0]:#x} is not PCM")
            block = fields[4]
        elif cid == b"data":
            if not block:
                raise WavError("data chunk before fmt chunk")
            return block, pos + 4, pos + 8
        pos += 8 + size + (size & 1)
    raise WavError("no data chunk")


def repair_wav(path: str) -> bool:
    """Make the sizes of ``path`` (a WAV whose writer was killed) count the samples on disk.

    The samples run to the end of the file; a trailing partial frame is cut.  Returns True if
    the file was changed, False if it was already consistent.  Raises ``WavError`` for a file
    that is not a PCM WAV (``OSError`` if it cannot be read or written).
    """
    with open(path, "r+b") as f:
        file_size = os.fstat(f.fileno()).st_size
        block, size_at, data_at = _find_chunks(f, file_size)
        data = file_size - data_at
        data -= data % block
        data = min(data, _MAX_DATA - (_MAX_DATA % block))
        f.seek(_RIFF_SIZE_AT)
        riff = _U32.unpack(f.read(4))[0]
        f.seek(size_at)
        declared = _U32.unpack(f.read(4))[0]
        want_riff = data_at - 8 + data
        if declared == data and riff == want_riff and file_size == data_at + data:
            return False
        f.truncate(data_at + data)
        f.seek(_RIFF_SIZE_AT)
        f.write(_U32.pack(want_riff))
        f.seek(size_at)
        f.write(_U32.pack(data))
        f.flush()
        os.fsync(f.fileno())
    return True


def format_of(path: str) -> str:
    """The recording format a path names by its suffix ("opus", "mp3", else "wav")."""
    suffix = Path(path).suffix
    return next((fmt for fmt, (_c, _k, sfx) in FORMATS.items() if sfx == suffix), "wav")


def recover(path: str, fmt: str) -> float:
    """Make the recording ``path`` in ``fmt`` whole after its writer was killed: its WAV is
    repaired and, for Opus or MP3, converted to ``path`` and removed.  Returns the seconds
    of audio; raises ``WavError``, ``ConversionError`` or ``OSError`` when it cannot."""
    wav = wav_path_for(path, fmt)
    if fmt != "wav" and not os.path.exists(wav) and os.path.exists(path):
        return 0.0  # converted before the writer stopped; only the report was lost
    repair_wav(wav)
    with open(wav, "rb") as f:
        _block, size_at, _data_at = _find_chunks(f, os.fstat(f.fileno()).st_size)
        f.seek(28)  # the fmt chunk's byte rate: ours is always the first chunk
        byte_rate = _U32.unpack(f.read(4))[0]
        f.seek(size_at)
        data = _U32.unpack(f.read(4))[0]
    seconds = data / byte_rate if byte_rate else 0.0
    if fmt != "wav":
        convert(wav, fmt, path)
        os.unlink(wav)
    return seconds


def convert(path_wav: str, fmt: str, dest: str | None = None, *,
            bit_rate_per_channel: int = 16000) -> str:
    """Encode the WAV ``path_wav`` as ``fmt`` ("opus": Ogg Opus, "mp3") with PyAV.

    Writes ``dest`` (default: ``path_wav`` with the format's suffix) through a temporary file
    renamed into place once fsync'ed, and returns it; ``path_wav`` is left as it is.  Raises
    ``ConversionError`` if this PyAV lacks the encoder or encoding fails.
    """
    if fmt == "wav":
        return path_wav
    if fmt not in FORMATS:
        raise ConversionError(f"unknown recording format {fmt!r}")
    import av  # PyAV is the optional "media" dependency: imported only when converting

    codec, container, suffix = FORMATS[fmt]
    try:
        av.codec.Codec(codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError) as exc:
        raise ConversionError(f"this PyAV/FFmpeg build has no {codec} encoder for {fmt}") from exc
    if dest is None:
        dest = str(Path(path_wav).with_suffix(suffix))
    tmp = dest + ".part"
    try:
        _encode(av, path_wav, tmp, codec, container, bit_rate_per_channel)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except av.error.FFmpegError as exc:
        _unlink_quietly(tmp)
        raise ConversionError(f"{fmt} encoding of {path_wav} failed: {exc}") from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return dest


def _encode(av: Any, src: str, dst: str, codec: str, container: str, bit_rate: int) -> None:
    with av.open(src) as inp, av.open(dst, "w", format=container) as out:
        if not inp.streams.audio:
            raise ConversionError(f"{src} has no audio stream")
        ins = inp.streams.audio[0]
        channels = ins.codec_context.channels
        if codec == "libmp3lame" and channels > 2:
            raise ConversionError(f"MP3 holds at most 2 channels, {src} has {channels}")
        # a plain PCM WAV has no channel mask: FFmpeg calls its layout "2 channels"
        layout = {1: "mono", 2: "stereo"}.get(channels) or ins.codec_context.layout.name
        st = out.add_stream(codec, rate=ins.codec_context.sample_rate, layout=layout)
        st.bit_rate = bit_rate * channels
        for frame in inp.decode(ins):
            frame.pts = None
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode(None):
            out.mux(packet)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
