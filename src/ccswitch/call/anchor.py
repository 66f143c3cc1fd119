"""Media anchoring for the B2BUA, pure: every call's audio flows through a media worker.

``MediaPlan`` (one per switch) hands out legs, RTP ports and workers and collects the commands
for the workers.  ``CallMedia`` (one per call) rewrites the SDP that crosses the B2BUA so each
phone sends its RTP to our port for its leg:

* an offer from one side (``offer_from``) is checked against what we support (else 488) and
  re-offered to the other side from our port, with the offerer's codecs first (same payload
  types, so a relay needs no mapping) and our other codecs after them (so a callee that only
  speaks one of those can still be reached: we transcode);
* the answer (``answer_from``) configures both legs and is turned into our answer to the
  offerer: the callee's codec when the offerer offered it (packets are relayed untouched),
  otherwise the offerer's first codec we support (the worker transcodes);
* ``answer_locally`` is for calls the switch answers itself (echo, tone, IVR).

Codecs: PCMU and PCMA always; G.722 and Opus when the media workers can decode and encode
them (``plan_codecs`` keeps only those: a call may need its audio decoded at any time, for a
recording, a prompt, a transfer to a callee of another codec, so a codec we could only relay
is never negotiated).  Two legs of the same codec are relayed untouched.

Hold and resume follow from the direction attributes, re-offers from either side go through
the same two steps, and ``close`` gives the ports back.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..media.commands import Codec as EngineCodec
from ..media.commands import (
    Command,
    ConfigureLeg,
    CreateLeg,
    DestroyLeg,
    Detect,
    PauseRecord,
    RecordFormat,
    StartRecord,
    StopRecord,
)
from ..media.ports import PortPool, PortsExhausted
from ..sdp.negotiator import (
    DEFAULT_CODECS,
    G722,
    OPUS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Codec,
    Negotiated,
    NotAcceptable,
    accept_answer,
    answer,
    build_offer,
    choose,
)
from ..sdp.session import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Direction,
    MediaDescription,
    SdpError,
    SessionDescription,
    parse_sdp,
)
from .bridge import Bridge

Side = str  # "a" (the caller's leg) or "b" (the callee's)
SUPPORTED_AUDIO = frozenset({"pcmu", "pcma", "g722", "opus"})
ENGINE_CODECS: dict[str, EngineCodec] = {"pcmu": "PCMU", "pcma": "PCMA", "g722": "G722",
                                         "opus": "opus"}
"""SDP encoding name (lower case) -> the media engine's codec name."""
_BY_NAME = {c.name.lower(): c for c in (PCMU, PCMA, G722, OPUS)}
ALWAYS_DECODABLE = frozenset({"pcmu", "pcma"})  # G.711: the engine's own tables
TELEPHONE_EVENT_48K = Codec(TELEPHONE_EVENT.name, 48000, 1, None, TELEPHONE_EVENT.fmtp)
"""RFC 4733 events for Opus (their clock is the audio's, RFC 4733 §2.1)."""


def plan_codecs(names: Iterable[str], decodable: Iterable[str] = ()) -> tuple[Codec, ...]:
    """The codecs to negotiate, in preference order: those of ``names`` (``PCMU``, ``PCMA``,
    ``G722``, ``opus``, any case) that the workers can decode, ``decodable`` naming the
    others they can (``mediaworker.codecs.available()``), then telephone-event (at 8000,
    and at 48000 too with Opus).  Unknown
    names raise ``ValueError``; if nothing is left, PCMU and PCMA are used."""
    can = ALWAYS_DECODABLE | {n.lower() for n in decodable}
    out: list[Codec] = []
    for name in names:
        c = _BY_NAME.get(name.lower())
        if c is None:
            raise ValueError(f"unknown codec {name!r}")
        if name.lower() in can and c not in out:
            out.append(c)
    dtmf = (TELEPHONE_EVENT, TELEPHONE_EVENT_48K) if OPUS in out else (TELEPHONE_EVENT,)
    return (*(out or (PCMU, PCMA)), *dtmf)


def _other(side: Side) -> Side:
    return "b" if side == "a" else "a"


