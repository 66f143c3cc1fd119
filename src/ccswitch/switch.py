"""The composition root: wires the sans-IO signaling core to sockets, timers and stores."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import random
import shutil
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast, get_args

import structlog

from . import __version__
from .acd.events import CallDisposition, CallerConnected, LoggedEvent, QueueEvent, SwitchStarted
from .call.anchor import MediaPlan, plan_codecs
from .call.crm import CrmLookup
from .call.eventlog import EventRecord, overload, record_of, recording_done, worker_restarted
from .call.events import CallEnded, RecordingPaused, RecordingResumed, RecordingStarted
from .call.quality import CallQuality, QualityBook
from .call.reload import Reloaded
from .call.signaling import Listener, Signaling
from .call.voicemail import (
    VoicemailDeleted,
    VoicemailDiscarded,
    VoicemailEvent,
    VoicemailGreeting,
    VoicemailSaved,
    VoicemailStored,
)
from .config.schema import SwitchConfig
from .config.trace import parse_trace
from .errors import ConfigError, SipParseError
from .http.app import create_app
from .http.auth import TokenTable, principals
from .http.control import Control
from .http.crm import CrmClient
from .http.desktop import EXTRA_KEY as DESKTOP_KEY
from .http.desktop import Desktop
from .http.events import EXTRA_KEY as EVENTS_KEY
from .http.history import EXTRA_KEY as HISTORY_KEY
from .http.metrics import Metrics, SwitchStats
from .http.recording import EXTRA_KEY as COMPLIANCE_KEY
from .http.reload import EXTRA_KEY as RELOAD_KEY
from .http.reports import EXTRA_KEY as REPORTS_KEY
from .http.server import HttpServer
from .http.webhooks import Webhooks
from .ids import Ids
from .io.dns import SipLocator, TrunkLocator
from .io.overload import LagStats, OverloadGuard, OverloadRecorder
from .io.trace import SipTrace
from .io.transport import Transports
from .logs import configure_logging
from .media.commands import (
    Command,
    LegReady,
    LegStats,
    MediaEvent,
    RecordDone,
    RecordFormat,
    RecordPauseMark,
    WorkerDied,
    WorkerStats,
)
from .media.ports import PortPool
from .mediaworker.client import MediaClient
from .mediaworker.codecs import available as av_codecs
from .mediaworker.settings import WakeMode, WorkerSettings
from .mediaworker.sockets import pair_probe
from .mediaworker.wav import ConversionError, WavError, format_of, recover
from .prompts import prompt_path
from .reports.service import Reports
from .reports.settings import from_config as report_settings
from .sip.addr import Address
from .sip.locate import Located
from .sip.registrar import Binding, BindingsChanged
from .store.bindings import BindingStore
from .store.cdr import CdrStore
from .store.compliance import Compliance, retention_of
from .store.db import DB_ERRORS, Location
from .store.events import EventLog
from .store.history import History
from .store.queue_events import QueueEventStore
from .store.voicemail import VoicemailStore
from .store.writer import Writer
from .voicemail import MessageKept

log = structlog.get_logger()
_STORE_ERRORS: tuple[type[Exception], ...] = (*DB_ERRORS, RuntimeError)
QUEUE_EVENT_TYPES = get_args(QueueEvent)
VOICEMAIL_EVENT_TYPES = get_args(VoicemailEvent)

LAG_PERIOD = 0.05  # how often the loop's lateness is measured (s)
LAG_LATE_SAMPLES = 2  # shed new calls once this many probes in a row were late
LAG_REPORT = 10.0  # how often the loop's lateness is logged (``loop_lag``, s)
STOP_BUDGET = 3.8  # stop() commits the last rows within this (daemon waits 4 s)
STARTUP_GRACE = 3.0  # no load shedding while the media workers boot (s)
WORKERS_START_TIMEOUT = 60.0  # s "ready" waits for every media worker to run (then: warning)
PRUNE_FIRST = 60.0  # s after start-up: the first deletion of events past [events] keep_days
PRUNE_PERIOD = 3600.0  # s between deletions
LIVE_QUALITY_INTERVAL = 5.0  # s between the workers' live LegStats samples (the API's mos)
WRITE_LINGER = 0.05  # the writer gathers rows this long per commit (one fsync per 50 ms)
DEFER_DESTROY = 0.02  # a call's DestroyLeg waits this long for the worker's next batch (s)
DEFER_DESTROY_MIN_PAIRS = 256  # ...when the RTP range has this many pairs (else sent at once)


class Switch:
    """One switch process: SIP transports, the signaling core, its timer and its stores."""

    def __init__(self, config: SwitchConfig,
                 load: Callable[[], SwitchConfig] | None = None) -> None:
        """``load`` re-reads the configuration (file and flags) for ``reload``."""
        self._load = load
        # the data dir is resolved once, against the working directory at start-up: the
        # database, the recordings (and the paths their rows name) and the media workers all
        # use this absolute path, whatever the process's working directory later is
        self.data_dir = Path(os.path.abspath(config.data_dir))
        config = dataclasses.replace(config, data_dir=str(self.data_dir))
        self.config = config
        self.transports = Transports(on_message=self._on_message, on_bad_frame=self._on_bad,
                                     max_size=config.sip.max_message_size)
        self.trace: SipTrace | None = None
        self.signaling: Signaling | None = None
        self.store: BindingStore | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, tuple[Binding, ...]] = {}
        self._flush_scheduled = False
        self.stopping = False
        self._guard = OverloadGuard(limit=config.sip.overload_lag, late_samples=LAG_LATE_SAMPLES)
        self._overloads = OverloadRecorder()  # switch.overload events, rate-limited
        self._lag_stats: LagStats | None = None
        self._lag_timer: asyncio.TimerHandle | None = None
        self.media: MediaClient | None = None
        self.cdr: CdrStore | None = None
        self.queue_log: QueueEventStore | None = None
        self.voicemail: VoicemailStore | None = None  # voice messages: rows and files
        self.voicemail_dir = self.data_dir / "voicemail"
        self._vm_prefix = str(self.voicemail_dir) + os.sep
        self._vm_discard: dict[str, str] = {}  # recording path -> box: removed once finished
        self.writer: Writer | None = None  # owns the store's connection: every write goes
        # through it (ccswitch.db, or PostgreSQL with [store] dsn)
        self.events: EventLog | None = None  # the durable event stream (API, webhooks)
        self.webhooks: Webhooks | None = None
        self.crm: CrmClient | None = None  # the [crm] lookups (http/crm.py)
        self.trunk_dns: TrunkLocator | None = None  # domain trunks' RFC 3263 lookups
        self._recording_calls: dict[str, str] = {}  # recording path -> call id
        self._prune_timer: asyncio.TimerHandle | None = None
        self.recordings_dir = self.data_dir / "recordings"
        self.worker_stats: dict[int, WorkerStats] = {}
        # live and final call quality from the workers' LegStats (call/quality.py)
        self.quality = QualityBook(jitter_buffer_ms=config.media.jitter_depth * 1000.0)
        self._recording: set[str] = set()  # files open in a worker
        self._wall_offset = 0.0
        self._debug = config.log_level.lower() == "debug"
        self.http: HttpServer | None = None
        self.history: History | None = None
        self.compliance: Compliance | None = None  # recording spans, access log, retention
        self.reports: Reports | None = None
        self.control: Control | None = None
        self.metrics: Metrics | None = None
        self._api_closed = False

    async def start(self) -> list[str]:
        """Open the data dir, bind every listen address, restore registrations.

        Raises OSError naming the address that could not be bound.
        """
        self._loop = asyncio.get_running_loop()
        data = self.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.trace = self.transports.trace = SipTrace.start(parse_trace(self.config.sip.trace))
        for lst in self.config.listen:
            try:
                await self.transports.listen(lst.transport, lst.host, lst.port)
            except OSError as e:
                self.transports.close()
                raise OSError(f"cannot listen on {lst.transport}:{lst.host}:{lst.port}: "
                              f"{e.strerror or e}") from e
        listeners = [Listener(b.transport, b.host, b.port) for b in self.transports.bound]
        self.control = self._control()
        self.http = HttpServer(create_app(self.control), *self.config.http)
        try:
            self.http.bind()
        except OSError:
            self.transports.close()
            raise
        rng = random.SystemRandom()
        # the stores live on the writer thread: their commits (and fsyncs) never stop the loop
        where = Location(data / "ccswitch.db", dsn=self.config.store.dsn)
        try:
            self.writer = Writer(where, loop=self._loop, linger=WRITE_LINGER)
            self.cdr = self.writer.open(CdrStore)  # each store migrates its tables
            self.queue_log = self.writer.open(QueueEventStore)
            self.store = self.writer.open(BindingStore)
            vm_root = self.voicemail_dir
            self.voicemail = self.writer.open(lambda db: VoicemailStore(db, vm_root))
            self.events = EventLog(self.writer)
        except _STORE_ERRORS as e:  # unreachable server, bad DSN, newer schema
            if self.writer is not None:
                self.writer.close()
                self.writer = None
            self.http.close()
            self.transports.close()
            fault = " ".join(str(e).split())  # one line (libpq's messages have several)
            raise OSError(f"cannot open the store {where.name}: {fault}") from e
        log.info("store_opened", backend=where.kind, at=where.name)
        self.control.extras[EVENTS_KEY] = self.events  # the WebSocket /api/v1/events
        self.history = History(where)
        self.control.extras[HISTORY_KEY] = self.history  # CDRs, queue events, recordings
        self.control.extras[RELOAD_KEY] = self.reload
        self.reports = Reports(where, lambda: report_settings(self.config))
        self.control.extras[REPORTS_KEY] = self.reports  # /api/v1/reports/...
        self.control.extras[DESKTOP_KEY] = Desktop(where, self.config.agent_desktop)
        self._repair_recordings()
        self.compliance = Compliance(self.writer, self.events,
                                     policy=lambda: retention_of(self.config),
                                     open_paths=lambda: self._recording)
        self.control.extras[COMPLIANCE_KEY] = self.compliance
        self.compliance.start(self._loop)
        plan = self._start_media(listeners, rng)
        self.signaling = Signaling(config=self.config, listeners=listeners, ids=Ids(rng),
                                   media=plan,
                                   prompt_path=self._prompt_file,
                                   voicemail_dir=self._box_dir,
                                   recorded_greeting=self._recorded_greeting)
        now, wall = self._loop.time(), time.time()
        self._wall_offset = wall - now
        self._started(now)
        restored = [dataclasses.replace(b, expires_at=b.expires_at - wall + now)
                    for b in self.writer.call(self.store.load)]
        self.signaling.restore_bindings(restored, now)
        if self.config.crm.active:
            self.crm = CrmClient(self._crm_done)
        self.signaling.start_trunks(now)
        self.trunk_dns = self._start_trunk_dns()
        if self.signaling.voicemail is not None:
            store = self.voicemail
            stored = [dataclasses.replace(m, received=m.received - wall + now)
                      for box in self.signaling.voicemail.boxes
                      for m in self.writer.call(functools.partial(store.messages, box))]
            self.signaling.restore_voicemail(stored, now)
        self.webhooks = Webhooks(self.config.webhooks, events=self.events)
        self.webhooks.start()
        self._prune_timer = self._loop.call_later(PRUNE_FIRST, self._prune_events)
        self._after()
        await self.http.start()
        if self.media is not None and not await self.media.running(WORKERS_START_TIMEOUT):
            log.warning("media_workers_slow", timeout=WORKERS_START_TIMEOUT)
        # start-up (spawning the media workers) makes the loop late once: measure after it
        start = self._loop.time() + STARTUP_GRACE
        self._lag_timer = self._loop.call_at(start, self._lag_probe, start)
        return [*(str(Address(b.transport, b.host, b.port)) for b in self.transports.bound),
                self.http.address]

    def _started(self, now: float) -> None:
        """Write the start mark (queue log and event stream) before any event of this run:
        the reports end there whatever the previous run left open."""
        cfg = self.config
        mark = SwitchStarted(now, __version__,
                             tuple((q, float(c.service_level)) for q, c in cfg.queues.items()),
                             cfg.reports.timezone, cfg.reports.short_abandon)
        if self.queue_log is not None:
            self._write(functools.partial(self.queue_log.append, [mark],
                                          wall_offset=self._wall_offset),
                        functools.partial(_log_queue_events, [mark]), "switch_started")
        rec = record_of(mark, now=now, wall_offset=self._wall_offset)
        if rec is not None and self.events is not None:
            self.events.append([rec])

    def _prompt_file(self, name: str) -> str:
        """A prompt value's file, from the running configuration (a reload's new prompts:
        the core's, which a reload sets before it resolves the rooms' music)."""
        cfg = self.signaling.config if self.signaling is not None else self.config
        return _prompt_file(cfg.prompt_files, name)

    async def reload(self) -> Reloaded:
        """Re-read the configuration (``load``, in a thread: it reads files) and apply it:
        the core, the API's tokens and scopes, the webhooks.  ``ConfigError``: nothing
        changes."""
        if self._load is None or self.signaling is None or self.control is None:
            raise ConfigError("(configuration)", "(reload)", "the switch is not running")
        new = await asyncio.to_thread(self._load)
        new = dataclasses.replace(new, data_dir=os.path.abspath(new.data_dir))
        done = self.signaling.reload(new, self._now())
        self._after()
        old, self.config = self.config, self.signaling.config
        fresh = self._control_tables(self.config)
        self.control.tokens, self.control.agent_queues = fresh
        if self.config.crm.active and self.crm is None:  # [crm] turned on: its client
            self.crm = CrmClient(self._crm_done)
        desktop = self.control.extras.get(DESKTOP_KEY)
        if isinstance(desktop, Desktop):  # the next GET /api/v1/desktop sees the new menus
            self.control.extras[DESKTOP_KEY] = dataclasses.replace(
                desktop, config=self.config.agent_desktop)
        if self.config.webhooks != old.webhooks and self.webhooks is not None:
            await self.webhooks.reload(self.config.webhooks)  # unchanged hooks go on
        return done

    @staticmethod
    def _control_tables(cfg: SwitchConfig) -> tuple[TokenTable, dict[str, tuple[str, ...]]]:
        tokens = principals(((t.token, t.role, t.user) for t in cfg.api.tokens),
                            {u: s.queues for u, s in cfg.supervisors.items()})
        agent_queues = {name: tuple(u.agent.queues) for name, u in cfg.agents.items()
                        if u.agent is not None}
        return tokens, agent_queues

    def _start_trunk_dns(self) -> TrunkLocator | None:
        """Look up the domain trunks (RFC 3263) in the background (``io/dns.py``)."""
        t = self.config.trunking
        domains = {n: c.domain for n, c in t.trunks.items() if c.domain is not None}
        if not domains:
            return None
        listen = self.config.listen
        transports = list(dict.fromkeys(x.transport for x in listen
                                        if x.transport in ("udp", "tcp", "tls")))
        locator = SipLocator(servers=t.dns.servers, timeout=t.dns.timeout,
                             rng=random.SystemRandom(), clock=self._now,
                             ipv6=any(":" in x.host for x in listen))
        found = TrunkLocator(locator, domains, transports or ["udp"], self._trunk_located)
        found.start()
        return found

    def _trunk_located(self, trunk: str, located: Located) -> None:
        if self.signaling is not None and not self.stopping:
            self.signaling.trunk_located(trunk, located, self._now())
            self._after()

    def _api_core(self) -> Signaling | None:
        return None if self.stopping or self._api_closed else self.signaling

    def _control(self) -> Control:
        """What the HTTP API sees of this switch (``http/control.py``)."""
        tokens, agent_queues = self._control_tables(self.config)
        control = Control(signaling=self._api_core, clock=self._now, flush=self._after,
                          tokens=tokens, agent_queues=agent_queues,
                          wall_offset=lambda: self._wall_offset,
                          live_mos=self.quality.live_mos)
        self.metrics = control.metrics = Metrics(control, self._stats)
        return control

    def _stats(self) -> SwitchStats:
        """The counters ``/metrics`` reads at scrape time."""
        sig = self.signaling
        if sig is None:
            return SwitchStats(transport=self.transports.counters, workers=self.worker_stats)
        return SwitchStats(transaction=sig.txn.counters, transport=self.transports.counters,
                           signaling=sig.counters, sip_auth=sig.auth.counters,
                           workers=self.worker_stats, overloaded=sig.overloaded,
                           crm=self.crm.counters if self.crm is not None else {},
                           webhook_backlog=self.webhooks.backlog()
                           if self.webhooks is not None else {})

    # -- media ------------------------------------------------------------------------
    def _start_media(self, listeners: Sequence[Listener], rng: random.Random) -> MediaPlan:
        """Spawn the media workers; the plan hands out their legs and ports."""
        assert self._loop is not None
        cfg = self.config
        ip = cfg.media.ip or media_ip(listeners)
        workers = cfg.media.workers or os.cpu_count() or 1
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        log_setup = functools.partial(configure_logging, cfg.log_format, cfg.log_level,
                                      cache=True)
        # events _on_media_events would drop, left in the worker (a batch per call); a leg's
        # final LegStats wait for a batch the worker sends anyway (call quality, the CDR)
        unreported = frozenset({LegReady})

        def settings(index: int) -> WorkerSettings:
            return WorkerSettings(index=index, tick=cfg.media.tick,
                                  rtp_timeout=cfg.media.rtp_timeout,
                                  jitter_depth=cfg.media.jitter_depth, local_ip=ip,
                                  recordings_dir=str(self.recordings_dir), log_setup=log_setup,
                                  wake=cast(WakeMode, cfg.media.wake),
                                  unreported=unreported, held=frozenset({LegStats}),
                                  live_interval=LIVE_QUALITY_INTERVAL)

        low, high = cfg.rtp_ports
        # a call's DestroyLeg waits for the worker's next batch when a freed pair rests long
        # enough in the pool (least recently released first) not to be handed out meanwhile
        defer = DEFER_DESTROY if (high - low) // 2 >= DEFER_DESTROY_MIN_PAIRS else 0.0
        media = self.media = MediaClient(settings_for=settings, workers=workers,
                                         on_events=self._on_media_events, defer_destroy=defer)
        media.start(self._loop)
        bind_probe = pair_probe(ip)

        def probe(port: int) -> bool:
            return not media.destroy_pending(port) and bind_probe(port)

        fmt = cast(RecordFormat, cfg.media.record_format)  # checked by the config parser
        pool = PortPool(*cfg.rtp_ports, probe=probe)
        return MediaPlan(ports=pool, workers=workers, local_ip=ip,
                         codecs=plan_codecs(cfg.media.codecs, av_codecs()),
                         session_ids=lambda: rng.getrandbits(31),
                         record_calls=cfg.media.record_calls,
                         record_format=fmt, recording_path=self._recording_path)

    def _recording_path(self, name: str, ext: str) -> str:
        """The absolute path of a new recording (the worker writes it, its row names it)."""
        day = self.recordings_dir / time.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        return str(day / f"{name}.{ext}")

    def _box_dir(self, box: str) -> str:
        """A mailbox's directory (created): its messages are recorded into it."""
        d = self.voicemail_dir / box
        d.mkdir(parents=True, exist_ok=True)
        return str(d)

    def _greeting_path(self, box: str) -> Path:
        """``GREETINGS_DIR/BOX.wav`` (``[voicemail] greetings_dir``, default
        DATA_DIR/voicemail/greetings)."""
        configured = self.config.voicemail.settings.greetings_dir
        d = Path(configured) if configured else self.voicemail_dir / "greetings"
        return (d if d.is_absolute() else self.data_dir / d) / f"{box}.wav"

    def _recorded_greeting(self, box: str) -> str | None:
        """The box's recorded greeting, when it has one."""
        path = self._greeting_path(box)
        return str(path) if path.is_file() else None

    def _install_greeting(self, ev: VoicemailGreeting) -> None:
        """A take kept from ``*97`` replaces the box's greeting (a rename when the greetings
        directory is on the same file system: never half a file)."""
        dst = self._greeting_path(ev.box)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(ev.file, dst)
        except OSError as exc:
            log.error("voicemail_greeting_failed", box=ev.box, path=str(dst), error=str(exc))
            return
        log.info("voicemail_greeting_saved", call_id=ev.call_id, box=ev.box, path=str(dst))

    def _voicemail_event(self, ev: VoicemailEvent) -> None:
        """A voice message's row and file: written before the call's CDR (same writer)."""
        if isinstance(ev, VoicemailGreeting):
            self._install_greeting(ev)
            return
        store = self.voicemail
        if store is None:
            return
        if isinstance(ev, VoicemailStored):
            kept = MessageKept(ev.box, ev.caller, ev.received, ev.duration, ev.file)
            self._write(functools.partial(store.add, ev.message_id, kept,
                                          wall_offset=self._wall_offset),
                        functools.partial(log.info, "voicemail_stored", call_id=ev.call_id,
                                          box=ev.box, message=ev.message_id),
                        "voicemail")
        elif isinstance(ev, VoicemailDiscarded) and ev.finished:  # played back: done with
            self._write(functools.partial(store.discard, ev.box, ev.file), None, "voicemail")
        elif isinstance(ev, VoicemailDiscarded):
            # the worker may still be finishing the file: it goes once it reports the end
            self._vm_discard[ev.file] = ev.box
        elif isinstance(ev, VoicemailSaved):
            self._write(functools.partial(store.save, ev.message_id), None, "voicemail")
        elif isinstance(ev, VoicemailDeleted):
            self._write(functools.partial(store.delete, ev.message_id), None, "voicemail")

    def _voicemail_recorded(self, ev: RecordDone) -> None:
        """A voice message's file is complete (or a discarded recording can now go)."""
        box = self._vm_discard.pop(ev.path, None)
        if box is not None and self.voicemail is not None:
            self._write(functools.partial(self.voicemail.discard, box, ev.path), None,
                        "voicemail")
        log.info("recording_done", path=ev.path, seconds=round(ev.seconds, 2), ok=ev.ok,
                 discarded=box is not None)

    def _repair_recordings(self) -> None:
        """Recordings left open by a killed daemon get their WAV headers fixed (and are
        converted when they were to be Opus or MP3)."""
        assert self.cdr is not None and self.writer is not None
        for path in self.writer.call(self.cdr.unfinished_recordings):
            try:
                seconds: float | None = recover(path, format_of(path))
            except (OSError, WavError, ConversionError) as e:
                seconds = None
                log.warning("recording_lost", path=path, error=str(e))
            else:
                log.warning("recording_repaired", path=path)
            self.writer.submit(functools.partial(
                self.cdr.recording_done, path,
                state="failed" if seconds is None else "repaired", seconds=seconds),
                what="recording_done")

    def _on_media_events(self, worker: int, events: list[MediaEvent]) -> None:
        assert self.signaling is not None
        passed: list[MediaEvent] = []
        quality: list[CallQuality] = []
        for ev in events:
            if isinstance(ev, WorkerStats):
                self.worker_stats[worker] = ev
            elif isinstance(ev, RecordDone) and ev.path.startswith(self._vm_prefix):
                self._voicemail_recorded(ev)
            elif isinstance(ev, RecordDone):
                self._recording.discard(ev.path)
                if self.events is not None:
                    self.events.append([recording_done(
                        path=ev.path, call_id=self._recording_calls.pop(ev.path, None),
                        seconds=ev.seconds, ok=ev.ok, time=time.time())])
                done = functools.partial(log.info, "recording_done", path=ev.path,
                                         seconds=round(ev.seconds, 2), ok=ev.ok)
                if self.cdr is None:
                    done()
                else:
                    self._write(functools.partial(
                        self.cdr.recording_done, ev.path,
                        state="complete" if ev.ok else "failed", seconds=ev.seconds),
                        done, "recording_done")
            elif isinstance(ev, RecordPauseMark):
                if self.compliance is not None:
                    self.compliance.mark(ev)
            elif isinstance(ev, LegStats):
                self._leg_stats(worker, ev, quality)
            elif isinstance(ev, LegReady):
                pass  # the port is bound: nothing in the core waits for it (two per call)
            else:
                if isinstance(ev, WorkerDied):
                    log.error("media_worker_died", worker=ev.worker, legs=len(ev.legs))
                    if self.events is not None and self.writer is not None \
                            and self.media is not None:
                        self.events.append([worker_restarted(
                            worker=ev.worker, legs=len(ev.legs),
                            restarts=self.media.restarts[ev.worker], time=time.time())])
                    self.quality.forget(ev.legs)
                passed.append(ev)
        if self.quality.waiting:
            quality += self.quality.expire(self._now())
        if quality:
            self._call_quality(quality)
        if passed and not self.stopping:
            self.signaling.media_events(passed, self._now())
            self._after()

    def _leg_stats(self, worker: int, ev: LegStats, done: list[CallQuality]) -> None:
        """A leg's live or final figures: its rating; a call's quality once complete."""
        q, call = self.quality.stats(ev, self._now())
        if not ev.final:
            return
        if self._debug:
            log.debug("leg_stats", leg=ev.leg, received=ev.received, lost=ev.lost,
                      expected=ev.expected, jitter_ms=ev.jitter_ms, rtt_ms=ev.rtt_ms,
                      peer_lost=ev.peer_lost, mos=None if q is None else q.mos)
        if q is not None and self.metrics is not None:
            self.metrics.leg_quality(worker, q.loss_pct, q.jitter_ms)
        if call is not None:
            done.append(call)

    def _call_quality(self, done: list[CallQuality]) -> None:
        """Ended calls' quality: the MOS histogram, ``call.quality`` events, CDR columns."""
        now = self._now()
        for q in done:
            log.info("call_quality", call_id=q.call_id, mos_caller=q.mos_caller,
                     mos_callee=q.mos_callee, loss_caller=q.loss_caller,
                     loss_callee=q.loss_callee)
            if self.metrics is not None:
                self.metrics.call_quality(q)
        if self.events is not None:
            records = [record_of(q, now=now, wall_offset=self._wall_offset) for q in done]
            self.events.append([r for r in records if r is not None])
        if self.cdr is not None:
            self._write(functools.partial(self.cdr.set_quality, done), None, "cdr_quality")

    # -- the loop glue --------------------------------------------------------------
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _on_message(self, data: bytes, source: Address) -> None:
        if self.stopping:
            return
        assert self.signaling is not None
        if self.metrics is not None:
            self.metrics.sip(data, "in")
        self.signaling.receive(data, source, self._now())
        self._after()

    def _on_bad(self, data: bytes, err: SipParseError, source: Address) -> None:
        assert self.signaling is not None
        self.signaling.answer_bad(data, err, source)
        self._after()

    def _on_timer(self) -> None:
        self._timer = None
        self._armed = None
        assert self.signaling is not None
        self.signaling.handle_timer(self._now())
        self._after()

    def _after(self) -> None:
        """Send what the core queued, take its events, re-arm the one timer."""
        sig = self.signaling
        assert sig is not None and self._loop is not None
        # media first: a leg's port is bound before the SDP naming it goes out
        commands = sig.media_commands()
        if commands and self.media is not None:
            batches: defaultdict[int, list[Command]] = defaultdict(list)
            for worker, cmd in commands:
                batches[worker].append(cmd)
            for worker, batch in batches.items():
                self.media.send(worker, batch)
        metrics = self.metrics
        for data, dest in sig.outbox():
            self.transports.send(data, dest)
            if metrics is not None:
                metrics.sip(data, "out")
        queue_events: list[QueueEvent] = []
        records: list[EventRecord] = []
        now = self._loop.time()
        for ev in sig.events():
            if isinstance(ev, VOICEMAIL_EVENT_TYPES):
                self._voicemail_event(ev)
                continue
            if not isinstance(ev, BindingsChanged):
                rec = record_of(ev, now=now, wall_offset=self._wall_offset)
                if rec is not None:
                    records.append(rec)
            if isinstance(ev, QUEUE_EVENT_TYPES):
                queue_events.append(ev)
                if isinstance(ev, CallerConnected) and metrics is not None:
                    metrics.queue_wait_done(ev.queue, ev.wait)
                elif isinstance(ev, CallDisposition) and self.cdr is not None:
                    self._write(functools.partial(self.cdr.set_disposition, ev.call_id,
                                                  ev.code), None, "cdr_disposition")
            elif isinstance(ev, CrmLookup):
                if self.crm is not None:
                    self.crm.lookup(ev)
            elif isinstance(ev, BindingsChanged):
                self._pending[ev.user] = ev.bindings
                if not self._flush_scheduled:
                    self._flush_scheduled = True
                    self._loop.call_soon(self._flush_store)
            elif isinstance(ev, RecordingStarted):
                self._recording.add(ev.path)
                self._recording_calls[ev.path] = ev.call_id
                if self.cdr is not None:
                    self._write(functools.partial(self.cdr.recording_started, ev.call_id,
                                                  ev.path, at=ev.at + self._wall_offset),
                                None, "recording_started")
            elif isinstance(ev, RecordingPaused | RecordingResumed):
                if self.compliance is not None:
                    self.compliance.span(ev)
            elif isinstance(ev, CallEnded):
                if metrics is not None:
                    metrics.call_ended(ev)
                if ev.media_legs:
                    self.quality.call_ended(ev, dict(ev.media_legs), now)
                # the call is reported done (``cdr``) once its row is committed
                if self.cdr is None:
                    _log_cdr(ev)
                else:
                    self._write(functools.partial(self.cdr.add, ev,
                                                  wall_offset=self._wall_offset),
                                functools.partial(_log_cdr, ev), "cdr")
        if queue_events and self.queue_log is not None:
            self._write(functools.partial(self.queue_log.append, queue_events,
                                          wall_offset=self._wall_offset),
                        functools.partial(_log_queue_events, queue_events), "queue_events")
        if records and self.events is not None and self.writer is not None:
            self.events.append(records)
        deadline = sig.next_deadline()
        if deadline != self._armed:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._armed = deadline
            if deadline is not None:
                self._timer = self._loop.call_at(deadline, self._on_timer)

    def _crm_done(self, call_id: str, record: Mapping[str, object] | None,
                  status: str) -> None:
        """A CRM lookup ended: the core keeps the record on the call and reports it."""
        if self.stopping or self.signaling is None:
            return
        self.signaling.crm_result(call_id, record, status, self._now())
        self._after()

    def _prune_events(self) -> None:
        """Delete events older than ``[events] keep_days`` (hourly, in batches)."""
        assert self._loop is not None
        keep = self.config.events.keep_days
        if keep > 0 and self.events is not None and self.writer is not None:
            self.events.prune(time.time() - keep * 86400.0)
        self._prune_timer = self._loop.call_later(PRUNE_PERIOD, self._prune_events)

    def _write(self, work: Callable[[], object], done: Callable[[], None] | None,
               what: str) -> None:
        """Hand a store write to the writer thread; ``done`` runs on the loop once it is
        committed.  After ``stop`` closed the writer nothing is written (logged)."""
        if self.writer is None:
            log.error("store_closed", what=what)
            return
        self.writer.submit(work, done, what=what)

    def _lag_probe(self, expected: float) -> None:
        """Measure how late the loop runs a timer: logged as ``loop_lag`` every ``LAG_REPORT``
        seconds, and while the loop stays behind the core sheds new calls (``OverloadGuard``).

        Overload shows as lag before it shows as loss: the kernel queues datagrams while the
        loop is behind, and every late answer brings retransmissions that deepen the backlog.
        """
        assert self._loop is not None and self.signaling is not None
        now = self._loop.time()
        lag = now - expected
        if self._lag_stats is None:
            self._lag_stats = LagStats(started=now)
        self._lag_stats.add(lag)
        if self.metrics is not None:
            self.metrics.loop_lag(lag)
        verdict = self._guard.observe(lag)
        if verdict.stall:
            log.warning("loop_stall", lag_ms=round(lag * 1e3))
        if verdict.changed:
            self.signaling.overloaded = verdict.shedding
            log.warning("overload" if verdict.shedding else "overload_cleared",
                        lag_ms=round(lag * 1e3))
        shed = self._overloads.probe(now, shedding=verdict.shedding, lag=lag,
                                     shed_total=self.signaling.counters["shed"])
        if shed is not None and self.events is not None and self.writer is not None:
            off = self._wall_offset
            self.events.append([overload(since=shed.since + off, until=shed.until + off,
                                         shed=shed.shed, max_lag=shed.max_lag,
                                         time=now + off)])
        if now - self._lag_stats.started >= LAG_REPORT:
            log.info("loop_lag", **self._lag_stats.report(now))
        self._lag_timer = self._loop.call_at(now + LAG_PERIOD, self._lag_probe, now + LAG_PERIOD)

    def _flush_store(self) -> None:
        self._flush_scheduled = False
        if not self._pending or self.store is None:
            return
        now, wall = self._now(), time.time()
        changes = {u: tuple(dataclasses.replace(b, expires_at=b.expires_at - now + wall)
                            for b in bs) for u, bs in self._pending.items()}
        self._pending.clear()
        self._write(functools.partial(self.store.replace, changes), None, "bindings")

    async def stop(self) -> None:
        """End every call with BYE, keep registrations, close sockets; every row handed to the
        writer is committed before this returns (within the CONTRACT's 5 s)."""
        t_end = time.monotonic() + STOP_BUDGET
        self._api_closed = True  # the API refuses commands from here on (503)
        # the HTTP server winds down (its open requests get a second) while calls end
        http_stop = asyncio.create_task(self.http.stop()) if self.http is not None else None
        if self.trunk_dns is not None:
            await self.trunk_dns.stop()
        if self.signaling is not None:
            self.signaling.shutdown(self._now())
            self._after()
            # give BYEs a moment to be answered (the peers' 200s are absorbed) and the
            # workers a moment to close the recordings
            await asyncio.sleep(0.3)
            deadline = self._now() + 1.5
            while self._recording and self._now() < deadline:
                await asyncio.sleep(0.05)
        if self.media is not None:
            await self.media.stop(timeout=1.5)  # within the 5 s the CONTRACT gives
        self._flush_store()
        if http_stop is not None:
            await http_stop
        if self._timer is not None:
            self._timer.cancel()
        if self._lag_timer is not None:
            self._lag_timer.cancel()
        if self._prune_timer is not None:
            self._prune_timer.cancel()
        if self.compliance is not None:
            self.compliance.stop()
        self.transports.close()
        if self.trace is not None:
            self.trace.close()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.crm is not None:
            await self.crm.close()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            if not await writer.aclose(max(0.2, t_end - time.monotonic())):
                log.error("store_not_drained", db=str(writer.path))
            await asyncio.sleep(0)  # the last commits' done callbacks (cdr lines) run
        if self.events is not None:
            self.events.close()
        if self.history is not None:
            self.history.close()
        if self.reports is not None:
            self.reports.close()


