"""Carrier trunks in calls, through the signaling core with scripted phones and carriers and a
fake clock: the demo's trunks (CONTRACT "Demo additions" -> "Trunks")."""

from __future__ import annotations

import dataclasses

import structlog
from callworld import Switch, demo_config, offer
from sipphone import Phone, header

from ccswitch.call.events import CallEnded, CallStarted
from ccswitch.config.schema import SwitchConfig
from ccswitch.sip.auth import build_authorization
from ccswitch.sip.message import Request


class World(Switch):
    """The demo switch, phones 1001-1003 and the two carriers on 5070 and 5072."""

    def __init__(self, config: SwitchConfig | None = None) -> None:
        super().__init__(config=config)
        self.carrier = self.add("carrier", 5070, register=False)
        self.carrier2 = self.add("carrier2", 5072, register=False)

    def from_carrier(self, did: str, now: float, *, call_id: str, port: int = 5070,
                     body: str = "") -> None:
        phone = self.carrier if port == 5070 else self.carrier2
        text = phone.request("INVITE", f"sip:{did}@127.0.0.1:5060", call_id=call_id, cseq=1,
                             to=f"<sip:{did}@127.0.0.1>", body=body or offer(8000))
        text = text.replace("<sip:carrier@ccswitch.local>", "<sip:+15557654321@127.0.0.1>")
        phone.send(text, now)
        self.pump()


def invites(phone: Phone) -> list[Request]:
    return [m for m in phone.inbox if isinstance(m, Request) and m.method == "INVITE"]


def test_a_ten_digit_number_goes_to_carrier_as_e164() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-1")
    inv = w.carrier.take("INVITE")
    assert inv.uri.user == "+15550700123"
    assert (inv.uri.host, inv.uri.port) == ("127.0.0.1", 5070)
    assert inv.to.uri.user == "+15550700123"
    assert inv.from_.uri.user == "+15550700000"  # the trunk's caller ID
    assert "+15550700000" in header(inv, "P-Asserted-Identity")
    assert not invites(w.carrier2)
    w.carrier.reply(inv, 180, "Ringing", 1.5, to_tag="c1")
    w.carrier.reply(inv, 200, "OK", 2.0, to_tag="c1", body=offer(9000))
    w.pump()
    ok = w["1001"].last_response()
    assert ok.status == 200, ok
    assert w.sig.trunk_legs is not None
    assert w.sig.trunk_legs.router.policy.calls_of_trunk("carrier") == 1
    w.ack("1001", ok, 2.1)
    w["1001"].send(w["1001"].in_dialog("BYE", ok, cseq=3), 3.0)
    w.pump()
    assert w.carrier.take("BYE").method == "BYE"
    assert w.sig.trunk_legs.router.policy.calls_of_trunk("carrier") == 0


def test_503_from_carrier_fails_over_to_carrier2() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-2")
    inv = w.carrier.take("INVITE")
    w.carrier.reply(inv, 503, "Service Unavailable", 1.2, to_tag="c1")
    w.pump()
    assert w.carrier.take("ACK").method == "ACK"  # the transaction layer's ACK of the 503
    inv2 = w.carrier2.take("INVITE")
    assert inv2.uri.user == "+15550700123"
    assert inv2.uri.port == 5072
    assert 503 not in w["1001"].statuses()
    w.carrier2.reply(inv2, 200, "OK", 2.0, to_tag="c2", body=offer(9002))
    w.pump()
    assert w["1001"].last_response().status == 200


def test_no_answer_within_5_s_fails_over_to_carrier2() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-3")
    assert invites(w.carrier)
    w.carrier.inbox.clear()
    w.run_until(5.9)
    assert not invites(w.carrier2)
    w.run_until(6.1)
    inv2 = w.carrier2.take("INVITE")
    assert inv2.uri.user == "+15550700123"


def test_a_ringing_carrier_is_not_abandoned_after_5_s() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-4")
    inv = w.carrier.take("INVITE")
    w.carrier.reply(inv, 180, "Ringing", 1.5, to_tag="c1")
    w.pump()
    w.run_until(20.0)
    assert not invites(w.carrier2)


