"""``GET /metrics``: Prometheus text format, without a token.

A registry of our own (never prometheus_client's global one).  What the core already counts or
can report is read at scrape time (``_Collector``): live calls, queues and agents from
``call/queries.py``, transaction, transport, digest-auth and media-worker counters, API auth
failures.  Only what needs a per-event record is recorded as it happens, each at O(1) in a
branch the switch already takes: calls ended by disposition with their setup time (on
``CallEnded``), queue waits (on ``CallerConnected``), SIP messages by method and status (one
slice of the first bytes of each message), the event loop's lateness (on each probe), each
media leg's final loss and jitter per worker and each ended call's MOS (``call/quality.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..call import queries
from ..call.events import CallEnded
from ..call.quality import CallQuality
from ..media.commands import WorkerStats
from .control import Control, control_of

if TYPE_CHECKING:
    from ..call.signaling import Signaling

router = APIRouter()

SIP_METHODS: Final = frozenset({
    b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER", b"PRACK", b"SUBSCRIBE",
    b"NOTIFY", b"PUBLISH", b"INFO", b"REFER", b"MESSAGE", b"UPDATE"})
SETUP_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
WAIT_BUCKETS: Final = (1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
LAG_BUCKETS: Final = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
LOSS_BUCKETS: Final = (0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)  # per cent
JITTER_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0)  # ms
MOS_BUCKETS: Final = (1.5, 2.0, 2.5, 3.0, 3.3, 3.6, 3.9, 4.1, 4.3, 4.5)


def disposition(ev: CallEnded) -> str:
    """How a call ended, as a label with few values."""
    if ev.answered is not None:
        return "answered"
    s = ev.status
    if s == 487:
        return "cancelled"
    if s in (486, 600):
        return "busy"
    if s in (408, 480):
        return "no_answer"
    if s in (404, 484, 604):
        return "not_found"
    if s in (401, 403, 407, 603):
        return "refused"
    if s == 503:
        return "unavailable"
    return "failed"


MAX_SIP_KEYS: Final = 256  # distinct raw keys kept per direction (garbage cannot grow it)


def raw_sip_key(data: bytes) -> bytes:
    """The cheap key of a raw message: its bytes up to three past the first space
    (``b"INVITE sip"``, ``b"SIP/2.0 200"``); read into labels by ``sip_labels``."""
    return data[:data.find(b" ", 0, 12) + 4]


def sip_labels(key: bytes) -> tuple[str, str]:
    """``("request", METHOD)`` or ``("response", STATUS)`` of a ``raw_sip_key`` (``other``
    when it is neither a known method nor a status line)."""
    if key.startswith(b"SIP/2.0 "):
        code = key[8:11]
        return ("response", code.decode("ascii") if code.isdigit() and code[:1] in b"123456"
                else "other")
    space = key.find(b" ")
    method = key[:space] if space > 0 else b""
    return ("request", method.decode("ascii") if method in SIP_METHODS else "other")


@dataclass(slots=True)
class SwitchStats:
    """Counters the switch reads for a scrape (each a live mapping, read, never changed)."""

    transaction: Mapping[str, int] = field(default_factory=dict)
    transport: Mapping[str, int] = field(default_factory=dict)
    signaling: Mapping[str, int] = field(default_factory=dict)
    sip_auth: Mapping[str, int] = field(default_factory=dict)
    workers: Mapping[int, WorkerStats] = field(default_factory=dict)
    overloaded: bool = False
    crm: Mapping[str, int] = field(default_factory=dict)  # CRM lookups by outcome
    webhook_backlog: Mapping[str, int] = field(default_factory=dict)  # hook -> undelivered


class Metrics:
    """The switch's metrics: record with ``call_ended``/``queue_wait``/``sip``/``loop_lag``,
    read everything else at scrape time through ``stats`` and the control's core."""

    def __init__(self, control: Control, stats: Callable[[], SwitchStats]) -> None:
        self.control = control
        self.registry = CollectorRegistry(auto_describe=False)
        self.stats = stats
        self.setup = Histogram("ccswitch_call_setup_seconds",
                               "Time from a call's INVITE to its answer (answered calls)",
                               buckets=SETUP_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("ccswitch_queue_wait_seconds",
                                    "Time a caller waited in a queue before an agent answered",
                                    ["queue"], buckets=WAIT_BUCKETS, registry=self.registry)
        self.lag = Histogram("ccswitch_event_loop_lag_seconds",
                             "How late the event loop ran its lag probe timer",
                             buckets=LAG_BUCKETS, registry=self.registry)
        self.rtp_loss = Histogram("ccswitch_rtp_loss_percent",
                                  "Packet loss of each media leg at its end (the larger of "
                                  "ours and the peer's RTCP report), per worker",
                                  ["worker"], buckets=LOSS_BUCKETS, registry=self.registry)
        self.rtp_jitter = Histogram("ccswitch_rtp_jitter_ms",
                                    "Interarrival jitter of each media leg at its end "
                                    "(RFC 3550), per worker", ["worker"],
                                    buckets=JITTER_BUCKETS, registry=self.registry)
        self.mos = Histogram("ccswitch_call_mos",
                             "E-model MOS estimate of each ended call's legs",
                             ["leg"], buckets=MOS_BUCKETS, registry=self.registry)
        self.ended: dict[str, int] = {}
        self.sip_counts: dict[str, dict[bytes, int]] = {"in": {}, "out": {}}
        self.last_lag = 0.0
        self.registry.register(_Collector(self))

    def call_ended(self, ev: CallEnded) -> None:
        d = disposition(ev)
        self.ended[d] = self.ended.get(d, 0) + 1
        if ev.answered is not None:
            self.setup.observe(max(0.0, ev.answered - ev.started))

    def leg_quality(self, worker: int, loss_pct: float, jitter_ms: float) -> None:
        """A media leg's final figures (once per leg, as it goes)."""
        w = str(worker)
        self.rtp_loss.labels(w).observe(loss_pct)
        self.rtp_jitter.labels(w).observe(jitter_ms)

    def call_quality(self, q: CallQuality) -> None:
        """An ended call's MOS, per leg."""
        if q.mos_caller is not None:
            self.mos.labels("caller").observe(q.mos_caller)
        if q.mos_callee is not None:
            self.mos.labels("callee").observe(q.mos_callee)

    def queue_wait_done(self, queue: str, wait: float) -> None:
        self.queue_wait.labels(queue).observe(max(0.0, wait))

    def sip(self, data: bytes, direction: str) -> None:
        """Count one message ``in`` or ``out``: a slice and a dict update (about 1 us)."""
        counts = self.sip_counts[direction]
        key = data[:data.find(b" ", 0, 12) + 4]  # raw_sip_key, inlined
        n = counts.get(key)
        if n is None:
            if len(counts) >= MAX_SIP_KEYS - 1:  # (b"" collects the rest)
                key = b""
            n = counts.get(key, 0)
        counts[key] = n + 1

    def loop_lag(self, lag: float) -> None:
        self.last_lag = max(0.0, lag)
        self.lag.observe(self.last_lag)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        yield from self._recorded(m)
        stats = m.stats()
        yield from self._counters(stats)
        ctl = m.control
        sig = ctl.signaling()
        if sig is not None:
            yield from self._core(sig, ctl.clock())
        api = CounterMetricFamily("ccswitch_api_auth_failures",
                                  "API requests refused for a wrong token")
        api.add_metric([], ctl.gate.failures)
        yield api
        blocked = CounterMetricFamily("ccswitch_api_auth_blocked",
                                      "API requests refused while their address was banned")
        blocked.add_metric([], ctl.gate.blocked)
        yield blocked

    def _recorded(self, m: Metrics) -> Iterator[Metric]:
        ended = CounterMetricFamily("ccswitch_calls", "Calls ended, by disposition",
                                    labels=["disposition"])
        for d, n in sorted(m.ended.items()):
            ended.add_metric([d], n)
        yield ended
        sip = CounterMetricFamily("ccswitch_sip_messages",
                                  "SIP messages received and sent, by method or status",
                                  labels=["direction", "kind", "method_or_status"])
        merged: dict[tuple[str, str, str], int] = {}
        for direction, counts in m.sip_counts.items():
            for key, n in list(counts.items()):
                labels = (direction, *sip_labels(key))
                merged[labels] = merged.get(labels, 0) + n
        for labels, n in sorted(merged.items()):
            sip.add_metric(list(labels), n)
        yield sip
        lag = GaugeMetricFamily("ccswitch_event_loop_lag_last_seconds",
                                "The event loop's lateness at its last probe")
        lag.add_metric([], m.last_lag)
        yield lag

    def _counters(self, s: SwitchStats) -> Iterator[Metric]:
        txn = CounterMetricFamily("ccswitch_sip_transaction_events",
                                  "SIP transaction layer counters (retransmissions sent and "
                                  "absorbed, timeouts, strays)", labels=["event"])
        for k, n in sorted(s.transaction.items()):
            txn.add_metric([k], n)
        yield txn
        retx = CounterMetricFamily("ccswitch_sip_retransmissions",
                                   "SIP retransmissions we sent")
        retx.add_metric([], s.transaction.get("retransmissions_sent", 0))
        yield retx
        net = CounterMetricFamily("ccswitch_transport_events",
                                  "Transport errors and signaling input counters",
                                  labels=["event"])
        for k, n in sorted({**s.transport, **s.signaling}.items()):
            net.add_metric([k], n)
        yield net
        auth = CounterMetricFamily("ccswitch_sip_auth", "SIP digest authentication outcomes",
                                   labels=["result"])
        for k, n in sorted(s.sip_auth.items()):
            auth.add_metric([k], n)
        yield auth
        crm = CounterMetricFamily("ccswitch_crm_lookups", "CRM screen-pop lookups by outcome",
                                  labels=["status"])
        for k, n in sorted(s.crm.items()):
            crm.add_metric([k], n)
        yield crm
        backlog = GaugeMetricFamily("ccswitch_webhook_backlog",
                                    "Events stored and not yet delivered to the webhook "
                                    "(outbox rows pending; an upper bound)", labels=["hook"])
        for k, n in sorted(s.webhook_backlog.items()):
            backlog.add_metric([k], n)
        yield backlog
        over = GaugeMetricFamily("ccswitch_overloaded",
                                 "1 while new calls are shed because the loop lags")
        over.add_metric([], 1.0 if s.overloaded else 0.0)
        yield over
        legs = GaugeMetricFamily("ccswitch_media_worker_legs", "Media legs per worker",
                                 labels=["worker"])
        overruns = CounterMetricFamily("ccswitch_media_worker_tick_overruns",
                                       "Media ticks that took longer than the tick",
                                       labels=["worker"])
        pin = CounterMetricFamily("ccswitch_media_worker_packets",
                                  "RTP packets per worker", labels=["worker", "direction"])
        dropped = CounterMetricFamily("ccswitch_media_worker_dropped",
                                      "RTP packets dropped per worker", labels=["worker"])
        for w, st in sorted(s.workers.items()):
            legs.add_metric([str(w)], st.legs)
            overruns.add_metric([str(w)], st.tick_overruns)
            pin.add_metric([str(w), "in"], st.packets_in)
            pin.add_metric([str(w), "out"], st.packets_out)
            dropped.add_metric([str(w)], st.dropped)
        yield from (legs, overruns, pin, dropped)

    def _trunks(self, sig: Signaling) -> Iterator[Metric]:
        drv = sig.trunk_driver
        if drv is None:
            return
        up = GaugeMetricFamily("ccswitch_trunk_up", "1 while the trunk answers its OPTIONS "
                               "keep-alive (or is not probed), else 0", labels=["trunk"])
        for name in sig.config.trunking.trunks:
            up.add_metric([name], 1.0 if drv.up.get(name, True) else 0.0)
        yield up
        reg = GaugeMetricFamily("ccswitch_trunk_registered",
                                "1 while a registering trunk is registered", labels=["trunk"])
        for name, ok in sorted(drv.registered.items()):
            reg.add_metric([name], 1.0 if ok else 0.0)
        yield reg

    def _core(self, sig: Signaling, now: float) -> Iterator[Metric]:
        yield from self._trunks(sig)
        rel = CounterMetricFamily("ccswitch_sip_100rel", "Reliable provisional responses "
                                  "(RFC 3262) sent and PRACKs, both ways", labels=["event"])
        for k, n in sorted(sig.b2bua.reliable.counters.items()):
            rel.add_metric([k], n)
        yield rel
        calls = queries.call_views(sig, now)
        active = GaugeMetricFamily("ccswitch_calls_active", "Live calls, by state",
                                   labels=["state"])
        by_state: dict[str, int] = dict.fromkeys(queries.CALL_STATES, 0)
        for c in calls:
            by_state[c.state] = by_state.get(c.state, 0) + 1
        for st, n in by_state.items():
            active.add_metric([st], n)
        yield active
        waiting = GaugeMetricFamily("ccswitch_queue_waiting", "Callers in the queue",
                                    labels=["queue"])
        longest = GaugeMetricFamily("ccswitch_queue_longest_wait_seconds",
                                    "Wait of the longest-waiting caller", labels=["queue"])
        level = GaugeMetricFamily("ccswitch_queue_service_level",
                                  "Answered within the threshold over answered, since start",
                                  labels=["queue"])
        agents = GaugeMetricFamily("ccswitch_queue_agents", "Agents of the queue by state",
                                   labels=["queue", "state"])
        for q in queries.queue_views(sig, now):
            waiting.add_metric([q.name], q.waiting)
            longest.add_metric([q.name], q.longest_wait_s)
            if q.service_level is not None:
                level.add_metric([q.name], q.service_level)
            for st, n in q.agents.items():
                agents.add_metric([q.name, st], n)
        yield from (waiting, longest, level, agents)
        states = GaugeMetricFamily("ccswitch_agents", "Agents by state", labels=["state"])
        counts = dict.fromkeys(queries.AGENT_STATES, 0)
        for a in queries.agent_views(sig, now):
            counts[a.state] += 1
        for st, n in counts.items():
            states.add_metric([st], n)
        yield states


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format (no token)."""
    ctl = control_of(request)
    m = ctl.metrics
    body = m.render() if m is not None else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)
