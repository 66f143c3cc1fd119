"""The call core under random sequences of what phones and time do (hypothesis, stateful).

The whole signaling core (``Signaling`` with media anchoring, the demo configuration, the real
queue router) is driven on the wire by ``AutoPhone``s (callwire.py) that act like real SIP
phones, and by a small model of the media workers that answers the core's commands the way
the engine does (a new prompt replaces the one playing, a stopped prompt reports ``stopped``,
a destroyed leg stops its player).  The rules are what people, networks and time do: dial a
user, the echo, the IVR (700), the support queue (800), the room (850) or a supervision code
(1020 dials ``*31``/``*33`` + an agent); answer, refuse or let ring (1003 has two phones:
calls to it fork); hang up from either side; cancel; hold and resume (re-INVITE); transfer
blind (REFER) to a number or attended (REFER with Replaces naming another of the phone's
calls); press keys (RFC 4733 digits from the worker); let a prompt end; lose ACKs (the 2xx is
retransmitted, and the call ends when none comes); read late (a slow phone acts on what it has
seen: it answers as the CANCEL is on its way, hangs up as the switch's BYE is, re-INVITEs
cross: 491); advance the fake clock (ring timeouts, 2xx retransmission, queue timers, wrap-up,
grace periods, session timers: 1001 asks 90 s timers it never refreshes, 1002 has the
switch refresh them); agents register and unregister; RTP times out on a leg.  One or two
media workers.

Checked after every step (and the wire rules on every message, see ``callwire.Ledger``):

* **the wire**: every INVITE transaction gets one final answer; no BYE on a dialog that was
  never confirmed, never a second one (but the one crossing it); no 481 to a request in a
  dialog the phone still has; no request from the switch in a dialog it has BYEd;
* **ports and legs**: the RTP port pairs in use are exactly the media legs alive, and those
  are exactly the legs of the calls alive (and of callbacks being dialled); a leg is created
  and destroyed once;
* **bridges**: every member of a bridge is a live leg; a call's bridge holding exactly one
  leg has a reason (the caller waits in a queue, rings onward, hears an IVR, is in a room or
  a service); a room has members, each in that room's bridge; the workers' mixer (rebuilt
  from Connect/Disconnect/JoinBus/LeaveBus) is exactly what the bridges say, and nothing is
  connected to a destroyed leg;
* **session refreshes**: every refresh of ours kept is of a leg still in a live call;
* **phases and legs**: a live call is not ENDED, owns its caller's leg (and its answered leg);
  only a TALKING call has an answered leg, and it has one; QUEUED is in a queue, IVR runs a
  flow, ROOM is in a room; a call that is gone is ENDED and owns no dialog and no media leg;
* **CDRs and queue events**: one ``CallEnded`` per call id, for calls no longer alive; every
  ``CallerEntered`` is followed by exactly one exit (connected, then completed or
  transferred; abandoned; overflowed; exited with a key; final callback failure) before it
  enters again.

At teardown every phone hangs up what it has, the clock runs far ahead, and then: no call is
left, every INVITE has its final answer and every 2xx its ACK, every confirmed dialog ended with
one BYE answered 200 (known exception: a 2xx to a re-INVITE answered after the BYE, see
callwire.Ledger.settled), no refresh of ours is kept, no port is in use and every created
leg was destroyed once, every call started has its CDR, and every queue caller has left.

The number of examples follows the hypothesis profile of tests/conftest.py (``ci``: a run of
a few seconds in ``bin/test``; ``HYPOTHESIS_PROFILE=thorough`` for a long run).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from callwire import AutoPhone, Ledger, WireViolation
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ccswitch.acd import events as qe
from ccswitch.call.anchor import MediaPlan
from ccswitch.call.events import CallEnded, CallStarted
from ccswitch.call.signaling import Listener, Signaling
from ccswitch.call.state import Call, Phase
from ccswitch.config.schema import parse_config
from ccswitch.ids import Ids
from ccswitch.media.commands import (
    Command,
    Connect,
    CreateLeg,
    DestroyLeg,
    Digit,
    Disconnect,
    JoinBus,
    LeaveBus,
    MediaEvent,
    Play,
    PlayDone,
    RtpTimeout,
    StopPlay,
)
from ccswitch.media.ports import PortPool
from ccswitch.sip.message import parse_message

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"
PHONES = ("1001", "1002", "1003", "1020")
AGENTS = ("2001", "2002", "2005")  # support, support, sales
DEVICES = (*PHONES, *AGENTS, "1003b")  # 1003 has two phones: calls to it fork
USERS = ("1001", "1002", "1003", "2001")
NUMBERS = (*USERS, *USERS, *USERS, "9196", "700", "800", "800", "850")  # calls to people first
CODES = ("*31", "*32", "*33")  # supervision: listen, whisper, barge
TRANSFER_TO = ("1001", "1002", "1003", "2001", "2002", "800", "700", "9196", "850", "404")
KEYS = ("1", "2", "9", "0", "4", "5", "6", "#")
DTS = (0.25, 1.0, 4.5, 6.0, 11.0, 21.0, 31.0, 130.0)
# session timers (90 s): 1001 claims to refresh and does not (the switch ends its calls at
# expiry unless a re-INVITE came), 1002 has the switch refresh; the others have none
TIMERS = {"1001": True, "1002": False}

# a queue caller's life (acd/events.py): entered -> exactly one exit; connected -> one end
EXITS = (qe.CallerAbandoned, qe.CallerOverflowed, qe.CallerExitedWithKey)
ENDS = (qe.CallCompleted, qe.CallTransferred)


class World:
    """The core, the phones, the wire between them and a model of the media workers."""

    def __init__(self, seed: int, workers: int) -> None:
        self.plan = MediaPlan(ports=PortPool(30000, 30199), workers=workers,
                              local_ip="127.0.0.9", session_ids=lambda: 42)
        self.sig = Signaling(config=parse_config(DEMO.read_text(), "demo.toml"),
                             listeners=[Listener("udp", "127.0.0.1", 5060)],
                             ids=Ids(random.Random(seed)), media=self.plan,
                             prompt_path=lambda name: f"/p/{name}.wav")
        self.ledger = Ledger()
        self.now = 0.0
        self.phones: dict[str, AutoPhone] = {}
        self.by_port: dict[int, AutoPhone] = {}
        for i, name in enumerate(DEVICES):
            p = AutoPhone(name.rstrip("b"), 7000 + 2 * i, self._send, name=name)
            p.refreshes = TIMERS.get(name)
            self.phones[name] = p
            self.by_port[p.port] = p
        self.created: Counter[int] = Counter()
        self.destroyed: Counter[int] = Counter()
        self.players: dict[int, tuple[int, bool]] = {}  # leg -> (play id, loops)
        self.mixed: set[tuple[int, int]] = set()  # (leg, play id) of mixed-in prompts
        self.edges: set[tuple[int, int]] = set()  # (src, sink): sink hears src
        self.buses: dict[int, dict[int, tuple[bool, bool]]] = {}  # bus -> leg -> talk, listen
        self.cdrs: Counter[str] = Counter()
        self.seen: dict[str, Call] = {}  # live calls at the last check, to check their end
        self.started: set[str] = set()
        self.queue_state: dict[str, str] = {}  # call id -> "waiting" | "connected" | "out"
        self.calls = 0
        # slow phones read late only within one instant: before the clock moves they catch
        # up (a latency well under T1, so no transaction of the switch times out on them)
        self.deferring = True
        for name in DEVICES:
            assert self.phones[name].register(3600, self.pump) == 200

    # -- the wire ------------------------------------------------------------------------
    def _send(self, phone: AutoPhone, text: str) -> None:
        data = text.encode()
        self.ledger.see(parse_message(data), "phone", phone.name,
                        crossing=phone.unread_bye(text))
        self.sig.receive(data, phone.addr, self.now)

    def pump(self) -> None:
        for _ in range(1000):
            out = self.sig.outbox()
            for data, dest in out:
                msg = parse_message(data)
                phone = self.by_port[dest.port]
                self.ledger.see(msg, "switch", phone.name)
                if phone.slow and self.deferring:
                    phone.backlog.append(msg)
                else:
                    phone.receive(msg)
            for ev in self.sig.events():
                self._event(ev)
            media = self._media(self.sig.media_commands())
            if media:
                self.sig.media_events(media, self.now)
            if not out and not media:
                return
        raise AssertionError("the switch and the phones never went quiet")

    def at(self, now: float) -> None:
        self.now = now
        self.pump()

    def run_until(self, end: float) -> None:
        for _ in range(20000):
            d = self.sig.next_deadline()
            if d is None or d > end:
                break
            self.now = max(self.now, d)
            self.sig.handle_timer(self.now)
            self.pump()
        self.now = end

    # -- the media workers -----------------------------------------------------------------
    def _media(self, cmds: list[tuple[int, Command]]) -> list[MediaEvent]:
        out: list[MediaEvent] = []
        for _, cmd in cmds:
            if isinstance(cmd, CreateLeg):
                self.created[cmd.leg] += 1
                assert self.created[cmd.leg] == 1, f"leg {cmd.leg} created twice"
            elif isinstance(cmd, DestroyLeg):
                self.destroyed[cmd.leg] += 1
                assert self.destroyed[cmd.leg] == 1, f"leg {cmd.leg} destroyed twice"
                playing = self.players.pop(cmd.leg, None)
                if playing is not None:
                    out.append(PlayDone(cmd.leg, playing[0], "stopped"))
                self.mixed = {m for m in self.mixed if m[0] != cmd.leg}
                self.edges = {e for e in self.edges if cmd.leg not in e}
                for members in self.buses.values():
                    members.pop(cmd.leg, None)
            elif isinstance(cmd, Connect):
                assert self.alive(cmd.src) and self.alive(cmd.sink), f"{cmd} on a dead leg"
                self.edges.add((cmd.src, cmd.sink))
            elif isinstance(cmd, Disconnect):
                self.edges.discard((cmd.src, cmd.sink))
            elif isinstance(cmd, JoinBus):
                assert self.alive(cmd.leg), f"{cmd} on a dead leg"
                self.buses.setdefault(cmd.bus, {})[cmd.leg] = (cmd.talk, cmd.listen)
            elif isinstance(cmd, LeaveBus):
                self.buses.get(cmd.bus, {}).pop(cmd.leg, None)
            elif isinstance(cmd, Play) and self.alive(cmd.leg):
                if cmd.mix:
                    self.mixed.add((cmd.leg, cmd.play_id))
                    continue
                old = self.players.get(cmd.leg)
                if old is not None:
                    out.append(PlayDone(cmd.leg, old[0], "replaced"))
                self.players[cmd.leg] = (cmd.play_id, cmd.loop)
            elif isinstance(cmd, StopPlay):
                playing = self.players.get(cmd.leg)
                if playing is not None and cmd.play_id in (None, playing[0]):
                    del self.players[cmd.leg]
                    out.append(PlayDone(cmd.leg, playing[0], "stopped"))
        return out

    def alive(self, leg: int) -> bool:
        return self.created[leg] > self.destroyed[leg]

    def live_legs(self) -> list[int]:
        return sorted(leg for leg in self.created if self.alive(leg))

    def prompts(self) -> list[tuple[int, int]]:
        """Prompts that end by themselves (not looping music)."""
        return sorted({(leg, p[0]) for leg, p in self.players.items() if not p[1]}
                      | self.mixed)

    # -- events ------------------------------------------------------------------------------
    def _event(self, ev: object) -> None:
        if isinstance(ev, CallStarted):
            assert ev.call_id not in self.started, f"call id {ev.call_id} started twice"
            self.started.add(ev.call_id)
        elif isinstance(ev, CallEnded):
            self.cdrs[ev.call_id] += 1
            assert self.cdrs[ev.call_id] == 1, f"two CDRs for {ev.call_id}: {ev}"
        elif isinstance(ev, qe.CallerEntered):
            state = self.queue_state.get(ev.call_id, "out")
            assert state == "out", f"{ev.call_id} entered {ev.queue} while {state}"
            self.queue_state[ev.call_id] = "waiting"
        elif isinstance(ev, qe.CallerConnected):
            self._queue_step(ev.call_id, "waiting", "connected", ev)
        elif isinstance(ev, EXITS) or (isinstance(ev, qe.CallbackFailed) and ev.final):
            self._queue_step(ev.call_id, "waiting", "out", ev)
        elif isinstance(ev, ENDS):
            self._queue_step(ev.call_id, "connected", "out", ev)

    def _queue_step(self, call_id: str, want: str, then: str, ev: object) -> None:
        state = self.queue_state.get(call_id, "out")
        assert state == want, f"{type(ev).__name__} for {call_id} while {state}: {ev}"
        self.queue_state[call_id] = then

    # -- invariants --------------------------------------------------------------------------
    def check(self) -> None:
        b2 = self.sig.b2bua
        calls = list(b2._calls.values())
        live = set(self.live_legs())
        plan_legs = set(self.plan.leg_worker)
        assert plan_legs == live, f"legs the plan holds {sorted(plan_legs)} != alive " \
                                  f"{sorted(live)}"
        assert self.plan.ports.in_use == len(live), \
            f"{self.plan.ports.in_use} port pairs in use for {len(live)} legs"
        owned: dict[int, str] = {}
        for call in calls:
            if call.media is not None and not call.media.closed:
                for side, lm in call.media.legs.items():
                    assert lm.leg not in owned, f"leg {lm.leg} in two calls"
                    owned[lm.leg] = f"{call.key}:{side}"
        for pending in b2._callbacks.values():
            if not pending.media.closed:
                for lm in pending.media.legs.values():
                    owned[lm.leg] = "callback"
        for name, room in b2.rooms._rooms.items():  # members on another worker: their links
            for leg, link in room.links.items():
                assert leg in room.members, f"room {name}: a link for a non-member {leg}"
                for lm in (link.near, link.far):
                    assert lm.leg not in owned, f"leg {lm.leg} in two calls"
                    owned[lm.leg] = f"link:{name}:{leg}"
        assert set(owned) == live, f"legs alive {sorted(live)} but calls own {owned}"
        for call in calls:
            assert call.key not in self.cdrs, f"call {call.key} is alive after its CDR"
            bridge = call.media.bridge if call.media is not None else None
            if bridge is None:
                continue
            members = [m.leg for m in bridge.members()]
            assert set(members) <= live, f"{call.key}: bridge holds dead legs {members}"
            if len(members) == 1:
                reason = call.phase is Phase.BRIDGING or call.queue is not None \
                    or call.ivr is not None or call.service is not None or call.room is not None
                assert reason, f"{call.key} alone in its bridge for no reason: {call}"
        self._check_phases(calls)
        for tid, refresh in b2.refreshes.items():  # our refreshes: of legs still in live calls
            rc, rl = refresh.call, refresh.call.legs.get(refresh.leg)
            assert b2._calls.get(rc.key) is rc, f"refresh {tid} of {rc.key}, not alive"
            assert rl is not None and rl.ended_at is None and rl.session is not None and \
                rl.session.refresh_txn == tid, f"refresh {tid} of a leg gone from {rc.key}"
        rooms = b2.rooms
        for name, room in rooms._rooms.items():
            assert room.members, f"room {name} has no members but is open"
            assert {room.in_bridge(m) for m in room.members} == \
                {m.leg for m in room.bridge.members()}
            assert set(room.members) <= live, f"room {name} holds dead legs"
        self._check_mixer(calls)

    def _check_phases(self, calls: list[Call]) -> None:
        """A live call's phase agrees with its legs and what it is in; a call that is gone
        is ENDED and owns nothing: no dialog of any leg, no media leg."""
        b2 = self.sig.b2bua
        for call in calls:
            self.seen[call.key] = call
            phase = call.phase
            assert phase is not Phase.ENDED, f"{call.key} ENDED but still a call"
            assert call.caller_id in call.legs, f"{call.key}: its caller's leg is not its own"
            if call.answered_id is not None:
                assert call.answered_id in call.legs, f"{call.key}: answered leg not its own"
            if phase is Phase.TALKING:
                assert call.answered_id is not None, f"{call.key} TALKING to nobody: {call}"
            if phase is not Phase.TALKING:  # only a two-party call has an answered leg
                assert call.answered_id is None, f"{call.key} {phase} with an answered leg"
            if phase is Phase.QUEUED:
                assert call.queue is not None, f"{call.key} QUEUED in no queue"
            if phase is Phase.IVR:
                assert call.ivr is not None, f"{call.key} IVR without a flow"
            if phase is Phase.ROOM:
                assert call.room is not None, f"{call.key} ROOM in no room"
        owners = {id(c) for c, _ in b2._dialogs.values()}
        for key, call in list(self.seen.items()):
            if key in b2._calls:
                continue
            del self.seen[key]
            assert call.phase is Phase.ENDED, f"{key} gone in phase {call.phase}"
            assert id(call) not in owners, f"{key} ENDED still owns a dialog"
            assert call.media is None or call.media.closed, f"{key} ENDED with media legs"

    def _check_mixer(self, calls: list[Call]) -> None:
        """Who hears whom on the workers is what the bridges say (and the echo's loop)."""
        bridges = [c.media.bridge for c in calls if c.media is not None and c.media.bridge]
        bridges += [r.bridge for r in self.sig.b2bua.rooms._rooms.values()]
        want_edges: set[tuple[int, int]] = set()
        want_bus: set[tuple[int, int, bool, bool]] = set()
        for br in bridges:
            for kind, x, y, z in br.edges():
                if kind == "edge":
                    want_edges.add((x, y))
                else:
                    want_bus.add((br._bus, x, bool(y), bool(z)))
        for room in self.sig.b2bua.rooms._rooms.values():
            for leg, link in room.links.items():  # the phone's leg and the near link leg
                want_edges |= {(leg, link.near.leg), (link.near.leg, leg)}
        echo = {(c.media.leg("a"),) * 2 for c in calls
                if c.service == "echo" and c.media is not None and "a" in c.media.legs}
        have = {e for e in self.edges if e[0] != e[1]}
        assert have == want_edges, f"the workers connect {sorted(have - want_edges)} and " \
                                   f"miss {sorted(want_edges - have)} of the bridges"
        loops = {e for e in self.edges if e[0] == e[1]}
        assert loops <= echo, f"legs hear themselves outside an echo call: {loops - echo}"
        buses = {(b, leg, t, ls) for b, m in self.buses.items() for leg, (t, ls) in m.items()}
        assert buses == want_bus, f"buses {sorted(buses)} != rooms {sorted(want_bus)}"

    def settled(self) -> None:
        b2 = self.sig.b2bua
        assert not b2._calls, f"calls left: {list(b2._calls.values())}"
        self.ledger.settled()
        assert self.plan.ports.in_use == 0, f"{self.plan.ports.in_use} port pairs in use"
        for leg in self.created:
            assert self.destroyed[leg] == 1, f"leg {leg} never destroyed"
        missing = self.started - set(self.cdrs)
        assert not missing, f"calls without a CDR: {missing}"
        stuck = {c: s for c, s in self.queue_state.items() if s != "out"}
        assert not stuck, f"queue callers who never left: {stuck}"


class CallMachine(RuleBasedStateMachine):
    w: World

    @initialize(workers=st.sampled_from((1, 2)), seed=st.integers(0, 3))
    def switch(self, workers: int, seed: int) -> None:
        """One media worker, or two (rooms and supervision need the right one)."""
        self.w = World(seed=seed, workers=workers)

    def step(self, dt: float = 0.01) -> None:
        self.w.at(self.w.now + dt)

    # -- phones ----------------------------------------------------------------------------
    @rule(caller=st.sampled_from(DEVICES), number=st.sampled_from(NUMBERS))
    def dial(self, caller: str, number: str) -> None:
        self.w.calls += 1
        self.w.phones[caller].dial(number, f"m{self.w.calls}@test")
        self.step()

    @rule(code=st.sampled_from(CODES), agent=st.sampled_from(AGENTS))
    def supervise(self, code: str, agent: str) -> None:
        self.w.calls += 1
        self.w.phones["1020"].dial(code + agent, f"m{self.w.calls}@test")
        self.step()

    def _ringing(self) -> list[tuple[str, str]]:
        return [(u, b) for u, p in sorted(self.w.phones.items()) for b in p.ringing()]

    @precondition(lambda self: bool(self._ringing()))
    @rule(data=st.data(), status=st.sampled_from((200, 200, 486)))
    def answer(self, data: st.DataObject, status: int) -> None:
        user, branch = data.draw(st.sampled_from(self._ringing()))
        self.w.phones[user].answer(branch, status)
        self.step()

    def _dialogs(self) -> list[tuple[str, tuple[str, str]]]:
        return [(u, k) for u, p in sorted(self.w.phones.items()) for k in p.live_dialogs()]

    @precondition(lambda self: bool(self._dialogs()))
    @rule(data=st.data())
    def hang_up(self, data: st.DataObject) -> None:
        user, key = data.draw(st.sampled_from(self._dialogs()))
        self.w.phones[user].hangup(key)
        self.step()

    def _cancellable(self) -> list[tuple[str, str]]:
        return [(u, b) for u, p in sorted(self.w.phones.items()) for b in p.cancellable()]

    @precondition(lambda self: bool(self._cancellable()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        user, branch = data.draw(st.sampled_from(self._cancellable()))
        self.w.phones[user].cancel(branch)
        self.step()

    @precondition(lambda self: bool(self._dialogs()))
    @rule(data=st.data(), hold=st.booleans())
    def hold(self, data: st.DataObject, hold: bool) -> None:
        user, key = data.draw(st.sampled_from(self._dialogs()))
        self.w.phones[user].reinvite(key, hold)
        self.step()

    def _talks(self) -> list[tuple[str, tuple[str, str]]]:
        """Dialogs with a person at the other end (transfers of service calls are 403)."""
        return [(u, k) for u, k in self._dialogs()
                if len(self.w.phones[u].dialogs[k].peer) == 4]

    @precondition(lambda self: bool(self._talks()))
    @rule(data=st.data(), number=st.sampled_from(TRANSFER_TO))
    def transfer(self, data: st.DataObject, number: str) -> None:
        user, key = data.draw(st.sampled_from(self._talks()))
        self.w.phones[user].refer(key, number)
        self.step()

    def _two_dialogs(self) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
        return [(u, a, b) for u, p in sorted(self.w.phones.items())
                for a in p.live_dialogs() for b in p.live_dialogs() if a != b]

    @precondition(lambda self: bool(self._two_dialogs()))
    @rule(data=st.data())
    def attended_transfer(self, data: st.DataObject) -> None:
        user, key, consultation = data.draw(st.sampled_from(self._two_dialogs()))
        self.w.phones[user].refer(key, "", consultation)
        self.step()

    @rule(name=st.sampled_from(DEVICES), slow=st.booleans())
    def slow_phone(self, name: str, slow: bool) -> None:
        """A phone that reads late: its person acts on what it has seen so far (answers as
        the CANCEL is on its way, hangs up as the switch's BYE is)."""
        p = self.w.phones[name]
        p.slow = slow
        if not slow:
            p.catch_up()
        self.step()

    @rule(user=st.sampled_from(DEVICES), n=st.sampled_from((1, 2, 12)))
    def lose_acks(self, user: str, n: int) -> None:
        self.w.phones[user].drop_acks = n

    @rule(agent=st.sampled_from(AGENTS), on=st.booleans())
    def agent_registers(self, agent: str, on: bool) -> None:
        assert self.w.phones[agent].register(3600 if on else 0, self.w.pump) == 200
        self.step()

    # -- media and time ----------------------------------------------------------------------
    @precondition(lambda self: bool(self.w.live_legs()))
    @rule(data=st.data(), key=st.sampled_from(KEYS))
    def digit(self, data: st.DataObject, key: str) -> None:
        leg = data.draw(st.sampled_from(self.w.live_legs()))
        self.w.sig.media_events([Digit(leg, key, "rfc4733")], self.w.now)
        self.step()

    @precondition(lambda self: bool(self.w.prompts()))
    @rule(data=st.data())
    def prompt_ends(self, data: st.DataObject) -> None:
        leg, pid = data.draw(st.sampled_from(self.w.prompts()))
        if self.w.players.get(leg, (None,))[0] == pid:
            del self.w.players[leg]
        self.w.mixed.discard((leg, pid))
        self.w.sig.media_events([PlayDone(leg, pid, "end")], self.w.now)
        self.step()

    @precondition(lambda self: bool(self.w.live_legs()))
    @rule(data=st.data())
    def rtp_timeout(self, data: st.DataObject) -> None:
        leg = data.draw(st.sampled_from(self.w.live_legs()))
        self.w.sig.media_events([RtpTimeout(leg, 30.0)], self.w.now)
        self.step()

    @rule(dt=st.sampled_from(DTS))
    def time_passes(self, dt: float) -> None:
        w = self.w
        for p in w.phones.values():
            p.catch_up()
            w.pump()
        w.deferring = False
        try:
            w.run_until(w.now + dt)
        finally:
            w.deferring = True

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def consistent(self) -> None:
        self.w.check()

    def teardown(self) -> None:
        w = self.w
        for p in w.phones.values():
            p.drop_acks = 0
            p.slow = False
            p.catch_up()
            w.pump()
        for agent in AGENTS:  # a caller waiting for a callback needs an agent to be served:
            w.phones[agent].register(3600, w.pump)  # logged in, and back from an auto-pause
            w.calls += 1
            w.phones[agent].dial("*24", f"m{w.calls}@test")
            w.pump()
        for _ in range(8):
            # one act at a time, each carried through (no BYEs crossing on the wire)
            for p in w.phones.values():
                for b in p.ringing():
                    p.answer(b, 486)
                    w.pump()
                for b in p.cancellable():
                    p.cancel(b)
                    w.pump()
                for k in p.live_dialogs():
                    p.hangup(k)
                    w.pump()
            w.check()
            w.run_until(w.now + 400.0)
            w.check()
        w.settled()
        assert w.sig.b2bua.refreshes == {}, "refreshes left after every call ended"


CallMachine.TestCase.settings = settings(
    max_examples=settings.default.max_examples, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestCallMachine = CallMachine.TestCase

__all__ = ["CallMachine", "TestCallMachine", "WireViolation"]