def test_every_trunk_failing_gives_the_caller_a_failure_and_releases_the_counts() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-5")
    w.carrier.reply(w.carrier.take("INVITE"), 503, "Service Unavailable", 1.2, to_tag="c1")
    w.pump()
    w.carrier2.reply(w.carrier2.take("INVITE"), 500, "Server Error", 1.4, to_tag="c2")
    w.pump()
    final = [s for s in w["1001"].statuses() if s >= 300]
    assert final and final[-1] >= 400
    assert any(isinstance(e, CallEnded) for e in w.events)
    assert w.sig.trunk_legs is not None
    policy = w.sig.trunk_legs.router.policy
    assert (policy.calls_of_user("1001"), policy.calls_of_trunk("carrier2")) == (0, 0)


def test_a_busy_callee_does_not_fail_over() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="out-6")
    w.carrier.reply(w.carrier.take("INVITE"), 486, "Busy Here", 1.2, to_tag="c1")
    w.pump()
    assert not invites(w.carrier2)
    assert w["1001"].statuses()[-1] == 486


def test_international_numbers_are_refused_and_never_reach_a_carrier() -> None:
    w = World()
    for i, number in enumerate(("011442079460000", "+442079460000")):
        w.dial("1001", number, 1.0 + i, call_id=f"intl-{i}")
        assert w["1001"].last_response().status == 403
    assert not invites(w.carrier) and not invites(w.carrier2)


def test_an_unauthenticated_caller_is_challenged_and_never_reaches_a_carrier() -> None:
    w = World()
    stranger = w.add("9999", 7555, register=False)
    text = stranger.request("INVITE", "sip:5550700123@127.0.0.1", call_id="fraud-1", cseq=1,
                            to="<sip:5550700123@ccswitch.local>", body=offer(4100))
    stranger.send(text, 1.0)
    w.pump()
    assert stranger.last_response().status == 407
    # a wrong password: never through
    r407 = stranger.last_response()
    auth = build_authorization(header(r407, "Proxy-Authenticate"), method="INVITE",
                               uri="sip:5550700123@127.0.0.1", user="1001", password="nope",
                               cnonce="beef")
    stranger.send(stranger.request("INVITE", "sip:5550700123@127.0.0.1", call_id="fraud-1",
                                   cseq=2, to="<sip:5550700123@ccswitch.local>",
                                   extra=f"Proxy-Authorization: {auth}\n", body=offer(4100)),
                  1.1)
    w.pump()
    assert stranger.last_response().status in (401, 403, 407)
    assert not invites(w.carrier) and not invites(w.carrier2)


def test_a_burst_of_refused_attempts_blocks_the_user_and_logs_fraud_suspected() -> None:
    w = World()
    with structlog.testing.capture_logs() as logs:
        for i in range(5):
            w.dial("1002", "011442079460000", 1.0 + i, call_id=f"burst-{i}")
            assert w["1002"].last_response().status == 403
        w.dial("1002", "5550700123", 7.0, call_id="burst-after")
    assert w["1002"].last_response().status == 403
    assert not invites(w.carrier)
    assert [e["user"] for e in logs if e["event"] == "fraud_suspected"] == ["1002"]
    assert w.sig.trunk_legs is not None
    assert w.sig.trunk_legs.router.policy.is_blocked("1002")


def test_the_per_user_limit_refuses_a_third_outside_call() -> None:
    w = World()
    for i in range(2):
        w.dial("1001", f"555070012{i}", 1.0 + i, call_id=f"lim-{i}", port=4000 + 2 * i)
        assert w.carrier.take("INVITE").uri.user == f"+1555070012{i}"
    w.dial("1001", "5550700129", 3.0, call_id="lim-3", port=4010)
    assert w["1001"].last_response().status == 403
    assert not invites(w.carrier)


