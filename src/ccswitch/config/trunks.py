"""Carrier trunks in the configuration: ``[trunks.NAME]``, ``[[routes]]`` (or
``[routes.NAME]``), ``[dids]``, ``[outbound]`` and each user's ``outbound_class`` (pure).

Part of the configuration parser (like ``config/acd.py``): every fault goes through
``_Parser.fail`` with its key path and line.  The main loader
(:func:`ccswitch.config.parse_config`) calls :func:`parse_sections` and keeps the result as
``SwitchConfig.trunking``.  The parsed sections build the pure pieces directly:
:meth:`TrunkingConfig.router`, :meth:`~TrunkingConfig.peers`, :meth:`~TrunkingConfig.dids_router`.

``[trunks.NAME]`` keys (all optional but ``address``)::

    address = "udp:127.0.0.1:5070"    # TRANSPORT:HOST:PORT, or a domain ("sip.carrier.example")
                                      # found by RFC 3263 (NAPTR, SRV, A/AAAA: io/dns.py)
    peers = ["127.0.0.1:5070"]        # inbound calls are recognised by these sources: IP,
                                      # IP/LEN, IP:PORT, [IPv6]:PORT (default: the
                                      # address's IP when it is an IP literal)
    register = false                  # outbound REGISTER (needs username and password)
    username = "..." / password = "..." / realm = "..."   # digest as a client
    expires = 3600                    # asked for when registering
    keepalive = 30                    # seconds between OPTIONS probes (0: none)
    keepalive_misses = 3              # probes missed before the trunk is down
    max_calls = 0 / calls_per_second = 0   # limits (0: none)
    codecs = ["PCMA", "PCMU"]         # offered to this carrier, in this order (default: the
                                      # [media] codecs); none in common with the phone: 488
    caller_id = "+15550700000"        # presented when neither the route nor the user sets one
    privacy = "none"                  # "id": Privacy: id with P-Asserted-Identity (RFC 3325)
    did_from = "request_uri"          # or "to": where the DID of an inbound call is
    number_format = "+e164"           # numbers sent (Request-URI, To, From, PAI): "+e164",
                                      # "e164" (no "+"), "national", "international"
    100rel = "supported"              # reliable provisionals (RFC 3262): "supported",
                                      # "required" or "off"
    diversion = "diversion"           # how a forwarded call names its original number:
                                      # "diversion" (RFC 5806), "history-info" (RFC 7044),
                                      # "both" or "none"
    session_timers = "supported"      # RFC 4028 on this trunk's legs: "off", "supported",
                                      # "required" (Require: timer on our INVITEs)
    session_expires = 1800 / min_se = 90   # interval asked for, smallest accepted (>= 90)
    dtmf = "auto"                     # how digits reach this carrier: "rfc4733", "info"
                                      # (SIP INFO dtmf-relay), "inband", "auto" (from its SDP)

``[dns]`` (for domain trunks)::

    servers = ["192.0.2.53", "127.0.0.1:5353"]   # default: the system's resolvers
    timeout = 2.0                                # seconds per lookup
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast, get_args

from ..dialplan import Dialplan, OutsideTarget, Target
from ..dialplan.fraud import DEFAULT_CLASS, OutboundClass, TollPolicy
from ..dialplan.inbound import DidRouter, DidSource, Peer, TrunkPeers, parse_network, parse_peer
from ..dialplan.numbers import NumberPlan, is_e164
from ..dialplan.outbound import FAILOVER_4XX, OutboundRouter, Route
from ..sip.diversion import STYLES, DiversionStyle
from ..sip.prack import MODES, Mode
from ..sip.session_timer import MIN_SE_FLOOR, TimerPolicy
from ..sip.session_timer import Mode as TimerMode
from .acd import OVERFLOW_RULES
from .dialplan import NUMBER_KINDS, Names, check_target, target
from .schema import (
    _HOSTNAME,
    DTMF_MODES,
    ConfigValueError,
    DtmfMode,
    ListenUri,
    SwitchConfig,
    _Parser,
    parse_config,
    parse_listen,
)

if TYPE_CHECKING:
    from .locate import Path

TRUNKING_KEYS: Final = ("trunks", "routes", "dids", "outbound", "dns")
"""Top-level keys of this module (refused by the main loader until trunks are wired)."""
USER_KEYS: Final = ("outbound_class",)
"""``[[users]]`` keys of this module (refused likewise)."""
NUMBER_FORMATS: Final = ("+e164", "e164", "national", "international")
NumberFormat = Literal["+e164", "e164", "national", "international"]
PRIVACY: Final = ("none", "id")
CODECS: Final = ("PCMU", "PCMA", "G722", "opus")
_DID: Final = re.compile(r"\+?[0-9]{1,15}")
_PREFIX: Final = re.compile(r"\+[0-9]{0,15}")
_USERNAME: Final = re.compile(r"[^\s\"\\]+")
UserKeys = tuple[int, Mapping[str, Any], Mapping[str, Any]]
_C = TypeVar("_C", bound=str)


def _frozen(d: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    """One carrier trunk (see the module docstring).  ``address``: ``None`` when the trunk is
    a domain (``domain``) to resolve by RFC 3263 (NAPTR, SRV, then A/AAAA)."""

    name: str
    address: ListenUri | None
    domain: str | None = None
    peers: tuple[Peer, ...] = ()
    register: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    realm: str | None = None
    expires: int = 3600
    keepalive: float = 30.0
    keepalive_misses: int = 3
    max_calls: int = 0
    calls_per_second: float = 0.0
    codecs: tuple[str, ...] | None = None  # None: the [media] codecs
    caller_id: str | None = None
    privacy: Literal["none", "id"] = "none"
    did_from: DidSource = "request_uri"
    number_format: NumberFormat = "+e164"
    rel100: Mode = "supported"  # TOML key ``100rel``
    diversion: DiversionStyle = "diversion"
    session_timer: TimerPolicy = field(default_factory=TimerPolicy)
    dtmf: DtmfMode = "auto"

    @property
    def host(self) -> str:
        """The host of our Request-URIs: the address's host, or the domain."""
        if self.address is not None:
            return self.address.host
        assert self.domain is not None
        return self.domain


