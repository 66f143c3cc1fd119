"""Voicemail in the configuration: ``[voicemail]`` and the ``mailbox`` key of users and queues
(pure).

Part of the configuration parser (like ``config/trunks.py``): every fault goes through
``_Parser.fail`` with its key path and line.  The main loader
(:func:`ccswitch.config.parse_config`) takes these keys out of the raw table
(:func:`split_voicemail`) before it parses the rest, then parses them
(:func:`parse_sections`) into ``SwitchConfig.voicemail``; :func:`parse_voicemail` returns both
parts separately (``docs/voicemail.md``).

``[voicemail]`` keys (all optional)::

    max_length = 180        # seconds a message may last
    min_length = 1          # shorter messages (trailing silence excluded) are discarded
    silence = 5             # seconds of silence that end a message (0: only # or hang-up)
    silence_threshold = 128 # a 20 ms frame whose mean |sample| is at most this is silence
    no_answer = 20          # a user who does not answer within this goes to voicemail
    greetings_dir = "..."   # recorded greetings, BOX.wav (default DATA_DIR/voicemail/greetings)
    pin_attempts = 3        # wrong PINs before *97 hangs up
    max_messages = 100      # a full box takes no more messages (the caller hears goodbye)
    greeting_max_length = 60   # *97 option 0: seconds a recorded greeting may last
    greeting_min_length = 1    # shorter takes (trailing silence excluded) are asked again
    greeting_silence = 3       # seconds of silence that end a take (0: only # or max length)
    mwi_max_expires = 3600  # the longest message-summary subscription granted (60-86400 s)

A user or a queue has a mailbox with ``mailbox = true`` (PIN: the user's name, e.g. ``1002``;
a queue's box has none and is read through the API) or ``mailbox = { pin = "4321",
greeting = "PROMPT" }`` (``pin`` may use ``{user}``; ``greeting`` is a prompt value that
replaces the default spoken greeting; ``unsolicited = true`` sends message-waiting NOTIFYs to
the user's registered phones without a SUBSCRIBE).  The box is named after its user or queue.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from ..voicemail import DepositSettings, GreetingSettings, RetrievalSettings
from .audio import PromptUse, prompt_value

if TYPE_CHECKING:
    from .locate import Path
    from .schema import SwitchConfig, _Parser

VOICEMAIL_KEY: Final = "voicemail"
MAILBOX_KEY: Final = "mailbox"
MAILBOX_KEYS: Final = ("pin", "greeting", "unsolicited")
_PIN = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class VoicemailSettings:
    max_length: float = 180.0
    min_length: float = 1.0
    silence: float = 5.0
    silence_threshold: int = 128
    no_answer: float = 20.0
    greetings_dir: str | None = None  # None: DATA_DIR/voicemail/greetings
    pin_attempts: int = 3
    max_messages: int = 100
    greeting_max_length: float = 60.0
    greeting_min_length: float = 1.0
    greeting_silence: float = 3.0
    mwi_max_expires: int = 3600  # seconds; a SUBSCRIBE asking more gets this (RFC 6665)

    def deposit(self) -> DepositSettings:
        return DepositSettings(self.max_length, self.min_length, self.silence)

    def retrieval(self) -> RetrievalSettings:
        return RetrievalSettings(pin_attempts=self.pin_attempts)

    def greeting(self) -> GreetingSettings:
        """The ``*97`` greeting recorder's limits (option ``0``)."""
        return GreetingSettings(max_seconds=self.greeting_max_length,
                                min_seconds=self.greeting_min_length,
                                silence_seconds=self.greeting_silence)


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    name: str
    owner: Literal["user", "queue"]
    pin: str | None = None  # None: no *97 access (a queue's box)
    greeting: str | None = None  # a prompt value; None: the recorded one, else the default
    unsolicited: bool = False  # NOTIFY the user's registered phones without a SUBSCRIBE


def _frozen(d: Mapping[str, MailboxConfig]) -> Mapping[str, MailboxConfig]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True)
class VoicemailConfig:
    settings: VoicemailSettings = VoicemailSettings()
    mailboxes: Mapping[str, MailboxConfig] = field(default_factory=lambda: _frozen({}))
    prompt_uses: tuple[PromptUse, ...] = ()  # the greetings, for the load-time file check


_SETTING_KEYS: Final = tuple(f.name for f in fields(VoicemailSettings))

# (index in [[users]], the mailbox value, the entry's other keys)
UserBox = tuple[int, object, dict[str, Any]]


def parse_voicemail(text: str, filename: str, *, prompts: Collection[str] | None = None,
                    ) -> tuple[SwitchConfig, VoicemailConfig]:
    """Parse a configuration that has voicemail keys: the whole configuration (as the main
    loader does) and its voicemail part.  Raises ConfigError like :func:`parse_config`."""
    from .schema import parse_config  # the main loader imports this module

    config = parse_config(text, filename, prompts=prompts)
    return config, config.voicemail


