"""Outbound registration of a trunk to its carrier (RFC 3261 §10, RFC 5626 §4.5), sans-IO.

A :class:`RegistrationClient` keeps one binding (our Contact at the carrier's registrar):

- :meth:`start` sends a REGISTER; a 401/407 is answered with the trunk's credentials through
  :class:`~ccswitch.sip.client_auth.DigestClient` (once per challenge, see that module); a 2xx
  grants an expiry (our Contact's ``expires`` parameter, else the Expires header, else what we
  asked); the binding is refreshed at ``refresh_fraction`` of it, with credentials sent before
  they are asked (the nonce-count grows).
- 423 Interval Too Brief: asked again at once with the registrar's Min-Expires.
- Any other failure (a final answer, a 2xx that does not bind us, a timeout, credentials
  refused) is followed by a wait before the next attempt: ``base_backoff * 2**(failures-1)``,
  capped at ``max_backoff``, times a random factor in [0.5, 1) from the injected
  ``random.Random`` so trunks that failed together do not retry together (RFC 5626 §4.5); a
  Retry-After on a 5xx is honoured (capped too).
- :meth:`stop` sends a REGISTER with ``Expires: 0`` (credentials answered as well) and ends in
  ``stopped`` whatever the answer.

The registrar may have several addresses (a domain's RFC 3263 targets, in the order to try,
handed in as ``targets`` and by :meth:`retarget`); :attr:`dest` is where the current REGISTER
goes.  An attempt starts at the first target; a timeout or a 503 moves it to the next target
not yet tried in this attempt at once (RFC 3263 §4.3; :class:`RegistrationMoved`), and only
when every target failed does the attempt fail and back off.  Refreshes go to the target that
holds the binding while it is listed.  When a new DNS answer no longer lists :attr:`dest`, a
new REGISTER goes to the new first target at once (a REGISTER still out there is abandoned);
otherwise the new list only orders later attempts.  Without targets the shell decides where
requests go (:attr:`dest` is ``None``).

Time enters as ``now``; requests leave by :meth:`outbox` (the shell gives them to the
transaction layer toward the trunk), answers enter by :meth:`receive` (matched by Call-ID and
CSeq: older answers are ignored), a transaction timeout by :meth:`timed_out`; state changes
leave by :meth:`events` as :class:`Registered`, :class:`RegistrationFailed`, :class:`Retrying`
and :class:`Unregistered`.  The machine is the table :data:`TABLE`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from ..errors import CcswitchError, SipParseError
from ..ids import Ids
from .addr import Address
from .client_auth import AuthSession, DigestClient
from .dialog import LocalContact
from .message import Headers, Request, Response
from .uri import NameAddr, SipUri

__all__ = [
    "TABLE",
    "Do",
    "RegInput",
    "RegState",
    "Registered",
    "RegistrationClient",
    "RegistrationError",
    "RegistrationFailed",
    "RegistrationMoved",
    "Retrying",
    "Unregistered",
]

MAX_EXPIRES: Final = 2**31 - 1


class RegistrationError(CcswitchError):
    """The caller asked for something the state does not allow (start while running…)."""


class RegState(Enum):
    IDLE = "idle"  # never started
    REGISTERING = "registering"  # a REGISTER is out (first, retry or refresh)
    REGISTERED = "registered"  # bound; waiting to refresh
    BACKING_OFF = "backing off"  # failed; waiting to retry
    UNREGISTERING = "unregistering"  # Expires: 0 is out
    STOPPED = "stopped"


class RegInput(Enum):
    START = "start"
    STOP = "stop"
    OK = "2xx binding us"
    CHALLENGE = "401/407 answered"
    TOO_BRIEF = "423 with Min-Expires"
    FAILURE = "failure"  # any other final, a timeout, refused credentials, a 2xx not binding us
    REFRESH_DUE = "refresh due"
    RETRY_DUE = "retry due"
    NEXT_TARGET = "timeout or 503, another target left"
    RETARGET = "the current target is no longer listed"


class Do(Enum):
    SEND = "send REGISTER"
    RESEND = "send REGISTER again (credentials or a longer expiry)"
    BOUND = "bound: schedule the refresh"
    BACK_OFF = "schedule a retry"
    UNREGISTER = "send REGISTER with Expires: 0"
    FINISH = "stopped"
    NOTHING = "nothing"


S, I = RegState, RegInput  # noqa: E741 - short aliases for the table only
TABLE: Final = MappingProxyType({
    (S.IDLE, I.START): (Do.SEND, S.REGISTERING),
    (S.IDLE, I.STOP): (Do.NOTHING, S.STOPPED),
    (S.STOPPED, I.START): (Do.SEND, S.REGISTERING),
    (S.STOPPED, I.STOP): (Do.NOTHING, S.STOPPED),
    (S.REGISTERING, I.OK): (Do.BOUND, S.REGISTERED),
    (S.REGISTERING, I.CHALLENGE): (Do.RESEND, S.REGISTERING),
    (S.REGISTERING, I.TOO_BRIEF): (Do.RESEND, S.REGISTERING),
    (S.REGISTERING, I.FAILURE): (Do.BACK_OFF, S.BACKING_OFF),
    (S.REGISTERING, I.STOP): (Do.UNREGISTER, S.UNREGISTERING),
    (S.REGISTERING, I.NEXT_TARGET): (Do.SEND, S.REGISTERING),
    (S.REGISTERING, I.RETARGET): (Do.SEND, S.REGISTERING),
    (S.REGISTERED, I.RETARGET): (Do.SEND, S.REGISTERING),
    (S.BACKING_OFF, I.RETARGET): (Do.SEND, S.REGISTERING),
    (S.IDLE, I.RETARGET): (Do.NOTHING, S.IDLE),
    (S.STOPPED, I.RETARGET): (Do.NOTHING, S.STOPPED),
    (S.UNREGISTERING, I.RETARGET): (Do.NOTHING, S.UNREGISTERING),
    (S.REGISTERED, I.REFRESH_DUE): (Do.SEND, S.REGISTERING),
    (S.REGISTERED, I.STOP): (Do.UNREGISTER, S.UNREGISTERING),
    (S.BACKING_OFF, I.RETRY_DUE): (Do.SEND, S.REGISTERING),
    (S.BACKING_OFF, I.STOP): (Do.UNREGISTER, S.UNREGISTERING),
    (S.UNREGISTERING, I.CHALLENGE): (Do.RESEND, S.UNREGISTERING),
    (S.UNREGISTERING, I.OK): (Do.FINISH, S.STOPPED),
    (S.UNREGISTERING, I.TOO_BRIEF): (Do.FINISH, S.STOPPED),
    (S.UNREGISTERING, I.FAILURE): (Do.FINISH, S.STOPPED),
    (S.UNREGISTERING, I.STOP): (Do.NOTHING, S.UNREGISTERING),
})
"""(state, input) -> (action, next state).  Network inputs only arrive while a REGISTER is out
(REGISTERING, UNREGISTERING) and timers only in the states that arm them, so a missing entry is
a user call the state does not allow (:class:`RegistrationError`)."""


@dataclass(frozen=True, slots=True)
class Registered:
    """``trunk`` is bound for ``expires`` seconds from ``at``; refreshed at ``refresh_at``."""

    trunk: str
    expires: int
    at: float
    refresh_at: float


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    """An attempt failed: ``status`` (408 for a timeout), ``why`` (``status``, ``timeout``,
    ``auth``: credentials refused or unusable, ``not_bound``: a 2xx without our binding)."""

    trunk: str
    status: int
    why: str
    at: float


@dataclass(frozen=True, slots=True)
class RegistrationMoved:
    """``dest`` timed out or answered 503 (``status``): the REGISTER goes to ``next`` (the
    next target, RFC 3263 §4.3), or to a new DNS answer's first target (``status`` 0)."""

    trunk: str
    dest: Address
    next: Address
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class Retrying:
    """The ``attempt``-th retry goes out at ``at + delay``."""

    trunk: str
    attempt: int
    delay: float
    at: float