@dataclass(frozen=True, slots=True)
class DnsConfig:
    """``[dns]``: the resolvers for domain trunks (``servers`` empty: the system's)."""

    servers: tuple[tuple[str, int], ...] = ()
    timeout: float = 2.0


@dataclass(frozen=True, slots=True)
class OutboundConfig:
    """``[outbound]``: the number plan the switch dials from and the toll-fraud policy."""

    plan: NumberPlan = field(default_factory=NumberPlan)
    default_class: OutboundClass = DEFAULT_CLASS
    blocked_prefixes: tuple[str, ...] = ()
    max_calls_per_user: int = 2
    burst_attempts: int = 5
    burst_window: float = 60.0
    caller_ids: Mapping[str, str] = field(default_factory=_frozen)  # user -> caller ID


@dataclass(frozen=True, slots=True)
class TrunkingConfig:
    """Everything trunk-related in one file, proven against the rest of it."""

    trunks: Mapping[str, TrunkConfig] = field(default_factory=_frozen)
    routes: tuple[Route, ...] = ()
    dids: Mapping[str, Target] = field(default_factory=_frozen)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    classes: Mapping[str, OutboundClass] = field(default_factory=_frozen)  # by user
    dns: DnsConfig = field(default_factory=DnsConfig)

    def policy(self) -> TollPolicy:
        o = self.outbound
        return TollPolicy(classes=dict(self.classes), default_class=o.default_class,
                          blocked_prefixes=o.blocked_prefixes,
                          max_user_calls=o.max_calls_per_user,
                          trunk_limits={n: t.max_calls for n, t in self.trunks.items()
                                        if t.max_calls},
                          trunk_rates={n: t.calls_per_second for n, t in self.trunks.items()
                                       if t.calls_per_second},
                          burst_attempts=o.burst_attempts, burst_window=o.burst_window)

    def router(self, policy: TollPolicy | None = None) -> OutboundRouter:
        return OutboundRouter(plan=self.outbound.plan, routes=self.routes,
                              policy=policy if policy is not None else self.policy(),
                              user_caller_ids=self.outbound.caller_ids)

    def peers(self) -> TrunkPeers:
        return TrunkPeers({n: t.peers for n, t in self.trunks.items() if t.peers})

    def dids_router(self, trunk: str) -> DidRouter:
        """The DID router for calls from ``trunk`` (its ``did_from``)."""
        return DidRouter(self.dids, source=self.trunks[trunk].did_from,
                         plan=self.outbound.plan)


