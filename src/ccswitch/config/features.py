"""``[rooms.NAME]``, ``[supervisors.USER]``, ``[supervision]`` and ``[transfer]`` (pure).

Part of the configuration parser (like ``config/acd.py``): every fault goes through
``_Parser.fail`` with its key path and line.

- A room is a conference (everyone hears everyone else, not itself), reached by a dial-plan
  number whose action is ``room:NAME`` (or an IVR choice, a queue rule).
- A supervisor may listen to, whisper to or barge in on the live calls of the agents of its
  queues: ``[supervision]`` holds the feature codes dialled before the agent's extension and
  the keys that switch mode during a supervised call; who may is
  :func:`ccswitch.dialplan.may_supervise` with the caller's
  :class:`~ccswitch.dialplan.Supervisor`.
- ``[transfer]``: how long a transfer target rings and whether an unanswered blind transfer
  comes back to the phone that made it.  A user's ``transfer = false`` (``[[users]]``) takes
  transfers away from its phones.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ..dialplan import RESERVED_PREFIXES, SuperviseMode, Supervisor
from ..dialplan.targets import NAME
from .audio import check_moh_name

if TYPE_CHECKING:
    from .schema import Path, _Parser

ALL_QUEUES: Final = "*"
"""``queues = ["*"]``: a supervisor of every queue."""
MAX_ROOM_MEMBERS: Final = 1000
_PIN = re.compile(r"[0-9]{1,16}")
_CODE = re.compile(r"[0-9*#]{1,10}")
_KEY = re.compile(r"[0-9*#]")


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """A conference room.  ``pin``: digits a caller enters (prompted, as DTMF) before it is
    let in, ``None``: no PIN; ``max_members``: callers beyond are refused; ``join_tones``: a
    tone when someone joins or leaves; ``record``: record the conference (one mono WAV of the
    room's mix under ``DATA_DIR/recordings/``, from the first member in to the last one out,
    named by each member's CDR); ``moh_when_alone``:
    the ``[moh.NAME]`` class a lone member hears (``None``: silence)."""

    name: str
    pin: str | None = None
    max_members: int = 20
    join_tones: bool = True
    record: bool = False
    moh_when_alone: str | None = None


def _mode_map(pairs: Mapping[str, SuperviseMode]) -> Mapping[str, SuperviseMode]:
    return MappingProxyType(dict(pairs))


@dataclass(frozen=True, slots=True)
class SupervisionConfig:
    """Feature codes (the agent's extension follows: ``*31`` + ``2001``) and the DTMF keys
    a supervisor presses during a supervised call to switch mode."""

    listen: str = "*31"
    whisper: str = "*32"
    barge: str = "*33"
    listen_key: str = "4"
    whisper_key: str = "5"
    barge_key: str = "6"

    @property
    def codes(self) -> Mapping[str, SuperviseMode]:
        """Feature code -> mode, for :class:`~ccswitch.dialplan.Dialplan`."""
        return _mode_map({self.listen: "listen", self.whisper: "whisper", self.barge: "barge"})

    @property
    def keys(self) -> Mapping[str, SuperviseMode]:
        """In-call key -> mode."""
        return _mode_map({self.listen_key: "listen", self.whisper_key: "whisper",
                          self.barge_key: "barge"})


@dataclass(frozen=True, slots=True)
class TransferConfig:
    """Call transfer (REFER, blind and attended).  ``ring_timeout``: seconds the target rings
    before the transfer has failed; ``recall``: a blind-transferred caller whose target fails
    (no answer, busy, unreachable) is rung back to the transferring phone, for as long again,
    instead of being hung up."""

    ring_timeout: float = 30.0
    recall: bool = True


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


ROOM_KEYS: Final = _names(RoomConfig)[1:]
SUPERVISOR_KEYS: Final = ("queues",)


def parse_rooms(p: _Parser, value: object, path: Path) -> dict[str, RoomConfig]:
    """The ``[rooms]`` table: room name -> RoomConfig."""
    out: dict[str, RoomConfig] = {}
    d = RoomConfig("")
    for name, entry in p.table(value, path).items():
        rp = (*path, name)
        if not NAME.fullmatch(name):
            p.fail(rp, f"{name!r} is not a valid room name (letters, digits, _ and -)")
        t: Mapping[str, Any] = p.table(entry, rp)
        p.check_keys(t, ROOM_KEYS, rp)
        out[name] = RoomConfig(
            name=name,
            pin=p.opt(t, "pin", rp, d.pin, lambda v, q: _pin(p, v, q)),
            max_members=p.opt(t, "max_members", rp, d.max_members,
                              lambda v, q: p.integer(v, q, 2, MAX_ROOM_MEMBERS)),
            join_tones=p.opt(t, "join_tones", rp, d.join_tones, p.boolean),
            record=p.opt(t, "record", rp, d.record, p.boolean),
            moh_when_alone=p.opt(t, "moh_when_alone", rp, d.moh_when_alone,
                                 lambda v, q: check_moh_name(p, v, q, p.moh_classes)),
        )
    return out


def _pin(p: _Parser, value: object, path: Path) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        p.fail(path, f"must be a string of digits (pin = \"{value}\"), got an integer")
    pin = p.string(value, path)
    if not _PIN.fullmatch(pin):
        p.fail(path, "must be 1-16 digits 0-9")
    return pin


def parse_supervisors(p: _Parser, value: object, path: Path, *, users: Collection[str],
                      queues: Collection[str]) -> dict[str, Supervisor]:
    """The ``[supervisors]`` table: user -> Supervisor (``queues`` absent or ``["*"]``: every
    queue)."""
    out: dict[str, Supervisor] = {}
    for user, entry in p.table(value, path).items():
        sp = (*path, user)
        if user not in users:
            p.fail(sp, f"user {user!r} does not exist")
        t: Mapping[str, Any] = p.table(entry, sp)
        p.check_keys(t, SUPERVISOR_KEYS, sp)
        scope: frozenset[str] | None = None
        if "queues" in t:
            qp = (*sp, "queues")
            names = p.strings(t["queues"], qp, p.string)
            if ALL_QUEUES in names and len(names) > 1:
                p.fail(qp, "\"*\" (every queue) stands alone")
            for i, name in enumerate(names):
                if name != ALL_QUEUES and name not in queues:
                    p.fail((*qp, i), f"queue {name!r} is not declared in [queues]")
            scope = None if names == [ALL_QUEUES] else frozenset(names)
        out[user] = Supervisor(user, scope)
    return out


def parse_supervision(p: _Parser, value: object, path: Path, *,
                      users: Collection[str]) -> SupervisionConfig:
    """The ``[supervision]`` table: three distinct feature codes, none the start of another,
    of a user's name or of a code the switch reserves; three distinct in-call keys."""
    t = p.table(value, path)
    p.check_keys(t, _names(SupervisionConfig), path)
    d = SupervisionConfig()

    def code(v: object, q: Path) -> str:
        return p.string(v, q, _CODE, "feature code (1-10 of 0-9, * and #)")

    def key(v: object, q: Path) -> str:
        return p.string(v, q, _KEY, "key (one of 0-9, * and #)")

    cfg = SupervisionConfig(**{
        name: p.opt(t, name, path, getattr(d, name), key if name.endswith("_key") else code)
        for name in _names(SupervisionConfig)})
    def blame(key: str, other: str) -> Path:  # the key the file writes, of two that clash
        return (*path, key if key in t or other not in t else other)

    modes = ("listen", "whisper", "barge")
    for i, mode in enumerate(modes):
        c = getattr(cfg, mode)
        for other in modes[:i]:
            o = getattr(cfg, other)
            if c.startswith(o) or o.startswith(c):
                p.fail(blame(mode, other), f"{mode} {c!r} and {other} {o!r} start alike: "
                                           "a dialled number could mean either")
            if getattr(cfg, f"{mode}_key") == getattr(cfg, f"{other}_key"):
                p.fail(blame(f"{mode}_key", f"{other}_key"),
                       f"{mode}_key and {other}_key are both {getattr(cfg, f'{mode}_key')!r}")
        for reserved in RESERVED_PREFIXES:
            if c.startswith(reserved) or reserved.startswith(c):
                p.fail((*path, mode), f"{c!r} clashes with the agent codes {reserved}1-{reserved}4")
        for user in users:
            if user.startswith(c):
                p.fail((*path, mode), f"user {user!r} starts with the code {c!r}")
    return cfg


def parse_transfer(p: _Parser, value: object, path: Path) -> TransferConfig:
    """The ``[transfer]`` table."""
    return p.typed_table(value, path, TransferConfig, ring_timeout=p.seconds,
                         recall=p.boolean)