def test_a_carrier_challenge_is_answered_once_with_the_trunks_credentials() -> None:
    def creds(cfg: SwitchConfig) -> SwitchConfig:
        t = cfg.trunking
        trunks = dict(t.trunks)
        trunks["carrier"] = dataclasses.replace(trunks["carrier"], username="acct",
                                                password="secret")
        return dataclasses.replace(cfg, trunking=dataclasses.replace(t, trunks=trunks))

    w = World(demo_config(creds))
    w.dial("1001", "5550700123", 1.0, call_id="auth-1")
    inv = w.carrier.take("INVITE")
    challenge = 'Digest realm="carrier.example", nonce="n1", algorithm=MD5, qop="auth"'
    w.carrier.reply(inv, 407, "Proxy Authentication Required", 1.1, to_tag="c1",
                    extra=f"Proxy-Authenticate: {challenge}\n")
    w.pump()
    w.carrier.take("ACK")
    inv2 = w.carrier.take("INVITE")
    assert inv2.call_id == inv.call_id and inv2.cseq.seq == inv.cseq.seq + 1
    assert 'username="acct"' in header(inv2, "Proxy-Authorization")
    w.carrier.reply(inv2, 407, "Proxy Authentication Required", 1.2, to_tag="c2",
                    extra=f"Proxy-Authenticate: {challenge}\n")
    w.pump()
    assert not invites(w.carrier)  # the same challenge is not answered twice
    assert w["1001"].statuses()[-1] >= 400


# -- inbound -------------------------------------------------------------------------------
def test_a_did_from_carrier_reaches_the_ivr_without_a_challenge() -> None:
    w = World()
    with structlog.testing.capture_logs() as logs:
        w.from_carrier("5550700", 1.0, call_id="in-1")
    statuses = w.carrier.statuses()
    assert 407 not in statuses and 401 not in statuses
    assert statuses[-1] == 200
    assert any(e["event"] == "inbound_call" and e["did"] == "5550700" for e in logs)
    call = next(iter(w.sig.b2bua._calls.values()))
    assert call.did == "5550700"
    assert call.ivr is not None and call.ivr.runner.call.vars["did"] == "5550700"
    started = [e for e in w.events if isinstance(e, CallStarted)]
    assert [e.did for e in started] == ["5550700"]


def test_a_did_from_carrier2_reaches_the_support_queue() -> None:
    w = World()
    w.from_carrier("5550800", 1.0, call_id="in-2", port=5072)
    assert w.carrier2.statuses()[-1] == 200
    call = next(iter(w.sig.b2bua._calls.values()))
    assert call.queue == "support"


def test_an_unknown_did_is_404_and_counted() -> None:
    w = World()
    w.from_carrier("5550999", 1.0, call_id="in-3")
    assert w.carrier.statuses()[-1] == 404
    assert w.sig.counters["did_not_found"] == 1


def test_a_carrier_cannot_reach_the_other_carrier() -> None:
    w = World()
    w.from_carrier("5550700123", 1.0, call_id="in-4")
    w.from_carrier("+15550700123", 1.0, call_id="in-5")
    assert [s for s in w.carrier.statuses() if s >= 200] == [404, 404]
    assert not invites(w.carrier2)


def test_the_same_host_on_another_port_is_not_a_carrier() -> None:
    w = World()
    other = w.add("5550700", 5074, register=False)
    other.send(other.request("INVITE", "sip:5550700@127.0.0.1", call_id="in-6", cseq=1,
                             to="<sip:5550700@127.0.0.1>", body=offer(8100)), 1.0)
    w.pump()
    assert other.last_response().status == 407


# -- keep-alive and registration -----------------------------------------------------------
def options(phone: Phone) -> list[Request]:
    return [m for m in phone.inbox if isinstance(m, Request) and m.method == "OPTIONS"]


def probed(cfg: SwitchConfig) -> SwitchConfig:
    """The demo with OPTIONS every 30 s to both carriers (the demo itself sends none)."""
    t = cfg.trunking
    trunks = {n: dataclasses.replace(c, keepalive=30.0) for n, c in t.trunks.items()}
    return dataclasses.replace(cfg, trunking=dataclasses.replace(t, trunks=trunks))


def test_the_demo_sends_no_probes() -> None:
    w = World()
    w.sig.start_trunks(0.0)
    w.run_until(100.0)
    assert not options(w.carrier) and not options(w.carrier2)