# -- the whole file ------------------------------------------------------------------------


def parse_trunking(text: str, filename: str, *, prompts: Collection[str] | None = None,
                   ) -> tuple[SwitchConfig, TrunkingConfig]:
    """Parse a configuration with its trunk sections: :func:`parse_config` and its
    ``trunking`` (kept for the callers that want the two apart)."""
    config = parse_config(text, filename, prompts=prompts)
    return config, config.trunking


def parse_sections(p: _Parser, raw: Mapping[str, Any], user_keys: list[UserKeys],
                   config: SwitchConfig) -> TrunkingConfig:
    """The trunk sections ``raw`` (top-level keys of :data:`TRUNKING_KEYS`) and the users'
    ``outbound_class`` (``user_keys``: index in ``[[users]]``, the keys of this module, the
    entry's other keys) of ``config``."""
    trunks = parse_trunks(p, raw.get("trunks", {}), ("trunks",))
    outbound = parse_outbound(p, raw.get("outbound", {}), ("outbound",), config.users)
    routes = parse_routes(p, raw.get("routes", []), ("routes",), trunks)
    names = Names(users=config.users, queues=config.queues, menus=config.menus,
                  rooms=config.rooms)
    dids = parse_dids(p, raw.get("dids", {}), ("dids",), names, Dialplan.from_config(config))
    classes: dict[str, OutboundClass] = {}
    for i, keys, entry in user_keys:
        up = ("users", i)
        cls = outbound_class(p, keys["outbound_class"], (*up, "outbound_class"))
        for name in p.user_names(entry, up)[0]:
            classes[name] = cls
    dns = parse_dns(p, raw.get("dns", {}), ("dns",))
    out = TrunkingConfig(_frozen(trunks), routes, _frozen(dids), outbound, _frozen(classes),
                         dns)
    check_numbers(p, config, out)
    return out


def check_numbers(p: _Parser, config: SwitchConfig, trunking: TrunkingConfig) -> None:
    """Every ``number:`` of a menu or a queue rule is an outside number an outbound route
    takes (else the call would fail when it gets there)."""
    found: list[tuple[str, Path]] = []
    for name, menu in config.menus.items():
        for key, actions in (*menu.choices.items(), ("default", menu.default)):
            where: Path = ("ivr", name, "choices", key) if key != "default" else (
                "ivr", name, "default")
            found += [(a, where) for a in actions if a.startswith("number:")]
    for qname, q in config.queues.items():
        for rule in ("overflow", *OVERFLOW_RULES):
            t = getattr(q, rule)
            if isinstance(t, OutsideTarget):
                found.append((str(t), ("queues", qname, rule)))
    router = trunking.router()
    for action, where in found:
        number = action.partition(":")[2]
        e164 = router.plan.normalize(number)
        if e164 is None:
            p.fail(where, f"{number!r} is not an outside number of [outbound]'s plan")
        if router.route_for(e164) is None:
            p.fail(where, f"no [[routes]] entry takes {e164}")


