"""Media worker processes (layer 4): RTP sockets and the media tick around the pure engine,
the recording writer, prompt decoding, and the signaling side's client.

- ``settings.WorkerSettings``: what a worker is told at spawn.
- ``process.WorkerHandle`` / ``process.worker_main``: one worker process and its loop.
- ``client.MediaClient``: N workers driven from asyncio, restarted when they die.
- ``audiofile.load_audio`` / ``AudioCache``: prompts decoded by PyAV, resampled once, cached.
- ``wav``: the crash-safe streaming WAV writer, ``repair_wav``, Opus/MP3 conversion.
- ``writer.RecordingWriter``: the worker's disk thread.
"""

from .settings import WorkerSettings

__all__ = ["WorkerSettings"]
