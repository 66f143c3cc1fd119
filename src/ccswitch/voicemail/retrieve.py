"""The ``*97`` mailbox menu: PIN, counts, then the messages (pure, table-driven).

1. PIN: ``vm/enter-password``; keys up to ``#`` (or ``pin_timeout`` seconds without a key
   once the prompt ended, ``interdigit`` between keys).  A wrong PIN says ``wrong-pin`` and
   asks again; after ``pin_attempts`` wrong ones: ``goodbye`` and hang up.
2. "You have N new messages and M saved messages" (``vm/you-have`` …), or
   ``vm/no-messages`` when the box is empty: then the options (only ``0`` and ``#`` do
   something), or goodbye when the menu offers no greeting recording.
3. The messages in mailbox order (new oldest first, then saved oldest first): each is
   announced (``vm/message`` + its number) and played; a new message becomes saved as soon
   as its playback starts (``SaveMessage`` + ``MailboxChanged``: the lamp follows what was
   heard, like Asterisk moving heard messages to Old).  After a message: ``vm/options``, then
   ``options_timeout`` seconds for a key; with no key the options are repeated
   ``options_repeats`` times, then goodbye.

Keys (:data:`KEYS`, Asterisk's VoiceMailMain layout), during a message, the options or a
notice (a key stops what plays):

====  ==========================================================================
4     previous message (``vm/no-more`` at the first)
5     replay the message
6     next message (``vm/no-more`` after the last)
7     delete the message (``vm/deleted``), then the next one
9     save the message (``vm/saved``), then the next one
0     record the box's greeting (``greeting.py``), then the options again
\\*   repeat the options
#     goodbye and hang up
====  ==========================================================================

Other keys: ignored while a message plays, ``invalid`` then the options otherwise.  The list
is the box as it was when the menu started; messages left meanwhile are heard next time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from ..ivr.say import say_number
from .actions import DeleteMessage, HangUp, MailboxChanged, SaveMessage
from .greeting import GreetingRecorder, GreetingSettings
from .machine import PromptMachine
from .mailbox import Folder, Message


class Key(Enum):
    PREVIOUS = "previous"
    REPLAY = "replay"
    NEXT = "next"
    DELETE = "delete"
    SAVE = "save"
    HELP = "help"
    EXIT = "exit"
    GREETING = "greeting"


KEYS: Mapping[str, Key] = MappingProxyType({
    "4": Key.PREVIOUS, "5": Key.REPLAY, "6": Key.NEXT, "7": Key.DELETE, "9": Key.SAVE,
    "*": Key.HELP, "#": Key.EXIT, "0": Key.GREETING})
"""The message menu's keys."""
DEFAULT_GREETING = GreetingSettings()


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    pin_attempts: int = 3
    pin_timeout: float = 5.0  # after the prompt, for the first key
    interdigit: float = 3.0
    max_pin_digits: int = 10
    options_timeout: float = 10.0
    options_repeats: int = 2


class RetrievalState(Enum):
    PIN = "pin"  # asking for / collecting the PIN
    WRONG_PIN = "wrong_pin"  # saying so
    COUNTS = "counts"  # "you have ..."
    MESSAGE = "message"  # playing a message (with its announcement)
    NOTICE = "notice"  # a short notice (deleted, saved, no more, invalid)
    OPTIONS = "options"  # the options prompt, then waiting for a key
    GREETING = "greeting"  # recording the box's greeting (a GreetingRecorder runs)
    CLOSING = "closing"  # goodbye
    DONE = "done"


class RetrievalInput(Enum):
    DIGIT = "a key"
    PROMPT_ENDED = "the current play ended"
    TIMEOUT = "the state's deadline passed"
    HANGUP = "the caller hung up"


class Do(Enum):
    PIN_DIGIT = "add a key to the PIN (# checks it)"
    PIN_CHECK = "check the PIN collected so far"
    PIN_WAIT = "the prompt ended: wait for keys"
    ASK_PIN = "ask for the PIN again (or give up)"
    FIRST = "announce the counts' end: play the first message"
    MENU_KEY = "act on a key of the message menu"
    MESSAGE_KEY = "act on a key pressed during a message"
    AFTER_MESSAGE = "play the options"
    AFTER_NOTICE = "go on after a notice"
    OPTIONS_WAIT = "the options ended: wait for a key"
    OPTIONS_AGAIN = "no key: repeat the options or give up"
    GREETING = "hand the input to the greeting recorder"
    EXIT = "say goodbye"
    HANG_UP = "hang up"
    GONE = "the caller left"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class RetrievalEdge:
    do: Do
    next: RetrievalState | None  # None: the handler decides