def parse_dns(p: _Parser, value: object, path: Path) -> DnsConfig:
    t = p.table(value, path)
    p.check_keys(t, ("servers", "timeout"), path)

    def server(v: object, q: Path) -> tuple[str, int]:
        text = p.string(v, q)
        try:
            peer = parse_peer(text)
        except ValueError as exc:
            p.fail(q, f"{text!r} is not IP or IP:PORT: {exc}")
        net = peer.network
        if net.num_addresses != 1:
            p.fail(q, f"{text!r} is a network, not a server's address")
        return str(net.network_address), peer.port or 53

    d = DnsConfig()
    return DnsConfig(
        servers=p.opt(t, "servers", path, d.servers,
                      lambda v, q: tuple(p.strings(v, q, server))),
        timeout=p.opt(t, "timeout", path, d.timeout, p.seconds))


# -- sections ------------------------------------------------------------------------------


_TOML_NAMES: Final = {"rel100": "100rel"}  # fields whose TOML key is not a Python name
_TRUNK_KEYS: Final = (*(_TOML_NAMES.get(f.name, f.name) for f in fields(TrunkConfig)
                        if f.name not in ("name", "domain", "session_timer")),
                      "session_timers", "session_expires", "min_se")
SESSION_TIMER_MODES: Final[tuple[TimerMode, ...]] = ("off", "supported", "required")


def parse_trunks(p: _Parser, value: object, path: Path) -> dict[str, TrunkConfig]:
    out: dict[str, TrunkConfig] = {}
    owner: dict[Peer, str] = {}
    for name, entry in p.table(value, path).items():
        out[name] = cfg = parse_trunk(p, name, entry, (*path, name))
        for peer in cfg.peers:
            if peer in owner:
                p.fail((*path, name, "peers"), f"{peer} is already a peer of trunk "
                                               f"{owner[peer]!r} (add a port to tell them apart)")
            owner[peer] = name
    return out


def parse_trunk(p: _Parser, name: str, value: object, path: Path) -> TrunkConfig:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        p.fail(path, f"{name!r} is not a valid trunk name (letters, digits, _ and -)")
    t = p.table(value, path)
    p.check_keys(t, _TRUNK_KEYS, path)
    if "address" not in t:
        p.fail((*path, "address"), "missing (TRANSPORT:HOST:PORT or a domain)")
    address, domain = _address(p, t["address"], (*path, "address"))
    d = TrunkConfig(name, None)
    peers = p.opt(t, "peers", path, None,
                  lambda v, q: tuple(p.strings(v, q, lambda s, r: _peer(p, s, r))))
    if peers is None:
        peers = (Peer(parse_network(address.host)),) if address and _is_ip(address.host) else ()

    def count(key: str, default: int, lo: int, hi: int) -> int:
        return p.opt(t, key, path, default, lambda v, q: p.integer(v, q, lo, hi))

    cfg = TrunkConfig(
        name=name, address=address, domain=domain, peers=peers,
        register=p.opt(t, "register", path, d.register, p.boolean),
        username=p.opt(t, "username", path, d.username,
                       lambda v, q: p.string(v, q, _USERNAME, "user name")),
        password=p.opt(t, "password", path, d.password, p.string),
        realm=p.opt(t, "realm", path, d.realm, p.string),
        expires=count("expires", d.expires, 60, 2**31 - 1),
        keepalive=p.opt(t, "keepalive", path, d.keepalive,
                        lambda v, q: p.number(v, q, "seconds")),
        keepalive_misses=count("keepalive_misses", d.keepalive_misses, 1, 100),
        max_calls=count("max_calls", d.max_calls, 0, 1_000_000),
        calls_per_second=p.opt(t, "calls_per_second", path, d.calls_per_second,
                               lambda v, q: p.number(v, q, "calls per second")),
        codecs=p.opt(t, "codecs", path, d.codecs, lambda v, q: _codecs(p, v, q)),
        caller_id=p.opt(t, "caller_id", path, d.caller_id, lambda v, q: _e164(p, v, q)),
        privacy=p.opt(t, "privacy", path, d.privacy, lambda v, q: _privacy(p, v, q)),
        did_from=p.opt(t, "did_from", path, d.did_from, lambda v, q: _did_from(p, v, q)),
        number_format=p.opt(t, "number_format", path, d.number_format,
                            lambda v, q: _format(p, v, q)),
        rel100=p.opt(t, "100rel", path, d.rel100,
                     lambda v, q: _choice(p, v, q, MODES, "100rel setting")),
        diversion=p.opt(t, "diversion", path, d.diversion,
                        lambda v, q: _choice(p, v, q, STYLES, "diversion setting")),
        session_timer=_session_timer(p, t, path),
        dtmf=p.opt(t, "dtmf", path, d.dtmf,
                   lambda v, q: _choice(p, v, q, DTMF_MODES, "dtmf mode")),
    )
    if 0 < cfg.keepalive < 1:
        p.fail((*path, "keepalive"), "must be 0 (off) or at least 1 second")
    if (cfg.username is None) != (cfg.password is None):
        p.fail((*path, "password" if cfg.password is None else "username"),
               "username and password go together")
    if cfg.register and cfg.username is None:
        p.fail((*path, "register"), "registering needs a username and a password")
    return cfg