@dataclass(slots=True)
class LegMedia:
    """Our end of one leg: its id, RTP port and the SDP versions we sent on it
    (``last_sent``: the last SDP we built for it, its ``o=`` version is ``version``)."""

    leg: int
    port: int
    session_id: int
    version: int = 0
    last_sent: SessionDescription | None = None
    codec: str | None = None  # the codec negotiated on it (SDP encoding name), for the CDR


class MediaPlan:
    """Legs, ports and workers for the whole switch; commands queued per worker."""

    def __init__(self, *, ports: PortPool, workers: int, local_ip: str,
                 session_ids: Callable[[], int], codecs: Sequence[Codec] = DEFAULT_CODECS,
                 record_calls: bool = False,
                 record_format: RecordFormat = "wav",
                 recording_path: Callable[[str, str], str] = lambda name, ext: f"{name}.{ext}",
                 ) -> None:
        """``recording_path(name, extension)`` names a call's recording file (the shell
        decides the directory); ``record_calls`` records every answered call."""
        self.ports = ports
        self.record_calls = record_calls
        self.record_format = record_format
        self.recording_path = recording_path
        self.workers = workers
        self.local_ip = local_ip
        self.codecs = tuple(codecs)
        self._session_ids = session_ids
        self._next_leg = 1
        self._next_id = 1
        self._load = [0] * workers
        self._commands: list[tuple[int, Command]] = []
        self.leg_worker: dict[int, int] = {}
        self._leg_port: dict[int, int] = {}
        self._dead_legs: set[int] = set()  # legs of a worker that died, not yet freed

    def commands(self) -> list[tuple[int, Command]]:
        out, self._commands = self._commands, []
        return out

    def send(self, worker: int, cmd: Command) -> None:
        self._commands.append((worker, cmd))

    def next_id(self) -> int:
        """A fresh id for plays, recordings and buses."""
        n = self._next_id
        self._next_id += 1
        return n

    def pick_worker(self) -> int:
        return min(range(self.workers), key=self._load.__getitem__)

    def new_leg(self, worker: int, *, now: float) -> LegMedia:
        """Allocate a port and a leg on ``worker``; raises ``PortsExhausted``."""
        port = self.ports.allocate(now)
        leg = self._next_leg
        self._next_leg += 1
        self._load[worker] += 1
        self.leg_worker[leg] = worker
        self._leg_port[leg] = port
        self.send(worker, CreateLeg(leg, port, self.local_ip))
        return LegMedia(leg, port, self._session_ids())

    def free_leg(self, lm: LegMedia) -> None:
        worker = self.leg_worker.pop(lm.leg, None)
        if worker is None:
            return
        self._leg_port.pop(lm.leg, None)
        self.ports.release(lm.port)  # a no-op when the port was found busy
        if lm.leg in self._dead_legs:  # its worker died: nothing to destroy, load counted
            self._dead_legs.discard(lm.leg)
            return
        self._load[worker] -= 1
        self.send(worker, DestroyLeg(lm.leg))

    def port_busy(self, leg: int, now: float) -> None:
        """The worker could not bind ``leg``'s port (another process holds it): the pool
        holds that pair out for a while instead of handing it to the next call."""
        port = self._leg_port.get(leg)
        if port is not None:
            self.ports.busy(port, now)

    def forget_worker(self, worker: int, legs: Sequence[int]) -> None:
        """A worker died: its legs are gone without DestroyLeg (ports stay reserved until the
        calls end and release them)."""
        for leg in legs:
            if self.leg_worker.get(leg) == worker and leg not in self._dead_legs:
                self._dead_legs.add(leg)
                self._load[worker] = max(0, self._load[worker] - 1)