def _log_cdr(ev: CallEnded) -> None:
    log.info("cdr", call_id=ev.call_id, sip_call_id=ev.sip_call_id, caller=ev.caller,
             callee=ev.callee, status=ev.status, reason=ev.reason, ended_by=ev.ended_by,
             queue=ev.queue, agent=ev.agent, transfer=ev.transfer,
             transferred_by=ev.transferred_by,
             duration=round(ev.ended - (ev.answered or ev.ended), 3), recording=ev.recording)


def _log_queue_events(events: Sequence[LoggedEvent]) -> None:
    for qe in events:
        log.info("queue_event", kind=type(qe).__name__, call_id=getattr(qe, "call_id", None),
                 queue=getattr(qe, "queue", None), agent=getattr(qe, "agent", None))


def _prompt_file(files: Mapping[str, str], name: str) -> str:
    """The file of a prompt value: from ``files`` (the configuration's ``prompt_files``,
    resolved at load time: site prompt dirs, then shipped, and every configured file), else
    an absolute path as is, else a shipped prompt.  An unknown one is logged and left for the
    worker to report (its play ends at once with an error, the flow goes on)."""
    found = files.get(name)
    if found is not None:
        return found
    if os.path.isabs(name):
        return name
    try:
        return prompt_path(name)
    except LookupError as e:
        log.error("unknown_prompt", prompt=name, error=str(e))
        return name


def media_ip(listeners: Sequence[Listener]) -> str:
    """The address to put in SDP: the first SIP listen address, or, when that is a wildcard,
    the address this host would send from (no packet is sent)."""
    for lst in listeners:
        if lst.host not in ("0.0.0.0", "::"):
            return lst.host.strip("[]")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"