def _session_timer(p: _Parser, t: Mapping[str, Any], path: Path) -> TimerPolicy:
    """``session_timers`` (off / supported / required), ``session_expires`` and ``min_se``
    (seconds, RFC 4028: ``min_se`` at least 90, ``session_expires`` at least ``min_se``)."""
    d = TimerPolicy()

    m = p.opt(t, "session_timers", path, d.mode,
              lambda v, q: _choice(p, v, q, SESSION_TIMER_MODES, "session timer setting"))
    min_se = p.opt(t, "min_se", path, d.min_se,
                   lambda v, q: p.integer(v, q, MIN_SE_FLOOR, 86_400))
    expires = p.opt(t, "session_expires", path, max(d.expires, min_se),
                    lambda v, q: p.integer(v, q, MIN_SE_FLOOR, 86_400))
    if expires < min_se:
        p.fail((*path, "session_expires"), f"must be at least min_se ({min_se})")
    return TimerPolicy(m, expires, min_se)


def parse_routes(p: _Parser, value: object, path: Path,
                 trunks: Mapping[str, TrunkConfig]) -> tuple[Route, ...]:
    """``[[routes]]`` (each with a ``name``) or ``[routes.NAME]``, in the order written."""
    if isinstance(value, list):
        entries = [((*path, i), p.table(e, (*path, i))) for i, e in enumerate(value)]
        named = []
        for rp, t in entries:
            if "name" not in t:
                p.fail((*rp, "name"), "missing (every route has a name)")
            named.append((p.string(t["name"], (*rp, "name")), rp, t))
    else:
        named = [(n, (*path, n), p.table(e, (*path, n)))
                 for n, e in p.table(value, path).items()]
    routes: list[Route] = []
    for name, rp, t in named:
        if any(r.name == name for r in routes):
            p.fail(rp, f"route {name!r} is defined twice")
        routes.append(_route(p, name, t, rp, trunks, with_name=isinstance(value, list)))
    return tuple(routes)


_ROUTE_KEYS: Final = ("prefixes", "patterns", "trunks", "caller_id", "failover_on",
                      "answer_timeout")


