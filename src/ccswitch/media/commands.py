"""The media command/event channel: what the signaling process asks of a media worker and what
the worker reports back.  Frozen, slotted and picklable; legs, plays, buses and recordings are
ints chosen by the signaling side and unique in the whole switch.

A two-party call is ``Connect(a, b)`` + ``Connect(b, a)``; the echo test is ``Connect(a, a)``; a
conference is a bus.  A sink fed by exactly one same-codec source at gain 1 (no player, no bus)
is served by packet relay; anything else is decoded, mixed and encoded (transcoding included).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Codec = Literal["PCMU", "PCMA", "G722", "opus"]
"""G.711 is decoded by the engine; G.722 and Opus need the worker's PyAV codecs (relay does
not)."""
DigitMethod = Literal["rfc4733", "inband", "info"]
RecordFormat = Literal["wav", "opus", "mp3"]


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class CreateLeg:
    """Bind UDP ``local_ip:port`` (RTP) and ``port + 1`` (RTCP) for ``leg``."""

    leg: int
    port: int
    local_ip: str


@dataclass(frozen=True, slots=True)
class ConfigureLeg:
    """The negotiated stream of ``leg`` (sent again on re-INVITE or hold).

    ``codec`` is the engine's name (``PCMU``, ``PCMA``, ``G722``, ``opus``).  ``remote_ip``
    None or ``0.0.0.0`` means nothing is sent.  A remote address that differs from
    the previous one clears the latch.  ``send``/``recv`` are our direction.
    """

    leg: int
    remote_ip: str | None
    remote_port: int
    remote_rtcp_port: int
    codec: Codec
    pt: int
    te_pt: int | None = None
    ptime_ms: int = 20
    send: bool = True
    recv: bool = True


@dataclass(frozen=True, slots=True)
class DestroyLeg:
    """Close ``leg``'s sockets; a final ``LegStats`` is reported first."""

    leg: int


@dataclass(frozen=True, slots=True)
class Connect:
    """Directed audio edge: the peer of ``sink`` hears the peer of ``src`` at ``gain``."""

    src: int
    sink: int
    gain: float = 1.0


@dataclass(frozen=True, slots=True)
class Disconnect:
    src: int
    sink: int


@dataclass(frozen=True, slots=True)
class JoinBus:
    """Conference bus: each listening member hears the talking members but itself."""

    bus: int
    leg: int
    talk: bool = True
    listen: bool = True


@dataclass(frozen=True, slots=True)
class LeaveBus:
    bus: int
    leg: int


@dataclass(frozen=True, slots=True)
class PlayFile:
    """An audio file PyAV reads; the worker shell turns it into ``PlaySamples``."""

    path: str


@dataclass(frozen=True, slots=True)
class PlayTone:
    """A tone by name: a ``media.tones`` preset (``ringback``, ``busy``, …) or ``1000hz``."""

    name: str


@dataclass(frozen=True, slots=True)
class PlaySamples:
    """8 kHz mono int16 samples (a numpy array or bytes of little-endian int16)."""

    samples: object
    name: str = ""


PlaySource = PlayFile | PlayTone | PlaySamples


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``source`` to ``leg``'s peer; it replaces the leg's other sources unless ``mix``."""

    leg: int
    play_id: int
    source: PlaySource
    loop: bool = False
    mix: bool = False


@dataclass(frozen=True, slots=True)
class StopPlay:
    """Stop ``play_id`` on ``leg`` (None: whatever plays there)."""

    leg: int
    play_id: int | None = None


@dataclass(frozen=True, slots=True)
class StartRecord:
    """Record the audio received from each of ``legs``, one channel each, 8 kHz int16.

    ``bus``: one more (last) channel, the mix of that conference bus (the sum of its talking
    members, whoever they are at each frame, saturated): what a listener who is not a member
    would hear.  A room recording is ``legs=()`` with its bus: one mono channel.

    ``silence_s`` > 0: the worker watches the first channel and reports ``RecordSilence``
    once it has been quiet (20 ms frames whose mean absolute value is at most
    ``silence_level``) for that long; stopped after that report, the file ends where the
    silence began.
    """

    rec_id: int
    path: str
    legs: tuple[int, ...]
    fmt: RecordFormat = "wav"
    bus: int | None = None
    silence_s: float = 0.0
    silence_level: int = 128

    @property
    def channels(self) -> int:
        return len(self.legs) + (self.bus is not None)


@dataclass(frozen=True, slots=True)
class PauseRecord:
    rec_id: int


@dataclass(frozen=True, slots=True)
class ResumeRecord:
    rec_id: int


@dataclass(frozen=True, slots=True)
class StopRecord:
    rec_id: int


@dataclass(frozen=True, slots=True)
class Detect:
    """Report digits from ``leg``: RFC 4733 always, in-band tones too when ``inband``."""

    leg: int
    inband: bool = True


@dataclass(frozen=True, slots=True)
class RelayEvents:
    """Whether the RFC 4733 events of the legs ``leg`` hears are passed on to it (``on``,
    the default of every leg); off for a leg that takes digits as SIP INFO or tones, which
    the switch sends it converted (``call/dtmfwork.py``).  ``SendDigit`` still works."""

    leg: int
    on: bool


@dataclass(frozen=True, slots=True)
class SendDigit:
    """Send ``key`` as RFC 4733 events on ``leg`` (needs its ``te_pt``)."""

    leg: int
    key: str
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class SetTimeout:
    """RTP timeout for ``leg`` in seconds (0: off)."""

    leg: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop the worker: every leg is destroyed (with its stats) and recordings are closed."""


