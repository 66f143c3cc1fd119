"""A switch with media anchoring and several scripted phones, for the call-model tests
(transfers, rooms, supervision, hold): what the phones receive, the switch's events, and the
media commands it sends its workers, replayed into a mixer graph to say who hears whom."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable

from sipphone import DEMO, Phone, deliver

from ccswitch.call.anchor import MediaPlan
from ccswitch.call.events import CallEnded
from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.ids import Ids
from ccswitch.media.commands import (
    Command,
    Connect,
    CreateLeg,
    DestroyLeg,
    Disconnect,
    JoinBus,
    LeaveBus,
    Play,
    PlayFile,
)
from ccswitch.media.mixer import MixGraph
from ccswitch.media.ports import PortPool
from ccswitch.sdp.session import parse_sdp
from ccswitch.sip.message import Request, Response

MEDIA_IP = "127.0.0.9"


def offer(port: int, *, direction: str = "sendrecv", version: int = 1) -> str:
    return (f"v=0\no=- {port} {version} IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {port} RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
            "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n"
            f"a={direction}\n")


def demo_config(change: Callable[[SwitchConfig], SwitchConfig] | None = None) -> SwitchConfig:
    cfg = parse_config(DEMO.read_text(), "demo.toml")
    return change(cfg) if change is not None else cfg


def no_transfer_for(user: str) -> Callable[[SwitchConfig], SwitchConfig]:
    def change(cfg: SwitchConfig) -> SwitchConfig:
        users = dict(cfg.users)
        users[user] = dataclasses.replace(users[user], transfer=False)
        return dataclasses.replace(cfg, users=users)
    return change


def no_mailbox(*users: str) -> Callable[[SwitchConfig], SwitchConfig]:
    """The demo without these users' mailboxes (a transfer to them recalls on failure)."""
    def change(cfg: SwitchConfig) -> SwitchConfig:
        vm = cfg.voicemail
        boxes = {k: v for k, v in vm.mailboxes.items() if k not in users}
        return dataclasses.replace(cfg, voicemail=dataclasses.replace(vm, mailboxes=boxes))
    return change


def no_recall(cfg: SwitchConfig) -> SwitchConfig:
    return dataclasses.replace(cfg, transfer=dataclasses.replace(cfg.transfer, recall=False))


class Hearing:
    """The media workers' mixer graph, rebuilt from the commands they were sent."""

    def __init__(self) -> None:
        self.graph = MixGraph()
        self.legs: set[int] = set()

    def apply(self, cmd: Command) -> None:
        g = self.graph
        if isinstance(cmd, CreateLeg):
            self.legs.add(cmd.leg)
        elif isinstance(cmd, DestroyLeg):
            self.legs.discard(cmd.leg)
            g.remove_leg(cmd.leg)
        elif isinstance(cmd, Connect):
            g.connect(cmd.src, cmd.sink, cmd.gain)
        elif isinstance(cmd, Disconnect):
            g.disconnect(cmd.src, cmd.sink)
        elif isinstance(cmd, JoinBus):
            g.join(cmd.bus, cmd.leg, talk=cmd.talk, listen=cmd.listen)
        elif isinstance(cmd, LeaveBus):
            g.leave(cmd.bus, cmd.leg)

    def hears(self, leg: int) -> set[int]:
        """The legs whose audio is sent to ``leg``'s phone."""
        out = set(self.graph.sources(leg))
        for bus in self.graph.listened(leg):
            out |= {m for m, (talk, _) in self.graph.members(bus).items() if talk and m != leg}
        return out