def _route(p: _Parser, name: str, t: Mapping[str, Any], path: Path,
           trunks: Mapping[str, TrunkConfig], *, with_name: bool) -> Route:
    p.check_keys(t, ("name", *_ROUTE_KEYS) if with_name else _ROUTE_KEYS, path)
    if "trunks" not in t:
        p.fail((*path, "trunks"), "missing (the trunks to try, in order)")

    def trunk(v: object, q: Path) -> str:
        n = p.string(v, q)
        if n not in trunks:
            p.fail(q, f"trunk {n!r} does not exist (no [trunks.{n}])")
        return n

    def prefix(v: object, q: Path) -> str:
        return p.string(v, q, _PREFIX, "E.164 prefix (\"+\" and digits)")

    def pattern(v: object, q: Path) -> re.Pattern[str]:
        text = p.string(v, q)
        try:
            return re.compile(text)
        except re.error as exc:
            p.fail(q, f"bad regular expression: {exc}")

    def code(v: object, q: Path) -> int:
        c = p.integer(v, q, 400, 499)
        if c not in FAILOVER_4XX:
            p.fail(q, "only 403 and 404 may fail over (408 and 5xx always do)")
        return c

    no_prefixes: tuple[str, ...] = ()
    no_patterns: tuple[re.Pattern[str], ...] = ()
    no_codes: tuple[int, ...] = ()
    prefixes = p.opt(t, "prefixes", path, no_prefixes,
                     lambda v, q: tuple(p.strings(v, q, prefix)))
    patterns = p.opt(t, "patterns", path, no_patterns,
                     lambda v, q: tuple(p.strings(v, q, pattern)))
    if not prefixes and not patterns:
        p.fail(path, "needs prefixes or patterns (matched against the E.164 number)")
    return Route(
        name=name, trunks=tuple(p.strings(t["trunks"], (*path, "trunks"), trunk)),
        prefixes=prefixes, patterns=patterns,
        caller_id=p.opt(t, "caller_id", path, None, lambda v, q: _e164(p, v, q)),
        failover_on=frozenset(p.opt(t, "failover_on", path, no_codes,
                                    lambda v, q: tuple(p.strings(v, q, code)))),
        answer_timeout=p.opt(t, "answer_timeout", path, 5.0, p.seconds))


def parse_dids(p: _Parser, value: object, path: Path, names: Names,
               plan: Dialplan) -> dict[str, Target]:
    """``[dids]``: DID (digits, optionally ``+``) -> target, like ``[dialplan.numbers]``."""
    out: dict[str, Target] = {}
    for did, action in p.table(value, path).items():
        dp = (*path, did)
        if not _DID.fullmatch(did):
            p.fail(dp, f"{did!r} is not a DID (digits, optionally after \"+\")")
        before = len(p.number_refs)
        out[did] = target(p, action, dp, NUMBER_KINDS)
        check_target(p, out[did], dp, names)
        for number, where in p.number_refs[before:]:
            if plan.resolve(number) is None:
                p.fail(where, f"{number!r} is not a number of this dial plan")
    return out


_OUTBOUND_KEYS: Final = ("country_code", "international_prefix", "national_prefix",
                         "national_lengths", "area_code", "local_lengths", "default_class",
                         "blocked_prefixes", "max_calls_per_user", "burst_attempts",
                         "burst_window", "caller_ids")


def parse_outbound(p: _Parser, value: object, path: Path,
                   users: Collection[str]) -> OutboundConfig:
    t = p.table(value, path)
    p.check_keys(t, _OUTBOUND_KEYS, path)
    d, dp = OutboundConfig(), NumberPlan()

    def digits(key: str, default: str, empty: bool) -> str:
        if key not in t:
            return default
        v = t[key]
        if empty and v == "":
            return ""
        return p.string(v, (*path, key), re.compile(r"[0-9]{1,6}"), "digit string")

    def lengths(key: str, default: tuple[int, ...]) -> tuple[int, ...]:
        if key in t and t[key] == []:
            return ()
        return p.opt(t, key, path, default,
                     lambda v, q: tuple(p.strings(v, q, lambda s, r: p.integer(s, r, 1, 14))))

    try:
        plan = NumberPlan(
            country_code=digits("country_code", dp.country_code, False),
            international_prefix=digits("international_prefix", dp.international_prefix,
                                        False),
            national_prefix=digits("national_prefix", dp.national_prefix, True),
            national_lengths=lengths("national_lengths", dp.national_lengths),
            area_code=digits("area_code", dp.area_code, True),
            local_lengths=lengths("local_lengths", dp.local_lengths))
    except ValueError as exc:
        p.fail(path, f"bad number plan: {exc}")

    def caller_ids(v: object, q: Path) -> Mapping[str, str]:
        out = {}
        for user, number in p.table(v, q).items():
            if user not in users:
                p.fail((*q, user), f"user {user!r} does not exist")
            out[user] = _e164(p, number, (*q, user))
        return _frozen(out)

    return OutboundConfig(
        plan=plan,
        default_class=p.opt(t, "default_class", path, d.default_class,
                            lambda v, q: outbound_class(p, v, q)),
        blocked_prefixes=p.opt(t, "blocked_prefixes", path, d.blocked_prefixes,
                               lambda v, q: tuple(p.strings(
                                   v, q, lambda s, r: p.string(s, r, _PREFIX,
                                                               "E.164 prefix")))),
        max_calls_per_user=p.opt(t, "max_calls_per_user", path, d.max_calls_per_user,
                                 lambda v, q: p.integer(v, q, 0, 10_000)),
        burst_attempts=p.opt(t, "burst_attempts", path, d.burst_attempts,
                             lambda v, q: p.integer(v, q, 1, 10_000)),
        burst_window=p.opt(t, "burst_window", path, d.burst_window, p.seconds),
        caller_ids=p.opt(t, "caller_ids", path, d.caller_ids, caller_ids),
    )