def test_keepalive_probes_each_trunk_and_a_silent_one_is_skipped() -> None:
    w = World(demo_config(probed))
    with structlog.testing.capture_logs() as logs:
        w.sig.start_trunks(0.0)
        w.pump()
        assert len(options(w.carrier)) == 1 and len(options(w.carrier2)) == 1
        probe = options(w.carrier2)[0]
        w.carrier2.reply(probe, 200, "OK", 0.1)
        w.pump()
        w.carrier.inbox.clear()
        w.carrier2.inbox.clear()
        # carrier never answers: 3 probes missed (30 s apart, 5 s each) mark it down
        for t in range(1, 80):
            w.run_until(float(t))
            for probe in options(w.carrier2):
                w.carrier2.reply(probe, 200, "OK", float(t))
            w.carrier2.inbox.clear()
            w.pump()
    assert any(e["event"] == "trunk_up" and e["trunk"] == "carrier2" for e in logs)
    assert any(e["event"] == "trunk_down" and e["trunk"] == "carrier" for e in logs)
    assert w.sig.trunk_driver is not None and w.sig.trunk_driver.up == {
        "carrier": False, "carrier2": True}
    w.carrier.inbox.clear()
    w.dial("1001", "5550700123", 80.0, call_id="after-down")
    assert not invites(w.carrier)
    assert w.carrier2.take("INVITE").uri.user == "+15550700123"


def test_a_trunk_that_registers_is_used_once_registered() -> None:
    def registering(cfg: SwitchConfig) -> SwitchConfig:
        t = cfg.trunking
        trunks = dict(t.trunks)
        trunks["carrier"] = dataclasses.replace(trunks["carrier"], username="acct",
                                                password="secret", register=True,
                                                keepalive=0.0)
        trunks["carrier2"] = dataclasses.replace(trunks["carrier2"], keepalive=0.0)
        return dataclasses.replace(cfg, trunking=dataclasses.replace(t, trunks=trunks))

    w = World(demo_config(registering))
    w.dial("1001", "5550700123", 0.5, call_id="before-reg", port=4000)
    assert not invites(w.carrier)  # not registered yet: carrier2 takes it
    assert w.carrier2.take("INVITE").uri.user == "+15550700123"
    with structlog.testing.capture_logs() as logs:
        w.sig.start_trunks(1.0)
        w.pump()
        reg = w.carrier.take("REGISTER")
        challenge = 'Digest realm="carrier.example", nonce="r1", algorithm=MD5'
        w.carrier.reply(reg, 401, "Unauthorized", 1.1,
                        extra=f"WWW-Authenticate: {challenge}\n")
        w.pump()
        reg2 = w.carrier.take("REGISTER")
        assert 'username="acct"' in header(reg2, "Authorization")
        w.carrier.reply(reg2, 200, "OK", 1.2,
                        extra=f"Contact: {header(reg2, 'Contact')};expires=600\n")
        w.pump()
    assert any(e["event"] == "trunk_registered" and e["trunk"] == "carrier" for e in logs)
    w.dial("1002", "5550700124", 2.0, call_id="after-reg", port=4010)
    assert w.carrier.take("INVITE").uri.user == "+15550700124"


def test_metrics_show_each_trunks_state() -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from test_api import Api

    w = World(demo_config(probed))
    api = Api(w)
    w.sig.start_trunks(0.0)
    w.pump()
    w.carrier2.reply(options(w.carrier2)[0], 200, "OK", 0.1)
    w.pump()
    w.run_until(80.0)  # carrier misses every probe
    r = api("GET", "/metrics", None)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(r.text) for s in f.samples}
    assert samples[("ccswitch_trunk_up", (("trunk", "carrier"),))] == 0
    assert samples[("ccswitch_trunk_up", (("trunk", "carrier2"),))] == 1


def test_a_carrier_challenge_without_credentials_is_not_relayed_to_the_phone() -> None:
    w = World()
    w.dial("1001", "5550700123", 1.0, call_id="noauth-1")
    inv = w.carrier.take("INVITE")
    w.carrier.reply(inv, 407, "Proxy Authentication Required", 1.1, to_tag="c1",
                    extra='Proxy-Authenticate: Digest realm="carrier.example", nonce="n"\n')
    w.pump()
    final = w["1001"].last_response()
    assert final.status == 403
    assert final.headers.get("proxy-authenticate") is None
    assert not invites(w.carrier2)