_S = RetrievalState
_I = RetrievalInput


def _e(do: Do, nxt: RetrievalState | None = None) -> RetrievalEdge:
    return RetrievalEdge(do, nxt)


RETRIEVAL_TABLE: Mapping[tuple[RetrievalState, RetrievalInput], RetrievalEdge] = \
    MappingProxyType({
        (_S.PIN, _I.DIGIT): _e(Do.PIN_DIGIT),
        (_S.PIN, _I.PROMPT_ENDED): _e(Do.PIN_WAIT, _S.PIN),
        (_S.PIN, _I.TIMEOUT): _e(Do.PIN_CHECK),
        (_S.WRONG_PIN, _I.DIGIT): _e(Do.NOTHING, _S.WRONG_PIN),
        (_S.WRONG_PIN, _I.PROMPT_ENDED): _e(Do.ASK_PIN),
        (_S.COUNTS, _I.DIGIT): _e(Do.NOTHING, _S.COUNTS),
        (_S.COUNTS, _I.PROMPT_ENDED): _e(Do.FIRST),
        (_S.MESSAGE, _I.DIGIT): _e(Do.MESSAGE_KEY),
        (_S.MESSAGE, _I.PROMPT_ENDED): _e(Do.AFTER_MESSAGE, _S.OPTIONS),
        (_S.NOTICE, _I.DIGIT): _e(Do.MENU_KEY),
        (_S.NOTICE, _I.PROMPT_ENDED): _e(Do.AFTER_NOTICE),
        (_S.OPTIONS, _I.DIGIT): _e(Do.MENU_KEY),
        (_S.OPTIONS, _I.PROMPT_ENDED): _e(Do.OPTIONS_WAIT, _S.OPTIONS),
        (_S.OPTIONS, _I.TIMEOUT): _e(Do.OPTIONS_AGAIN),
        (_S.GREETING, _I.DIGIT): _e(Do.GREETING),
        (_S.GREETING, _I.PROMPT_ENDED): _e(Do.GREETING),
        (_S.GREETING, _I.TIMEOUT): _e(Do.GREETING),
        (_S.CLOSING, _I.DIGIT): _e(Do.NOTHING, _S.CLOSING),
        (_S.CLOSING, _I.PROMPT_ENDED): _e(Do.HANG_UP, _S.DONE),
        **{(s, _I.HANGUP): _e(Do.GONE, _S.DONE) for s in RetrievalState},
        (_S.DONE, _I.DIGIT): _e(Do.NOTHING, _S.DONE),
        (_S.DONE, _I.PROMPT_ENDED): _e(Do.NOTHING, _S.DONE),
        (_S.DONE, _I.TIMEOUT): _e(Do.NOTHING, _S.DONE),
    })
"""``(state, input) -> edge``; an input with no entry is ignored (a timer of a state left)."""