def outbound_class(p: _Parser, value: object, path: Path) -> OutboundClass:
    text = p.string(value, path)
    try:
        return OutboundClass(text)
    except ValueError:
        p.fail(path, f"{text!r} is not an outbound class "
                     f"({', '.join(c.value for c in OutboundClass)})")


# -- values --------------------------------------------------------------------------------


def _address(p: _Parser, value: object, path: Path) -> tuple[ListenUri | None, str | None]:
    text = p.string(value, path)
    if ":" not in text:
        name = text.lower().removesuffix(".")
        if not _HOSTNAME.fullmatch(name) or "." not in name or _is_ip(name):
            p.fail(path, f"{text!r} is neither TRANSPORT:HOST:PORT nor a domain")
        return None, name
    try:
        return parse_listen(text), None
    except ConfigValueError as exc:
        p.fail(path, str(exc))


def _is_ip(host: str) -> bool:
    try:
        parse_network(host)
    except ValueError:
        return False
    return "/" not in host


def _peer(p: _Parser, value: object, path: Path) -> Peer:
    text = p.string(value, path)
    try:
        return parse_peer(text)
    except ValueError as exc:
        p.fail(path, f"{text!r} is not IP, IP/LEN, IP:PORT or [IPv6]:PORT: {exc}")


def _e164(p: _Parser, value: object, path: Path) -> str:
    text = p.string(value, path)
    if not is_e164(text):
        p.fail(path, f"{text!r} is not an E.164 number (+ and 7 to 15 digits)")
    return text


def _codecs(p: _Parser, value: object, path: Path) -> tuple[str, ...]:
    out = tuple(p.strings(value, path, lambda s, r: _codec(p, s, r)))
    if not out:
        p.fail(path, "empty (name at least one codec, or leave the key out)")
    return out


def _codec(p: _Parser, value: object, path: Path) -> str:
    text = p.string(value, path)
    known = {c.lower(): c for c in CODECS}
    if text.lower() not in known:
        p.fail(path, f"{text!r} is not a codec ({', '.join(CODECS)})")
    return known[text.lower()]


def _privacy(p: _Parser, value: object, path: Path) -> Literal["none", "id"]:
    text = p.string(value, path)
    if text == "none":
        return "none"
    if text == "id":
        return "id"
    p.fail(path, f"{text!r} is not a privacy setting (none or id)")


def _choice(p: _Parser, value: object, path: Path, choices: tuple[_C, ...], what: str) -> _C:
    text = p.string(value, path)
    if text not in choices:
        p.fail(path, f"{text!r} is not a {what} ({', '.join(choices)})")
    return choices[choices.index(text)]


def _did_from(p: _Parser, value: object, path: Path) -> DidSource:
    text = p.string(value, path)
    if text == "request_uri":
        return "request_uri"
    if text == "to":
        return "to"
    p.fail(path, f"{text!r} is not where a DID is read (request_uri or to)")


def _format(p: _Parser, value: object, path: Path) -> NumberFormat:
    text = p.string(value, path)
    for f in get_args(NumberFormat):
        if text == f:
            return cast(NumberFormat, f)
    p.fail(path, f"{text!r} is not a number format ({', '.join(NUMBER_FORMATS)})")
