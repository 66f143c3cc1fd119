"""Call flows as coroutines, driven without an event loop (pure, deterministic).

A flow is ``async def flow(call: IvrCall) -> None``; it awaits what the call should do::

    async def support(call):
        await call.play("welcome")
        key = await call.collect(1, timeout=5, prompt=("main-menu",))
        if key == "1":
            await call.queue("sales", priority=5)

Each ``await`` yields a request (``Play``, ``Collect``, ``Queue``…) to the ``FlowRunner``,
which turns it into ``actions()`` for the switch and resumes the coroutine when the switch
reports the outcome (``on_play_done``, ``on_digit``, ``on_timer``, ``on_result``).  Digits
pressed while a prompt plays stop the prompt (barge-in) and are kept for the next ``collect``
(type-ahead).  When the caller hangs up, ``CallerHungUp`` is raised inside the flow, so its
``finally`` blocks run.  Time is passed in; the runner never reads a clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clock import TimerHeap

MAX_TYPE_AHEAD = 32  # keys kept for the next collect; older ones are dropped


class CallerHungUp(Exception):
    """Raised inside a flow when the caller has gone."""


# --------------------------------------------------------------------------- requests
@dataclass(frozen=True, slots=True)
class PlayReq:
    prompts: tuple[str, ...]
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class CollectReq:
    max_digits: int
    timeout: float
    prompt: tuple[str, ...] = ()
    terminator: str = "#"
    interdigit: float = 3.0


@dataclass(frozen=True, slots=True)
class QueueReq:
    queue: str
    priority: int = 0
    skills: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class TransferReq:
    """Hand the call to a dial-plan target (``user:1001``, ``echo``, a number…)."""

    target: str


@dataclass(frozen=True, slots=True)
class HangupReq:
    pass


@dataclass(frozen=True, slots=True)
class SleepReq:
    seconds: float


Request = PlayReq | CollectReq | QueueReq | TransferReq | HangupReq | SleepReq


# --------------------------------------------------------------------------- actions
@dataclass(frozen=True, slots=True)
class StartPlay:
    """Play ``prompts`` one after the other as play ``play_id``."""

    play_id: int
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CancelPlay:
    play_id: int


@dataclass(frozen=True, slots=True)
class HandOff:
    """The flow gives the call to the switch: queue it, transfer it, or hang it up.  A
    ``QueueReq``/``TransferReq`` flow resumes with the outcome passed to ``on_result``."""

    request: QueueReq | TransferReq | HangupReq


@dataclass(frozen=True, slots=True)
class FlowDone:
    """The flow returned (or failed: ``error``); the switch hangs up unless handed off."""

    error: str | None = None


@dataclass(frozen=True, slots=True)
class Sensitive:
    """The flow entered (``menu``) or left (``None``) a sensitive menu: the call's recording
    must not hear what the caller keys in meanwhile."""

    menu: str | None


Action = StartPlay | CancelPlay | HandOff | FlowDone | Sensitive


class _Op:
    """The awaitable behind every ``IvrCall`` method."""

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request

    def __await__(self) -> Generator[Request, Any, Any]:
        return (yield self.request)


@dataclass(slots=True)
class IvrCall:
    """What a flow sees of its call: caller, number dialled, variables, and the awaitables.
    ``digits``: every key string a ``collect`` returned, in order (the IVR's digits).
    ``sensitive``: the name of the sensitive menu the flow is in (set by the flow; the runner
    reports it as ``Sensitive`` when the flow next plays, collects or waits, and lets go of it
    when the flow hands the call over or ends)."""

    caller: str
    dialled: str
    vars: dict[str, str] = field(default_factory=dict)
    digits: str = ""
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    sensitive: str | None = None

    def play(self, *prompts: str, interruptible: bool = True) -> Awaitable[str | None]:
        """Play prompts; returns the key that interrupted them, or None."""
        return _Op(PlayReq(tuple(prompts), interruptible))

    def collect(self, max_digits: int, timeout: float, *, prompt: tuple[str, ...] = (),
                terminator: str = "#", interdigit: float = 3.0) -> Awaitable[str]:
        """Up to ``max_digits`` keys (``terminator`` ends early); "" when none came within
        ``timeout`` seconds after the prompt."""
        return _Op(CollectReq(max_digits, timeout, tuple(prompt), terminator, interdigit))

    def queue(self, name: str, *, priority: int | None = None,
              skills: Mapping[str, int] | None = None) -> Awaitable[str]:
        """Queue the call; returns how it left the queue (e.g. ``"overflow:voicemail"``)."""
        given = dict(skills) if skills is not None else (dict(self.skills) or None)
        return _Op(QueueReq(name, self.priority if priority is None else priority, given))

    def transfer(self, target: str) -> Awaitable[str]:
        return _Op(TransferReq(target))

    def hangup(self) -> Awaitable[None]:
        return _Op(HangupReq())

    def sleep(self, seconds: float) -> Awaitable[None]:
        return _Op(SleepReq(seconds))


Flow = Callable[[IvrCall], Coroutine[Any, Any, None]]


class FlowRunner:
    """Runs one flow for one call."""

    def __init__(self, flow: Flow, call: IvrCall) -> None:
        self.call = call
        self._coro = flow(call)
        self._actions: list[Action] = []
        self._waiting: Request | None = None
        self._play_id = 0
        self._playing: int | None = None
        self._typed = ""  # keys pressed and not consumed yet
        self._digits = ""  # keys collected by the current collect
        self._timers: TimerHeap[str] = TimerHeap()
        self._marked: str | None = None  # the sensitive menu last reported
        self.done = False
        self.handed_off = False

    # -- shell-facing ------------------------------------------------------------------
    def actions(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def start(self, now: float) -> None:
        if not self.done:
            self._step(None, now)

    def on_digit(self, key: str, now: float) -> None:
        if self.done:
            return
        req = self._waiting
        if isinstance(req, PlayReq):
            self._type(key)
            if req.interruptible:
                self._stop_play()
                self._step(key, now)
        elif isinstance(req, CollectReq):
            if self._playing is not None:
                self._stop_play()
            self._collect_key(req, key, now)
        else:
            self._type(key)

    def on_play_done(self, play_id: int, now: float) -> None:
        if self.done or play_id != self._playing:
            return
        self._playing = None
        req = self._waiting
        if isinstance(req, PlayReq):
            self._step(None, now)
        elif isinstance(req, CollectReq):
            self._timers.arm("collect", now + req.timeout)

    def on_timer(self, now: float) -> None:
        for key in self._timers.pop_due(now):
            req = self._waiting
            if key == "sleep" and isinstance(req, SleepReq):
                self._step(None, now)
            elif key == "collect" and isinstance(req, CollectReq):
                self._finish_collect(now)

    def on_result(self, result: str, now: float) -> None:
        """The outcome of a handed-off queue or transfer; the flow goes on."""
        if isinstance(self._waiting, QueueReq | TransferReq) and not self.done:
            self.handed_off = False
            self._step(result, now)

    def on_hangup(self, now: float) -> None:
        """The caller hung up: ``CallerHungUp`` is raised in the flow."""
        if self.done:
            return
        self._timers = TimerHeap()
        self._playing = None
        self._waiting = None
        self.done = True
        try:
            self._coro.throw(CallerHungUp())
        except (StopIteration, CallerHungUp):
            return
        except Exception as exc:  # a bug in the flow's clean-up: logged by the caller's FlowDone
            self._actions.append(FlowDone(f"{type(exc).__name__}: {exc}"))
            return
        self._coro.close()  # the flow tried to go on with a gone caller

    # -- the coroutine -----------------------------------------------------------------
    def _step(self, value: object, now: float) -> None:
        try:
            req = self._coro.send(value)
        except StopIteration:
            self._finish(None)
            return
        except CallerHungUp:
            self._finish(None)
            return
        except Exception as exc:  # a bug in a user's flow ends its call, not the switch
            self._finish(f"{type(exc).__name__}: {exc}")
            return
        self._waiting = req
        self._begin(req, now)

    def _mark(self, menu: str | None) -> None:
        if menu != self._marked:
            self._marked = menu
            self._actions.append(Sensitive(menu))

    def _begin(self, req: Request, now: float) -> None:
        self._mark(None if isinstance(req, QueueReq | TransferReq | HangupReq)
                   else self.call.sensitive)
        if isinstance(req, PlayReq):
            if req.interruptible and self._typed:
                # a key pressed earlier skips the prompt, and is used up by it
                key, self._typed = self._typed[0], self._typed[1:]
                self._step(key, now)
                return
            self._start_play(req.prompts, now)
        elif isinstance(req, CollectReq):
            self._digits = ""
            while self._typed and self._waiting is req:
                key, self._typed = self._typed[0], self._typed[1:]
                self._collect_key(req, key, now)
            if self._waiting is not req:
                return
            if req.prompt and not self._digits:
                self._start_play(req.prompt, now)
            else:
                self._timers.arm("collect", now + (req.interdigit if self._digits
                                                   else req.timeout))
        elif isinstance(req, SleepReq):
            self._timers.arm("sleep", now + req.seconds)
        else:
            self.handed_off = True
            self._actions.append(HandOff(req))
            if isinstance(req, HangupReq):
                self._coro.close()
                self.done = True

    def _type(self, key: str) -> None:
        self._typed = (self._typed + key)[-MAX_TYPE_AHEAD:]

    def _collect_key(self, req: CollectReq, key: str, now: float) -> None:
        if key == req.terminator and self._digits:
            self._finish_collect(now)
            return
        if key == req.terminator:
            return
        self._digits += key
        if len(self._digits) >= req.max_digits:
            self._finish_collect(now)
        else:
            self._timers.arm("collect", now + req.interdigit)

    def _finish_collect(self, now: float) -> None:
        self._timers.cancel("collect")
        got, self._digits = self._digits, ""
        self.call.digits += got
        self._step(got, now)

    def _start_play(self, prompts: tuple[str, ...], now: float) -> None:
        self._play_id += 1
        self._playing = self._play_id
        self._actions.append(StartPlay(self._play_id, prompts))

    def _stop_play(self) -> None:
        if self._playing is not None:
            self._actions.append(CancelPlay(self._playing))
            self._playing = None

    def _finish(self, error: str | None) -> None:
        self.done = True
        self._waiting = None
        self._timers = TimerHeap()
        self._stop_play()
        self._mark(None)
        self._actions.append(FlowDone(error))