class Retrieval(PromptMachine):
    """One ``*97`` session on ``box`` with ``messages`` (the box's content at the start)."""

    def __init__(self, *, box: str, messages: Sequence[Message], pin: str | None,
                 settings: RetrievalSettings = RetrievalSettings(),
                 file_path: str = "{file}",
                 greeting_file: Callable[[], str] | None = None,
                 greeting: GreetingSettings = DEFAULT_GREETING) -> None:
        """``pin`` None: no PIN is asked.  ``file_path``: how a message's ``file`` becomes the
        path to play (``{file}`` and ``{box}`` substituted).  ``greeting_file``: a new file
        for a greeting take (None: key ``0`` is not offered)."""
        super().__init__()
        self.box = box
        self.settings = settings
        self._pin = pin
        self._file_path = file_path
        self._list: list[Message] = list(messages)
        self._index = 0
        self.state = RetrievalState.PIN
        self._started = False
        self._typed = ""
        self._attempts = 0
        self._repeats = 0
        self._after_notice: int | None = None  # the message to play after a notice
        self.deleted: set[str] = set()
        self._greeting_file = greeting_file
        self._greeting_settings = greeting
        self._greeting: GreetingRecorder | None = None

    # -- the shell's side ----------------------------------------------------------------
    def next_deadline(self) -> float | None:
        if self.state is RetrievalState.GREETING and self._greeting is not None:
            return self._greeting.next_deadline()
        return self._deadline

    @property
    def done(self) -> bool:
        return self.state is RetrievalState.DONE

    @property
    def current(self) -> Message | None:
        return self._list[self._index] if 0 <= self._index < len(self._list) else None

    def start(self, now: float) -> None:
        assert self.state is RetrievalState.PIN and not self._started
        self._started = True
        if self._pin is None:
            self._counts()
        else:
            self._play(("vm/enter-password",))

    def digit(self, key: str, now: float) -> None:
        self._step(RetrievalInput.DIGIT, now, key)

    def prompt_ended(self, play_id: int, now: float) -> None:
        if self.state is RetrievalState.GREETING:
            self._step(RetrievalInput.PROMPT_ENDED, now, play_id=play_id)
        elif self._ended_play(play_id):
            self._step(RetrievalInput.PROMPT_ENDED, now)

    def hangup(self, now: float) -> None:
        self._step(RetrievalInput.HANGUP, now)

    def recording_ended(self, seconds: float, reason: str, now: float) -> None:
        """A greeting take's recording ended (even after a hang-up)."""
        if self._greeting is not None:
            self._greeting.recording_ended(seconds, reason, now)
            self._from_greeting()

    def handle_timer(self, now: float) -> None:
        if self.state is RetrievalState.GREETING or self._due(now):
            self._step(RetrievalInput.TIMEOUT, now)

    # -- the table ---------------------------------------------------------------------
    def _step(self, inp: RetrievalInput, now: float, key: str = "", play_id: int = 0) -> None:
        edge = RETRIEVAL_TABLE.get((self.state, inp))
        if edge is None:
            return
        if edge.next is not None:
            self.state = edge.next
        do = edge.do
        if do is Do.PIN_DIGIT:
            self._pin_digit(key, now)
        elif do is Do.PIN_WAIT:
            self._deadline = now + self.settings.pin_timeout
        elif do is Do.PIN_CHECK:
            self._check_pin()
        elif do is Do.ASK_PIN:
            self.state = RetrievalState.PIN
            self._play(("vm/enter-password",))
        elif do is Do.FIRST:
            self._play_message(0)
        elif do is Do.MESSAGE_KEY:
            if key in KEYS:
                self._menu_key(KEYS[key])
        elif do is Do.MENU_KEY:
            if key in KEYS:
                self._menu_key(KEYS[key])
            else:
                self._notice(("invalid",), None)
        elif do is Do.AFTER_MESSAGE:
            self._options()
        elif do is Do.AFTER_NOTICE:
            if self._after_notice is None:
                self._options()
            else:
                self._play_message(self._after_notice)
        elif do is Do.OPTIONS_WAIT:
            self._deadline = now + self.settings.options_timeout
        elif do is Do.OPTIONS_AGAIN:
            self._repeats += 1
            if self._repeats > self.settings.options_repeats:
                self._exit()
            else:
                self._play(self._option_prompts())
        elif do is Do.GREETING:
            self._to_greeting(inp, now, key, play_id)
        elif do is Do.HANG_UP:
            self._actions.append(HangUp())
        elif do is Do.GONE:
            self._deadline = None
            self._playing = None
            if self._greeting is not None:
                self._greeting.hangup(now)
                self._from_greeting()

    # -- the greeting ------------------------------------------------------------------
    def _to_greeting(self, inp: RetrievalInput, now: float, key: str, play_id: int) -> None:
        g = self._greeting
        assert g is not None
        if inp is RetrievalInput.DIGIT:
            g.digit(key, now)
        elif inp is RetrievalInput.PROMPT_ENDED:
            g.prompt_ended(play_id, now)
        else:
            g.handle_timer(now)
        self._from_greeting()

    def _from_greeting(self) -> None:
        """Take the recorder's actions; once it is done, back to the options."""
        g = self._greeting
        assert g is not None
        self._actions += g.actions()
        if g.done and self.state is RetrievalState.GREETING:
            self._greeting = None
            self._options()

    # -- PIN -----------------------------------------------------------------------------
    def _pin_digit(self, key: str, now: float) -> None:
        self._stop_play()
        if key == "#":
            self._check_pin()
            return
        if key.isdigit():
            self._typed += key
        if len(self._typed) >= self.settings.max_pin_digits:
            self._check_pin()
        else:
            self._deadline = now + self.settings.interdigit

    def _check_pin(self) -> None:
        self._deadline = None
        typed, self._typed = self._typed, ""
        assert self._pin is not None
        if hmac.compare_digest(typed.encode(), self._pin.encode()):
            self._counts()
            return
        self._attempts += 1
        if self._attempts >= self.settings.pin_attempts:
            self._exit(("wrong-pin", "goodbye"))
        else:
            self.state = RetrievalState.WRONG_PIN
            self._play(("wrong-pin",))

    # -- the messages --------------------------------------------------------------------
    def _counts(self) -> None:
        new = sum(m.folder is Folder.NEW for m in self._list)
        saved = len(self._list) - new
        if not self._list and self._greeting_file is None:
            self._exit(("vm/no-messages", "goodbye"))
            return
        if not self._list:
            self._notice(("vm/no-messages",), None)
            return
        items = ["vm/you-have", *say_number(min(new, 999_999)),
                 "vm/new-message" if new == 1 else "vm/new-messages"]
        if saved:
            items += ["vm/and", *say_number(min(saved, 999_999)),
                      "vm/saved-message" if saved == 1 else "vm/saved-messages"]
        self.state = RetrievalState.COUNTS
        self._play(tuple(items))

    def _play_message(self, index: int) -> None:
        self._index = index
        msg = self.current
        if msg is None:
            self._notice(("vm/no-more",), None)
            return
        self.state = RetrievalState.MESSAGE
        self._repeats = 0
        path = self._file_path.format(file=msg.file, box=self.box)
        self._play(("vm/message", *say_number(min(index + 1, 999_999)), path))
        if msg.folder is Folder.NEW:
            self._list[index] = Message(msg.id, msg.box, msg.caller, msg.received, msg.duration,
                                        msg.file, Folder.SAVED)
            self._actions += [SaveMessage(self.box, msg.id), MailboxChanged(self.box)]

    def _menu_key(self, key: Key) -> None:
        self._stop_play()
        msg = self.current
        if key is Key.EXIT:
            self._exit()
        elif key is Key.HELP:
            self._options()
        elif key is Key.GREETING:
            if self._greeting_file is None:
                self._notice(("invalid",), None)
                return
            self.state = RetrievalState.GREETING
            self._deadline = None
            self._greeting = GreetingRecorder(box=self.box, new_file=self._greeting_file,
                                              next_play_id=self._next_play_id,
                                              settings=self._greeting_settings)
            self._greeting.start(0.0)
            self._from_greeting()
        elif msg is None:
            self._notice(("vm/no-more",), None)
        elif key is Key.REPLAY:
            self._play_message(self._index)
        elif key is Key.NEXT:
            self._go(self._index + 1, ())
        elif key is Key.PREVIOUS:
            if self._index == 0:
                self._notice(("vm/no-more",), None)
            else:
                self._play_message(self._index - 1)
        elif key is Key.SAVE:
            self._go(self._index + 1, ("vm/saved",))
        else:  # DELETE
            del self._list[self._index]
            self.deleted.add(msg.id)
            self._actions += [DeleteMessage(self.box, msg.id), MailboxChanged(self.box)]
            self._go(self._index, ("vm/deleted",))

    def _go(self, index: int, notice: tuple[str, ...]) -> None:
        """Say ``notice`` (if any), then play message ``index``; past the end, "no more" (the
        current message stays where it was, or none after deleting the last one)."""
        if index >= len(self._list):
            self._index = min(self._index, len(self._list))
            self._notice((*notice, "vm/no-more"), None)
        elif notice:
            self._index = index
            self._notice(notice, index)
        else:
            self._play_message(index)

    def _notice(self, items: tuple[str, ...], then: int | None) -> None:
        self.state = RetrievalState.NOTICE
        self._after_notice = then
        self._deadline = None
        self._play(items)

    def _options(self) -> None:
        self.state = RetrievalState.OPTIONS
        self._deadline = None
        self._play(self._option_prompts())

    def _option_prompts(self) -> tuple[str, ...]:
        return ("vm/options",) if self._greeting_file is None \
            else ("vm/options", "vm/options-greeting")

    def _exit(self, items: tuple[str, ...] = ("goodbye",)) -> None:
        self.state = RetrievalState.CLOSING
        self._deadline = None
        self._play(items)