class Switch:
    """The demo switch anchoring media on ``workers`` workers, with registered phones."""

    def __init__(self, users: Iterable[str] = ("1001", "1002", "1003"), *,
                 config: SwitchConfig | None = None, workers: int = 1,
                 ports: tuple[int, int] = (30000, 30199)) -> None:
        self.plan = MediaPlan(ports=PortPool(*ports), workers=workers, local_ip=MEDIA_IP,
                              session_ids=lambda: 42)
        self.sig = Signaling(config=config or demo_config(),
                             listeners=[Listener("udp", "127.0.0.1", 5060)],
                             ids=Ids(random.Random(5)), media=self.plan,
                             prompt_path=lambda name: f"/p/{name}.wav")
        self.phones: dict[str, Phone] = {}
        self.events: list[object] = []
        self.cmds: list[tuple[int, Command]] = []
        self.hearing = Hearing()
        self.sent: list[tuple[object, object]] = []
        for i, user in enumerate(users):
            self.add(user, 7000 + i)
        self.pump()

    def add(self, user: str, port: int, *, register: bool = True) -> Phone:
        phone = Phone(self.sig, user, port)
        self.phones[user] = phone
        if register:
            assert phone.register(0.0).status == 200
            phone.inbox.clear()
        return phone

    def __getitem__(self, user: str) -> Phone:
        return self.phones[user]

    # -- moving messages ------------------------------------------------------------------
    def pump(self) -> None:
        self.sent += deliver(self.sig, list(self.phones.values()))
        self.events += self.sig.events()
        new = self.sig.media_commands()
        for _, cmd in new:
            self.hearing.apply(cmd)
        self.cmds += new

    def at(self, now: float) -> None:
        self.sig.handle_timer(now)
        self.pump()

    def run_until(self, end: float) -> None:
        """Fire every deadline up to ``end`` (fake clock), pumping after each."""
        for _ in range(10000):
            d = self.sig.next_deadline()
            if d is None or d > end:
                return
            self.at(d)

    # -- reading ----------------------------------------------------------------------
    def commands(self, kind: type | None = None) -> list[Command]:
        return [c for _, c in self.cmds if kind is None or isinstance(c, kind)]

    def mark(self) -> int:
        return len(self.cmds)

    def since(self, mark: int, kind: type | None = None) -> list[Command]:
        return [c for _, c in self.cmds[mark:] if kind is None or isinstance(c, kind)]

    def ended(self) -> list[CallEnded]:
        return [e for e in self.events if isinstance(e, CallEnded)]

    def leg_of(self, msg: Request | Response) -> int:
        """The media leg whose port the switch's SDP in ``msg`` names (the latest one
        created on that port)."""
        port = parse_sdp(msg.body).media[0].port
        legs = [c.leg for c in self.commands(CreateLeg)
                if isinstance(c, CreateLeg) and c.port == port]
        assert legs, f"no leg on port {port}"
        return legs[-1]

    def plays_of(self, name: str) -> list[Play]:
        path = f"/p/{name}.wav"
        return [c for c in self.commands(Play)
                if isinstance(c, Play) and isinstance(c.source, PlayFile)
                and c.source.path == path]

    # -- flows ------------------------------------------------------------------------
    def dial(self, caller: str, number: str, now: float, *, call_id: str,
             port: int = 4000) -> str:
        """``caller`` INVITEs ``number`` (authenticated); returns the INVITE's text."""
        text = self[caller].invite(number, now, call_id=call_id, body=offer(port),
                                   phones=list(self.phones.values()))
        self.pump()
        return text

    def answer(self, user: str, now: float, *, tag: str, port: int = 6000) -> Request:
        """``user`` answers the one INVITE it has with 200 + SDP; returns that INVITE."""
        inv = self[user].take("INVITE")
        self[user].reply(inv, 200, "OK", now, to_tag=tag, body=offer(port))
        self.pump()
        return inv

    def ack(self, user: str, ok: Response, now: float, cseq: int = 2) -> None:
        self[user].send(self[user].in_dialog("ACK", ok, cseq=cseq), now)
        self.pump()

    def call(self, caller: str, callee: str, now: float, *, call_id: str,
             tag: str = "bt", a_port: int = 4000, b_port: int = 6000) -> tuple[Response, Request]:
        """A two-party call answered and ACKed: the caller's 200 and the callee's INVITE."""
        self.dial(caller, callee, now, call_id=call_id, port=a_port)
        inv = self.answer(callee, now + 1, tag=tag, port=b_port)
        ok = self[caller].last_response()
        assert ok.status == 200, ok
        self.ack(caller, ok, now + 1.01)
        assert self[callee].take("ACK").method == "ACK"
        return ok, inv

    def answered(self, caller: str, number: str, now: float, *, call_id: str,
                 port: int = 4000) -> Response:
        """``caller`` dials a number the switch answers itself (and ACKs its 200)."""
        self.dial(caller, number, now, call_id=call_id, port=port)
        ok = self[caller].last_response()
        assert ok.status == 200, ok
        self.ack(caller, ok, now + 0.01)
        return ok
