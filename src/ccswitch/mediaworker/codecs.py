"""G.722 and Opus for the media engine, through PyAV (the shell side of ``media.mixer``).

``AvCodecs`` is the ``FrameCodec`` a worker gives its ``MediaEngine``: per leg and codec a
PyAV decoder and encoder, made on first use, and the FIR resamplers between the codec's rate
and the engine's 8 kHz:

* G.722: 16 kHz audio (RTP clock 8000, RFC 3551), 64 kbit/s, 160 bytes per 20 ms;
  decoded at 16 kHz and halved, encoded from 8 kHz doubled.
* Opus: libopus encodes the 8 kHz frames as they are (it takes 8 kHz input; the RTP clock
  stays 48000, RFC 7587); decoders give 48 kHz (mono or stereo), averaged and divided by 6.

``available()`` says which of the two this PyAV build can both decode and encode: the
signaling side offers only those (a codec we could relay but not decode would break
recordings, prompts and transcoding).  A payload PyAV rejects decodes as silence and is
counted in ``errors``; nothing here raises into the tick.
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import av
import numpy as np
import structlog
from numpy.typing import NDArray

from ..ids import Ids
from ..media.mixer import Resampler
from .settings import WorkerSettings

__all__ = ["AvCodecs", "available", "make_codec_engine"]

log = structlog.get_logger(__name__)

I16 = NDArray[np.int16]
RATE = 8000
OPUS_BITRATE = 24000

# engine codec name -> (decoder names, encoder names), first available wins
_AV_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "G722": (("g722",), ("g722",)),
    "opus": (("libopus", "opus"), ("libopus",)),
}


Mode = Literal["r", "w"]


def _has(name: str, mode: Mode) -> bool:
    try:
        av.Codec(name, mode)
    except (av.FFmpegError, ValueError):  # an unknown codec or one built without
        return False
    return True


def _pick(names: tuple[str, ...], mode: Mode) -> str:
    """The first of ``names`` PyAV has for ``mode`` ("" if none)."""
    return next((n for n in names if _has(n, mode)), "")


@functools.cache
def available() -> frozenset[str]:
    """The engine names (``G722``, ``opus``) this PyAV can decode and encode."""
    return frozenset(c for c, (dec, enc) in _AV_NAMES.items()
                     if _pick(dec, "r") and _pick(enc, "w"))


def _mono_int16(frame: Any) -> I16:
    """A decoded ``AudioFrame`` as mono int16 (channels averaged, floats scaled)."""
    arr = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar and channels > 1:
        arr = arr.reshape(-1, channels).T
    arr = arr.reshape(channels, -1)
    if arr.dtype.kind == "f":
        mono = arr.mean(axis=0) * 32767.0
    else:
        mono = arr.astype(np.float64).mean(axis=0)
    out: I16 = np.clip(np.rint(mono), -32768, 32767).astype(np.int16)
    return out


@dataclass(slots=True)
class _State:
    """One leg's decoder and encoder of one codec (each made when first needed)."""

    codec: str
    dec: Any = None
    enc: Any = None
    down: Resampler | None = None
    up: Resampler | None = None
    pts: int = 0
    enc_rate: int = RATE
    dec_rate: int = RATE
    extra: dict[str, int] = field(default_factory=dict)


class AvCodecs:
    """``media.mixer.FrameCodec`` by PyAV, state per ``(leg, codec)``."""

    def __init__(self, codecs: frozenset[str] | None = None) -> None:
        self._names = available() if codecs is None else available() & codecs
        self._states: dict[tuple[int, str], _State] = {}
        self.errors = 0

    def supports(self, codec: str) -> bool:
        return codec in self._names

    def drop(self, leg: int) -> None:
        for key in [k for k in self._states if k[0] == leg]:
            del self._states[key]

    def decode(self, leg: int, codec: str, payload: bytes) -> I16:
        st = self._state(leg, codec)
        if st.dec is None:
            self._open_decoder(st)
        try:
            frames = st.dec.decode(av.Packet(payload))
        except av.FFmpegError as exc:
            return self._failed(st, "decode", exc)
        if not frames:
            return np.zeros(0, dtype=np.int16)
        pcm = np.concatenate([_mono_int16(f) for f in frames])
        assert st.down is not None
        usable = len(pcm) - len(pcm) % (st.dec_rate // RATE)
        return st.down(pcm[:usable])

    def encode(self, leg: int, codec: str, pcm: I16) -> bytes:
        st = self._state(leg, codec)
        if st.enc is None:
            self._open_encoder(st)
        assert st.up is not None
        x = st.up(np.ascontiguousarray(pcm, dtype=np.int16))
        frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = st.enc_rate
        frame.pts = st.pts
        st.pts += len(x)
        try:
            packets = st.enc.encode(frame)
        except av.FFmpegError as exc:
            self._failed(st, "encode", exc)
            return b""
        return b"".join(bytes(p) for p in packets)

    # ------------------------------------------------------------------ internals
    def _state(self, leg: int, codec: str) -> _State:
        st = self._states.get((leg, codec))
        if st is None:
            if codec not in self._names:
                raise ValueError(f"codec {codec!r} is not available")
            st = self._states[(leg, codec)] = _State(codec)
        return st

    def _open_decoder(self, st: _State) -> None:
        name = _pick(_AV_NAMES[st.codec][0], "r")
        ctx: Any = av.CodecContext.create(name, "r")
        st.dec_rate = 16000 if st.codec == "G722" else 48000
        ctx.sample_rate = st.dec_rate
        ctx.layout = "mono"
        st.dec = ctx
        st.down = Resampler(down=st.dec_rate // RATE)

    def _open_encoder(self, st: _State) -> None:
        name = _pick(_AV_NAMES[st.codec][1], "w")
        ctx: Any = av.CodecContext.create(name, "w")
        st.enc_rate = 16000 if st.codec == "G722" else RATE
        ctx.sample_rate = st.enc_rate
        ctx.format = "s16"
        ctx.layout = "mono"
        if st.codec == "opus":
            ctx.bit_rate = OPUS_BITRATE
        ctx.open()
        st.enc = ctx
        st.up = Resampler(up=st.enc_rate // RATE)

    def _failed(self, st: _State, what: str, exc: Exception) -> I16:
        self.errors += 1
        if self.errors <= 10 or self.errors % 1000 == 0:
            log.warning("codec_error", codec=st.codec, op=what, error=str(exc),
                        errors=self.errors)
        return np.zeros(0, dtype=np.int16)


def make_codec_engine(settings: WorkerSettings) -> Any:
    """A ``MediaEngine`` with PyAV codecs for ``settings`` (a ``WorkerSettings.engine_factory``;
    ``process.make_engine`` should do the same by default)."""
    from ..media.engine import MediaEngine

    ids = Ids(random.SystemRandom())
    return MediaEngine(frame_ms=settings.frame_ms, rtp_timeout=settings.rtp_timeout,
                       jitter_depth=settings.jitter_depth, ssrc_source=ids.ssrc,
                       wall_offset=time.time() - time.monotonic(), codecs=AvCodecs())
