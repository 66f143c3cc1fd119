"""The switch configuration: typed frozen dataclasses and a TOML parser that proves them.

Pure: ``parse_config(text, filename)`` turns TOML text into a :class:`SwitchConfig` or raises
one :class:`~ccswitch.errors.ConfigError` naming the file, the dotted key (``users[2].password``,
0-based indexes), the line where it can be found, and the fault.  Unknown keys are errors, so a
typo never silently falls back to a default.  Reading files is the caller's business (cli.py).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeVar

from ..dialplan import Supervisor, VoicemailTarget
from ..errors import ConfigError
from ..ivr.menu import DEMO_MENUS, Menu
from .acd import QUEUE_STRATEGIES as QUEUE_STRATEGIES
from .acd import AgentConfig as AgentConfig
from .acd import QueueConfig as QueueConfig
from .acd import check_queues, parse_agent, parse_queues
from .api import ApiConfig as ApiConfig
from .api import parse_api
from .audio import MohClass, PromptUse, default_moh, parse_moh
from .crm import CrmConfig as CrmConfig
from .crm import parse_crm
from .desktop import AgentDesktopConfig, parse_agent_desktop
from .dialplan import DialplanConfig as DialplanConfig
from .dialplan import Names, check_numbers, parse_dialplan
from .features import RoomConfig as RoomConfig
from .features import SupervisionConfig as SupervisionConfig
from .features import TransferConfig as TransferConfig
from .features import parse_rooms, parse_supervision, parse_supervisors, parse_transfer
from .ivr import parse_menus
from .locate import Locator
from .locate import Path as Path
from .locate import format_path as format_path
from .recordings import RecordingsConfig, parse_recordings
from .reports import ReportsConfig as ReportsConfig
from .reports import parse_reports
from .store import StoreConfig as StoreConfig
from .store import check_dsn, parse_store
from .trace import parse_trace
from .voicemail import VoicemailConfig as VoicemailConfig
from .voicemail import parse_sections as parse_voicemail_sections
from .voicemail import split_voicemail
from .webhooks import EventsConfig as EventsConfig
from .webhooks import WebhookConfig as WebhookConfig
from .webhooks import parse_events, parse_webhooks

if TYPE_CHECKING:
    from .trunks import TrunkingConfig

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

DEMO_FILENAME: Final = "demo.toml"
"""Name of the demo configuration shipped as package data of ``ccswitch.config``."""

TRANSPORTS: Final = ("udp", "tcp")
FUTURE_TRANSPORTS: Final = ("tls", "ws", "wss")
"""Named by CONTRACT's URI form, refused with "not supported yet" until they exist."""
NOT_BUILT: Final = "not supported yet"
"""How configuration for a feature that does not exist yet is refused."""
ALGORITHMS: Final = ("MD5", "SHA-256")
LOG_FORMATS: Final = ("console", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
BUILTIN_IVRS: Final = tuple(DEMO_MENUS)
"""IVR menus built into the switch; ``ivr:NAME`` names one of them or an ``[ivr.NAME]`` menu."""
MAX_RANGE: Final = 10_000
"""Most users one ``range`` entry may expand to."""

_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _frozen(d: Mapping[K, V] | None = None) -> Mapping[K, V]:
    return MappingProxyType(dict(d or {}))


# -- value types ---------------------------------------------------------------------------


class ConfigValueError(ValueError):
    """A malformed value (listen URI, HOST:PORT, port range); the message says what is wrong.

    The parser wraps it in a ConfigError that adds the file and key.
    """


@dataclass(frozen=True, slots=True)
class ListenUri:
    """A listening address ``transport:host:port``; ``host`` is kept without IPv6 brackets."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


def parse_port(text: str) -> int:
    """A port number 1-65535 written in decimal."""
    if not text.isascii() or not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise ConfigValueError(f"port must be a number 1-65535, got {text!r}")
    return int(text)


def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` to ``(host, port)`` (host without brackets)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigValueError(f"unclosed '[' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigValueError(f"bad IPv6 address {host!r}") from None
        if not rest.startswith(":"):
            raise ConfigValueError(f"expected [IPV6]:PORT, got {text!r}")
        return host, parse_port(rest[1:])
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ConfigValueError(f"expected HOST:PORT, got {text!r}")
    if ":" in host:
        raise ConfigValueError(f"an IPv6 address goes in brackets, e.g. [::1]:5060, got {text!r}")
    if not _HOSTNAME.fullmatch(host):
        raise ConfigValueError(f"bad host {host!r}")
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ConfigValueError(f"bad IPv4 address {host!r}") from None
    return host, parse_port(port)


def parse_listen(text: str) -> ListenUri:
    """``udp:HOST:PORT`` or ``tcp:HOST:PORT`` (IPv6 as ``udp:[::1]:5060``); tls, ws and wss
    are refused as not supported yet."""
    transport, sep, rest = text.partition(":")
    if not sep:
        raise ConfigValueError(f"expected TRANSPORT:HOST:PORT, got {text!r}")
    if transport.lower() in FUTURE_TRANSPORTS:
        raise ConfigValueError(f"transport {transport!r} is {NOT_BUILT} "
                               f"(SIP listens on {' and '.join(TRANSPORTS)})")
    if transport.lower() not in TRANSPORTS:
        raise ConfigValueError(
            f"unknown transport {transport!r} (one of {', '.join(TRANSPORTS)})")
    host, port = parse_hostport(rest)
    return ListenUri(transport.lower(), host, port)


def parse_port_range(text: str) -> tuple[int, int]:
    """``LO-HI`` RTP port range: ports 1-65535, ``LO < HI``, ``LO`` even."""
    lo_text, sep, hi_text = text.partition("-")
    if not sep:
        raise ConfigValueError(f"expected LO-HI, got {text!r}")
    lo, hi = parse_port(lo_text.strip()), parse_port(hi_text.strip())
    if lo >= hi:
        raise ConfigValueError(f"LO must be below HI, got {text!r}")
    if lo % 2:
        raise ConfigValueError(f"LO must be even (RTP on even, RTCP on odd ports), got {lo}")
    return lo, hi


# -- configuration dataclasses -------------------------------------------------------------


DtmfMode = Literal["rfc4733", "info", "inband", "auto"]
DTMF_MODES: Final[tuple[DtmfMode, ...]] = ("rfc4733", "info", "inband", "auto")
"""How digits reach a phone or a trunk: RFC 4733 events, SIP INFO, in-band tones, or
``auto`` (RFC 4733 when its SDP negotiated telephone-event, else in-band)."""


@dataclass(frozen=True, slots=True)
class UserConfig:
    """A SIP user who may register and call; ``algorithms`` overrides ``auth.algorithms``."""

    name: str
    password: str = field(repr=False)
    display: str | None = None
    algorithms: tuple[str, ...] | None = None
    agent: AgentConfig | None = None
    transfer: bool = True  # its phones may transfer calls (REFER)
    dtmf: DtmfMode = "auto"  # how digits reach its phones (call/dtmfwork.py)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Digest authentication (RFC 2617/7616/8760)."""

    algorithms: tuple[str, ...] = ("MD5",)
    nonce_ttl: float = 300.0
    max_failures: int = 5  # failed attempts within ``failure_window`` before 403
    failure_window: float = 300.0


@dataclass(frozen=True, slots=True)
class RegistrarConfig:
    """REGISTER expiry bounds (seconds) and contacts kept per user."""

    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    max_contacts: int = 10


@dataclass(frozen=True, slots=True)
class SipSettings:
    """RFC 3261 timer bases (seconds), message size limit and the User-Agent/Server value."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    max_message_size: int = 65535
    user_agent: str = "ccswitch/0.1"
    ring_timeout: float = 120.0  # a call nobody answers is ended 480 after this
    trace: str = ""  # SIP message trace: "" (off), "log", "pcap:PATH" or "log,pcap:PATH"
    overload_lag: float = 0.1  # s: the loop this late twice in a row sheds new calls (503)


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The media engine: worker processes (0: one per core), the address put in SDP (empty:
    the first SIP listen address, or this host's outbound address when that is a wildcard),
    the worker tick and RTP timeout (seconds; 0 turns the timeout off), and whether every
    answered call is recorded (``record_calls``) and in which format.  ``codecs``: the audio
    codecs offered and accepted, in preference order (G.722 and Opus only where the media
    workers' PyAV has them).  ``prompt_dirs``: directories searched for prompt names, in
    order, before the shipped prompts (as written; absolute once resolved at load time)."""

    workers: int = 0
    ip: str = ""
    tick: float = 0.01
    rtp_timeout: float = 30.0
    jitter_depth: float = 0.06
    record_calls: bool = False
    record_format: str = "wav"
    codecs: tuple[str, ...] = ("PCMU", "PCMA", "G722", "opus")
    wake: str = "tick"  # "tick": once a tick; "ready": also when a packet arrives
    prompt_dirs: tuple[str, ...] = ()  # searched for prompt names before the shipped ones


def _no_trunking() -> TrunkingConfig:
    from .trunks import TrunkingConfig  # config/trunks.py builds on this module

    return TrunkingConfig()


def _default_listen() -> tuple[ListenUri, ...]:
    return (ListenUri("udp", "127.0.0.1", 5060), ListenUri("tcp", "127.0.0.1", 5060))


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    """Everything the switch is configured with.  ``realm`` defaults to the first domain."""

    domains: tuple[str, ...] = ("ccswitch.local",)
    realm: str = ""
    listen: tuple[ListenUri, ...] = field(default_factory=_default_listen)
    rtp_ports: tuple[int, int] = (20000, 20999)
    data_dir: str = "./var"
    http: tuple[str, int] = ("127.0.0.1", 8080)
    log_format: str | None = None  # "console" | "json" | None = by whether stderr is a TTY
    log_level: str = "info"
    users: Mapping[str, UserConfig] = field(default_factory=_frozen)
    queues: Mapping[str, QueueConfig] = field(default_factory=_frozen)
    auth: AuthConfig = field(default_factory=AuthConfig)
    registrar: RegistrarConfig = field(default_factory=RegistrarConfig)
    sip: SipSettings = field(default_factory=SipSettings)
    dialplan: DialplanConfig = field(default_factory=DialplanConfig)
    media: MediaSettings = field(default_factory=MediaSettings)
    menus: Mapping[str, Menu] = field(default_factory=lambda: DEMO_MENUS)  # [ivr.NAME] + built-in
    moh: Mapping[str, MohClass] = field(default_factory=default_moh)  # [moh.NAME] + default
    rooms: Mapping[str, RoomConfig] = field(default_factory=_frozen)
    supervisors: Mapping[str, Supervisor] = field(default_factory=_frozen)  # by user
    supervision: SupervisionConfig = field(default_factory=SupervisionConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    webhooks: tuple[WebhookConfig, ...] = ()  # [[webhooks]]: the event stream POSTed
    events: EventsConfig = field(default_factory=EventsConfig)  # [events]: how long kept
    store: StoreConfig = field(default_factory=StoreConfig)  # [store]: SQLite or PostgreSQL
    api: ApiConfig = field(default_factory=ApiConfig)  # [api]: the HTTP API's tokens
    crm: CrmConfig = field(default_factory=CrmConfig)  # [crm]: the screen-pop lookup
    voicemail: VoicemailConfig = field(default_factory=VoicemailConfig)  # [voicemail], boxes
    agent_desktop: AgentDesktopConfig = field(default_factory=AgentDesktopConfig)
    recordings: RecordingsConfig = field(default_factory=RecordingsConfig)  # retention
    reports: ReportsConfig = field(default_factory=ReportsConfig)  # [reports]: zone, abandons
    # [trunks.NAME], [[routes]], [dids], [outbound] and the users' outbound_class
    trunking: TrunkingConfig = field(default_factory=_no_trunking)
    # every prompt value and where it is written; the shell proves them at load time
    prompt_uses: tuple[PromptUse, ...] = field(default=(), repr=False, compare=False)
    # prompt value (name or file as written) -> absolute file, filled at load time
    prompt_files: Mapping[str, str] = field(default_factory=_frozen, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.realm and self.domains:
            object.__setattr__(self, "realm", self.domains[0])

    @property
    def agents(self) -> Mapping[str, UserConfig]:
        """The users that are agents, in configuration order."""
        return {name: u for name, u in self.users.items() if u.agent is not None}

    def algorithms_for(self, user: str) -> tuple[str, ...]:
        """The digest algorithms to challenge ``user`` with (its own, else ``auth.algorithms``)."""
        cfg = self.users.get(user)
        if cfg is not None and cfg.algorithms is not None:
            return cfg.algorithms
        return self.auth.algorithms

    def summary(self) -> str:
        """One line: counts of users, agents and queues, and the listen addresses."""
        queues = ", ".join(self.queues) or "none"
        listen = " ".join(str(u) for u in self.listen)
        return (f"{len(self.users)} users ({len(self.agents)} agents), "
                f"{len(self.queues)} queues ({queues}), listen {listen}")


# -- parsing -------------------------------------------------------------------------------


def parse_config(text: str, filename: str, *,
                 prompts: Collection[str] | None = None) -> SwitchConfig:
    """Parse TOML ``text`` (read from ``filename``, used in messages) into a SwitchConfig.

    ``prompts``: the prompt names that exist (``ccswitch.prompts.prompt_names()``); when given,
    IVR menus may name no other.  Without it only the form of a prompt name is checked."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(filename, str(exc)) from None
    return _Parser(filename, text, prompts).config(raw)


def apply_overrides(
    config: SwitchConfig,
    *,
    listen: Sequence[str] | None = None,
    rtp_ports: str | None = None,
    data_dir: str | None = None,
    http: str | None = None,
    log_format: str | None = None,
    log_level: str | None = None,
    media_workers: int | None = None,
    sip_trace: str | None = None,
    store_dsn: str | None = None,
    source: str = "command line",
) -> SwitchConfig:
    """Override ``config`` with command-line values (``None``: keep); a non-empty ``listen``
    replaces the whole list.  Bad values raise ConfigError naming ``source`` and the flag."""
    changes: dict[str, Any] = {}
    try:
        if listen:
            key = "--listen"
            changes["listen"] = _unique_listen([parse_listen(t) for t in listen])
        if rtp_ports is not None:
            key = "--rtp-ports"
            changes["rtp_ports"] = parse_port_range(rtp_ports)
        if http is not None:
            key = "--http"
            changes["http"] = parse_hostport(http)
    except ConfigValueError as exc:
        raise ConfigError(source, key, str(exc)) from None
    if data_dir is not None:
        if not data_dir:
            raise ConfigError(source, "--data-dir", "must not be empty")
        changes["data_dir"] = data_dir
    if log_format is not None:
        if log_format not in (*LOG_FORMATS, "auto"):
            raise ConfigError(source, "--log-format", f"must be one of {', '.join(LOG_FORMATS)}")
        changes["log_format"] = None if log_format == "auto" else log_format
    if log_level is not None:
        if log_level.lower() not in LOG_LEVELS:
            raise ConfigError(source, "--log-level", f"must be one of {', '.join(LOG_LEVELS)}")
        changes["log_level"] = log_level.lower()
    if media_workers is not None:
        if not 0 <= media_workers <= 256:
            raise ConfigError(source, "--media-workers", "must be 0-256 (0: one per core)")
        changes["media"] = replace(config.media, workers=media_workers)
    if sip_trace is not None:
        try:
            parse_trace(sip_trace)
        except ValueError as exc:
            raise ConfigError(source, "--sip-trace", str(exc)) from None
        changes["sip"] = replace(config.sip, trace=sip_trace)
    if store_dsn is not None:
        fault = check_dsn(store_dsn)
        if fault:
            raise ConfigError(source, "--store-dsn", fault)
        changes["store"] = replace(config.store, dsn=store_dsn)
    return replace(config, **changes)


def _ip_literal(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfigValueError(f"{text!r} is not an IP address") from None


def _unique_listen(uris: list[ListenUri]) -> tuple[ListenUri, ...]:
    for i, uri in enumerate(uris):
        if uri in uris[:i]:
            raise ConfigValueError(f"{uri} is listed twice")
    return tuple(uris)


def _syntax_error(filename: str, message: str) -> ConfigError:
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m is None:
        return ConfigError(filename, "TOML syntax", message.replace("(at end of document)", "")
                           .strip() + " (at end of file)")
    fault = f"{message[: m.start()]} (column {m.group(2)})"
    return ConfigError(filename, "TOML syntax", fault, int(m.group(1)))


_TOP_KEYS = ("domains", "realm", "listen", "rtp_ports", "data_dir", "http", "log_format",
             "log_level", "users", "queues", "auth", "registrar", "sip", "dialplan", "media", "ivr",
             "moh", "rooms", "supervisors", "supervision", "transfer", "api", "webhooks",
             "events", "crm", "store", "voicemail", "agent_desktop", "recordings",
             "reports")
_TRUNKING_TOP: Final[tuple[str, ...]] = ("trunks", "routes", "dids", "outbound", "dns")
"""Top-level keys parsed by ``config/trunks.py``."""
_UNBUILT_TOP: Final[dict[str, str]] = {}
"""Keys of features to come: refused, never accepted and ignored."""
_USER_KEYS = ("name", "range", "password", "display", "algorithms", "agent", "transfer",
              "dtmf")


class _Parser:
    """One parse: the converters raise ConfigError with the key path and its line."""

    def __init__(self, filename: str, text: str, prompts: Collection[str] | None = None) -> None:
        self.filename = filename
        self.text = text
        self.prompts = prompts
        self.prompt_uses: list[PromptUse] = []
        self.moh_classes: Mapping[str, MohClass] = default_moh()
        # every transfer:NUMBER written (number, where), checked once the dial plan is known
        self.number_refs: list[tuple[str, Path]] = []
        # [[users]] entries with trunk keys: (index, those keys, the entry's other keys)
        self.user_trunk_keys: list[tuple[int, Mapping[str, Any], Mapping[str, Any]]] = []

    # -- errors and primitive converters --
    def fail(self, path: Path, fault: str) -> NoReturn:
        raise ConfigError(self.filename, format_path(path), fault, Locator(self.text).line(path))

    def refuse_unbuilt(self, table: Mapping[str, Any], unbuilt: Mapping[str, str],
                       path: Path) -> None:
        """Fail on the first key of ``table`` that configures a feature not built yet."""
        for key, why in unbuilt.items():
            if key in table:
                self.fail((*path, key), f"{NOT_BUILT}: {why}")

    def check_keys(self, table: Mapping[str, Any], allowed: Sequence[str], path: Path) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail((*path, key), f"unknown key{hint}")

    def table(self, value: object, path: Path) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, got {_kind(value)}")
        return value

    def array(self, value: object, path: Path) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be an array, got {_kind(value)}")
        return value

    def string(self, value: object, path: Path, pattern: re.Pattern[str] | None = None,
               what: str = "") -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_kind(value)}")
        if not value:
            self.fail(path, "must not be empty")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"{value!r} is not a valid {what}")
        if pattern is None and _CONTROL.search(value):
            self.fail(path, "must not contain control characters")
        return value

    def integer(self, value: object, path: Path, lo: int, hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, got {_kind(value)}")
        if value < lo or (hi is not None and value > hi):
            self.fail(path, f"must be {lo}-{hi}" if hi is not None else f"must be at least {lo}")
        return value

    def seconds(self, value: object, path: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a number of seconds, got {_kind(value)}")
        if not 0 < value < 1e9:
            self.fail(path, "must be a positive number of seconds")
        return float(value)

    def number(self, value: object, path: Path, what: str = "", *, above: bool = False,
               ) -> float:
        """A number >= 0 (> 0 when ``above``) and below 1e9, e.g. a delay that may be 0."""
        unit = f" of {what}" if what else ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a number{unit}, got {_kind(value)}")
        if not (0 < value < 1e9 if above else 0 <= value < 1e9):
            self.fail(path, f"must be a {'positive' if above else 'non-negative'} number{unit}")
        return float(value)

    def kind(self, value: object) -> str:
        """``value``'s TOML type for a message ("an integer", "a table"...)."""
        return _kind(value)

    def boolean(self, value: object, path: Path) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_kind(value)}")
        return value

    def parsed(self, value: object, path: Path, parse: Callable[[str], T]) -> T:
        try:
            return parse(self.string(value, path))
        except ConfigValueError as exc:
            self.fail(path, str(exc))

    def strings(self, value: object, path: Path, item: Callable[[object, Path], T]) -> list[T]:
        """A non-empty array without duplicates, each item converted by ``item``."""
        items = self.array(value, path)
        if not items:
            self.fail(path, "must not be empty")
        out: list[T] = []
        for i, raw in enumerate(items):
            conv = item(raw, (*path, i))
            if conv in out:
                self.fail((*path, i), f"{raw!r} is listed twice")
            out.append(conv)
        return out

    def algorithms(self, value: object, path: Path) -> tuple[str, ...]:
        def one(raw: object, p: Path) -> str:
            name = self.string(raw, p).upper()
            if name not in ALGORITHMS:
                self.fail(p, f"unsupported algorithm {raw!r} (one of {', '.join(ALGORITHMS)})")
            return name
        return tuple(self.strings(value, path, one))

    def skills(self, value: object, path: Path) -> Mapping[str, int]:
        table = self.table(value, path)
        for name, level in table.items():
            if not _NAME.fullmatch(name):
                self.fail((*path, name), f"{name!r} is not a valid skill name")
            self.integer(level, (*path, name), 1, 10)
        return _frozen(table)

    # -- sections --
    def config(self, raw: dict[str, Any]) -> SwitchConfig:
        from .trunks import parse_sections  # config/trunks.py builds on this module

        self.refuse_unbuilt(raw, _UNBUILT_TOP, ())
        trunking_raw: dict[str, Any] = {k: raw.pop(k) for k in _TRUNKING_TOP if k in raw}
        vm_section, user_boxes, queue_boxes = split_voicemail(raw)
        if "api_tokens" in raw:
            self.fail(("api_tokens",), "API tokens are [[api.tokens]] entries "
                      "(docs/configuration.md)")
        self.check_keys(raw, _TOP_KEYS, ())
        d = SwitchConfig()
        domains = d.domains
        if "domains" in raw:
            domains = tuple(s.lower() for s in self.strings(
                raw["domains"], ("domains",),
                lambda v, p: self.string(v, p, _HOSTNAME, "domain name")))
        realm = self.string(raw["realm"], ("realm",)) if "realm" in raw else domains[0]
        if '"' in realm or "\\" in realm:
            self.fail(("realm",), "must not contain '\"' or '\\'")
        self.moh_classes = parse_moh(self, raw.get("moh", {}), ("moh",))
        queues = parse_queues(self, raw.get("queues", {}), ("queues",))
        users = self.users(raw.get("users", []), ("users",), queues)
        rooms = parse_rooms(self, raw.get("rooms", {}), ("rooms",))
        menus = parse_menus(self, raw.get("ivr", {}), ("ivr",), queues=queues, users=users,
                            rooms=rooms, prompts=self.prompts)
        names = Names(users=users, queues=queues, menus=menus, rooms=rooms)
        supervision = parse_supervision(self, raw.get("supervision", {}), ("supervision",),
                                        users=users)
        supervisors = parse_supervisors(self, raw.get("supervisors", {}), ("supervisors",),
                                        users=users, queues=queues)
        dialplan = parse_dialplan(self, raw.get("dialplan", {}), ("dialplan",), names,
                                  supervision.codes)
        api = parse_api(self, raw.get("api", {}), ("api",), users=users,
                        agents=[u for u, cfg in users.items() if cfg.agent is not None],
                        supervisors=supervisors)
        check_queues(self, queues, users, names)
        check_numbers(self, dialplan.numbers, ("dialplan", "numbers"), users=users,
                      agents=[u for u, cfg in users.items() if cfg.agent is not None],
                      codes=supervision.codes)
        voicemail = parse_voicemail_sections(self, vm_section, user_boxes, queue_boxes)
        for number, t in dialplan.numbers.items():
            if isinstance(t, VoicemailTarget) and t.box not in voicemail.mailboxes:
                self.fail(("dialplan", "numbers", number),
                          f"mailbox {t.box!r} does not exist (no mailbox = true for it)")
        config = SwitchConfig(
            domains=domains,
            realm=realm,
            listen=self.listen(raw["listen"]) if "listen" in raw else d.listen,
            rtp_ports=self.opt(raw, "rtp_ports", (), d.rtp_ports,
                               lambda v, p: self.parsed(v, p, parse_port_range)),
            data_dir=self.opt(raw, "data_dir", (), d.data_dir, self.string),
            http=self.opt(raw, "http", (), d.http, lambda v, p: self.parsed(v, p, parse_hostport)),
            log_format=self.log_format(raw),
            log_level=self.opt(raw, "log_level", (), d.log_level, self.log_level),
            users=_frozen(users),
            queues=_frozen(queues),
            auth=self.auth(raw.get("auth", {}), ("auth",)),
            registrar=self.registrar(raw.get("registrar", {}), ("registrar",)),
            sip=self.sip(raw.get("sip", {}), ("sip",)),
            dialplan=dialplan,
            media=self.media(raw.get("media", {}), ("media",)),
            menus=_frozen(menus),
            moh=self.moh_classes,
            rooms=_frozen(rooms),
            supervisors=_frozen(supervisors),
            supervision=supervision,
            transfer=parse_transfer(self, raw.get("transfer", {}), ("transfer",)),
            webhooks=parse_webhooks(self, raw.get("webhooks", []), ("webhooks",),
                                    queues=queues),
            events=parse_events(self, raw.get("events", {}), ("events",)),
            store=parse_store(self, raw.get("store", {}), ("store",)),
            api=api,
            crm=parse_crm(self, raw.get("crm", {}), ("crm",)),
            voicemail=voicemail,
            agent_desktop=parse_agent_desktop(self, raw.get("agent_desktop", {}),
                                              ("agent_desktop",)),
            recordings=parse_recordings(self, raw.get("recordings", {}), ("recordings",)),
            reports=parse_reports(self, raw.get("reports", {}), ("reports",)),
            prompt_uses=tuple(self.prompt_uses),
        )
        trunking = parse_sections(self, trunking_raw, self.user_trunk_keys, config)
        return replace(config, trunking=trunking)

    def opt(self, table: Mapping[str, Any], key: str, path: Path, default: T,
            conv: Callable[[object, Path], T]) -> T:
        return conv(table[key], (*path, key)) if key in table else default

    def typed_table(self, value: object, path: Path, cls: Callable[..., T],
                    **convs: Callable[[object, Path], object]) -> T:
        """A table of a few typed keys: ``cls``'s fields, named in ``convs`` in field order,
        each read by its converter when written, else ``cls()``'s default; another key is
        refused as unknown."""
        t = self.table(value, path)
        self.check_keys(t, tuple(convs), path)
        d = cls()
        assert tuple(convs) == _fields(type(d)), f"{cls}: a converter for every field"
        return cls(**{k: self.opt(t, k, path, getattr(d, k), conv) for k, conv in convs.items()})

    def listen(self, value: object) -> tuple[ListenUri, ...]:
        return tuple(self.strings(value, ("listen",),
                                  lambda v, p: self.parsed(v, p, parse_listen)))

    def log_format(self, raw: Mapping[str, Any]) -> str | None:
        if "log_format" not in raw:
            return None
        value = self.string(raw["log_format"], ("log_format",))
        if value not in (*LOG_FORMATS, "auto"):
            self.fail(("log_format",), "must be \"console\", \"json\" or \"auto\"")
        return None if value == "auto" else value

    def log_level(self, value: object, path: Path) -> str:
        level = self.string(value, path).lower()
        if level not in LOG_LEVELS:
            self.fail(path, f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    def auth(self, value: object, path: Path) -> AuthConfig:
        return self.typed_table(value, path, AuthConfig, algorithms=self.algorithms,
                                nonce_ttl=self.seconds,
                                max_failures=lambda v, p: self.integer(v, p, 1),
                                failure_window=self.seconds)

    def registrar(self, value: object, path: Path) -> RegistrarConfig:
        t = self.table(value, path)
        self.check_keys(t, _fields(RegistrarConfig), path)
        d = RegistrarConfig()

        def get(key: str, default: int) -> int:
            return self.opt(t, key, path, default, lambda v, p: self.integer(v, p, 1, 2**31 - 1))

        cfg = RegistrarConfig(get("min_expires", d.min_expires), get("max_expires", d.max_expires),
                              get("default_expires", d.default_expires),
                              get("max_contacts", d.max_contacts))
        if cfg.min_expires > cfg.max_expires:
            self.fail((*path, "min_expires"), "must not exceed max_expires")
        if not cfg.min_expires <= cfg.default_expires <= cfg.max_expires:
            self.fail((*path, "default_expires"), "must lie between min_expires and max_expires")
        return cfg

    def sip(self, value: object, path: Path) -> SipSettings:
        t = self.table(value, path)
        self.check_keys(t, _fields(SipSettings), path)
        d = SipSettings()
        cfg = SipSettings(
            t1=self.opt(t, "t1", path, d.t1, self.seconds),
            t2=self.opt(t, "t2", path, d.t2, self.seconds),
            t4=self.opt(t, "t4", path, d.t4, self.seconds),
            max_message_size=self.opt(t, "max_message_size", path, d.max_message_size,
                                      lambda v, p: self.integer(v, p, 1500, 16 * 2**20)),
            user_agent=self.opt(t, "user_agent", path, d.user_agent, self.string),
            ring_timeout=self.opt(t, "ring_timeout", path, d.ring_timeout, self.seconds),
            trace=self.opt(t, "trace", path, d.trace, self.trace),
            overload_lag=self.opt(t, "overload_lag", path, d.overload_lag, self.overload_lag),
        )
        if cfg.t2 < cfg.t1:
            self.fail((*path, "t2"), "must not be below t1")
        return cfg

    def overload_lag(self, value: object, path: Path) -> float:
        lag = self.seconds(value, path)
        if not 0.001 <= lag <= 10:
            self.fail(path, "must be 0.001-10 seconds")
        return lag

    def trace(self, value: object, path: Path) -> str:
        text = self.string(value, path)
        try:
            parse_trace(text)
        except ValueError as exc:
            self.fail(path, str(exc))
        return text

    def media(self, value: object, path: Path) -> MediaSettings:
        t = self.table(value, path)
        self.check_keys(t, _fields(MediaSettings), path)
        d = MediaSettings()

        def bounded(lo: float, hi: float, zero_ok: bool) -> Callable[[object, Path], float]:
            def conv(v: object, p: Path) -> float:
                if isinstance(v, bool) or not isinstance(v, int | float):
                    self.fail(p, f"must be a number of seconds, got {_kind(v)}")
                if not (lo <= v <= hi or (zero_ok and v == 0)):
                    self.fail(p, f"must be {lo}-{hi} seconds" + (" (0: off)" if zero_ok else ""))
                return float(v)
            return conv

        def wake(v: object, p: Path) -> str:
            mode = self.string(v, p)
            if mode not in ("tick", "ready"):
                self.fail(p, f"{mode!r} is not a wake mode (tick or ready)")
            return mode

        def fmt(v: object, p: Path) -> str:
            name = self.string(v, p)
            if name not in ("wav", "opus", "mp3"):
                self.fail(p, f"{name!r} is not a recording format (wav, opus or mp3)")
            return name

        def codec(v: object, p: Path) -> str:
            name = self.string(v, p)
            known = {c.lower(): c for c in d.codecs}
            if name.lower() not in known:
                self.fail(p, f"{name!r} is not a codec (PCMU, PCMA, G722 or opus)")
            return known[name.lower()]

        return MediaSettings(
            workers=self.opt(t, "workers", path, d.workers,
                             lambda v, p: self.integer(v, p, 0, 256)),
            ip=self.opt(t, "ip", path, d.ip,
                        lambda v, p: self.parsed(v, p, _ip_literal)),
            tick=self.opt(t, "tick", path, d.tick, bounded(0.005, 0.02, False)),
            rtp_timeout=self.opt(t, "rtp_timeout", path, d.rtp_timeout,
                                 bounded(1.0, 86400.0, True)),
            jitter_depth=self.opt(t, "jitter_depth", path, d.jitter_depth,
                                  bounded(0.02, 0.5, False)),
            record_calls=self.opt(t, "record_calls", path, d.record_calls, self.boolean),
            record_format=self.opt(t, "record_format", path, d.record_format, fmt),
            codecs=self.opt(t, "codecs", path, d.codecs,
                            lambda v, p: tuple(self.strings(v, p, codec))),
            wake=self.opt(t, "wake", path, d.wake, wake),
            prompt_dirs=self.opt(t, "prompt_dirs", path, d.prompt_dirs,
                                 lambda v, p: tuple(self.strings(v, p, self.string))),
        )

    def users(self, value: object, path: Path, queues: Mapping[str, QueueConfig],
              ) -> dict[str, UserConfig]:
        """Expand the ``[[users]]`` entries."""
        users: dict[str, UserConfig] = {}
        origin: dict[str, str] = {}
        for i, entry in enumerate(self.array(value, path)):
            p = (*path, i)
            t = self.table(entry, p)
            if "outbound_class" in t:  # config/trunks.py parses it, with the trunks
                t = dict(t)
                self.user_trunk_keys.append((i, {"outbound_class": t.pop("outbound_class")},
                                             dict(t)))
            self.check_keys(t, _USER_KEYS, p)
            names, name_key = self.user_names(t, p)
            if "password" not in t:
                self.fail((*p, "password"), "missing (every user needs a password)")
            password = self.string(t["password"], (*p, "password"))
            display = self.opt(t, "display", p, None, self.string)
            algorithms = self.opt(t, "algorithms", p, None, self.algorithms)
            agent = parse_agent(self, t["agent"], (*p, "agent"), queues) if "agent" in t else None
            transfer = self.opt(t, "transfer", p, True, self.boolean)
            dtmf: DtmfMode = self.opt(t, "dtmf", p, "auto", self.dtmf_mode)
            for name in names:
                if name in users:
                    self.fail((*p, name_key), f"user {name!r} is already defined by {origin[name]}")
                origin[name] = format_path(p)
                users[name] = UserConfig(
                    name, _fill(password, name), display and _fill(display, name), algorithms,
                    agent, transfer, dtmf)
        return users

    def dtmf_mode(self, value: object, path: Path) -> DtmfMode:
        text = self.string(value, path)
        for mode in DTMF_MODES:
            if text == mode:
                return mode
        self.fail(path, f"{text!r} is not a dtmf mode ({', '.join(DTMF_MODES)})")

    def user_names(self, t: Mapping[str, Any], path: Path) -> tuple[list[str], str]:
        if ("name" in t) == ("range" in t):
            self.fail(path, "needs exactly one of 'name' or 'range'")
        if "name" in t:
            return [self.string(t["name"], (*path, "name"), _USER, "user name")], "name"
        p = (*path, "range")
        text = self.string(t["range"], p)
        m = re.fullmatch(r"([0-9]+)-([0-9]+)", text)
        if m is None:
            self.fail(p, f"expected FIRST-LAST like \"1001-1020\", got {text!r}")
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            self.fail(p, f"FIRST must not exceed LAST, got {text!r}")
        if hi - lo >= MAX_RANGE:
            self.fail(p, f"expands to more than {MAX_RANGE} users")
        width = len(m.group(1))
        return [str(n).zfill(width) for n in range(lo, hi + 1)], "range"


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _fill(template: str, user: str) -> str:
    """Substitute ``{user}`` (only that: other braces are kept as written)."""
    return template.replace("{user}", user)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