Command = (CreateLeg | ConfigureLeg | DestroyLeg | Connect | Disconnect | JoinBus | LeaveBus
           | Play | StopPlay | StartRecord | PauseRecord | ResumeRecord | StopRecord | Detect
           | RelayEvents | SendDigit | SetTimeout | Shutdown)


# --------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class LegReady:
    leg: int
    port: int


@dataclass(frozen=True, slots=True)
class LegFailed:
    """``leg`` could not be created; ``port_busy``: its RTP/RTCP pair could not be bound."""

    leg: int
    reason: str
    port_busy: bool = False


@dataclass(frozen=True, slots=True)
class LegStats:
    """Quality figures of ``leg``: the stream it received (``received``, ``expected``,
    ``lost``, ``jitter_ms``, RFC 3550 A.1/A.8), and from the peer's RTCP reports about the
    stream it sent (``peer_lost`` of ``peer_expected``, ``peer_jitter_ms``; None: no report)
    and the round trip (``rtt_ms``, §6.4.1; None: not measured).  ``final``: the leg's last
    figures (it is gone), else a live sample."""

    leg: int
    received: int
    lost: int
    late: int = 0
    duplicates: int = 0
    jitter_ms: float = 0.0
    sent: int = 0
    dropped: int = 0  # invalid packets or packets from a source other than the latched one
    expected: int = 0
    rtt_ms: float | None = None
    peer_lost: int | None = None
    peer_expected: int = 0
    peer_jitter_ms: float | None = None
    codec: str | None = None
    ptime_ms: int = 20
    final: bool = True


@dataclass(frozen=True, slots=True)
class Digit:
    leg: int
    key: str
    method: DigitMethod
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PlayDone:
    leg: int
    play_id: int
    reason: Literal["end", "stopped", "replaced", "error"] = "end"


@dataclass(frozen=True, slots=True)
class RecordDone:
    """``path`` is complete on disk (``ok``) or could not be written."""

    rec_id: int
    path: str
    seconds: float
    ok: bool = True


@dataclass(frozen=True, slots=True)
class RecordPauseMark:
    """``rec_id`` (file ``path``) was paused (``paused``) or resumed ``seconds`` into the
    file: where its silence begins or ends, counted in the frames the worker recorded."""

    rec_id: int
    path: str
    paused: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class RecordSilence:
    """Recording ``rec_id`` of ``leg`` has been quiet for its ``silence_s``: what it holds
    before the silence lasts ``speech_s`` seconds."""

    rec_id: int
    leg: int
    speech_s: float


@dataclass(frozen=True, slots=True)
class RtpTimeout:
    leg: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WorkerStats:
    worker: int
    legs: int
    packets_in: int
    packets_out: int
    dropped: int
    tick_overruns: int
    cpu_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class WorkerDied:
    """Reported by the signaling-side client: the worker's legs are gone."""

    worker: int
    legs: tuple[int, ...]


MediaEvent = (LegReady | LegFailed | LegStats | Digit | PlayDone | RecordDone
              | RecordPauseMark | RecordSilence | RtpTimeout | WorkerStats | WorkerDied)


def _pickled_by_fields(cls: type) -> None:
    """Pickle ``cls`` as ``cls(*field values)``: the state methods dataclasses add to frozen
    slotted classes call ``fields()`` for every object pickled and ``object.__setattr__`` per
    field in Python when it is read back; this halves the cost of a batch on the pipe."""
    names = tuple(f.name for f in fields(cls))
    getter: Callable[[Any], Any]
    if len(names) > 1:
        getter = operator.attrgetter(*names)
    elif names:
        one = operator.attrgetter(names[0])

        def getter(obj: Any) -> tuple[Any, ...]:
            return (one(obj),)
    else:
        def getter(obj: Any) -> tuple[Any, ...]:
            return ()

    def reduce(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, getter(self)

    setattr(cls, "__reduce__", reduce)  # noqa: B010  (mypy: no method assignment)


for _cls in (CreateLeg, ConfigureLeg, DestroyLeg, Connect, Disconnect, JoinBus, LeaveBus,
             PlayFile, PlayTone, PlaySamples, Play, StopPlay, StartRecord, PauseRecord,
             ResumeRecord, StopRecord, Detect, RelayEvents, SendDigit, SetTimeout, Shutdown,
             LegReady,
             LegFailed, LegStats, Digit, PlayDone, RecordDone, RecordPauseMark, RecordSilence,
             RtpTimeout, WorkerStats, WorkerDied):
    _pickled_by_fields(_cls)
del _cls
