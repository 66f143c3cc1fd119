"""Media anchoring through the B2BUA: the SDP each phone sees names the switch's RTP ports, and
the media workers are told which legs to create, configure, connect and destroy."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from sipphone import DEMO, Phone, deliver

from ccswitch.call.anchor import MediaPlan, plan_codecs
from ccswitch.call.events import CallEnded
from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.ids import Ids
from ccswitch.media.commands import (
    ConfigureLeg,
    Connect,
    CreateLeg,
    DestroyLeg,
    LegFailed,
    Play,
    PlayTone,
    RtpTimeout,
    SendDigit,
    StartRecord,
    StopRecord,
    WorkerDied,
)
from ccswitch.media.ports import PortPool
from ccswitch.sdp.session import Direction, parse_sdp
from ccswitch.sip.message import Request, Response

CALL = "anchored-1@127.0.0.1"
MEDIA_IP = "127.0.0.9"


def offer(port: int, fmts: str = "0 8 101", *, direction: str = "sendrecv", version: int = 1,
          ip: str = "127.0.0.1") -> str:
    maps = {"0": "a=rtpmap:0 PCMU/8000\n", "8": "a=rtpmap:8 PCMA/8000\n",
            "18": "a=rtpmap:18 G729/8000\n",
            "101": "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n"}
    lines = "".join(maps[f] for f in fmts.split())
    return (f"v=0\no=- 1 {version} IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\n"
            f"m=audio {port} RTP/AVP {fmts}\n{lines}a={direction}\n")


class World:
    """An anchoring switch (ports 30000-30009: five legs), caller 1001, callee 1002."""

    def __init__(self, ports: tuple[int, int] = (30000, 30009),
                 probe: Callable[[int], bool] | None = None, *,
                 config: SwitchConfig | None = None) -> None:
        self.plan = MediaPlan(ports=PortPool(*ports, probe=probe), workers=2, local_ip=MEDIA_IP,
                              session_ids=lambda: 42)
        self.sig = Signaling(config=config or parse_config(DEMO.read_text(), "demo.toml"),
                             listeners=[Listener("udp", "127.0.0.1", 5060)],
                             ids=Ids(random.Random(3)), media=self.plan)
        self.a = Phone(self.sig, "1001", 7001)
        self.b = Phone(self.sig, "1002", 7002)
        assert self.b.register(0.0).status == 200
        self.b.inbox.clear()

    def flush(self) -> None:
        deliver(self.sig, [self.a, self.b])

    def commands(self) -> list[object]:
        return [cmd for _, cmd in self.sig.media_commands()]

    def call(self, body: str, number: str = "1002") -> Request | None:
        self.a.invite(number, 1.0, call_id=CALL, body=body, phones=[self.b])
        found = self.b.requests("INVITE")
        if not found:
            return None
        self.b.inbox.remove(found[0])
        return found[0]

    def answer(self, inv: Request, body: str, now: float = 2.0) -> Response:
        self.b.reply(inv, 200, "OK", now, to_tag="bt", body=body)
        self.flush()
        return self.a.last_response()


def media_of(msg: Request | Response) -> tuple[str, int, list[str], Direction]:
    s = parse_sdp(msg.body)
    m = s.media[0]
    conn = s.media_connection(m)
    assert conn is not None
    return conn.address, m.port, [r.encoding for r in m.rtpmaps().values()], \
        s.media_direction(m)


def test_the_callee_is_offered_our_port_with_the_callers_codecs_first() -> None:
    w = World()
    inv = w.call(offer(4000, "8 0 101"))
    assert inv is not None
    ip, port, codecs, direction = media_of(inv)
    assert (ip, direction) == (MEDIA_IP, Direction.SENDRECV)
    assert codecs == ["PCMA", "PCMU", "telephone-event"]
    creates = [c for c in w.commands() if isinstance(c, CreateLeg)]
    assert len(creates) == 2 and {c.local_ip for c in creates} == {MEDIA_IP}
    assert port in {c.port for c in creates} and port % 2 == 0
    assert w.a.statuses() == [100]


def test_the_answer_connects_two_configured_legs_and_the_caller_sees_our_port() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    create = {c.port: c.leg for c in w.commands() if isinstance(c, CreateLeg)}
    b_port = media_of(inv)[1]
    ok = w.answer(inv, offer(6000, "0 101"))
    assert ok.status == 200
    ip, a_port, codecs, _ = media_of(ok)
    assert ip == MEDIA_IP and a_port != b_port and a_port in create
    assert codecs == ["PCMU", "telephone-event"]
    cmds = w.commands()
    conf = {c.leg: c for c in cmds if isinstance(c, ConfigureLeg)}
    a, b = create[a_port], create[b_port]
    assert (conf[a].remote_ip, conf[a].remote_port, conf[a].codec, conf[a].te_pt) == \
        ("127.0.0.1", 4000, "PCMU", 101)
    assert (conf[b].remote_ip, conf[b].remote_port, conf[b].remote_rtcp_port) == \
        ("127.0.0.1", 6000, 6001)
    assert conf[a].send and conf[a].recv and conf[b].send and conf[b].recv
    assert {(c.src, c.sink) for c in cmds if isinstance(c, Connect)} == {(a, b), (b, a)}


def test_different_codecs_on_each_side_are_transcoded() -> None:
    w = World()
    inv = w.call(offer(4000, "0"))  # the caller speaks PCMU only
    assert inv is not None
    assert media_of(inv)[2] == ["PCMU", "PCMA", "telephone-event"]  # ours appended
    ok = w.answer(inv, offer(6000, "8"))  # the callee picks PCMA
    assert media_of(ok)[2] == ["PCMU"]
    conf = [c for c in w.commands() if isinstance(c, ConfigureLeg)]
    assert sorted(c.codec for c in conf) == ["PCMA", "PCMU"]


def test_an_offer_without_a_codec_we_speak_is_488_and_frees_the_ports() -> None:
    w = World()
    assert w.call(offer(4000, "18")) is None
    assert w.a.last_response().status == 488
    cmds = w.commands()
    created = {c.leg for c in cmds if isinstance(c, CreateLeg)}
    assert {c.leg for c in cmds if isinstance(c, DestroyLeg)} == created
    assert len(w.plan.ports) == 5


def test_hold_from_the_caller_reaches_the_callee_as_sendonly_from_our_port() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    w.flush()
    w.commands()
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=offer(4000, direction="sendonly",
                                                              version=2)), 3.0)
    w.flush()
    re = w.b.take("INVITE")
    assert media_of(re)[3] == Direction.SENDONLY and media_of(re)[0] == MEDIA_IP
    assert media_of(re)[1] == media_of(inv)[1]  # same port: the leg stays
    w.b.reply(re, 200, "OK", 3.1, body=offer(6000, direction="recvonly", version=2))
    w.flush()
    r200 = w.a.last_response()
    assert r200.status == 200 and media_of(r200)[3] == Direction.RECVONLY
    assert parse_sdp(r200.body).origin.sess_version == parse_sdp(ok.body).origin.sess_version + 1
    conf = {c.remote_port: c for c in w.commands() if isinstance(c, ConfigureLeg)}
    assert conf[4000].send is False and conf[4000].recv is True  # A only sends now
    assert conf[6000].send is True and conf[6000].recv is False


def test_delayed_offer_goes_through_our_ports_both_ways() -> None:
    w = World()
    inv = w.call("")
    assert inv is not None and inv.body == b""
    ok = w.answer(inv, offer(6000))  # the callee's offer
    assert ok.status == 200 and media_of(ok)[0] == MEDIA_IP
    assert w.b.inbox == []
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2, body=offer(4000, "0")), 2.5)
    w.flush()
    ack = w.b.take("ACK")
    assert media_of(ack)[0] == MEDIA_IP
    # the caller left telephone-event out; the callee keeps it: digits end at the switch
    assert media_of(ack)[2] == ["PCMU", "telephone-event"]
    assert any(isinstance(c, Connect) for c in w.commands())


def test_bye_destroys_both_legs_and_returns_the_ports() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 5.0)
    w.flush()
    assert len([c for c in w.commands() if isinstance(c, DestroyLeg)]) == 2
    assert len(w.plan.ports) == 5 and w.plan.ports.in_use == 0


def test_rtp_timeout_hangs_up_both_sides() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    w.flush()
    leg = next(c.leg for c in w.commands() if isinstance(c, ConfigureLeg))
    w.sig.events()
    w.sig.media_events([RtpTimeout(leg, 30.0)], 40.0)
    w.flush()
    assert w.a.methods()[-1] == "BYE" and w.b.methods()[-1] == "BYE"
    ended = [e for e in w.sig.events() if isinstance(e, CallEnded)]
    assert len(ended) == 1 and ended[0].reason == "RTP timeout" and ended[0].ended_by == "media"


def test_a_dead_worker_ends_its_calls_with_bye() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    w.flush()
    cmds = w.sig.media_commands()
    worker = cmds[0][0]
    legs = tuple(c.leg for _, c in cmds if isinstance(c, CreateLeg))
    w.sig.media_events([WorkerDied(worker, legs)], 9.0)
    w.flush()
    assert w.a.methods()[-1] == "BYE" and w.b.methods()[-1] == "BYE"


def test_ringing_call_whose_media_fails_is_answered_500_and_cancelled() -> None:
    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    w.b.reply(inv, 180, "Ringing", 1.2, to_tag="bt")
    w.flush()
    legs = tuple(c.leg for c in w.commands() if isinstance(c, CreateLeg))
    w.sig.media_events([WorkerDied(0, legs), WorkerDied(1, legs)], 1.5)
    w.flush()
    assert w.a.last_response().status == 500
    assert "CANCEL" in w.b.methods()


def test_no_free_port_is_503() -> None:
    w = World(ports=(30000, 30001))  # one leg's worth
    assert w.call(offer(4000)) is None
    r = w.a.last_response()
    assert r.status == 503 and r.headers.get("retry-after") == "5"
    assert len(w.plan.ports) == 1


def test_pairs_another_process_holds_are_skipped_before_the_sdp_names_them() -> None:
    taken = {30000, 30002}
    w = World(probe=lambda port: port not in taken)
    inv = w.call(offer(4000))
    assert inv is not None
    creates = {c.port for c in w.commands() if isinstance(c, CreateLeg)}
    assert creates == {30004, 30006} and media_of(inv)[1] in creates
    ok = w.answer(inv, offer(6000))
    assert ok.status == 200 and media_of(ok)[1] in creates
    assert set(w.plan.ports.held) == taken


def test_every_pair_held_by_another_process_is_503_before_any_invite_goes_out() -> None:
    w = World(probe=lambda port: False)
    assert w.call(offer(4000)) is None
    r = w.a.last_response()
    assert w.a.statuses() == [100, 503] and r.headers.get("retry-after") == "1"
    assert not [c for c in w.commands() if isinstance(c, CreateLeg)]
    assert w.plan.ports.in_use == 0 and len(w.plan.ports.held) == 5


def test_a_pair_whose_bind_failed_in_the_worker_is_not_handed_out_again() -> None:
    w = World(ports=(30000, 30007))  # four legs: two calls
    inv = w.call(offer(4000))
    assert inv is not None
    create = {c.port: c.leg for c in w.commands() if isinstance(c, CreateLeg)}
    busy = media_of(inv)[1]
    w.sig.media_events([LegFailed(create[busy], "bind: in use", port_busy=True)], 1.5)
    w.flush()
    assert w.a.last_response().status == 500  # the ringing call could not be saved
    assert busy in w.plan.ports.held and w.plan.ports.in_use == 0
    w.b.inbox.clear()
    inv2 = w.call(offer(4002))
    assert inv2 is not None
    assert busy not in {c.port for c in w.commands() if isinstance(c, CreateLeg)}


def test_echo_service_answers_with_our_port_and_connects_the_leg_to_itself() -> None:
    w = World()
    w.a.invite("9196", 1.0, call_id=CALL, body=offer(4000, "8 0"))
    ok = w.a.last_response()
    assert ok.status == 200 and media_of(ok)[0] == MEDIA_IP and media_of(ok)[2] == ["PCMA"]
    cmds = w.commands()
    (create,) = [c for c in cmds if isinstance(c, CreateLeg)]
    assert media_of(ok)[1] == create.port
    assert Connect(create.leg, create.leg) in cmds
    conf = next(c for c in cmds if isinstance(c, ConfigureLeg))
    assert (conf.remote_port, conf.codec) == (4000, "PCMA")
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 1.1)
    w.a.send(w.a.in_dialog("BYE", ok, cseq=3), 3.0)
    w.flush()
    assert w.a.last_response().status == 200
    assert DestroyLeg(create.leg) in w.commands()


def test_tone_service_plays_1000hz_and_answers_a_reinvite_itself() -> None:
    w = World()
    w.a.invite("9197", 1.0, call_id=CALL, body=offer(4000))
    ok = w.a.last_response()
    assert ok.status == 200
    plays = [c for c in w.commands() if isinstance(c, Play)]
    assert len(plays) == 1 and plays[0].source == PlayTone("1000hz") and plays[0].loop
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 1.1)
    w.a.send(w.a.in_dialog("INVITE", ok, cseq=3, body=offer(4002, version=2)), 2.0)
    w.flush()
    r = w.a.last_response()
    assert r.status == 200 and media_of(r)[1] == media_of(ok)[1]
    conf = [c for c in w.commands() if isinstance(c, ConfigureLeg)]
    assert conf and conf[-1].remote_port == 4002


def test_tone_service_with_delayed_offer_takes_the_answer_from_the_ack() -> None:
    w = World()
    w.a.invite("9197", 1.0, call_id=CALL, body="")
    ok = w.a.last_response()
    assert ok.status == 200 and media_of(ok)[0] == MEDIA_IP
    assert not any(isinstance(c, ConfigureLeg) for c in w.commands())
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2, body=offer(4000, "0")), 1.1)
    w.flush()
    conf = [c for c in w.commands() if isinstance(c, ConfigureLeg)]
    assert len(conf) == 1 and conf[0].remote_port == 4000


def test_recorded_call_names_its_file_in_the_call_end() -> None:
    w = World()
    w.plan.record_calls = True
    w.plan.recording_path = lambda name, ext: f"/rec/{name}.{ext}"
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    cmds = w.commands()
    legs = {c.remote_port: c.leg for c in cmds if isinstance(c, ConfigureLeg)}
    (start,) = [c for c in cmds if isinstance(c, StartRecord)]
    assert start.legs == (legs[4000], legs[6000])  # channel 1 the caller, 2 the callee
    assert start.path.startswith("/rec/") and start.fmt == "wav"
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    w.b.send(w.b.in_dialog("BYE", inv, cseq=5, my_tag="bt"), 4.0)
    w.flush()
    assert StopRecord(start.rec_id) in w.commands()
    (ended,) = [e for e in w.sig.events() if isinstance(e, CallEnded)]
    assert ended.recording == start.path and ended.ended_by == "callee"
    # one id: the recording is named by the call id its CDR carries, not by the SIP Call-ID
    assert start.path == f"/rec/{ended.call_id}.wav" and ended.sip_call_id == CALL


def test_ring_timeout_comes_from_the_configuration() -> None:
    text = DEMO.read_text() + "\n[sip]\nring_timeout = 7\n"
    config = parse_config(text, "demo.toml")
    assert config.sip.ring_timeout == 7.0
    sig = Signaling(config=config, listeners=[Listener("udp", "127.0.0.1", 5060)],
                    ids=Ids(random.Random(3)))
    a, b = Phone(sig, "1001", 7001), Phone(sig, "1002", 7002)
    assert b.register(0.0).status == 200
    a.invite("1002", 1.0, call_id=CALL, body=offer(4000), phones=[b])
    sig.handle_timer(7.9)
    deliver(sig, [a, b])
    assert 480 not in a.statuses()
    sig.handle_timer(8.1)
    deliver(sig, [a, b])
    assert a.statuses()[-1] == 480


def test_a_key_sent_by_info_reaches_a_telephone_event_peer_as_rfc4733() -> None:
    """1002's SDP has telephone-event: its digits go as RFC 4733 events (call/dtmfwork.py),
    so 1001's INFO is answered by the switch and becomes a SendDigit on 1002's media leg."""
    from structlog.testing import capture_logs

    w = World()
    inv = w.call(offer(4000))
    assert inv is not None
    ok = w.answer(inv, offer(6000))
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 2.1)
    b_leg = next(c.leg for c in w.commands() if isinstance(c, ConfigureLeg)
                 and c.remote_port == 6000)
    info = w.a.in_dialog("INFO", ok, cseq=3, body="Signal=5\nDuration=160\n",
                         extra="Content-Type: application/dtmf-relay\n")
    with capture_logs() as logs:
        w.a.send(info, 3.0)
        w.flush()
    digits = [e for e in logs if e["event"] == "digit"]
    assert [(d["key"], d["method"]) for d in digits] == [("5", "info")]
    assert not w.b.requests("INFO")  # converted, not relayed
    assert w.a.last_response().status == 200
    assert [c for c in w.commands() if isinstance(c, SendDigit)] == [SendDigit(b_leg, "5")]


# -- G.722 and Opus -----------------------------------------------------------------------
WIDE = {"9": "a=rtpmap:9 G722/8000\n", "111": "a=rtpmap:111 opus/48000/2\n",
        "0": "a=rtpmap:0 PCMU/8000\n", "8": "a=rtpmap:8 PCMA/8000\n",
        "101": "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n",
        "110": "a=rtpmap:110 telephone-event/48000\na=fmtp:110 0-16\n"}


def wide_offer(port: int, fmts: str) -> str:
    lines = "".join(WIDE[f] for f in fmts.split())
    return (f"v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {port} RTP/AVP {fmts}\n{lines}a=sendrecv\n")


def wide_world(decodable: tuple[str, ...] = ("G722", "opus")) -> World:
    w = World()
    w.plan.codecs = plan_codecs(["PCMU", "PCMA", "G722", "opus"], decodable)
    return w


def configured(w: World) -> dict[int, ConfigureLeg]:
    return {c.leg: c for c in w.commands() if isinstance(c, ConfigureLeg)}


def test_plan_codecs_keeps_the_order_and_only_what_the_workers_decode() -> None:
    assert [c.name for c in plan_codecs(["opus", "G722", "PCMU"], {"G722", "opus"})] == \
        ["opus", "G722", "PCMU", "telephone-event", "telephone-event"]
    assert [c.clock_rate for c in plan_codecs(["opus"], {"opus"})] == [48000, 8000, 48000]
    assert [c.name for c in plan_codecs(["G722", "PCMA", "opus"], {"opus"})] == \
        ["PCMA", "opus", "telephone-event", "telephone-event"]
    assert [c.name for c in plan_codecs(["G722"], ())] == ["PCMU", "PCMA", "telephone-event"]
    with pytest.raises(ValueError):
        plan_codecs(["G729"])


def test_g722_on_both_sides_is_relayed_with_the_callers_payload_type() -> None:
    w = wide_world()
    inv = w.call(wide_offer(4000, "9 0 101"))
    assert inv is not None
    assert media_of(inv)[2] == ["G722", "PCMU", "PCMA", "opus", "telephone-event",
                                 "telephone-event"]
    ok = w.answer(inv, wide_offer(6000, "9 101"))
    assert ok.status == 200 and media_of(ok)[2] == ["G722", "telephone-event"]
    conf = configured(w)
    assert sorted((c.codec, c.pt) for c in conf.values()) == [("G722", 9), ("G722", 9)]


def test_opus_on_both_sides_is_relayed_with_its_48k_telephone_events() -> None:
    w = wide_world()
    inv = w.call(wide_offer(4000, "111 0 110 101"))
    assert inv is not None
    sdp = parse_sdp(inv.body).media[0]
    maps = sdp.rtpmaps()
    assert (maps[111].encoding, maps[111].clock_rate) == ("opus", 48000)
    assert (maps[110].encoding, maps[110].clock_rate) == ("telephone-event", 48000)
    ok = w.answer(inv, wide_offer(6000, "111 110"))
    assert media_of(ok)[2] == ["opus", "telephone-event"]
    conf = configured(w).values()
    assert sorted((c.codec, c.pt, c.te_pt) for c in conf) == [("opus", 111, 110)] * 2


def test_g722_caller_and_pcmu_only_callee_are_transcoded() -> None:
    w = wide_world()
    inv = w.call(wide_offer(4000, "9 101"))  # the caller speaks G.722 only
    assert inv is not None
    assert media_of(inv)[2] == ["G722", "PCMU", "PCMA", "opus", "telephone-event",
                                 "telephone-event"]
    ok = w.answer(inv, wide_offer(6000, "0 101"))  # the callee takes PCMU
    assert media_of(ok)[2] == ["G722", "telephone-event"]
    codecs = {c.remote_port: c.codec for c in configured(w).values()}
    assert codecs == {4000: "G722", 6000: "PCMU"}


def test_a_codec_the_workers_cannot_decode_is_neither_offered_nor_answered() -> None:
    w = wide_world(decodable=())  # PyAV without G.722 or Opus
    inv = w.call(wide_offer(4000, "9 111 8 101"))
    assert inv is not None
    assert media_of(inv)[2] == ["PCMA", "PCMU", "telephone-event"]
    ok = w.answer(inv, wide_offer(6000, "8 101"))
    assert media_of(ok)[2] == ["PCMA", "telephone-event"]
    w2 = wide_world(decodable=())
    w2.a.invite("1002", 1.0, call_id="wide-2", body=wide_offer(4000, "9 111"), phones=[w2.b])
    assert w2.a.statuses()[-1] == 488


def test_the_echo_service_answers_g722_with_g722() -> None:
    w = wide_world()
    w.a.invite("9196", 1.0, call_id="echo-wide", body=wide_offer(4000, "9 0 101"),
               phones=[w.b])
    ok = w.a.last_response()
    assert ok.status == 200 and media_of(ok)[2] == ["G722", "telephone-event"]
    assert [c.codec for c in configured(w).values()] == ["G722"]