@dataclass(frozen=True, slots=True)
class Unregistered:
    trunk: str
    at: float


RegEvent = Registered | RegistrationFailed | RegistrationMoved | Retrying | Unregistered


class RegistrationClient:
    """The registration of trunk ``trunk`` (see the module docstring).  ``registrar``: the
    Request-URI (``sip:carrier.example``); ``aor``: our address of record at the carrier
    (From and To); ``contact_user``: the user part of our Contact."""

    def __init__(self, *, trunk: str, registrar: str, aor: str, me: LocalContact, ids: Ids,
                 rng: random.Random, auth: DigestClient | None = None, expires: int = 3600,
                 refresh_fraction: float = 0.5, base_backoff: float = 30.0,
                 max_backoff: float = 1800.0, request_timeout: float = 32.0,
                 contact_user: str | None = None, user_agent: str = "",
                 targets: tuple[Address, ...] = ()) -> None:
        if not 0 < refresh_fraction < 1:
            raise ValueError("refresh_fraction must lie between 0 and 1")
        if not 0 < base_backoff <= max_backoff or request_timeout <= 0:
            raise ValueError("backoffs and request_timeout must be positive, base <= max")
        if not 1 <= expires <= MAX_EXPIRES:
            raise ValueError("expires must be positive")
        self.trunk = trunk
        self._registrar = registrar
        self._aor = aor
        self._me = me
        self._ids = ids
        self._rng = rng
        self._auth = auth
        self._expires = expires  # what we ask for (raised by a 423)
        self._fraction = refresh_fraction
        self._base = base_backoff
        self._max = max_backoff
        self._request_timeout = request_timeout
        self._contact = me.contact(contact_user)
        self._contact_uri = NameAddr.parse(self._contact).uri
        self._retry_after: int | None = None
        self._user_agent = user_agent
        self._call_id = ids.call_id(me.host)
        self._cseq = 0
        self.state = RegState.IDLE
        self.failures = 0  # failed attempts since the last binding
        self.granted: int | None = None
        self._outstanding: int | None = None
        self._session: AuthSession | None = None
        self._auth_headers: tuple[tuple[str, str], ...] = ()
        self._deadline: float | None = None  # refresh, retry or answer-by
        self._out: list[Request] = []
        self._events: list[RegEvent] = []
        self._targets = tuple(dict.fromkeys(targets))
        self.dest: Address | None = self._targets[0] if self._targets else None
        self._tried: set[Address] = set()  # targets this attempt already failed on

    # -- the user's calls -------------------------------------------------------------------
    def start(self, now: float) -> None:
        self._step(RegInput.START, now)

    def stop(self, now: float) -> None:
        self._step(RegInput.STOP, now)

    def retarget(self, targets: tuple[Address, ...], now: float) -> None:
        """The registrar's addresses are now ``targets`` (a new DNS answer or order)."""
        self._targets = tuple(dict.fromkeys(targets))
        if not self._targets or self.dest in self._targets:
            return
        old, self.dest = self.dest, self._targets[0]
        if old is not None and self.state in (RegState.REGISTERING, RegState.REGISTERED,
                                              RegState.BACKING_OFF):
            self._events.append(RegistrationMoved(self.trunk, old, self.dest, 0, now))
        if self.state is RegState.REGISTERING:
            self._outstanding = None  # an answer from the old target is not waited for
        self._step(RegInput.RETARGET, now)

    @property
    def registered(self) -> bool:
        return self.state is RegState.REGISTERED or (
            self.state is RegState.REGISTERING and self.granted is not None)

    # -- inputs ---------------------------------------------------------------------------
    def receive(self, response: Response, now: float) -> None:
        """A response to one of our REGISTERs (others and provisional ones are ignored)."""
        if (self._outstanding is None or response.status < 200
                or response.call_id != self._call_id or response.cseq.method != "REGISTER"
                or response.cseq.seq != self._outstanding):
            return
        self._outstanding = None
        self._deadline = None
        status = response.status
        if 200 <= status < 300:
            self._on_success(response, now)
        elif status in (401, 407):
            self._on_challenge(response, now)
        elif status == 423 and self._min_expires(response) is not None:
            self._expires = max(self._expires, self._min_expires(response) or 0)
            self._step(RegInput.TOO_BRIEF, now)
        elif status == 503 and self._move_on(status, now):
            pass
        else:
            self._retry_after = _retry_after(response) if 500 <= status < 600 else None
            self._fail(status, "status", now)

    def timed_out(self, now: float, cseq: int | None = None) -> None:
        """The transaction layer gave up on the outstanding REGISTER (Timer F); ``cseq``:
        the REGISTER that timed out (an older one, already given up, is ignored)."""
        if self._outstanding is not None and cseq in (None, self._outstanding):
            self._outstanding = None
            self._retry_after = None
            if not self._move_on(408, now):
                self._fail(408, "timeout", now)

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        if self._outstanding is not None:
            self.timed_out(now)
        elif self.state is RegState.REGISTERED:
            self._step(RegInput.REFRESH_DUE, now)
        elif self.state is RegState.BACKING_OFF:
            self._step(RegInput.RETRY_DUE, now)

    def next_deadline(self) -> float | None:
        return self._deadline

    def outbox(self) -> list[Request]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[RegEvent]:
        out, self._events = self._events, []
        return out

    # -- answers --------------------------------------------------------------------------
    def _on_success(self, response: Response, now: float) -> None:
        if self.state is RegState.UNREGISTERING:
            self._step(RegInput.OK, now)
            return
        granted = self._granted(response)
        if not granted:
            self._retry_after = None
            self._fail(response.status, "not_bound", now)
            return
        self.granted = granted
        self._step(RegInput.OK, now)

    def _on_challenge(self, response: Response, now: float) -> None:
        if self._auth is None or self._session is None:
            self._retry_after = None
            self._fail(response.status, "auth", now)
            return
        answer = self._session.answer(response, method="REGISTER", uri=self._registrar)
        if not answer.ok:
            self._auth.forget()
            self._retry_after = None
            self._fail(response.status, "auth", now)
            return
        self._auth_headers = answer.headers
        self._step(RegInput.CHALLENGE, now)

    def _move_on(self, status: int, now: float) -> bool:
        """Send the REGISTER to the next untried target (RFC 3263 §4.3); False: none left
        (or not registering)."""
        if self.state is not RegState.REGISTERING or self.dest is None:
            return False
        self._tried.add(self.dest)
        nxt = next((t for t in self._targets if t not in self._tried), None)
        if nxt is None:
            return False
        self._events.append(RegistrationMoved(self.trunk, self.dest, nxt, status, now))
        self.dest = nxt
        self._step(RegInput.NEXT_TARGET, now)
        return True

    def _fail(self, status: int, why: str, now: float) -> None:
        if self.state is not RegState.UNREGISTERING:
            self._events.append(RegistrationFailed(self.trunk, status, why, now))
        self._step(RegInput.FAILURE, now)

    # -- the machine ----------------------------------------------------------------------
    def _step(self, inp: RegInput, now: float) -> None:
        entry = TABLE.get((self.state, inp))
        if entry is None:
            raise RegistrationError(f"{inp.value} is not allowed in state {self.state.value}")
        do, nxt = entry
        self.state = nxt
        if do is Do.SEND:
            self._choose_target(inp)
            self._send(self._expires, self._new_flow(), now)
        elif do is Do.RESEND:
            expires = 0 if nxt is RegState.UNREGISTERING else self._expires
            self._send(expires, self._auth_headers, now)
        elif do is Do.BOUND:
            self._bound(now)
        elif do is Do.BACK_OFF:
            self._back_off(now)
        elif do is Do.UNREGISTER:
            self._send(0, self._new_flow(), now)
        elif do is Do.FINISH:
            self._deadline = None
            self.granted = None
            self._events.append(Unregistered(self.trunk, now))

    def _choose_target(self, inp: RegInput) -> None:
        """Where a new REGISTER goes: a new attempt starts at the first target, a refresh
        stays where the binding is (while listed), a move is already chosen."""
        if not self._targets:
            return
        if inp is RegInput.NEXT_TARGET:
            return
        if inp is not RegInput.REFRESH_DUE or self.dest not in self._targets:
            self.dest = self._targets[0]
        self._tried = set()

    def _new_flow(self) -> tuple[tuple[str, str], ...]:
        """A new REGISTER (not a retry answering a challenge): a new auth session, and the
        credentials that may be sent before they are asked."""
        if self._auth is None:
            self._session = None
            return ()
        self._session = self._auth.session()
        return self._auth.preemptive(method="REGISTER", uri=self._registrar)

    def _bound(self, now: float) -> None:
        assert self.granted is not None
        self.failures = 0
        refresh_at = now + max(1.0, self.granted * self._fraction)
        self._deadline = refresh_at
        self._events.append(Registered(self.trunk, self.granted, now, refresh_at))

    def _back_off(self, now: float) -> None:
        self.failures += 1
        full = min(self._max, self._base * 2 ** min(self.failures - 1, 30))
        delay = full * (0.5 + 0.5 * self._rng.random())
        if self._retry_after is not None:
            delay = min(self._max, max(delay, float(self._retry_after)))
        self._deadline = now + delay
        self._events.append(Retrying(self.trunk, self.failures, delay, now))

    def _send(self, expires: int, auth: tuple[tuple[str, str], ...], now: float) -> None:
        self._cseq += 1
        h = Headers()
        h.add("Via", self._me.via(self._ids.branch()))
        h.add("Max-Forwards", "70")
        h.add("From", f"<{self._aor}>;tag={self._ids.tag()}")
        h.add("To", f"<{self._aor}>")
        h.add("Call-ID", self._call_id)
        h.add("CSeq", f"{self._cseq} REGISTER")
        h.add("Contact", self._contact)
        h.add("Expires", str(expires))
        for name, value in auth:
            h.add(name, value)
        if self._user_agent:
            h.add("User-Agent", self._user_agent)
        h.add("Content-Length", "0")
        self._out.append(Request("REGISTER", self._registrar, h))
        self._outstanding = self._cseq
        self._deadline = now + self._request_timeout

    # -- reading answers ------------------------------------------------------------------
    def _granted(self, response: Response) -> int | None:
        """The expiry the registrar granted our Contact; None (or 0) when it did not bind it
        (or its answer cannot be read)."""
        try:
            contacts, header = response.contacts, response.expires
        except SipParseError:
            return None
        for c in contacts:
            if not c.wildcard and _same_binding(c.uri, self._contact_uri):
                value = c.params.get("expires")
                if value is not None and value.isdigit():
                    return min(int(value), MAX_EXPIRES)
                break
        else:
            if contacts:  # the registrar lists bindings, and ours is not among them
                return None
        return min(header, MAX_EXPIRES) if header is not None else self._expires

    @staticmethod
    def _min_expires(response: Response) -> int | None:
        value = (response.headers.get("Min-Expires") or "").strip()
        if not value.isdigit() or not 0 < int(value) <= MAX_EXPIRES:
            return None
        return int(value)


def _same_binding(a: SipUri, b: SipUri) -> bool:
    """Whether a Contact the registrar lists is ours: same user, host and port (5060 when
    absent); registrars may reorder or add URI parameters."""
    return (a.user == b.user and a.host.lower().strip("[]") == b.host.lower().strip("[]")
            and (a.port or 5060) == (b.port or 5060))


def _retry_after(response: Response) -> int | None:
    """Retry-After seconds (RFC 3261 §20.33; a comment or parameters after it are ignored)."""
    value = (response.headers.get("Retry-After") or "").strip()
    head = value.split(";", 1)[0].split("(", 1)[0].strip()
    return int(head) if head.isdigit() and len(head) < 10 else None