def split_voicemail(raw: dict[str, Any]) -> tuple[object, list[UserBox], dict[str, object]]:
    """Take ``[voicemail]`` and every ``mailbox`` key out of ``raw`` (a parsed TOML file): the
    section, the users' boxes and the queues' boxes, for :func:`parse_sections`."""
    section = raw.pop(VOICEMAIL_KEY, {})
    user_boxes: list[UserBox] = []
    users = raw.get("users", [])
    if isinstance(users, list):
        for i, entry in enumerate(users):
            if isinstance(entry, dict) and MAILBOX_KEY in entry:
                value = entry.pop(MAILBOX_KEY)
                user_boxes.append((i, value, dict(entry)))
    queue_boxes: dict[str, object] = {}
    queues = raw.get("queues", {})
    if isinstance(queues, dict):
        for name, entry in queues.items():
            if isinstance(entry, dict) and MAILBOX_KEY in entry:
                queue_boxes[name] = entry.pop(MAILBOX_KEY)
    return section, user_boxes, queue_boxes


def parse_sections(p: _Parser, section: object, user_boxes: list[UserBox],
                   queue_boxes: Mapping[str, object]) -> VoicemailConfig:
    settings = parse_settings(p, section, (VOICEMAIL_KEY,))
    first_use = len(p.prompt_uses)
    boxes: dict[str, MailboxConfig] = {}
    for i, value, entry in user_boxes:
        up = ("users", i)
        for name in p.user_names(entry, up)[0]:
            box = mailbox(p, value, (*up, MAILBOX_KEY), name, "user")
            if box is not None:
                boxes[name] = box
    for qname, value in queue_boxes.items():
        qp = ("queues", qname, MAILBOX_KEY)
        box = mailbox(p, value, qp, qname, "queue")
        if box is None:
            continue
        if qname in boxes:
            p.fail(qp, f"mailbox {qname!r} is already a user's mailbox")
        boxes[qname] = box
    return VoicemailConfig(settings, _frozen(boxes), tuple(p.prompt_uses[first_use:]))


def parse_settings(p: _Parser, value: object, path: Path) -> VoicemailSettings:
    t = p.table(value, path)
    p.check_keys(t, _SETTING_KEYS, path)
    d = VoicemailSettings()
    max_length = p.opt(t, "max_length", path, d.max_length, p.seconds)
    min_length = p.opt(t, "min_length", path, d.min_length,
                       lambda v, q: p.number(v, q, "seconds"))
    if min_length >= max_length:
        p.fail((*path, "min_length"), f"must be below max_length ({max_length:g} s)")
    g_max = p.opt(t, "greeting_max_length", path, d.greeting_max_length, p.seconds)
    g_min = p.opt(t, "greeting_min_length", path, d.greeting_min_length,
                  lambda v, q: p.number(v, q, "seconds"))
    if g_min >= g_max:
        p.fail((*path, "greeting_min_length"),
               f"must be below greeting_max_length ({g_max:g} s)")
    return VoicemailSettings(
        max_length=max_length,
        min_length=min_length,
        silence=p.opt(t, "silence", path, d.silence, lambda v, q: p.number(v, q, "seconds")),
        silence_threshold=p.opt(t, "silence_threshold", path, d.silence_threshold,
                                lambda v, q: p.integer(v, q, 0, 32767)),
        no_answer=p.opt(t, "no_answer", path, d.no_answer, p.seconds),
        greetings_dir=p.opt(t, "greetings_dir", path, d.greetings_dir, p.string),
        pin_attempts=p.opt(t, "pin_attempts", path, d.pin_attempts,
                           lambda v, q: p.integer(v, q, 1, 10)),
        max_messages=p.opt(t, "max_messages", path, d.max_messages,
                           lambda v, q: p.integer(v, q, 1, 100_000)),
        greeting_max_length=g_max,
        greeting_min_length=g_min,
        greeting_silence=p.opt(t, "greeting_silence", path, d.greeting_silence,
                               lambda v, q: p.number(v, q, "seconds")),
        mwi_max_expires=p.opt(t, "mwi_max_expires", path, d.mwi_max_expires,
                              lambda v, q: p.integer(v, q, 60, 86_400)),
    )


def mailbox(p: _Parser, value: object, path: Path, name: str,
            owner: Literal["user", "queue"]) -> MailboxConfig | None:
    """A ``mailbox`` value: true, false or ``{ pin, greeting }``; None for false."""
    if value is False:
        return None
    default_pin = name if owner == "user" else None
    if value is True:
        if default_pin is not None and not _PIN.fullmatch(default_pin):
            p.fail(path, f"user {name!r} is not all digits: give the mailbox a pin")
        return MailboxConfig(name, owner, default_pin)
    if not isinstance(value, dict):
        p.fail(path, f"must be true, false or a table (pin, greeting), got {p.kind(value)}")
    p.check_keys(value, MAILBOX_KEYS, path)
    pin = default_pin
    if "pin" in value:
        from .schema import _fill  # the main loader imports this module

        pin = _fill(p.string(value["pin"], (*path, "pin")), name)
    if pin is not None and not _PIN.fullmatch(pin):
        p.fail((*path, "pin"), "must be 1 to 10 digits")
    greeting = p.opt(value, "greeting", path, None, lambda v, q: prompt_value(p, v, q))
    unsolicited = p.opt(value, "unsolicited", path, False, p.boolean)
    if unsolicited and owner != "user":
        p.fail((*path, "unsolicited"), "only a user's phones can be notified")
    return MailboxConfig(name, owner, pin, greeting, unsolicited)