@dataclass(slots=True)
class CallMedia:
    """The SDP rewriting and media legs of one call."""

    plan: MediaPlan
    worker: int
    legs: dict[Side, LegMedia] = field(default_factory=dict)
    offers: dict[Side, SessionDescription] = field(default_factory=dict)  # theirs, by side
    our_offers: dict[Side, SessionDescription] = field(default_factory=dict)  # ours, to side
    offer_codec: dict[Side, Codec] = field(default_factory=dict)  # side's offer: our pick
    connected: bool = False
    recording: int | None = None
    recording_file: str | None = None
    recording_at: float = 0.0  # when the recording started: its file's time 0
    pause_holds: dict[str, str] = field(default_factory=dict)  # holder -> by (call/recpause)
    closed: bool = False
    bridge: Bridge | None = None  # the call's own bridge, once its two parties are joined
    held: dict[Side, bool] = field(default_factory=dict)  # side -> it holds the other side
    te_pt: dict[Side, int | None] = field(default_factory=dict)  # side's telephone-event PT

    @classmethod
    def create(cls, plan: MediaPlan, sides: Sequence[Side] = ("a", "b"), *,
               now: float, worker: int | None = None) -> CallMedia:
        """Legs for ``sides`` on ``worker`` (default: the least loaded one); raises
        ``PortsExhausted`` (and gives back what it took) when a pair cannot be had."""
        cm = cls(plan, plan.pick_worker() if worker is None else worker)
        try:
            for side in sides:
                cm.legs[side] = plan.new_leg(cm.worker, now=now)
        except PortsExhausted:
            cm.close()
            raise
        return cm

    def leg(self, side: Side) -> int:
        return self.legs[side].leg

    # -- offer / answer -----------------------------------------------------------------
    def offer_from(self, side: Side, body: bytes, *, only: Sequence[str] | None = None,
                   ) -> bytes | NotAcceptable:
        """``side`` offers ``body``: our offer to the other side, or why not.  ``only``
        (a trunk's codecs): offer just those of them the offerer offered, in that order
        (no transcoding); none in common is ``NotAcceptable``."""
        offer = _parse(body)
        if isinstance(offer, NotAcceptable):
            return offer
        probe = choose(offer, self.plan.codecs)
        if isinstance(probe, NotAcceptable):
            return probe
        index, first_codec, ptime = probe
        other = _other(side)
        m = offer.media[index]
        conn = offer.media_connection(m)
        direction = offer.media_direction(m)
        if conn is not None and conn.is_hold:
            direction = direction & Direction.SENDONLY
        self.held[side] = not direction.receives  # sendonly/inactive: the other side is held
        ours = self.legs[other]
        codecs = _offer_codecs(m.formats, m.attributes, self.plan.codecs)
        if only is not None:
            kept = _only_codecs(m, codecs, only)
            if isinstance(kept, NotAcceptable):
                return kept
            codecs = kept
        sdp = _stamp(ours, lambda v: build_offer(
            self.plan.local_ip, ours.port, codecs, direction=direction, ptime=ptime,
            session_id=ours.session_id, version=v))
        self.offers[side] = offer
        self.offer_codec[side] = first_codec
        self.our_offers[other] = sdp
        return sdp.to_bytes()

    def answer_from(self, side: Side, body: bytes) -> bytes | NotAcceptable:
        """``side`` answers our offer with ``body``: both legs are configured and connected,
        and our answer to the offerer is returned."""
        ours_to_side = self.our_offers.get(side)
        offerer = _other(side)
        their_offer = self.offers.get(offerer)
        if ours_to_side is None or their_offer is None:
            return NotAcceptable("an answer without an offer")
        ans = _parse(body)
        if isinstance(ans, NotAcceptable):
            return ans
        got = accept_answer(ours_to_side, ans)
        if isinstance(got, NotAcceptable):
            return got
        chosen = self._codec_for(their_offer, got.codec, self.offer_codec.get(offerer))
        ans_dir = ans.media_direction(ans.media[got.media_index])
        lm = self.legs[offerer]
        back = _answer_stamped(lm, their_offer, self.plan.local_ip, (chosen, *self._dtmf()),
                               ans_dir)
        if isinstance(back, NotAcceptable):
            return back
        self._configure(side, got)
        self._configure(offerer, back)
        if not self.connected and "a" in self.legs and "b" in self.legs:
            self.connect()
            # digits are reported on both legs: RFC 4733 events only, so that relayed
            # audio is never decoded just to listen for tones
            self.plan.send(self.worker, Detect(self.legs["a"].leg, inband=False))
            self.plan.send(self.worker, Detect(self.legs["b"].leg, inband=False))
        return back.answer.to_bytes()

    def connect(self) -> Bridge:
        """Join legs ``a`` and ``b`` as the two parties of the call's bridge."""
        self.connected = True
        if self.bridge is None:
            self.bridge = Bridge(bridge_id=str(self.legs["a"].leg), worker=self.worker,
                                 send=self.plan.send)
        self.bridge.join(self.legs["a"].leg)
        self.bridge.join(self.legs["b"].leg)
        return self.bridge

    def answer_locally(self, side: Side, body: bytes) -> bytes | NotAcceptable:
        """We are the answerer of ``side``'s offer (the switch's own services)."""
        offer = _parse(body)
        if isinstance(offer, NotAcceptable):
            return offer
        lm = self.legs[side]
        got = _answer_stamped(lm, offer, self.plan.local_ip, self.plan.codecs,
                              Direction.SENDRECV)
        if isinstance(got, NotAcceptable):
            return got
        self._configure(side, got)
        return got.answer.to_bytes()

    def answer_early(self, side: Side, body: bytes) -> bytes | NotAcceptable:
        """``side`` offers again before the call is answered (an UPDATE or a PRACK, RFC 3311
        and 3262 §5): we answer from its own leg's port, keeping the other leg's codec when
        it is offered (the worker relays) or else the offerer's first one we support (the
        worker transcodes).  Only that leg is reconfigured; the other side is not asked."""
        offer = _parse(body)
        if isinstance(offer, NotAcceptable):
            return offer
        lm = self.legs[side]
        peer = self.legs.get(_other(side))
        got: Negotiated | NotAcceptable = NotAcceptable("no codec")
        if peer is not None and peer.codec is not None:
            same = tuple(c for c in self.plan.codecs
                         if c.is_dtmf or c.name.lower() == peer.codec.lower())
            got = _answer_stamped(lm, offer, self.plan.local_ip, same, Direction.SENDRECV)
        if isinstance(got, NotAcceptable):
            got = _answer_stamped(lm, offer, self.plan.local_ip, self.plan.codecs,
                                  Direction.SENDRECV)
        if isinstance(got, NotAcceptable):
            return got
        self.offers[side] = offer  # the callee's later answer is turned into ours to this one
        self.offer_codec[side] = got.codec
        self.held[side] = not got.direction.sends
        self._configure(side, got)
        return got.answer.to_bytes()

    def offer_locally(self, side: Side, *, only: Sequence[str] | None = None) -> bytes:
        """Our own offer to ``side`` (a call the switch places, or an INVITE without SDP);
        ``only`` (a trunk's codecs): just those of ours, in that order."""
        lm = self.legs[side]
        codecs = self.plan.codecs if only is None else _restrict(self.plan.codecs, only)
        sdp = _stamp(lm, lambda v: build_offer(self.plan.local_ip, lm.port, codecs,
                                               session_id=lm.session_id, version=v))
        self.our_offers[side] = sdp
        return sdp.to_bytes()

    def accept_local_answer(self, side: Side, body: bytes) -> Negotiated | NotAcceptable:
        """``side`` answered the offer of ``offer_locally``."""
        ours = self.our_offers.pop(side, None)
        if ours is None:
            return NotAcceptable("an answer without an offer")
        ans = _parse(body)
        if isinstance(ans, NotAcceptable):
            return ans
        got = accept_answer(ours, ans)
        if not isinstance(got, NotAcceptable):
            self._configure(side, got)
        return got

    def start_recording(self, name: str, now: float = 0.0) -> str:
        """Record the call, caller on channel 1 and callee on 2; returns the file's path.
        Paused from its first frame while something holds a pause (``call/recpause``)."""
        if self.recording is not None and self.recording_file is not None:
            return self.recording_file
        plan = self.plan
        safe = re.sub(r"[^A-Za-z0-9_.@-]", "_", name)[:120] or "call"
        path = plan.recording_path(safe, plan.record_format)
        self.recording = plan.next_id()
        self.recording_file = path
        legs = tuple(self.legs[s].leg for s in ("a", "b") if s in self.legs)
        plan.send(self.worker, StartRecord(self.recording, path, legs, plan.record_format))
        self.recording_at = now
        if self.pause_holds:
            plan.send(self.worker, PauseRecord(self.recording))
        return path

    def rollback(self, side: Side) -> None:
        """An offer from ``side`` was refused by the other side: forget it."""
        self.offers.pop(side, None)
        self.offer_codec.pop(side, None)
        self.our_offers.pop(_other(side), None)

    def close(self) -> None:
        """Stop the recording and give the legs and ports back (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self.recording is not None:
            self.plan.send(self.worker, StopRecord(self.recording))
        for lm in self.legs.values():
            self.plan.free_leg(lm)

    # -- helpers ------------------------------------------------------------------------
    def _configure(self, side: Side, n: Negotiated) -> None:
        lm = self.legs[side]
        self.te_pt[side] = n.telephone_event_pt
        lm.codec = n.codec.name
        hold_addr = n.remote_address in ("0.0.0.0", "::")
        self.plan.send(self.worker, ConfigureLeg(
            lm.leg, None if hold_addr else n.remote_address, n.remote_port,
            n.remote_rtcp_port, ENGINE_CODECS.get(n.codec.name.lower(), "PCMU"),
            n.codec.pt or 0, n.telephone_event_pt, n.ptime, n.direction.sends,
            n.direction.receives))

    def _dtmf(self) -> tuple[Codec, ...]:
        return tuple(c for c in self.plan.codecs if c.is_dtmf)

    def _codec_for(self, offer: SessionDescription, answered: Codec,
                   first_pick: Codec | None = None) -> Codec:
        """The codec to answer the offerer with: the callee's when it was offered (relay),
        else the offerer's first codec we support (transcode).  ``first_pick`` is the
        latter, found when the offer came (``offer_from``'s probe): when it is the callee's
        codec it is also the first offered payload type of that codec, so nothing is
        negotiated again."""
        if first_pick is not None and first_pick.name.lower() == answered.name.lower() \
                and first_pick.clock_rate == answered.clock_rate:
            return first_pick
        probe = answer(offer, local_ip=self.plan.local_ip, port=9,
                       supported=tuple(c for c in self.plan.codecs
                                       if c.name.lower() == answered.name.lower()
                                       or c.is_dtmf))
        if not isinstance(probe, NotAcceptable):
            return probe.codec
        if first_pick is not None:
            return first_pick
        first = answer(offer, local_ip=self.plan.local_ip, port=9, supported=self.plan.codecs)
        assert not isinstance(first, NotAcceptable)  # offer_from checked it
        return first.codec


@functools.lru_cache(maxsize=256)
def _offer_codecs(formats: tuple[str, ...], attributes: tuple[Attribute, ...],
                  supported: tuple[Codec, ...]) -> tuple[Codec, ...]:
    """Our re-offer's codecs: the offerer's supported codecs first, with its payload types,
    then ours.  Memoized: a pure function of the offer's audio ``formats`` and
    ``attributes``, which repeat from call to call (its port and address do not)."""
    m = MediaDescription("audio", 0, "RTP/AVP", formats, attributes=attributes)
    maps = m.rtpmaps()
    out: list[Codec] = []
    used: set[int] = set()
    for pt in m.payload_types:
        rm = maps.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)
        if rm is None:
            continue
        mine = next((c for c in supported if c.matches(rm)), None)
        if mine is None or any(c.matches(rm) for c in out):
            continue
        fmtp = m.fmtp(pt) if mine.is_dtmf else mine.fmtp
        out.append(Codec(mine.name, mine.clock_rate, mine.channels, pt, fmtp))
        used.add(pt)
    for c in supported:
        if not any(o.name.lower() == c.name.lower() and o.clock_rate == c.clock_rate
                   for o in out):
            free_pt = c.pt if c.pt is not None and c.pt not in used else None
            out.append(Codec(c.name, c.clock_rate, c.channels, free_pt, c.fmtp))
            if free_pt is not None:
                used.add(free_pt)
    # telephone-event last, as phones expect it after the audio codecs
    return (*(c for c in out if not c.is_dtmf), *(c for c in out if c.is_dtmf))


def _offered(m: MediaDescription) -> set[str]:
    """The encodings (lower case) ``m`` offers."""
    maps = m.rtpmaps()
    return {rm.encoding.lower() for pt in m.payload_types
            if (rm := maps.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)) is not None}


def _no_common(offered: set[str], only: Sequence[str]) -> NotAcceptable:
    return NotAcceptable(f"no codec in common: the caller offers "
                         f"{'/'.join(sorted(offered - {'telephone-event'})) or 'none'}, "
                         f"the trunk takes {'/'.join(only)}")


def _only_codecs(m: MediaDescription, codecs: Sequence[Codec], only: Sequence[str],
                 ) -> tuple[Codec, ...] | NotAcceptable:
    """``codecs`` cut down to the names of ``only`` that the offer ``m`` holds, in the order
    of ``only``, telephone-event kept last."""
    offered = _offered(m)
    kept = _restrict(codecs, only, offered)
    if not any(not c.is_dtmf for c in kept):
        return _no_common(offered, only)
    return kept


def _restrict(codecs: Sequence[Codec], only: Sequence[str],
              offered: set[str] | None = None) -> tuple[Codec, ...]:
    """The audio codecs of ``codecs`` named in ``only`` (and in ``offered``), in the order of
    ``only``, then telephone-event at their clock rates."""
    rank = {name.lower(): i for i, name in enumerate(only)}
    audio = sorted((c for c in codecs if not c.is_dtmf and c.name.lower() in rank
                    and (offered is None or c.name.lower() in offered)),
                   key=lambda c: rank[c.name.lower()])
    rates = {c.clock_rate for c in audio}
    return (*audio, *(c for c in codecs if c.is_dtmf and c.clock_rate in rates))


def codecs_fit(body: bytes, only: Sequence[str] | None) -> NotAcceptable | None:
    """Whether an offer ``body`` shares an audio codec with ``only`` (a trunk's codecs;
    ``None``: any); a body without audio is left to :meth:`CallMedia.offer_from`."""
    offer = _parse(body)
    if only is None or isinstance(offer, NotAcceptable):
        return None
    wanted = {n.lower() for n in only}
    audio = [m for m in offer.media if m.media == "audio" and m.port != 0]
    if not audio or any(_offered(m) & wanted for m in audio):
        return None
    return _no_common(set().union(*(_offered(m) for m in audio)), only)


def _with_version(sdp: SessionDescription, version: int) -> SessionDescription:
    return dataclasses.replace(sdp, origin=dataclasses.replace(sdp.origin,
                                                               sess_version=version))


def _stamp(lm: LegMedia, build: Callable[[int], SessionDescription]) -> SessionDescription:
    """Build our SDP for ``lm`` once; its o= version goes up only when the content changed
    (RFC 3264 §8: an unchanged description keeps its version).  Built at the current
    version, it is unchanged when it equals the last one sent (same origin otherwise);
    changed, only its ``o=`` line is replaced."""
    if lm.last_sent is None:
        lm.version += 1
        sdp = build(lm.version)
    else:
        sdp = build(lm.version)
        if sdp == lm.last_sent:
            return sdp
        lm.version += 1
        sdp = _with_version(sdp, lm.version)
    lm.last_sent = sdp
    return sdp


def _answer_stamped(lm: LegMedia, offer: SessionDescription, local_ip: str,
                    supported: Sequence[Codec], direction: Direction) -> Negotiated | NotAcceptable:
    """``answer``, negotiated once, with ``_stamp``'s versioning."""
    got = answer(offer, local_ip=local_ip, port=lm.port, supported=supported,
                 direction=direction, rtcp_mux=False, session_id=lm.session_id,
                 version=lm.version if lm.last_sent is not None else lm.version + 1)
    if isinstance(got, NotAcceptable):
        return got
    if lm.last_sent is None:
        lm.version += 1
    elif got.answer == lm.last_sent:
        return got
    else:
        lm.version += 1
        got = dataclasses.replace(got, answer=_with_version(got.answer, lm.version))
    lm.last_sent = got.answer
    return got


def _parse(body: bytes) -> SessionDescription | NotAcceptable:
    try:
        return parse_sdp(body)
    except SdpError as e:
        return NotAcceptable(f"bad SDP: {e}")
