"""The recording writer thread of a media worker: the tick hands it audio, it does the disk I/O.

Every ``RecordDone`` names the path the recording was opened with (the one its row names),
also when it failed; a WAV whose conversion failed is kept beside it (``<path>.wav``).

Items on its queue are ``(rec_id, chunk | None | _Open)``: ``_Open`` starts a file, a chunk
(int16, shape ``(n, channels)``) is appended, ``None`` completes the recording.  Exactly one
``RecordDone`` is reported per opened recording: after the file is complete and fsync'ed (and
converted to Opus/MP3 when asked, on a second thread so long encodes do not hold up the writes),
or at once when it fails (later chunks and the close are then ignored).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from ..media.commands import MediaEvent, RecordDone
from .wav import ConversionError, WavWriter, convert, wav_path_for


@dataclass(frozen=True, slots=True)
class _Open:
    path: str
    channels: int
    fmt: str


@dataclass(frozen=True, slots=True)
class _Trim:
    frames: int


_STOP = object()
Chunk = np.ndarray[Any, Any]


@dataclass(slots=True)
class _Recording:
    wav: WavWriter
    path: str
    fmt: str


class RecordingWriter:
    """Owns the recording files of one worker; call ``start`` once, ``stop`` at the end."""

    def __init__(self, *, rate: int = 8000, header_interval: float = 1.0,
                 log: Any = None) -> None:
        self.rate = rate
        self.header_interval = header_interval
        self.log = log if log is not None else structlog.get_logger()
        self.written_frames = 0
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._events: list[MediaEvent] = []
        self._lock = threading.Lock()
        self._recs: dict[int, _Recording] = {}
        self._converter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rec-convert")
        self._thread = threading.Thread(target=self._run, name="rec-writer", daemon=True)

    # ------------------------------------------------------------------ tick side
    def start(self) -> None:
        self._thread.start()

    def open(self, rec_id: int, path: str, channels: int, fmt: str) -> None:
        self._queue.put((rec_id, _Open(path, channels, fmt)))

    def write(self, rec_id: int, chunk: Chunk) -> None:
        self._queue.put((rec_id, chunk))

    def close(self, rec_id: int, *, keep_frames: int | None = None) -> None:
        """Finish the file; ``keep_frames``: cut it to that many frames first."""
        if keep_frames is not None:
            self._queue.put((rec_id, _Trim(keep_frames)))
        self._queue.put((rec_id, None))

    def events(self) -> list[MediaEvent]:
        """The ``RecordDone`` events reported since the last call."""
        if not self._events:
            return []
        with self._lock:
            out, self._events = self._events, []
        return out

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float | None = None) -> bool:
        """Complete every open recording, wait for the writes and conversions; True if done."""
        self._queue.put((0, _STOP))
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if done:
            self._converter.shutdown(wait=True)
        return done

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while True:
            rec_id, item = self._queue.get()
            if item is _STOP:
                for open_id in list(self._recs):
                    self._complete(open_id)
                return
            try:
                if isinstance(item, _Open):
                    self._open(rec_id, item)
                elif item is None:
                    self._complete(rec_id)
                elif isinstance(item, _Trim):
                    rec = self._recs.get(rec_id)
                    if rec is not None:
                        rec.wav.truncate(item.frames)
                else:
                    self._write(rec_id, item)
            except Exception:  # keep writing the other recordings whatever one does
                self.log.exception("record_writer_error", rec_id=rec_id)

    def _report(self, event: RecordDone) -> None:
        with self._lock:
            self._events.append(event)

    def _open(self, rec_id: int, item: _Open) -> None:
        if rec_id in self._recs:
            self.log.warning("record_id_reused", rec_id=rec_id)
            self._complete(rec_id)
        wav_path = wav_path_for(item.path, item.fmt)
        try:
            os.makedirs(os.path.dirname(wav_path) or ".", exist_ok=True)
            wav = WavWriter(wav_path, item.channels, self.rate,
                            header_interval=self.header_interval)
        except (OSError, ValueError) as exc:
            self.log.error("record_open_failed", rec_id=rec_id, path=wav_path, error=str(exc))
            self._report(RecordDone(rec_id, item.path, 0.0, ok=False))
            return
        self._recs[rec_id] = _Recording(wav, item.path, item.fmt)

    def _write(self, rec_id: int, chunk: Chunk) -> None:
        rec = self._recs.get(rec_id)
        if rec is None:
            return  # failed or never opened: dropped (the failure was reported)
        try:
            rec.wav.write(chunk)
            self.written_frames += chunk.shape[0]
        except (OSError, ValueError) as exc:
            self.log.error("record_write_failed", rec_id=rec_id, path=rec.wav.path,
                           error=str(exc))
            del self._recs[rec_id]
            self._close_quietly(rec.wav)
            self._report(RecordDone(rec_id, rec.path, rec.wav.seconds, ok=False))

    def _complete(self, rec_id: int) -> None:
        rec = self._recs.pop(rec_id, None)
        if rec is None:
            return
        try:
            seconds = rec.wav.close()
        except OSError as exc:
            self.log.error("record_close_failed", rec_id=rec_id, path=rec.wav.path,
                           error=str(exc))
            self._report(RecordDone(rec_id, rec.path, rec.wav.seconds, ok=False))
            return
        if rec.fmt == "wav":
            self._report(RecordDone(rec_id, rec.path, seconds))
        else:
            self._converter.submit(self._convert, rec_id, rec, seconds)

    def _convert(self, rec_id: int, rec: _Recording, seconds: float) -> None:
        try:
            convert(rec.wav.path, rec.fmt, rec.path)
        except (ConversionError, OSError) as exc:
            self.log.error("record_convert_failed", rec_id=rec_id, path=rec.path,
                           wav_kept=rec.wav.path, error=str(exc))
            self._report(RecordDone(rec_id, rec.path, seconds, ok=False))
            return
        try:
            os.unlink(rec.wav.path)
        except OSError as exc:
            self.log.warning("record_wav_unlink_failed", path=rec.wav.path, error=str(exc))
        self._report(RecordDone(rec_id, rec.path, seconds))

    @staticmethod
    def _close_quietly(wav: WavWriter) -> None:
        with contextlib.suppress(OSError):
            wav.close(fsync=False)
